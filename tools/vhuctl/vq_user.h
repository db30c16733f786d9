/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace datapath's view of guest memory and of a split virtqueue.
 *
 * Nothing the guest wrote is trusted: every descriptor address is range
 * checked against the memory table before it becomes a pointer, chains are
 * bounded, and the ring indices are checked against the ring size.
 */
#ifndef VQ_USER_H
#define VQ_USER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <linux/virtio_ring.h>

#include "vu_mem.h"

/* Most iovecs in one request (UIO_MAXIOV) and descriptors in an indirect table. */
#define VQ_MAX_IOV		1024
#define VQ_MAX_INDIRECT		1024

/* The daemon's copy of the memory table: what a queue thread translates with. */
struct dpu_mem {
	unsigned int n;
	struct {
		uint64_t gpa, size, hva;
	} r[VU_MAX_MEM_SLOTS];
};

void dpu_mem_from(struct dpu_mem *m, const struct vu_mem *mem);
/*
 * Translate [gpa, gpa + len) into iovecs (a range may span adjacent
 * regions). Returns the number of iovecs used, or -1 when any byte is
 * outside every region or more than max iovecs would be needed.
 */
int dpu_mem_iov(const struct dpu_mem *m, uint64_t gpa, uint64_t len,
		struct iovec *iov, unsigned int max);
/* One contiguous range, or NULL. */
void *dpu_mem_ptr(const struct dpu_mem *m, uint64_t gpa, uint64_t len);

struct vq {
	uint16_t num;
	bool event_idx, indirect;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;		/* next avail entry to take */
	uint16_t avail_idx;		/* last avail->idx read */
	uint16_t used_idx;		/* ours; published to used->idx */
	uint16_t signalled_used;
	bool signalled_valid;
	uint8_t *busy;			/* heads in flight, one byte each */
};

/* A parsed descriptor chain. */
struct vq_chain {
	unsigned int nout, nin;		/* readable iovecs, then writable ones */
	uint64_t out_len, in_len;
	bool bad;			/* outside memory, wrong order: IOERR */
	bool have_status;
	uint64_t status_gpa;		/* the last device-writable byte */
	struct iovec iov[VQ_MAX_IOV];
};

/*
 * The next head from the avail ring: 1 and *head, 0 when the ring is
 * empty, -1 on a ring error (reason in *why).
 */
int vq_pop(struct vq *vq, uint16_t *head, const char **why);
/* Walk the chain at head: 0, or -1 on a ring error (reason in *why). */
int vq_walk(struct vq *vq, const struct dpu_mem *m, uint16_t head,
	    struct vq_chain *c, const char **why);
/* Put one used element (not yet visible: see vq_publish). */
void vq_push(struct vq *vq, uint16_t head, uint32_t len);
/* Make pushed elements visible (no call). */
void vq_flush(struct vq *vq);
/* Make pushed elements visible; true when the driver wants a call. */
bool vq_publish(struct vq *vq);
/* Ask for kicks (on) or suppress them while we are busy. */
void vq_notify(struct vq *vq, bool on);
/* avail->idx moved past what we have taken. */
bool vq_avail_pending(struct vq *vq);

#endif
