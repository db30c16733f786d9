// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: a vring's configuration and life cycle.
 *
 * The per-vring ioctls, the wait on the kick eventfd, enabling a vring
 * (with every check that needs) and stopping it until nothing is in
 * flight. The rings themselves are processed in vq.c.
 */

#include <linux/bitmap.h>
#include <linux/file.h>
#include <linux/nospec.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/virtio_config.h>

#include "vhu.h"

/* ---- kick eventfd ---- */

static int vhu_poll_wakeup(wait_queue_entry_t *wait, unsigned int mode,
			   int sync, void *key)
{
	struct vhu_poll *p = container_of(wait, struct vhu_poll, wait);
	struct vhu_vq *vq = p->vq;

	if (!(key_to_poll(key) & EPOLLIN))
		return 0;
	atomic64_inc(&vq->kicks);
	set_bit(0, &vq->kicked);
	vhu_worker_wake(vq);
	return 0;
}

static void vhu_poll_queue_proc(struct file *file, wait_queue_head_t *wqh,
				poll_table *pt)
{
	struct vhu_poll *p = container_of(pt, struct vhu_poll, table);

	p->wqh = wqh;
	add_wait_queue(wqh, &p->wait);
}

static void vhu_poll_start(struct vhu_vq *vq)
{
	struct vhu_poll *p = &vq->poll;
	__poll_t mask;

	lockdep_assert_held(&vq->mutex);

	if (p->wqh || !vq->kick)
		return;
	init_waitqueue_func_entry(&p->wait, vhu_poll_wakeup);
	init_poll_funcptr(&p->table, vhu_poll_queue_proc);
	mask = vfs_poll(vq->kick, &p->table);
	if (mask & EPOLLIN)
		set_bit(0, &vq->kicked);
}

static void vhu_poll_stop(struct vhu_vq *vq)
{
	struct vhu_poll *p = &vq->poll;

	lockdep_assert_held(&vq->mutex);

	if (p->wqh) {
		remove_wait_queue(p->wqh, &p->wait);
		p->wqh = NULL;
	}
}

/* ---- configuration ---- */

/**
 * vhu_vq_init() - initialize a vring at device creation
 * @dev: the device
 * @vq: the vring
 * @index: its index
 *
 * Context: process context.
 */
void vhu_vq_init(struct vhu_dev *dev, struct vhu_vq *vq, u32 index)
{
	vq->dev = dev;
	vq->index = index;
	mutex_init(&vq->mutex);
	init_llist_head(&vq->done);
	atomic_set(&vq->inflight, 0);
	init_waitqueue_head(&vq->inflight_wq);
	vq->poll.vq = vq;
}

/* Completed requests that no worker will use: the owner was killed. */
static bool vhu_vq_orphans(struct vhu_vq *vq)
{
	return READ_ONCE(vq->worker_state) == VHU_WORKER_DEAD &&
	       !llist_empty(&vq->done);
}

static bool vhu_vq_settled(struct vhu_vq *vq)
{
	return !atomic_read(&vq->inflight) || vhu_vq_orphans(vq);
}

/**
 * vhu_vq_stop() - stop taking requests and wait for those in flight
 * @vq: the vring
 * @timeout: how long to wait, in jiffies (MAX_SCHEDULE_TIMEOUT: until done)
 * @killable: stop waiting on a fatal signal
 *
 * Requests in flight are used as they complete, or dropped if the worker
 * was killed with the owner. A backend that hangs keeps them in flight:
 * an ioctl waits killably, so that the owner can still be killed, and the
 * release of a dying owner's device for @timeout (the rest of it goes on
 * without the owner, see vhu_release()). The vring stays stopped
 * whatever this returns.
 *
 * Context: process context, holds the device mutex but not @vq->mutex,
 * which the worker needs to use the requests.
 * Return: 0 when nothing is in flight, -ETIMEDOUT, or -EINTR.
 */
