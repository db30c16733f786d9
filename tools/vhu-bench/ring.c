// SPDX-License-Identifier: GPL-2.0
/*
 * Our split virtqueues, driven like a guest driver would: descriptors and
 * the avail ring written by us, the used ring by the backend; notifications
 * through the kick/call eventfds, suppressed with EVENT_IDX when negotiated
 * (else with the NO_NOTIFY / NO_INTERRUPT flags).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_ring.h>

#include "bench.h"
#include "util.h"

static inline uint16_t load16_acq(volatile uint16_t *p)
{
	return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

uint64_t vb_ring_bytes(uint32_t num)
{
	uint64_t d = ALIGN(16ull * num, 4096);
	uint64_t a = ALIGN(6 + 2ull * num, 4096);
	uint64_t u = ALIGN(6 + 8ull * num, 4096);

	return d + a + u;
}

void vb_ring_init(struct vb_ring *r, void *mem, uint64_t ua, uint32_t num,
		  bool event_idx)
{
	uint64_t d = ALIGN(16ull * num, 4096);
	uint64_t a = ALIGN(6 + 2ull * num, 4096);

	memset(r, 0, sizeof(*r));
	memset(mem, 0, vb_ring_bytes(num));
	r->num = num;
	r->desc = mem;
	r->avail = (void *)((uint8_t *)mem + d);
	r->used = (void *)((uint8_t *)mem + d + a);
	r->desc_ua = ua;
	r->avail_ua = ua + d;
	r->used_ua = ua + d + a;
	r->event_idx = event_idx;
	r->kick = r->call = -1;
}

void vb_ring_push(struct vb_ring *r, uint16_t head)
{
	r->avail->ring[r->avail_idx % r->num] = head;
	r->avail_idx++;
}

void vb_ring_publish(struct vb_ring *r, uint16_t old)
{
	uint64_t one = 1;
	bool kick;

	if (r->avail_idx == old)
		return;
	__atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
	/* The device may be reading avail_event/flags concurrently. */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (r->event_idx)
		kick = vring_need_event(load16_acq((uint16_t *)&r->used->ring[r->num]),
					r->avail_idx, old);
	else
		kick = !(load16_acq(&r->used->flags) & VRING_USED_F_NO_NOTIFY);
	if (kick) {
		r->kicks++;
		if (write(r->kick, &one, sizeof(one)) < 0)
			(void)0;	/* an eventfd write cannot fail here */
	}
}

int vb_ring_pop(struct vb_ring *r, uint32_t *len)
{
	struct vring_used_elem *e;

	if (load16_acq(&r->used->idx) == r->last_used)
		return -1;
	e = &r->used->ring[r->last_used % r->num];
	r->last_used++;
	if (len)
		*len = e->len;
	return (int)e->id;
}

int vb_ring_wait(struct vb_ring *r)
{
	struct pollfd p = { .fd = r->call, .events = POLLIN };
	uint64_t v;

	if (r->poll)
		return 0;
	/* Ask for a call at the next used entry, then re-check (race). */
	if (r->event_idx)
		*(volatile uint16_t *)&r->avail->ring[r->num] = r->last_used;
	else
		r->avail->flags = 0;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (load16_acq(&r->used->idx) != r->last_used)
		return 0;
	r->waits++;
	if (poll(&p, 1, 1000) < 0)
		return errno == EINTR ? 0 : -errno;
	if (p.revents & POLLIN)
		(void)!read(r->call, &v, sizeof(v));
	return 0;
}
