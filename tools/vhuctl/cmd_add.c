// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl add: a new export in a running daemon (vhuctl daemon).
 *
 * The daemon opens no file once it serves: this command opens the
 * backing (as vhuctl export does: its checks, its image lock, the wait
 * for another user), makes the socket and, for the kernel datapath,
 * opens /dev/vhu, with its own rights, and hands the three fds over.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "backing.h"
#include "ctl.h"
#include "ctl_client.h"
#include "export_opts.h"
#include "log.h"
#include "sockfile.h"

struct add_ctx {
	struct ctl_client cl;
	struct vu_export_group g;
	struct json_object *opts;	/* the options as given, for the daemon */
	unsigned int lock_wait_ms;
};

static int add_opt(void *ctx, int opt, const char *name, const char *arg)
{
	struct add_ctx *a = ctx;
	char err[512];
	int ret = ctl_client_opt(&a->cl, opt, arg);

	if (ret != -2)
		return ret;
	if (opt == OPT_LOCK_WAIT) {
		unsigned int v;

		if (vu_parse_uint(name, arg, 0, 3600, &v, err, sizeof(err))) {
			usage_error(&cmd_add, "%s", err);
			return EXIT_USAGE;
		}
		a->lock_wait_ms = v * 1000;
		return -1;
	}
	if (opt == OPT_EXPORT) {
		if (a->g.set) {
			usage_error(&cmd_add, "--export: one export at a time, and no other "
				    "export option with it");
			return EXIT_USAGE;
		}
		if (vu_export_word(&a->g, arg, err, sizeof(err))) {
			usage_error(&cmd_add, "%s", err);
			return EXIT_USAGE;
		}
		/* Sent key by key, as if given one by one. */
		for (const struct vu_export_key *k = vu_export_keys; k->key; k++) {
			char *dup, *tok, *save = NULL;

			if (!(a->g.set & (1u << k->opt)))
				continue;
			dup = strdup(arg);
			for (tok = strtok_r(dup, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
				char *eq = strchr(tok, '=');

				if (eq)
					*eq = '\0';
				if (!strcmp(tok, k->key))
					json_object_object_add(a->opts, k->key, eq ?
						json_object_new_string(eq + 1) :
						json_object_new_boolean(true));
			}
			free(dup);
		}
		return -1;
	}
	if (a->g.set & (1u << opt)) {
		usage_error(&cmd_add, "%s given twice (vhuctl add takes one export)", name);
		return EXIT_USAGE;
	}
	if (vu_export_apply(&a->g, opt, name, arg, err, sizeof(err))) {
		usage_error(&cmd_add, "%s", err);
		return EXIT_USAGE;
	}
	json_object_object_add(a->opts, name + 2, arg ? json_object_new_string(arg) :
			       json_object_new_boolean(true));
	return -1;
}

static int add_run(int argc, char **argv)
{
	static const struct option opts[] = {
		VU_EXPORT_LONG_OPTIONS,
		{ "export", required_argument, NULL, OPT_EXPORT },
		{ "lock-wait", required_argument, NULL, OPT_LOCK_WAIT },
		CTL_CLIENT_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct add_ctx *a = calloc(1, sizeof(*a));
	struct json_object *params = NULL, *fdmap, *result = NULL;
	int fds[3], nfds = 0, dev_fd = -1, sock_fd = -1, ret;
	char path[108];
	bool created = false;

	if (!a)
		return EXIT_FAIL;
	ctl_client_init(&a->cl, &cmd_add);
	vu_export_defaults(&a->g);
	a->lock_wait_ms = LOCK_WAIT_DEFAULT_MS;
	a->opts = json_object_new_object();
	ret = cmd_parse(&cmd_add, argc, argv, "+h", opts, add_opt, a);
	if (ret >= 0)
		goto out;
	ret = EXIT_USAGE;
	if (!(a->g.set & (1u << OPT_SOCKET)) || !(a->g.set & (1u << OPT_BACKING))) {
		usage_error(&cmd_add, "an export needs both --socket and --backing");
		goto out;
	}
	if (!ctl_abs_socket(&a->cl, a->g.cfg.socket_path, path, sizeof(path)))
		goto out;
	strcpy(a->g.cfg.socket_path, path);
	json_object_object_add(a->opts, "socket", json_object_new_string(path));

	ret = EXIT_FAIL;
	if (vu_open_backing(&a->g.cfg, NULL, 0, a->lock_wait_ms))
		goto out;
	if (a->g.cfg.mode != VU_DP_USER) {
		dev_fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (dev_fd < 0 && a->g.cfg.mode == VU_DP_KERNEL) {
			verr("%s: %s%s", VHU_DEVICE_PATH, strerror(errno),
			     errno == ENOENT ? " (vhu module not loaded)" : "");
			goto out;
		}
		if (dev_fd < 0)
			vlog("--datapath auto: the userspace datapath, as %s cannot be opened: %s",
			     VHU_DEVICE_PATH, strerror(errno));
	}
	sock_fd = vu_socket_create(path, &a->g.sock, &created);
	if (sock_fd < 0)
		goto out;

	fdmap = json_object_new_object();
	fds[nfds] = a->g.cfg.backing_fd;
	json_object_object_add(fdmap, "backing", json_object_new_int(nfds++));
	fds[nfds] = sock_fd;
	json_object_object_add(fdmap, "socket", json_object_new_int(nfds++));
	if (dev_fd >= 0) {
		fds[nfds] = dev_fd;
		json_object_object_add(fdmap, "device", json_object_new_int(nfds++));
	}
	params = json_object_new_object();
	json_object_object_add(params, "options", json_object_get(a->opts));
	json_object_object_add(params, "fds", fdmap);
	ret = ctl_call(&a->cl, "add", params, fds, nfds, &result);
	if (ret)
		goto out;
	/* The daemon has the socket file now: it unlinks it on remove. */
	created = false;
	if (a->cl.json)
		ctl_print_json(result);
	else
		printf("added %s\n", ctl_str(result, "socket"));
out:
	if (created)
		unlink(path);
	if (sock_fd >= 0)
		close(sock_fd);
	if (dev_fd >= 0)
		close(dev_fd);
	if (a->g.cfg.backing_fd >= 0)
		close(a->g.cfg.backing_fd);
	json_object_put(result);
	json_object_put(a->opts);
	ctl_client_close(&a->cl);
	free(a);
	return ret;
}

const struct vhuctl_cmd cmd_add = {
	.name = "add",
	.summary = "add an export to a running daemon (the options of export)",
	.usage = "--socket PATH --backing FILE [export options] [--lock-wait SEC]\n"
		 "        [--control PATH] [--json]\n"
		 "   or: vhuctl add --export socket=PATH,backing=FILE[,...] [--control PATH] [--json]",
	.options =
	VU_EXPORT_HELP
	"  --export KEY=VALUE,... the export as one word, keys the options above\n"
	"  --lock-wait SEC        wait this long for a backing's other user (default 5)\n"
	CTL_CLIENT_HELP,
	.run = add_run,
};
