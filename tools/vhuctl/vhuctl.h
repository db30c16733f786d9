/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhuctl: common declarations of the command-line tool.
 */
#ifndef VHUCTL_H
#define VHUCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * One subcommand. run() gets argv with argv[0] = the subcommand name and
 * returns the process exit status (0 ok, 1 failure, 2 usage error).
 */
struct vhuctl_cmd {
	const char *name;
	const char *summary;
	const char *usage;
	const char *options;	/* one line per option, for help COMMAND */
	int (*run)(int argc, char **argv);
};

extern const struct vhuctl_cmd cmd_version;
extern const struct vhuctl_cmd cmd_export;
extern const struct vhuctl_cmd cmd_stats;
extern const struct vhuctl_cmd cmd_help;
/* The daemon with its control socket, and the control socket's clients. */
extern const struct vhuctl_cmd cmd_daemon;
extern const struct vhuctl_cmd cmd_add;
extern const struct vhuctl_cmd cmd_remove;
extern const struct vhuctl_cmd cmd_list;
extern const struct vhuctl_cmd cmd_ctl_stats;
extern const struct vhuctl_cmd cmd_resize;
extern const struct vhuctl_cmd cmd_monitor;

/* The dispatch table in main.c, NULL-terminated, and its entry for name. */
extern const struct vhuctl_cmd *const vhuctl_cmds[];
const struct vhuctl_cmd *vhuctl_find_cmd(const char *name);

/* Exit statuses. */
#define EXIT_OK		0
#define EXIT_FAIL	1
#define EXIT_USAGE	2

struct option;

/* main.c: helpers every subcommand shares. */
void usage_error(const struct vhuctl_cmd *cmd, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* A prefix for usage_error()'s lines from here on ("FILE:LINE: "); NULL ends it. */
void usage_context(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "usage: vhuctl NAME USAGE" on stdout. */
void cmd_usage(const struct vhuctl_cmd *cmd);
/* Its usage, summary and options (help COMMAND, COMMAND --help). */
void cmd_help_text(const struct vhuctl_cmd *cmd);

/*
 * Parse a subcommand's arguments, which are options only, with
 * getopt_long(shortopts, opts), calling opt(ctx, val, name, arg) for each
 * option ("--name" or "-c" as given). An option with val 'h' prints the
 * usage. Unknown options, missing values and operands are reported the
 * same way for every subcommand. Returns -1 to carry on, or the exit
 * status to return at once: EXIT_OK after the usage, EXIT_USAGE after an
 * error. opt() returns -1 too, or EXIT_USAGE once it said what is wrong.
 */
int cmd_parse(const struct vhuctl_cmd *cmd, int argc, char **argv,
	      const char *shortopts, const struct option *opts,
	      int (*opt)(void *ctx, int val, const char *name, const char *arg),
	      void *ctx);

/* genl.c: the module's answer to VHU_CMD_GET_VERSION. */
struct vhu_mod_version {
	char version[64];
	uint64_t api_features;
};

struct nl_sock;
/* The "vhu" family id on a new socket *skp, or -ENOENT/-errno with err set. */
int vhu_genl_open(struct nl_sock **skp, char *err, size_t errlen);
/* Returns 0, -ENOENT when the family is absent, or another -errno. */
int vhu_genl_get_version(struct vhu_mod_version *out, char *err, size_t errlen);

/* main.c: print s as a JSON string literal. */
void json_string(const char *s);

#endif
