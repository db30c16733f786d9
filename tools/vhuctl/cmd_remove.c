// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl remove: stop serving one export of a running daemon, gracefully:
 * its frontend is disconnected once its in-flight I/O is done.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl_client.h"
#include "export_opts.h"

struct remove_ctx {
	struct ctl_client cl;
	const char *socket;
};

static int remove_opt(void *ctx, int opt, const char *name, const char *arg)
{
	struct remove_ctx *r = ctx;
	int ret = ctl_client_opt(&r->cl, opt, arg);

	(void)name;
	if (ret != -2)
		return ret;
	r->socket = arg;	/* --socket */
	return -1;
}

static int remove_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		CTL_CLIENT_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *params, *result = NULL;
	struct remove_ctx r = { 0 };
	char path[108];
	int ret;

	ctl_client_init(&r.cl, &cmd_remove);
	ret = cmd_parse(&cmd_remove, argc, argv, "+h", opts, remove_opt, &r);
	if (ret >= 0)
		return ret;
	if (!r.socket) {
		usage_error(&cmd_remove, "which export? --socket PATH");
		return EXIT_USAGE;
	}
	if (!ctl_abs_socket(&r.cl, r.socket, path, sizeof(path)))
		return EXIT_USAGE;
	params = json_object_new_object();
	json_object_object_add(params, "socket", json_object_new_string(path));
	ret = ctl_call(&r.cl, "remove", params, NULL, 0, &result);
	if (!ret) {
		if (r.cl.json)
			ctl_print_json(result);
		else
			printf("removed %s\n", path);
	}
	json_object_put(result);
	ctl_client_close(&r.cl);
	return ret;
}

const struct vhuctl_cmd cmd_remove = {
	.name = "remove",
	.summary = "remove an export from a running daemon, its I/O drained",
	.usage = "--socket PATH [--control PATH] [--json]",
	.options =
	"  --socket PATH          the export's socket\n"
	CTL_CLIENT_HELP,
	.run = remove_run,
};
