// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: inflight I/O tracking in the vhost-user inflight area.
 *
 * The frontend shares an area with the backend that outlives the
 * backend process; the daemon maps it and attaches each vring's part here
 * (VHU_SET_VRING_INFLIGHT). The worker records in it, in the split-ring
 * layout of the vhost-user specification, which heads it took from the
 * avail ring and in which order, and clears them once their used elements
 * are published. A later backend, kernel or userspace, learns from it
 * which requests a previous one took and never completed, and where the
 * avail ring really resumes.
 *
 * The area is not guest memory: the guest can neither read nor write it.
 * It is written by the frontend, previous backends and us, all trusted to
 * be well-meaning but not to be bug free, so everything read back from it
 * is range-checked before use. It is only accessed through the owner's mm.
 */

#include <linux/build_bug.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>

#include "vhu.h"

/* The area is the vhost-user specification's, in host byte order. */
static_assert(sizeof(struct vhu_inflight_desc) == 16);
static_assert(sizeof(struct vhu_inflight_queue) == 16);

/**
 * vhu_inflight_drop_resubmit() - forget the heads left to resubmit
 * @vq: the vring
 *
 * Context: holds @vq->mutex.
 */
void vhu_inflight_drop_resubmit(struct vhu_vq *vq)
{
	lockdep_assert_held(&vq->mutex);

	kvfree(vq->resubmit);
	vq->resubmit = NULL;
	vq->nr_resubmit = 0;
	vq->resubmit_pos = 0;
}

/**
 * vhu_inflight_reset() - detach the area and forget what it said
 * @vq: the vring
 *
 * Context: holds @vq->mutex.
 */
void vhu_inflight_reset(struct vhu_vq *vq)
{
	lockdep_assert_held(&vq->mutex);

	vq->ifl = NULL;
	vq->ifl_size = 0;
	vq->ifl_counter = 0;
	vhu_inflight_drop_resubmit(vq);
}

/**
 * vhu_inflight_set() - attach (or detach) the area, for VHU_SET_VRING_INFLIGHT
 * @vq: the vring
 * @f: the ioctl's argument
 *
 * Context: process context, in the owner's mm; takes @vq->mutex.
 * Return: 0 or a negative errno.
 */
long vhu_inflight_set(struct vhu_vq *vq, const struct vhu_vring_inflight *f)
{
	void __user *p = u64_to_user_ptr(f->user_addr);
	long ret = 0;

	if (f->padding)
		return -EINVAL;
	mutex_lock(&vq->mutex);
	if (vq->enabled) {
		ret = -EBUSY;
	} else if (f->user_addr && (!vq->num || f->user_addr % 8 ||
				    f->size < VHU_INFLIGHT_QUEUE_SIZE(vq->num) ||
				    !access_ok(p, f->size))) {
		ret = -EINVAL;
	} else {
		vhu_inflight_reset(vq);
		vq->ifl = p;
		vq->ifl_size = f->user_addr ? f->size : 0;
	}
	mutex_unlock(&vq->mutex);
	return ret;
}

struct vhu_resubmit {
	u64 counter;
	u16 head;
};

static int vhu_resubmit_cmp(const void *a, const void *b)
{
	const struct vhu_resubmit *x = a, *y = b;

	if (x->counter != y->counter)
		return x->counter < y->counter ? -1 : 1;
	return 0;
}

/*
 * A new area, one of another version or for another ring size: nothing is
 * in flight.
 */
static int vhu_inflight_init(struct vhu_vq *vq, struct vhu_inflight_queue *h)
{
	struct vhu_inflight_queue __user *a = vq->ifl;

	if (clear_user(a->desc, vq->num * sizeof(a->desc[0])))
		return -EFAULT;
	h->features = 0;
	h->version = VHU_INFLIGHT_VERSION;
	h->desc_num = vq->num;
	h->last_batch_head = 0;
	h->used_idx = vq->used_idx;
	return copy_to_user(a, h, sizeof(*h)) ? -EFAULT : 0;
}

