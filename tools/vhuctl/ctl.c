// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the export daemon's control socket (ctl.h).
 *
 * The main thread accepts; each client gets a thread of its own, which
 * reads its requests, runs them in order and writes the replies, so a
 * client that stalls, or an operation that waits for a busy export (up
 * to VU_CTL_OP_TIMEOUT_MS), holds up only that client. Operations on an
 * export run on the export's own thread (vu_export_call()); an export
 * that does not get to one in time is reported busy.
 *
 * Events go to every client that asked for them (monitor) through its
 * output buffer: an event that does not fit (a client that does not
 * read) is dropped and counted, and the client is told how many once its
 * buffer drained. Whoever reports an event never waits for a client.
 *
 * The daemon opens no path here after it is set up: the client of "add"
 * opens the backing, the socket and /dev/vhu and passes their fds, which
 * are checked (type, size, access mode) before the export starts.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl.h"
#include "daemon.h"
#include "export_opts.h"
#include "log.h"
#include "sockfile.h"
#include "util.h"

/* Clients at once; more are refused (and logged, rate-limited). */
#define CTL_MAX_CLIENTS		64
/* Events wait in a client's buffer up to this much; more are dropped. */
#define CTL_EVENT_BUF		65536
/* A client whose replies pile up past this is not read until it reads. */
#define CTL_OUT_HIGH		(1024 * 1024)
/*
 * How long vu_ctl_close() waits for the clients' threads, once the
 * exports have stopped (which ends every wait for one).
 */
#define CTL_CLOSE_MS		1000

struct fd_batch {
	uint64_t pos;			/* stream offset of the chunk's last byte */
	unsigned int n;
	bool overflow;			/* more than VU_CTL_MAX_FDS, or truncated */
	int fds[VU_CTL_MAX_FDS];
};

struct conn {
	struct vu_ctl *ctl;
	int fd;
	int wake_fd;			/* readable: something to write */
	pid_t pid;
	pthread_mutex_t lock;
	char *out;			/* protected by lock */
	size_t out_len, out_cap;	/* protected by lock */
	unsigned long dropped;		/* protected by lock: events left out */
	bool monitor;			/* protected by the ctl's ev_lock */
	struct conn *next;		/* protected by the ctl's ev_lock */
	bool closing;			/* close once the output is written */

	char in[VU_CTL_LINE_MAX + 2];
	size_t in_len;
	uint64_t in_pos;		/* stream offset of in[0] */
	struct fd_batch batch[8];
	unsigned int nbatch;
};

struct vu_ctl {
	struct vu_daemon *d;
	int listen_fd;
	char path[108];
	bool created;
	int stop_fd;			/* readable: every client ends */
	pthread_mutex_t ev_lock;
	pthread_cond_t ev_cond;		/* a client ended */
	struct conn *clients;		/* protected by ev_lock */
	unsigned int nclients;		/* protected by ev_lock */
	struct vlog_ratelimit rl_refused;
	uid_t uid;			/* the daemon's, once it dropped privileges */
};

/* The one control socket of this process, for the events. */
static struct vu_ctl *the_ctl;

void vu_ctl_fail(struct vu_ctl_reply *r, int code, int err_no, const char *fmt, ...)
{
	va_list ap;

	r->code = code;
	r->err_no = err_no;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

bool vu_ctl_params_only(struct json_object *params, const char *const *keys,
			struct vu_ctl_reply *r)
{
	json_object_object_foreach(params, key, val) {
		const char *const *k;

		(void)val;
		for (k = keys; *k && strcmp(*k, key); k++)
			;
		if (!*k) {
			vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "unknown parameter '%s'", key);
			return false;
		}
	}
	return true;
}

const char *vu_ctl_param_string(struct json_object *params, const char *key,
				struct vu_ctl_reply *r)
{
	struct json_object *v;

	if (!json_object_object_get_ex(params, key, &v)) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "parameter '%s' is missing", key);
		return NULL;
	}
	if (!json_object_is_type(v, json_type_string) || !*json_object_get_string(v)) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "parameter '%s': expected a non-empty string",
			    key);
		return NULL;
	}
	return json_object_get_string(v);
}

/* ---- output and events ------------------------------------------------ */

static const char *to_line(struct json_object *o)
{
	return json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE);
}

/* Append line and '\n' to c's output; events only up to CTL_EVENT_BUF. */
static bool out_append(struct conn *c, const char *line, bool event)
{
	size_t len = strlen(line);
	bool ok = true;

	pthread_mutex_lock(&c->lock);
	if (event && c->out_len + len + 1 > CTL_EVENT_BUF) {
		c->dropped++;
		ok = false;
	} else {
		if (c->out_len + len + 1 > c->out_cap) {
			size_t cap = c->out_cap ? c->out_cap : 4096;
			char *p;

			while (cap < c->out_len + len + 1)
				cap *= 2;
			p = realloc(c->out, cap);
			if (!p) {
				pthread_mutex_unlock(&c->lock);
				return false;
			}
			c->out = p;
			c->out_cap = cap;
		}
		memcpy(c->out + c->out_len, line, len);
		c->out[c->out_len + len] = '\n';
		c->out_len += len + 1;
	}
	pthread_mutex_unlock(&c->lock);
	if (ok)
		eventfd_write(c->wake_fd, 1);
	return ok;
}

