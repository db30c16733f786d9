// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the kernel datapath -- vhu.ko through /dev/vhu.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vhu.h>

#include "datapath.h"

static int kernel_probe(char *err, size_t errlen)
{
	struct vhu_api api;
	int fd;

	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s%s", VHU_DEVICE_PATH, strerror(e),
			 e == ENOENT ? " (vhu module not loaded)" : "");
		return -e;
	}
	memset(&api, 0, sizeof(api));
	if (ioctl(fd, VHU_GET_API, &api) < 0) {
		int e = errno;

		snprintf(err, errlen, "VHU_GET_API: %s", strerror(e));
		close(fd);
		return -e;
	}
	close(fd);
	if (api.abi_version != VHU_ABI_VERSION) {
		snprintf(err, errlen, "vhu module ABI %u, vhuctl ABI %u",
			 api.abi_version, VHU_ABI_VERSION);
		return -EPROTO;
	}
	snprintf(err, errlen,
		 "this vhuctl was built without the vhu datapath ioctls");
	return -EOPNOTSUPP;
}

const struct vu_dp_ops vu_dp_kernel_ops = {
	.name = "kernel",
	.probe = kernel_probe,
};
