/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhu: every difference between the kernels vhu builds for lives here.
 * Supported: Linux 6.1 through 6.12.
 *
 * Kbuild includes this file first in every source file. The code is
 * written against the newest kernel's API; what an older kernel lacks is
 * provided here, under the newer name.
 */
#ifndef _VHU_COMPAT_H
#define _VHU_COMPAT_H

#include <linux/version.h>

/* True when building for kernel maj.min or newer. */
#define VHU_KERNEL_AT_LEAST(maj, min)					\
	(LINUX_VERSION_MAJOR * 256 + LINUX_VERSION_PATCHLEVEL >=	\
	 (maj) * 256 + (min))

/*
 * kiocb_start_write() and kiocb_end_write() hold freeze protection from
 * the submission of an asynchronous write to its completion. 6.6 added
 * them and 6.1.116 has them too; vhu does not build without them.
 */
#if !VHU_KERNEL_AT_LEAST(6, 6) && \
	!(LINUX_VERSION_MAJOR == 6 && LINUX_VERSION_PATCHLEVEL == 1 && \
	  LINUX_VERSION_SUBLEVEL >= 116)
#error "vhu needs kiocb_start_write(): Linux 6.6, or 6.1.116 and later"
#endif

/* 6.8 dropped the count argument of eventfd_signal(). */
#if !VHU_KERNEL_AT_LEAST(6, 8)
#include <linux/eventfd.h>
#define eventfd_signal(ctx) eventfd_signal(ctx, 1)
#endif

/*
 * 6.6 added a struct genl_info to a dump's state, and genl_info_dump() to
 * reach it. Before, the state had the parsed attributes itself: the
 * stand-in offers ->attrs only.
 */
#if !VHU_KERNEL_AT_LEAST(6, 6)
#include <net/genetlink.h>
#define genl_info_dump(cb) genl_dumpit_info(cb)
#endif

/*
 * The workers are vhost_tasks: threads of the owner, so they have its
 * cgroups, rlimits and credentials and die with it (a SIGKILL calls
 * @handle_sigkill in the dying thread). 6.11 gave vhost_task_create()
 * its @handle_sigkill. Before, the stand-in is what vhost did then: a
 * kernel thread attached to the creator's cgroups, in the creator's mm,
 * stopped only by vhost_task_stop(), so @handle_sigkill never runs.
 */
#if VHU_KERNEL_AT_LEAST(6, 11) && IS_ENABLED(CONFIG_VHOST_TASK)
#include <linux/types.h>
#include <linux/sched/vhost_task.h>
#else
#include <linux/cgroup.h>
#include <linux/err.h>
#include <linux/kthread.h>
#include <linux/sched/mm.h>
#include <linux/sched/task.h>
#include <linux/slab.h>

struct vhost_task {
	bool (*fn)(void *data);
	void *data;
	struct task_struct *task;
	struct mm_struct *mm;
};

static inline int vhu_compat_vhost_task_fn(void *arg)
{
	struct vhost_task *vtsk = arg;

	kthread_use_mm(vtsk->mm);
	for (;;) {
		set_current_state(TASK_INTERRUPTIBLE);
		if (kthread_should_stop()) {
			__set_current_state(TASK_RUNNING);
			break;
		}
		if (!vtsk->fn(vtsk->data))
			schedule();
	}
	kthread_unuse_mm(vtsk->mm);
	return 0;
}

static inline struct vhost_task *
vhost_task_create(bool (*fn)(void *), void (*handle_sigkill)(void *),
		  void *arg, const char *name)
{
	struct vhost_task *vtsk;
	struct task_struct *task;
	int ret;

	if (!current->mm)
		return ERR_PTR(-EINVAL);
	vtsk = kzalloc(sizeof(*vtsk), GFP_KERNEL_ACCOUNT);
	if (!vtsk)
		return ERR_PTR(-ENOMEM);
	vtsk->fn = fn;
	vtsk->data = arg;
	task = kthread_create(vhu_compat_vhost_task_fn, vtsk, "%s", name);
	if (IS_ERR(task)) {
		kfree(vtsk);
		return ERR_CAST(task);
	}
	ret = cgroup_attach_task_all(current, task);
	if (ret) {
		kthread_stop(task);
		kfree(vtsk);
		return ERR_PTR(ret);
	}
	vtsk->task = get_task_struct(task);
	mmget(current->mm);
	vtsk->mm = current->mm;
	return vtsk;
}

static inline void vhost_task_start(struct vhost_task *vtsk)
{
	wake_up_process(vtsk->task);
}

static inline void vhost_task_wake(struct vhost_task *vtsk)
{
	wake_up_process(vtsk->task);
}

static inline void vhost_task_stop(struct vhost_task *vtsk)
{
	kthread_stop(vtsk->task);
	put_task_struct(vtsk->task);
	mmput(vtsk->mm);
	kfree(vtsk);
}
#endif

/*
 * 6.5 gave bd_prepare_to_claim() the holder's operations. Only a claim
 * that completes into an open installs them: one that is aborted, all
 * that vhu makes, has none to lose.
 */
#if !VHU_KERNEL_AT_LEAST(6, 5)
#include <linux/blkdev.h>
static inline int vhu_bd_prepare_to_claim(struct block_device *bdev,
					  void *holder, const void *hops)
{
	return bd_prepare_to_claim(bdev, holder);
}

#define bd_prepare_to_claim vhu_bd_prepare_to_claim
#endif

/*
 * A bio on bio_vecs it does not own (vhu_blk_bio_set_bvec()). Before 6.5
 * a bio's pages were released unless BIO_NO_PAGE_REF said otherwise,
 * as bio_iov_iter_get_pages() set it for a bio_vec iterator; since, only
 * pages BIO_PAGE_PINNED marks are, and nothing needs saying.
 */
#include <linux/bio.h>
static inline void vhu_bio_set_no_page_ref(struct bio *bio)
{
#if !VHU_KERNEL_AT_LEAST(6, 5)
	bio_set_flag(bio, BIO_NO_PAGE_REF);
#endif
}

#endif /* _VHU_COMPAT_H */
