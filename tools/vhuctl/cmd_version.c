// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl version [--json]: the tool's version and the loaded module's
 * version and API features (over generic netlink).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <linux/vhu.h>

#include "vhuctl.h"

static int version_opt(void *ctx, int val, const char *name, const char *arg)
{
	bool *json = ctx;

	(void)name;
	(void)arg;
	if (val == 'j')
		*json = true;
	return -1;
}

static int version_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	struct vhu_mod_version mv;
	bool json = false;
	char err[128];
	int ret;

	ret = cmd_parse(&cmd_version, argc, argv, "+jh", opts, version_opt, &json);
	if (ret >= 0)
		return ret;

	ret = vhu_genl_get_version(&mv, err, sizeof(err));
	if (json) {
		printf("{\"vhuctl\":{\"version\":");
		json_string(VHU_VERSION);
		printf("},\"module\":");
		if (ret) {
			printf("{\"loaded\":false,\"error\":");
			json_string(err);
			printf("}}\n");
		} else {
			printf("{\"loaded\":true,\"version\":");
			json_string(mv.version);
			printf(",\"api_features\":%" PRIu64 "}}\n",
			       mv.api_features);
		}
	} else {
		printf("vhuctl %s\n", VHU_VERSION);
		if (!ret)
			printf("vhu module %s (API features 0x%" PRIx64 ")\n",
			       mv.version, mv.api_features);
		else
			printf("%s\n", err);
	}
	/* No module is an answer, not a failure: the userspace datapath runs. */
	return EXIT_OK;
}

const struct vhuctl_cmd cmd_version = {
	.name = "version",
	.summary = "show vhuctl's and the loaded vhu module's versions",
	.usage = "[--json]",
	.options =
	"  --json                 one JSON object\n"
	"  -h, --help             this usage\n",
	.run = version_run,
};