int vhu_vq_stop(struct vhu_vq *vq, long timeout, bool killable)
{
	long left = timeout;

	lockdep_assert_held(&vq->dev->mutex);

	mutex_lock(&vq->mutex);
	WRITE_ONCE(vq->enabled, false);
	vhu_poll_stop(vq);
	mutex_unlock(&vq->mutex);
	for (;;) {
		if (killable)
			left = wait_event_killable_timeout(vq->inflight_wq,
							   vhu_vq_settled(vq), left);
		else
			left = wait_event_idle_timeout(vq->inflight_wq,
						       vhu_vq_settled(vq), left);
		if (left < 0)
			return -EINTR;
		if (!atomic_read(&vq->inflight))
			return 0;
		if (vhu_vq_orphans(vq)) {
			mutex_lock(&vq->mutex);
			vhu_vq_drop(vq);
			mutex_unlock(&vq->mutex);
			continue;
		}
		if (!left)
			return -ETIMEDOUT;
	}
}

/**
 * vhu_vq_reset() - stop a vring and release everything it holds
 * @vq: the vring
 *
 * Waits for the requests in flight however long the backend takes.
 *
 * Context: process context, holds the device mutex.
 */
void vhu_vq_reset(struct vhu_vq *vq)
{
	lockdep_assert_held(&vq->dev->mutex);

	vhu_vq_stop(vq, MAX_SCHEDULE_TIMEOUT, false);
	vhu_worker_stop(vq);

	mutex_lock(&vq->mutex);
	if (vq->kick)
		fput(vq->kick);
	if (vq->call)
		eventfd_ctx_put(vq->call);
	if (vq->err)
		eventfd_ctx_put(vq->err);
	vq->kick = NULL;
	vq->call = NULL;
	vq->err = NULL;
	vhu_inflight_reset(vq);
	bitmap_free(vq->busy);
	vq->busy = NULL;
	vhu_req_array_free(vq->reqs);
	vq->reqs = NULL;
	kvfree(vq->scratch);
	vq->scratch = NULL;
	kvfree(vq->bvscratch);
	vq->bvscratch = NULL;
	WRITE_ONCE(vq->num, 0);
	vq->addr_set = false;
	WRITE_ONCE(vq->broken, false);
	vq->last_avail_idx = 0;
	vq->avail_idx = 0;
	vq->used_idx = 0;
	memset(&vq->stats, 0, sizeof(vq->stats));
	atomic64_set(&vq->kicks, 0);
	WRITE_ONCE(vq->busy_poll_us, 0);
	vq->poll_armed = false;
	WRITE_ONCE(vq->busy_poll_seq, 0);
	vq->poll_seq = 0;
	WRITE_ONCE(vq->poll_ns, 0);
	vq->idle_since = 0;
	atomic64_set(&vq->polls, 0);
	atomic64_set(&vq->poll_hits, 0);
	mutex_unlock(&vq->mutex);
}

/**
 * vhu_vq_any_enabled() - whether a vring of the device is enabled
 * @dev: the device
 *
 * Context: holds @dev->mutex (enabling needs it, so the answer is stable).
 * Return: true if one is.
 */
bool vhu_vq_any_enabled(struct vhu_dev *dev)
{
	u32 i;

	lockdep_assert_held(&dev->mutex);
	for (i = 0; i < VHU_MAX_QUEUES; i++)
		if (READ_ONCE(dev->vqs[i].enabled))
			return true;
	return false;
}

/*
 * VHU_SET_VRING_NUM: the ring size, and what the vring needs for it: one
 * request per head, the busy bitmap and the iovecs of a chain (and with
 * VHU_MEM_F_PIN its bio_vecs). They are
 * charged to the owner's memory cgroup (this runs in its task), and an
 * allocation that fails is the ioctl's -ENOMEM. Context: takes @vq->mutex.
 */
