// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: the /dev/vhu misc device. Each open is one device instance.
 */

#include <linux/capability.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/miscdevice.h>
#include <linux/module.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <uapi/linux/vhu.h>

#include "vhu.h"

/*
 * All devices, for netlink, sorted by id (a dump resumes by id); protected
 * by vhu_devs_lock.
 */
DEFINE_MUTEX(vhu_devs_lock);
LIST_HEAD(vhu_devs);
static DEFINE_IDA(vhu_ida);

static int vhu_open(struct inode *inode, struct file *file)
{
	struct vhu_dev *dev, *pos;
	int id, i;

	/* The mode of the node is 0600; also refuse a root without the cap. */
	if (!capable(CAP_SYS_ADMIN))
		return -EPERM;

	dev = kvzalloc(sizeof(*dev), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!dev)
		return -ENOMEM;
	id = ida_alloc(&vhu_ida, GFP_KERNEL);
	if (id < 0) {
		kvfree(dev);
		return id;
	}
	dev->id = id;
	dev->file = file;
	dev->write_cache = true;
	mutex_init(&dev->mutex);
	spin_lock_init(&dev->info_lock);
	/* Only notifications: never a "callbacks suppressed" line. */
	ratelimit_state_init(&dev->io_err_rs,
			     msecs_to_jiffies(VHU_EVENT_IO_ERROR_INTERVAL_MS),
			     VHU_EVENT_IO_ERROR_BURST);
	ratelimit_set_flags(&dev->io_err_rs, RATELIMIT_MSG_ON_RELEASE);
	init_llist_head(&dev->blocking);
	for (i = 0; i < VHU_MAX_QUEUES; i++)
		vhu_vq_init(dev, &dev->vqs[i], i);

	/* Ids are reused: insert before the first device with a larger one. */
	mutex_lock(&vhu_devs_lock);
	list_for_each_entry(pos, &vhu_devs, node)
		if (pos->id > dev->id)
			break;
	list_add_tail(&dev->node, &pos->node);
	mutex_unlock(&vhu_devs_lock);

	file->private_data = dev;
	return 0;
}

/* Stop every vring and drop what the owner gave us. */
static void vhu_dev_reset(struct vhu_dev *dev)
{
	struct vhu_backend_info *be;
	int i;

	lockdep_assert_held(&dev->mutex);

	for (i = 0; i < VHU_MAX_QUEUES; i++)
		vhu_vq_reset(&dev->vqs[i]);
	/* Nothing in flight: no blocking request is left for it. */
	vhu_worker_stop_dev(dev);
	vhu_mem_replace(dev, NULL, false);
	dev->mem_flags = 0;
	spin_lock(&dev->info_lock);
	be = dev->be;
	dev->be = NULL;
	dev->name[0] = '\0';
	spin_unlock(&dev->info_lock);
	vhu_blk_free_backend(be);
	WRITE_ONCE(dev->acked_features, 0);
	vhu_log_reset(dev);
	WRITE_ONCE(dev->write_cache, true);
	if (dev->mm) {
		mmput(dev->mm);
		dev->mm = NULL;
	}
	WRITE_ONCE(dev->owner_tgid, 0);
}

/* Tear the device down, however long its backend takes, and free it. */
static void vhu_dev_free(struct vhu_dev *dev)
{
	mutex_lock(&dev->mutex);
	vhu_dev_reset(dev);
	mutex_unlock(&dev->mutex);

	ida_free(&vhu_ida, dev->id);
	/* Completions and wakers run under RCU (vhu_req_complete()). */
	synchronize_rcu();
	kvfree(dev);
}

static void vhu_dev_free_work(struct work_struct *work)
{
	vhu_dev_free(container_of(work, struct vhu_dev, free_work));
	/* Taken by vhu_release(); vhu_exit() waits for us to return. */
	module_put(THIS_MODULE);
}

/*
 * The last close. Every vring stops and its requests in flight are used
 * before the device goes, but a backend that hangs must not keep a dying
 * owner from exiting: after VHU_EXIT_WAIT_MS the rest of the teardown
 * goes on in a kernel worker, which waits for the backend as long as it
 * takes. The device is off the list (and the netlink dump) at once.
 */