static double now_unix(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A notification {"jsonrpc","method":"event","params":{event,socket,time}}. */
static struct json_object *event_new(const char *event, const char *socket,
				     struct json_object **params)
{
	struct json_object *o = json_object_new_object(), *p = json_object_new_object();

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "method", json_object_new_string("event"));
	json_object_object_add(p, "event", json_object_new_string(event));
	if (socket)
		json_object_object_add(p, "socket", json_object_new_string(socket));
	json_object_object_add(p, "time", json_object_new_double(now_unix()));
	json_object_object_add(o, "params", p);
	*params = p;
	return o;
}

static void broadcast(struct json_object *o)
{
	struct vu_ctl *ctl = __atomic_load_n(&the_ctl, __ATOMIC_ACQUIRE);
	const char *line;

	if (ctl) {
		line = to_line(o);
		pthread_mutex_lock(&ctl->ev_lock);
		for (struct conn *c = ctl->clients; c; c = c->next)
			if (c->monitor)
				out_append(c, line, true);
		pthread_mutex_unlock(&ctl->ev_lock);
	}
	json_object_put(o);
}

/* No client, no work: most daemons have no monitor most of the time. */
static bool monitored(void)
{
	return __atomic_load_n(&the_ctl, __ATOMIC_ACQUIRE) != NULL;
}

static void event_simple(const char *event, const char *socket)
{
	struct json_object *p;

	if (monitored())
		broadcast(event_new(event, socket, &p));
}

void vu_ctl_event_add(const char *socket)
{
	event_simple("add", socket);
}

void vu_ctl_event_remove(const char *socket)
{
	event_simple("remove", socket);
}

void vu_ctl_event_connect(const char *socket, pid_t pid)
{
	struct json_object *o, *p;

	if (!monitored())
		return;
	o = event_new("connect", socket, &p);
	json_object_object_add(p, "pid", json_object_new_int64(pid));
	broadcast(o);
}

void vu_ctl_event_disconnect(const char *socket, const char *reason)
{
	struct json_object *o, *p;

	if (!monitored())
		return;
	o = event_new("disconnect", socket, &p);
	json_object_object_add(p, "reason", json_object_new_string(reason));
	broadcast(o);
}

void vu_ctl_event_resize(const char *socket, uint64_t size)
{
	struct json_object *o, *p;

	if (!monitored())
		return;
	o = event_new("resize", socket, &p);
	json_object_object_add(p, "size", json_object_new_int64((int64_t)size));
	broadcast(o);
}

void vu_ctl_event_queue(const char *socket, const char *event, uint32_t queue)
{
	struct json_object *o, *p;

	if (!monitored())
		return;
	o = event_new(event, socket, &p);
	json_object_object_add(p, "queue", json_object_new_int64(queue));
	broadcast(o);
}

/* ---- methods ------------------------------------------------------------ */

/* The fds of a request, taken by a method by setting them to -1. */
struct req_fds {
	int fd[VU_CTL_MAX_FDS];
	unsigned int n;
};

/* params.fds.<key>: an index into the request's fds; -1 if absent and optional. */
static int fd_param(struct json_object *fds, const char *key, bool required,
		    struct req_fds *rf, struct vu_ctl_reply *r)
{
	struct json_object *v;
	int64_t i;

	if (!fds || !json_object_object_get_ex(fds, key, &v)) {
		if (required)
			vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
				    "fds: '%s' is missing (an index into the request's fds)", key);
		return required ? -2 : -1;
	}
	if (!json_object_is_type(v, json_type_int)) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "fds: '%s': expected an index", key);
		return -2;
	}
	i = json_object_get_int64(v);
	if (i < 0 || i >= rf->n || rf->fd[i] < 0) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
			    "fds: '%s': index %" PRId64 ": the request carries %u fd%s%s", key, i,
			    rf->n, rf->n == 1 ? "" : "s", i >= 0 && i < rf->n ? " (used twice)" : "");
		return -2;
	}
	return (int)i;
}

/* The options of an export from "options": false with -32602 in r. */
static bool add_options(struct vu_export_group *g, struct json_object *opts,
			struct vu_ctl_reply *r)
{
	vu_export_defaults(g);
	json_object_object_foreach(opts, key, val) {
		const struct vu_export_key *k = vu_export_key(key);
		char name[64], arg[64], err[512];
		const char *a = NULL;

		snprintf(name, sizeof(name), "--%s", key);
		if (!k) {
			vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "unknown option '%s'", key);
			return false;
		}
		if (k->opt == OPT_FD) {
			vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
				    "option 'fd': the socket comes as fds.socket");
			return false;
		}
		if (!k->has_arg) {
			if (!json_object_is_type(val, json_type_boolean)) {
				vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
					    "option '%s': expected true or false", key);
				return false;
			}
			if (!json_object_get_boolean(val))
				continue;
		} else if (json_object_is_type(val, json_type_string)) {
			a = json_object_get_string(val);
		} else if (json_object_is_type(val, json_type_int)) {
			snprintf(arg, sizeof(arg), "%" PRId64, json_object_get_int64(val));
			a = arg;
		} else {
			vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
				    "option '%s': expected a string or an integer", key);
			return false;
		}
		/* The client made the socket file: its group is no name to look up here. */
		if (k->opt == OPT_SOCKET_GROUP) {
			g->set |= 1u << k->opt;
			continue;
		}
		if (vu_export_apply(g, k->opt, name, a, err, sizeof(err))) {
			vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "%s", err);
			return false;
		}
	}
	if (!(g->set & (1u << OPT_SOCKET)) || !(g->set & (1u << OPT_BACKING))) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "options: an export needs both socket and backing");
		return false;
	}
	if (g->cfg.socket_path[0] != '/') {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "options: socket '%s' is not an absolute path",
			    g->cfg.socket_path);
		return false;
	}
	return true;
}

