// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: the split virtqueue engine.
 *
 * Everything in the rings is guest controlled and is read once, checked,
 * and only then used: indexes are bounded by the ring size, chains by the
 * ring size (and indirect tables by their length), every buffer address is
 * translated through the memory table and accessed only through the
 * owner's mm (the worker adopted it). A malformed ring stops the vring and
 * signals its err eventfd; a malformed request only fails that request.
 */

#include <linux/bitmap.h>
#include <linux/blkdev.h>
#include <linux/highmem.h>
#include <linux/nospec.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_config.h>

#include "vhu.h"

/* One writer (the worker, under vq->mutex), lockless readers. */
static void vhu_stat_add(u64 *ctr, u64 n)
{
	WRITE_ONCE(*ctr, *ctr + n);
}

/**
 * vhu_vq_error() - stop a vring after an unrecoverable ring error
 * @vq: the vring
 * @why: what went wrong, for the kernel log
 *
 * In-flight requests still complete into the used ring; nothing new is
 * taken from the avail ring until the vring is enabled again.
 *
 * Context: holds @vq->mutex.
 */
static void vhu_vq_error(struct vhu_vq *vq, const char *why)
{
	lockdep_assert_held(&vq->mutex);

	if (vq->broken)
		return;
	WRITE_ONCE(vq->broken, true);
	vhu_stat_add(&vq->stats.ring_errors, 1);
	pr_debug_ratelimited("dev %u vring %u: %s, stopped\n",
			     vq->dev->id, vq->index, why);
	if (vq->err)
		eventfd_signal(vq->err);
	vhu_genl_notify(vq->dev, VHU_EVENT_RING_ERROR, vq->index, 0);
}

/* ---- notifications ---- */

/* Whether the driver wants a call for the used entries up to @new. */
static bool vhu_vq_need_call(struct vhu_vq *vq, u16 new)
{
	u16 old = vq->signalled_used;
	bool valid = vq->signalled_used_valid;
	__virtio16 v;

	/* Make the used index visible before reading the driver's wishes. */
	smp_mb();
	if (!vq->event_idx) {
		if (get_user(v, &vq->avail->flags))
			return true;
		return !(vhu16_to_cpu(v) & VRING_AVAIL_F_NO_INTERRUPT);
	}
	vq->signalled_used = new;
	vq->signalled_used_valid = true;
	if (!valid)
		return true;
	if (get_user(v, &vq->avail->ring[vq->num]))
		return true;
	return vring_need_event(vhu16_to_cpu(v), new, old);
}

static void vhu_vq_call(struct vhu_vq *vq)
{
	if (vq->call && vhu_vq_need_call(vq, vq->used_idx)) {
		eventfd_signal(vq->call);
		vhu_stat_add(&vq->stats.calls, 1);
	}
}

/* Ask for kicks (@on) or suppress them while we are processing anyway. */
static int vhu_vq_notify(struct vhu_vq *vq, bool on)
{
	u64 off;
	int ret;

	if (vq->event_idx) {
		if (!on)
			return 0;
		ret = put_user(cpu_to_vhu16(vq->last_avail_idx),
			       (__virtio16 __user *)&vq->used->ring[vq->num]);
		off = offsetof(struct vring_used, ring) +
		      (u64)vq->num * sizeof(struct vring_used_elem);
	} else {
		ret = put_user(cpu_to_vhu16(on ? 0 : VRING_USED_F_NO_NOTIFY),
			       &vq->used->flags);
		off = offsetof(struct vring_used, flags);
	}
	if (unlikely(vq->log.all) && !ret)
		ret = vhu_log_used(vq, off, sizeof(__virtio16));
	return ret;
}

