// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket of vhuctl daemon (Documentation/vhuctl.rst,
 * "Control socket"): a daemon started with no export, readiness, two
 * exports added at runtime with vhuctl add and driven by the test
 * frontend, list with the frontend's pid, the monitor's events, a remove
 * while a frontend is connected (it sees the disconnect, the other export
 * keeps serving), every kind of malformed request answered with its
 * error while the daemon keeps serving, a monitor client that never
 * reads, a peer that may not use the socket, and SIGTERM with exports
 * added at runtime.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "t_user.h"
#include "tap.h"

#define IMG_SIZE	(1u << 20)
/* The options member that asks "add" for the userspace datapath. */
#define USER	",\"datapath\":\"user\""

static const char *vhuctl(void)
{
	return getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* A client connection with what it read past its last line. */
struct cl {
	int fd;
	char buf[1 << 17];
	size_t len;
};

static bool cl_open(struct cl *c, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	c->len = 0;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd >= 0 && !connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)))
		return true;
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	return false;
}

static void cl_close(struct cl *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

/* Send s (its newline included by the caller) with fds. */
static bool cl_send(struct cl *c, const char *s, const int *fds, unsigned int nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * 8)];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)s, .iov_len = strlen(s) };
	struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds) {
		struct cmsghdr *cm;

		memset(&cbuf, 0, sizeof(cbuf));
		msg.msg_control = cbuf.buf;
		msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		cm = CMSG_FIRSTHDR(&msg);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	return sendmsg(c->fd, &msg, MSG_NOSIGNAL) == (ssize_t)iov.iov_len;
}

/* The next line as JSON within ms, or NULL (*eof set when the peer closed). */
static struct json_object *cl_recv(struct cl *c, int ms, bool *eof)
{
	uint64_t deadline = now_ms() + ms;

	if (eof)
		*eof = false;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t n;

		if (nl) {
			struct json_object *o;

			*nl = '\0';
			o = json_tokener_parse(c->buf);
			c->len -= nl + 1 - c->buf;
			memmove(c->buf, nl + 1, c->len);
			return o;
		}
		if (now >= deadline || poll(&p, 1, (int)(deadline - now)) != 1)
			return NULL;
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - 1 - c->len);
		if (n <= 0) {
			if (eof)
				*eof = true;
			return NULL;
		}
		c->len += n;
	}
}

/* A request and its reply (NULL if none within 5 s). */
static struct json_object *call(struct cl *c, const char *req, const int *fds,
				unsigned int nfds)
{
	return cl_send(c, req, fds, nfds) ? cl_recv(c, 5000, NULL) : NULL;
}

static int64_t err_code(struct json_object *rep)
{
	struct json_object *e, *code;

	if (!rep || !json_object_object_get_ex(rep, "error", &e) ||
	    !json_object_object_get_ex(e, "code", &code))
		return 0;
	return json_object_get_int64(code);
}

static const char *err_msg(struct json_object *rep)
{
	struct json_object *e, *m;

	if (!rep || !json_object_object_get_ex(rep, "error", &e) ||
	    !json_object_object_get_ex(e, "message", &m))
		return "";
	return json_object_get_string(m);
}

/*
 * An "add" of @sock on @backing that must fail: @opts are further members
 * of its options (each with a leading comma, or ""), @fdmap the members
 * of its fds. The error must be @code, its message must hold @needle
 * (if not NULL).
 */
static void add_fails(struct cl *c, const char *sock, const char *backing,
		      const char *opts, const char *fdmap, const int *fds,
		      unsigned int nfds, int64_t code, const char *needle,
		      const char *what)
{
	struct json_object *rep;
	char req[1024];

	snprintf(req, sizeof(req),
		 "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\",\"params\":{\"options\":"
		 "{\"socket\":\"%s\",\"backing\":\"%s\"%s},\"fds\":{%s}}}\n",
		 sock, backing, opts, fdmap);
	rep = call(c, req, fds, nfds);
	if (!tap_ok(err_code(rep) == code && (!needle || strstr(err_msg(rep), needle)),
		    "control: %s: %lld", what, (long long)code))
		tap_diag("reply: %s", rep ? json_object_to_json_string(rep) : "none");
	json_object_put(rep);
}

static struct json_object *result(struct json_object *rep)
{
	struct json_object *r;

	return rep && json_object_object_get_ex(rep, "result", &r) ? r : NULL;
}

/* The export on sock in a list result, or NULL. */
static struct json_object *listed(struct json_object *res, const char *sock)
{
	struct json_object *arr;