/*
 * The backing fd as the export's options want it (vhuctl export's checks
 * on an open file, with the calls the sandbox allows): its size and the
 * smallest block it serves into cfg.
 */
static bool check_backing(struct vu_export_cfg *c, int fd, struct vu_ctl_reply *r)
{
	struct statx stx;
	struct stat st;
	int fl = fcntl(fd, F_GETFL);
	off_t end;

	if (fstat(fd, &st) < 0 || fl < 0) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, errno, "fds.backing: %s", strerror(errno));
		return false;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
			    "fds.backing: not a regular file or block device");
		return false;
	}
	if (!c->readonly && (fl & O_ACCMODE) != O_RDWR) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
			    "fds.backing: not open for reading and writing (readonly not given)");
		return false;
	}
	if ((fl & O_ACCMODE) == O_WRONLY) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "fds.backing: not open for reading");
		return false;
	}
	if (!!(fl & O_DIRECT) != c->direct &&
	    fcntl(fd, F_SETFL, c->direct ? fl | O_DIRECT : fl & ~O_DIRECT) < 0) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, errno, "fds.backing: O_DIRECT: %s",
			    strerror(errno));
		return false;
	}
	if (S_ISREG(st.st_mode)) {
		c->size = st.st_size;
	} else {
		end = lseek(fd, 0, SEEK_END);
		if (end < 0) {
			vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, errno, "fds.backing: %s",
				    strerror(errno));
			return false;
		}
		c->size = end;
	}
	/* A block device's logical block size, a file's O_DIRECT alignment. */
	c->backing_lbs = 512;
	if ((S_ISBLK(st.st_mode) || c->direct) &&
	    !statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align > 512)
		c->backing_lbs = stx.stx_dio_offset_align;
	if (c->backing_lbs > c->lbs) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
			    "backing %s: its blocks (%u bytes) are larger than the %u-byte logical block size",
			    c->backing, c->backing_lbs, c->lbs);
		return false;
	}
	if (c->size < c->lbs || c->size % c->lbs) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
			    "backing %s: size %" PRIu64 " is not a nonzero multiple of the %u-byte logical block size",
			    c->backing, c->size, c->lbs);
		return false;
	}
	return true;
}

/* The socket fd: listening, AF_UNIX stream, bound to the socket option's path. */
static bool check_socket(const struct vu_export_cfg *c, int fd, struct vu_ctl_reply *r)
{
	struct sockaddr_un sa;
	socklen_t len = sizeof(sa);
	char err[128];

	if (vu_check_listen_fd(fd, err, sizeof(err))) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "fds.socket: %s", err);
		return false;
	}
	memset(&sa, 0, sizeof(sa));
	if (getsockname(fd, (struct sockaddr *)&sa, &len) < 0 ||
	    strncmp(sa.sun_path, c->socket_path, sizeof(sa.sun_path))) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "fds.socket: bound to '%.*s', not to %s",
			    (int)sizeof(sa.sun_path), sa.sun_path, c->socket_path);
		return false;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
		vu_ctl_fail(r, VU_RPC_FAILED, errno, "fds.socket: %s", strerror(errno));
		return false;
	}
	return true;
}

static bool check_device(int fd, struct vu_ctl_reply *r)
{
	struct stat st, dev;

	if (fstat(fd, &st) < 0 || !S_ISCHR(st.st_mode) || stat(VHU_DEVICE_PATH, &dev) < 0 ||
	    st.st_rdev != dev.st_rdev) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "fds.device: not %s", VHU_DEVICE_PATH);
		return false;
	}
	return true;
}