/**
 * vhu_vq_poll_begin() - suppress kicks for a busy poll of the avail ring
 * @vq: the vring
 * @idxp: set to the avail index's address in the owner's address space
 * @idx: set to the avail index the driver published last, as far as the
 *	vring knows
 *
 * Only for a vring that is enabled, not broken, and whose avail ring was
 * found empty. Kicks are suppressed as while a pass runs: with
 * VRING_USED_F_NO_NOTIFY, or with EVENT_IDX by an avail event one behind
 * the next entry, which vring_need_event() never crosses for the next
 * 65535 entries (more than a ring holds). The poller then reads *@idxp
 * without @vq->mutex until it differs from @idx, and the next pass asks
 * for kicks again and looks once more before the worker sleeps.
 *
 * Context: the vring's worker, holds @vq->mutex.
 * Return: true to poll; false if the vring is not to be polled.
 */
bool vhu_vq_poll_begin(struct vhu_vq *vq, __virtio16 __user **idxp, u16 *idx)
{
	__virtio16 __user *p;
	u16 v;
	u64 off;

	lockdep_assert_held(&vq->mutex);

	if (!vq->enabled || vq->broken || vq->last_avail_idx != vq->avail_idx ||
	    vq->resubmit_pos < vq->nr_resubmit)
		return false;
	if (vq->event_idx) {
		p = (__virtio16 __user *)&vq->used->ring[vq->num];
		v = vq->last_avail_idx - 1;
		off = offsetof(struct vring_used, ring) +
		      (u64)vq->num * sizeof(struct vring_used_elem);
	} else {
		p = &vq->used->flags;
		v = VRING_USED_F_NO_NOTIFY;
		off = offsetof(struct vring_used, flags);
	}
	if (put_user(cpu_to_vhu16(v), p) ||
	    (unlikely(vq->log.all) && vhu_log_used(vq, off, sizeof(__virtio16)))) {
		vhu_vq_error(vq, "used ring not writable");
		return false;
	}
	*idxp = &vq->avail->idx;
	*idx = vq->avail_idx;
	return true;
}

/* ---- used ring ---- */

/*
 * Count a request answered VIRTIO_BLK_S_IOERR, and tell the "events"
 * group, VHU_EVENT_IO_ERROR_BURST times per VHU_EVENT_IO_ERROR_INTERVAL_MS
 * at most for the device. The completion itself may run in interrupt
 * context, but it only queues the request for the vring's worker
 * (vhu_req_complete()); the worker accounts it here, in process context,
 * so the notification is built with GFP_KERNEL.
 */
static void vhu_vq_ioerr(struct vhu_vq *vq)
{
	vhu_stat_add(&vq->stats.reqs_ioerr, 1);
	if (__ratelimit(&vq->dev->io_err_rs))
		vhu_genl_notify(vq->dev, VHU_EVENT_IO_ERROR, vq->index, 0);
}

static void vhu_vq_account(struct vhu_vq *vq, struct vhu_req *req)
{
	struct vhu_vq_stats *s = &vq->stats;
	bool ok = req->status == VIRTIO_BLK_S_OK && req->result > 0;

	if (req->status == VIRTIO_BLK_S_UNSUPP)
		vhu_stat_add(&s->reqs_unsupp, 1);
	else if (req->status == VIRTIO_BLK_S_IOERR)
		vhu_vq_ioerr(vq);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		vhu_stat_add(&s->reqs_in, 1);
		if (ok)
			vhu_stat_add(&s->bytes_read, req->result);
		break;
	case VIRTIO_BLK_T_OUT:
		vhu_stat_add(&s->reqs_out, 1);
		if (ok)
			vhu_stat_add(&s->bytes_written, req->result);
		break;
	case VIRTIO_BLK_T_FLUSH:
		vhu_stat_add(&s->reqs_flush, 1);
		break;
	case VIRTIO_BLK_T_GET_ID:
		vhu_stat_add(&s->reqs_get_id, 1);
		break;
	case VIRTIO_BLK_T_DISCARD:
		vhu_stat_add(&s->reqs_discard, 1);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		vhu_stat_add(&s->reqs_write_zeroes, 1);
		break;
	}
}

