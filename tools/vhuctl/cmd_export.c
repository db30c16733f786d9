// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl export: serve block devices to vhost-user frontends.
 *
 * Exports are given as option groups, each with its own --socket and
 * --backing; an option already set in the current group starts the next
 * one, so "--socket a --backing A --socket b --backing B" is two exports.
 * The same export can be written in one word:
 *   --export socket=PATH,backing=FILE[,readonly][,queues=N]...
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>


#include "backing.h"
#include "ctl.h"
#include "daemon.h"
#include "export_opts.h"
#include "log.h"
#include "util.h"
#include "vhuctl.h"

#define MAX_EXPORTS 64

/* What a group has set, to know when the next group starts. */
#define group vu_export_group

static const struct vhuctl_cmd *self = &cmd_export;

/* --control PATH: the control socket; NULL for none. */
static const char *control_path;

/* A number option of the daemon's: 0, or -1 after the error. */
static int parse_uint(const char *opt, const char *s, unsigned int min,
		      unsigned int max, unsigned int *out)
{
	char err[256];

	if (!vu_parse_uint(opt, s, min, max, out, err, sizeof(err)))
		return 0;
	usage_error(self, "%s", err);
	return -1;
}

/* Apply one option to a group; 0, or -1 after printing the error. */
static int apply(struct group *g, int opt, const char *name, const char *arg)
{
	char err[512];

	if (!vu_export_apply(g, opt, name, arg, err, sizeof(err)))
		return 0;
	usage_error(self, "%s", err);
	return -1;
}

static int parse_export_word(struct group *g, const char *word)
{
	char err[512];

	if (!vu_export_word(g, word, err, sizeof(err)))
		return 0;
	usage_error(self, "%s", err);
	return -1;
}

static void group_defaults(struct group *g)
{
	vu_export_defaults(g);
}

static unsigned int lock_wait_ms = LOCK_WAIT_DEFAULT_MS;

/* Export i's backing, those of ex[0..i) open. */
static int open_backing(struct vu_export *ex, unsigned int i)
{
	struct vu_export_cfg *prev[MAX_EXPORTS];

	for (unsigned int j = 0; j < i; j++)
		prev[j] = &ex[j].cfg;
	return vu_open_backing(&ex[i].cfg, prev, i, lock_wait_ms);
}

/*
 * The directory of path, resolved, and its last component: "a.sock",
 * "./a.sock" and "/run/../run/a.sock" name one socket. false if the
 * directory cannot be resolved (compared as given then).
 */
static bool socket_name(const char *path, char *dir, const char **base)
{
	char tmp[PATH_MAX];
	const char *slash = strrchr(path, '/');

	*base = slash ? slash + 1 : path;
	if (!slash)
		snprintf(tmp, sizeof(tmp), ".");
	else if (slash == path)
		snprintf(tmp, sizeof(tmp), "/");
	else
		snprintf(tmp, sizeof(tmp), "%.*s", (int)(slash - path), path);
	return realpath(tmp, dir) != NULL;
}

static bool same_socket(const char *a, const char *b)
{
	char da[PATH_MAX], db[PATH_MAX];
	const char *ba, *bb;

	if (!strcmp(a, b))
		return true;
	if (!socket_name(a, da, &ba) || !socket_name(b, db, &bb))
		return false;
	return !strcmp(da, db) && !strcmp(ba, bb);
}

/* The path fd is bound to, into path (or "fd N" for one without). */
static void bound_path(int fd, char *path, size_t size)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);

	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) == 0 && sa.sun_family == AF_UNIX &&
	    len > offsetof(struct sockaddr_un, sun_path) && sa.sun_path[0])
		snprintf(path, size, "%.*s", (int)sizeof(sa.sun_path), sa.sun_path);
	else
		snprintf(path, size, "fd %d", fd);
}

/*
 * The listening sockets given to the exports: --fd N as given, --fd NAME
 * the passed socket of that name (LISTEN_FDNAMES), and each other passed
 * socket (LISTEN_FDS) the export whose --socket is the path it is bound
 * to. A passed socket no export takes is an error, as is an fd that is
 * not a listening AF_UNIX stream socket. An export given no --socket gets
 * its socket's path as its name. 0, or -1 after the error.
 */