/* One image: the same inode, or the same block device through any node. */
static bool same_image(int a, int b)
{
	struct stat sa, sb;

	if (fstat(a, &sa) || fstat(b, &sb))
		return false;
	if (S_ISBLK(sa.st_mode) && S_ISBLK(sb.st_mode))
		return sa.st_rdev == sb.st_rdev;
	return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

static void m_add(struct vu_daemon *d, struct json_object *params, struct req_fds *rf,
		  struct vu_ctl_reply *r)
{
	static const char *const keys[] = { "options", "fds", NULL };
	static const char *const fd_keys[] = { "backing", "socket", "device", NULL };
	struct json_object *opts, *fds = NULL;
	struct vu_export_group g;
	struct vu_export *e, **all;
	int ib, is, idev, n, ret;
	char err[256];

	if (!vu_ctl_params_only(params, keys, r))
		return;
	if (!json_object_object_get_ex(params, "options", &opts) ||
	    !json_object_is_type(opts, json_type_object)) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "parameter 'options': expected an object");
		return;
	}
	if (!json_object_object_get_ex(params, "fds", &fds) ||
	    !json_object_is_type(fds, json_type_object)) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "parameter 'fds': expected an object");
		return;
	}
	if (!vu_ctl_params_only(fds, fd_keys, r) || !add_options(&g, opts, r))
		return;
	e = vu_daemon_get(d, g.cfg.socket_path);
	if (e) {
		vu_daemon_put(d, e);
		vu_ctl_fail(r, VU_RPC_FAILED, EEXIST, "socket %s is already served",
			    g.cfg.socket_path);
		return;
	}
	ib = fd_param(fds, "backing", true, rf, r);
	if (ib < -1)
		return;
	is = fd_param(fds, "socket", true, rf, r);
	if (is < -1)
		return;
	idev = fd_param(fds, "device", false, rf, r);
	if (idev < -1)
		return;
	if (ib == is || (idev >= 0 && (idev == ib || idev == is))) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "fds: one fd given for two");
		return;
	}
	if (idev >= 0 && g.cfg.mode == VU_DP_USER) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
			    "fds.device: given with datapath user");
		return;
	}
	if (vu_export_check_datapath(&g.cfg, idev >= 0, err, sizeof(err))) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0, "%s (no fds.device)", err);
		return;
	}
	if (idev < 0 && g.cfg.mode == VU_DP_KERNEL) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
			    "datapath kernel: fds.device (%s) is missing", VHU_DEVICE_PATH);
		return;
	}
	if (!check_backing(&g.cfg, rf->fd[ib], r) || !check_socket(&g.cfg, rf->fd[is], r) ||
	    (idev >= 0 && !check_device(rf->fd[idev], r)))
		return;

	n = vu_daemon_get_all(d, &all);
	for (int i = 0; i < n; i++) {
		bool clash = all[i]->cfg.backing_fd >= 0 &&
			     same_image(all[i]->cfg.backing_fd, rf->fd[ib]) &&
			     !(g.cfg.readonly && all[i]->cfg.readonly);

		if (clash && r->code == 0)
			vu_ctl_fail(r, VU_RPC_FAILED, EBUSY,
				    "backing %s is exported by %s already and not read-only in both",
				    g.cfg.backing, all[i]->cfg.socket_path);
		vu_daemon_put(d, all[i]);
	}
	if (n >= 0)
		free(all);
	if (r->code)
		return;

	e = calloc(1, sizeof(*e));
	if (!e) {
		vu_ctl_fail(r, VU_RPC_FAILED, ENOMEM, "out of memory");
		return;
	}
	e->cfg = g.cfg;
	e->cfg.backing_fd = rf->fd[ib];
	e->listen_fd = rf->fd[is];
	if (idev >= 0) {
		e->cfg.has_device_fd = true;
		e->cfg.device_fd = rf->fd[idev];
		e->ops = &vu_dp_kernel_ops;
	} else {
		e->ops = &vu_dp_user_ops;
	}
	ret = vu_daemon_add(d, e, err, sizeof(err));
	if (ret) {
		vu_ctl_fail(r, VU_RPC_FAILED, -ret, "%s", err);
		free(e);
		return;
	}
	/* The export owns them now. */
	rf->fd[ib] = rf->fd[is] = -1;
	if (idev >= 0)
		rf->fd[idev] = -1;
	r->result = json_object_new_object();
	json_object_object_add(r->result, "socket", json_object_new_string(g.cfg.socket_path));
}

static void m_remove(struct vu_daemon *d, struct json_object *params, struct vu_ctl_reply *r)
{
	static const char *const keys[] = { "socket", NULL };
	const char *socket;
	char err[512];
	int ret;

	if (!vu_ctl_params_only(params, keys, r))
		return;
	socket = vu_ctl_param_string(params, "socket", r);
	if (!socket)
		return;
	ret = vu_daemon_remove(d, socket, VU_CTL_OP_TIMEOUT_MS + 1000, err, sizeof(err));
	if (ret) {
		vu_ctl_fail(r, VU_RPC_FAILED, -ret, "%s", err);
		return;
	}
	r->result = json_object_new_object();
}

/* What list says of an export, read on its own thread. */
struct info_op {
	struct vu_export_op op;
	bool connected;
	pid_t pid;
	uint64_t features, protocol_features, size;
	int64_t dev_id;
};

static void info_fn(struct vu_export *e, struct vu_export_op *op)
{
	struct info_op *o = (struct info_op *)op;

	o->connected = e->dev.conn_fd >= 0;
	o->pid = o->connected ? e->frontend_pid : 0;
	o->features = o->connected ? e->dev.acked_features : 0;
	o->protocol_features = o->connected ? e->dev.acked_protocol_features : 0;
	o->size = e->cfg.size;
	o->dev_id = e->ops == &vu_dp_kernel_ops && e->dp ? (int64_t)vu_dpk_dev_id(e->dp) : -1;
	op->ret = 0;
}