	if (!res || !json_object_object_get_ex(res, "exports", &arr))
		return NULL;
	for (size_t i = 0; i < json_object_array_length(arr); i++) {
		struct json_object *e = json_object_array_get_idx(arr, i), *s;

		if (json_object_object_get_ex(e, "socket", &s) &&
		    !strcmp(json_object_get_string(s), sock))
			return e;
	}
	return NULL;
}

static int64_t member_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) ? json_object_get_int64(v) : -1;
}

static const char *member_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && v ? json_object_get_string(v) : "";
}

/*
 * Wait up to 5 s for the event ev on sock from the monitor m, skipping
 * others: its params (to put with the returned object), or NULL.
 */
static struct json_object *wait_event(struct cl *m, const char *ev, const char *sock,
				      struct json_object **params)
{
	uint64_t deadline = now_ms() + 5000;

	while (now_ms() < deadline) {
		struct json_object *o = cl_recv(m, (int)(deadline - now_ms()), NULL), *p;

		if (!o) {
			tap_diag("no %s event (%zu bytes unread: %.100s)", ev, m->len, m->buf);
			return NULL;
		}
		if (json_object_object_get_ex(o, "params", &p) &&
		    !strcmp(member_str(p, "event"), ev) &&
		    (!sock || !strcmp(member_str(p, "socket"), sock))) {
			*params = p;
			return o;
		}
		json_object_put(o);
	}
	return NULL;
}

/* vhuctl add of one export on sock over img: its exit status. */
static int add(const char *ctl, const char *sock, const char *img, struct run *r)
{
	run_prog(r, vhuctl(), (const char *const[]){ "add", "--control", ctl, "--socket", sock,
		 "--backing", img, "--queues", "1", "--datapath", "user", NULL }, 10000);
	return r->status;
}

