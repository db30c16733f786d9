/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the userspace datapath tests share (t_user*.c): the daemon with
 * vu_dp_user_ops and its exports, and the guest side, a driver of split
 * rings in the test frontend's memory (t_user.c).
 */
#ifndef T_USER_H
#define T_USER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "exportd.h"
#include "test_util.h"
#include "vring.h"
#include "vu_frontend.h"

#define DISK_SIZE (8u << 20)
#define QSIZE 256
#define NQ_MAX 4
#define SLOTS 32			/* requests in flight per queue */
#define SLOT_DATA 8192			/* data bytes per slot */
#define SERIAL "vhu-user-serial"

/*
 * The daemon with the userspace datapath: exports on sock_rw (NQ_MAX
 * queues, rings of up to 4096 entries), sock_ro (read-only, 1 queue),
 * sock_dio (O_DIRECT, 1 queue) and sock_4k (4096-byte blocks, 1 queue).
 */
struct user {
	struct tmp_dir dir;
	const char *sock_rw, *sock_ro, *sock_dio, *sock_4k;
	const char *img_dio, *img_4k;
	int img_fd;		/* sock_rw's backing file, read only */
	struct exportd d;
};

extern struct user user;

struct tq {
	struct vr vr;		/* with the kick and call eventfds */
	int err;
	uint32_t len[QSIZE];	/* used length by head, ~0 until used */
};

/* A device as the guest's driver sees it. */
struct tdev {
	struct vf vf;
	struct vf_guest *g;
	unsigned int nq;
	bool event_idx, indirect;
	int inflight_fd;
	struct tq q[NQ_MAX];
};

/*
 * Guest memory. Region 0 (gpa 0): rings at 64K per queue, then each
 * slot's header (its status byte at + 16), then its indirect table.
 * Region 1 (gpa 4G): data, 256K per queue. Slot s's chain has head s * 8.
 */
static inline uint64_t hdr_gpa(int q, int s) { return 0x50000 + q * 0x1000 + s * 64; }
static inline uint64_t tbl_gpa(int q, int s) { return 0x60000 + q * 0x4000 + s * 512; }
static inline uint64_t data_gpa(int q, int s)
{
	return VF_GPA1 + q * 0x40000 + s * SLOT_DATA;
}

static inline void *gptr(struct vf_guest *g, uint64_t gpa)
{
	if (gpa < VF_REGION_SIZE)
		return g->base + gpa;
	return g->base + VF_REGION_SIZE + (gpa - VF_GPA1);
}

static inline struct virtio_blk_outhdr *hdr(struct tdev *d, int qi, int s)
{
	return gptr(d->g, hdr_gpa(qi, s));
}

static inline uint8_t *status(struct tdev *d, int qi, int s)
{
	return gptr(d->g, hdr_gpa(qi, s) + 16);
}

/*
 * QEMU 7.2's DRIVER_OK sequence on sock with nq queues, keeping the
 * eventfds; the rings zeroed, or as the last device left them. 0 or the
 * negative step that failed.
 */
int dev_open_inflight(struct tdev *d, struct vf_guest *g, const char *sock,
		      unsigned int nq, bool event_idx, bool indirect,
		      bool zero_rings, int inflight_fd);
int dev_open(struct tdev *d, struct vf_guest *g, const char *sock,
	     unsigned int nq, bool event_idx, bool indirect, bool zero_rings);
/* One queue with EVENT_IDX, fresh rings, without the features in drop. */
int dev_open_without(struct tdev *d, struct vf_guest *g, const char *sock,
		     uint64_t drop);
void dev_close(struct tdev *d);

/* Put chain b in slot s (or its indirect table) and publish it. */
void post(struct tdev *d, int qi, int s, const struct vr_buf *b, int n);
/* Post a plain request: header, optional data, status byte (0xaa). */
void post_req(struct tdev *d, int qi, int s, uint32_t type, uint64_t sector,
	      uint32_t len);
/* Kick whether or not the device asked for it. */
void kick(struct tdev *d, int qi);
/*
 * Wait for calls until everything posted is used, recording the used
 * lengths: false if no call came for 3 s.
 */
bool wait_used(struct tdev *d, int qi);
/* The used length of slot s's request since it was posted, or ~0. */
uint32_t used_len(struct tdev *d, int qi, int s);
/* One request in slot 0, synchronously: its status (0xaa if none written). */
int one(struct tdev *d, int qi, uint32_t type, uint64_t sector, uint32_t len);
/*
 * Chain b in slot 0 of queue 0, its status byte reset to 0xaa: the
 * status once everything is used, -1 if that did not happen.
 */
int chain(struct tdev *d, const struct vr_buf *b, int n);
/* The rw export's backing file holds buf at off. */
bool file_matches(uint64_t off, const void *buf, size_t len);

/* The test groups, in the order t_user() runs them. */
void t_random_io(struct vf_guest *g, unsigned int nq, bool event_idx,	/* t_user_io.c */
		 bool indirect);
void t_types(struct vf_guest *g);
void t_notify(struct vf_guest *g, bool event_idx);			/* t_user_ring.c */
void t_bad_rings(struct vf_guest *g);
void t_seg_max(struct vf_guest *g);
void t_readonly(struct vf_guest *g);					/* t_user_io.c */
void t_idle(struct vf_guest *g);					/* t_user_ring.c */
void t_direct(struct vf_guest *g);					/* t_user_io.c */
void t_blk_size(struct vf_guest *g);
void t_stop_inflight(struct vf_guest *g);				/* t_user_life.c */
void t_hotplug(struct vf_guest *g);
void t_inflight(struct vf_guest *g);
void t_stress(struct vf_guest *g);
void t_rate(struct vf_guest *g, unsigned int nq);			/* t_user_io.c */
void t_user_log(struct vf_guest *g);					/* t_user_log.c */

#endif
