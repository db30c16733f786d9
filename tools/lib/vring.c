// SPDX-License-Identifier: GPL-2.0
/*
 * The driver side of a virtio split ring (see vring.h).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "vring.h"

static size_t align_up(size_t x, size_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static uint16_t load_acquire(const void *p)
{
	return __atomic_load_n((const uint16_t *)p, __ATOMIC_ACQUIRE);
}

size_t vr_layout_size(unsigned int num, size_t align, size_t *avail_off,
		      size_t *used_off)
{
	size_t avail = align_up(vr_desc_size(num), align);
	size_t used = avail + align_up(vr_avail_size(num), align);

	if (avail_off)
		*avail_off = avail;
	if (used_off)
		*used_off = used;
	return used + align_up(vr_used_size(num), align);
}

void vr_layout(struct vr *r, void *mem, unsigned int num, size_t align)
{
	size_t avail, used;

	vr_layout_size(num, align, &avail, &used);
	vr_init(r, num, mem, (uint8_t *)mem + avail, (uint8_t *)mem + used);
}

static void vr_set(struct vr *r, unsigned int num, void *desc, void *avail,
		   void *used)
{
	memset(r, 0, sizeof(*r));
	r->num = num;
	r->desc = desc;
	r->avail = avail;
	r->used = used;
	r->kick_fd = -1;
	r->call_fd = -1;
}

void vr_init(struct vr *r, unsigned int num, void *desc, void *avail,
	     void *used)
{
	vr_set(r, num, desc, avail, used);
	memset(desc, 0, vr_desc_size(num));
	memset(avail, 0, vr_avail_size(num));
	memset(used, 0, vr_used_size(num));
}

void vr_attach(struct vr *r, unsigned int num, void *desc, void *avail,
	       void *used)
{
	vr_set(r, num, desc, avail, used);
	r->avail_idx = load_acquire(&r->avail->idx);
	r->kicked_idx = r->avail_idx;
	r->last_used = vr_used_idx(r);
}

void vr_fill_chain(struct vring_desc *d, uint16_t first,
		   const struct vr_buf *b, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		bool more = i + 1 < n;

		vr_set_desc(&d[i], b[i].addr, b[i].len,
			    (b[i].write ? VRING_DESC_F_WRITE : 0) |
			    (more ? VRING_DESC_F_NEXT : 0),
			    more ? first + i + 1 : 0);
	}
}

int vr_add_chain(struct vr *r, uint16_t head, const struct vr_buf *b,
		 unsigned int n)
{
	if (!n || head + n > r->num)
		return -EINVAL;
	vr_fill_chain(&r->desc[head], head, b, n);
	return 0;
}

int vr_add_indirect(struct vr *r, uint16_t head, uint64_t table,
		    unsigned int n)
{
	if (!n || head >= r->num || n > UINT32_MAX / sizeof(struct vring_desc))
		return -EINVAL;
	vr_set_desc(&r->desc[head], table, n * sizeof(struct vring_desc),
		    VRING_DESC_F_INDIRECT, 0);
	return 0;
}

void vr_push(struct vr *r, uint16_t head)
{
	r->avail->ring[r->avail_idx % r->num] = head;
	r->avail_idx++;
}

void vr_publish(struct vr *r)
{
	__atomic_store_n(&r->avail->idx, r->avail_idx, __ATOMIC_RELEASE);
}

bool vr_kick_needed(struct vr *r)
{
	uint16_t old = r->kicked_idx;

	r->kicked_idx = r->avail_idx;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (r->event_idx)
		return vring_need_event(load_acquire(vr_avail_event(r)),
					r->avail_idx, old);
	return !(load_acquire(&r->used->flags) & VRING_USED_F_NO_NOTIFY);
}

int vr_kick(struct vr *r)
{
	uint64_t one = 1;

	if (write(r->kick_fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	r->kicks++;
	return 0;
}

uint16_t vr_used_idx(const struct vr *r)
{
	return load_acquire(&r->used->idx);
}

bool vr_more_used(const struct vr *r)
{
	return vr_used_idx(r) != r->last_used;
}

bool vr_get_used(struct vr *r, uint32_t *id, uint32_t *len)
{
	const struct vring_used_elem *e;

	if (!vr_more_used(r))
		return false;
	e = &r->used->ring[r->last_used % r->num];
	*id = e->id;
	*len = e->len;
	r->last_used++;
	return true;
}

bool vr_want_call_at(struct vr *r, uint16_t idx)
{
	if (r->event_idx)
		__atomic_store_n(vr_used_event(r), idx, __ATOMIC_RELAXED);
	else
		__atomic_store_n(&r->avail->flags, 0, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return vr_more_used(r);
}

bool vr_enable_calls(struct vr *r)
{
	return vr_want_call_at(r, r->last_used);
}

int vr_wait_call(struct vr *r, int ms)
{
	struct pollfd p = { .fd = r->call_fd, .events = POLLIN };
	uint64_t count;
	int n;

	n = poll(&p, 1, ms);
	if (n < 0)
		return -errno;
	if (!n)
		return 0;
	/* Another reader may have emptied it since: still a call. */
	if (read(r->call_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		return -errno;
	return 1;
}