/* A listening socket bound to path (made here), for raw add requests. */
static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 1)) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/* Every kind of bad request, each with its error, on one connection or its own. */
static void malformed(const char *ctl, struct tmp_dir *d, const char *served,
		      const char *img)
{
	const char *xsock = tmp_file(d, "x.sock"), *ximg = tmp_file(d, "x.img");
	static const struct {
		const char *what, *req;
		int64_t code;
	} bad[] = {
		{ "not JSON", "hello\n", -32700 },
		{ "two JSON texts on a line", "{} {}\n", -32700 },
		{ "an array", "[1,2]\n", -32600 },
		{ "no jsonrpc member", "{\"id\":1,\"method\":\"list\"}\n", -32600 },
		{ "jsonrpc 1.0", "{\"jsonrpc\":\"1.0\",\"id\":1,\"method\":\"list\"}\n", -32600 },
		{ "an unknown member", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"list\",\"x\":1}\n",
		  -32600 },
		{ "a method that is no string", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":7}\n",
		  -32600 },
		{ "an unknown method", "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"frobnicate\"}\n",
		  -32601 },
		{ "params that are no object",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"list\",\"params\":[]}\n", -32602 },
		{ "an extra parameter",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"list\",\"params\":{\"x\":1}}\n", -32602 },
		{ "a missing parameter",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"remove\",\"params\":{}}\n", -32602 },
		{ "a parameter of the wrong type",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"remove\",\"params\":{\"socket\":5}}\n",
		  -32602 },
		{ "remove of no export",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"remove\",\"params\":{\"socket\":\"/nonexistent.sock\"}}\n",
		  -32000 },
		{ "add without fds",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\",\"params\":{\"options\":{\"socket\":\"/a.sock\",\"backing\":\"/a\"}}}\n",
		  -32602 },
		{ "add with an unknown option",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\",\"params\":{\"options\":{\"socket\":\"/a.sock\",\"backing\":\"/a\",\"colour\":\"red\"},\"fds\":{}}}\n",
		  -32602 },
		{ "add with a bad option value",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\",\"params\":{\"options\":{\"socket\":\"/a.sock\",\"backing\":\"/a\",\"queue-size\":3},\"fds\":{}}}\n",
		  -32602 },
		{ "add with an fd index the request lacks",
		  "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"add\",\"params\":{\"options\":{\"socket\":\"/a.sock\",\"backing\":\"/a\"},\"fds\":{\"backing\":0,\"socket\":1}}}\n",
		  -32602 },
	};
	struct json_object *rep;
	struct cl c;
	int fds[5], lfd;
	bool eof;

	if (!tap_ok(cl_open(&c, ctl), "control: a client connects"))
		return;
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		rep = call(&c, bad[i].req, NULL, 0);
		if (!tap_ok(err_code(rep) == bad[i].code, "control: %s: error %lld",
			    bad[i].what, (long long)bad[i].code))
			tap_diag("reply: %s", rep ? json_object_to_json_string(rep) : "none");
		json_object_put(rep);
	}
	/* A notification (no id) gets no reply; the next request does. */
	rep = call(&c, "{\"jsonrpc\":\"2.0\",\"method\":\"list\"}\n"
		   "{\"jsonrpc\":\"2.0\",\"id\":\"n\",\"method\":\"list\"}\n", NULL, 0);
	tap_ok(rep && !strcmp(member_str(rep, "id"), "n"),
	       "control: a notification gets no reply");
	json_object_put(rep);

	/* The wrong fds for add: a pipe as the socket, a socket as the backing. */
	make_file(ximg, IMG_SIZE);
	lfd = listen_at(xsock);
	fds[0] = open(ximg, O_RDWR | O_CLOEXEC);
	if (pipe2(&fds[1], O_CLOEXEC))
		fds[1] = fds[2] = -1;
	fds[3] = lfd;
	add_fails(&c, xsock, ximg, USER, "\"backing\":0,\"socket\":1", fds, 4,
		  -32602, "fds.socket", "add with a pipe for the socket, naming fds.socket");
	add_fails(&c, xsock, ximg, USER, "\"backing\":3,\"socket\":3", fds, 4,
		  -32602, NULL, "add with one fd for two");
	add_fails(&c, xsock, ximg, USER, "\"backing\":1,\"socket\":3", fds, 4,
		  -32602, "fds.backing", "add with a pipe for the backing, naming fds.backing");
	/* A backing open read-only for an export that writes; a device that is not /dev/vhu. */
	{
		int ro = open(ximg, O_RDONLY | O_CLOEXEC), null = open("/dev/null", O_RDWR | O_CLOEXEC);
		int f2[3] = { ro, lfd, null };

		add_fails(&c, xsock, ximg, "", "\"backing\":0,\"socket\":1", f2, 3,
			  -32602, "readonly", "add with a read-only backing fd, not readonly");
		add_fails(&c, xsock, ximg, ",\"readonly\":true",
			  "\"backing\":0,\"socket\":1,\"device\":2", f2, 3, -32602,
			  "fds.device", "add with /dev/null as the device, naming fds.device");
		close(ro);
		close(null);
	}
	/* Busy polling on an export that gets the userspace datapath (no device). */
	add_fails(&c, xsock, ximg, ",\"busy-poll\":50", "\"backing\":0,\"socket\":3",
		  fds, 4, -32602, "only the kernel datapath polls",
		  "add with busy-poll and no device");
	add_fails(&c, xsock, ximg, ",\"busy-poll\":1001", "\"backing\":0,\"socket\":3",
		  fds, 4, -32602, "from 0 to 1000", "add with busy-poll over the bound");
	/* The socket of an export that is served already. */
	add_fails(&c, served, img, USER, "\"backing\":0,\"socket\":3", fds, 4,
		  -32000, "already served", "add of a socket already served");
	/* More fds than a request may carry. */
	fds[4] = fds[0];
	rep = call(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"list\"}\n", fds, 5);
	tap_ok(err_code(rep) == -32600, "control: a request with 5 fds: -32600");
	json_object_put(rep);
	for (int i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	unlink(xsock);

	/* Still serving this client. */
	rep = call(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"list\"}\n", NULL, 0);
	tap_ok(listed(result(rep), served) != NULL,
	       "control: after all of them, list still answers");
	tap_ok(member_int(listed(result(rep), served), "busy-poll") == 0,
	       "control: list shows busy-poll 0 for an export without it");
	json_object_put(rep);

	/* A line longer than 64 KiB: -32600, then the connection is closed. */
	{
		size_t n = 70000;
		char *big = malloc(n + 2);

		memset(big, 'x', n);
		big[n] = '\n';
		big[n + 1] = '\0';
		rep = call(&c, big, NULL, 0);
		tap_ok(err_code(rep) == -32600, "control: a line of %zu bytes: -32600", n);
		json_object_put(rep);
		rep = cl_recv(&c, 5000, &eof);
		tap_ok(!rep && eof, "control: ... and the connection is closed");
		json_object_put(rep);
		free(big);
	}
	cl_close(&c);
	if (tap_ok(cl_open(&c, ctl), "control: a new client connects after that")) {
		rep = call(&c, "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"list\"}\n", NULL, 0);
		tap_ok(listed(result(rep), served) != NULL, "control: ... and list answers it");
		json_object_put(rep);
		cl_close(&c);
	}
}

