// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: one worker thread per vring.
 *
 * The worker adopts the owner's mm, so guest buffers (addresses in the
 * owner's address space) are reached with the ordinary user-copy and
 * iov_iter primitives, with all their checks. It is woken by the kick
 * eventfd's wait-queue callback and by request completions.
 */

#include <linux/kthread.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>

#include "vhu.h"

static bool vhu_worker_has_work(struct vhu_vq *vq)
{
	return test_bit(0, &vq->kicked) || !llist_empty(&vq->done);
}

static int vhu_worker_fn(void *data)
{
	struct vhu_vq *vq = data;

	kthread_use_mm(vq->dev->mm);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		if (!vhu_worker_has_work(vq)) {
			schedule();
			continue;
		}
		__set_current_state(TASK_RUNNING);
		vhu_vq_process(vq);
		cond_resched();
	}
	kthread_unuse_mm(vq->dev->mm);
	return 0;
}

/**
 * vhu_worker_start() - create the vring's worker if it has none
 * @vq: the vring
 *
 * Context: process context, holds @vq->mutex; the device has an owner.
 * Return: 0 or a negative errno.
 */
int vhu_worker_start(struct vhu_vq *vq)
{
	struct task_struct *task;

	lockdep_assert_held(&vq->mutex);

	if (vq->worker)
		return 0;
	task = kthread_create(vhu_worker_fn, vq, "vhu-%u-%u", vq->dev->id,
			      vq->index);
	if (IS_ERR(task))
		return PTR_ERR(task);
	/* Completions may wake it after it exited: keep the task_struct. */
	get_task_struct(task);
	vq->worker = task;
	wake_up_process(task);
	return 0;
}

/**
 * vhu_worker_stop() - stop the vring's worker
 * @vq: the vring, stopped, with nothing in flight
 *
 * Context: process context.
 */
void vhu_worker_stop(struct vhu_vq *vq)
{
	struct task_struct *task = vq->worker;

	if (!task)
		return;
	kthread_stop(task);
	WRITE_ONCE(vq->worker, NULL);
	/* Wakers run under RCU: let them finish before dropping the task. */
	synchronize_rcu();
	put_task_struct(task);
}

/**
 * vhu_worker_wake() - make the worker look at its vring
 * @vq: the vring
 *
 * Context: any context.
 */
void vhu_worker_wake(struct vhu_vq *vq)
{
	struct task_struct *task;

	rcu_read_lock();
	task = READ_ONCE(vq->worker);
	if (task)
		wake_up_process(task);
	rcu_read_unlock();
}