static struct json_object *export_info(struct vu_export *e)
{
	struct json_object *o = json_object_new_object();
	struct info_op *op = calloc(1, sizeof(*op));
	int ret = -ENOMEM;

	json_object_object_add(o, "socket", json_object_new_string(e->cfg.socket_path));
	json_object_object_add(o, "backing", json_object_new_string(e->cfg.backing));
	json_object_object_add(o, "readonly", json_object_new_boolean(e->cfg.readonly));
	json_object_object_add(o, "datapath", json_object_new_string(
		e->ops == &vu_dp_kernel_ops ? "kernel" : "user"));
	json_object_object_add(o, "queues", json_object_new_int64(e->cfg.queues));
	json_object_object_add(o, "queue-size", json_object_new_int64(e->cfg.queue_size));
	json_object_object_add(o, "pin-memory", json_object_new_boolean(e->cfg.pin_memory));
	json_object_object_add(o, "busy-poll", json_object_new_int64(e->cfg.busy_poll_us));
	if (op) {
		op->op.fn = info_fn;
		ret = vu_export_call(e, &op->op, VU_CTL_OP_TIMEOUT_MS);
	}
	if (!ret) {
		json_object_object_add(o, "size", json_object_new_int64((int64_t)op->size));
		json_object_object_add(o, "connected", json_object_new_boolean(op->connected));
		json_object_object_add(o, "frontend-pid", json_object_new_int64(op->pid));
		json_object_object_add(o, "features",
				       json_object_new_int64((int64_t)op->features));
		json_object_object_add(o, "protocol-features",
				       json_object_new_int64((int64_t)op->protocol_features));
		if (op->dev_id >= 0)
			json_object_object_add(o, "dev-id", json_object_new_int64(op->dev_id));
		free(op);
	} else {
		/* Its thread is held up (a frontend's message, a backing's I/O). */
		json_object_object_add(o, "busy", json_object_new_boolean(true));
	}
	return o;
}

static void m_list(struct vu_daemon *d, struct json_object *params, struct vu_ctl_reply *r)
{
	static const char *const keys[] = { NULL };
	struct json_object *arr;
	struct vu_export **all;
	int n;

	if (!vu_ctl_params_only(params, keys, r))
		return;
	n = vu_daemon_get_all(d, &all);
	if (n < 0) {
		vu_ctl_fail(r, VU_RPC_FAILED, ENOMEM, "out of memory");
		return;
	}
	arr = json_object_new_array();
	for (int i = 0; i < n; i++) {
		json_object_array_add(arr, export_info(all[i]));
		vu_daemon_put(d, all[i]);
	}
	free(all);
	r->result = json_object_new_object();
	json_object_object_add(r->result, "exports", arr);
}

static void m_monitor(struct json_object *params, struct vu_ctl_reply *r)
{
	static const char *const keys[] = { NULL };

	if (!vu_ctl_params_only(params, keys, r))
		return;
	r->result = json_object_new_object();
	/* Events follow the reply: it is queued before any of them. */
}

/* ---- requests ----------------------------------------------------------- */

static void reply(struct conn *c, struct json_object *id, struct vu_ctl_reply *r)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(o, "id", id ? json_object_get(id) : NULL);
	if (r->code) {
		struct json_object *e = json_object_new_object();

		json_object_object_add(e, "code", json_object_new_int(r->code));
		json_object_object_add(e, "message", json_object_new_string(r->err));
		if (r->err_no) {
			struct json_object *data = json_object_new_object();

			json_object_object_add(data, "errno", json_object_new_int(r->err_no));
			json_object_object_add(e, "data", data);
		}
		json_object_object_add(o, "error", e);
		json_object_put(r->result);
	} else {
		json_object_object_add(o, "result", r->result);
	}
	r->result = NULL;
	out_append(c, to_line(o), false);
	json_object_put(o);
}

static void error_reply(struct conn *c, int code, const char *msg)
{
	struct vu_ctl_reply r = { 0 };

	vu_ctl_fail(&r, code, 0, "%s", msg);
	reply(c, NULL, &r);
}

