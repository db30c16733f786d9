/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhu: every difference between the kernels vhu builds for lives here.
 * Supported: Linux 6.1 (Debian 12) through 6.12.
 */
#ifndef _VHU_COMPAT_H
#define _VHU_COMPAT_H

#include <linux/version.h>
#include <linux/eventfd.h>

/* 6.8 dropped the count argument of eventfd_signal(). */
static inline void vhu_eventfd_signal(struct eventfd_ctx *ctx)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 8, 0)
	eventfd_signal(ctx);
#else
	eventfd_signal(ctx, 1);
#endif
}

#endif /* _VHU_COMPAT_H */
