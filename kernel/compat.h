/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhu: every difference between the kernels vhu builds for lives here.
 * Supported: Linux 6.1 (Debian 12) through 6.12.
 */
#ifndef _VHU_COMPAT_H
#define _VHU_COMPAT_H

/*
 * The version of the kernel we build for, from Kbuild's VERSION and
 * PATCHLEVEL (see kernel/Kbuild), as VHU_KV(major, minor).
 */
#define VHU_KV(major, minor)	((major) * 256 + (minor))
#define VHU_KV_BUILD		VHU_KV(VHU_KV_MAJOR, VHU_KV_MINOR)
#define VHU_KV_AT_LEAST(major, minor) \
	(VHU_KV(major, minor) <= VHU_KV_BUILD)
/* main's name for the same test (kept so code written against main builds). */
#define VHU_KERNEL_AT_LEAST(maj, min)	VHU_KV_AT_LEAST(maj, min)

#include <linux/eventfd.h>
#include <net/genetlink.h>

/* 6.8 dropped the count argument of eventfd_signal(). */
static inline void vhu_eventfd_signal(struct eventfd_ctx *ctx)
{
#if VHU_KV_AT_LEAST(6, 8)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

/* 6.2 moved a dump's parsed attributes into an embedded genl_info. */
static inline struct nlattr **vhu_genl_dump_attrs(struct netlink_callback *cb)
{
#if VHU_KV_AT_LEAST(6, 2)
	return genl_dumpit_info(cb)->info.attrs;
#else
	return genl_dumpit_info(cb)->attrs;
#endif
}

#endif /* _VHU_COMPAT_H */