static int vhu_release(struct inode *inode, struct file *file)
{
	long timeout = msecs_to_jiffies(VHU_EXIT_WAIT_MS);
	struct vhu_dev *dev = file->private_data;
	bool busy = false;
	int i;

	mutex_lock(&vhu_devs_lock);
	list_del(&dev->node);
	mutex_unlock(&vhu_devs_lock);
	vhu_genl_notify(dev, VHU_EVENT_RELEASE, VHU_NO_QUEUE, 0);

	mutex_lock(&dev->mutex);
	for (i = 0; i < VHU_MAX_QUEUES && !busy; i++)
		busy = vhu_vq_stop(&dev->vqs[i], timeout, false) == -ETIMEDOUT;
	mutex_unlock(&dev->mutex);
	if (busy) {
		pr_warn("device %u: backend I/O still in flight after %u ms, tearing down in the background\n",
			dev->id, VHU_EXIT_WAIT_MS);
		__module_get(THIS_MODULE);
		INIT_WORK(&dev->free_work, vhu_dev_free_work);
		queue_work(system_long_wq, &dev->free_work);
		return 0;
	}
	vhu_dev_free(dev);
	return 0;
}

/*
 * The ioctl handlers. vhu_ioctl() calls them through vhu_ioctls[]: in
 * process context, with @dev->mutex held unless VHU_IOCTL_UNLOCKED, in the
 * owner's mm if VHU_IOCTL_OWNER. Each copies its own argument.
 */

static long vhu_get_api(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_api api = {
		.features = VHU_API_F_ALL,
		.virtio_features = VHU_BLK_ALL_FEATURES,
		.backend_flags = VHU_BACKEND_F_ALL,
		.vring_addr_flags = VHU_VRING_F_ALL,
		.max_mem_regions = VHU_MAX_MEM_REGIONS,
		.max_queues = VHU_MAX_QUEUES,
		.max_vring_num = VHU_MAX_VRING_NUM,
	};

	if (copy_to_user(argp, &api, sizeof(api)))
		return -EFAULT;
	return 0;
}

static u64 vhu_dev_features(struct vhu_dev *dev)
{
	lockdep_assert_held(&dev->mutex);
	return dev->be ? dev->be->features : VHU_BLK_BASE_FEATURES;
}

static long vhu_get_features(struct vhu_dev *dev, void __user *argp)
{
	return put_user(vhu_dev_features(dev), (u64 __user *)argp);
}

static long vhu_get_dev_info(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_dev_info info = {
		.dev_id = dev->id,
		.features = vhu_dev_features(dev),
		.acked_features = dev->acked_features,
	};

	if (dev->be) {
		info.caps = dev->be->caps;
		info.config = dev->be->config;
	}
	return copy_to_user(argp, &info, sizeof(info)) ? -EFAULT : 0;
}

static long vhu_set_owner(struct vhu_dev *dev, void __user *argp)
{
	struct mm_struct *mm;

	lockdep_assert_held(&dev->mutex);

	if (dev->mm)
		return -EBUSY;
	mm = get_task_mm(current);
	if (!mm)
		return -EINVAL;
	dev->mm = mm;
	WRITE_ONCE(dev->owner_tgid, task_tgid_nr(current));
	return 0;
}

static long vhu_reset_owner(struct vhu_dev *dev, void __user *argp)
{
	int i, ret;

	/* What waits for the backend, killably; then nothing is in flight. */
	for (i = 0; i < VHU_MAX_QUEUES; i++) {
		ret = vhu_vq_stop(&dev->vqs[i], MAX_SCHEDULE_TIMEOUT, true);
		if (ret)
			return ret;
	}
	/* Before the reset, which forgets the owner the event names. */
	vhu_genl_notify(dev, VHU_EVENT_RESET, VHU_NO_QUEUE, 0);
	vhu_dev_reset(dev);
	return 0;
}

/*
 * While vrings run, only VHOST_F_LOG_ALL may change: the frontend turns
 * dirty logging on and off around a live migration.
 */
