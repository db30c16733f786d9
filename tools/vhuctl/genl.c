// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: talking to vhu.ko over the generic netlink family "vhu".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/vhu.h>

#include "genl.h"
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

/* ---- devices: VHU_CMD_GET_DEV ---- */

struct devs_ctx {
	int (*fn)(const struct vhu_genl_dev *dev, void *arg);
	void *arg;
	int ret;		/* fn()'s first nonzero return */
	struct vhu_genl_dev dev;
};

static int devs_cb(struct nl_msg *msg, void *arg)
{
	struct devs_ctx *ctx = arg;
	struct vhu_genl_dev *d = &ctx->dev;
	struct nlattr *tb[VHU_ATTR_MAX + 1];

	if (ctx->ret)
		return NL_SKIP;
	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, VHU_ATTR_MAX, NULL) < 0 ||
	    !tb[VHU_ATTR_DEV_ID])
		return NL_SKIP;
	memset(d, 0, sizeof(*d));
	d->dev_id = nla_get_u32(tb[VHU_ATTR_DEV_ID]);
#define U32(a, f) do { if (tb[a]) d->f = nla_get_u32(tb[a]); } while (0)
#define U64(a, f) do { if (tb[a]) d->f = nla_get_u64(tb[a]); } while (0)
	U32(VHU_ATTR_OWNER_PID, owner_pid);
	U32(VHU_ATTR_BLK_SIZE, blk_size);
	U32(VHU_ATTR_NUM_QUEUES, num_queues);
	U32(VHU_ATTR_NUM_VRINGS, num_vrings);
	U64(VHU_ATTR_CAPACITY, capacity);
	U64(VHU_ATTR_CAPS, caps);
	U64(VHU_ATTR_FEATURES, features);
	U64(VHU_ATTR_ACKED_FEATURES, acked_features);
#undef U32
#undef U64
	if (tb[VHU_ATTR_READONLY])
		d->readonly = nla_get_u8(tb[VHU_ATTR_READONLY]);
	if (tb[VHU_ATTR_NAME])
		snprintf(d->name, sizeof(d->name), "%s",
			 nla_get_string(tb[VHU_ATTR_NAME]));
	if (tb[VHU_ATTR_BACKING]) {
		d->has_backend = true;
		snprintf(d->backing, sizeof(d->backing), "%s",
			 nla_get_string(tb[VHU_ATTR_BACKING]));
	}
	ctx->ret = ctx->fn(d, ctx->arg);
	return NL_OK;
}

int vhu_genl_get_devs(long dev_id,
		      int (*fn)(const struct vhu_genl_dev *dev, void *arg),
		      void *arg, char *err, size_t errlen)
{
	struct devs_ctx *ctx;
	struct nl_sock *sk;
	struct nl_msg *msg = NULL;
	int family, ret;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ctx->fn = fn;
	ctx->arg = arg;
	family = vhu_genl_open(&sk, err, errlen);
	if (family < 0) {
		free(ctx);
		return family;
	}
	msg = nlmsg_alloc();
	if (!msg ||
	    !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
			 dev_id < 0 ? NLM_F_DUMP : 0, VHU_CMD_GET_DEV,
			 VHU_GENL_VERSION) ||
	    (dev_id >= 0 && nla_put_u32(msg, VHU_ATTR_DEV_ID, dev_id) < 0)) {
		snprintf(err, errlen, "cannot build a netlink message");
		ret = -ENOMEM;
		goto out;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, devs_cb, ctx);
	ret = nl_send_auto(sk, msg);
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	if (ret < 0) {
		switch (ret) {
		case -NLE_OBJ_NOTFOUND:
			snprintf(err, errlen, "no vhu device %ld", dev_id);
			ret = -ENOENT;
			break;
		case -NLE_PERM:
			snprintf(err, errlen, "vhu device %ld belongs to another "
				 "process (needs CAP_NET_ADMIN)", dev_id);
			ret = -EPERM;
			break;
		case -NLE_OPNOTSUPP:
			snprintf(err, errlen, "the loaded vhu module cannot describe "
				 "its devices (no VHU_API_F_DEV_INFO)");
			ret = -EOPNOTSUPP;
			break;
		default:
			snprintf(err, errlen, "VHU_CMD_GET_DEV failed: %s",
				 nl_geterror(ret));
			ret = -EIO;
		}
		goto out;
	}
	ret = ctx->ret;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	free(ctx);
	return ret;
}

/* ---- the "events" group ---- */

struct vhu_genl_events {
	struct nl_sock *sk;
	int family;
	unsigned char buf[8192];	/* one notification: a few dozen bytes */
};

