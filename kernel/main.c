// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: vhost-user block backend with an in-kernel datapath.
 *
 * Module entry points. Init brings up the pieces in order and exit takes
 * them down in the reverse order.
 */

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/rcupdate.h>
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
	/*
	 * Every device is gone, but a task may still be returning through
	 * our code: a completion that used its request (vhu_req_complete())
	 * and was preempted on its way back to the block layer (a direct I/O
	 * completion runs in a kworker), or the worker that freed a device
	 * and dropped our module reference (vhu_dev_free_work()). Past
	 * rcu_read_unlock() neither is in an RCU read-side section, so the
	 * grace period the module loader waits for does not cover them. An
	 * RCU Tasks grace period does: it ends only once every task that was
	 * running or preempted has switched voluntarily, and our code never
	 * sleeps on those paths. Completions in interrupt context are covered
	 * by the loader's synchronize_rcu().
	 */
	synchronize_rcu_tasks();
}

module_init(vhu_init);
module_exit(vhu_exit);

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("vhost-user block backend with an in-kernel datapath");
MODULE_AUTHOR("The vhu authors");
MODULE_VERSION(VHU_VERSION);
