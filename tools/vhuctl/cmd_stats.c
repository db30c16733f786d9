// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl stats [--dev ID] [--json]: per-vring counters of every vhu
 * device, from the module's VHU_CMD_GET_STATS netlink dump.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/vhu.h>

#include "log.h"
#include "util.h"
#include "vhuctl.h"


static const struct {
	int attr;
	const char *name;
} counters[] = {
	{ VHU_STATS_A_REQS_IN, "reqs_in" },
	{ VHU_STATS_A_REQS_OUT, "reqs_out" },
	{ VHU_STATS_A_REQS_FLUSH, "reqs_flush" },
	{ VHU_STATS_A_REQS_GET_ID, "reqs_get_id" },
	{ VHU_STATS_A_REQS_DISCARD, "reqs_discard" },
	{ VHU_STATS_A_REQS_WRITE_ZEROES, "reqs_write_zeroes" },
	{ VHU_STATS_A_REQS_UNSUPP, "reqs_unsupp" },
	{ VHU_STATS_A_REQS_IOERR, "reqs_ioerr" },
	{ VHU_STATS_A_BYTES_READ, "bytes_read" },
	{ VHU_STATS_A_BYTES_WRITTEN, "bytes_written" },
	{ VHU_STATS_A_RING_ERRORS, "ring_errors" },
	{ VHU_STATS_A_INFLIGHT, "inflight" },
	{ VHU_STATS_A_KICKS, "kicks" },
	{ VHU_STATS_A_CALLS, "calls" },
	{ VHU_STATS_A_LAST_AVAIL_IDX, "last_avail_idx" },
};

struct stats_ctx {
	bool json;
	int rows;
};

static const char *state_name(uint32_t s)
{
	switch (s) {
	case VHU_VRING_STOPPED:
		return "stopped";
	case VHU_VRING_RUNNING:
		return "running";
	case VHU_VRING_ERROR:
		return "error";
	}
	return "unknown";
}

static int stats_cb(struct nl_msg *msg, void *arg)
{
	struct stats_ctx *ctx = arg;
	struct nlattr *tb[VHU_ATTR_MAX + 1], *st[VHU_STATS_A_MAX + 1];
	uint64_t v[ARRAY_SIZE(counters)] = { 0 };
	uint32_t dev, pid, queue, state = 0;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, VHU_ATTR_MAX, NULL) < 0 ||
	    !tb[VHU_ATTR_DEV_ID] || !tb[VHU_ATTR_QUEUE] || !tb[VHU_ATTR_STATS])
		return NL_SKIP;
	dev = nla_get_u32(tb[VHU_ATTR_DEV_ID]);
	pid = tb[VHU_ATTR_OWNER_PID] ? nla_get_u32(tb[VHU_ATTR_OWNER_PID]) : 0;
	queue = nla_get_u32(tb[VHU_ATTR_QUEUE]);
	if (nla_parse_nested(st, VHU_STATS_A_MAX, tb[VHU_ATTR_STATS], NULL) < 0)
		return NL_SKIP;
	if (st[VHU_STATS_A_STATE])
		state = nla_get_u32(st[VHU_STATS_A_STATE]);
	for (size_t i = 0; i < ARRAY_SIZE(counters); i++)
		if (st[counters[i].attr])
			v[i] = nla_get_u64(st[counters[i].attr]);

	if (ctx->json) {
		printf("%s{\"dev\":%" PRIu32 ",\"owner_pid\":%" PRIu32
		       ",\"queue\":%" PRIu32 ",\"state\":\"%s\"",
		       ctx->rows ? "," : "", dev, pid, queue, state_name(state));
		for (size_t i = 0; i < ARRAY_SIZE(counters); i++)
			printf(",\"%s\":%" PRIu64, counters[i].name, v[i]);
		putchar('}');
	} else {
		if (!ctx->rows)
			printf("%-5s %-8s %-5s %-8s %12s %12s %10s %8s %14s %14s\n",
			       "DEV", "PID", "QUEUE", "STATE", "READS", "WRITES",
			       "FLUSHES", "ERRORS", "BYTES_READ", "BYTES_WRITTEN");
		printf("%-5" PRIu32 " %-8" PRIu32 " %-5" PRIu32 " %-8s %12" PRIu64
		       " %12" PRIu64 " %10" PRIu64 " %8" PRIu64 " %14" PRIu64
		       " %14" PRIu64 "\n", dev, pid, queue, state_name(state),
		       v[0], v[1], v[2], v[7] + v[10], v[8], v[9]);
	}
	ctx->rows++;
	return NL_OK;
}

static int dump_stats(bool json, long dev_id, char *err, size_t errlen)
{
	struct stats_ctx ctx = { .json = json };
	struct nl_sock *sk;
	struct nl_msg *msg = NULL;
	int family, ret;

	family = vhu_genl_open(&sk, err, errlen);
	if (family < 0)
		return family;
	msg = nlmsg_alloc();
	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
				 NLM_F_DUMP, VHU_CMD_GET_STATS, VHU_GENL_VERSION) ||
	    (dev_id >= 0 && nla_put_u32(msg, VHU_ATTR_DEV_ID, dev_id) < 0)) {
		snprintf(err, errlen, "cannot build a netlink message");
		ret = -ENOMEM;
		goto out;
	}
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, stats_cb, &ctx);
	if (json)
		putchar('[');
	ret = nl_send_auto(sk, msg);
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	if (json)
		printf("]\n");
	if (ret < 0) {
		snprintf(err, errlen, "VHU_CMD_GET_STATS failed: %s%s", nl_geterror(ret),
			 ret == -NLE_PERM ? " (needs CAP_NET_ADMIN)" : "");
		ret = -EIO;
		goto out;
	}
	if (!json && !ctx.rows)
		printf("no vhu device has a vring\n");
	ret = 0;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}


struct stats_opts {
	bool json;
	long dev_id;		/* -1: every device */
};

static int stats_opt(void *ctx, int val, const char *name, const char *arg)
{
	struct stats_opts *o = ctx;
	char *end;

	switch (val) {
	case 'j':
		o->json = true;
		break;
	case 'd':
		errno = 0;
		o->dev_id = strtol(arg, &end, 10);
		if (errno || *end || end == arg || o->dev_id < 0 ||
		    o->dev_id > UINT32_MAX) {
			usage_error(&cmd_stats, "%s '%s': expected a device id",
				    name, arg);
			return EXIT_USAGE;
		}
		break;
	}
	return -1;
}

static int stats_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "dev", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct stats_opts o = { .dev_id = -1 };
	char err[160];
	int ret;

	ret = cmd_parse(&cmd_stats, argc, argv, "+h", opts, stats_opt, &o);
	if (ret >= 0)
		return ret;
	if (dump_stats(o.json, o.dev_id, err, sizeof(err))) {
		verr("%s", err);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

const struct vhuctl_cmd cmd_stats = {
	.name = "stats",
	.summary = "show the vring counters of every vhu device (from the module)",
	.usage = "[--dev ID] [--json]",
	.options =
	"  --dev ID               one device's counters only\n"
	"  --json                 one JSON object\n"
	"  -h, --help             this usage\n",
	.run = stats_run,
};