static long vhu_vq_set_num(struct vhu_vq *vq, u32 num)
{
	const gfp_t gfp = GFP_KERNEL_ACCOUNT | __GFP_NOWARN;
	unsigned long *busy = NULL;
	struct vhu_req *reqs = NULL;
	long ret = 0;

	mutex_lock(&vq->mutex);
	if (vq->enabled) {
		ret = -EBUSY;
		goto unlock;
	}
	if (!num || num > VHU_MAX_VRING_NUM || !is_power_of_2(num)) {
		ret = -EINVAL;
		goto unlock;
	}
	busy = bitmap_zalloc(num, gfp);
	reqs = vhu_req_array_alloc(vq, num);
	if (!vq->scratch)
		vq->scratch = kvmalloc_array(VHU_REQ_MAX_IOV,
					     sizeof(struct iovec), gfp);
	/* Pinned memory: the chain's pages (VHU_SET_MEM_FLAGS came first). */
	if (!vq->bvscratch && (vq->dev->mem_flags & VHU_MEM_F_PIN))
		vq->bvscratch = kvmalloc_array(VHU_REQ_MAX_BVEC,
					       sizeof(struct bio_vec), gfp);
	if (!busy || !reqs || !vq->scratch ||
	    (!vq->bvscratch && (vq->dev->mem_flags & VHU_MEM_F_PIN))) {
		ret = -ENOMEM;
		goto unlock;
	}
	swap(vq->busy, busy);
	swap(vq->reqs, reqs);
	WRITE_ONCE(vq->num, num);
	memset(&vq->stats, 0, sizeof(vq->stats));
	atomic64_set(&vq->kicks, 0);
	atomic64_set(&vq->polls, 0);
	atomic64_set(&vq->poll_hits, 0);
unlock:
	mutex_unlock(&vq->mutex);
	bitmap_free(busy);
	vhu_req_array_free(reqs);
	return ret;
}

/* Whether @a names the rings @vq has. Context: holds @vq->mutex. */
static bool vhu_vq_same_rings(struct vhu_vq *vq, const struct vhu_vring_addr *a)
{
	lockdep_assert_held(&vq->mutex);
	return vq->desc == u64_to_user_ptr(a->desc_user_addr) &&
	       vq->avail == u64_to_user_ptr(a->avail_user_addr) &&
	       vq->used == u64_to_user_ptr(a->used_user_addr);
}

/*
 * VHU_SET_VRING_ADDR. An enabled vring takes only a change of its logging
 * (flags, log_guest_addr): a migration starts and ends while it runs.
 * Context: takes @vq->mutex.
 */
static long vhu_vq_set_addr(struct vhu_vq *vq, const struct vhu_vring_addr *a)
{
	long ret = 0;

	mutex_lock(&vq->mutex);
	if (a->flags & ~VHU_VRING_F_ALL)
		ret = -EINVAL;
	else if (vq->enabled && !vhu_vq_same_rings(vq, a))
		ret = -EBUSY;
	else if (a->desc_user_addr % 16 || a->avail_user_addr % 2 ||
		 a->used_user_addr % 4)
		ret = -EINVAL;
	if (!ret)
		ret = vhu_log_set_vring(vq, a);
	if (!ret && !vq->enabled) {
		vq->desc = u64_to_user_ptr(a->desc_user_addr);
		vq->avail = u64_to_user_ptr(a->avail_user_addr);
		vq->used = u64_to_user_ptr(a->used_user_addr);
		vq->addr_set = true;
	}
	mutex_unlock(&vq->mutex);
	return ret;
}

/* VHU_SET_VRING_BASE. Context: takes @vq->mutex. */
static long vhu_vq_set_base(struct vhu_vq *vq, u32 num)
{
	long ret = 0;

	mutex_lock(&vq->mutex);
	if (vq->enabled)
		ret = -EBUSY;
	else if (num > U16_MAX)
		ret = -EINVAL;
	else
		vq->last_avail_idx = num;
	mutex_unlock(&vq->mutex);
	return ret;
}

/*
 * VHU_GET_VRING_BASE: stop the vring, wait until nothing is in flight,
 * and say where the avail ring resumes (killable: -EINTR). Context:
 * takes @vq->mutex.
 */