static long vhu_set_features(struct vhu_dev *dev, void __user *argp)
{
	u64 features;

	lockdep_assert_held(&dev->mutex);

	if (copy_from_user(&features, argp, sizeof(features)))
		return -EFAULT;
	if (features & ~vhu_dev_features(dev))
		return -EINVAL;
	if ((features ^ dev->acked_features) & ~BIT_ULL(VHOST_F_LOG_ALL) &&
	    vhu_vq_any_enabled(dev))
		return -EBUSY;
	WRITE_ONCE(dev->acked_features, features);
	vhu_log_set_all(dev);
	return 0;
}

/*
 * Install a table built for a memory ioctl, unless it leaves an enabled
 * vring's rings out.
 */
static long vhu_install_mem_table(struct vhu_dev *dev, struct vhu_mem_table *t)
{
	int ret;

	lockdep_assert_held(&dev->mutex);

	if (IS_ERR(t))
		return PTR_ERR(t);
	ret = vhu_vq_check_mem(dev, t);
	if (!ret)
		ret = vhu_mem_pin_table(dev, t);
	if (ret) {
		vhu_mem_table_free(t);
		return ret;
	}
	return vhu_mem_replace(dev, t, true);
}

static long vhu_set_mem_table(struct vhu_dev *dev, void __user *argp)
{
	return vhu_install_mem_table(dev, vhu_mem_table_from_user(argp));
}

static long vhu_add_mem_region(struct vhu_dev *dev, void __user *argp)
{
	return vhu_install_mem_table(dev, vhu_mem_table_add(dev, argp));
}

static long vhu_del_mem_region(struct vhu_dev *dev, void __user *argp)
{
	return vhu_install_mem_table(dev, vhu_mem_table_del(dev, argp));
}

/*
 * VHU_SET_MEM_FLAGS: how the tables that follow are held. Only before the
 * first table and before any vring has a size (the vrings allocate the
 * room for pinned pieces with their size).
 */
static long vhu_set_mem_flags(struct vhu_dev *dev, void __user *argp)
{
	u32 flags;
	int i;

	lockdep_assert_held(&dev->mutex);

	if (get_user(flags, (u32 __user *)argp))
		return -EFAULT;
	if (flags & ~VHU_MEM_F_ALL)
		return -EINVAL;
	if (vhu_mem_present(dev))
		return -EBUSY;
	for (i = 0; i < VHU_MAX_QUEUES; i++)
		if (READ_ONCE(dev->vqs[i].num))
			return -EBUSY;
	dev->mem_flags = flags;
	return 0;
}

static long vhu_set_backend(struct vhu_dev *dev, void __user *argp)
{
	lockdep_assert_held(&dev->mutex);

	if (vhu_vq_any_enabled(dev))
		return -EBUSY;
	return vhu_blk_set_backend(dev, argp);
}

static long vhu_set_write_cache(struct vhu_dev *dev, void __user *argp)
{
	u32 wce;

	lockdep_assert_held(&dev->mutex);

	if (get_user(wce, (u32 __user *)argp))
		return -EFAULT;
	if (wce > 1)
		return -EINVAL;
	WRITE_ONCE(dev->write_cache, wce);
	return 0;
}

static long vhu_set_capacity(struct vhu_dev *dev, void __user *argp)
{
	return vhu_blk_set_capacity(dev, argp);
}

/*
 * A name is printable, NUL-terminated and NUL-padded: a later ABI may give
 * the bytes after the NUL a meaning.
 */
static long vhu_set_name(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_name *n;
	size_t len, i;
	long ret = -EINVAL;

	lockdep_assert_held(&dev->mutex);

	n = memdup_user(argp, sizeof(*n));
	if (IS_ERR(n))
		return PTR_ERR(n);
	if (n->reserved[0] || n->reserved[1])
		goto out;
	len = strnlen((const char *)n->name, sizeof(n->name));
	if (len == sizeof(n->name))
		goto out;
	for (i = 0; i < len; i++)
		if (n->name[i] < 0x20 || n->name[i] == 0x7f)
			goto out;
	if (memchr_inv(n->name + len, 0, sizeof(n->name) - len))
		goto out;
	BUILD_BUG_ON(sizeof(dev->name) != sizeof(n->name));
	spin_lock(&dev->info_lock);
	memcpy(dev->name, n->name, sizeof(dev->name));
	spin_unlock(&dev->info_lock);
	ret = 0;
out:
	kfree(n);
	return ret;
}

