// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: the generic netlink family "vhu", for control tools.
 *
 * The dumps walk vhu_devs under vhu_devs_lock, which keeps every listed
 * device alive (vhu_release() unlists it first). They never take a
 * device's mutex, which a hung backend can hold for as long as it hangs:
 * what they read is published with WRITE_ONCE() or under the device's
 * info_lock.
 */

#include <linux/capability.h>
#include <linux/dcache.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <net/genetlink.h>
#include <uapi/linux/vhu.h>

#include "vhu.h"

static struct genl_family vhu_genl_family;

enum vhu_genl_mcgrp {
	VHU_GENL_MCGRP_EVENTS,
};

static const struct genl_multicast_group vhu_genl_mcgrps[] = {
	[VHU_GENL_MCGRP_EVENTS] = {
		.name	= VHU_MCGRP_EVENTS,
		.flags	= GENL_MCAST_CAP_NET_ADMIN,
	},
};

/*
 * Who may see a device: a caller with CAP_NET_ADMIN (checked as
 * GENL_ADMIN_PERM does, on the socket's opener and the caller) any
 * device, another caller the devices its own process owns. @tgid is the
 * caller's thread group id, in the initial pid namespace as owner_tgid.
 */
static bool vhu_genl_may_see(const struct vhu_dev *dev, bool admin,
			     pid_t tgid)
{
	return admin || READ_ONCE(dev->owner_tgid) == tgid;
}

/*
 * The dumps' .start runs in the requesting task: it records who asks, as
 * the later parts of the dump may run in whichever task reads the socket.
 * cb->args[0] and [1] are the dumps' positions.
 */
#define VHU_CB_ADMIN	2
#define VHU_CB_TGID	3

static int vhu_genl_dump_start(struct netlink_callback *cb)
{
	cb->args[VHU_CB_ADMIN] = netlink_capable(cb->skb, CAP_NET_ADMIN);
	cb->args[VHU_CB_TGID] = task_tgid_nr(current);
	return 0;
}

static bool vhu_genl_dump_may_see(struct netlink_callback *cb,
				  const struct vhu_dev *dev)
{
	return vhu_genl_may_see(dev, cb->args[VHU_CB_ADMIN],
				cb->args[VHU_CB_TGID]);
}