/* A peer that is not root, the daemon's user or allowed: refused. */
static void other_user(const char *ctl, const char *log)
{
	int status;
	pid_t pid;

	const char *dir = strrchr(ctl, '/') ? ctl : NULL;
	char d[128];

	snprintf(d, sizeof(d), "%.*s", dir ? (int)(strrchr(ctl, '/') - ctl) : 1, dir ? ctl : ".");
	chmod(d, 0711);
	chmod(ctl, 0666);
	fflush(stdout);
	pid = fork();
	if (!pid) {
		struct cl c;
		bool eof;

		if (setresgid(65534, 65534, 65534) || setresuid(65534, 65534, 65534))
			_exit(3);
		if (!cl_open(&c, ctl))
			_exit(4);
		if (!cl_send(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"list\"}\n", NULL, 0))
			_exit(0);	/* closed before it could even send */
		_exit(!cl_recv(&c, 5000, &eof) && eof ? 0 : 5);
	}
	tap_ok(pid > 0 && !wait_pid_bounded(pid, 10000, &status) && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0,
	       "control: a peer of another user is refused (connection closed)");
	tap_ok(file_count(log, "refused a client") >= 1, "control: ... and logged");
	chmod(ctl, 0600);
	chmod(d, 0700);
}

/*
 * An export whose thread is held up (a frontend stopped in the middle of a
 * message): list answers within its deadline, that export busy, the other
 * live.
 */
static void busy_export(const char *ctl, const char *busy, const char *live)
{
	struct json_object *rep = NULL;
	struct vf vf;
	uint64_t t0 = 0;
	struct cl c;
	bool sent;

	if (!tap_ok(!vf_connect(&vf, busy) && cl_open(&c, ctl),
		    "control: a frontend connects to be held up"))
		return;
	/* 4 bytes of a 12-byte header: the export waits up to 10 s for the rest. */
	sent = write(vf.sock, "\x01\0\0\0", 4) == 4;
	/* Until the export's thread has taken the bytes (a list before is live). */
	for (uint64_t end = now_ms() + 3000; sent && now_ms() < end;) {
		json_object_put(rep);
		t0 = now_ms();
		rep = call(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"list\"}\n",
			   NULL, 0);
		if (member_int(listed(result(rep), busy), "busy") == 1 || !rep)
			break;
	}
	tap_ok(sent && member_int(listed(result(rep), busy), "busy") == 1 &&
	       member_int(listed(result(rep), live), "busy") == -1 &&
	       member_int(listed(result(rep), live), "size") == IMG_SIZE &&
	       now_ms() - t0 < 3000,
	       "control: list marks an export held up by its frontend busy, the other live, "
	       "within its deadline (%llu ms)", (unsigned long long)(now_ms() - t0));
	json_object_put(rep);
	vf_close(&vf);
	cl_close(&c);
}

/* A monitor client that never reads: the daemon serves on, drops, counts. */
static void stalled_monitor(const char *ctl, const char *sock, struct vf_guest *g,
			    struct tdev *dev)
{
	struct json_object *rep, *p = NULL, *ev;
	struct cl m, c;
	uint64_t t0;
	bool ok = true;
	int i;

	if (!tap_ok(cl_open(&m, ctl) && cl_open(&c, ctl), "control: a silent monitor connects"))
		return;
	rep = call(&m, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"monitor\"}\n", NULL, 0);
	tap_ok(result(rep) != NULL, "control: monitor answers {}");
	json_object_put(rep);
	/* Frontends come and go: 2 events each, far more than it buffers. */
	for (i = 0; i < 3000 && ok; i++) {
		struct vf vf;

		ok = !vf_connect(&vf, sock);
		vf_close(&vf);
	}
	tap_ok(ok, "control: 3000 frontends connected and left");
	t0 = now_ms();
	rep = call(&c, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"list\"}\n", NULL, 0);
	tap_ok(listed(result(rep), sock) != NULL && now_ms() - t0 < 2000,
	       "control: list answers at once while the monitor does not read (%llu ms)",
	       (unsigned long long)(now_ms() - t0));
	json_object_put(rep);
	(void)g;
	tap_ok(one(dev, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK,
	       "control: ... and the export serves I/O");
	ev = wait_event(&m, "dropped", NULL, &p);
	if (!ev)
		tap_diag("buffered %zu", m.len);
	tap_ok(ev && member_int(p, "count") > 0,
	       "control: once it reads, the monitor learns how many events were dropped (%lld)",
	       (long long)member_int(p, "count"));
	json_object_put(ev);
	cl_close(&m);
	cl_close(&c);
}

/*
 * stats of a connected export that did I/O: the counters with vhu.ko's
 * names. Skipped (as resize below) where this build has no export
 * counters (the daemon says "not available").
 */
static void admin_stats(const char *ctl, const char *sock)
{
	static const char *const names[] = {
		"reqs_in", "reqs_out", "reqs_flush", "reqs_get_id", "reqs_discard",
		"reqs_write_zeroes", "reqs_unsupp", "reqs_ioerr", "bytes_read",
		"bytes_written", "ring_errors", "inflight", "kicks", "calls", "last_avail_idx",
	};
	struct json_object *rep, *e, *qs, *q = NULL;
	char req[512];
	struct run r;
	struct cl c;
	bool all = true;

	if (!tap_ok(cl_open(&c, ctl), "control: a client for stats"))
		return;
	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"stats\","
		 "\"params\":{\"socket\":\"%s\"}}\n", sock);
	rep = call(&c, req, NULL, 0);
	if (err_code(rep) == -32000 && strstr(err_msg(rep), "not available")) {
		tap_ok(true, "# SKIP control: stats and resize: not in this build");
		json_object_put(rep);
		cl_close(&c);
		return;
	}
	e = listed(result(rep), sock);
	if (e && json_object_object_get_ex(e, "queues", &qs) && json_object_array_length(qs))
		q = json_object_array_get_idx(qs, 0);
	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		all &= json_object_object_get_ex(q, names[i], NULL);
	tap_ok(q && all, "control: stats: every counter, by vhu.ko's names");
	if (!tap_ok(q && !strcmp(member_str(q, "state"), "running") &&
		    member_int(q, "reqs_in") >= 2 && member_int(q, "reqs_out") >= 1 &&
		    member_int(q, "bytes_written") >= 512 && member_int(q, "bytes_read") >= 1024,
		    "control: stats: the export's queue is running and counted its I/O"))
		tap_diag("reply: %s", rep ? json_object_to_json_string(rep) : "none");
	json_object_put(rep);
	run_prog(&r, vhuctl(), (const char *const[]){ "stats", "--control", ctl, NULL }, 5000);
	tap_ok(r.status == 0 && strstr(r.out, "REQS_IN") && strstr(r.out, sock),
	       "control: vhuctl stats prints it as a table");
	cl_close(&c);
}

