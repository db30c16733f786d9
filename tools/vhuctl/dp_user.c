// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the userspace datapath -- not implemented yet (a later issue).
 * It refuses to run rather than pretend to serve I/O.
 */
#include <errno.h>
#include <stdio.h>

#include "datapath.h"

static int user_probe(char *err, size_t errlen)
{
	snprintf(err, errlen, "the userspace datapath is not built yet");
	return -EOPNOTSUPP;
}

const struct vu_dp_ops vu_dp_user_ops = {
	.name = "user",
	.probe = user_probe,
};
