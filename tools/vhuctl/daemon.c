// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the export daemon's event loop.
 *
 * One control thread per export polls its listening socket, its frontend
 * connection and a stop eventfd, so a frontend that stalls mid-message
 * or a GET_VRING_BASE that waits for slow I/O holds up only its own
 * export. Exports share no state; the main thread sets everything up,
 * then waits for a signal (a signalfd) or a failed control thread, stops
 * the threads and releases everything. The datapath does the I/O. An
 * export serves one frontend at a time, like a vhost-user device; a
 * second one is refused and the first keeps it.
 *
 * Time limits (Documentation/vhuctl.rst, "Time limits and signals"):
 *  - a message, or a reply, has VU_MSG_TIMEOUT_MS as a whole (vu_msg.c);
 *  - a frontend has the handshake timeout from its connection to its
 *    SET_OWNER, after which it may stay idle as long as it likes (QEMU
 *    waits for the guest's driver);
 *  - SIGINT and SIGTERM end the daemon within SHUTDOWN_TIMEOUT_MS plus
 *    the time to log and unlink: every wait for a frontend ends at once,
 *    and an export still stopping its queues then (I/O on a backing that
 *    hangs) is abandoned, logged, and the daemon exits with
 *    VU_EXIT_ABANDONED. The sockets are unlinked first, whatever happens.
 * SIGHUP is ignored: the daemon logs to stderr and has no terminal to
 * lose or configuration to read again.
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
#include <sys/un.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "notify.h"
#include "vu_guard.h"
#include "util.h"

/* How long a shutdown waits for the exports to release everything. */
#define SHUTDOWN_TIMEOUT_MS	3000

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

/*
 * The socket's directory, made when it is missing but its own parent is
 * there (/run/vhu on a fresh host): mode 0755, given to --user so that the
 * daemon can remove its socket at exit. A deeper path is left to bind()
 * to refuse, as it is more likely a typo than a wish. The directory stays
 * after the daemon, as a service manager's runtime directory would.
 */
static int make_socket_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;

	if (!slash || slash == path)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (!stat(dir, &st) || errno != ENOENT || mkdir(dir, 0755) < 0)
		return 0;
	vlog("created the directory %s for the socket", dir);
	if (vu_priv.has_user && chown(dir, vu_priv.uid, (gid_t)-1) < 0) {
		verr("cannot give %s to user %d: %s", dir, (int)vu_priv.uid, strerror(errno));
		return -1;
	}
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
	} else if (make_socket_dir(path)) {
		return -1;
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

unsigned int vu_handshake_ms(const struct vu_export_cfg *cfg)
{
	if (cfg->handshake_timeout_ms == VU_HANDSHAKE_NONE)
		return 0;
	return cfg->handshake_timeout_ms ?: VU_HANDSHAKE_TIMEOUT_MS;
}

static void accept_one(struct vu_export *e)
{
	unsigned int hs = vu_handshake_ms(&e->cfg);
	int fd;

	fd = accept4(e->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0) {
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			vlog_rl(&e->rl_accept, "%s: accept: %s", e->cfg.socket_path,
				strerror(errno));
		return;
	}
	if (!vu_peer_allowed(fd, e->cfg.socket_path)) {
		close(fd);
		return;
	}
	if (e->dev.conn_fd >= 0) {
		vlog_rl(&e->rl_refused, "%s: refused a second frontend (pid %d); one is connected",
			e->cfg.socket_path, (int)peer_pid(fd));
		close(fd);
		return;
	}
	if (vu_dev_connect(&e->dev, fd)) {
		close(fd);
		return;
	}
	vlog("%s: frontend connected (pid %d)", e->cfg.socket_path,
	     (int)peer_pid(fd));
	e->handshake_deadline_ms = hs ? vu_now_ms() + hs : 0;
}

static void serve_one(struct vu_export *e)
{
	int ret = vu_dev_handle(&e->dev);

	if (!ret) {
		/* A frontend that took ownership may idle as long as it likes. */
		if (e->dev.owner)
			e->handshake_deadline_ms = 0;
		return;
	}
	vu_dev_disconnect(&e->dev);
	e->handshake_deadline_ms = 0;
	if (ret == -ECONNRESET)
		vlog("%s: frontend disconnected", e->cfg.socket_path);
	else if (ret == -ETIMEDOUT)
		vlog("%s: connection closed: the frontend took more than %u ms "
		     "over one message", e->cfg.socket_path, e->dev.msg_timeout_ms);
	else if (ret == -ESHUTDOWN)
		vlog("%s: frontend disconnected (shutdown)", e->cfg.socket_path);
	else
		vlog("%s: connection closed: %s", e->cfg.socket_path,
		     ret == -EPROTO ? "protocol error" : strerror(-ret));
}

/* No SET_OWNER within the handshake timeout: the export is free again. */
static void handshake_expired(struct vu_export *e)
{
	/* Logged first: the frontend sees the close after the line is out. */
	vlog("%s: connection closed: no SET_OWNER within %u ms of connecting "
	     "(--handshake-timeout)", e->cfg.socket_path, vu_handshake_ms(&e->cfg));
	vu_dev_disconnect(&e->dev);
	e->handshake_deadline_ms = 0;
}

/*
 * What a control thread releases when it stops, or the main thread for an
 * export that never got one: the connection (stopping its queues, which
 * waits for their I/O) and the datapath. e->stage says how far it got,
 * for the log of a shutdown that gives up waiting.
 */
static void release_export(struct vu_export *e)
{
	if (e->dev.cfg && e->dev.conn_fd >= 0) {
		__atomic_store_n(&e->stage, "stopping the frontend's queues "
				 "(waiting for their in-flight I/O)", __ATOMIC_RELEASE);
		vu_dev_disconnect(&e->dev);
		vlog("%s: frontend disconnected (shutdown)", e->cfg.socket_path);
	}
	if (e->dp) {
		__atomic_store_n(&e->stage, "closing the datapath", __ATOMIC_RELEASE);
		e->ops->close(e->dp);
	}
	e->dp = NULL;
	close_fd(&e->cfg.backing_fd);
	vlog_rl_flush(&e->rl_refused);
	vlog_rl_flush(&e->rl_accept);
	vlog_rl_flush(&e->dev.rl_refused);
	__atomic_store_n(&e->stage, NULL, __ATOMIC_RELEASE);
}

static void unlink_socket(struct vu_export *e)
{
	if (e->socket_created && unlink(e->cfg.socket_path) < 0)
		vlog("%s: cannot remove it: %s", e->cfg.socket_path,
		     strerror(errno));
	e->socket_created = false;
}

/*
 * Serve one export until the stop eventfd fires, then release it and tell
 * done_fd; tell fail_fd on error. A fault in the frontend's memory
 * (vu_guard.h) drops that frontend only.
 */
static void *export_thread(void *arg)
{
	struct vu_export *e = arg;

	for (;;) {
		struct pollfd p[4] = {
			{ .fd = e->stop_fd, .events = POLLIN },
			{ .fd = e->listen_fd, .events = POLLIN },
			{ .fd = e->dev.conn_fd, .events = POLLIN },
			{ .fd = vu_dev_fault_fd(&e->dev), .events = POLLIN },
		};
		int timeout = -1;

		if (e->handshake_deadline_ms && e->dev.conn_fd >= 0) {
			uint64_t now = vu_now_ms();

			if (now >= e->handshake_deadline_ms) {
				handshake_expired(e);
				continue;
			}
			timeout = (int)(e->handshake_deadline_ms - now);
		}
		if (poll(p, 4, timeout) < 0) {
			if (errno == EINTR)
				continue;
			verr("%s: poll: %s", e->cfg.socket_path, strerror(errno));
			eventfd_write(e->fail_fd, 1);
			break;
		}
		if (p[0].revents)
			break;
		if (p[3].fd >= 0 && p[3].revents && vu_dev_fault(&e->dev)) {
			vu_dev_disconnect(&e->dev);
			e->handshake_deadline_ms = 0;
			continue;
		}
		if (p[2].fd >= 0 && p[2].revents)
			serve_one(e);
		if (p[1].revents & POLLIN)
			accept_one(e);
	}
	release_export(e);
	__atomic_store_n(&e->finished, true, __ATOMIC_RELEASE);
	eventfd_write(e->done_fd, 1);
	return NULL;
}

/*
 * Wait up to SHUTDOWN_TIMEOUT_MS for the started threads to release their
 * exports: true if every one did (then they are joined), else the ones
 * still busy are logged and left alone.
 */
static bool wait_threads(struct vu_export *ex, unsigned int started, int done_fd)
{
	uint64_t deadline = vu_now_ms() + SHUTDOWN_TIMEOUT_MS, done = 0;
	bool all = true;

	while (done < started) {
		struct pollfd p = { .fd = done_fd, .events = POLLIN };
		uint64_t now = vu_now_ms(), v;

		if (now >= deadline)
			break;
		if (poll(&p, 1, (int)(deadline - now)) > 0 && eventfd_read(done_fd, &v) == 0)
			done += v;
	}
	for (unsigned int i = 0; i < started; i++) {
		const char *stage = __atomic_load_n(&ex[i].stage, __ATOMIC_ACQUIRE);

		if (__atomic_load_n(&ex[i].finished, __ATOMIC_ACQUIRE))
			continue;
		verr("%s: shutdown: gave up after %u ms %s; its resources are "
		     "abandoned", ex[i].cfg.socket_path, SHUTDOWN_TIMEOUT_MS,
		     stage ?: "handling a request (waiting for the datapath)");
		all = false;
	}
	if (all)
		for (unsigned int i = 0; i < started; i++)
			pthread_join(ex[i].thread, NULL);
	return all;
}

static const char *signal_name(int sig)
{
	switch (sig) {
	case SIGINT: return "SIGINT";
	case SIGTERM: return "SIGTERM";
	case SIGHUP: return "SIGHUP";
	}
	return "a signal";
}

int vu_daemon_run(struct vu_export *ex, unsigned int n)
{
	static struct vlog_ratelimit rl_hup =
		VLOG_RATELIMIT_INIT("SIGHUP", VLOG_RL_INTERVAL_MS, 1);
	sigset_t set, old;
	char err[256];
	int sfd = -1, stop_fd = -1, fail_fd = -1, done_fd = -1, ret = 1, err_no;
	unsigned int started = 0;

	/*
	 * Blocked before anything can fail, so every way out (these signals,
	 * a failed setup, a failed thread) goes through the cleanup below.
	 */
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(SIG_BLOCK, &set, &old);
	signal(SIGPIPE, SIG_IGN);

	for (unsigned int i = 0; i < n; i++) {
		ex[i].listen_fd = -1;
		ex[i].dp = NULL;
		ex[i].socket_created = false;
		ex[i].handshake_deadline_ms = 0;
		ex[i].stage = NULL;
		ex[i].finished = false;
		memset(&ex[i].dev, 0, sizeof(ex[i].dev));
		ex[i].dev.conn_fd = -1;
		vlog_ratelimit_init(&ex[i].rl_refused, "refused frontends",
				    VLOG_RL_INTERVAL_MS, VLOG_RL_BURST);
		vlog_ratelimit_init(&ex[i].rl_accept, "accept errors",
				    VLOG_RL_INTERVAL_MS, VLOG_RL_BURST);
	}

	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	stop_fd = eventfd(0, EFD_CLOEXEC);
	fail_fd = eventfd(0, EFD_CLOEXEC);
	done_fd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || stop_fd < 0 || fail_fd < 0 || done_fd < 0) {
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
		e->dev.stop_fd = stop_fd;
		if (open_socket(e))
			goto out;
		vlog("%s: serving %s (%" PRIu64 " bytes%s, %u queue%s, %s datapath)",
		     e->cfg.socket_path, e->cfg.backing, e->cfg.size,
		     e->cfg.readonly ? ", read-only" : "", e->cfg.queues,
		     e->cfg.queues == 1 ? "" : "s", e->ops->name);
	}

	/*
	 * Set up: give up what serving does not need. The SIGBUS guard of
	 * the frontends' memory goes in first, as the filter keeps
	 * sigaction() out.
	 */
	if (vu_notify_open())
		goto out;
	err_no = vu_guard_setup();
	if (err_no) {
		verr("cannot install the SIGBUS handler: %s", strerror(-err_no));
		goto out;
	}
	if (vu_priv_enter(ex, n))
		goto out;

	/* The threads inherit the blocked signals: only sfd sees them. */
	for (; started < n; started++) {
		struct vu_export *e = &ex[started];

		e->stop_fd = stop_fd;
		e->fail_fd = fail_fd;
		e->done_fd = done_fd;
		err_no = pthread_create(&e->thread, NULL, export_thread, e);
		if (err_no) {
			verr("%s: cannot start its thread: %s", e->cfg.socket_path,
			     strerror(err_no));
			goto out;
		}
	}
	/* Every socket listens since open_socket(): ready. */
	snprintf(err, sizeof(err), "READY=1\nSTATUS=serving %u export%s", n, n == 1 ? "" : "s");
	vu_notify(err);

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
			if (si.ssi_signo == SIGHUP) {
				vlog_rl(&rl_hup, "SIGHUP received and ignored "
					"(SIGINT or SIGTERM stop the daemon)");
				continue;
			}
			vlog("%s received, shutting down", signal_name(si.ssi_signo));
			ret = 0;
			goto out;
		}
	}
out:
	/* No new frontend from here on, whatever happens next. */
	for (unsigned int i = 0; i < n; i++)
		unlink_socket(&ex[i]);
	vu_notify("STOPPING=1");
	/* The stop eventfd stays readable: every thread sees it. */
	if (started)
		eventfd_write(stop_fd, 1);
	if (!wait_threads(ex, started, done_fd)) {
		fflush(stderr);
		_exit(VU_EXIT_ABANDONED);
	}
	for (unsigned int i = 0; i < n; i++) {
		if (i >= started)
			release_export(&ex[i]);
		close_fd(&ex[i].listen_fd);
	}
	if (done_fd >= 0)
		close(done_fd);
	if (fail_fd >= 0)
		close(fail_fd);
	if (stop_fd >= 0)
		close(stop_fd);
	if (sfd >= 0)
		close(sfd);
	vu_notify_close();
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