/* resize of an export without a frontend, and its event. */
static void admin_resize(struct cl *mon, const char *ctl, const char *sock, const char *img)
{
	struct json_object *rep, *ev, *p = NULL;
	char req[512];
	struct stat st;
	struct cl c;

	if (!tap_ok(cl_open(&c, ctl), "control: a client for resize"))
		return;
	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"resize\","
		 "\"params\":{\"socket\":\"%s\",\"size\":%u}}\n", sock, 2 * IMG_SIZE);
	rep = call(&c, req, NULL, 0);
	if (err_code(rep) == -32000 && strstr(err_msg(rep), "not available")) {
		tap_ok(true, "# SKIP control: resize: not in this build");
		json_object_put(rep);
		cl_close(&c);
		return;
	}
	if (!tap_ok(member_int(result(rep), "size") == 2 * IMG_SIZE && !stat(img, &st) &&
		    st.st_size == 2 * IMG_SIZE, "control: resize grows the export and its file"))
		tap_diag("reply: %s", rep ? json_object_to_json_string(rep) : "none");
	json_object_put(rep);
	ev = wait_event(mon, "resize", sock, &p);
	tap_ok(ev && member_int(p, "size") == 2 * IMG_SIZE, "control: monitor: resize with the size");
	json_object_put(ev);
	snprintf(req, sizeof(req), "{\"jsonrpc\":\"2.0\",\"id\":3,\"method\":\"resize\","
		 "\"params\":{\"socket\":\"%s\",\"size\":1000}}\n", sock);
	rep = call(&c, req, NULL, 0);
	tap_ok(err_code(rep) == -32602 && !stat(img, &st) && st.st_size == 2 * IMG_SIZE,
	       "control: resize to no multiple of the block size: -32602, nothing changed");
	json_object_put(rep);
	cl_close(&c);
}

/* vhuctl export --control: the one-line form with the control socket too. */
static void export_control(struct tmp_dir *d, const char *img)
{
	const char *ctl = tmp_file(d, "e-control.sock"), *sock = tmp_file(d, "e.sock");
	const char *log = tmp_file(d, "e.log");
	char *argv[] = { (char *)vhuctl(), "export", "--control", (char *)ctl, "--socket",
			 (char *)sock, "--backing", (char *)img, "--datapath", "user", NULL };
	struct json_object *rep = NULL;
	struct cl c = { .fd = -1 };
	int status;
	pid_t pid = spawn(argv, log);

	if (pid > 0 && wait_socket(ctl) && wait_socket(sock) && cl_open(&c, ctl))
		rep = call(&c, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"list\"}\n", NULL, 0);
	if (!tap_ok(listed(result(rep), sock) != NULL,
		    "control: vhuctl export --control lists its export"))
		diag_file("export", log, 20);
	json_object_put(rep);
	cl_close(&c);
	if (pid > 0)
		tap_ok(!stop_child(pid, 5000, &status) && WIFEXITED(status) &&
		       WEXITSTATUS(status) == 0, "control: ... and stops on SIGTERM");
}

