// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: talking to vhu.ko over the generic netlink family "vhu".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/vhu.h>

#include "vhuctl.h"

struct version_ctx {
	struct vhu_mod_version *out;
	bool got;
};

static int version_cb(struct nl_msg *msg, void *arg)
{
	static struct nla_policy pol[VHU_ATTR_MAX + 1] = {
		[VHU_ATTR_VERSION] = { .type = NLA_STRING },
		[VHU_ATTR_API_FEATURES] = { .type = NLA_U64 },
	};
	struct version_ctx *ctx = arg;
	struct nlattr *tb[VHU_ATTR_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, VHU_ATTR_MAX, pol) < 0)
		return NL_SKIP;
	if (tb[VHU_ATTR_VERSION])
		snprintf(ctx->out->version, sizeof(ctx->out->version), "%s",
			 nla_get_string(tb[VHU_ATTR_VERSION]));
	if (tb[VHU_ATTR_API_FEATURES])
		ctx->out->api_features = nla_get_u64(tb[VHU_ATTR_API_FEATURES]);
	ctx->got = true;
	return NL_OK;
}

/* The version of the loaded family: what its attributes mean. */
static int family_version(struct nl_sock *sk)
{
	struct genl_family *fam;
	struct nl_cache *cache;
	int version = -1;

	if (genl_ctrl_alloc_cache(sk, &cache) < 0)
		return -1;
	fam = genl_ctrl_search_by_name(cache, VHU_GENL_NAME);
	if (fam) {
		version = genl_family_get_version(fam);
		genl_family_put(fam);
	}
	nl_cache_free(cache);
	return version;
}

/*
 * Open a generic netlink socket and resolve the "vhu" family (which loads
 * the module if it is installed), so that every command reports a missing
 * module the same way, and refuse a module whose attributes mean something
 * else than vhuctl's. Returns the family id with *skp set (the caller frees
 * it), or -ENOMEM, -EIO, -ENOENT, -EPROTO with err set.
 */
int vhu_genl_open(struct nl_sock **skp, char *err, size_t errlen)
{
	struct nl_sock *sk = nl_socket_alloc();
	int family, ret;

	*skp = NULL;
	if (!sk) {
		snprintf(err, errlen, "cannot allocate a netlink socket");
		return -ENOMEM;
	}
	ret = genl_connect(sk);
	if (ret < 0) {
		snprintf(err, errlen, "cannot connect to generic netlink: %s",
			 nl_geterror(ret));
		nl_socket_free(sk);
		return -EIO;
	}
	family = genl_ctrl_resolve(sk, VHU_GENL_NAME);
	if (family < 0) {
		snprintf(err, errlen, "vhu module not loaded");
		nl_socket_free(sk);
		return -ENOENT;
	}
	ret = family_version(sk);
	if (ret != VHU_GENL_VERSION) {
		snprintf(err, errlen, "the loaded vhu module speaks netlink version %d, "
			 "vhuctl %d: load the vhu.ko of vhuctl's release (%s)",
			 ret, VHU_GENL_VERSION, VHU_VERSION);
		nl_socket_free(sk);
		return -EPROTO;
	}
	*skp = sk;
	return family;
}

int vhu_genl_get_version(struct vhu_mod_version *out, char *err, size_t errlen)
{
	struct version_ctx ctx = { .out = out };
	struct nl_sock *sk;
	struct nl_msg *msg = NULL;
	int family, ret;

	memset(out, 0, sizeof(*out));
	family = vhu_genl_open(&sk, err, errlen);
	if (family < 0)
		return family;
	msg = nlmsg_alloc();
	if (!msg ||
	    !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0, 0,
			 VHU_CMD_GET_VERSION, VHU_GENL_VERSION)) {
		snprintf(err, errlen, "cannot build a netlink message");
		ret = -ENOMEM;
		goto out;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, version_cb, &ctx);
	ret = nl_send_auto(sk, msg);
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	if (ret < 0) {
		snprintf(err, errlen, "VHU_CMD_GET_VERSION failed: %s",
			 nl_geterror(ret));
		ret = -EIO;
		goto out;
	}
	if (!ctx.got) {
		snprintf(err, errlen, "the vhu module sent no version");
		ret = -EPROTO;
		goto out;
	}
	ret = 0;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}