static int vhu_vq_stop_base(struct vhu_vq *vq, u32 *base)
{
	int ret = vhu_vq_stop(vq, MAX_SCHEDULE_TIMEOUT, true);

	if (ret)
		return ret;
	mutex_lock(&vq->mutex);
	/* Stopped: process pending completions (none are left). */
	vhu_vq_complete(vq);
	*base = vq->last_avail_idx;
	mutex_unlock(&vq->mutex);
	return 0;
}

/* Replace the call or err eventfd; -1 detaches. */
static long vhu_vq_set_eventfd(struct eventfd_ctx **slot, s32 fd)
{
	struct eventfd_ctx *ctx = NULL;

	if (fd != -1) {
		ctx = eventfd_ctx_fdget(fd);
		if (IS_ERR(ctx))
			return PTR_ERR(ctx);
	}
	if (*slot)
		eventfd_ctx_put(*slot);
	*slot = ctx;
	return 0;
}

/* Replace the kick eventfd; -1 detaches. */
static long vhu_vq_set_kick(struct vhu_vq *vq, s32 fd)
{
	struct eventfd_ctx *ctx;
	struct file *file = NULL;

	lockdep_assert_held(&vq->mutex);

	if (fd != -1) {
		file = fget(fd);
		if (!file)
			return -EBADF;
		ctx = eventfd_ctx_fileget(file);
		if (IS_ERR(ctx)) {
			fput(file);
			return PTR_ERR(ctx);
		}
		eventfd_ctx_put(ctx);
	}
	vhu_poll_stop(vq);
	if (vq->kick)
		fput(vq->kick);
	vq->kick = file;
	if (vq->enabled) {
		vhu_poll_start(vq);
		set_bit(0, &vq->kicked);
		vhu_worker_wake(vq);
	}
	return 0;
}

/*
 * Whether each ring lies inside one region of @t, as vhost's
 * vq_memory_access_ok() requires; checked on enable and on every table
 * change while the vring is enabled. Holds @vq->dev->mutex: num and
 * addresses are stable then for an enabled vring (enabling needs it).
 */
static bool vhu_vq_rings_covered(struct vhu_vq *vq,
				 const struct vhu_mem_table *t)
{
	u64 n = vq->num;

	lockdep_assert_held(&vq->dev->mutex);

	return vhu_mem_covers(t, vq->desc, n * sizeof(struct vring_desc)) &&
	       vhu_mem_covers(t, vq->avail,
			      sizeof(struct vring_avail) + (n + 1) * sizeof(__virtio16)) &&
	       vhu_mem_covers(t, vq->used,
			      sizeof(struct vring_used) +
			      n * sizeof(struct vring_used_elem) + sizeof(__virtio16));
}

/**
 * vhu_vq_check_mem() - whether a new memory table holds the enabled vrings
 * @dev: the device
 * @t: the table about to be installed
 *
 * Context: holds @dev->mutex (enabling needs it, so the answer is stable).
 * Return: 0, or -EBUSY if an enabled vring's ring is outside @t.
 */
int vhu_vq_check_mem(struct vhu_dev *dev, const struct vhu_mem_table *t)
{
	u32 i;

	lockdep_assert_held(&dev->mutex);

	for (i = 0; i < VHU_MAX_QUEUES; i++)
		if (READ_ONCE(dev->vqs[i].enabled) &&
		    !vhu_vq_rings_covered(&dev->vqs[i], t))
			return -EBUSY;
	return 0;
}