/* One request line with its fds (closed here unless a method took them). */
static void handle_line(struct conn *c, const char *line, size_t len, struct req_fds *rf,
			bool fd_error)
{
	static const char *const members[] = { "jsonrpc", "id", "method", "params", NULL };
	struct json_tokener *tok = json_tokener_new();
	struct vu_ctl_reply r = { 0 };
	struct json_object *req = NULL, *v, *id = NULL, *params = NULL, *empty = NULL;
	const char *method;
	bool has_id;

	while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t'))
		len--;
	if (!len && !rf->n)
		goto out;	/* a blank line */
	if (tok)
		req = json_tokener_parse_ex(tok, line, (int)len);
	if (!req || json_tokener_get_error(tok) != json_tokener_success ||
	    json_tokener_get_parse_end(tok) != len) {
		error_reply(c, VU_RPC_PARSE_ERROR, "parse error: not one JSON text on the line");
		goto out;
	}
	if (!json_object_is_type(req, json_type_object)) {
		error_reply(c, VU_RPC_INVALID_REQUEST, "invalid request: not a JSON object");
		goto out;
	}
	has_id = json_object_object_get_ex(req, "id", &id);
	if (has_id && id && !json_object_is_type(id, json_type_string) &&
	    !json_object_is_type(id, json_type_int)) {
		error_reply(c, VU_RPC_INVALID_REQUEST,
			    "invalid request: id must be a string, an integer or null");
		goto out;
	}
	if (!json_object_object_get_ex(req, "jsonrpc", &v) ||
	    !json_object_is_type(v, json_type_string) || strcmp(json_object_get_string(v), "2.0")) {
		vu_ctl_fail(&r, VU_RPC_INVALID_REQUEST, 0, "invalid request: jsonrpc must be \"2.0\"");
		goto answer;
	}
	json_object_object_foreach(req, key, val) {
		const char *const *k;

		(void)val;
		for (k = members; *k && strcmp(*k, key); k++)
			;
		if (!*k) {
			vu_ctl_fail(&r, VU_RPC_INVALID_REQUEST, 0,
				    "invalid request: unknown member '%s'", key);
			goto answer;
		}
	}
	if (!json_object_object_get_ex(req, "method", &v) ||
	    !json_object_is_type(v, json_type_string)) {
		vu_ctl_fail(&r, VU_RPC_INVALID_REQUEST, 0, "invalid request: no method");
		goto answer;
	}
	method = json_object_get_string(v);
	if (fd_error) {
		vu_ctl_fail(&r, VU_RPC_INVALID_REQUEST, 0,
			    "invalid request: more than %d fds", VU_CTL_MAX_FDS);
		goto answer;
	}
	if (json_object_object_get_ex(req, "params", &params) && params &&
	    !json_object_is_type(params, json_type_object)) {
		vu_ctl_fail(&r, VU_RPC_INVALID_PARAMS, 0, "params must be an object");
		goto answer;
	}
	if (!params)
		params = empty = json_object_new_object();
	if (!strcmp(method, "add")) {
		m_add(c->ctl->d, params, rf, &r);
	} else if (!strcmp(method, "remove")) {
		m_remove(c->ctl->d, params, &r);
	} else if (!strcmp(method, "list")) {
		m_list(c->ctl->d, params, &r);
	} else if (!strcmp(method, "stats")) {
		vu_ctl_stats(c->ctl->d, params, &r);
	} else if (!strcmp(method, "resize")) {
		vu_ctl_resize(c->ctl->d, params, &r);
	} else if (!strcmp(method, "monitor")) {
		m_monitor(params, &r);
	} else {
		vu_ctl_fail(&r, VU_RPC_NO_METHOD, 0, "unknown method '%s'", method);
	}
	if (!r.code && !strcmp(method, "monitor")) {
		/* The reply first, then the events, in this order. */
		pthread_mutex_lock(&c->ctl->ev_lock);
		if (has_id)
			reply(c, id, &r);
		c->monitor = true;
		pthread_mutex_unlock(&c->ctl->ev_lock);
		json_object_put(r.result);
		goto out;
	}
answer:
	if (has_id || r.code == VU_RPC_INVALID_REQUEST)
		reply(c, has_id ? id : NULL, &r);
	else
		json_object_put(r.result);	/* a notification: no reply */
out:
	for (unsigned int i = 0; i < rf->n; i++)
		if (rf->fd[i] >= 0)
			close(rf->fd[i]);
	rf->n = 0;
	json_object_put(empty);
	json_object_put(req);
	if (tok)
		json_tokener_free(tok);
}

/* The fds that came with the bytes [from, to] of the stream, into rf. */
static bool take_fds(struct conn *c, uint64_t from, uint64_t to, struct req_fds *rf)
{
	bool bad = false;
	unsigned int k = 0;

	rf->n = 0;
	for (unsigned int i = 0; i < c->nbatch; i++) {
		struct fd_batch *b = &c->batch[i];

		if (b->pos > to) {
			c->batch[k++] = *b;
			continue;
		}
		bad |= b->overflow || b->pos < from;
		for (unsigned int j = 0; j < b->n; j++) {
			if (rf->n < VU_CTL_MAX_FDS && b->pos >= from)
				rf->fd[rf->n++] = b->fds[j];
			else {
				close(b->fds[j]);
				bad = true;
			}
		}
	}
	c->nbatch = k;
	return bad;
}