int vhu_genl_events_open(struct vhu_genl_events **evp, char *err,
			 size_t errlen)
{
	struct vhu_genl_events *ev;
	int grp, ret;

	*evp = NULL;
	ev = calloc(1, sizeof(*ev));
	if (!ev) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ev->family = vhu_genl_open(&ev->sk, err, errlen);
	if (ev->family < 0) {
		ret = ev->family;
		free(ev);
		return ret;
	}
	grp = genl_ctrl_resolve_grp(ev->sk, VHU_GENL_NAME, VHU_MCGRP_EVENTS);
	if (grp < 0) {
		snprintf(err, errlen, "the loaded vhu module has no \"%s\" group "
			 "(no VHU_API_F_EVENTS)", VHU_MCGRP_EVENTS);
		ret = -EOPNOTSUPP;
		goto err;
	}
	ret = nl_socket_add_membership(ev->sk, grp);
	if (ret < 0) {
		snprintf(err, errlen, "cannot join the vhu \"%s\" group: %s%s",
			 VHU_MCGRP_EVENTS, nl_geterror(ret),
			 ret == -NLE_PERM ? " (needs CAP_NET_ADMIN)" : "");
		ret = ret == -NLE_PERM ? -EPERM : -EIO;
		goto err;
	}
	ret = nl_socket_set_nonblocking(ev->sk);
	if (ret < 0) {
		snprintf(err, errlen, "cannot make the netlink socket non-blocking: %s",
			 nl_geterror(ret));
		ret = -EIO;
		goto err;
	}
	*evp = ev;
	return 0;
err:
	nl_socket_free(ev->sk);
	free(ev);
	return ret;
}

int vhu_genl_events_fd(const struct vhu_genl_events *ev)
{
	return nl_socket_get_fd(ev->sk);
}

void vhu_genl_events_close(struct vhu_genl_events *ev)
{
	if (!ev)
		return;
	nl_socket_free(ev->sk);
	free(ev);
}

int vhu_genl_event_parse(const void *buf, size_t len,
			 struct vhu_genl_event *out)
{
	static struct nla_policy pol[VHU_ATTR_MAX + 1] = {
		[VHU_ATTR_EVENT] = { .type = NLA_U32 },
		[VHU_ATTR_DEV_ID] = { .type = NLA_U32 },
		[VHU_ATTR_OWNER_PID] = { .type = NLA_U32 },
		[VHU_ATTR_QUEUE] = { .type = NLA_U32 },
		[VHU_ATTR_CAPACITY] = { .type = NLA_U64 },
	};
	struct nlmsghdr *nlh = (struct nlmsghdr *)buf;
	struct nlattr *tb[VHU_ATTR_MAX + 1];
	struct genlmsghdr *gh;

	if (len > INT32_MAX || !nlmsg_ok(nlh, len) ||
	    !genlmsg_valid_hdr(nlh, 0))
		return -EINVAL;
	gh = nlmsg_data(nlh);
	if (gh->cmd != VHU_CMD_EVENT ||
	    genlmsg_parse(nlh, 0, tb, VHU_ATTR_MAX, pol) < 0 ||
	    !tb[VHU_ATTR_EVENT] || !tb[VHU_ATTR_DEV_ID])
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	out->type = nla_get_u32(tb[VHU_ATTR_EVENT]);
	out->dev_id = nla_get_u32(tb[VHU_ATTR_DEV_ID]);
	if (tb[VHU_ATTR_OWNER_PID])
		out->owner_pid = nla_get_u32(tb[VHU_ATTR_OWNER_PID]);
	out->queue = tb[VHU_ATTR_QUEUE] ? nla_get_u32(tb[VHU_ATTR_QUEUE]) :
					  VHU_GENL_NO_QUEUE;
	if (tb[VHU_ATTR_CAPACITY])
		out->size = nla_get_u64(tb[VHU_ATTR_CAPACITY]);
	return 0;
}

/*
 * Each notification is a datagram of its own: one recv() per event, so
 * nothing is read that does not fit in out.
 */
int vhu_genl_events_read(struct vhu_genl_events *ev,
			 struct vhu_genl_event *out, int max)
{
	const struct nlmsghdr *nlh = (const void *)ev->buf;
	int fd = nl_socket_get_fd(ev->sk), n = 0;
	struct sockaddr_nl from;
	socklen_t fromlen;
	ssize_t len;

	while (n < max) {
		fromlen = sizeof(from);
		len = recvfrom(fd, ev->buf, sizeof(ev->buf), MSG_DONTWAIT,
			       (struct sockaddr *)&from, &fromlen);
		if (len < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				memset(&out[n], 0, sizeof(out[n]));
				out[n].type = VHU_GENL_EVENT_LOST;
				out[n].queue = VHU_GENL_NO_QUEUE;
				n++;
				continue;
			}
			return n ? n : -errno;
		}
		/* The kernel's (port 0), on this family: nothing else is ours. */
		if (fromlen != sizeof(from) || from.nl_pid ||
		    (size_t)len < sizeof(*nlh) || nlh->nlmsg_type != ev->family)
			continue;
		if (!vhu_genl_event_parse(ev->buf, len, &out[n]))
			n++;
	}
	return n;
}
