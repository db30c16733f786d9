// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: the generic netlink family "vhu", for control tools.
 */

#include <linux/module.h>
#include <linux/mutex.h>
#include <net/genetlink.h>
#include <uapi/linux/vhu.h>

#include "vhu.h"

static struct genl_family vhu_genl_family;

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
};

static const struct genl_small_ops vhu_genl_ops[] = {
	{
		.cmd	= VHU_CMD_GET_VERSION,
		.doit	= vhu_genl_get_version,
	},
	{
		.cmd	= VHU_CMD_GET_STATS,
		.dumpit	= vhu_genl_get_stats,
		.flags	= GENL_ADMIN_PERM,
	},
};

static struct genl_family vhu_genl_family __ro_after_init = {
	.name		= VHU_GENL_NAME,
	.version	= VHU_GENL_VERSION,
	.maxattr	= VHU_ATTR_MAX,
	.policy		= vhu_genl_policy,
	.netnsok	= true,
	.module		= THIS_MODULE,
	.small_ops	= vhu_genl_ops,
	.n_small_ops	= ARRAY_SIZE(vhu_genl_ops),
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
