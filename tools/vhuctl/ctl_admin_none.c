// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the control socket's stats and resize where this build has no
 * export counters or resize yet (ctl_admin.c needs vu_admin.c).
 */
#include <errno.h>
#include <stdbool.h>

#include "ctl.h"

void vu_ctl_stats(struct vu_daemon *d, struct json_object *params, struct vu_ctl_reply *r)
{
	(void)d;
	(void)params;
	vu_ctl_fail(r, VU_RPC_FAILED, EOPNOTSUPP, "stats: not available in this build");
}

void vu_ctl_resize(struct vu_daemon *d, struct json_object *params, struct vu_ctl_reply *r)
{
	(void)d;
	(void)params;
	vu_ctl_fail(r, VU_RPC_FAILED, EOPNOTSUPP, "resize: not available in this build");
}

void vu_ctl_watch(struct vu_export *e)
{
	(void)e;
}
