// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: vhost-user block backend with an in-kernel datapath.
 *
 * Module entry points. Init brings up the pieces in order and exit takes
 * them down in the reverse order.
 */

#include <linux/module.h>
#include <linux/kernel.h>
#include <uapi/linux/vhu.h>

#include "vhu.h"

static int __init vhu_init(void)
{
	int ret;

	ret = vhu_genl_init();
	if (ret)
		return ret;

	ret = vhu_device_init();
	if (ret)
		goto err_genl;

	pr_info("version %s loaded\n", VHU_VERSION);
	return 0;

err_genl:
	vhu_genl_exit();
	return ret;
}

static void __exit vhu_exit(void)
{
	vhu_device_exit();
	vhu_genl_exit();
}

module_init(vhu_init);
module_exit(vhu_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vhost-user block backend with an in-kernel datapath");
MODULE_AUTHOR("The vhu authors");
MODULE_VERSION(VHU_VERSION);
