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
#include <sys/ioctl.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <linux/fs.h>

#include "daemon.h"
#include "imglock.h"
#include "log.h"
#include "util.h"
#include "vhuctl.h"

#define MAX_EXPORTS 64

enum {
	OPT_SOCKET = 1, OPT_BACKING, OPT_READONLY, OPT_QUEUES, OPT_QUEUE_SIZE, OPT_DIRECT,
	OPT_SERIAL, OPT_LBS, OPT_DATAPATH, OPT_SOCKET_MODE, OPT_SOCKET_GROUP, OPT_FD,
	OPT_HANDSHAKE_TIMEOUT, OPT_FORCE_SHARE, OPT_EXPORT,
	/* The daemon's, not an export's: anywhere on the command line. */
	OPT_ALLOW_UID, OPT_ALLOW_GID, OPT_USER, OPT_GROUP, OPT_NO_SANDBOX, OPT_LOCK_WAIT,
	OPT_CONFIG,
};

/* What a group has set, to know when the next group starts. */
struct group {
	struct vu_export_cfg cfg;
	struct vu_sock_opts sock;
	char fd_name[VU_FDNAME_MAX];	/* --fd NAME: from LISTEN_FDNAMES */
	unsigned int set;	/* 1 << O_* */
	char begun_by[40];	/* the option that, given again, began it */
};

static const struct vhuctl_cmd *self = &cmd_export;

