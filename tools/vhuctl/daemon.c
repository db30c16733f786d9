// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the export daemon's event loop.
 *
 * One control thread per export polls its listening socket, its frontend
 * connection and a stop eventfd, so a frontend that stalls mid-message
 * (up to MSG_TIMEOUT_SEC) or a GET_VRING_BASE that waits for slow I/O
 * holds up only its own export. Exports share no state; the main thread
 * sets everything up, then waits for SIGINT/SIGTERM (a signalfd) or a
 * failed control thread, stops the threads and releases everything. The
 * datapath does the I/O. An export serves one frontend at a time, like a
 * vhost-user device; a second one is refused and the first keeps it.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "util.h"

/* A frontend that stalls in the middle of a message is cut off. */
#define MSG_TIMEOUT_SEC 10

/*
 * The socket file: mode 0600 (or --socket-mode) whatever the umask, its
 * group --socket-group, its owner --user. It is bound with a umask that
 * lets only the daemon's user in, then given its group, then its mode, so
 * no one else can connect in between. No other thread runs yet.
 */
static int bind_private(int fd, const struct sockaddr_un *sa, const struct vu_sock_opts *o)
{
	const char *path = sa->sun_path;
	mode_t mode = o->mode ? o->mode : 0600, old;
	uid_t uid = vu_priv.has_user ? vu_priv.uid : (uid_t)-1;
	gid_t gid = o->has_gid ? o->gid : (gid_t)-1;
	int ret;

	old = umask(0177);
	ret = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	umask(old);
	if (ret < 0) {
		verr("cannot bind %s: %s", path, strerror(errno));
		return -1;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		verr("cannot give %s to user %d, group %d: %s", path, (int)uid,
		     (int)gid, strerror(errno));
		return 1;
	}
	if (mode != 0600 && fchmodat(AT_FDCWD, path, mode, 0) < 0) {
		verr("cannot set the mode of %s to %04o: %s", path, (unsigned int)mode,
		     strerror(errno));
		return 1;
	}
	if ((mode & 0002) && !vu_priv.nuids && !vu_priv.ngids)
		vlog("%s: any local user can connect (mode %04o, no --allow-uid/--allow-gid)",
		     path, (unsigned int)mode);
	return 0;
}

/* A socket the service manager (or whoever started us) made and owns. */
static int inherit_socket(struct vu_export *e)
{
	char err[128];
	int fd = e->sock.fd;

	if (vu_check_listen_fd(fd, err, sizeof(err))) {
		verr("%s: %s", e->cfg.socket_path, err);
		return -1;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		verr("%s: fd %d: %s", e->cfg.socket_path, fd, strerror(errno));
		return -1;
	}
	e->listen_fd = fd;
	e->sock.has_fd = false;		/* listen_fd owns it now */
	return 0;
}

static int open_socket(struct vu_export *e)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *path = e->cfg.socket_path;
	struct stat st;
	int fd, ret;

	if (e->sock.has_fd)
		return inherit_socket(e);
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
	ret = bind_private(fd, &sa, &e->sock);
	if (ret >= 0)
		e->socket_created = true;
	if (ret) {
		close(fd);
		return -1;
	}
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
	if (!vu_peer_allowed(fd, e->cfg.socket_path)) {
		close(fd);
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
		close_fd(&e->listen_fd);
		if (e->socket_created && unlink(e->cfg.socket_path) < 0)
			vlog("%s: cannot remove it: %s", e->cfg.socket_path,
			     strerror(errno));
		e->socket_created = false;
		if (e->dp)
			e->ops->close(e->dp);
		e->dp = NULL;
		close_fd(&e->cfg.backing_fd);
	}
}

/* Serve one export until the stop eventfd fires; tell @fail_fd on error. */
static void *export_thread(void *arg)
{
	struct vu_export *e = arg;

	for (;;) {
		struct pollfd p[3] = {
			{ .fd = e->stop_fd, .events = POLLIN },
			{ .fd = e->listen_fd, .events = POLLIN },
			{ .fd = e->dev.conn_fd, .events = POLLIN },
		};

		if (poll(p, 3, -1) < 0) {
			if (errno == EINTR)
				continue;
			verr("%s: poll: %s", e->cfg.socket_path, strerror(errno));
			eventfd_write(e->fail_fd, 1);
			return NULL;
		}
		if (p[0].revents)
			return NULL;
		if (p[2].fd >= 0 && p[2].revents)
			serve_one(e);
		if (p[1].revents & POLLIN)
			accept_one(e);
	}
}

int vu_daemon_run(struct vu_export *ex, unsigned int n)
{
	sigset_t set, old;
	char err[256];
	int sfd = -1, stop_fd = -1, fail_fd = -1, ret = 1;
	unsigned int started = 0;

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
	stop_fd = eventfd(0, EFD_CLOEXEC);
	fail_fd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || stop_fd < 0 || fail_fd < 0) {
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

	/* Set up: give up what serving does not need. */
	if (vu_priv_enter(ex, n))
		goto out;

	/* The threads inherit the blocked signals: only sfd sees them. */
	for (; started < n; started++) {
		struct vu_export *e = &ex[started];
		int err_no;

		e->stop_fd = stop_fd;
		e->fail_fd = fail_fd;
		err_no = pthread_create(&e->thread, NULL, export_thread, e);
		if (err_no) {
			verr("%s: cannot start its thread: %s", e->cfg.socket_path,
			     strerror(err_no));
			goto out;
		}
	}

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = fail_fd, .events = POLLIN },
		};
		struct signalfd_siginfo si;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			verr("poll: %s", strerror(errno));
			goto out;
		}
		if (p[1].revents)
			goto out;	/* a control thread failed; it said why */
		if (p[0].revents && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			vlog("%s received, shutting down",
			     si.ssi_signo == SIGINT ? "SIGINT" : "SIGTERM");
			ret = 0;
			goto out;
		}
	}
out:
	/* The stop eventfd stays readable: every thread sees it. */
	if (started)
		eventfd_write(stop_fd, 1);
	for (unsigned int i = 0; i < started; i++)
		pthread_join(ex[i].thread, NULL);
	teardown(ex, n);
	if (fail_fd >= 0)
		close(fail_fd);
	if (stop_fd >= 0)
		close(stop_fd);
	if (sfd >= 0)
		close(sfd);
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