/*
 * The last batch was published in the used ring but not cleared here:
 * clear it, walking the list of heads it was linked in.
 */
static int vhu_inflight_fix_batch(struct vhu_vq *vq,
				  const struct vhu_inflight_queue *h)
{
	struct vhu_inflight_queue __user *a = vq->ifl;
	u16 batch = vq->used_idx - h->used_idx;
	u16 head = h->last_batch_head;
	u32 i;

	if (batch > vq->num)
		return -EINVAL;
	for (i = 0; i < batch; i++) {
		if (head >= vq->num)
			return -EINVAL;
		if (put_user(0, &a->desc[head].inflight) ||
		    get_user(head, &a->desc[head].next))
			return -EFAULT;
	}
	return put_user(vq->used_idx, &a->used_idx) ? -EFAULT : 0;
}

/* List the heads still in flight, oldest first, into vq->resubmit. */
static int vhu_inflight_collect(struct vhu_vq *vq)
{
	struct vhu_inflight_queue __user *a = vq->ifl;
	struct vhu_resubmit *list;
	u32 i, n = 0;
	int ret = 0;

	list = kvmalloc_array(vq->num, sizeof(*list),
			      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!list)
		return -ENOMEM;
	for (i = 0; i < vq->num; i++) {
		struct vhu_inflight_desc d;

		if (copy_from_user(&d, &a->desc[i], sizeof(d))) {
			ret = -EFAULT;
			goto free_list;
		}
		vq->ifl_counter = max(vq->ifl_counter, d.counter);
		if (d.inflight == 1) {
			list[n].counter = d.counter;
			list[n].head = i;
			n++;
		}
		if (!(i % 1024))
			cond_resched();
	}
	if (n) {
		sort(list, n, sizeof(*list), vhu_resubmit_cmp, NULL);
		vq->resubmit = kvmalloc_array(n, sizeof(*vq->resubmit),
					      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!vq->resubmit) {
			ret = -ENOMEM;
			goto free_list;
		}
		for (i = 0; i < n; i++)
			vq->resubmit[i] = list[i].head;
		vq->nr_resubmit = n;
	}
	/* Every head taken is either used or in flight. */
	vq->last_avail_idx = vq->used_idx + n;
free_list:
	kvfree(list);
	return ret;
}

/**
 * vhu_inflight_recover() - read the area when the vring is enabled
 * @vq: the vring, with used_idx read from the used ring
 *
 * Initializes a new area, or recovers one a previous backend left: clears
 * its last batch if that was published, lists the heads still in flight
 * for resubmission and sets last_avail_idx after them.
 *
 * Context: process context, in the owner's mm, holds @vq->mutex.
 * Return: 0 (also without an area), -EFAULT if the area is not accessible,
 * -EINVAL if it is too small for the ring or inconsistent, -ENOMEM.
 */
int vhu_inflight_recover(struct vhu_vq *vq)
{
	struct vhu_inflight_queue h;
	int ret;

	lockdep_assert_held(&vq->mutex);

	vhu_inflight_drop_resubmit(vq);
	vq->ifl_counter = 0;
	if (!vq->ifl)
		return 0;
	if (vq->ifl_size < VHU_INFLIGHT_QUEUE_SIZE(vq->num))
		return -EINVAL;
	if (copy_from_user(&h, vq->ifl, sizeof(h)))
		return -EFAULT;
	if (h.version != VHU_INFLIGHT_VERSION || h.desc_num != vq->num)
		return vhu_inflight_init(vq, &h);
	if (h.used_idx != vq->used_idx) {
		ret = vhu_inflight_fix_batch(vq, &h);
		if (ret)
			return ret;
	}
	return vhu_inflight_collect(vq);
}

/**
 * vhu_inflight_take() - record a head taken from the avail ring
 * @vq: the vring
 * @head: the head, below vq->num
 *
 * Context: the vring's worker, holds @vq->mutex.
 * Return: 0, or -EFAULT if the area is not writable.
 */