static int inherit_sockets(struct group *g, unsigned int ng)
{
	static char names[MAX_EXPORTS][VU_FDNAME_MAX];
	bool taken[MAX_EXPORTS] = { false };
	char err[256], path[sizeof(g->cfg.socket_path)];
	int n = vu_listen_fds(names, MAX_EXPORTS, err, sizeof(err));

	if (n < 0) {
		verr("%s", err);
		return -1;
	}
	for (unsigned int i = 0; i < ng; i++)
		if (g[i].sock.has_fd && g[i].sock.fd >= 3 && g[i].sock.fd < 3 + n)
			taken[g[i].sock.fd - 3] = true;
	for (unsigned int i = 0; i < ng; i++) {
		int k;

		if (!g[i].fd_name[0])
			continue;
		for (k = 0; k < n && (taken[k] || strcmp(names[k], g[i].fd_name)); k++)
			;
		if (k == n) {
			verr("--fd %s: no socket of that name was passed (LISTEN_FDNAMES)",
			     g[i].fd_name);
			return -1;
		}
		taken[k] = true;
		g[i].sock.fd = 3 + k;
		g[i].sock.has_fd = true;
	}
	for (int k = 0; k < n; k++) {
		unsigned int i;

		if (taken[k])
			continue;
		bound_path(3 + k, path, sizeof(path));
		for (i = 0; i < ng; i++)
			if (!g[i].sock.has_fd && !strcmp(g[i].cfg.socket_path, path))
				break;
		if (i == ng) {
			verr("passed socket %d (%s%s%s) is no export's --socket", 3 + k, path,
			     names[k][0] ? ", name " : "", names[k]);
			return -1;
		}
		g[i].sock.fd = 3 + k;
		g[i].sock.has_fd = true;
	}
	for (unsigned int i = 0; i < ng; i++) {
		if (!g[i].sock.has_fd)
			continue;
		for (unsigned int j = 0; j < i; j++)
			if (g[j].sock.has_fd && g[j].sock.fd == g[i].sock.fd) {
				verr("fd %d is given to two exports", g[i].sock.fd);
				return -1;
			}
		if (vu_check_listen_fd(g[i].sock.fd, err, sizeof(err))) {
			verr("%s", err);
			return -1;
		}
		if (!(g[i].set & (1u << OPT_SOCKET)))
			bound_path(g[i].sock.fd, g[i].cfg.socket_path,
				   sizeof(g[i].cfg.socket_path));
	}
	return 0;
}

/*
 * The groups so far: g[0..n], g[n] the one being filled. Room for one
 * past MAX_EXPORTS (and the empty group an --export opens after it), so
 * that too many exports are reported rather than overrun.
 */
struct groups {
	struct group g[MAX_EXPORTS + 2];
	unsigned int n;
};

