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

#endif /* _VHU_COMPAT_H */