int vhu_inflight_take(struct vhu_vq *vq, u16 head)
{
	struct vhu_inflight_desc __user *d;

	lockdep_assert_held(&vq->mutex);

	if (!vq->ifl)
		return 0;
	d = &vq->ifl->desc[head];
	/* Two stores per request: one user access section, in order. */
	if (!user_access_begin(d, sizeof(*d)))
		return -EFAULT;
	unsafe_put_user(++vq->ifl_counter, &d->counter, end_access);
	unsafe_put_user(1, &d->inflight, end_access);
	user_access_end();
	return 0;

end_access:
	user_access_end();
	return -EFAULT;
}

/**
 * vhu_inflight_link() - add a batch of heads to the batch about to be published
 * @vq: the vring
 * @list: the requests whose used elements were written, in order
 * @batch_head: the batch list so far; becomes the last head of @list
 *
 * One user access section for VHU_RESCHED_EVERY heads, not a put_user()
 * call per head.
 *
 * Context: the vring's worker, holds @vq->mutex.
 * Return: 0, or -EFAULT if the area is not writable.
 */
int vhu_inflight_link(struct vhu_vq *vq, struct llist_node *list,
		      u16 *batch_head)
{
	struct vhu_inflight_desc __user *desc;
	struct llist_node *pos = list;
	u16 bh = *batch_head;

	lockdep_assert_held(&vq->mutex);

	if (!vq->ifl)
		return 0;
	desc = vq->ifl->desc;
	while (pos) {
		unsigned int k = 0;

		if (!user_access_begin(desc, (size_t)vq->num * sizeof(*desc)))
			return -EFAULT;
		for (; pos && k < VHU_RESCHED_EVERY; pos = pos->next, k++) {
			u16 head = llist_entry(pos, struct vhu_req, node)->head;

			unsafe_put_user(bh, &desc[head].next, end_access);
			bh = head;
		}
		user_access_end();
		*batch_head = bh;
		if (pos)
			cond_resched();
	}
	return 0;

end_access:
	user_access_end();
	return -EFAULT;
}

/**
 * vhu_inflight_publish() - record the batch, before the used index moves
 * @vq: the vring
 * @batch_head: the last head linked into the batch
 *
 * Context: the vring's worker, holds @vq->mutex.
 * Return: 0, or -EFAULT if the area is not writable.
 */
int vhu_inflight_publish(struct vhu_vq *vq, u16 batch_head)
{
	lockdep_assert_held(&vq->mutex);

	if (!vq->ifl)
		return 0;
	return put_user(batch_head, &vq->ifl->last_batch_head) ? -EFAULT : 0;
}

/**
 * vhu_inflight_put() - a batch's used elements are published: not in flight
 * @vq: the vring
 * @list: the requests of the batch
 *
 * One user access section for VHU_RESCHED_EVERY heads, not a put_user()
 * call per head.
 *
 * Context: the vring's worker, holds @vq->mutex.
 * Return: 0, or -EFAULT if the area is not writable.
 */
int vhu_inflight_put(struct vhu_vq *vq, struct llist_node *list)
{
	struct vhu_inflight_desc __user *desc;
	struct llist_node *pos = list;

	lockdep_assert_held(&vq->mutex);

	if (!vq->ifl)
		return 0;
	desc = vq->ifl->desc;
	while (pos) {
		unsigned int k = 0;

		if (!user_access_begin(desc, (size_t)vq->num * sizeof(*desc)))
			return -EFAULT;
		for (; pos && k < VHU_RESCHED_EVERY; pos = pos->next, k++) {
			u16 head = llist_entry(pos, struct vhu_req, node)->head;

			unsafe_put_user(0, &desc[head].inflight, end_access);
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
 * vhu_inflight_used() - the batch is cleared: record the used index
 * @vq: the vring
 *
 * Context: the vring's worker, holds @vq->mutex.
 * Return: 0, or -EFAULT if the area is not writable.
 */
int vhu_inflight_used(struct vhu_vq *vq)
{
	lockdep_assert_held(&vq->mutex);

	if (!vq->ifl)
		return 0;
	return put_user(vq->used_idx, &vq->ifl->used_idx) ? -EFAULT : 0;
}
