// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: the generic netlink family "vhu", for control tools.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/module.h>
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
	    nla_put_u32(msg, VHU_ATTR_ABI_VERSION, VHU_ABI_VERSION) ||
	    nla_put_u64_64bit(msg, VHU_ATTR_API_FEATURES, vhu_api_features(),
			      VHU_ATTR_PAD))
		goto err_free;

	genlmsg_end(msg, hdr);
	return genlmsg_reply(msg, info);

err_free:
	nlmsg_free(msg);
	return -EMSGSIZE;
}

static const struct nla_policy vhu_genl_policy[VHU_ATTR_MAX + 1] = {
	[VHU_ATTR_VERSION]	= { .type = NLA_NUL_STRING },
	[VHU_ATTR_ABI_VERSION]	= { .type = NLA_U32 },
	[VHU_ATTR_API_FEATURES]	= { .type = NLA_U64 },
};

static const struct genl_small_ops vhu_genl_ops[] = {
	{
		.cmd	= VHU_CMD_GET_VERSION,
		.doit	= vhu_genl_get_version,
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

/**
 * vhu_genl_init() - register the "vhu" generic netlink family
 *
 * Context: module init.
 * Return: 0 or a negative errno.
 */
int vhu_genl_init(void)
{
	return genl_register_family(&vhu_genl_family);
}

/**
 * vhu_genl_exit() - unregister the "vhu" generic netlink family
 *
 * Context: module exit.
 */
void vhu_genl_exit(void)
{
	genl_unregister_family(&vhu_genl_family);
}

MODULE_ALIAS_GENL_FAMILY(VHU_GENL_NAME);
