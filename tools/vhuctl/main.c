// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: entry point and subcommand dispatch.
 *
 * Every subcommand lives in its own cmd_*.c and registers one
 * struct vhuctl_cmd in the table below; main() only picks the entry.
 */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vhuctl.h"

const struct vhuctl_cmd *const vhuctl_cmds[] = {
	&cmd_export,
	&cmd_daemon,
	&cmd_add,
	&cmd_remove,
	&cmd_list,
	/* stats: the control socket's; stats --kernel goes on to cmd_stats. */
	&cmd_ctl_stats,
	&cmd_resize,
	&cmd_monitor,
	&cmd_version,
	&cmd_help,
	NULL,
};

/* Where the options being parsed come from ("FILE:LINE: "), or "". */
static char usage_where[320];

void usage_context(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	if (fmt)
		vsnprintf(usage_where, sizeof(usage_where), fmt, ap);
	else
		usage_where[0] = '\0';
	va_end(ap);
}

void usage_error(const struct vhuctl_cmd *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "vhuctl %s: %s", cmd->name, usage_where);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'vhuctl help %s')\n", cmd->name);
}

void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

void cmd_usage(const struct vhuctl_cmd *cmd)
{
	printf("usage: vhuctl %s %s\n", cmd->name, cmd->usage);
}

void cmd_help_text(const struct vhuctl_cmd *cmd)
{
	cmd_usage(cmd);
	printf("\n%s\n", cmd->summary);
	if (cmd->options)
		printf("\noptions:\n%s", cmd->options);
}

/* getopt_long() said '?': a missing value, or an option it does not know. */
static void bad_option(const struct vhuctl_cmd *cmd, const struct option *opts,
		       const char *arg)
{
	for (const struct option *o = opts; optopt && o->name; o++)
		if (o->val == optopt && o->has_arg == required_argument &&
		    !strncmp(arg, "--", 2)) {
			usage_error(cmd, "option '%s' needs a value", arg);
			return;
		}
	usage_error(cmd, "unknown option '%s'", arg);
}

/* arg is one of opts' long options ("--name" or "--name=..."). */
static bool is_option(const struct option *opts, const char *arg)
{
	if (strncmp(arg, "--", 2))
		return false;
	for (const struct option *o = opts; o->name; o++) {
		size_t n = strlen(o->name);

		if (!strncmp(arg + 2, o->name, n) && (!arg[2 + n] || arg[2 + n] == '='))
			return true;
	}
	return false;
}

int cmd_parse(const struct vhuctl_cmd *cmd, int argc, char **argv,
	      const char *shortopts, const struct option *opts,
	      int (*opt)(void *ctx, int val, const char *name, const char *arg),
	      void *ctx)
{
	int c, idx, ret;

	optind = 1;
	opterr = 0;
	for (;;) {
		char name[40];

		idx = -1;
		c = getopt_long(argc, argv, shortopts, opts, &idx);
		if (c == -1)
			break;
		if (c == '?' || c == ':') {
			bad_option(cmd, opts, argv[optind - 1]);
			return EXIT_USAGE;
		}
		if (c == 'h') {
			cmd_help_text(cmd);
			return EXIT_OK;
		}
		if (idx >= 0)
			snprintf(name, sizeof(name), "--%s", opts[idx].name);
		else
			snprintf(name, sizeof(name), "-%c", c);
		if (optarg && is_option(opts, optarg)) {
			usage_error(cmd, "option '%s' needs a value: it took the option '%s' as one",
				    name, optarg);
			return EXIT_USAGE;
		}
		ret = opt(ctx, c, name, optarg);
		if (ret >= 0)
			return ret;
	}
	if (optind < argc) {
		usage_error(cmd, "unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	return -1;
}

const struct vhuctl_cmd *vhuctl_find_cmd(const char *name)
{
	for (int i = 0; vhuctl_cmds[i]; i++)
		if (!strcmp(vhuctl_cmds[i]->name, name))
			return vhuctl_cmds[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct vhuctl_cmd *cmd;

	if (argc < 2) {
		cmd_help.run(1, argv);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))
		return cmd_help.run(1, argv);
	if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "-V")) {
		printf("vhuctl %s\n", VHU_VERSION);
		return EXIT_OK;
	}

	cmd = vhuctl_find_cmd(argv[1]);
	if (!cmd) {
		fprintf(stderr, "vhuctl: unknown command '%s' (try 'vhuctl help')\n",
			argv[1]);
		return EXIT_USAGE;
	}
	return cmd->run(argc - 1, argv + 1);
}
