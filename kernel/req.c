// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: the life of one request.
 *
 * The vring's worker allocates a request for each descriptor chain it
 * takes from the avail ring. Whoever finishes the request, in any context,
 * completes it: that only queues it on the vring's done list and wakes the
 * worker. The worker writes its status and used element and frees it.
 */

#include <linux/slab.h>

#include "vhu.h"

/**
 * vhu_req_alloc() - a request for a chain taken from the avail ring
 * @vq: the vring
 * @head: the chain's head, below @vq->num and not in flight
 * @niov: iovecs the chain's buffers need
 * @mem: the memory table they were translated with, may be NULL; the
 *	request takes a reference
 *
 * Marks @head in flight. The request fails with VIRTIO_BLK_S_IOERR unless
 * its execution says otherwise.
 *
 * Context: the vring's worker, holds @vq->mutex.
 * Return: the request, or NULL if out of memory.
 */
struct vhu_req *vhu_req_alloc(struct vhu_vq *vq, u16 head, u32 niov,
			      struct vhu_mem_table *mem)
{
	struct vhu_req *req;

	lockdep_assert_held(&vq->mutex);

	req = kzalloc(struct_size(req, iov, niov), GFP_KERNEL);
	if (!req)
		return NULL;
	req->vq = vq;
	req->head = head;
	req->be = vq->dev->be;
	req->niov = niov;
	req->status = VIRTIO_BLK_S_IOERR;
	req->type = VHU_REQ_TYPE_NONE;
	if (mem)
		refcount_inc(&mem->refs);
	req->mem = mem;
	__set_bit(head, vq->busy);
	return req;
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

	/* The device is freed only after a grace period. */
	rcu_read_lock();
	llist_add(&req->node, &vq->done);
	vhu_worker_wake(vq);
	rcu_read_unlock();
}

/**
 * vhu_req_free() - release a request whose used element is written
 * @req: the request
 *
 * Its head is no longer in flight.
 *
 * Context: the vring's worker, holds the vring's mutex.
 */
void vhu_req_free(struct vhu_req *req)
{
	struct vhu_vq *vq = req->vq;

	lockdep_assert_held(&vq->mutex);

	clear_bit(req->head, vq->busy);
	vhu_mem_put(req->mem);
	kfree(req->segs);
	kfree(req);
}
