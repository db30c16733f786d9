// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the export daemon's event loop.
 *
 * Single-threaded: one poll() over a signalfd, every export's listening
 * socket and its frontend connection. The datapath does the I/O, so the
 * control messages handled here are short. An export serves one frontend
 * at a time, like a vhost-user device; a second one is refused and the
 * first keeps the device.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "vhuctl.h"

/* A frontend that stalls in the middle of a message is cut off. */
#define MSG_TIMEOUT_SEC 10

static int open_socket(struct vu_export *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = e->cfg.socket_path;
	struct stat st;
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		verr("socket path %s is too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			verr("%s exists and is not a socket", path);
			return -1;
		}
		/* A socket file: in use, or left behind by a dead daemon? */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			verr("socket %s is in use by another process", path);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		verr("socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		verr("cannot bind %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	e->socket_created = true;
	if (listen(fd, 4) < 0) {
		verr("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	e->listen_fd = fd;
	return 0;
}

static pid_t peer_pid(int fd)
{
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0)
		return 0;
	return uc.pid;
}

static void accept_one(struct vu_export *e)
{
	struct timeval tv = { .tv_sec = MSG_TIMEOUT_SEC };
	int fd;

	fd = accept4(e->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			vlog("%s: accept: %s", e->cfg.socket_path, strerror(errno));
		return;
	}
	if (e->dev.conn_fd >= 0) {
		vlog("%s: refused a second frontend (pid %d); one is connected",
		     e->cfg.socket_path, (int)peer_pid(fd));
		close(fd);
		return;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	vlog("%s: frontend connected (pid %d)", e->cfg.socket_path,
	     (int)peer_pid(fd));
	vu_dev_connect(&e->dev, fd);
}

static void serve_one(struct vu_export *e)
{
	int ret = vu_dev_handle(&e->dev);

	if (!ret)
		return;
	vu_dev_disconnect(&e->dev);
	if (ret == -ECONNRESET)
		vlog("%s: frontend disconnected", e->cfg.socket_path);
	else
		vlog("%s: connection closed: %s", e->cfg.socket_path,
		     ret == -EPROTO ? "protocol error" : strerror(-ret));
}

static void teardown(struct vu_export *ex, unsigned int n)
{
	for (unsigned int i = 0; i < n; i++) {
		struct vu_export *e = &ex[i];

		if (e->dev.cfg && e->dev.conn_fd >= 0) {
			vu_dev_disconnect(&e->dev);
			vlog("%s: frontend disconnected (shutdown)", e->cfg.socket_path);
		}
		if (e->listen_fd >= 0)
			close(e->listen_fd);
		e->listen_fd = -1;
		if (e->socket_created)
			unlink(e->cfg.socket_path);
		e->socket_created = false;
		if (e->dp)
			e->ops->close(e->dp);
		e->dp = NULL;
		if (e->cfg.backing_fd >= 0)
			close(e->cfg.backing_fd);
		e->cfg.backing_fd = -1;
	}
}

int vu_daemon_run(struct vu_export *ex, unsigned int n)
{
	struct pollfd *pfd = NULL;
	sigset_t set, old;
	char err[256];
	int sfd = -1, ret = 1;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);

	for (unsigned int i = 0; i < n; i++) {
		ex[i].listen_fd = -1;
		ex[i].dp = NULL;
		ex[i].socket_created = false;
		memset(&ex[i].dev, 0, sizeof(ex[i].dev));
		ex[i].dev.conn_fd = -1;
	}

	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	pfd = calloc(1 + 2 * n, sizeof(*pfd));
	if (sfd < 0 || !pfd) {
		verr("cannot set up the event loop: %s", strerror(errno));
		goto out;
	}

	for (unsigned int i = 0; i < n; i++) {
		struct vu_export *e = &ex[i];

		if (e->ops->open(&e->dp, &e->cfg, err, sizeof(err))) {
			verr("%s: %s datapath: %s", e->cfg.socket_path,
			     e->ops->name, err);
			goto out;
		}
		vu_dev_init(&e->dev, e->cfg.socket_path, &e->cfg, e->ops, e->dp);
		if (open_socket(e))
			goto out;
		vlog("%s: serving %s (%" PRIu64 " bytes%s, %u queue%s, %s datapath)",
		     e->cfg.socket_path, e->cfg.backing, e->cfg.size,
		     e->cfg.readonly ? ", read-only" : "", e->cfg.queues,
		     e->cfg.queues == 1 ? "" : "s", e->ops->name);
	}

	for (;;) {
		unsigned int np = 0;

		pfd[np++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
		for (unsigned int i = 0; i < n; i++) {
			pfd[np++] = (struct pollfd){ .fd = ex[i].listen_fd, .events = POLLIN };
			pfd[np++] = (struct pollfd){ .fd = ex[i].dev.conn_fd, .events = POLLIN };
		}
		if (poll(pfd, np, -1) < 0) {
			if (errno == EINTR)
				continue;
			verr("poll: %s", strerror(errno));
			goto out;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(sfd, &si, sizeof(si)) == sizeof(si)) {
				vlog("%s received, shutting down",
				     si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
				ret = 0;
				goto out;
			}
		}
		for (unsigned int i = 0; i < n; i++) {
			struct pollfd *l = &pfd[1 + 2 * i], *c = &pfd[2 + 2 * i];

			if (c->fd >= 0 && c->revents)
				serve_one(&ex[i]);
			if (l->revents & POLLIN)
				accept_one(&ex[i]);
		}
	}
out:
	teardown(ex, n);
	free(pfd);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
