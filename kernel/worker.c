// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: the workers, threads of the owner.
 *
 * Each vring has a worker, and each device one more for the requests that
 * block (FLUSH, DISCARD, WRITE_ZEROES), so that a guest's slow flushes
 * hold up nobody but that guest. All are vhost_tasks the owner creates
 * (compat.h): they run in the owner's mm, cgroups and rlimits, so the
 * owner's io.max, cpu.max and memory.max bound what its guests do, and
 * they die with it. Guest buffers (addresses in the owner's address
 * space) are reached with the ordinary user-copy and iov_iter primitives.
 *
 * A vring's worker is woken by the kick eventfd's wait-queue callback and
 * by request completions. With VHU_SET_VRING_BUSY_POLL it first polls the
 * avail ring for a while, with kicks suppressed, after a pass that moved
 * requests (vhu_worker_busy_poll()), for a window that adapts to the gaps
 * between requests (vhu_worker_poll_adapt()). When the owner is killed its workers exit
 * (vhost_task's @handle_sigkill; never with the kernel-thread stand-in):
 * a vring's worker uses the requests in flight as they complete, for
 * VHU_EXIT_WAIT_MS at most, and the release drops those that complete
 * later (vhu_vq_drop()) without touching guest memory, as a backend
 * process that is killed leaves them to the inflight area. The device's
 * worker runs what was queued; later blocking requests run in their
 * vring's worker.
 */

#include <linux/sched.h>
#include <linux/sched/clock.h>
#include <linux/sched/signal.h>
#include <linux/sched/stat.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>

#include "vhu.h"

static bool vhu_worker_has_work(struct vhu_vq *vq)
{
	return test_bit(0, &vq->kicked) || !llist_empty(&vq->done);
}

/*
 * Whether a busy poll must end before its time is up. As KVM's halt
 * polling, it also ends once another task waits for this CPU, even before
 * the scheduler asks: on a CPU it shares with the driver (the frontend
 * woken by our call), polling would only keep the driver from running.
 */
static bool vhu_worker_poll_stop(struct vhu_vq *vq,
				 const struct vhu_mem_table *mem)
{
	return need_resched() || !single_task_running() ||
	       signal_pending(current) ||
	       !READ_ONCE(vq->enabled) || READ_ONCE(vq->broken) ||
	       rcu_access_pointer(vq->dev->mem) != mem;
}

/* The adaptive busy-poll window (VHU_SET_VRING_BUSY_POLL), as KVM's. */
#define VHU_POLL_START_NS	(10 * NSEC_PER_USEC)
#define VHU_POLL_GROW		2
#define VHU_POLL_SHRINK		2

/*
 * The window for the next poll, at most @usec. Each VHU_SET_VRING_BUSY_POLL
 * starts it at the value, the same value again too: what the owner asked
 * for, until the idle times say more.
 */
static u64 vhu_worker_poll_window(struct vhu_vq *vq, u32 usec)
{
	u32 seq = READ_ONCE(vq->busy_poll_seq);
	u64 max = (u64)usec * NSEC_PER_USEC;

	if (vq->poll_seq != seq) {
		vq->poll_seq = seq;
		WRITE_ONCE(vq->poll_ns, max);
	}
	return min(vq->poll_ns, max);
}

/*
 * The vring sat idle @idle_ns after a pass that moved requests, until the
 * next one that moved some: adapt the window to it, as KVM's halt polling
 * adapts to a vCPU's halts. A window that bridged the gap stays; a gap
 * that no window up to the value could bridge halves it (polling would
 * only have burnt the CPU); a gap the value would have bridged doubles it.
 */
static void vhu_worker_poll_adapt(struct vhu_vq *vq, u64 idle_ns, u32 usec)
{
	u64 max = (u64)usec * NSEC_PER_USEC;
	u64 win = vhu_worker_poll_window(vq, usec);

	if (idle_ns <= win)
		return;
	if (idle_ns > max)
		win /= VHU_POLL_SHRINK;
	else
		win = win ? win * VHU_POLL_GROW : VHU_POLL_START_NS;
	if (win < VHU_POLL_START_NS)
		win = 0;
	WRITE_ONCE(vq->poll_ns, min(win, max));
}

/*
 * Busy poll (VHU_SET_VRING_BUSY_POLL): look at the avail index, with kicks
 * suppressed, until the driver publishes a request, a request completes,
 * a kick comes anyway, or the window of @ns ends; then have the next pass
 * take the requests and ask for kicks again before the worker sleeps, so
 * none is lost (the pass looks at the avail ring after asking). Holds no
 * lock while it polls: a stop or a memory table change (the ioctls take
 * @vq->mutex) goes on at once and ends the poll. Each turn of the loop
 * is a few loads; the window bounds them.
 *
 * Context: the vring's worker, TASK_RUNNING, no lock held.
 */
static void vhu_worker_busy_poll(struct vhu_vq *vq, u64 ns)
{
	const struct vhu_mem_table *mem = rcu_access_pointer(vq->dev->mem);
	__virtio16 __user *idxp;
	bool poll, hit = false;
	__virtio16 v;
	u16 idx;
	u64 end;

	mutex_lock(&vq->mutex);
	poll = vhu_vq_poll_begin(vq, &idxp, &idx);
	mutex_unlock(&vq->mutex);
	if (!poll)
		return;

	atomic64_inc(&vq->polls);
	end = local_clock() + ns;
	while (!vhu_worker_poll_stop(vq, mem)) {
		if (vhu_worker_has_work(vq)) {
			hit = true;
			break;
		}
		/* An unreadable index is the next pass's ring error. */
		if (get_user(v, idxp) || vhu16_to_cpu(v) != idx) {
			hit = true;
			break;
		}
		if (local_clock() >= end)
			break;
		cpu_relax();
	}
	if (hit)
		atomic64_inc(&vq->poll_hits);
	/* The next pass takes what came and asks for kicks again. */
	set_bit(0, &vq->kicked);
}

/*
 * One turn of a vring's worker: false to sleep until woken. Called in
 * TASK_INTERRUPTIBLE (vhost_task's loop); a turn that runs sets
 * TASK_RUNNING and returns true, so the loop looks at its stop flag and
 * at signals before the next turn.
 */
static bool vhu_worker_fn(void *data)
{
	struct vhu_vq *vq = data;
	u32 usec;
	u64 ns;

	if (vhu_worker_has_work(vq)) {
		__set_current_state(TASK_RUNNING);
		/*
		 * Poll only after a pass that moved requests: a poll that
		 * found nothing leads to a pass that moves none, so an idle
		 * vring costs one window per wake-up.
		 */
		vq->poll_armed = vhu_vq_process(vq);
		if (vq->poll_armed && vq->idle_since) {
			usec = READ_ONCE(vq->busy_poll_us);
			if (usec)
				vhu_worker_poll_adapt(vq, ktime_get_ns() -
						      vq->idle_since, usec);
			vq->idle_since = 0;
		}
		cond_resched();
		return true;
	}
	usec = READ_ONCE(vq->busy_poll_us);
	if (!vq->poll_armed || !usec)
		return false;
	vq->poll_armed = false;
	/*
	 * Idle from here until a pass moves requests again, maybe on
	 * another CPU: a clock that is monotonic across CPUs.
	 */
	vq->idle_since = ktime_get_ns();
	ns = vhu_worker_poll_window(vq, usec);
	if (!ns)
		return false;
	__set_current_state(TASK_RUNNING);
	vhu_worker_busy_poll(vq, ns);
	return true;
}

/*
 * The owner was killed: in the dying thread, whose mm is still there (the
 * device holds it). Requests in flight are used as they complete, for
 * VHU_EXIT_WAIT_MS at most: a hung backend must not keep the dying
 * owner from exiting. The release drops what completes later.
 */
static void vhu_worker_killed(void *data)
{
	unsigned long end = jiffies + msecs_to_jiffies(VHU_EXIT_WAIT_MS);
	struct vhu_vq *vq = data;

	WRITE_ONCE(vq->worker_state, VHU_WORKER_DYING);
	/* Completions see it from now on and wake inflight_wq instead. */
	synchronize_rcu();
	mutex_lock(&vq->mutex);
	for (;;) {
		vhu_vq_complete(vq);
		if (!atomic_read(&vq->inflight) || time_after_eq(jiffies, end))
			break;
		mutex_unlock(&vq->mutex);
		wait_event_timeout(vq->inflight_wq, !llist_empty(&vq->done),
				   max_t(long, end - jiffies, 1));
		mutex_lock(&vq->mutex);
	}
	mutex_unlock(&vq->mutex);
	WRITE_ONCE(vq->worker_state, VHU_WORKER_DEAD);
	wake_up_all(&vq->inflight_wq);
}

/* ---- the device's worker: requests that block ---- */

/* One turn of the device's worker: false to sleep until woken. */
static bool vhu_dev_worker_fn(void *data)
{
	struct vhu_dev *dev = data;
	struct vhu_req *req, *tmp;
	struct llist_node *list;

	list = llist_del_all(&dev->blocking);
	if (!list)
		return false;
	__set_current_state(TASK_RUNNING);
	/* In the order the vrings queued them; each completes on its own. */
	list = llist_reverse_order(list);
	llist_for_each_entry_safe(req, tmp, list, node) {
		vhu_blk_run_blocking(req);
		cond_resched();
	}
	return true;
}

static void vhu_dev_worker_killed(void *data)
{
	struct vhu_dev *dev = data;

	WRITE_ONCE(dev->worker_killed, true);
	/* Queued until now: run here. Later: in the vring's worker. */
	synchronize_rcu();
	while (vhu_dev_worker_fn(dev))
		;
}

static int vhu_dev_worker_start(struct vhu_dev *dev)
{
	struct vhost_task *w;
	char name[TASK_COMM_LEN];

	lockdep_assert_held(&dev->mutex);

	if (dev->worker)
		return READ_ONCE(dev->worker_killed) ? -ESRCH : 0;
	snprintf(name, sizeof(name), "vhu-%u-blk", dev->id);
	w = vhost_task_create(vhu_dev_worker_fn, vhu_dev_worker_killed, dev, name);
	if (IS_ERR(w))
		return PTR_ERR(w);
	dev->worker = w;
	vhost_task_start(w);
	return 0;
}

/**
 * vhu_worker_start() - create the vring's worker, and the device's
 * @vq: the vring
 *
 * Context: process context in the owner, holds the device mutex and
 * @vq->mutex.
 * Return: 0, -ESRCH if the owner is being killed, or a negative errno.
 */
int vhu_worker_start(struct vhu_vq *vq)
{
	struct vhost_task *w;
	char name[TASK_COMM_LEN];
	int ret;

	lockdep_assert_held(&vq->mutex);

	ret = vhu_dev_worker_start(vq->dev);
	if (ret)
		return ret;
	if (vq->worker)
		return vq->worker_state == VHU_WORKER_RUNNING ? 0 : -ESRCH;
	snprintf(name, sizeof(name), "vhu-%u-%u", vq->dev->id, vq->index);
	w = vhost_task_create(vhu_worker_fn, vhu_worker_killed, vq, name);
	if (IS_ERR(w))
		return PTR_ERR(w);
	vq->worker = w;
	vhost_task_start(w);
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
	struct vhost_task *w = vq->worker;

	if (!w)
		return;
	WRITE_ONCE(vq->worker, NULL);
	/* Wakers run under RCU: let them finish before the task goes. */
	synchronize_rcu();
	vhost_task_stop(w);
	WRITE_ONCE(vq->worker_state, VHU_WORKER_RUNNING);
}

/**
 * vhu_worker_wake() - make the worker look at its vring
 * @vq: the vring
 *
 * Without a worker (the owner was killed), whoever drains the vring is
 * woken instead.
 *
 * Context: any context.
 */
void vhu_worker_wake(struct vhu_vq *vq)
{
	struct vhost_task *w;

	rcu_read_lock();
	w = READ_ONCE(vq->worker);
	if (likely(w && READ_ONCE(vq->worker_state) == VHU_WORKER_RUNNING))
		vhost_task_wake(w);
	else
		wake_up_all(&vq->inflight_wq);
	rcu_read_unlock();
}

/**
 * vhu_worker_queue_blocking() - run a request on the device's worker
 * @req: a FLUSH, DISCARD or WRITE_ZEROES request, ready to run
 *
 * Context: the vring's worker.
 */
void vhu_worker_queue_blocking(struct vhu_req *req)
{
	struct vhu_dev *dev = req->vq->dev;
	struct vhost_task *w;

	rcu_read_lock();
	w = READ_ONCE(dev->worker);
	if (likely(w && !READ_ONCE(dev->worker_killed))) {
		llist_add(&req->node, &dev->blocking);
		vhost_task_wake(w);
		rcu_read_unlock();
		return;
	}
	rcu_read_unlock();
	/* The owner is being killed: its vring's worker runs it. */
	vhu_blk_run_blocking(req);
}

/**
 * vhu_worker_stop_dev() - stop the device's worker
 * @dev: the device, all of whose vrings are stopped
 *
 * Context: process context, holds @dev->mutex.
 */
void vhu_worker_stop_dev(struct vhu_dev *dev)
{
	struct vhost_task *w = dev->worker;

	lockdep_assert_held(&dev->mutex);

	if (!w)
		return;
	WRITE_ONCE(dev->worker, NULL);
	synchronize_rcu();
	vhost_task_stop(w);
	WRITE_ONCE(dev->worker_killed, false);
}