/*
 * Write the used elements of @list from vq->used_idx on: two 4-byte
 * stores each (the used ring is only 4-byte aligned), in one user access
 * section for VHU_RESCHED_EVERY of them, not a call per request. The
 * whole ring is checked once, the entries are indexed within it.
 */
static int vhu_vq_put_used(struct vhu_vq *vq, struct llist_node *list)
{
	struct vring_used_elem __user *ring = vq->used->ring;
	struct llist_node *pos = list;
	u16 idx = vq->used_idx;

	while (pos) {
		unsigned int k = 0;

		if (!user_access_begin(ring, (size_t)vq->num * sizeof(*ring)))
			return -EFAULT;
		for (; pos && k < VHU_RESCHED_EVERY; pos = pos->next, k++) {
			struct vhu_req *req = llist_entry(pos, struct vhu_req, node);
			struct vring_used_elem __user *e = &ring[idx++ & (vq->num - 1)];

			unsafe_put_user(cpu_to_vhu32(req->head), &e->id, end_access);
			unsafe_put_user(cpu_to_vhu32(req->written), &e->len,
					end_access);
		}
		user_access_end();
		if (pos)
			cond_resched();
	}
	return 0;

end_access:
	user_access_end();
	return -EFAULT;
}

/**
 * vhu_vq_complete() - put completed requests into the used ring
 * @vq: the vring
 *
 * Status bytes, then the used elements, then one used->idx update and at
 * most one call. With an inflight area the batch is linked there before
 * the update and cleared after it. While dirty logging (log.c), the
 * batch's pages are marked before the update, the index's after it. Then
 * the requests are put back.
 *
 * Context: in the owner's mm (the worker, or the owner draining a stopped
 * vring), holds @vq->mutex.
 */
void vhu_vq_complete(struct vhu_vq *vq)
{
	struct llist_node *list;
	struct vhu_req *req, *tmp;
	u16 batch_head = 0, used_start = vq->used_idx;
	int n = 0;

	lockdep_assert_held(&vq->mutex);

	list = llist_reverse_order(llist_del_all(&vq->done));
	/* The worker's own completions first: they came first. */
	if (vq->local) {
		struct llist_node *local = llist_reverse_order(vq->local), *tail;

		vq->local = NULL;
		for (tail = local; tail->next; tail = tail->next)
			;
		tail->next = list;
		list = local;
	}
	if (!list)
		return;

	llist_for_each_entry(req, list, node) {
		/* As many as the ring holds: let others run now and then. */
		if (!(++n % VHU_RESCHED_EVERY))
			cond_resched();

		vhu_vq_account(vq, req);
		if (req->status_page)
			memcpy_to_page(req->status_page, req->status_off,
				       &req->status, 1);
		else if (req->status_uaddr &&
			 put_user(req->status, req->status_uaddr))
			vhu_vq_error(vq, "status byte not writable");
	}
	if (vhu_vq_put_used(vq, list))
		vhu_vq_error(vq, "used ring not writable");
	vq->used_idx += n;
	if (vhu_inflight_link(vq, list, &batch_head) ||
	    vhu_inflight_publish(vq, batch_head))
		vhu_vq_error(vq, "inflight area not writable");
	if (unlikely(vq->log.all) && vhu_log_complete(vq, list, used_start))
		vhu_vq_error(vq, "dirty log not writable");

	/* Used elements before the index that publishes them. */
	smp_wmb();
	if (put_user(cpu_to_vhu16(vq->used_idx), &vq->used->idx)) {
		vhu_vq_error(vq, "used index not writable");
	} else {
		if (unlikely(vq->log.all) &&
		    vhu_log_used(vq, offsetof(struct vring_used, idx),
				 sizeof(__virtio16)))
			vhu_vq_error(vq, "dirty log not writable");
		vhu_vq_call(vq);
	}

	/* Then the batch is no longer in flight (vhost-user's order). */
	if (vhu_inflight_put(vq, list))
		vhu_vq_error(vq, "inflight area not writable");
	llist_for_each_entry_safe(req, tmp, list, node)
		vhu_req_put(req);
	if (vhu_inflight_used(vq))
		vhu_vq_error(vq, "inflight area not writable");

	if (atomic_sub_and_test(n, &vq->inflight))
		wake_up_all(&vq->inflight_wq);
}

