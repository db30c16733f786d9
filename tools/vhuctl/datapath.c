// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: choosing a datapath.
 */
#include <stdio.h>

#include "datapath.h"

const struct vu_dp_ops *vu_dp_select(enum vu_dp_mode mode, char *err,
				     size_t errlen)
{
	char kerr[256];

	if (errlen)
		err[0] = '\0';
	switch (mode) {
	case VU_DP_KERNEL:
		if (vu_dp_kernel_ops.probe(err, errlen))
			return NULL;
		return &vu_dp_kernel_ops;
	case VU_DP_USER:
		if (vu_dp_user_ops.probe(err, errlen))
			return NULL;
		return &vu_dp_user_ops;
	case VU_DP_AUTO:
		if (!vu_dp_kernel_ops.probe(kerr, sizeof(kerr)))
			return &vu_dp_kernel_ops;
		if (!vu_dp_user_ops.probe(err, errlen)) {
			snprintf(err, errlen, "%s", kerr);
			return &vu_dp_user_ops;
		}
		/* Say why neither works. */
		{
			char uerr[256];

			snprintf(uerr, sizeof(uerr), "%s", err);
			snprintf(err, errlen,
				 "no datapath available: kernel: %s; user: %s",
				 kerr, uerr);
		}
		return NULL;
	}
	snprintf(err, errlen, "unknown datapath mode");
	return NULL;
}
