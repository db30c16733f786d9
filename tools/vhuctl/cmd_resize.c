// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl resize: an export's new capacity, which its guest is told of.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl_client.h"
#include "export_opts.h"

struct resize_ctx {
	struct ctl_client cl;
	const char *socket;
	bool has_size;
	uint64_t size;
};

/* Bytes, or with a K, M, G or T suffix (powers of 1024). */
static int parse_size(const char *s, uint64_t *out)
{
	unsigned int shift = 0;
	char *end;
	uint64_t v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *s == '-' || *s == '+')
		return -1;
	switch (*end) {
	case 'K': shift = 10; break;
	case 'M': shift = 20; break;
	case 'G': shift = 30; break;
	case 'T': shift = 40; break;
	case '\0': break;
	default: return -1;
	}
	if (shift && end[1])
		return -1;
	if (v > ((uint64_t)INT64_MAX >> shift))
		return -1;
	*out = v << shift;
	return 0;
}

static int resize_opt(void *ctx, int opt, const char *name, const char *arg)
{
	struct resize_ctx *r = ctx;
	int ret = ctl_client_opt(&r->cl, opt, arg);

	if (ret != -2)
		return ret;
	if (opt == OPT_SIZE) {
		if (parse_size(arg, &r->size) || !r->size) {
			usage_error(&cmd_resize, "%s '%s': expected a size in bytes (or with K, M, G, T)",
				    name, arg);
			return EXIT_USAGE;
		}
		r->has_size = true;
		return -1;
	}
	r->socket = arg;	/* --socket */
	return -1;
}

static int resize_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "socket", required_argument, NULL, OPT_SOCKET },
		{ "size", required_argument, NULL, OPT_SIZE },
		CTL_CLIENT_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *params, *result = NULL;
	struct resize_ctx r = { 0 };
	char path[108];
	int ret;

	ctl_client_init(&r.cl, &cmd_resize);
	ret = cmd_parse(&cmd_resize, argc, argv, "+h", opts, resize_opt, &r);
	if (ret >= 0)
		return ret;
	if (!r.socket) {
		usage_error(&cmd_resize, "which export? --socket PATH");
		return EXIT_USAGE;
	}
	if (!ctl_abs_socket(&r.cl, r.socket, path, sizeof(path)))
		return EXIT_USAGE;
	params = json_object_new_object();
	json_object_object_add(params, "socket", json_object_new_string(path));
	if (r.has_size)
		json_object_object_add(params, "size", json_object_new_int64((int64_t)r.size));
	ret = ctl_call(&r.cl, "resize", params, NULL, 0, &result);
	if (!ret) {
		if (r.cl.json)
			ctl_print_json(result);
		else
			printf("%s: %lld bytes\n", ctl_str(result, "socket"), ctl_int(result, "size"));
		if (!r.cl.json && *ctl_str(result, "warning"))
			fprintf(stderr, "vhuctl resize: warning: %s\n", ctl_str(result, "warning"));
	}
	json_object_put(result);
	ctl_client_close(&r.cl);
	return ret;
}

const struct vhuctl_cmd cmd_resize = {
	.name = "resize",
	.summary = "resize an export; its guest is told of the new capacity",
	.usage = "--socket PATH [--size BYTES] [--control PATH] [--json]",
	.options =
	"  --socket PATH          the export's socket\n"
	"  --size BYTES           the new size (K, M, G, T: powers of 1024); none: re-read\n"
	CTL_CLIENT_HELP,
	.run = resize_run,
};