static int vhu_genl_get_version(struct sk_buff *skb, struct genl_info *info)
{
	struct sk_buff *msg;
	void *hdr;

	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;

	hdr = genlmsg_put_reply(msg, info, &vhu_genl_family, 0,
				VHU_CMD_GET_VERSION);
	if (!hdr)
		goto err_free;

	if (nla_put_string(msg, VHU_ATTR_VERSION, VHU_VERSION) ||
	    nla_put_u64_64bit(msg, VHU_ATTR_API_FEATURES, VHU_API_F_ALL,
			      VHU_ATTR_PAD) ||
	    nla_put_u64_64bit(msg, VHU_ATTR_VIRTIO_FEATURES,
			      VHU_BLK_ALL_FEATURES, VHU_ATTR_PAD) ||
	    nla_put_u32(msg, VHU_ATTR_BACKEND_FLAGS, VHU_BACKEND_F_ALL) ||
	    nla_put_u32(msg, VHU_ATTR_MAX_MEM_REGIONS, VHU_MAX_MEM_REGIONS))
		goto err_free;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static int vhu_put_stats(struct sk_buff *msg, struct vhu_vq *vq)
{
	static const struct {
		int attr;
		size_t off;
	} ctrs[] = {
#define VHU_STAT(a, f) { VHU_STATS_A_##a, offsetof(struct vhu_vq_stats, f) }
		VHU_STAT(REQS_IN, reqs_in),
		VHU_STAT(REQS_OUT, reqs_out),
		VHU_STAT(REQS_FLUSH, reqs_flush),
		VHU_STAT(REQS_GET_ID, reqs_get_id),
		VHU_STAT(REQS_DISCARD, reqs_discard),
		VHU_STAT(REQS_WRITE_ZEROES, reqs_write_zeroes),
		VHU_STAT(REQS_UNSUPP, reqs_unsupp),
		VHU_STAT(REQS_IOERR, reqs_ioerr),
		VHU_STAT(BYTES_READ, bytes_read),
		VHU_STAT(BYTES_WRITTEN, bytes_written),
		VHU_STAT(RING_ERRORS, ring_errors),
		VHU_STAT(CALLS, calls),
		VHU_STAT(LOG_SKIPPED, log_skipped),
#undef VHU_STAT
	};
	struct nlattr *nest;
	size_t i;

	nest = nla_nest_start(msg, VHU_ATTR_STATS);
	if (!nest)
		return -EMSGSIZE;
	if (nla_put_u32(msg, VHU_STATS_A_STATE, vhu_vq_status(vq)) ||
	    nla_put_u64_64bit(msg, VHU_STATS_A_INFLIGHT,
			      atomic_read(&vq->inflight), VHU_STATS_A_PAD) ||
	    nla_put_u64_64bit(msg, VHU_STATS_A_KICKS,
			      atomic64_read(&vq->kicks), VHU_STATS_A_PAD) ||
	    nla_put_u64_64bit(msg, VHU_STATS_A_POLLS,
			      atomic64_read(&vq->polls), VHU_STATS_A_PAD) ||
	    nla_put_u64_64bit(msg, VHU_STATS_A_POLL_HITS,
			      atomic64_read(&vq->poll_hits), VHU_STATS_A_PAD) ||
	    nla_put_u64_64bit(msg, VHU_STATS_A_POLL_NS,
			      READ_ONCE(vq->poll_ns), VHU_STATS_A_PAD) ||
	    nla_put_u64_64bit(msg, VHU_STATS_A_LAST_AVAIL_IDX,
			      READ_ONCE(vq->last_avail_idx), VHU_STATS_A_PAD))
		goto err_cancel;
	for (i = 0; i < ARRAY_SIZE(ctrs); i++) {
		const u64 *v = (const void *)&vq->stats + ctrs[i].off;

		if (nla_put_u64_64bit(msg, ctrs[i].attr, READ_ONCE(*v),
				      VHU_STATS_A_PAD))
			goto err_cancel;
	}
	nla_nest_end(msg, nest);
	return 0;

err_cancel:
	nla_nest_cancel(msg, nest);
	return -EMSGSIZE;
}

static int vhu_genl_fill_queue(struct sk_buff *msg, struct netlink_callback *cb,
			       struct vhu_dev *dev, u32 index)
{
	void *hdr;

	hdr = genlmsg_put(msg, NETLINK_CB(cb->skb).portid, cb->nlh->nlmsg_seq,
			  &vhu_genl_family, NLM_F_MULTI, VHU_CMD_GET_STATS);
	if (!hdr)
		return -EMSGSIZE;
	if (nla_put_u32(msg, VHU_ATTR_DEV_ID, dev->id) ||
	    nla_put_u32(msg, VHU_ATTR_OWNER_PID, READ_ONCE(dev->owner_tgid)) ||
	    nla_put_u32(msg, VHU_ATTR_QUEUE, index) ||
	    vhu_put_stats(msg, &dev->vqs[index])) {
		genlmsg_cancel(msg, hdr);
		return -EMSGSIZE;
	}
	genlmsg_end(msg, hdr);
	return 0;
}

/*
 * One message per configured vring of every device (or of the device in
 * VHU_ATTR_DEV_ID). cb->args[0]: next device id, args[1]: next vring.
 */
static int vhu_genl_get_stats(struct sk_buff *msg, struct netlink_callback *cb)
{
	struct nlattr *id_attr = genl_info_dump(cb)->attrs[VHU_ATTR_DEV_ID];
	struct vhu_dev *dev;
	int ret = 0;

	mutex_lock(&vhu_devs_lock);
	list_for_each_entry(dev, &vhu_devs, node) {
		u32 q;

		if (dev->id < cb->args[0])
			continue;
		if (id_attr && dev->id != nla_get_u32(id_attr))
			continue;
		if (!vhu_genl_dump_may_see(cb, dev))
			continue;
		if (dev->id > cb->args[0]) {
			cb->args[0] = dev->id;
			cb->args[1] = 0;
		}
		for (q = cb->args[1]; q < VHU_MAX_QUEUES; q++) {
			if (!READ_ONCE(dev->vqs[q].num))
				continue;
			ret = vhu_genl_fill_queue(msg, cb, dev, q);
			if (ret)
				break;
		}
		if (ret) {
			cb->args[1] = q;
			break;
		}
		cb->args[0] = dev->id + 1;
		cb->args[1] = 0;
	}
	mutex_unlock(&vhu_devs_lock);
	/* A full skb ends this part of the dump; the next one resumes. */
	return ret ? msg->len : 0;
}

/* What VHU_CMD_GET_DEV reports of a device, copied under its info_lock. */
struct vhu_genl_dev {
	char name[VHU_NAME_BYTES];
	struct file *backing;
	struct vhu_blk_config config;
	u64 caps;
	u64 features;
};

static void vhu_genl_dev_snapshot(struct vhu_dev *dev, struct vhu_genl_dev *s)
{
	spin_lock(&dev->info_lock);
	memcpy(s->name, dev->name, sizeof(s->name));
	if (dev->be) {
		s->backing = get_file(dev->be->file);
		s->config = dev->be->config;
		s->caps = dev->be->caps;
		s->features = dev->be->features;
	} else {
		s->backing = NULL;
		s->features = VHU_BLK_BASE_FEATURES;
	}
	spin_unlock(&dev->info_lock);
}

static int vhu_genl_put_backend(struct sk_buff *msg, const struct vhu_genl_dev *s,
				bool with_path)
{
	char *buf, *path;
	int ret;

	buf = kmalloc(PATH_MAX, GFP_KERNEL);
	if (!buf)
		return -ENOMEM;
	path = d_path(&s->backing->f_path, buf, PATH_MAX);
	if (IS_ERR(path)) {
		ret = PTR_ERR(path);
		goto out;
	}
	ret = -EMSGSIZE;
	if ((with_path && nla_put_string(msg, VHU_ATTR_BACKING, path)) ||
	    nla_put_u64_64bit(msg, VHU_ATTR_CAPACITY,
			      s->config.capacity << SECTOR_SHIFT, VHU_ATTR_PAD) ||
	    nla_put_u32(msg, VHU_ATTR_BLK_SIZE, s->config.blk_size) ||
	    nla_put_u8(msg, VHU_ATTR_READONLY, !(s->caps & VHU_CAP_WRITE)) ||
	    nla_put_u64_64bit(msg, VHU_ATTR_CAPS, s->caps, VHU_ATTR_PAD) ||
	    nla_put_u32(msg, VHU_ATTR_NUM_QUEUES, s->config.num_queues))
		goto out;
	ret = 0;
out:
	kfree(buf);
	return ret;
}

/*
 * One VHU_CMD_GET_DEV message for @dev, without VHU_ATTR_BACKING unless
 * @with_path; -EMSGSIZE when @msg is full.
 */
static int vhu_genl_fill_dev(struct sk_buff *msg, u32 portid, u32 seq,
			     int flags, struct vhu_dev *dev, bool with_path)
{
	struct vhu_genl_dev *s;
	u32 nvrings = 0, q;
	void *hdr;
	int ret;

	s = kmalloc(sizeof(*s), GFP_KERNEL);
	if (!s)
		return -ENOMEM;
	vhu_genl_dev_snapshot(dev, s);
	for (q = 0; q < VHU_MAX_QUEUES; q++)
		nvrings += !!READ_ONCE(dev->vqs[q].num);

	ret = -EMSGSIZE;
	hdr = genlmsg_put(msg, portid, seq, &vhu_genl_family, flags,
			  VHU_CMD_GET_DEV);
	if (!hdr)
		goto out;
	if (nla_put_u32(msg, VHU_ATTR_DEV_ID, dev->id) ||
	    nla_put_u32(msg, VHU_ATTR_OWNER_PID, READ_ONCE(dev->owner_tgid)) ||
	    nla_put_u64_64bit(msg, VHU_ATTR_FEATURES, s->features,
			      VHU_ATTR_PAD) ||
	    nla_put_u64_64bit(msg, VHU_ATTR_ACKED_FEATURES,
			      READ_ONCE(dev->acked_features), VHU_ATTR_PAD) ||
	    nla_put_u32(msg, VHU_ATTR_NUM_VRINGS, nvrings) ||
	    (s->name[0] && nla_put_string(msg, VHU_ATTR_NAME, s->name)))
		goto err_cancel;
	if (s->backing) {
		ret = vhu_genl_put_backend(msg, s, with_path);
		if (ret)
			goto err_cancel;
	}
	genlmsg_end(msg, hdr);
	ret = 0;
	goto out;

err_cancel:
	genlmsg_cancel(msg, hdr);
out:
	if (s->backing)
		fput(s->backing);
	kfree(s);
	return ret;
}

static int vhu_genl_get_dev_doit(struct sk_buff *skb, struct genl_info *info)
{
	bool admin = netlink_capable(skb, CAP_NET_ADMIN);
	struct vhu_dev *dev;
	struct sk_buff *msg;
	u32 id;
	int ret;

	if (GENL_REQ_ATTR_CHECK(info, VHU_ATTR_DEV_ID))
		return -EINVAL;
	id = nla_get_u32(info->attrs[VHU_ATTR_DEV_ID]);

	/* A name and a path: more than the default size may be needed. */
	msg = genlmsg_new(NLMSG_GOODSIZE + PATH_MAX, GFP_KERNEL);
	if (!msg)
		return -ENOMEM;
	ret = -ENOENT;
	mutex_lock(&vhu_devs_lock);
	list_for_each_entry(dev, &vhu_devs, node) {
		if (dev->id != id)
			continue;
		ret = -EPERM;
		if (vhu_genl_may_see(dev, admin, task_tgid_nr(current)))
			ret = vhu_genl_fill_dev(msg, info->snd_portid,
						info->snd_seq, 0, dev, true);
		break;
	}
	mutex_unlock(&vhu_devs_lock);
	if (ret) {
		if (ret == -ENOENT)
			NL_SET_ERR_MSG_ATTR(info->extack,
					    info->attrs[VHU_ATTR_DEV_ID],
					    "no such device");
		nlmsg_free(msg);
		return ret;
	}
	return genlmsg_reply(msg, info);
}

/* Every device the caller may see; cb->args[0]: the next device id. */
static int vhu_genl_get_dev_dumpit(struct sk_buff *msg,
				   struct netlink_callback *cb)
{
	struct vhu_dev *dev;
	int ret = 0;

	mutex_lock(&vhu_devs_lock);
	list_for_each_entry(dev, &vhu_devs, node) {
		if (dev->id < cb->args[0] || !vhu_genl_dump_may_see(cb, dev))
			continue;
		ret = vhu_genl_fill_dev(msg, NETLINK_CB(cb->skb).portid,
					cb->nlh->nlmsg_seq, NLM_F_MULTI, dev, true);
		/*
		 * A dump's skb may be smaller than a path can be long: a
		 * device that fits no skb goes without its path rather than
		 * failing the dump.
		 */
		if (ret == -EMSGSIZE && !msg->len)
			ret = vhu_genl_fill_dev(msg, NETLINK_CB(cb->skb).portid,
						cb->nlh->nlmsg_seq, NLM_F_MULTI,
						dev, false);
		if (ret)
			break;
		cb->args[0] = dev->id + 1;
	}
	mutex_unlock(&vhu_devs_lock);
	if (ret == -EMSGSIZE && msg->len)
		return msg->len;	/* the next part resumes */
	return ret;
}

/**
 * vhu_genl_notify() - tell the "events" group about a device
 * @dev: the device
 * @event: what happened
 * @queue: the vring, or VHU_NO_QUEUE
 * @capacity: the new capacity in bytes, for VHU_EVENT_CAPACITY
 *
 * Nothing is built while nobody listens. A notification that cannot be
 * allocated or sent is lost: the members see ENOBUFS on their sockets
 * when the kernel drops one for them, and the counters stay exact.
 *
 * Context: process context (may sleep to allocate); any of the module's
 * locks may be held, as netlink takes none of them.
 */
void vhu_genl_notify(struct vhu_dev *dev, enum vhu_event event, u32 queue,
		     u64 capacity)
{
	struct sk_buff *msg;
	void *hdr;

	might_sleep();
	if (!genl_has_listeners(&vhu_genl_family, &init_net,
				VHU_GENL_MCGRP_EVENTS))
		return;
	msg = genlmsg_new(NLMSG_DEFAULT_SIZE, GFP_KERNEL);
	if (!msg)
		return;
	hdr = genlmsg_put(msg, 0, 0, &vhu_genl_family, 0, VHU_CMD_EVENT);
	if (!hdr)
		goto err_free;
	if (nla_put_u32(msg, VHU_ATTR_EVENT, event) ||
	    nla_put_u32(msg, VHU_ATTR_DEV_ID, dev->id) ||
	    nla_put_u32(msg, VHU_ATTR_OWNER_PID, READ_ONCE(dev->owner_tgid)) ||
	    (queue != VHU_NO_QUEUE && nla_put_u32(msg, VHU_ATTR_QUEUE, queue)) ||
	    (event == VHU_EVENT_CAPACITY &&
	     nla_put_u64_64bit(msg, VHU_ATTR_CAPACITY, capacity, VHU_ATTR_PAD)))
		goto err_free;
	genlmsg_end(msg, hdr);
	genlmsg_multicast(&vhu_genl_family, msg, 0, VHU_GENL_MCGRP_EVENTS,
			  GFP_KERNEL);
	return;

err_free:
	nlmsg_free(msg);
}

static const struct nla_policy vhu_genl_policy[VHU_ATTR_MAX + 1] = {
	[VHU_ATTR_VERSION]	= { .type = NLA_NUL_STRING },
	[VHU_ATTR_API_FEATURES]	= { .type = NLA_U64 },
	[VHU_ATTR_VIRTIO_FEATURES] = { .type = NLA_U64 },
	[VHU_ATTR_BACKEND_FLAGS] = { .type = NLA_U32 },
	[VHU_ATTR_MAX_MEM_REGIONS] = { .type = NLA_U32 },
	[VHU_ATTR_DEV_ID]	= { .type = NLA_U32 },
	[VHU_ATTR_OWNER_PID]	= { .type = NLA_U32 },
	[VHU_ATTR_QUEUE]	= { .type = NLA_U32 },
	[VHU_ATTR_STATS]	= { .type = NLA_NESTED },
	[VHU_ATTR_NAME]		= { .type = NLA_NUL_STRING },
	[VHU_ATTR_BACKING]	= { .type = NLA_NUL_STRING },
	[VHU_ATTR_CAPACITY]	= { .type = NLA_U64 },
	[VHU_ATTR_BLK_SIZE]	= { .type = NLA_U32 },
	[VHU_ATTR_READONLY]	= { .type = NLA_U8 },
	[VHU_ATTR_FEATURES]	= { .type = NLA_U64 },
	[VHU_ATTR_ACKED_FEATURES] = { .type = NLA_U64 },
	[VHU_ATTR_CAPS]		= { .type = NLA_U64 },
	[VHU_ATTR_NUM_QUEUES]	= { .type = NLA_U32 },
	[VHU_ATTR_NUM_VRINGS]	= { .type = NLA_U32 },
	[VHU_ATTR_EVENT]	= { .type = NLA_U32 },
};

/*
 * No GENL_ADMIN_PERM on the device commands: a caller without
 * CAP_NET_ADMIN sees its own devices (vhu_genl_may_see()).
 */
static const struct genl_ops vhu_genl_ops[] = {
	{
		.cmd	= VHU_CMD_GET_VERSION,
		.doit	= vhu_genl_get_version,
	},
	{
		.cmd	= VHU_CMD_GET_STATS,
		.start	= vhu_genl_dump_start,
		.dumpit	= vhu_genl_get_stats,
	},
	{
		.cmd	= VHU_CMD_GET_DEV,
		.doit	= vhu_genl_get_dev_doit,
		.start	= vhu_genl_dump_start,
		.dumpit	= vhu_genl_get_dev_dumpit,
	},
};

static struct genl_family vhu_genl_family __ro_after_init = {
	.name		= VHU_GENL_NAME,
	.version	= VHU_GENL_VERSION,
	.maxattr	= VHU_ATTR_MAX,
	.policy		= vhu_genl_policy,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.ops		= vhu_genl_ops,
	.n_ops		= ARRAY_SIZE(vhu_genl_ops),
	.mcgrps		= vhu_genl_mcgrps,
	.n_mcgrps	= ARRAY_SIZE(vhu_genl_mcgrps),
	.resv_start_op	= VHU_CMD_GET_VERSION + 1,
};

int vhu_genl_init(void)
{
	return genl_register_family(&vhu_genl_family);
}

void vhu_genl_exit(void)
{
	genl_unregister_family(&vhu_genl_family);
}

MODULE_ALIAS_GENL_FAMILY(VHU_GENL_NAME);