/* Only the owner's mm may call it: -EPERM otherwise. */
#define VHU_IOCTL_OWNER		BIT(0)
/* Runs without @dev->mutex. */
#define VHU_IOCTL_UNLOCKED	BIT(1)

/**
 * struct vhu_ioctl_desc - one ioctl of /dev/vhu
 * @cmd: the command, with its size and direction
 * @flags: VHU_IOCTL_* bits
 * @fn: the handler
 */
struct vhu_ioctl_desc {
	unsigned int cmd;
	unsigned int flags;
	long (*fn)(struct vhu_dev *dev, void __user *argp);
};

#define VHU_IOCTL_DEF(_cmd, _fn, _flags) \
	{ .cmd = _cmd, .flags = _flags, .fn = _fn }

/* Every ioctl; a command not listed here fails with -ENOTTY. */
static const struct vhu_ioctl_desc vhu_ioctls[] = {
	VHU_IOCTL_DEF(VHU_GET_API, vhu_get_api, VHU_IOCTL_UNLOCKED),
	VHU_IOCTL_DEF(VHU_GET_FEATURES, vhu_get_features, 0),
	VHU_IOCTL_DEF(VHU_GET_DEV_INFO, vhu_get_dev_info, 0),
	VHU_IOCTL_DEF(VHU_SET_OWNER, vhu_set_owner, 0),
	VHU_IOCTL_DEF(VHU_RESET_OWNER, vhu_reset_owner, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_FEATURES, vhu_set_features, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_MEM_TABLE, vhu_set_mem_table, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_ADD_MEM_REGION, vhu_add_mem_region, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_DEL_MEM_REGION, vhu_del_mem_region, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_MEM_FLAGS, vhu_set_mem_flags, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_BACKEND, vhu_set_backend, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_WRITE_CACHE, vhu_set_write_cache, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_CAPACITY, vhu_set_capacity, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_NAME, vhu_set_name, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_LOG_BASE, vhu_log_set_base, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_VRING_NUM, vhu_set_vring_num, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_VRING_ADDR, vhu_set_vring_addr, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_VRING_BASE, vhu_set_vring_base, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_GET_VRING_BASE, vhu_get_vring_base, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_VRING_KICK, vhu_set_vring_kick, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_VRING_CALL, vhu_set_vring_call, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_VRING_ERR, vhu_set_vring_err, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_VRING_ENABLE, vhu_set_vring_enable, VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_VRING_INFLIGHT, vhu_set_vring_inflight,
		      VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_SET_VRING_BUSY_POLL, vhu_set_vring_busy_poll,
		      VHU_IOCTL_OWNER),
	VHU_IOCTL_DEF(VHU_GET_VRING_BUSY_POLL, vhu_get_vring_busy_poll,
		      VHU_IOCTL_OWNER),
};

static long vhu_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	struct vhu_dev *dev = file->private_data;
	void __user *argp = (void __user *)arg;
	const struct vhu_ioctl_desc *d = NULL;
	unsigned int i;
	long ret;

	for (i = 0; i < ARRAY_SIZE(vhu_ioctls); i++) {
		if (vhu_ioctls[i].cmd == cmd) {
			d = &vhu_ioctls[i];
			break;
		}
	}
	if (!d)
		return -ENOTTY;
	if (d->flags & VHU_IOCTL_UNLOCKED)
		return d->fn(dev, argp);

	mutex_lock(&dev->mutex);
	if ((d->flags & VHU_IOCTL_OWNER) && (!dev->mm || current->mm != dev->mm))
		ret = -EPERM;
	else
		ret = d->fn(dev, argp);
	mutex_unlock(&dev->mutex);
	return ret;
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
	.minor	= VHU_DEVICE_MINOR,
	.name	= VHU_DEVICE_NAME,
	.fops	= &vhu_fops,
	.mode	= 0600,
};

int vhu_device_init(void)
{
	return misc_register(&vhu_misc);
}

/* Open files hold a reference on the module: no device exists any more. */
void vhu_device_exit(void)
{
	misc_deregister(&vhu_misc);
	ida_destroy(&vhu_ida);
}

MODULE_ALIAS_MISCDEV(VHU_DEVICE_MINOR);
MODULE_ALIAS("devname:" VHU_DEVICE_NAME);
