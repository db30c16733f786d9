// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl stats [--dev ID] [--json]: per-vring counters of every vhu
 * device, from the module's VHU_CMD_GET_STATS netlink dump, with each
 * device's name (the export's socket) and backing from VHU_CMD_GET_DEV.
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

#include "genl.h"
#include "log.h"
#include "util.h"
#include "vhuctl.h"
#include "vu_admin.h"


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
	{ VHU_STATS_A_POLLS, "polls" },
	{ VHU_STATS_A_POLL_HITS, "poll_hits" },
	{ VHU_STATS_A_POLL_NS, "poll_ns" },
};

/* What tells the exports apart: a device's name and backing. */
struct dev_label {
	uint32_t id;
	char *name;
	char *backing;
};

struct stats_ctx {
	bool json;
	int rows;
	struct dev_label *devs;
	size_t ndevs;
};

static int add_label(const struct vhu_genl_dev *d, void *arg)
{
	struct stats_ctx *ctx = arg;
	struct dev_label *l;

	l = realloc(ctx->devs, (ctx->ndevs + 1) * sizeof(*l));
	if (!l)
		return -ENOMEM;
	ctx->devs = l;
	l = &ctx->devs[ctx->ndevs];
	l->id = d->dev_id;
	l->name = strdup(d->name);
	l->backing = strdup(d->backing);
	if (!l->name || !l->backing) {
		free(l->name);
		free(l->backing);
		return -ENOMEM;
	}
	ctx->ndevs++;
	return 0;
}

static void free_labels(struct stats_ctx *ctx)
{
	for (size_t i = 0; i < ctx->ndevs; i++) {
		free(ctx->devs[i].name);
		free(ctx->devs[i].backing);
	}
	free(ctx->devs);
}

/* The label of device @id; "" for one that came after the labels were read. */
static const struct dev_label *find_label(const struct stats_ctx *ctx, uint32_t id)
{
	static const struct dev_label none = { .name = "", .backing = "" };

	for (size_t i = 0; i < ctx->ndevs; i++)
		if (ctx->devs[i].id == id)
			return &ctx->devs[i];
	return &none;
}

static int stats_cb(struct nl_msg *msg, void *arg)
{
	struct stats_ctx *ctx = arg;
	struct nlattr *tb[VHU_ATTR_MAX + 1], *st[VHU_STATS_A_MAX + 1];
	uint64_t v[ARRAY_SIZE(counters)] = { 0 };
	uint32_t dev, pid, queue, state = 0;
	const struct dev_label *l;

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

	l = find_label(ctx, dev);

	if (ctx->json) {
		printf("%s{\"dev\":%" PRIu32 ",\"owner_pid\":%" PRIu32
		       ",\"name\":", ctx->rows ? "," : "", dev, pid);
		json_string(l->name);
		printf(",\"backing\":");
		json_string(l->backing);
		printf(",\"queue\":%" PRIu32 ",\"state\":\"%s\"", queue,
		       vu_queue_state_name(state));
		for (size_t i = 0; i < ARRAY_SIZE(counters); i++)
			printf(",\"%s\":%" PRIu64, counters[i].name, v[i]);
		putchar('}');
	} else {
		if (!ctx->rows)
			printf("%-5s %-8s %-5s %-8s %12s %12s %10s %8s %14s %14s %s\n",
			       "DEV", "PID", "QUEUE", "STATE", "READS", "WRITES",
			       "FLUSHES", "ERRORS", "BYTES_READ", "BYTES_WRITTEN",
			       "NAME -> BACKING");
		printf("%-5" PRIu32 " %-8" PRIu32 " %-5" PRIu32 " %-8s %12" PRIu64
		       " %12" PRIu64 " %10" PRIu64 " %8" PRIu64 " %14" PRIu64
		       " %14" PRIu64 " %s -> %s\n", dev, pid, queue, vu_queue_state_name(state),
		       v[0], v[1], v[2], v[7] + v[10], v[8], v[9],
		       *l->name ? l->name : "-", *l->backing ? l->backing : "-");
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

	/*
	 * The labels first: a module without VHU_CMD_GET_DEV shows none, a
	 * --dev that is not there is no error (the dump just shows nothing).
	 */
	ret = vhu_genl_get_devs(dev_id, add_label, &ctx, err, errlen);
	if (ret && ret != -EOPNOTSUPP && ret != -ENOENT) {
		free_labels(&ctx);
		return ret;
	}
	family = vhu_genl_open(&sk, err, errlen);
	if (family < 0) {
		free_labels(&ctx);
		return family;
	}
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
			 ret == -NLE_PERM ? " (needs CAP_NET_ADMIN, an older module)" : "");
		ret = -EIO;
		goto out;
	}
	if (!json && !ctx.rows)
		printf("no vhu device has a vring\n");
	ret = 0;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	free_labels(&ctx);
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
