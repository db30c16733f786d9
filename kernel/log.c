// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: dirty logging for live migration.
 *
 * The log is a bitmap in the owner's address space, one bit per 4 KiB
 * page of guest-physical memory (VHOST_LOG_PAGE), as vhost's and
 * vhost-user's. While VHOST_F_LOG_ALL is acknowledged, the vring's worker
 * marks every page it wrote when it completes requests: the bytes their
 * device-writable buffers received, their status byte and, with
 * VHU_VRING_F_LOG, the used ring. Bits are set as vhost's
 * set_bit_to_user() does: the log's page is pinned through the owner's
 * mm (the worker runs in it), the bits are set atomically on its kernel
 * mapping, and the page is unpinned dirty. Nothing else of the log is
 * read or written, and a log the owner unmapped only fails the pinning.
 *
 * The guest's buffers are not kept with a request (vq.c parses a chain
 * into the iovecs it submits and forgets it). A request's device-writable
 * buffers are found again at completion by walking its descriptor chain,
 * as libvhost-user's vu_log_queue_fill() does: the chain belongs to the
 * device until its used element is published, and a guest that changes
 * it meanwhile only makes its own log wrong (the walk is bounded as the
 * parse is, and marks nothing outside the log). So requests taken before
 * VHOST_F_LOG_ALL was turned on are logged too, and the datapath carries
 * nothing for logging while it is off: vhu_vq_complete() tests
 * vhu_vq.log.all once per batch.
 *
 * Locking: the device's log (vhu_dev.log) and VHOST_F_LOG_ALL are copied
 * into each vring under vhu_dev.mutex and the vring's mutex; the worker
 * uses the copy under the vring's mutex only. Installing a new log takes
 * every vring's mutex in turn after the copy, so once VHU_SET_LOG_BASE
 * returns no worker writes the old log any more.
 */

#include <linux/bitops.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/nospec.h>
#include <linux/overflow.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/uaccess.h>

#include "vhu.h"

#define VHU_LOG_PAGE_SHIFT	12	/* VHOST_LOG_PAGE: 4 KiB */
#define VHU_LOG_BITS		(PAGE_SIZE * BITS_PER_BYTE)

/* ---- the ioctls ---- */

/* Copy the device's log and VHOST_F_LOG_ALL into each vring. */
static void vhu_log_sync(struct vhu_dev *dev)
{
	bool all = dev->acked_features & BIT_ULL(VHOST_F_LOG_ALL);
	u32 i;

	lockdep_assert_held(&dev->mutex);

	for (i = 0; i < VHU_MAX_QUEUES; i++) {
		struct vhu_vq *vq = &dev->vqs[i];

		/* After this, the worker uses the new values only. */
		mutex_lock(&vq->mutex);
		vq->log.all = all;
		vq->log.base = dev->log.user_addr;
		vq->log.size = dev->log.size;
		mutex_unlock(&vq->mutex);
	}
}

/**
 * vhu_log_set_base() - VHU_SET_LOG_BASE: install, replace or drop the log
 * @dev: the device
 * @argp: struct vhu_log
 *
 * Context: process context, in the owner's mm, holds @dev->mutex; takes
 * each vring's mutex.
 * Return: 0, -EFAULT or -EINVAL.
 */
long vhu_log_set_base(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_log l;
	u64 end;

	lockdep_assert_held(&dev->mutex);

	if (copy_from_user(&l, argp, sizeof(l)))
		return -EFAULT;
	if (l.flags & ~VHU_LOG_F_ALL ||
	    memchr_inv(l.reserved, 0, sizeof(l.reserved)))
		return -EINVAL;
	if (!l.user_addr != !l.size || l.user_addr % sizeof(u64) ||
	    check_add_overflow(l.user_addr, l.size, &end))
		return -EINVAL;
	if (l.user_addr && !access_ok(u64_to_user_ptr(l.user_addr), l.size))
		return -EFAULT;
	dev->log = l;
	vhu_log_sync(dev);
	return 0;
}

/**
 * vhu_log_set_all() - the acknowledged features changed
 * @dev: the device
 *
 * Requests completed from now on are logged if VHOST_F_LOG_ALL is among
 * them, else not; a vring that is running goes on running.
 *
 * Context: process context, holds @dev->mutex; takes each vring's mutex.
 */
void vhu_log_set_all(struct vhu_dev *dev)
{
	lockdep_assert_held(&dev->mutex);
	vhu_log_sync(dev);
}

/**
 * vhu_log_reset() - drop the log, with the owner
 * @dev: the device, whose acknowledged features were cleared
 *
 * Context: process context, holds @dev->mutex; takes each vring's mutex.
 */
