// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl list: the exports of a running daemon.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl_client.h"
#include "export_opts.h"

static int list_opt(void *ctx, int opt, const char *name, const char *arg)
{
	(void)name;
	return ctl_client_opt(ctx, opt, arg);
}

static int list_run(int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_CLIENT_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *result = NULL, *arr;
	struct ctl_client cl;
	int ret;

	ctl_client_init(&cl, &cmd_list);
	ret = cmd_parse(&cmd_list, argc, argv, "+h", opts, list_opt, &cl);
	if (ret >= 0)
		return ret;
	ret = ctl_call(&cl, "list", NULL, NULL, 0, &result);
	if (ret)
		goto out;
	if (cl.json) {
		ctl_print_json(result);
		goto out;
	}
	printf("%-32s %-24s %14s %-3s %-8s %6s %5s %-10s %s\n", "SOCKET", "BACKING", "SIZE",
	       "RO", "DATAPATH", "QUEUES", "POLL", "CONNECTED", "PID");
	if (json_object_object_get_ex(result, "exports", &arr))
		for (size_t i = 0; i < json_object_array_length(arr); i++) {
			struct json_object *e = json_object_array_get_idx(arr, i);
			bool busy = ctl_bool(e, "busy");

			char poll[16] = "-";

			/* Busy polling, in microseconds: "-" when off. */
			if (ctl_int(e, "busy-poll") > 0)
				snprintf(poll, sizeof(poll), "%lld", ctl_int(e, "busy-poll"));
			printf("%-32s %-24s %14s %-3s %-8s %6lld %5s %-10s ", ctl_str(e, "socket"),
			       ctl_str(e, "backing"), busy ? "-" : ctl_str(e, "size"),
			       ctl_bool(e, "readonly") ? "yes" : "no", ctl_str(e, "datapath"),
			       ctl_int(e, "queues"), poll,
			       busy ? "busy" : ctl_bool(e, "connected") ? "yes" : "no");
			if (ctl_int(e, "frontend-pid"))
				printf("%lld\n", ctl_int(e, "frontend-pid"));
			else
				printf("-\n");
		}
out:
	json_object_put(result);
	ctl_client_close(&cl);
	return ret;
}

const struct vhuctl_cmd cmd_list = {
	.name = "list",
	.summary = "list a running daemon's exports and their frontends",
	.usage = "[--control PATH] [--json]",
	.options = CTL_CLIENT_HELP,
	.run = list_run,
};
