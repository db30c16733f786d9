/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhu: vhost-user block backend with an in-kernel datapath.
 *
 * The ABI shared by vhu.ko and its userspace (vhuctl, selftests):
 * ioctls on the misc device /dev/vhu and the generic netlink family "vhu".
 *
 * Conventions:
 *  - Only fixed-size types; every structure is padded explicitly to a
 *    multiple of 8 bytes, so it has the same layout on 32- and 64-bit.
 *  - Fields named "reserved" or "padding" must be zero on input; the kernel
 *    rejects a non-zero one with -EINVAL, so they can gain a meaning later.
 *  - Every flags field has a *_F_ALL mask of the bits this ABI knows; an
 *    unknown bit is rejected with -EINVAL.
 *  - An ioctl the module does not know fails with -ENOTTY.
 *  - Command numbers follow <linux/vhost.h> where a vhost command of the
 *    same meaning exists, under vhu's own ioctl type.
 */
#ifndef _UAPI_LINUX_VHU_H
#define _UAPI_LINUX_VHU_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define VHU_DEVICE_NAME		"vhu"
#define VHU_DEVICE_PATH		"/dev/vhu"

/* Bumped on every incompatible change of this header. */
#define VHU_ABI_VERSION		1

/* ioctl type; see Documentation/userspace-api/ioctl/ioctl-number.rst. */
#define VHU_IOCTL_TYPE		0xB9

/*
 * Features of the module's API, reported by VHU_GET_API and by the
 * VHU_CMD_GET_VERSION netlink command, so userspace can probe what the
 * loaded module supports before it relies on it.
 */
#define VHU_API_F_GENL		(1ULL << 0)	/* generic netlink family "vhu" */
#define VHU_API_F_ALL		(VHU_API_F_GENL)

/**
 * struct vhu_api - what the loaded module implements
 * @abi_version: VHU_ABI_VERSION the module was built with
 * @padding: zero
 * @features: VHU_API_F_* bits the module implements
 * @reserved: zero on output, room for growth
 */
struct vhu_api {
	__u32 abi_version;
	__u32 padding;
	__aligned_u64 features;
	__aligned_u64 reserved[6];
};

/* Probe the module: fills struct vhu_api. */
#define VHU_GET_API		_IOR(VHU_IOCTL_TYPE, 0x80, struct vhu_api)

/*
 * Generic netlink family "vhu".
 *
 * VHU_CMD_GET_VERSION (no attributes in the request) answers with
 * VHU_ATTR_VERSION, VHU_ATTR_ABI_VERSION and VHU_ATTR_API_FEATURES.
 */
#define VHU_GENL_NAME		"vhu"
#define VHU_GENL_VERSION	1

enum vhu_cmd {
	VHU_CMD_UNSPEC,
	VHU_CMD_GET_VERSION,

	__VHU_CMD_MAX
};

#define VHU_CMD_MAX (__VHU_CMD_MAX - 1)

enum vhu_attr {
	VHU_ATTR_UNSPEC,
	VHU_ATTR_VERSION,		/* string: module version */
	VHU_ATTR_ABI_VERSION,		/* u32: VHU_ABI_VERSION */
	VHU_ATTR_API_FEATURES,		/* u64: VHU_API_F_* */
	VHU_ATTR_PAD,

	__VHU_ATTR_MAX
};

#define VHU_ATTR_MAX (__VHU_ATTR_MAX - 1)

#endif /* _UAPI_LINUX_VHU_H */
