// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl stats: the counters of a running daemon's exports, per queue,
 * the same names on both datapaths; with --kernel, vhu.ko's own counters
 * of every device over netlink (cmd_stats.c).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl_client.h"
#include "export_opts.h"

struct cstats_ctx {
	struct ctl_client cl;
	const char *socket;
};

static int cstats_opt(void *ctx, int opt, const char *name, const char *arg)
{
	struct cstats_ctx *s = ctx;
	int ret = ctl_client_opt(&s->cl, opt, arg);

	(void)name;
	if (ret != -2)
		return ret;
	s->socket = arg;	/* --socket */
	return -1;
}

/*
 * --kernel anywhere: the module's counters, the other options theirs;
 * --dev (a vhu.ko device) implies it.
 */
static int kernel_stats(int argc, char **argv)
{
	char **args = calloc(argc + 1, sizeof(*args));
	int n = 0, ret;

	if (!args)
		return EXIT_FAIL;
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], "--kernel"))
			args[n++] = argv[i];
	ret = cmd_stats.run(n, args);
	free(args);
	return ret;
}

static int cstats_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		CTL_CLIENT_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *params, *result = NULL, *arr;
	struct cstats_ctx s = { 0 };
	char path[108];
	int ret;

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++)
		if (!strcmp(argv[i], "--kernel") || !strcmp(argv[i], "--dev") ||
		    !strncmp(argv[i], "--dev=", 6))
			return kernel_stats(argc, argv);
	ctl_client_init(&s.cl, &cmd_ctl_stats);
	ret = cmd_parse(&cmd_ctl_stats, argc, argv, "+h", opts, cstats_opt, &s);
	if (ret >= 0)
		return ret;
	params = json_object_new_object();
	if (s.socket) {
		if (!ctl_abs_socket(&s.cl, s.socket, path, sizeof(path))) {
			json_object_put(params);
			return EXIT_USAGE;
		}
		json_object_object_add(params, "socket", json_object_new_string(path));
	}
	ret = ctl_call(&s.cl, "stats", params, NULL, 0, &result);
	if (ret)
		goto out;
	if (s.cl.json) {
		ctl_print_json(result);
		goto out;
	}
	printf("%-32s %5s %-8s %10s %10s %8s %14s %14s %6s %8s\n", "SOCKET", "QUEUE", "STATE",
	       "REQS_IN", "REQS_OUT", "FLUSH", "BYTES_READ", "BYTES_WRITTEN", "ERRORS",
	       "INFLIGHT");
	if (json_object_object_get_ex(result, "exports", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *e = json_object_array_get_idx(arr, i), *qs;

			if (ctl_bool(e, "busy")) {
				printf("%-32s %5s %-8s\n", ctl_str(e, "socket"), "-", "busy");
				continue;
			}
			if (!json_object_object_get_ex(e, "queues", &qs))
				continue;
			for (size_t j = 0; j < json_object_array_length(qs); j++) {
				struct json_object *q = json_object_array_get_idx(qs, j);

				printf("%-32s %5lld %-8s %10lld %10lld %8lld %14lld %14lld %6lld %8lld\n",
				       ctl_str(e, "socket"), ctl_int(q, "queue"), ctl_str(q, "state"),
				       ctl_int(q, "reqs_in"), ctl_int(q, "reqs_out"),
				       ctl_int(q, "reqs_flush"), ctl_int(q, "bytes_read"),
				       ctl_int(q, "bytes_written"),
				       ctl_int(q, "reqs_ioerr") + ctl_int(q, "ring_errors"),
				       ctl_int(q, "inflight"));
			}
		}
out:
	json_object_put(result);
	ctl_client_close(&s.cl);
	return ret;
}

const struct vhuctl_cmd cmd_ctl_stats = {
	.name = "stats",
	.summary = "per-queue counters of a running daemon's exports (--kernel: vhu.ko's)",
	.usage = "[--socket PATH] [--control PATH] [--json]\n"
		 "   or: vhuctl stats --kernel [--dev ID] [--json]",
	.options =
	"  --socket PATH          one export's counters only\n"
	"  --kernel               vhu.ko's counters of every device over netlink instead\n"
	"  --dev ID               with --kernel (implied): one device's counters only\n"
	CTL_CLIENT_HELP,
	.run = cstats_run,
};
