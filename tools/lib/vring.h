/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The driver side of a virtio split ring, driven the way a guest's virtio
 * driver does: this code writes the descriptor table and the avail ring
 * and reads the used ring. Notifications are suppressed with
 * VIRTIO_RING_F_EVENT_IDX (avail_event, used_event) when it was
 * negotiated, else with VRING_USED_F_NO_NOTIFY and
 * VRING_AVAIL_F_NO_INTERRUPT.
 *
 * The three parts go wherever the caller puts them (vr_init()), or one
 * after the other in one piece of memory (vr_layout()). There is no free
 * list: the caller decides which descriptors a chain uses, typically a
 * fixed head per request slot. One thread drives a ring.
 *
 * A request, then its completion:
 *
 *	vr_add_chain(r, head, bufs, n);		or vr_add_indirect()
 *	vr_push(r, head);
 *	vr_publish(r);				the device may see it now
 *	if (vr_kick_needed(r))
 *		vr_kick(r);
 *	...
 *	while (!vr_get_used(r, &id, &len)) {
 *		if (!vr_enable_calls(r))	nothing used meanwhile
 *			vr_wait_call(r, ms);
 *	}
 *
 * The rings are little-endian (VIRTIO_F_VERSION_1), as every host this is
 * built for is: fields are accessed natively.
 */
#ifndef VHU_VRING_H
#define VHU_VRING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <linux/virtio_ring.h>

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "vring.h accesses the little-endian rings natively");

/**
 * struct vr - one split ring, seen from the driver
 * @num: entries, a power of 2
 * @desc: the descriptor table, in our address space
 * @avail: the avail ring (with used_event after its entries)
 * @used: the used ring (with avail_event after its elements)
 * @event_idx: VIRTIO_RING_F_EVENT_IDX was negotiated (set by the caller)
 * @avail_idx: the next avail entry vr_push() fills
 * @kicked_idx: @avail_idx at the last vr_kick_needed()
 * @last_used: the next used element vr_get_used() takes
 * @kick_fd: the kick eventfd, or -1 (set by the caller)
 * @call_fd: the call eventfd, or -1 (set by the caller)
 * @kicks: kicks vr_kick() sent
 */
struct vr {
	unsigned int num;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	bool event_idx;
	uint16_t avail_idx;
	uint16_t kicked_idx;
	uint16_t last_used;
	int kick_fd;
	int call_fd;
	uint64_t kicks;
};

/**
 * struct vr_buf - one buffer of a descriptor chain
 * @addr: its driver (guest-physical) address
 * @len: its length in bytes
 * @write: the device writes it (VRING_DESC_F_WRITE)
 */
struct vr_buf {
	uint64_t addr;
	uint32_t len;
	bool write;
};

/* Bytes of each part for @num entries, the event fields included. */
static inline size_t vr_desc_size(unsigned int num)
{
	return sizeof(struct vring_desc) * num;
}

static inline size_t vr_avail_size(unsigned int num)
{
	return sizeof(struct vring_avail) + sizeof(__virtio16) * (num + 1);
}

static inline size_t vr_used_size(unsigned int num)
{
	return sizeof(struct vring_used) +
	       sizeof(struct vring_used_elem) * num + sizeof(__virtio16);
}

/*
 * Bytes of one piece of memory holding the three parts in order (desc at
 * offset 0), each starting at a multiple of @align (a power of 2).
 * *@avail_off and *@used_off, when not NULL, get where the avail ring and
 * the used ring start.
 */
size_t vr_layout_size(unsigned int num, size_t align, size_t *avail_off,
		      size_t *used_off);
/* vr_init() with the parts at those offsets in @mem. */
void vr_layout(struct vr *r, void *mem, unsigned int num, size_t align);

/* A new ring at @desc, @avail and @used: the parts zeroed, indices 0. */
void vr_init(struct vr *r, unsigned int num, void *desc, void *avail,
	     void *used);
/*
 * A ring another driver left at @desc, @avail and @used (a frontend that
 * reconnects): the parts kept, the avail index taken from the ring and
 * everything in the used ring counted as harvested.
 */
void vr_attach(struct vr *r, unsigned int num, void *desc, void *avail,
	       void *used);

/* The event fields: where the driver and the device ask to be notified. */
static inline uint16_t *vr_used_event(const struct vr *r)
{
	return (uint16_t *)&r->avail->ring[r->num];
}

static inline uint16_t *vr_avail_event(const struct vr *r)
{
	return (uint16_t *)&r->used->ring[r->num];
}

static inline void vr_set_desc(struct vring_desc *d, uint64_t addr,
			       uint32_t len, uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

/*
 * Write the chain of @n buffers @b into @d[0] .. @d[n - 1], linked with
 * VRING_DESC_F_NEXT; @first is the index of @d[0] in its table (the head
 * in the descriptor table, 0 in an indirect table).
 */
void vr_fill_chain(struct vring_desc *d, uint16_t first,
		   const struct vr_buf *b, unsigned int n);
/* The chain in the descriptor table at @head .. @head + @n - 1: 0 or -EINVAL. */
int vr_add_chain(struct vr *r, uint16_t head, const struct vr_buf *b,
		 unsigned int n);
/*
 * Descriptor @head pointing at an indirect table of @n descriptors at
 * driver address @table, which the caller fills (vr_fill_chain(t, 0, ...)
 * where the table is in its address space): 0 or -EINVAL.
 */
int vr_add_indirect(struct vr *r, uint16_t head, uint64_t table,
		    unsigned int n);

/* Put @head in the next avail entry; the device sees it after vr_publish(). */
void vr_push(struct vr *r, uint16_t head);
/*
 * Publish the pushed entries: the avail index with a release store, after
 * the descriptors and entries it covers.
 */
void vr_publish(struct vr *r);
/*
 * Does the device want a kick for what was published since the last call?
 * A full barrier orders the index store before the read of avail_event (or
 * of the used ring's flags): the device does the opposite.
 */
bool vr_kick_needed(struct vr *r);
/* Signal the kick eventfd: 0 or -errno. */
int vr_kick(struct vr *r);

/* The device's used index, read with acquire (its elements are visible). */
uint16_t vr_used_idx(const struct vr *r);
/* Is there a used element vr_get_used() did not take yet? */
bool vr_more_used(const struct vr *r);
/* Take the next used element: true with its id and length, false if none. */
bool vr_get_used(struct vr *r, uint32_t *id, uint32_t *len);

/*
 * Ask for a call once the device has used the element at used index @idx
 * (used_event; without EVENT_IDX, at every use: NO_INTERRUPT cleared),
 * then look again after a full barrier: true if there are used elements
 * not taken yet, which the device may have written without a call.
 */
bool vr_want_call_at(struct vr *r, uint16_t idx);
/* vr_want_call_at() the next element vr_get_used() takes. */
bool vr_enable_calls(struct vr *r);
/* Wait for a call at most @ms: 1 (the eventfd emptied), 0 none, -errno. */
int vr_wait_call(struct vr *r, int ms);

#endif