/*
 * A data buffer outside the guest's memory: the request fails (io-error);
 * a head index past the ring: the queue stops (ring-error). Each reported
 * to the monitor with its queue, whichever datapath serves sock.
 */
static void queue_errors(struct cl *mon, struct vf_guest *g, const char *sock,
			 const char *what)
{
	struct vr_buf bad[] = {
		{ hdr_gpa(0, 0), 16, false },
		{ 0x7fff00000000ull, 512, true },
		{ hdr_gpa(0, 0) + 16, 1, true },
	};
	struct json_object *ev, *p = NULL;
	struct tdev dc = { 0 };

	if (tap_ok(dev_open(&dc, g, sock, 1, true, false, true) == 0,
		   "%s: a frontend connects again", what)) {
		hdr(&dc, 0, 0)->type = VIRTIO_BLK_T_IN;
		hdr(&dc, 0, 0)->sector = 0;
		chain(&dc, bad, ARRAY_SIZE(bad));
		ev = wait_event(mon, "io-error", sock, &p);
		tap_ok(ev && member_int(p, "queue") == 0, "%s: monitor: io-error on queue 0",
		       what);
		json_object_put(ev);
	}
	dev_close(&dc);
	memset(&dc, 0, sizeof(dc));
	if (tap_ok(dev_open(&dc, g, sock, 1, true, false, true) == 0,
		   "%s: ... and again", what)) {
		post_req(&dc, 0, 0, VIRTIO_BLK_T_IN, 0, 512);
		dc.q[0].vr.avail->ring[0] = QSIZE + 3;
		kick(&dc, 0);
		ev = wait_event(mon, "ring-error", sock, &p);
		tap_ok(ev && member_int(p, "queue") == 0, "%s: monitor: ring-error on queue 0",
		       what);
		json_object_put(ev);
	}
	dev_close(&dc);
}

