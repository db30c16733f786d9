// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: the life of one request.
 *
 * A vring's requests are allocated with the ring, one per descriptor
 * head, by VHU_SET_VRING_NUM in the owner's task, so they are charged to
 * the owner's memory cgroup and the datapath allocates nothing per request
 * (only the segments of a discard or write-zeroes request beyond the
 * first, charged to the owner too). The vring's worker takes the request
 * of each head it takes from the avail ring. Whoever finishes the request,
 * in any context, completes it: that only queues it on the vring's done
 * list and wakes the worker. The worker writes its status and used element
 * and puts it back.
 */

#include <linux/memcontrol.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

#include "vhu.h"

/**
 * vhu_req_array_alloc() - the requests of a ring
 * @vq: the vring
 * @num: the ring size
 *
 * Context: process context, in the owner's task (an ioctl), which the
 * memory is charged to.
 * Return: @num requests, one per head, or NULL if out of memory.
 */
struct vhu_req *vhu_req_array_alloc(struct vhu_vq *vq, u32 num)
{
	struct vhu_req *reqs;
	u32 i;

	reqs = kvcalloc(num, sizeof(*reqs), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!reqs)
		return NULL;
	for (i = 0; i < num; i++) {
		reqs[i].vq = vq;
		reqs[i].head = i;
	}
	return reqs;
}

/**
 * vhu_req_array_free() - free the requests of a ring
 * @reqs: the requests, none in flight, may be NULL
 *
 * Context: process context.
 */
void vhu_req_array_free(struct vhu_req *reqs)
{
	kvfree(reqs);
}

/**
 * vhu_req_get() - the request of a chain taken from the avail ring
 * @vq: the vring
 * @head: the chain's head, below @vq->num and not in flight
 * @mem: the memory table its buffers were translated with, may be NULL;
 *	the request takes a reference
 *
 * Marks @head in flight. The request fails with VIRTIO_BLK_S_IOERR unless
 * its execution says otherwise.
 *
 * Context: the vring's worker, holds @vq->mutex.
 * Return: the request.
 */
struct vhu_req *vhu_req_get(struct vhu_vq *vq, u16 head,
			    struct vhu_mem_table *mem)
{
	struct vhu_req *req = &vq->reqs[head];

	lockdep_assert_held(&vq->mutex);

	req->be = vq->dev->be;
	req->status_uaddr = NULL;
	req->status_page = NULL;
	req->result = 0;
	req->len = 0;
	req->type = VHU_REQ_TYPE_NONE;
	req->written = 0;
	req->status = VIRTIO_BLK_S_IOERR;
	req->nr_segs = 0;
	/* @bvec and @segs are NULL already: vhu_req_put() leaves them so. */
	if (mem)
		refcount_inc(&mem->refs);
	req->mem = mem;
	__set_bit(head, vq->busy);
	return req;
}

/*
 * An array for a request, charged to the memory cgroup of the owner's mm
 * (a kernel thread charges nobody by itself). Context: in the owner's mm.
 */
static void *vhu_req_owner_alloc(size_t n, size_t size)
{
	struct mem_cgroup *memcg, *old;
	void *p;

	memcg = get_mem_cgroup_from_mm(current->mm);
	old = set_active_memcg(memcg);
	p = kvmalloc_array(n, size, GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	set_active_memcg(old);
	mem_cgroup_put(memcg);
	return p;
}

/**
 * vhu_req_alloc_segs() - room for the segments of a discard or write zeroes
 * @req: the request
 * @n: the number of segments, at most VHU_MAX_DISCARD_SEG
 *
 * The request's own room unless @n exceeds it; else an array charged to
 * the memory cgroup of the owner's mm (a kernel thread charges nobody by
 * itself), freed with the request.
 *
 * Context: the vring's worker, in the owner's mm.
 * Return: 0, or -ENOMEM.
 */
int vhu_req_alloc_segs(struct vhu_req *req, u32 n)
{
	if (n <= ARRAY_SIZE(req->seg)) {
		req->segs = req->seg;
		return 0;
	}
	req->segs = vhu_req_owner_alloc(n, sizeof(*req->segs));
	return req->segs ? 0 : -ENOMEM;
}

/**
 * vhu_req_set_bvec() - keep the pinned pages of a request's buffers
 * @req: the request
 * @bv: the chain's bio_vecs (vhu_vq.bvscratch)
 * @n: entries in @bv, at most VHU_REQ_MAX_BVEC
 *
 * An asynchronous direct I/O reads its bio_vec array until it completes,
 * so the request keeps a copy: in its own room for a small I/O, else in
 * an array charged to the owner's memory cgroup, freed with the request.
 *
 * Context: the vring's worker, in the owner's mm.
 * Return: 0, or -ENOMEM.
 */
int vhu_req_set_bvec(struct vhu_req *req, const struct bio_vec *bv, u32 n)
{
	u32 i;

	if (n <= ARRAY_SIZE(req->bv)) {
		/* A few entries: no memcpy() call for them. */
		req->bvec = req->bv;
		for (i = 0; i < n; i++)
			req->bv[i] = bv[i];
		return 0;
	}
	req->bvec = vhu_req_owner_alloc(n, sizeof(*bv));
	if (!req->bvec)
		return -ENOMEM;
	memcpy(req->bvec, bv, n * sizeof(*bv));
	return 0;
}

/**
 * vhu_req_complete() - hand a finished request back to its worker
 * @req: the request, with status, written and result set
 *
 * Context: any context (the block layer may complete in interrupt context).
 */
void vhu_req_complete(struct vhu_req *req)
{
	struct vhu_vq *vq = req->vq;

	/*
	 * Completed by the worker itself while it takes requests: it uses
	 * it at the end of the pass, nobody needs waking. Not from an
	 * interrupt that came while the worker ran (in_task()).
	 */
	if (in_task() && READ_ONCE(vq->submitter) == current) {
		req->node.next = vq->local;
		vq->local = &req->node;
		return;
	}
	/* The device is freed only after a grace period. */
	rcu_read_lock();
	llist_add(&req->node, &vq->done);
	vhu_worker_wake(vq);
	rcu_read_unlock();
}

/**
 * vhu_req_put() - release a request whose used element is written
 * @req: the request
 *
 * Its head is no longer in flight.
 *
 * Context: the vring's worker, holds the vring's mutex.
 */
void vhu_req_put(struct vhu_req *req)
{
	struct vhu_vq *vq = req->vq;

	lockdep_assert_held(&vq->mutex);

	clear_bit(req->head, vq->busy);
	vhu_mem_put(req->mem);
	req->mem = NULL;
	/* Only the rare big request has arrays of its own. */
	if (unlikely(req->segs && req->segs != req->seg))
		kvfree(req->segs);
	req->segs = NULL;
	if (unlikely(req->bvec && req->bvec != req->bv))
		kvfree(req->bvec);
	req->bvec = NULL;
}