/* An option of the daemon's own (vu_priv); 0, or -1 after printing the error. */
static int daemon_opt(int opt, const char *name, const char *arg)
{
	struct vu_priv *p = &vu_priv;
	bool has_gid;
	gid_t gid;

	switch (opt) {
	case OPT_ALLOW_UID:
	case OPT_ALLOW_GID:
		if ((opt == OPT_ALLOW_UID ? p->nuids : p->ngids) >= VU_PRIV_MAX_IDS) {
			usage_error(self, "%s: at most %d", name, VU_PRIV_MAX_IDS);
			return -1;
		}
		if (opt == OPT_ALLOW_UID &&
		    !vu_lookup_user(arg, &p->uids[p->nuids], &gid, &has_gid)) {
			p->nuids++;
			return 0;
		}
		if (opt == OPT_ALLOW_GID && !vu_lookup_group(arg, &p->gids[p->ngids])) {
			p->ngids++;
			return 0;
		}
		break;
	case OPT_USER:
		if (!vu_lookup_user(arg, &p->uid, &gid, &has_gid)) {
			p->has_user = true;
			/* Its primary group, unless --group says another. */
			if (has_gid && !p->has_group) {
				p->gid = gid;
				p->has_group = true;
			}
			return 0;
		}
		break;
	case OPT_GROUP:
		if (!vu_lookup_group(arg, &p->gid)) {
			p->has_group = true;
			return 0;
		}
		break;
	case OPT_NO_SANDBOX:
		p->sandbox = false;
		return 0;
	case OPT_CONTROL:
		if (!*arg || strlen(arg) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
			usage_error(self, "%s '%s': empty or longer than %zu bytes", name, arg,
				    sizeof(((struct sockaddr_un *)0)->sun_path) - 1);
			return -1;
		}
		control_path = arg;
		return 0;
	case OPT_LOCK_WAIT: {
		unsigned int v;

		if (parse_uint(name, arg, 0, 3600, &v))
			return -1;
		lock_wait_ms = v * 1000;
		return 0;
	}
	}
	usage_error(self, "%s '%s': no such %s", name, arg,
		    opt == OPT_ALLOW_UID || opt == OPT_USER ? "user" : "group");
	return -1;
}

static const struct option opts[] = {
	VU_EXPORT_LONG_OPTIONS,
	{ "fd", required_argument, NULL, OPT_FD },
	{ "export", required_argument, NULL, OPT_EXPORT },
	{ "allow-uid", required_argument, NULL, OPT_ALLOW_UID },
	{ "allow-gid", required_argument, NULL, OPT_ALLOW_GID },
	{ "user", required_argument, NULL, OPT_USER },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "lock-wait", required_argument, NULL, OPT_LOCK_WAIT },
	{ "config", required_argument, NULL, OPT_CONFIG },
	{ "control", required_argument, NULL, OPT_CONTROL },
	{ "help", no_argument, NULL, 'h' },
	{ NULL, 0, NULL, 0 }
};

static int export_opt(void *ctx, int opt, const char *name, const char *arg);

/*
 * --config FILE: the file's lines are options, without their "--": the
 * name, then its value after a space or '=' (the rest of the line), as
 *
 *     export socket=/run/vhu/vm1.sock,backing=/srv/vm1.img,queues=4
 *     lock-wait 10
 *
 * Blank lines and lines starting with '#' are skipped. Each is taken as
 * on the command line, at the place of --config. -1 when all were taken,
 * else the exit status (after an error naming the file and line).
 */
static int read_config(struct groups *p, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	int lineno = 0, ret = -1;

	if (!f) {
		verr("--config %s: %s", path, strerror(errno));
		return EXIT_FAIL;
	}
	while (ret < 0 && getline(&line, &cap, f) > 0) {
		char *key = line, *val, *end, name[48];
		const struct option *o;

		lineno++;
		usage_context("%s:%d: ", path, lineno);
		key += strspn(key, " \t");
		end = key + strlen(key);
		while (end > key && strchr(" \t\r\n", end[-1]))
			*--end = '\0';
		if (!*key || *key == '#')
			continue;
		val = key + strcspn(key, " \t=");
		if (*val) {
			*val++ = '\0';
			val += strspn(val, " \t");
		}
		for (o = opts; o->name; o++)
			if (!strcmp(o->name, key))
				break;
		if (!o->name || o->val == 'h' || o->val == OPT_CONFIG) {
			usage_error(self, "unknown option '%s'", key);
			ret = EXIT_USAGE;
		} else if ((o->has_arg == required_argument) != !!*val) {
			usage_error(self, "option '%s' %s", key,
				    *val ? "takes no value" : "needs a value");
			ret = EXIT_USAGE;
		} else {
			snprintf(name, sizeof(name), "--%s", key);
			ret = export_opt(p, o->val, name, *val ? val : NULL);
		}
	}
	usage_context(NULL);
	if (ret < 0 && ferror(f)) {
		verr("--config %s: %s", path, strerror(errno));
		ret = EXIT_FAIL;
	}
	free(line);
	fclose(f);
	return ret;
}

