/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A vhost-user frontend: speaks to a backend like QEMU 7.2's vhost-user-blk,
 * and can also send anything malformed. Used by the host tests (the fixed
 * QEMU sequences below) and by vhu-bench (the primitives, with its own
 * memory layout and feature negotiation).
 */
#ifndef VU_FRONTEND_H
#define VU_FRONTEND_H

#include <stdbool.h>
#include <stdint.h>

#include "vring.h"
#include "vu_proto.h"

/* Regions of one SET_MEM_TABLE a frontend sends. */
#define VF_MAX_REGIONS	32

struct vf {
	int sock;
	uint64_t pf;		/* protocol features acked */
	/*
	 * Header flags added to every request: VU_FLAG_NEED_REPLY for a
	 * frontend that asks for an ack on everything once REPLY_ACK is
	 * negotiated (vf_call()).
	 */
	uint32_t hdr_flags;
	/*
	 * Our end of the backend-request channel vf_realize() gave the
	 * backend (SET_BACKEND_REQ_FD), -1 if none: vf_backend_recv().
	 */
	int backend_fd;
};

/* Guest memory: one memfd, two regions, rings placed in region 0. */
#define VF_MEM_SIZE	(2u << 20)
#define VF_REGION_SIZE	(1u << 20)
#define VF_UADDR0	0x7f1200000000ull
#define VF_UADDR1	0x7f1200100000ull	/* right after region 0 */
#define VF_GPA0		0x0ull
#define VF_GPA1		0x100000000ull		/* above 4G, like q35 */

/*
 * Guest memory as a frontend shares it: regions of one memfd, each at its
 * guest-physical address, at a frontend user address and at an offset in
 * the memfd. vf_guest_init() makes the two regions above.
 */
struct vf_guest {
	int fd;
	uint8_t *base;		/* our mapping of the whole memfd */
	size_t size;		/* of the memfd */
	unsigned int nr;	/* regions */
	struct vu_region_desc r[VF_MAX_REGIONS];
};

int vf_guest_init(struct vf_guest *g);
/* A memfd holding the nr regions r (nr at most VF_MAX_REGIONS): 0 or -1. */
int vf_guest_layout(struct vf_guest *g, const struct vu_region_desc *r,
		    unsigned int nr);
void vf_guest_fini(struct vf_guest *g);
/* Ring addresses for queue q, ring size num, in the frontend's space. */
void vf_ring_addrs(int q, uint32_t num, struct vu_vring_addr *a);
/* Our pointer to a frontend user address, NULL outside every region. */
void *vf_guest_ptr(struct vf_guest *g, uint64_t uaddr);
/*
 * The same for len bytes at a guest-physical address, and its frontend
 * user address: NULL and 0 unless one region holds all of them.
 */
void *vf_gpa_ptr(struct vf_guest *g, uint64_t gpa, uint64_t len);
uint64_t vf_gpa_uaddr(const struct vf_guest *g, uint64_t gpa, uint64_t len);
/*
 * Queue q's ring of num entries at vf_ring_addrs(), for driving it: zeroed
 * if fresh (vr_init()), else as an earlier driver left it (vr_attach()).
 * r's event_idx and eventfds are the caller's to set.
 */
void vf_vr(struct vf_guest *g, int q, uint32_t num, bool fresh, struct vr *r);

int vf_connect(struct vf *vf, const char *path);
void vf_close(struct vf *vf);

/* Most fds one message can carry here: more than a backend takes. */
#define VF_MAX_FDS	64

/* Raw I/O. flags gets VU_VERSION added unless raw_flags. */
int vf_send_raw(struct vf *vf, uint32_t req, uint32_t flags, const void *p,
		uint32_t size, const int *fds, int nfds);
int vf_send(struct vf *vf, uint32_t req, bool need_reply, const void *p,
	    uint32_t size, const int *fds, int nfds);
/* Receive a reply; -ETIMEDOUT after 3 s, -ECONNRESET on hang-up. */
int vf_recv(struct vf *vf, struct vu_hdr *h, void *p, uint32_t max, int *fd);
/* The daemon closed the connection (within 3 s). */
bool vf_is_closed(struct vf *vf);

/*
 * A message from the backend on its channel (vf->backend_fd): 0 with
 * the header and up to max payload bytes, -ETIMEDOUT after timeout_ms,
 * -ECONNRESET if the backend closed it, -EPROTO if the payload is larger.
 */