void vhu_log_reset(struct vhu_dev *dev)
{
	u32 i;

	lockdep_assert_held(&dev->mutex);

	memset(&dev->log, 0, sizeof(dev->log));
	vhu_log_sync(dev);
	for (i = 0; i < VHU_MAX_QUEUES; i++) {
		mutex_lock(&dev->vqs[i].mutex);
		dev->vqs[i].log.used = false;
		dev->vqs[i].log.used_gpa = 0;
		mutex_unlock(&dev->vqs[i].mutex);
	}
}

/**
 * vhu_log_set_vring() - the logging part of VHU_SET_VRING_ADDR
 * @vq: the vring
 * @a: the addresses, flags checked against VHU_VRING_F_ALL
 *
 * Context: holds @vq->mutex.
 * Return: 0, or -EINVAL for a misaligned @a->log_guest_addr.
 */
long vhu_log_set_vring(struct vhu_vq *vq, const struct vhu_vring_addr *a)
{
	bool used = a->flags & VHU_VRING_F_LOG;

	lockdep_assert_held(&vq->mutex);

	/* As vhost: the used ring's alignment. */
	if (used && a->log_guest_addr % 4)
		return -EINVAL;
	vq->log.used = used;
	vq->log.used_gpa = used ? a->log_guest_addr : 0;
	return 0;
}

/* ---- marking ---- */

/*
 * Set bits @first to @last (page numbers, all below 8 * log size) of the
 * log, pinning one page of it at a time. Return: 0, or -EFAULT if the
 * owner's mapping of the log is gone or not writable.
 */
static int vhu_log_set_bits(struct vhu_vq *vq, u64 first, u64 last)
{
	u64 p = first;

	/* Only the owner's tasks complete requests; never pin without an mm. */
	if (unlikely(!current->mm))
		return -EFAULT;
	while (p <= last) {
		unsigned long uaddr = vq->log.base + p / BITS_PER_BYTE;
		unsigned long page_uaddr = uaddr & PAGE_MASK;
		/* Bits of this page of the log from bit @p on. */
		u64 bit = (uaddr - page_uaddr) * BITS_PER_BYTE + p % BITS_PER_BYTE;
		u64 n = min_t(u64, VHU_LOG_BITS - bit, last - p + 1);
		struct page *page;
		void *kaddr;
		u64 i;

		if (pin_user_pages_fast(page_uaddr, 1, FOLL_WRITE, &page) != 1)
			return -EFAULT;
		kaddr = kmap_local_page(page);
		for (i = 0; i < n; i++)
			set_bit_le(bit + i, kaddr);
		kunmap_local(kaddr);
		unpin_user_pages_dirty_lock(&page, 1, true);
		p += n;
	}
	return 0;
}

/*
 * Mark the pages of @len bytes at guest-physical @gpa. Pages beyond the
 * log, or all of them without a log, are counted and skipped; a range
 * that runs past the end of the 64-bit space stops there.
 */
static int vhu_log_write(struct vhu_vq *vq, u64 gpa, u64 len)
{
	u64 first, last, npages, end;

	lockdep_assert_held(&vq->mutex);

	if (!len)
		return 0;
	if (check_add_overflow(gpa, len - 1, &end))
		end = U64_MAX;
	first = gpa >> VHU_LOG_PAGE_SHIFT;
	last = end >> VHU_LOG_PAGE_SHIFT;
	/* At most 2^57 bytes of log (access_ok()): no overflow. */
	npages = vq->log.size * BITS_PER_BYTE;
	if (last >= npages) {
		vq->stats.log_skipped += last - max(first, npages) + 1;
		if (first >= npages)
			return 0;
		last = npages - 1;
	}
	return vhu_log_set_bits(vq, first, last);
}

/**
 * struct vhu_log_walk - marking a request's device-writable buffers
 * @data: data bytes still to mark, in chain order
 * @status_gpa: the last device-writable byte seen: the status byte
 * @have_status: @status_gpa is valid
 * @ndesc: descriptors read, to reschedule now and then
 */
struct vhu_log_walk {
	u64 data;
	u64 status_gpa;
	bool have_status;
	u32 ndesc;
};

/* One descriptor of the chain. */
static int vhu_log_desc(struct vhu_vq *vq, struct vhu_log_walk *w,
			const struct vring_desc *d)
{
	u64 addr = vhu64_to_cpu(d->addr);
	u32 len = vhu32_to_cpu(d->len);
	u64 n;

	if (!(vhu16_to_cpu(d->flags) & VRING_DESC_F_WRITE) || !len)
		return 0;
	w->status_gpa = addr + len - 1;
	w->have_status = true;
	n = min_t(u64, len, w->data);
	w->data -= n;
	return vhu_log_write(vq, addr, n);
}

static int vhu_log_read_desc(struct vhu_log_walk *w,
			     struct vring_desc __user *table, u32 i,
			     struct vring_desc *d)
{
	if (!(++w->ndesc % VHU_RESCHED_EVERY))
		cond_resched();
	return copy_from_user(d, table + i, sizeof(*d)) ? -EFAULT : 0;
}