/* Read what the client sent; false once it hung up or broke the framing. */
static bool conn_read(struct conn *c)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * VU_CTL_MAX_FDS * 2)];
	} cbuf;
	struct iovec iov = {
		.iov_base = c->in + c->in_len,
		.iov_len = sizeof(c->in) - 1 - c->in_len,
	};
	struct msghdr msg = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = cbuf.buf, .msg_controllen = sizeof(cbuf.buf),
	};
	struct fd_batch fb = { 0 };
	ssize_t n;
	size_t start = 0;

	n = recvmsg(c->fd, &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i < (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
			if (fb.n < VU_CTL_MAX_FDS) {
				fb.fds[fb.n++] = fd;
			} else {
				close(fd);
				fb.overflow = true;
			}
		}
	}
	if (msg.msg_flags & MSG_CTRUNC)
		fb.overflow = true;
	if (n == 0) {
		for (unsigned int i = 0; i < fb.n; i++)
			close(fb.fds[i]);
		return false;
	}
	if (fb.n || fb.overflow) {
		/* They belong to the request of the chunk's last byte. */
		fb.pos = c->in_pos + c->in_len + n - 1;
		if (c->nbatch == ARRAY_SIZE(c->batch)) {
			for (unsigned int i = 0; i < fb.n; i++)
				close(fb.fds[i]);
			error_reply(c, VU_RPC_INVALID_REQUEST, "invalid request: too many fds");
			return false;
		}
		c->batch[c->nbatch++] = fb;
	}
	c->in_len += n;
	for (;;) {
		char *nl = memchr(c->in + start, '\n', c->in_len - start);
		struct req_fds rf;
		size_t len;
		bool bad;

		if (!nl)
			break;
		len = nl - (c->in + start);
		bad = take_fds(c, c->in_pos + start, c->in_pos + start + len, &rf);
		if (len > VU_CTL_LINE_MAX) {
			for (unsigned int i = 0; i < rf.n; i++)
				close(rf.fd[i]);
			error_reply(c, VU_RPC_INVALID_REQUEST, "invalid request: longer than 65536 bytes");
			return false;
		}
		*nl = '\0';
		handle_line(c, c->in + start, len, &rf, bad);
		start += len + 1;
	}
	memmove(c->in, c->in + start, c->in_len - start);
	c->in_len -= start;
	c->in_pos += start;
	if (c->in_len > VU_CTL_LINE_MAX) {
		error_reply(c, VU_RPC_INVALID_REQUEST, "invalid request: longer than 65536 bytes");
		return false;
	}
	return true;
}

/* Write what is queued: false if the client is gone. */
static bool conn_write(struct conn *c)
{
	bool ok = true;

	pthread_mutex_lock(&c->lock);
	while (c->out_len) {
		ssize_t n = send(c->fd, c->out, c->out_len, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			ok = errno == EAGAIN || errno == EINTR;
			break;
		}
		memmove(c->out, c->out + n, c->out_len - n);
		c->out_len -= n;
	}
	if (ok && !c->out_len && c->dropped) {
		unsigned long dropped = c->dropped;
		struct json_object *o, *p;

		c->dropped = 0;
		pthread_mutex_unlock(&c->lock);
		o = event_new("dropped", NULL, &p);
		json_object_object_add(p, "count", json_object_new_int64(dropped));
		out_append(c, to_line(o), false);
		json_object_put(o);
		return true;
	}
	pthread_mutex_unlock(&c->lock);
	return ok;
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	struct vu_ctl *ctl = c->ctl;
	bool alive = true;

	while (alive) {
		size_t pending;
		struct pollfd p[3];
		uint64_t v;

		pthread_mutex_lock(&c->lock);
		pending = c->out_len;
		pthread_mutex_unlock(&c->lock);
		p[0] = (struct pollfd){ .fd = c->fd,
			.events = (pending < CTL_OUT_HIGH ? POLLIN : 0) | (pending ? POLLOUT : 0) };
		p[1] = (struct pollfd){ .fd = c->wake_fd, .events = POLLIN };
		p[2] = (struct pollfd){ .fd = ctl->stop_fd, .events = POLLIN };
		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[2].revents)
			break;
		if (p[1].revents)
			eventfd_read(c->wake_fd, &v);
		if (p[0].revents & POLLOUT)
			alive = conn_write(c);
		if (alive && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
			alive = conn_read(c);
		if (alive)
			alive = conn_write(c);
		else
			conn_write(c);	/* the last error, if it fits */
	}

	pthread_mutex_lock(&ctl->ev_lock);
	for (struct conn **pp = &ctl->clients; *pp; pp = &(*pp)->next)
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	ctl->nclients--;
	pthread_cond_broadcast(&ctl->ev_cond);
	pthread_mutex_unlock(&ctl->ev_lock);
	for (unsigned int i = 0; i < c->nbatch; i++)
		for (unsigned int j = 0; j < c->batch[i].n; j++)
			close(c->batch[i].fds[j]);
	close(c->fd);
	close(c->wake_fd);
	pthread_mutex_destroy(&c->lock);
	free(c->out);
	free(c);
	return NULL;
}

/*
 * May this peer use the control socket? Root, the daemon's own user, or
 * one of --allow-uid/--allow-gid.
 */
static bool ctl_peer_allowed(struct vu_ctl *ctl, int fd, pid_t *pid)
{
	const struct vu_priv *p = &vu_priv;
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		vlog_rl(&ctl->rl_refused, "%s: refused a client: no peer credentials: %s",
			ctl->path, strerror(errno));
		return false;
	}
	*pid = uc.pid;
	if (uc.uid == 0 || uc.uid == ctl->uid)
		return true;
	for (unsigned int i = 0; i < p->nuids; i++)
		if (uc.uid == p->uids[i])
			return true;
	for (unsigned int i = 0; i < p->ngids; i++)
		if (uc.gid == p->gids[i])
			return true;
	vlog_rl(&ctl->rl_refused, "%s: refused a client (pid %d, uid %u, gid %u): "
		"not root, the daemon's user or in --allow-uid/--allow-gid", ctl->path,
		(int)uc.pid, (unsigned int)uc.uid, (unsigned int)uc.gid);
	return false;
}