/**
 * vhu_vq_drop() - release completed requests without using them
 * @vq: the vring, whose worker was killed with the owner
 *
 * Nothing of the guest's memory is touched: the owner's mm may be gone.
 * The heads stay in the inflight area, for a new backend to resubmit.
 *
 * Context: process context, holds @vq->mutex.
 */
void vhu_vq_drop(struct vhu_vq *vq)
{
	struct llist_node *list;
	struct vhu_req *req, *tmp;
	int n = 0;

	lockdep_assert_held(&vq->mutex);

	list = llist_del_all(&vq->done);
	llist_for_each_entry_safe(req, tmp, list, node) {
		vhu_req_put(req);
		n++;
	}
	if (n && atomic_sub_and_test(n, &vq->inflight))
		wake_up_all(&vq->inflight_wq);
}

/* ---- descriptor chains ---- */

/**
 * struct vhu_chain - a descriptor chain being parsed
 * @pinned: the table's pages are pinned (VHU_MEM_F_PIN): the pieces are
 *	bio_vecs in vhu_vq.bvscratch, not iovecs in vhu_vq.scratch
 * @nout: device-readable iovecs in vhu_vq.scratch (bio_vecs if @pinned)
 * @nin: device-writable iovecs after them
 * @ndesc: descriptors read, an indirect table's included
 * @bad: a buffer outside the memory table or in the wrong order, or more
 *	than VHU_REQ_MAX_IOV pieces: fail the request with IOERR
 * @status_gpa: guest address of the last device-writable byte
 * @have_status: @status_gpa is valid
 * @out_len: total device-readable bytes
 * @in_len: total device-writable bytes
 */
struct vhu_chain {
	bool pinned;
	u32 nout;
	u32 nin;
	u32 ndesc;
	bool bad;
	bool have_status;
	u64 status_gpa;
	u64 out_len;
	u64 in_len;
};

/* Add one descriptor's buffer to the chain. Inline: once per descriptor. */
static __always_inline void vhu_chain_add(struct vhu_vq *vq,
					  struct vhu_mem_table *t,
					  struct vhu_chain *c,
					  const struct vring_desc *d)
{
	u16 flags = vhu16_to_cpu(d->flags);
	u32 len = vhu32_to_cpu(d->len);
	u64 addr = vhu64_to_cpu(d->addr);
	u32 used = c->nout + c->nin;
	int n;

	if (!len)
		return;
	if (flags & VRING_DESC_F_WRITE) {
		c->in_len += len;
		c->status_gpa = addr + len - 1;
		c->have_status = true;
	} else {
		c->out_len += len;
		/* Device-readable after device-writable: not a valid layout. */
		if (c->nin || c->have_status)
			c->bad = true;
	}
	if (c->bad)
		return;
	if (c->pinned) {
		/* Too long already: fail it without walking its pages. */
		if (c->out_len > VHU_REQ_MAX_BYTES + 4096 ||
		    c->in_len > VHU_REQ_MAX_BYTES + 4096) {
			c->bad = true;
			return;
		}
		n = vhu_mem_translate_bvec(t, &vq->mem_hint, addr, len,
					   vq->bvscratch + used,
					   VHU_REQ_MAX_BVEC - used);
	} else {
		n = t ? vhu_mem_translate(t, addr, len, vq->scratch + used,
					  VHU_REQ_MAX_IOV - used) : -EFAULT;
	}
	if (n < 0) {
		c->bad = true;
		return;
	}
	if (flags & VRING_DESC_F_WRITE)
		c->nin += n;
	else
		c->nout += n;
}

