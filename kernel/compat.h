/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhu: every difference between the kernels vhu builds for lives here.
 * Supported: Linux 6.1 (Debian 12) through 6.12.
 */
#ifndef _VHU_COMPAT_H
#define _VHU_COMPAT_H

#include <linux/version.h>
#include <linux/eventfd.h>
#include <net/genetlink.h>

/* True when building for kernel maj.min or newer. */
#define VHU_KERNEL_AT_LEAST(maj, min)					\
	(LINUX_VERSION_MAJOR * 256 + LINUX_VERSION_PATCHLEVEL >=	\
	 (maj) * 256 + (min))

/* 6.8 dropped the count argument of eventfd_signal(). */
static inline void vhu_eventfd_signal(struct eventfd_ctx *ctx)
{
#if VHU_KERNEL_AT_LEAST(6, 8)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* 6.2 moved a dump's parsed attributes into an embedded genl_info. */
static inline struct nlattr **vhu_genl_dump_attrs(struct netlink_callback *cb)
{
#if VHU_KERNEL_AT_LEAST(6, 2)
	return genl_dumpit_info(cb)->info.attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

#endif /* _VHU_COMPAT_H */
