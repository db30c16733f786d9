// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl monitor: a running daemon's events as they happen, until it
 * stops (or the command is interrupted).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "ctl_client.h"
#include "export_opts.h"

static int monitor_opt(void *ctx, int opt, const char *name, const char *arg)
{
	(void)name;
	return ctl_client_opt(ctx, opt, arg);
}

/* "12:00:01.250 connect /run/vhu/vm1.sock pid=1234" */
static void print_event(struct json_object *params)
{
	double t = json_object_get_double(json_object_object_get(params, "time"));
	time_t sec = (time_t)t;
	struct tm tm;
	char when[16];

	localtime_r(&sec, &tm);
	strftime(when, sizeof(when), "%H:%M:%S", &tm);
	printf("%s.%03d %-10s %s", when, (int)((t - sec) * 1000), ctl_str(params, "event"),
	       ctl_str(params, "socket"));
	json_object_object_foreach(params, key, val) {
		if (!strcmp(key, "event") || !strcmp(key, "socket") || !strcmp(key, "time"))
			continue;
		printf(" %s=%s", key, json_object_get_string(val));
	}
	printf("\n");
	fflush(stdout);
}

static int monitor_run(int argc, char **argv)
{
	static const struct option opts[] = {
		CTL_CLIENT_OPTIONS,
		{ NULL, 0, NULL, 0 }
	};
	struct json_object *result = NULL, *ev, *params;
	struct ctl_client cl;
	int ret;

	ctl_client_init(&cl, &cmd_monitor);
	ret = cmd_parse(&cmd_monitor, argc, argv, "+h", opts, monitor_opt, &cl);
	if (ret >= 0)
		return ret;
	ret = ctl_call(&cl, "monitor", NULL, NULL, 0, &result);
	json_object_put(result);
	if (ret)
		goto out;
	while ((ev = ctl_next(&cl))) {
		if (cl.json) {
			ctl_print_json(ev);
			fflush(stdout);
		} else if (json_object_object_get_ex(ev, "params", &params)) {
			print_event(params);
		}
		json_object_put(ev);
	}
out:
	ctl_client_close(&cl);
	return ret;
}

const struct vhuctl_cmd cmd_monitor = {
	.name = "monitor",
	.summary = "print a running daemon's events as they happen",
	.usage = "[--control PATH] [--json]",
	.options = CTL_CLIENT_HELP,
	.run = monitor_run,
};