/* VHU_SET_VRING_ENABLE with 1. Context: holds @vq->mutex. */
static long vhu_vq_enable(struct vhu_vq *vq)
{
	struct vhu_dev *dev = vq->dev;
	struct vhu_mem_table *t;
	bool covered;
	__virtio16 v;
	int ret;

	lockdep_assert_held(&dev->mutex);
	lockdep_assert_held(&vq->mutex);

	if (vq->enabled)
		return 0;
	if (!vq->num || !vq->addr_set || !vq->kick || !dev->be ||
	    !vhu_mem_present(dev) || vq->index >= dev->be->config.num_queues ||
	    !(dev->acked_features & BIT_ULL(VIRTIO_F_VERSION_1)))
		return -EINVAL;
	/* Inside a region implies access_ok(): regions were checked for it. */
	t = vhu_mem_get(dev);
	covered = vhu_vq_rings_covered(vq, t);
	vhu_mem_put(t);
	if (!covered)
		return -EFAULT;
	/* We run in the owner's mm here (the ioctl checked it). */
	if (get_user(v, &vq->used->idx))
		return -EFAULT;
	vq->used_idx = vhu16_to_cpu(v);
	ret = vhu_inflight_recover(vq);
	if (ret)
		return ret;
	vq->avail_idx = vq->last_avail_idx;
	vq->signalled_used_valid = false;
	vq->event_idx = dev->acked_features & BIT_ULL(VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = dev->acked_features & BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC);
	WRITE_ONCE(vq->broken, false);

	ret = vhu_worker_start(vq);
	if (ret)
		return ret;
	WRITE_ONCE(vq->enabled, true);
	vhu_poll_start(vq);
	/* Process what the driver made available before. */
	set_bit(0, &vq->kicked);
	vhu_worker_wake(vq);
	return 0;
}

/**
 * DOC: the per-vring ioctls
 *
 * The handlers below are entries of vhu_ioctls[] in device.c, so they run
 * in process context, in the owner's mm, with the device mutex held, and
 * return 0 or a negative errno. Each copies its own argument, which starts
 * with the vring index, finds the vring with vhu_vq_arg() and takes the
 * vring's mutex for what it changes. Stopping a vring (VHU_GET_VRING_BASE,
 * VHU_SET_VRING_ENABLE with 0) waits for the in-flight requests without
 * the vring's mutex, which the worker needs to complete them.
 */

/* Every per-vring argument starts with the vring index. */
static_assert(offsetof(struct vhu_vring_state, index) == 0);
static_assert(offsetof(struct vhu_vring_file, index) == 0);
static_assert(offsetof(struct vhu_vring_addr, index) == 0);
static_assert(offsetof(struct vhu_vring_inflight, index) == 0);

/*
 * Copy a per-vring ioctl's argument (@size bytes from @argp into @arg) and
 * find the vring its index names. Return: the vring, or ERR_PTR(-EFAULT)
 * or ERR_PTR(-EINVAL) for an index not below VHU_MAX_QUEUES.
 */
static struct vhu_vq *vhu_vq_arg(struct vhu_dev *dev, void __user *argp,
				 void *arg, size_t size)
{
	u32 index;

	lockdep_assert_held(&dev->mutex);

	if (copy_from_user(arg, argp, size))
		return ERR_PTR(-EFAULT);
	memcpy(&index, arg, sizeof(index));
	if (index >= VHU_MAX_QUEUES)
		return ERR_PTR(-EINVAL);
	return &dev->vqs[array_index_nospec(index, VHU_MAX_QUEUES)];
}

long vhu_set_vring_num(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_vring_state s;
	struct vhu_vq *vq = vhu_vq_arg(dev, argp, &s, sizeof(s));

	return IS_ERR(vq) ? PTR_ERR(vq) : vhu_vq_set_num(vq, s.num);
}

long vhu_set_vring_addr(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_vring_addr a;
	struct vhu_vq *vq = vhu_vq_arg(dev, argp, &a, sizeof(a));

	return IS_ERR(vq) ? PTR_ERR(vq) : vhu_vq_set_addr(vq, &a);
}

long vhu_set_vring_base(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_vring_state s;
	struct vhu_vq *vq = vhu_vq_arg(dev, argp, &s, sizeof(s));

	return IS_ERR(vq) ? PTR_ERR(vq) : vhu_vq_set_base(vq, s.num);
}