static int parse_uint(const char *opt, const char *s, unsigned int min,
		      unsigned int max, unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	/* Decimal only: "010" is ten, not eight. */
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		usage_error(self, "%s '%s': expected a number from %u to %u",
			    opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* --socket-mode: octal read and write bits (execute means nothing on a socket). */
static int parse_mode(const char *opt, const char *s, mode_t *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || end == s || *end || *s == '-' || *s == '+' || v & ~0666ul) {
		usage_error(self, "%s '%s': expected an octal mode of read and write bits "
			    "(at most 0666)", opt, s);
		return -1;
	}
	if (!(v & 0600)) {
		usage_error(self, "%s '%s': the owner needs read and write", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Apply one option to a group; 0, or -1 after printing the error. */
static int apply(struct group *g, int opt, const char *name, const char *arg)
{
	struct vu_export_cfg *c = &g->cfg;
	unsigned int v;

	switch (opt) {
	case OPT_SOCKET:
		if (!*arg || strlen(arg) >= sizeof(c->socket_path)) {
			usage_error(self, "--socket '%s': empty or longer than %zu bytes",
				    arg, sizeof(c->socket_path) - 1);
			return -1;
		}
		strcpy(c->socket_path, arg);
		break;
	case OPT_BACKING:
		if (!*arg || strlen(arg) >= sizeof(c->backing)) {
			usage_error(self, "--backing '%s': empty or too long", arg);
			return -1;
		}
		strcpy(c->backing, arg);
		break;
	case OPT_READONLY:
		c->readonly = true;
		break;
	case OPT_DIRECT:
		c->direct = true;
		break;
	case OPT_FORCE_SHARE:
		c->force_share = true;
		break;
	case OPT_QUEUES:
		if (parse_uint(name, arg, 1, VHU_MAX_QUEUES, &v))
			return -1;
		c->queues = v;
		break;
	case OPT_QUEUE_SIZE:
		if (parse_uint(name, arg, 2, VHU_MAX_VRING_NUM, &v))
			return -1;
		if (v & (v - 1)) {
			usage_error(self, "%s %u: not a power of 2", name, v);
			return -1;
		}
		c->queue_size = v;
		break;
	case OPT_SERIAL:
		if (strlen(arg) > 20) {
			usage_error(self, "%s '%s': longer than 20 bytes", name, arg);
			return -1;
		}
		for (const char *p = arg; *p; p++)
			if (*p < 0x20 || *p > 0x7e) {
				usage_error(self, "%s: only printable ASCII", name);
				return -1;
			}
		strcpy(c->serial, arg);
		break;
	case OPT_LBS:
		if (parse_uint(name, arg, 512, 4096, &v))
			return -1;
		if (v != 512 && v != 4096) {
			usage_error(self, "%s %u: must be 512 or 4096", name, v);
			return -1;
		}
		c->lbs = v;
		break;
	case OPT_HANDSHAKE_TIMEOUT:
		/* Seconds from connecting to SET_OWNER; 0: no limit. */
		if (parse_uint(name, arg, 0, 3600, &v))
			return -1;
		c->handshake_timeout_ms = v ? v * 1000 : VU_HANDSHAKE_NONE;
		break;
	case OPT_DATAPATH:
		if (!strcmp(arg, "auto"))
			c->mode = VU_DP_AUTO;
		else if (!strcmp(arg, "kernel"))
			c->mode = VU_DP_KERNEL;
		else if (!strcmp(arg, "user"))
			c->mode = VU_DP_USER;
		else {
			usage_error(self, "%s '%s': expected auto, kernel or user",
				    name, arg);
			return -1;
		}
		break;
	case OPT_SOCKET_MODE:
		if (parse_mode(name, arg, &g->sock.mode))
			return -1;
		break;
	case OPT_SOCKET_GROUP:
		if (vu_lookup_group(arg, &g->sock.gid)) {
			usage_error(self, "%s '%s': no such group", name, arg);
			return -1;
		}
		g->sock.has_gid = true;
		break;
	case OPT_FD:
		if (*arg >= '0' && *arg <= '9') {
			if (parse_uint(name, arg, 0, INT_MAX, &v))
				return -1;
			g->sock.fd = v;
			g->sock.has_fd = true;
		} else if (!*arg || strlen(arg) >= sizeof(g->fd_name) || strchr(arg, ':')) {
			usage_error(self, "%s '%s': expected a number or a socket's name", name, arg);
			return -1;
		} else {
			strcpy(g->fd_name, arg);
		}
		break;
	}
	g->set |= 1u << opt;
	return 0;
}

static const struct {
	const char *key;
	int opt;
	bool has_arg;
} keys[] = {
	{ "socket", OPT_SOCKET, true },
	{ "backing", OPT_BACKING, true },
	{ "readonly", OPT_READONLY, false },
	{ "queues", OPT_QUEUES, true },
	{ "queue-size", OPT_QUEUE_SIZE, true },
	{ "direct", OPT_DIRECT, false },
	{ "serial", OPT_SERIAL, true },
	{ "logical-block-size", OPT_LBS, true },
	{ "datapath", OPT_DATAPATH, true },
	{ "handshake-timeout", OPT_HANDSHAKE_TIMEOUT, true },
	{ "force-share", OPT_FORCE_SHARE, false },
	{ "socket-mode", OPT_SOCKET_MODE, true },
	{ "socket-group", OPT_SOCKET_GROUP, true },
	{ "fd", OPT_FD, true },
};

/* --export socket=...,backing=...: one complete group. */
static int parse_export_word(struct group *g, const char *word)
{
	char *dup = strdup(word), *save = NULL, *tok;
	int ret = 0;

	if (!dup)
		return -1;
	for (tok = strtok_r(dup, ",", &save); tok && !ret;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		size_t k;

		if (eq)
			*eq = '\0';
		for (k = 0; k < ARRAY_SIZE(keys); k++)
			if (!strcmp(keys[k].key, tok))
				break;
		if (k == ARRAY_SIZE(keys)) {
			usage_error(self, "--export: unknown key '%s'", tok);
			ret = -1;
		} else if (keys[k].has_arg != !!eq) {
			usage_error(self, "--export: key '%s' %s", tok,
				    keys[k].has_arg ? "needs a value" : "takes no value");
			ret = -1;
		} else if (g->set & (1u << keys[k].opt)) {
			usage_error(self, "--export: key '%s' given twice", tok);
			ret = -1;
		} else {
			ret = apply(g, keys[k].opt, tok, eq ? eq + 1 : NULL);
		}
	}
	free(dup);
	return ret;
}

/*
 * QEMU's vhost-user-blk asks for one queue per vCPU unless told otherwise,
 * and refuses a backend that offers fewer: offer one per host CPU, up to
 * 16 (each queue is a worker thread, also when the guest leaves it idle).
 */
#define EXPORT_DEFAULT_QUEUES_MAX	16

static void group_defaults(struct group *g)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(g, 0, sizeof(*g));
	g->cfg.queues = ncpu < 1 ? 1 : ncpu > EXPORT_DEFAULT_QUEUES_MAX ?
			EXPORT_DEFAULT_QUEUES_MAX : ncpu;
	/* Any ring a frontend asks for: crosvm's are this large by default. */
	g->cfg.queue_size = VHU_MAX_VRING_NUM;
	g->cfg.lbs = 512;
	g->cfg.mode = VU_DP_AUTO;
	g->cfg.backing_fd = -1;
}

/*
 * The file offset alignment O_DIRECT needs on fd, a regular file: what
 * statx() says, or, where the file system does not say, 512 if a 512-byte
 * read at offset 512 works and else 4096 (the next size an export takes).
 */
static unsigned int dio_align(int fd, uint64_t size)
{
	struct statx stx;
	void *buf;
	ssize_t n;

	if (!statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align)
		return stx.stx_dio_offset_align < 512 ? 512 : stx.stx_dio_offset_align;
	if (size < 1024 || posix_memalign(&buf, 4096, 512))
		return 512;
	n = pread(fd, buf, 512, 512);
	free(buf);
	return n < 0 && errno == EINVAL ? 4096 : 512;
}

/* What a file that cannot be a backing is, for the error. */
static const char *file_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "of an unknown type";
}

/* One image: the same inode, or the same block device through any node. */
static bool same_image(const struct stat *a, const struct stat *b)
{
	if (S_ISBLK(a->st_mode) && S_ISBLK(b->st_mode))
		return a->st_rdev == b->st_rdev;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Open export i's backing file or block device (those of ex[0..i-1] are
 * open), check it and lock it (imglock.c). Its type is checked first:
 * opening a FIFO would wait for a writer, and a character device may act on
 * open. A writable block device is opened O_EXCL unless --force-share: the
 * kernel then refuses one that is mounted, part of another device (RAID,
 * device-mapper) or opened O_EXCL by anyone else, which no lock shows.
 * 0; 1 if another user has it (printed if report); -1 after the error.
 */
static int try_backing(struct vu_export *ex, unsigned int i, bool report)
{
	struct vu_export_cfg *c = &ex[i].cfg;
	int flags = (c->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st, fst;
	uint64_t size;
	int fd, ret;

	if (stat(c->backing, &st) < 0) {
		verr("backing %s: %s", c->backing, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		verr("backing %s: %s, not a regular file or block device",
		     c->backing, file_type(st.st_mode));
		return -1;
	}
	for (unsigned int j = 0; j < i; j++) {
		struct stat sj;

		if (!fstat(ex[j].cfg.backing_fd, &sj) && same_image(&st, &sj) &&
		    !(c->readonly && ex[j].cfg.readonly)) {
			verr("backing %s is exported twice and not read-only in both",
			     c->backing);
			return -1;
		}
	}
	if (c->direct)
		flags |= O_DIRECT;
	/* Not to wait for a writer should it have become a FIFO since. */
	if (S_ISREG(st.st_mode))
		flags |= O_NONBLOCK;
	if (S_ISBLK(st.st_mode) && !c->readonly && !c->force_share)
		flags |= O_EXCL;
	fd = open(c->backing, flags);
	if (fd < 0 && errno == EBUSY && (flags & O_EXCL)) {
		if (report)
			verr("backing %s: in use: the device is mounted, part of another device or opened exclusively (O_EXCL) by another program; --force-share overrides this",
			     c->backing);
		return 1;
	}
	if (fd < 0) {
		verr("backing %s: %s%s", c->backing, strerror(errno),
		     errno == EINVAL && c->direct ? " (O_DIRECT unsupported here?)" :
		     (errno == EACCES || errno == EROFS || errno == EPERM) && !c->readonly ?
		     " (to export it read-only, give --readonly)" : "");
		return -1;
	}
	if (fstat(fd, &fst) < 0)
		goto err_errno;
	if ((st.st_mode ^ fst.st_mode) & S_IFMT || !same_image(&st, &fst)) {
		verr("backing %s: replaced while it was being opened", c->backing);
		goto err;
	}
	if ((flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		goto err_errno;
	c->backing_lbs = 512;
	if (S_ISREG(st.st_mode)) {
		size = fst.st_size;
		if (c->direct)
			c->backing_lbs = dio_align(fd, size);
		if (c->backing_lbs > c->lbs) {
			verr("backing %s: O_DIRECT on it needs %u-byte alignment, more than the %u-byte logical block size",
			     c->backing, c->backing_lbs, c->lbs);
			goto err;
		}
	} else {
		int ssz = 0;

		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			goto err_errno;
		if (ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz > 512)
			c->backing_lbs = ssz;
		if (c->backing_lbs > c->lbs) {
			verr("backing %s: its logical block size %u is larger than %u",
			     c->backing, c->backing_lbs, c->lbs);
			goto err;
		}
	}
	if (size < c->lbs) {
		verr("backing %s: %s", c->backing,
		     size ? "smaller than one logical block" : "is empty");
		goto err;
	}
	if (size % c->lbs) {
		verr("backing %s: size %" PRIu64 " is not a multiple of the %u-byte logical block size",
		     c->backing, size, c->lbs);
		goto err;
	}
	ret = img_lock(fd, c->backing, !c->readonly, c->force_share, report);
	if (ret) {
		close(fd);
		return ret;
	}
	c->backing_fd = fd;
	c->size = size;
	return 0;
err_errno:
	verr("backing %s: %s", c->backing, strerror(errno));
err:
	close(fd);
	return -1;
}

/*
 * --lock-wait: how long to wait for a backing's other user to let it go.
 * The user in the way is often this daemon's own predecessor, killed and
 * restarted: its backing stays open, and so locked, until the kernel has
 * finished the I/O it had in flight (an io_uring ring is torn down after
 * its process is gone; vhu.ko gives requests VHU_EXIT_WAIT_MS).
 */
#define LOCK_WAIT_DEFAULT_MS	5000
#define LOCK_POLL_MS		50
static unsigned int lock_wait_ms = LOCK_WAIT_DEFAULT_MS;

/* try_backing(), again while another user has it, for lock_wait_ms. */
static int open_backing(struct vu_export *ex, unsigned int i)
{
	const char *path = ex[i].cfg.backing;
	uint64_t t0 = vu_now_ms(), waited = 0;
	int ret;

	while ((ret = try_backing(ex, i, waited >= lock_wait_ms)) > 0) {
		if (waited >= lock_wait_ms)
			return -1;
		if (!waited)
			vlog("backing %s: in use; waiting up to %u s for it to be let go (--lock-wait)",
			     path, lock_wait_ms / 1000);
		usleep(LOCK_POLL_MS * 1000);
		waited = vu_now_ms() - t0;
		if (waited > lock_wait_ms)
			waited = lock_wait_ms;
	}
	if (!ret && waited)
		vlog("backing %s: let go after %" PRIu64 " ms", path, waited);
	return ret;
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
	{ "socket", required_argument, NULL, OPT_SOCKET },
	{ "backing", required_argument, NULL, OPT_BACKING },
	{ "readonly", no_argument, NULL, OPT_READONLY },
	{ "queues", required_argument, NULL, OPT_QUEUES },
	{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },
	{ "direct", no_argument, NULL, OPT_DIRECT },
	{ "serial", required_argument, NULL, OPT_SERIAL },
	{ "logical-block-size", required_argument, NULL, OPT_LBS },
	{ "datapath", required_argument, NULL, OPT_DATAPATH },
	{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },
	{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },
	{ "fd", required_argument, NULL, OPT_FD },
	{ "export", required_argument, NULL, OPT_EXPORT },
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT },
	{ "force-share", no_argument, NULL, OPT_FORCE_SHARE },
	{ "allow-uid", required_argument, NULL, OPT_ALLOW_UID },
	{ "allow-gid", required_argument, NULL, OPT_ALLOW_GID },
	{ "user", required_argument, NULL, OPT_USER },
	{ "group", required_argument, NULL, OPT_GROUP },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "lock-wait", required_argument, NULL, OPT_LOCK_WAIT },
	{ "config", required_argument, NULL, OPT_CONFIG },
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

static int export_run(int argc, char **argv)
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
	memset(&vu_priv, 0, sizeof(vu_priv));
	lock_wait_ms = LOCK_WAIT_DEFAULT_MS;
	vu_priv.sandbox = true;
	ret = cmd_parse(self, argc, argv, "+h", opts, export_opt, p);
	if (ret >= 0)
		goto out;
	ret = EXIT_USAGE;
	ng = g[p->n].set ? p->n + 1 : p->n;
	if (!ng) {
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
	ex = calloc(ng, sizeof(*ex));
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
	}
	/* The daemon owns the backing fds from here. */
	ret = vu_daemon_run(ex, ng) ? EXIT_FAIL : EXIT_OK;
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

const struct vhuctl_cmd cmd_export = {
	.name = "export",
	.summary = "serve files or block devices to vhost-user-blk frontends (foreground)",
	.usage = "--socket PATH --backing FILE [--readonly] [--queues N] [--queue-size N]\n"
		 "        [--direct] [--serial S] [--logical-block-size 512|4096]\n"
		 "        [--datapath auto|kernel|user] [--handshake-timeout SEC]\n"
		 "        [--force-share] [--socket-mode MODE] [--socket-group GROUP]\n"
		 "        [--fd N|NAME] [--socket PATH --backing FILE ...]\n"
		 "        [--allow-uid USER]... [--allow-gid GROUP]... [--user USER] [--group GROUP]\n"
		 "        [--no-sandbox] [--lock-wait SEC] [--config FILE]\n"
		 "   or: vhuctl export --export socket=PATH,backing=FILE[,readonly][,queues=N]... ...",
	.options =
	"  an export (an option given again begins the next one):\n"
	"  --socket PATH          the vhost-user UNIX socket to listen on\n"
	"  --fd N|NAME            a listening socket passed by the service manager instead\n"
	"  --backing FILE         the regular file or block device to serve\n"
	"  --readonly             serve it read-only (VIRTIO_BLK_F_RO)\n"
	"  --queues N             request queues offered, 1 to 64 (default: CPUs, at most 16)\n"
	"  --queue-size N         the largest ring a frontend may ask for, a power of 2\n"
	"  --direct               open the backing O_DIRECT (no host page cache)\n"
	"  --serial S             the disk's serial (GET_ID), at most 20 bytes\n"
	"  --logical-block-size 512|4096\n"
	"                         the block size the guest sees\n"
	"  --datapath auto|kernel|user\n"
	"                         vhu.ko, or io_uring in the daemon (auto: vhu.ko if usable)\n"
	"  --handshake-timeout SEC\n"
	"                         seconds from a connection to SET_OWNER (default 30, 0: none)\n"
	"  --force-share          refuse no other user of the backing (image locks)\n"
	"  --socket-mode MODE     the socket's mode, octal (default 0600)\n"
	"  --socket-group GROUP   the socket's group\n"
	"  --export KEY=VALUE,... one export as one word, keys the options above\n"
	"  the daemon:\n"
	"  --allow-uid USER       serve only peers of these users (repeatable)\n"
	"  --allow-gid GROUP      ... or of these groups (repeatable)\n"
	"  --user USER            become this user once set up\n"
	"  --group GROUP          ... and this group\n"
	"  --no-sandbox           serve without the seccomp filter\n"
	"  --lock-wait SEC        wait this long for a backing's other user (default 5)\n"
	"  --config FILE          options from FILE, one per line without '--'\n"
	"  -h, --help             this usage\n",
	.run = export_run,
};