/*
 * Read descriptor @i of @table for chain @c: one user access section of
 * two 8-byte loads, not a copy_from_user() call per descriptor. (The ring
 * is 16-byte aligned, VHU_SET_VRING_ADDR checks; an indirect table need
 * not be, which costs an unaligned load at most.)
 */
static __always_inline int vhu_read_desc(struct vhu_chain *c,
					 struct vring_desc __user *table,
					 u32 i, struct vring_desc *d)
{
	const struct vring_desc __user *p = table + i;
	u64 w[2];

	BUILD_BUG_ON(sizeof(*d) != sizeof(w));
	/* A chain may be as long as the ring: let others run now and then. */
	if (!(++c->ndesc % VHU_RESCHED_EVERY))
		cond_resched();
	if (!user_access_begin(p, sizeof(*p)))
		return -EFAULT;
	unsafe_get_user(w[0], (const u64 __user *)p, end_access);
	unsafe_get_user(w[1], (const u64 __user *)p + 1, end_access);
	user_access_end();
	memcpy(d, w, sizeof(*d));
	return 0;

end_access:
	user_access_end();
	return -EFAULT;
}

/* Walk an indirect table. Return: 0, or a ring error message in @why. */
static int vhu_chain_indirect(struct vhu_vq *vq, struct vhu_mem_table *t,
			      struct vhu_chain *c, const struct vring_desc *ind,
			      const char **why)
{
	u32 len = vhu32_to_cpu(ind->len);
	struct vring_desc __user *table;
	struct vring_desc d;
	struct iovec iov;
	u32 count, i = 0, n = 0;

	if (!vq->indirect) {
		*why = "indirect descriptor not negotiated";
		return -EINVAL;
	}
	if (!len || len % sizeof(d)) {
		*why = "bad indirect table length";
		return -EINVAL;
	}
	if (len / sizeof(d) > VHU_MAX_INDIRECT) {
		*why = "indirect table longer than 65536 descriptors";
		return -EINVAL;
	}
	count = len / sizeof(d);
	if (!t || vhu_mem_translate(t, vhu64_to_cpu(ind->addr), len, &iov, 1) != 1) {
		*why = "indirect table outside guest memory";
		return -EFAULT;
	}
	table = iov.iov_base;

	for (;;) {
		u16 flags;

		if (++n > count) {
			*why = "indirect descriptor loop";
			return -ELOOP;
		}
		if (vhu_read_desc(c, table, i, &d)) {
			*why = "indirect table not readable";
			return -EFAULT;
		}
		flags = vhu16_to_cpu(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			*why = "nested indirect descriptor";
			return -EINVAL;
		}
		vhu_chain_add(vq, t, c, &d);
		if (!(flags & VRING_DESC_F_NEXT))
			return 0;
		i = vhu16_to_cpu(d.next);
		if (i >= count) {
			*why = "indirect next out of range";
			return -EINVAL;
		}
	}
}

/*
 * Walk the chain at @head. Return: 0, or a ring error message in @why.
 *
 * The chain is parsed into a local copy, stored into @c once at the end:
 * its fields then live in registers across the descriptors rather than
 * being stored back after each one. Only an indirect table, walked once
 * per chain, works on @c itself.
 */