void t_control(void)
{
	struct tmp_dir d;
	const char *ctl, *log, *ns, *sa, *sb, *ia, *ib;
	struct json_object *rep, *ev, *p = NULL, *e;
	struct sockaddr_un nsa = { .sun_family = AF_UNIX };
	struct tdev da = { 0 }, db = { 0 };
	struct vf_guest g;
	struct cl mon;
	struct run r;
	char buf[256] = "";
	char *argv[8];
	int nfd, status;
	pid_t pid;
	struct stat st;
	uint64_t t0;

	if (!tmp_dir_make(&d, "vhuctl-control") || vf_guest_init(&g)) {
		tap_ok(false, "control: set up");
		return;
	}
	ctl = tmp_file(&d, "control.sock");
	log = tmp_file(&d, "daemon.log");
	ns = tmp_file(&d, "notify");
	sa = tmp_file(&d, "a.sock");
	sb = tmp_file(&d, "b.sock");
	ia = tmp_file(&d, "a.img");
	ib = tmp_file(&d, "b.img");
	tmp_file(&d, "x.sock");
	tmp_file(&d, "x.img");
	make_file(ia, IMG_SIZE);
	make_file(ib, IMG_SIZE);

	/* No export, the control socket: ready once it listens. */
	snprintf(nsa.sun_path, sizeof(nsa.sun_path), "%s", ns);
	nfd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (nfd < 0 || bind(nfd, (struct sockaddr *)&nsa, sizeof(nsa))) {
		tap_ok(false, "control: a notify socket");
		return;
	}
	argv[0] = (char *)vhuctl();
	argv[1] = "daemon";
	argv[2] = "--control";
	argv[3] = (char *)ctl;
	argv[4] = NULL;
	setenv("NOTIFY_SOCKET", ns, 1);
	pid = spawn(argv, log);
	unsetenv("NOTIFY_SOCKET");
	{
		struct pollfd pf = { .fd = nfd, .events = POLLIN };
		ssize_t n = -1;

		if (pid > 0 && poll(&pf, 1, 5000) == 1)
			n = recv(nfd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
	}
	if (!tap_ok(!strncmp(buf, "READY=1\n", 8) && !stat(ctl, &st) && S_ISSOCK(st.st_mode) &&
		    (st.st_mode & 0777) == 0600,
		    "control: vhuctl daemon with no export: READY=1 once its control socket "
		    "(mode 0600) listens")) {
		tap_diag("received: %s", buf);
		diag_file("daemon", log, 20);
		goto out_stop;
	}

	if (!tap_ok(cl_open(&mon, ctl), "control: a monitor connects"))
		goto out_stop;
	rep = call(&mon, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"monitor\",\"params\":{}}\n",
		   NULL, 0);
	tap_ok(result(rep) && member_int(rep, "id") == 1, "control: monitor: {} for id 1");
	json_object_put(rep);

	/* Two exports added at runtime. */
	if (!tap_ok(add(ctl, sa, ia, &r) == 0 && strstr(r.out, "added"),
		    "control: vhuctl add of a first export")) {
		tap_diag("status %d, out: %s err: %s", r.status, r.out, r.err);
		goto out_mon;
	}
	if (!tap_ok(add(ctl, sb, ib, &r) == 0, "control: vhuctl add of a second export")) {
		tap_diag("status %d, out: %s err: %s", r.status, r.out, r.err);
		goto out_mon;
	}
	ev = wait_event(&mon, "add", sa, &p);
	tap_ok(ev != NULL, "control: monitor: add of the first");
	json_object_put(ev);
	ev = wait_event(&mon, "add", sb, &p);
	tap_ok(ev != NULL, "control: monitor: add of the second");
	json_object_put(ev);
	tap_ok(add(ctl, sb, ib, &r) == 1, "control: vhuctl add of a socket served already fails");

	/* A frontend on each, with I/O. */
	tap_ok(dev_open(&da, &g, sa, 1, true, false, true) == 0 &&
	       one(&da, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK,
	       "control: a frontend drives the first export");
	ev = wait_event(&mon, "connect", sa, &p);
	tap_ok(ev && member_int(p, "pid") == getpid(), "control: monitor: connect with its pid");
	json_object_put(ev);

	/* The rings of the first device are the guest memory's queue 0: the
	 * second device's frontend uses its own guest memory. */
	{
		static struct vf_guest g2;

		tap_ok(!vf_guest_init(&g2) && dev_open(&db, &g2, sb, 1, true, false, true) == 0 &&
		       one(&db, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK,
		       "control: a frontend drives the second export");

		rep = call(&mon, "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"list\"}\n", NULL, 0);
		/* The monitor's connection has events before the reply: skip them. */
		while (rep && !result(rep) && !err_code(rep)) {
			json_object_put(rep);
			rep = cl_recv(&mon, 5000, NULL);
		}
		e = listed(result(rep), sa);
		tap_ok(e && member_int(e, "frontend-pid") == getpid() &&
		       !strcmp(member_str(e, "datapath"), "user") &&
		       member_int(e, "size") == IMG_SIZE && member_int(e, "queues") == 1,
		       "control: list: the first export, its size, datapath and frontend's pid");
		e = listed(result(rep), sb);
		tap_ok(e && member_int(e, "frontend-pid") == getpid(),
		       "control: list: the second export with its frontend's pid");
		json_object_put(rep);

		run_prog(&r, vhuctl(), (const char *const[]){ "list", "--control", ctl, NULL },
			 5000);
		tap_ok(r.status == 0 && strstr(r.out, "SOCKET") && strstr(r.out, sa) &&
		       strstr(r.out, sb), "control: vhuctl list prints both as a table");

		/* Remove the first while its frontend is connected. */
		t0 = now_ms();
		run_prog(&r, vhuctl(), (const char *const[]){ "remove", "--control", ctl,
			 "--socket", sa, NULL }, 10000);
		tap_ok(r.status == 0, "control: vhuctl remove of a connected export (%llu ms)",
		       (unsigned long long)(now_ms() - t0));
		{
			struct vu_hdr h;
			uint64_t v;

			tap_ok(vf_recv(&da.vf, &h, &v, sizeof(v), NULL) != 0 && vf_is_closed(&da.vf),
			       "control: ... its frontend sees the disconnect");
		}
		tap_ok(stat(sa, &st) < 0 && errno == ENOENT, "control: ... its socket is gone");
		ev = wait_event(&mon, "disconnect", sa, &p);
		tap_ok(ev && !strcmp(member_str(p, "reason"), "removed"),
		       "control: monitor: disconnect, reason removed");
		json_object_put(ev);
		ev = wait_event(&mon, "remove", sa, &p);
		tap_ok(ev != NULL, "control: monitor: remove");
		json_object_put(ev);
		tap_ok(one(&db, 0, VIRTIO_BLK_T_OUT, 8, 512) == VIRTIO_BLK_S_OK &&
		       one(&db, 0, VIRTIO_BLK_T_IN, 8, 512) == VIRTIO_BLK_S_OK,
		       "control: the other export keeps serving I/O");
		dev_close(&da);
		admin_stats(ctl, sb);

		malformed(ctl, &d, sb, ib);
		other_user(ctl, log);
		/* The first socket is free again: added back, to come and go on. */
		tap_ok(add(ctl, sa, ia, &r) == 0,
		       "control: a removed export's socket can be added again");
		stalled_monitor(ctl, sa, &g2, &db);
		busy_export(ctl, sa, sb);

		/* The first monitor did not read meanwhile either: drained first. */
		ev = wait_event(&mon, "dropped", NULL, &p);
		json_object_put(ev);
		dev_close(&db);
		ev = wait_event(&mon, "disconnect", sb, &p);
		tap_ok(ev && !strcmp(member_str(p, "reason"), "hangup"),
		       "control: monitor: disconnect when the frontend hangs up");
		json_object_put(ev);
		admin_resize(&mon, ctl, sb, ib);

		queue_errors(&mon, &g2, sb, "control");
		vf_guest_fini(&g2);
	}

	if (!tap_ok(file_count(log, "sandbox: refused") == 0,
		    "control: the sandbox refused no system call"))
		diag_file("daemon", log, 40);
out_mon:
	cl_close(&mon);
out_stop:
	t0 = now_ms();
	if (pid > 0) {
		kill(pid, SIGTERM);
		tap_ok(!wait_pid_bounded(pid, 5000, &status) && WIFEXITED(status) &&
		       WEXITSTATUS(status) == 0,
		       "control: SIGTERM with exports added at runtime: exit 0 in %llu ms",
		       (unsigned long long)(now_ms() - t0));
		if (kill(pid, 0) == 0)
			stop_child(pid, 1000, &status);
	}
	tap_ok(stat(ctl, &st) < 0 && stat(sa, &st) < 0 && stat(sb, &st) < 0,
	       "control: the sockets are removed at exit");
	if (getenv("VHUCTL_TEST_LOG"))
		diag_file("daemon", log, 200);
	export_control(&d, ia);
	close(nfd);
	vf_guest_fini(&g);
	tap_ok(tmp_dir_remove(&d), "control: no files left behind");
}

/*
 * The kernel datapath (root, vhu.ko loaded: vhuctl-test --admin-kernel):
 * an export added at runtime runs its queues in vhu.ko, whose ring and
 * I/O errors reach the monitor through the module's events group.
 */
void t_control_kernel(void)
{
	struct tmp_dir d;
	const char *ctl, *log, *sk, *ik;
	struct json_object *rep;
	struct vf_guest g;
	struct cl mon;
	struct run r;
	char *argv[5];
	int status;
	pid_t pid;
	struct stat st;

	if (!tmp_dir_make(&d, "vhuctl-control-k") || vf_guest_init(&g)) {
		tap_ok(false, "control, kernel: set up");
		return;
	}
	ctl = tmp_file(&d, "control.sock");
	log = tmp_file(&d, "daemon.log");
	sk = tmp_file(&d, "k.sock");
	ik = tmp_file(&d, "k.img");
	make_file(ik, IMG_SIZE);

	argv[0] = (char *)vhuctl();
	argv[1] = "daemon";
	argv[2] = "--control";
	argv[3] = (char *)ctl;
	argv[4] = NULL;
	pid = spawn(argv, log);
	for (int i = 0; i < 500 && stat(ctl, &st); i++)
		usleep(10000);
	if (!tap_ok(pid > 0 && cl_open(&mon, ctl), "control, kernel: a monitor connects")) {
		diag_file("daemon", log, 20);
		goto out_stop;
	}
	rep = call(&mon, "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"monitor\",\"params\":{}}\n",
		   NULL, 0);
	json_object_put(rep);
	run_prog(&r, vhuctl(), (const char *const[]){ "add", "--control", ctl, "--socket", sk,
		 "--backing", ik, "--queues", "1", "--datapath", "kernel", NULL }, 10000);
	if (!tap_ok(r.status == 0, "control, kernel: vhuctl add --datapath kernel")) {
		tap_diag("status %d, out: %s err: %s", r.status, r.out, r.err);
		goto out_mon;
	}
	queue_errors(&mon, &g, sk, "control, kernel");
	tap_ok(file_count(log, "sandbox: refused") == 0,
	       "control, kernel: the sandbox refused no system call");
out_mon:
	cl_close(&mon);
out_stop:
	if (pid > 0) {
		kill(pid, SIGTERM);
		tap_ok(!wait_pid_bounded(pid, 5000, &status) && WIFEXITED(status) &&
		       WEXITSTATUS(status) == 0, "control, kernel: SIGTERM: exit 0");
		if (kill(pid, 0) == 0)
			stop_child(pid, 1000, &status);
	}
	if (getenv("VHUCTL_TEST_LOG"))
		diag_file("daemon", log, 200);
	vf_guest_fini(&g);
	tap_ok(tmp_dir_remove(&d), "control, kernel: no files left behind");
}