/* An indirect table, as vq.c walks it. */
static int vhu_log_indirect(struct vhu_vq *vq, struct vhu_req *req,
			    struct vhu_log_walk *w, const struct vring_desc *ind)
{
	u32 len = vhu32_to_cpu(ind->len);
	struct vring_desc __user *table;
	u32 count, i = 0, n = 0;
	struct vring_desc d;
	struct iovec iov;
	int ret;

	if (!len || len % sizeof(d) || len / sizeof(d) > VHU_MAX_INDIRECT ||
	    !req->mem ||
	    vhu_mem_translate(req->mem, vhu64_to_cpu(ind->addr), len, &iov, 1) != 1)
		return 0;	/* the request failed without data */
	table = iov.iov_base;
	count = len / sizeof(d);
	while (++n <= count) {
		if (vhu_log_read_desc(w, table, i, &d))
			return -EFAULT;
		ret = vhu_log_desc(vq, w, &d);
		if (ret)
			return ret;
		if (!(vhu16_to_cpu(d.flags) & VRING_DESC_F_NEXT))
			break;
		i = vhu16_to_cpu(d.next);
		if (i >= count)
			break;
	}
	return 0;
}

/*
 * Mark what request @req wrote: the first @data bytes of its
 * device-writable buffers, then its status byte if it was written.
 */
static int vhu_log_req(struct vhu_vq *vq, struct vhu_req *req, u64 data)
{
	struct vhu_log_walk w = { .data = data };
	u32 i = req->head, n = 0;
	struct vring_desc d;
	int ret;

	while (++n <= vq->num) {
		if (vhu_log_read_desc(&w, vq->desc, i, &d))
			return -EFAULT;
		if (vhu16_to_cpu(d.flags) & VRING_DESC_F_INDIRECT) {
			if (n > 1)
				break;
			ret = vhu_log_indirect(vq, req, &w, &d);
			if (ret)
				return ret;
			break;
		}
		ret = vhu_log_desc(vq, &w, &d);
		if (ret)
			return ret;
		if (!(vhu16_to_cpu(d.flags) & VRING_DESC_F_NEXT))
			break;
		i = vhu16_to_cpu(d.next);
		if (i >= vq->num)
			break;
	}
	if (req->status_uaddr && w.have_status)
		return vhu_log_write(vq, w.status_gpa, 1);
	return 0;
}

/**
 * vhu_log_used() - mark a field of the used ring
 * @vq: the vring
 * @offset: the field's offset in struct vring_used
 * @len: its size
 *
 * Nothing unless VHOST_F_LOG_ALL is on and the vring has VHU_VRING_F_LOG.
 *
 * Context: in the owner's mm, holds @vq->mutex, after the field's store.
 * Return: 0, or -EFAULT if the log is not writable.
 */
int vhu_log_used(struct vhu_vq *vq, u64 offset, u64 len)
{
	lockdep_assert_held(&vq->mutex);

	if (!vq->log.all || !vq->log.used)
		return 0;
	/* Make the field visible before its bit (vhost's log_used()). */
	smp_wmb();
	return vhu_log_write(vq, vq->log.used_gpa + offset, len);
}

/**
 * vhu_log_complete() - mark what a batch of completed requests wrote
 * @vq: the vring, with VHOST_F_LOG_ALL on (@vq->log.all)
 * @list: the requests, whose status bytes and used elements were written
 * @used_idx: the used index of the first one's element
 *
 * Called before the used index store that publishes them. A request's
 * data is the bytes it reported written but its status byte; for a read
 * that failed in the backend, all the bytes it handed to the backend
 * (which may have written part of them).
 *
 * Context: in the owner's mm, holds @vq->mutex.
 * Return: 0, or -EFAULT if the log or the descriptor table is not
 * accessible: the caller stops the vring.
 */
int vhu_log_complete(struct vhu_vq *vq, struct llist_node *list, u16 used_idx)
{
	struct vhu_req *req;
	int ret = 0;

	lockdep_assert_held(&vq->mutex);

	/* The status bytes and used elements before their bits. */
	smp_wmb();
	llist_for_each_entry(req, list, node) {
		u64 data = req->written - (req->status_uaddr && req->written);
		u64 off = offsetof(struct vring_used, ring) +
			  (u64)(used_idx++ & (vq->num - 1)) *
			  sizeof(struct vring_used_elem);

		if (req->type == VIRTIO_BLK_T_IN &&
		    req->status != VIRTIO_BLK_S_OK)
			data = max_t(u64, data, req->len);
		if (!ret)
			ret = vhu_log_req(vq, req, data);
		if (!ret)
			ret = vhu_log_used(vq, off, sizeof(struct vring_used_elem));
	}
	return ret;
}