static int vhu_chain_walk(struct vhu_vq *vq, struct vhu_mem_table *t,
			  u16 head, struct vhu_chain *c, const char **why)
{
	struct vhu_chain lc = { .pinned = t && t->pins && vq->bvscratch };
	struct vring_desc d __uninitialized;	/* read before any use */
	u32 i = head, n = 0;
	int ret = 0;

	for (;;) {
		u16 flags;

		if (++n > vq->num) {
			*why = "descriptor loop";
			ret = -ELOOP;
			break;
		}
		if (vhu_read_desc(&lc, vq->desc, i, &d)) {
			*why = "descriptor table not readable";
			ret = -EFAULT;
			break;
		}
		flags = vhu16_to_cpu(d.flags);
		if (flags & VRING_DESC_F_INDIRECT) {
			if (flags & VRING_DESC_F_NEXT || n > 1) {
				*why = "indirect descriptor inside a chain";
				ret = -EINVAL;
				break;
			}
			*c = lc;
			return vhu_chain_indirect(vq, t, c, &d, why);
		}
		vhu_chain_add(vq, t, &lc, &d);
		if (!(flags & VRING_DESC_F_NEXT))
			break;
		i = vhu16_to_cpu(d.next);
		if (i >= vq->num) {
			*why = "next out of range";
			ret = -EINVAL;
			break;
		}
	}
	*c = lc;
	return ret;
}

/*
 * The status byte of a chain that is not a whole pinned request: the last
 * device-writable byte, translated alone. Out of line: only for a bad
 * chain or a table that is not pinned.
 */
static noinline void vhu_vq_status_addr(struct vhu_vq *vq,
					struct vhu_mem_table *t,
					struct vhu_req *req,
					const struct vhu_chain *c)
{
	struct bio_vec sbv;
	struct iovec st;

	if (!c->have_status)
		return;
	if (c->pinned &&
	    vhu_mem_translate_bvec(t, &vq->mem_hint, c->status_gpa, 1,
				   &sbv, 1) == 1) {
		req->status_page = sbv.bv_page;
		req->status_off = sbv.bv_offset;
	} else if (t && vhu_mem_translate(t, c->status_gpa, 1, &st, 1) == 1) {
		req->status_uaddr = st.iov_base;
	}
}

/*
 * Hand the request for a parsed chain to the block layer. Its iovecs stay
 * in vq->scratch: they are only needed until vhu_blk_submit() returns.
 */
static void vhu_vq_start_req(struct vhu_vq *vq, struct vhu_mem_table *t,
			     u16 head, struct vhu_chain *c)
{
	struct iovec *iov = vq->scratch;
	u32 niov = c->nout + c->nin;
	/* Set whole by iov_iter_bvec() or iov_iter_init() before any use. */
	struct iov_iter out __uninitialized, in __uninitialized;
	struct vhu_req *req;
	bool status;

	req = vhu_req_get(vq, head, t);

	/*
	 * The status byte: the last device-writable byte of the chain, so
	 * the last byte of its last piece once the whole chain translated.
	 */
	if (c->have_status && c->pinned && !c->bad && c->nin) {
		const struct bio_vec *last = &vq->bvscratch[niov - 1];

		req->status_page = last->bv_page;
		req->status_off = last->bv_offset + last->bv_len - 1;
	} else {
		vhu_vq_status_addr(vq, t, req, c);
	}
	status = req->status_uaddr || req->status_page;

	atomic_inc(&vq->inflight);

	if (c->bad || !status || c->out_len > VHU_REQ_MAX_BYTES + 4096 ||
	    c->in_len > VHU_REQ_MAX_BYTES + 4096 ||
	    (c->pinned && vhu_req_set_bvec(req, vq->bvscratch, niov))) {
		req->written = status ? 1 : 0;
		vhu_req_complete(req);
		return;
	}

	if (c->pinned) {
		/* Drop the status byte from the writable pieces. */
		if (c->nin && !--req->bvec[niov - 1].bv_len)
			c->nin--;
		iov_iter_bvec(&out, ITER_SOURCE, req->bvec, c->nout, c->out_len);
		iov_iter_bvec(&in, ITER_DEST, req->bvec + c->nout, c->nin,
			      c->in_len - 1);
		vhu_blk_submit(req, &out, &in);
		return;
	}

	/* Drop the status byte from the writable buffers. */
	if (c->nin) {
		struct iovec *last = &iov[niov - 1];

		last->iov_len--;
		if (!last->iov_len)
			c->nin--;
	}
	iov_iter_init(&out, ITER_SOURCE, iov, c->nout, c->out_len);
	iov_iter_init(&in, ITER_DEST, iov + c->nout, c->nin, c->in_len - 1);
	vhu_blk_submit(req, &out, &in);
}