static int export_opt(void *ctx, int opt, const char *name, const char *arg)
{
	struct groups *p = ctx;
	struct group *g = p->g;

	if (opt == OPT_CONFIG)
		return read_config(p, arg);
	if (opt >= OPT_ALLOW_UID)
		return daemon_opt(opt, name, arg) ? EXIT_USAGE : -1;

	if (p->n >= MAX_EXPORTS) {
		usage_error(self, "more than %d exports", MAX_EXPORTS);
		return EXIT_USAGE;
	}
	if (opt == OPT_EXPORT) {
		if (g[p->n].set)
			group_defaults(&g[++p->n]);
		if (parse_export_word(&g[p->n], arg))
			return EXIT_USAGE;
		group_defaults(&g[++p->n]);
		return -1;
	}
	/* An option the group already has begins the next group. */
	if (g[p->n].set & (1u << opt)) {
		group_defaults(&g[++p->n]);
		snprintf(g[p->n].begun_by, sizeof(g->begun_by), "%s", name);
	}
	return apply(&g[p->n], opt, name, arg) ? EXIT_USAGE : -1;
}

/* vhuctl export, or vhuctl daemon (cmd): the same but for the control socket. */
static int export_main(const struct vhuctl_cmd *cmd, int argc, char **argv)
{
	struct groups *p = calloc(1, sizeof(*p));
	struct vu_export *ex = NULL;
	struct group *g;
	unsigned int ng;
	int ret;
	char err[512];

	if (!p)
		return EXIT_FAIL;
	g = p->g;
	group_defaults(&g[0]);
	self = cmd;
	control_path = cmd == &cmd_daemon ? VU_CTL_DEFAULT_PATH : NULL;
	memset(&vu_priv, 0, sizeof(vu_priv));
	lock_wait_ms = LOCK_WAIT_DEFAULT_MS;
	vu_priv.sandbox = true;
	ret = cmd_parse(self, argc, argv, "+h", opts, export_opt, p);
	if (ret >= 0)
		goto out;
	ret = EXIT_USAGE;
	ng = g[p->n].set ? p->n + 1 : p->n;
	if (!ng && !control_path) {
		usage_error(self, "no export given");
		goto out;
	}
	if (ng > MAX_EXPORTS) {
		usage_error(self, "more than %d exports", MAX_EXPORTS);
		goto out;
	}
	for (unsigned int i = 0; i < ng; i++) {
		if (!(g[i].set & ((1u << OPT_SOCKET) | (1u << OPT_FD))) ||
		    !(g[i].set & (1u << OPT_BACKING))) {
			if (g[i].begun_by[0])
				usage_error(self, "export %u needs both --socket (or --fd) and --backing; "
					    "it began where %s was given a second time, as an option "
					    "given again begins the next export", i + 1, g[i].begun_by);
			else
				usage_error(self, "export %u needs both --socket (or --fd) and --backing",
					    i + 1);
			goto out;
		}
		if ((g[i].set & (1u << OPT_FD)) &&
		    (g[i].set & ((1u << OPT_SOCKET_MODE) | (1u << OPT_SOCKET_GROUP)))) {
			usage_error(self, "export %u: --socket-mode and --socket-group are for "
				    "a socket the daemon makes, not an inherited one (--fd)", i + 1);
			goto out;
		}
	}
	if (inherit_sockets(g, ng)) {
		ret = EXIT_FAIL;
		goto out;
	}
	for (unsigned int i = 0; i < ng; i++) {
		for (unsigned int j = 0; j < i; j++)
			if (same_socket(g[i].cfg.socket_path, g[j].cfg.socket_path)) {
				if (strcmp(g[i].cfg.socket_path, g[j].cfg.socket_path))
					usage_error(self, "socket %s is given twice (also as %s)",
						    g[i].cfg.socket_path, g[j].cfg.socket_path);
				else
					usage_error(self, "socket %s is given twice",
						    g[i].cfg.socket_path);
				goto out;
			}
	}

	ret = EXIT_FAIL;
	ex = calloc(ng ? ng : 1, sizeof(*ex));
	if (!ex)
		goto out;
	for (unsigned int i = 0; i < ng; i++) {
		ex[i].cfg = g[i].cfg;
		ex[i].cfg.backing_fd = -1;
		ex[i].sock = g[i].sock;
	}
	for (unsigned int i = 0; i < ng; i++)
		if (open_backing(ex, i))
			goto out_close;
	for (unsigned int i = 0; i < ng; i++) {
		ex[i].ops = vu_dp_select(ex[i].cfg.mode, err, sizeof(err));
		if (!ex[i].ops) {
			verr("%s: %s", ex[i].cfg.socket_path, err);
			goto out_close;
		}
		if (err[0])
			vlog("%s: --datapath auto: the userspace datapath, as the kernel's cannot run: %s",
			     ex[i].cfg.socket_path, err);
		if (vu_export_check_datapath(&ex[i].cfg, ex[i].ops == &vu_dp_kernel_ops,
					     err, sizeof(err))) {
			verr("%s: %s", ex[i].cfg.socket_path, err);
			goto out_close;
		}
	}
	/* The daemon owns the backing fds from here. */
	ret = vu_daemon_run_ctl(ex, ng, control_path) ? EXIT_FAIL : EXIT_OK;
	goto out;

out_close:
	for (unsigned int i = 0; i < ng; i++)
		if (ex[i].cfg.backing_fd >= 0)
			close(ex[i].cfg.backing_fd);
out:
	free(ex);
	free(p);
	return ret;
}

