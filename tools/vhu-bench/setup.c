// SPDX-License-Identifier: GPL-2.0
/*
 * The device: guest memory in one memfd (one region at GPA 0, rings and
 * buffers in it), and the vhost-user negotiation in QEMU 7.2's order (as
 * tools/lib/vu_frontend.c's vf_realize() and vf_driver_ok()), using only
 * what the backend offers, so it works with vhuctl and with
 * qemu-storage-daemon.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "bench.h"
#include "util.h"

/* Protocol features we can use: the rest are left unacked. */
#define WANT_PF (BIT(VU_PF_MQ) | BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG) | \
		 BIT(VU_PF_INFLIGHT_SHMFD) | BIT(VU_PF_CONFIGURE_MEM_SLOTS) | \
		 BIT(VU_PF_STATUS))
/* Virtio features a simple driver of ours understands. */
#define WANT_F (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | \
		BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VIRTIO_BLK_F_BLK_SIZE) | \
		BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_MQ) | \
		BIT(VIRTIO_BLK_F_RO) | BIT(VU_F_PROTOCOL_FEATURES))

#define FAIL(...) do { snprintf(err, errlen, __VA_ARGS__); goto fail; } while (0)

uint64_t vb_qmem_bytes(const struct vb_opts *o)
{
	/* Per slot: 16-byte header + status in one 64-byte cell; then data. */
	return ALIGN(64ull * o->iodepth, 4096) + o->bs * o->iodepth;
}

static uint32_t ring_size(uint64_t depth)
{
	uint32_t n = 8;

	while (n < 3 * depth)	/* three descriptors per request */
		n <<= 1;
	return n;
}