/**
 * struct vhu_weight - what a pass took so far
 * @reqs: requests
 * @descs: descriptors read for them
 * @bytes: bytes of their buffers
 */
struct vhu_weight {
	u32 reqs;
	u32 descs;
	u64 bytes;
};

/* Whether the pass took its share: see VHU_VQ_REQ_WEIGHT. */
static bool vhu_vq_exceeds_weight(const struct vhu_weight *w)
{
	return w->reqs >= VHU_VQ_REQ_WEIGHT || w->descs >= VHU_VQ_DESC_WEIGHT ||
	       w->bytes >= VHU_VQ_BYTE_WEIGHT;
}

/*
 * Check, record and start the request at @head, and count it in @w.
 * Return: 0, or -errno after a ring error.
 */
static int vhu_vq_take(struct vhu_vq *vq, struct vhu_mem_table *t, u16 head,
		       struct vhu_weight *w)
{
	/* Set whole by vhu_chain_walk(). */
	struct vhu_chain c __uninitialized;
	const char *why;

	if (test_bit(head, vq->busy)) {
		vhu_vq_error(vq, "head already in flight");
		return -EINVAL;
	}
	if (vhu_chain_walk(vq, t, head, &c, &why)) {
		vhu_vq_error(vq, why);
		return -EINVAL;
	}
	w->reqs++;
	w->descs += c.ndesc;
	w->bytes += c.out_len + c.in_len;
	if (vhu_inflight_take(vq, head)) {
		vhu_vq_error(vq, "inflight area not writable");
		return -EFAULT;
	}
	vhu_vq_start_req(vq, t, head, &c);
	return 0;
}

/*
 * Resubmit the requests the inflight area had in flight when the vring was
 * enabled, within the pass's weight @w. Return: true once all are
 * resubmitted.
 */
static bool vhu_vq_resubmit(struct vhu_vq *vq, struct vhu_mem_table *t,
			    struct vhu_weight *w)
{
	lockdep_assert_held(&vq->mutex);

	while (vq->resubmit_pos < vq->nr_resubmit) {
		if (vq->broken || vhu_vq_exceeds_weight(w))
			return false;
		if (vhu_vq_take(vq, t, vq->resubmit[vq->resubmit_pos], w))
			return false;
		vq->resubmit_pos++;
	}
	vhu_inflight_drop_resubmit(vq);
	return true;
}

/* Avail ring entries read at once: one user access section for them. */
#define VHU_VQ_HEADS_READ	16

/*
 * Read the avail ring entries from vq->last_avail_idx on, up to the
 * published vq->avail_idx, the end of the ring or VHU_VQ_HEADS_READ.
 * They are only used in order, each one checked as it is taken; those
 * left when the pass ends are read again by the next.
 * Return: the number read, 0 if the ring is not readable.
 */
static unsigned int vhu_vq_read_heads(struct vhu_vq *vq, __virtio16 *heads)
{
	u16 pos = vq->last_avail_idx & (vq->num - 1);
	const __virtio16 __user *p = &vq->avail->ring[pos];
	unsigned int n, i;

	n = min3((u32)(u16)(vq->avail_idx - vq->last_avail_idx),
		 vq->num - pos, (u32)VHU_VQ_HEADS_READ);
	if (!user_access_begin(p, n * sizeof(*p)))
		return 0;
	for (i = 0; i < n; i++)
		unsafe_get_user(heads[i], p + i, end_access);
	user_access_end();
	return n;

end_access:
	user_access_end();
	return 0;
}

