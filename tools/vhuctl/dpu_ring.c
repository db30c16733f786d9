// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: split virtqueues for the userspace datapath.
 *
 * The same rules as vhu.ko (kernel/vq.c): descriptor loops, next indices
 * out of range, nested or chained indirect descriptors, badly sized
 * indirect tables, heads out of range or already in flight and an avail
 * index more than the ring size ahead are ring errors (the queue stops
 * and the err eventfd fires). A buffer outside guest memory, a readable
 * buffer after a writable one or more than DPU_MAX_IOV pieces (a request
 * over seg_max, in a chain or in an indirect table of any valid length)
 * only fails that request (IOERR).
 *
 * The rings are shared with a guest that may change them at any moment:
 * every field is read once into a local before it is checked and used.
 */
#include <string.h>

#include "dpu.h"
#include "util.h"

/* The event index fields after each ring (VIRTIO_RING_F_EVENT_IDX). */
static uint16_t *avail_event(struct dpu_ring *vq)
{
	return (uint16_t *)(void *)&vq->used->ring[vq->num];
}

static uint16_t *used_event(struct dpu_ring *vq)
{
	return (uint16_t *)(void *)&vq->avail->ring[vq->num];
}

/* ---- avail ring ------------------------------------------------------ */

int dpu_ring_pop(struct dpu_ring *vq, uint16_t *head, const char **why)
{
	uint16_t h;

	if (vq->last_avail == vq->avail_idx) {
		vq->avail_idx = __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE);
		if ((uint16_t)(vq->avail_idx - vq->last_avail) > vq->num) {
			*why = "avail index beyond the ring";
			return -1;
		}
		if (vq->last_avail == vq->avail_idx)
			return 0;
	}
	h = READ_ONCE(vq->avail->ring[vq->last_avail & (vq->num - 1)]);
	if (h >= vq->num) {
		*why = "head out of range";
		return -1;
	}
	if (vq->busy[h]) {
		*why = "head already in flight";
		return -1;
	}
	vq->last_avail++;
	*head = h;
	return 1;
}

bool dpu_ring_avail_pending(struct dpu_ring *vq)
{
	return __atomic_load_n(&vq->avail->idx, __ATOMIC_ACQUIRE) != vq->last_avail;
}

void dpu_ring_notify(struct dpu_ring *vq, bool on)
{
	if (vq->event_idx) {
		if (on)
			WRITE_ONCE(*avail_event(vq), vq->last_avail);
	} else {
		WRITE_ONCE(vq->used->flags, on ? 0 : VRING_USED_F_NO_NOTIFY);
	}
	/* Publish the wish before the caller looks at avail->idx again. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
}

/* ---- descriptor chains ----------------------------------------------- */

static void chain_add(const struct vu_mem_view *m, struct dpu_chain *c,
		      uint64_t addr, uint32_t len, uint16_t flags)
{
	unsigned int used = c->nout + c->nin;
	int n;

	if (!len)
		return;
	if (flags & VRING_DESC_F_WRITE) {
		c->in_len += len;
		c->status_gpa = addr + len - 1;
		c->have_status = true;
	} else {
		c->out_len += len;
		if (c->nin || c->have_status)
			c->bad = true;	/* readable after writable */
	}
	if (c->bad)
		return;
	n = vu_mem_view_iov(m, addr, len, c->iov + used, DPU_MAX_IOV - used);
	if (n < 0) {
		c->bad = true;
		return;
	}
	if (flags & VRING_DESC_F_WRITE)
		c->nin += n;
	else
		c->nout += n;
}

static int walk_indirect(struct dpu_ring *vq, const struct vu_mem_view *m,
			 struct dpu_chain *c, uint64_t addr, uint32_t len,
			 const char **why)
{
	const struct vring_desc *table;
	uint32_t count, i = 0, n = 0;

	if (!vq->indirect) {
		*why = "indirect descriptor not negotiated";
		return -1;
	}
	if (!len || len % sizeof(struct vring_desc)) {
		*why = "bad indirect table length";
		return -1;
	}
	if (len / sizeof(struct vring_desc) > DPU_MAX_INDIRECT) {
		*why = "indirect table longer than 65536 descriptors";
		return -1;
	}
	count = len / sizeof(struct vring_desc);
	table = vu_mem_view_ptr(m, addr, len);
	if (!table) {
		*why = "indirect table outside guest memory";
		return -1;
	}
	for (;;) {
		struct vring_desc d;

		if (++n > count) {
			*why = "indirect descriptor loop";
			return -1;
		}
		memcpy(&d, &table[i], sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			*why = "nested indirect descriptor";
			return -1;
		}
		chain_add(m, c, d.addr, d.len, d.flags);
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= count) {
			*why = "indirect next out of range";
			return -1;
		}
	}
}

int dpu_ring_walk(struct dpu_ring *vq, const struct vu_mem_view *m,
		  uint16_t head, struct dpu_chain *c, const char **why)
{
	uint32_t i = head, n = 0;

	c->nout = c->nin = 0;
	c->out_len = c->in_len = 0;
	c->bad = c->have_status = false;
	c->status_gpa = 0;
	for (;;) {
		struct vring_desc d;

		if (++n > vq->num) {
			*why = "descriptor loop";
			return -1;
		}
		memcpy(&d, &vq->desc[i], sizeof(d));
		if (d.flags & VRING_DESC_F_INDIRECT) {
			if ((d.flags & VRING_DESC_F_NEXT) || n > 1) {
				*why = "indirect descriptor inside a chain";
				return -1;
			}
			return walk_indirect(vq, m, c, d.addr, d.len, why);
		}
		chain_add(m, c, d.addr, d.len, d.flags);
		if (!(d.flags & VRING_DESC_F_NEXT))
			return 0;
		i = d.next;
		if (i >= vq->num) {
			*why = "next out of range";
			return -1;
		}
	}
}

/* ---- used ring ------------------------------------------------------- */

void dpu_ring_push(struct dpu_ring *vq, uint16_t head, uint32_t len)
{
	struct vring_used_elem *e = &vq->used->ring[vq->used_idx & (vq->num - 1)];

	WRITE_ONCE(e->id, head);
	WRITE_ONCE(e->len, len);
	vq->used_idx++;
}

void dpu_ring_flush(struct dpu_ring *vq)
{
	/* Elements before the index that makes them visible. */
	__atomic_store_n(&vq->used->idx, vq->used_idx, __ATOMIC_RELEASE);
}

static bool need_event(uint16_t event, uint16_t new, uint16_t old)
{
	return (uint16_t)(new - event - 1) < (uint16_t)(new - old);
}

bool dpu_ring_publish(struct dpu_ring *vq)
{
	uint16_t old = vq->signalled_used, ev;
	bool valid = vq->signalled_valid;

	dpu_ring_flush(vq);
	/* The index before reading what the driver wants. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (!vq->event_idx)
		return !(READ_ONCE(vq->avail->flags) & VRING_AVAIL_F_NO_INTERRUPT);
	vq->signalled_used = vq->used_idx;
	vq->signalled_valid = true;
	if (!valid)
		return true;
	ev = READ_ONCE(*used_event(vq));
	return need_event(ev, vq->used_idx, old);
}
