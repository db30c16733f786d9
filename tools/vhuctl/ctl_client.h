/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The control socket's client side (ctl_client.c): what vhuctl add,
 * remove, list, stats, resize and monitor share.
 */
#ifndef CTL_CLIENT_H
#define CTL_CLIENT_H

#include <getopt.h>
#include <stdbool.h>

#include "vhuctl.h"

struct json_object;

/* --control and --json, which every client subcommand takes. */
struct ctl_client {
	const struct vhuctl_cmd *cmd;
	const char *control;		/* VU_CTL_DEFAULT_PATH unless given */
	bool json;
	int fd;				/* -1 until connected */
	char buf[65536];		/* what was read past the last line */
	size_t len;
};

/* The long options of struct ctl_client, for a subcommand's table. */
#define CTL_CLIENT_OPTIONS						\
	{ "control", required_argument, NULL, OPT_CONTROL },		\
	{ "json", no_argument, NULL, OPT_JSON },			\
	{ "help", no_argument, NULL, 'h' }
#define CTL_CLIENT_HELP							\
	"  --control PATH         the daemon's control socket (default /run/vhu/control.sock)\n" \
	"  --json                 print the daemon's JSON result as it is\n"	\
	"  -h, --help             this usage\n"

void ctl_client_init(struct ctl_client *c, const struct vhuctl_cmd *cmd);
/* --control or --json: -1 (taken), or -2 if opt is neither. */
int ctl_client_opt(struct ctl_client *c, int opt, const char *arg);

/*
 * Send method with params (taken; NULL: {}) and fds, then wait for the
 * reply: EXIT_OK with *result (json_object_put() it), else the exit
 * status after the error was printed (EXIT_USAGE for invalid params).
 */
int ctl_call(struct ctl_client *c, const char *method, struct json_object *params,
	     const int *fds, unsigned int nfds, struct json_object **result);
/* The next line from the daemon (monitor): a JSON object, or NULL at EOF. */
struct json_object *ctl_next(struct ctl_client *c);
void ctl_client_close(struct ctl_client *c);

/* Print o as one line of JSON. */
void ctl_print_json(struct json_object *o);

/*
 * path made absolute with its directory resolved, as the daemon names its
 * exports by it: false with the error printed if it cannot be.
 */
bool ctl_abs_socket(struct ctl_client *c, const char *path, char *out, size_t size);

/* A member of o as a string, an integer or a boolean, with a default. */
const char *ctl_str(struct json_object *o, const char *key);
long long ctl_int(struct json_object *o, const char *key);
bool ctl_bool(struct json_object *o, const char *key);

#endif