/* Take requests for one pass. Return: true if more may be there. */
static bool vhu_vq_handle_avail(struct vhu_vq *vq)
{
	struct vhu_mem_table *t = vhu_mem_get(vq->dev);
	/* Entries hpos to nheads are read from the ring, not yet taken. */
	__virtio16 heads[VHU_VQ_HEADS_READ] __uninitialized;
	unsigned int nheads = 0, hpos = 0;
	struct vhu_weight w = {};
	struct blk_plug plug;
	bool more = false;

	lockdep_assert_held(&vq->mutex);

	/* What completes in this task from now on goes on vq->local. */
	WRITE_ONCE(vq->submitter, current);
	/*
	 * The pass's bios go down as one batch (the block layer's own
	 * per-bio plug of a bio-based disk is then a no-op); sleeping
	 * flushes it too.
	 */
	blk_start_plug(&plug);

	vhu_vq_notify(vq, false);
	if (vq->nr_resubmit && !vhu_vq_resubmit(vq, t, &w)) {
		/* Weight reached: go on in the next pass. */
		more = !vq->broken;
		goto put_mem;
	}
	while (!vq->broken) {
		__virtio16 v;
		u16 head;

		if (vq->last_avail_idx == vq->avail_idx) {
			if (get_user(v, &vq->avail->idx)) {
				vhu_vq_error(vq, "avail index not readable");
				break;
			}
			vq->avail_idx = vhu16_to_cpu(v);
			if ((u16)(vq->avail_idx - vq->last_avail_idx) > vq->num) {
				vhu_vq_error(vq, "avail index beyond the ring");
				break;
			}
			if (vq->last_avail_idx == vq->avail_idx) {
				/* Empty: ask for a kick, then look again. */
				if (vhu_vq_notify(vq, true)) {
					vhu_vq_error(vq, "used ring not writable");
					break;
				}
				/* Publish the request before re-reading avail->idx. */
				smp_mb();
				if (get_user(v, &vq->avail->idx)) {
					vhu_vq_error(vq, "avail index not readable");
					break;
				}
				if (vhu16_to_cpu(v) == vq->avail_idx)
					break;
				vhu_vq_notify(vq, false);
				continue;
			}
		}
		if (vhu_vq_exceeds_weight(&w)) {
			more = true;
			break;
		}
		if (hpos == nheads) {
			/* Entries before the index that published them. */
			smp_rmb();
			nheads = vhu_vq_read_heads(vq, heads);
			hpos = 0;
			if (!nheads) {
				vhu_vq_error(vq, "avail ring not readable");
				break;
			}
		}
		head = vhu16_to_cpu(heads[hpos++]);
		if (head >= vq->num) {
			vhu_vq_error(vq, "head out of range");
			break;
		}
		/* It indexes the requests and the busy bitmap. */
		head = array_index_nospec(head, vq->num);
		if (vhu_vq_take(vq, t, head, &w))
			break;
		vq->last_avail_idx++;
	}
put_mem:
	blk_finish_plug(&plug);
	WRITE_ONCE(vq->submitter, NULL);
	vhu_mem_put(t);
	return more;
}

/**
 * vhu_vq_process() - one pass of the worker over its vring
 * @vq: the vring
 *
 * Completes finished requests, then takes new ones if the vring was kicked,
 * then completes those that finished meanwhile (vq->local among them).
 *
 * Context: the vring's worker, with the owner's mm adopted.
 * Return: true if the pass took or used a request (worth a busy poll).
 */
bool vhu_vq_process(struct vhu_vq *vq)
{
	u16 used, avail;
	bool moved;

	mutex_lock(&vq->mutex);
	used = vq->used_idx;
	avail = vq->last_avail_idx;
	vhu_vq_complete(vq);
	if (test_and_clear_bit(0, &vq->kicked) && vq->enabled && !vq->broken &&
	    vhu_vq_handle_avail(vq))
		set_bit(0, &vq->kicked);
	/* Requests that completed during submission. */
	vhu_vq_complete(vq);
	moved = vq->used_idx != used || vq->last_avail_idx != avail;
	mutex_unlock(&vq->mutex);
	return moved;
}