long vhu_get_vring_base(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_vring_state s;
	struct vhu_vq *vq = vhu_vq_arg(dev, argp, &s, sizeof(s));
	int ret;

	if (IS_ERR(vq))
		return PTR_ERR(vq);
	ret = vhu_vq_stop_base(vq, &s.num);
	if (ret)
		return ret;
	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

/* The eventfds of VHU_SET_VRING_KICK, _CALL and _ERR. */
enum vhu_vring_fd {
	VHU_VRING_KICK,
	VHU_VRING_CALL,
	VHU_VRING_ERR,
};

static long vhu_set_vring_file(struct vhu_dev *dev, void __user *argp,
			       enum vhu_vring_fd which)
{
	struct vhu_vring_file f;
	struct vhu_vq *vq = vhu_vq_arg(dev, argp, &f, sizeof(f));
	long ret;

	if (IS_ERR(vq))
		return PTR_ERR(vq);
	mutex_lock(&vq->mutex);
	switch (which) {
	case VHU_VRING_KICK:
		ret = vhu_vq_set_kick(vq, f.fd);
		break;
	case VHU_VRING_CALL:
		ret = vhu_vq_set_eventfd(&vq->call, f.fd);
		break;
	default:
		ret = vhu_vq_set_eventfd(&vq->err, f.fd);
		break;
	}
	mutex_unlock(&vq->mutex);
	return ret;
}

long vhu_set_vring_kick(struct vhu_dev *dev, void __user *argp)
{
	return vhu_set_vring_file(dev, argp, VHU_VRING_KICK);
}

long vhu_set_vring_call(struct vhu_dev *dev, void __user *argp)
{
	return vhu_set_vring_file(dev, argp, VHU_VRING_CALL);
}

long vhu_set_vring_err(struct vhu_dev *dev, void __user *argp)
{
	return vhu_set_vring_file(dev, argp, VHU_VRING_ERR);
}

long vhu_set_vring_enable(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_vring_state s;
	struct vhu_vq *vq = vhu_vq_arg(dev, argp, &s, sizeof(s));
	long ret;

	if (IS_ERR(vq))
		return PTR_ERR(vq);
	if (s.num > 1)
		return -EINVAL;
	if (!s.num)
		return vhu_vq_stop(vq, MAX_SCHEDULE_TIMEOUT, true);
	mutex_lock(&vq->mutex);
	ret = vhu_vq_enable(vq);
	mutex_unlock(&vq->mutex);
	return ret;
}

long vhu_set_vring_inflight(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_vring_inflight f;
	struct vhu_vq *vq = vhu_vq_arg(dev, argp, &f, sizeof(f));

	return IS_ERR(vq) ? PTR_ERR(vq) : vhu_inflight_set(vq, &f);
}

/*
 * VHU_SET_VRING_BUSY_POLL: at any time; the worker reads it before each
 * poll, so a new value applies from its next poll on.
 */
long vhu_set_vring_busy_poll(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_vring_state s;
	struct vhu_vq *vq = vhu_vq_arg(dev, argp, &s, sizeof(s));

	if (IS_ERR(vq))
		return PTR_ERR(vq);
	if (s.num > VHU_MAX_BUSY_POLL_US)
		return -EINVAL;
	mutex_lock(&vq->mutex);
	WRITE_ONCE(vq->busy_poll_us, s.num);
	/* The worker starts its window at the value again. */
	WRITE_ONCE(vq->busy_poll_seq, vq->busy_poll_seq + 1);
	mutex_unlock(&vq->mutex);
	return 0;
}

long vhu_get_vring_busy_poll(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_vring_state s;
	struct vhu_vq *vq = vhu_vq_arg(dev, argp, &s, sizeof(s));

	if (IS_ERR(vq))
		return PTR_ERR(vq);
	mutex_lock(&vq->mutex);
	s.num = vq->busy_poll_us;
	mutex_unlock(&vq->mutex);
	return copy_to_user(argp, &s, sizeof(s)) ? -EFAULT : 0;
}

/**
 * vhu_vq_status() - what a vring is doing, for the statistics
 * @vq: the vring
 *
 * Context: any context that keeps the device alive; lockless.
 * Return: the vring's state.
 */
enum vhu_vring_status vhu_vq_status(struct vhu_vq *vq)
{
	if (READ_ONCE(vq->broken))
		return VHU_VRING_ERROR;
	if (READ_ONCE(vq->enabled))
		return VHU_VRING_RUNNING;
	return VHU_VRING_STOPPED;
}