int vf_backend_recv(struct vf *vf, struct vu_hdr *h, void *p, uint32_t max,
		    int timeout_ms);
/* Answer a backend message that asked for it (NEED_REPLY) with the u64 v. */
int vf_backend_reply(struct vf *vf, const struct vu_hdr *req, uint64_t v);

/* Receive the reply to req: flags exactly 0x5, payload exactly size. */
int vf_recv_reply(struct vf *vf, uint32_t req, void *p, uint32_t size, int *fd);

/*
 * Send a request the way QEMU does for "set" requests: with need_reply and
 * wait for the ack when REPLY_ACK was negotiated (vf->pf), else just send.
 * 0, a non-zero ack, or -errno.
 */
int vf_request(struct vf *vf, uint32_t req, const void *p, uint32_t size,
	       const int *fds, int nfds);
/* SET_VRING_KICK/CALL/ERR for queue q with fd (the caller keeps fd). */
int vf_vring_fd(struct vf *vf, uint32_t req, uint32_t q, int fd);

/* Requests with a u64 reply: 0 and *v, or -errno. */
int vf_get_u64(struct vf *vf, uint32_t req, uint64_t *v);
/*
 * Send a request with need_reply set and REPLY_ACK negotiated: returns the
 * ack value (0 ok, non-zero failure) or -errno.
 */
int vf_req_ack(struct vf *vf, uint32_t req, const void *p, uint32_t size,
	       const int *fds, int nfds);
int vf_u64_ack(struct vf *vf, uint32_t req, uint64_t v);
int vf_state_ack(struct vf *vf, uint32_t req, uint32_t index, uint32_t num);
/* Same without need_reply; then a GET_FEATURES round trip as a barrier. */
int vf_req_sync(struct vf *vf, uint32_t req, const void *p, uint32_t size,
		const int *fds, int nfds);
int vf_get_vring_base(struct vf *vf, uint32_t index, uint32_t *base);
/* GET_CONFIG of @size bytes at @off; checks the reply's flags and sizes. */
int vf_get_config(struct vf *vf, uint32_t off, uint32_t size, void *out);
/*
 * The same with the message's config @flags; -EREMOTEIO for the error
 * reply of the spec (an empty payload, or a config size of 0).
 */
int vf_config_get(struct vf *vf, uint32_t off, uint32_t size, uint32_t flags,
		  void *out);

/*
 * A request as the frontends built on the rust-vmm vhost crate send it
 * (Cloud Hypervisor, Firecracker, and crosvm's fork): with vf->hdr_flags,
 * waiting for the ack only when those carry VU_FLAG_NEED_REPLY and
 * REPLY_ACK was negotiated (vf->pf). 0, a non-zero ack, or -errno.
 */
int vf_call(struct vf *vf, uint32_t req, const void *p, uint32_t size,
	    const int *fds, int nfds);
/* SET_MEM_TABLE with every region of g (each with g's memfd) by vf_call(). */
int vf_set_mem_table(struct vf *vf, const struct vf_guest *g);
/* GET_INFLIGHT_FD for nq queues of num entries: 0 with *inf and *fd, or -errno. */
int vf_get_inflight(struct vf *vf, unsigned int nq, uint32_t num,
		    struct vu_inflight_msg *inf, int *fd);

/*
 * The message sequences QEMU 7.2's vhost-user-blk device sends, step by
 * step in vu_frontend.c: realize (feature and protocol negotiation,
 * SET_OWNER, call/err fds, GET_CONFIG), the guest driver's DRIVER_OK
 * (features, status, inflight area, memory, vrings, enable) and a VM
 * stop (status 0, disable, GET_VRING_BASE). 0, or the negative number of
 * the step that failed. vf_realize() gives the features a driver may ack:
 * those offered but VHOST_F_LOG_ALL, which QEMU sets only to migrate.
 */
int vf_realize(struct vf *vf, unsigned int nq, uint64_t *features);
int vf_driver_ok(struct vf *vf, struct vf_guest *g, unsigned int nq,
		 uint32_t num, int *inflight_fd, bool add_regions);
int vf_stop(struct vf *vf, unsigned int nq, uint32_t *bases);

#endif