static int new_eventfd(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

int vb_dev_open(struct vb_dev *d, const struct vb_opts *o, char *err, size_t errlen)
{
	struct vu_config_msg cfg = { .offset = 0, .size = 57 };
	uint64_t f, pf, v;
	size_t avail_off, used_off;
	struct virtio_blk_config bc;
	int ret;

	memset(d, 0, sizeof(*d));
	d->memfd = d->inflight_fd = -1;
	d->nq = o->queues;
	d->num = ring_size(o->iodepth);
	d->ring_bytes = vr_layout_size(d->num, 4096, NULL, NULL);
	for (unsigned int q = 0; q < VB_MAX_QUEUES; q++)
		d->ring[q].kick_fd = d->ring[q].call_fd = -1;

	/* Guest memory: rings of every queue, then every queue's buffers. */
	d->mem_size = ALIGN((d->ring_bytes + vb_qmem_bytes(o)) * d->nq, 2u << 20);
	d->memfd = memfd_create("vhu-bench-guest", MFD_CLOEXEC);
	if (d->memfd < 0 || ftruncate(d->memfd, d->mem_size))
		FAIL("guest memory: %s", strerror(errno));
	d->mem = mmap(NULL, d->mem_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE,
		      d->memfd, 0);
	if (d->mem == MAP_FAILED) {
		d->mem = NULL;
		FAIL("guest memory: %s", strerror(errno));
	}
	d->mem_ua = (uintptr_t)d->mem;
	for (unsigned int q = 0; q < d->nq; q++)
		vr_layout(&d->ring[q], d->mem + q * d->ring_bytes, d->num, 4096);

	ret = vf_connect(&d->vf, o->socket);
	if (ret)
		FAIL("%s: cannot connect: %s", o->socket, strerror(-ret));

	/* Realize. */
	if ((ret = vf_get_u64(&d->vf, VU_REQ_GET_FEATURES, &f)))
		FAIL("GET_FEATURES: %s", strerror(-ret));
	if (!(f & BIT(VU_F_PROTOCOL_FEATURES)))
		FAIL("backend does not offer VHOST_USER_F_PROTOCOL_FEATURES");
	if (!(f & BIT(VIRTIO_F_VERSION_1)))
		FAIL("backend does not offer VIRTIO_F_VERSION_1");
	if ((ret = vf_get_u64(&d->vf, VU_REQ_GET_PROTOCOL_FEATURES, &pf)))
		FAIL("GET_PROTOCOL_FEATURES: %s", strerror(-ret));
	if (!(pf & BIT(VU_PF_CONFIG)))
		FAIL("backend does not offer the CONFIG protocol feature");
	d->vf.pf = pf & WANT_PF;
	if ((ret = vf_send(&d->vf, VU_REQ_SET_PROTOCOL_FEATURES, false, &d->vf.pf, 8,
			   NULL, 0)))
		FAIL("SET_PROTOCOL_FEATURES: %s", strerror(-ret));
	if (d->nq > 1) {
		if (!(d->vf.pf & BIT(VU_PF_MQ)) || !(f & BIT(VIRTIO_BLK_F_MQ)))
			FAIL("--queues %u: backend does not offer multiqueue", d->nq);
		if ((ret = vf_get_u64(&d->vf, VU_REQ_GET_QUEUE_NUM, &v)))
			FAIL("GET_QUEUE_NUM: %s", strerror(-ret));
		if (v < d->nq)
			FAIL("--queues %u: backend has only %llu queues", d->nq,
			     (unsigned long long)v);
	}
	if (d->vf.pf & BIT(VU_PF_CONFIGURE_MEM_SLOTS) &&
	    (ret = vf_get_u64(&d->vf, VU_REQ_GET_MAX_MEM_SLOTS, &v)))
		FAIL("GET_MAX_MEM_SLOTS: %s", strerror(-ret));
	if ((ret = vf_request(&d->vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0)))
		FAIL("SET_OWNER: %d", ret);
	for (unsigned int q = 0; q < d->nq; q++) {
		struct vr *r = &d->ring[q];

		r->call_fd = new_eventfd();
		r->kick_fd = new_eventfd();
		if (r->call_fd < 0 || r->kick_fd < 0)
			FAIL("eventfd: %s", strerror(errno));
		if ((ret = vf_vring_fd(&d->vf, VU_REQ_SET_VRING_CALL, q, r->call_fd)))
			FAIL("SET_VRING_CALL: %d", ret);
	}
	if ((ret = vf_send(&d->vf, VU_REQ_GET_CONFIG, false, &cfg,
			   VU_CONFIG_HDR_SIZE + cfg.size, NULL, 0)) ||
	    (ret = vf_recv_reply(&d->vf, VU_REQ_GET_CONFIG, &cfg,
				 VU_CONFIG_HDR_SIZE + cfg.size, NULL)))
		FAIL("GET_CONFIG: %s", strerror(-ret));
	memcpy(&bc, cfg.data, sizeof(bc) < 57 ? sizeof(bc) : 57);
	d->capacity = bc.capacity * 512ull;
	if (!d->capacity)
		FAIL("backend reports an empty disk");

	/* DRIVER_OK. */
	d->features = f & WANT_F;
	if (o->no_event_idx)
		d->features &= ~BIT(VIRTIO_RING_F_EVENT_IDX);
	if (d->nq == 1)
		d->features &= ~BIT(VIRTIO_BLK_F_MQ);
	if ((ret = vf_request(&d->vf, VU_REQ_SET_FEATURES, &d->features, 8, NULL, 0)))
		FAIL("SET_FEATURES: %d", ret);
	if (d->vf.pf & BIT(VU_PF_STATUS) &&
	    (ret = vf_request(&d->vf, VU_REQ_SET_STATUS, &(uint64_t){ 0xb }, 8, NULL, 0)))
		FAIL("SET_STATUS(FEATURES_OK): %d", ret);
	if (d->vf.pf & BIT(VU_PF_INFLIGHT_SHMFD)) {
		struct vu_inflight_msg inf = { .num_queues = d->nq, .queue_size = d->num };

		if ((ret = vf_send(&d->vf, VU_REQ_GET_INFLIGHT_FD, false, &inf,
				   sizeof(inf), NULL, 0)) ||
		    (ret = vf_recv_reply(&d->vf, VU_REQ_GET_INFLIGHT_FD, &inf,
					 sizeof(inf), &d->inflight_fd)))
			FAIL("GET_INFLIGHT_FD: %s", strerror(-ret));
		if (d->inflight_fd < 0)
			FAIL("GET_INFLIGHT_FD: no fd in the reply");
		if ((ret = vf_request(&d->vf, VU_REQ_SET_INFLIGHT_FD, &inf, sizeof(inf),
				      &d->inflight_fd, 1)))
			FAIL("SET_INFLIGHT_FD: %d", ret);
	}
	if (d->vf.pf & BIT(VU_PF_CONFIGURE_MEM_SLOTS)) {
		struct vu_mem_reg_msg mr = { 0, { 0, d->mem_size, d->mem_ua, 0 } };

		if ((ret = vf_request(&d->vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr),
				      &d->memfd, 1)))
			FAIL("ADD_MEM_REG: %d", ret);
	} else {
		struct vu_mem_table_msg mt = { .nregions = 1 };

		mt.regions[0] = (struct vu_region_desc){ 0, d->mem_size, d->mem_ua, 0 };
		if ((ret = vf_request(&d->vf, VU_REQ_SET_MEM_TABLE, &mt,
				      VU_MEM_TABLE_HDR_SIZE + sizeof(mt.regions[0]),
				      &d->memfd, 1)))
			FAIL("SET_MEM_TABLE: %d", ret);
	}
	vr_layout_size(d->num, 4096, &avail_off, &used_off);
	for (unsigned int q = 0; q < d->nq; q++) {
		struct vr *r = &d->ring[q];
		uint64_t ua = d->mem_ua + q * d->ring_bytes;
		struct vu_vring_addr a = { .index = q, .desc = ua, .avail = ua + avail_off,
					   .used = ua + used_off };
		struct vu_vring_state st = { q, d->num };

		r->event_idx = d->features & BIT(VIRTIO_RING_F_EVENT_IDX);
		if ((ret = vf_request(&d->vf, VU_REQ_SET_VRING_NUM, &st, sizeof(st), NULL, 0)))
			FAIL("SET_VRING_NUM: %d", ret);
		st.num = 0;
		if ((ret = vf_request(&d->vf, VU_REQ_SET_VRING_BASE, &st, sizeof(st), NULL, 0)))
			FAIL("SET_VRING_BASE: %d", ret);
		if ((ret = vf_request(&d->vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0)))
			FAIL("SET_VRING_ADDR: %d", ret);
		if ((ret = vf_vring_fd(&d->vf, VU_REQ_SET_VRING_KICK, q, r->kick_fd)))
			FAIL("SET_VRING_KICK: %d", ret);
	}
	for (unsigned int q = 0; q < d->nq; q++) {
		struct vu_vring_state st = { q, 1 };

		if ((ret = vf_request(&d->vf, VU_REQ_SET_VRING_ENABLE, &st, sizeof(st),
				      NULL, 0)))
			FAIL("SET_VRING_ENABLE: %d", ret);
	}
	if (d->vf.pf & BIT(VU_PF_STATUS) &&
	    (ret = vf_request(&d->vf, VU_REQ_SET_STATUS, &(uint64_t){ 0xf }, 8, NULL, 0)))
		FAIL("SET_STATUS(DRIVER_OK): %d", ret);
	/* A round trip so that every request above was processed. */
	if ((ret = vf_get_u64(&d->vf, VU_REQ_GET_FEATURES, &v)))
		FAIL("GET_FEATURES: %s", strerror(-ret));
	for (unsigned int q = 0; q < d->nq; q++) {
		uint64_t off = d->nq * d->ring_bytes + q * vb_qmem_bytes(o);

		d->qmem[q] = d->mem + off;
		d->qmem_gpa[q] = off;
	}
	return 0;
fail:
	vb_dev_close(d);
	return -1;
}

/* QEMU's stop sequence, so the backend finishes cleanly. */
void vb_dev_close(struct vb_dev *d)
{
	if (d->vf.sock > 0) {
		if (d->vf.pf & BIT(VU_PF_STATUS))
			vf_request(&d->vf, VU_REQ_SET_STATUS, &(uint64_t){ 0 }, 8, NULL, 0);
		for (unsigned int q = 0; q < d->nq; q++) {
			struct vu_vring_state st = { q, 0 };
			uint32_t base;

			vf_request(&d->vf, VU_REQ_SET_VRING_ENABLE, &st, sizeof(st), NULL, 0);
			vf_get_vring_base(&d->vf, q, &base);
		}
		vf_close(&d->vf);
	}
	for (unsigned int q = 0; q < VB_MAX_QUEUES; q++) {
		close_fd(&d->ring[q].kick_fd);
		close_fd(&d->ring[q].call_fd);
	}
	close_fd(&d->inflight_fd);
	if (d->mem)
		munmap(d->mem, d->mem_size);
	close_fd(&d->memfd);
	d->mem = NULL;
}