static int export_run(int argc, char **argv)
{
	return export_main(&cmd_export, argc, argv);
}

const struct vhuctl_cmd cmd_export = {
	.name = "export",
	.summary = "serve files or block devices to vhost-user-blk frontends (foreground)",
	.usage = "--socket PATH --backing FILE [--readonly] [--queues N] [--queue-size N]\n"
		 "        [--direct] [--serial S] [--logical-block-size 512|4096]\n"
		 "        [--datapath auto|kernel|user] [--handshake-timeout SEC]\n"
		 "        [--force-share] [--pin-memory] [--busy-poll USEC]\n"
		 "        [--socket-mode MODE] [--socket-group GROUP]\n"
		 "        [--fd N|NAME] [--socket PATH --backing FILE ...]\n"
		 "        [--allow-uid USER]... [--allow-gid GROUP]... [--user USER] [--group GROUP]\n"
		 "        [--no-sandbox] [--lock-wait SEC] [--config FILE] [--control PATH]\n"
		 "   or: vhuctl export --export socket=PATH,backing=FILE[,readonly][,queues=N]... ...",
	.options =
	"  an export (an option given again begins the next one):\n"
VU_EXPORT_HELP
	"  --fd N|NAME            a listening socket passed by the service manager instead\n"
	"  --export KEY=VALUE,... one export as one word, keys the options above\n"
	"  the daemon:\n"
	"  --allow-uid USER       serve only peers of these users (repeatable)\n"
	"  --allow-gid GROUP      ... or of these groups (repeatable)\n"
	"  --user USER            become this user once set up\n"
	"  --group GROUP          ... and this group\n"
	"  --no-sandbox           serve without the seccomp filter\n"
	"  --lock-wait SEC        wait this long for a backing's other user (default 5)\n"
	"  --config FILE          options from FILE, one per line without '--'\n"
	"  --control PATH         also serve the control socket at PATH (vhuctl add, list, ...)\n"
	"  -h, --help             this usage\n",
	.run = export_run,
};

static int daemon_run(int argc, char **argv)
{
	return export_main(&cmd_daemon, argc, argv);
}

const struct vhuctl_cmd cmd_daemon = {
	.name = "daemon",
	.summary = "the export daemon with a control socket (foreground), maybe with no export",
	.usage = "[--control PATH] [--config FILE] [daemon options] [export options ...]",
	.options =
	"  --control PATH         the control socket (default " VU_CTL_DEFAULT_PATH ")\n"
	"  and every option of vhuctl export (vhuctl help export)\n"
	"  -h, --help             this usage\n",
	.run = daemon_run,
};
