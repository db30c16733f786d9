// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: the /dev/vhu misc device. Each open is one device instance.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/vhu.h>

#include "vhu.h"

/**
 * struct vhu_dev - one open of /dev/vhu
 * @file: the file this instance belongs to
 */
struct vhu_dev {
	struct file *file;
};

static int vhu_open(struct inode *inode, struct file *file)
{
	struct vhu_dev *dev;

	/* The mode of the node is 0600; also refuse a root without the cap. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;

	dev = kzalloc(sizeof(*dev), GFP_KERNEL);
	if (!dev)
		return -ENOMEM;
	dev->file = file;
	file->private_data = dev;
	return 0;
}

static int vhu_release(struct inode *inode, struct file *file)
{
	struct vhu_dev *dev = file->private_data;

	kfree(dev);
	return 0;
}

static long vhu_get_api(void __user *argp)
{
	struct vhu_api api = {
		.abi_version = VHU_ABI_VERSION,
		.features = vhu_api_features(),
	};

	if (copy_to_user(argp, &api, sizeof(api)))
		return -EFAULT;
	return 0;
}

static long vhu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *argp = (void __user *)arg;

	switch (cmd) {
	case VHU_GET_API:
		return vhu_get_api(argp);
	default:
		return -ENOTTY;
	}
}

static const struct file_operations vhu_fops = {
	.owner		= THIS_MODULE,
	.open		= vhu_open,
	.release	= vhu_release,
	.unlocked_ioctl	= vhu_ioctl,
	.compat_ioctl	= compat_ptr_ioctl,
	.llseek		= noop_llseek,
};

static struct miscdevice vhu_misc = {
	.minor	= MISC_DYNAMIC_MINOR,
	.name	= VHU_DEVICE_NAME,
	.fops	= &vhu_fops,
	.mode	= 0600,
};

/**
 * vhu_device_init() - register /dev/vhu
 *
 * Context: module init.
 * Return: 0 or a negative errno.
 */
int vhu_device_init(void)
{
	return misc_register(&vhu_misc);
}

/**
 * vhu_device_exit() - unregister /dev/vhu
 *
 * Open files hold a reference on the module, so no instance exists here.
 *
 * Context: module exit.
 */
void vhu_device_exit(void)
{
	misc_deregister(&vhu_misc);
}