void vu_ctl_accept(struct vu_ctl *ctl)
{
	pthread_attr_t attr;
	pthread_t t;
	struct conn *c;
	pid_t pid = 0;
	int fd, err_no;

	fd = accept4(ctl->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	if (!ctl_peer_allowed(ctl, fd, &pid)) {
		close(fd);
		return;
	}
	pthread_mutex_lock(&ctl->ev_lock);
	if (ctl->nclients >= CTL_MAX_CLIENTS) {
		pthread_mutex_unlock(&ctl->ev_lock);
		vlog_rl(&ctl->rl_refused, "%s: refused a client (pid %d): %d are connected",
			ctl->path, (int)pid, CTL_MAX_CLIENTS);
		close(fd);
		return;
	}
	pthread_mutex_unlock(&ctl->ev_lock);
	c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->ctl = ctl;
	c->fd = fd;
	c->pid = pid;
	c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&c->lock, NULL);
	if (c->wake_fd < 0) {
		close(fd);
		free(c);
		return;
	}
	pthread_mutex_lock(&ctl->ev_lock);
	c->next = ctl->clients;
	ctl->clients = c;
	ctl->nclients++;
	pthread_mutex_unlock(&ctl->ev_lock);
	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	err_no = pthread_create(&t, &attr, conn_thread, c);
	pthread_attr_destroy(&attr);
	if (err_no) {
		vlog_rl(&ctl->rl_refused, "%s: cannot serve a client: %s", ctl->path,
			strerror(err_no));
		pthread_mutex_lock(&ctl->ev_lock);
		ctl->clients = c->next;
		ctl->nclients--;
		pthread_mutex_unlock(&ctl->ev_lock);
		close(c->wake_fd);
		close(fd);
		free(c);
	}
}

struct vu_ctl *vu_ctl_open(struct vu_daemon *d, const char *path)
{
	struct vu_sock_opts o = { .mode = 0600 };
	struct vu_ctl *ctl = calloc(1, sizeof(*ctl));
	pthread_condattr_t ca;

	if (!ctl) {
		verr("out of memory");
		return NULL;
	}
	if (strlen(path) >= sizeof(ctl->path)) {
		verr("--control %s: longer than %zu bytes", path, sizeof(ctl->path) - 1);
		free(ctl);
		return NULL;
	}
	strcpy(ctl->path, path);
	ctl->d = d;
	/* The user it runs as from vu_priv_enter() on (the filter refuses geteuid()). */
	ctl->uid = vu_priv.has_user ? vu_priv.uid : geteuid();
	ctl->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (ctl->stop_fd < 0) {
		verr("eventfd: %s", strerror(errno));
		free(ctl);
		return NULL;
	}
	ctl->listen_fd = vu_socket_create(path, &o, &ctl->created);
	if (ctl->listen_fd < 0) {
		close(ctl->stop_fd);
		free(ctl);
		return NULL;
	}
	pthread_mutex_init(&ctl->ev_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ctl->ev_cond, &ca);
	pthread_condattr_destroy(&ca);
	vlog_ratelimit_init(&ctl->rl_refused, "refused control clients",
			    VLOG_RL_INTERVAL_MS, VLOG_RL_BURST);
	/*
	 * json-c seeds its hash tables on first use, and an export's
	 * defaults count the CPUs (sysfs): both before the sandbox.
	 */
	json_object_put(json_tokener_parse("{\"a\":1}"));
	{
		struct vu_export_group g;

		vu_export_defaults(&g);
	}
	__atomic_store_n(&the_ctl, ctl, __ATOMIC_RELEASE);
	vlog("control socket %s", path);
	return ctl;
}

int vu_ctl_fd(const struct vu_ctl *ctl)
{
	return ctl->listen_fd;
}

void vu_ctl_stop(struct vu_ctl *ctl)
{
	if (!ctl)
		return;
	if (ctl->created && unlink(ctl->path) < 0)
		vlog("%s: cannot remove it: %s", ctl->path, strerror(errno));
	ctl->created = false;
	close_fd(&ctl->listen_fd);
	eventfd_write(ctl->stop_fd, 1);
}

bool vu_ctl_close(struct vu_ctl *ctl)
{
	struct timespec ts;
	int ret = 0;

	if (!ctl)
		return true;
	vu_ctl_stop(ctl);
	vu_deadline_ts(&ts, CTL_CLOSE_MS);
	pthread_mutex_lock(&ctl->ev_lock);
	while (ctl->nclients && !ret)
		ret = pthread_cond_timedwait(&ctl->ev_cond, &ctl->ev_lock, &ts);
	pthread_mutex_unlock(&ctl->ev_lock);
	if (ret) {
		/* A client's operation still waits for an export: left to the exit. */
		vlog("%s: a control client is still busy at shutdown", ctl->path);
		return false;
	}
	__atomic_store_n(&the_ctl, NULL, __ATOMIC_RELEASE);
	vlog_rl_flush(&ctl->rl_refused);
	close(ctl->stop_fd);
	pthread_mutex_destroy(&ctl->ev_lock);
	pthread_cond_destroy(&ctl->ev_cond);
	free(ctl);
	return true;
}
