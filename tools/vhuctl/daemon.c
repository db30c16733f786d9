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
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctl.h"
#include "daemon.h"
#include "genl.h"
#include "log.h"
#include "notify.h"
#include "sockfile.h"
#include "vu_guard.h"
#include "util.h"

/* How long a shutdown waits for the exports to release everything. */
#define SHUTDOWN_TIMEOUT_MS	3000

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
	if (e->sock.has_fd)
		return inherit_socket(e);
	e->listen_fd = vu_socket_create(e->cfg.socket_path, &e->sock, &e->socket_created);
	return e->listen_fd < 0 ? -1 : 0;
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
	e->frontend_pid = peer_pid(fd);
	vlog("%s: frontend connected (pid %d)", e->cfg.socket_path, (int)e->frontend_pid);
	vu_ctl_event_connect(e->cfg.socket_path, e->frontend_pid);
	e->handshake_deadline_ms = hs ? vu_now_ms() + hs : 0;
}

/* The frontend is gone (reason for the monitor): the export is free again. */
static void disconnected(struct vu_export *e, const char *reason)
{
	e->handshake_deadline_ms = 0;
	e->frontend_pid = 0;
	vu_ctl_event_disconnect(e->cfg.socket_path, reason);
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
	disconnected(e, ret == -ECONNRESET ? "hangup" : ret == -ETIMEDOUT ? "timeout" :
		     ret == -ESHUTDOWN ? "shutdown" : "protocol-error");
}

/* No SET_OWNER within the handshake timeout: the export is free again. */
static void handshake_expired(struct vu_export *e)
{
	/* Logged first: the frontend sees the close after the line is out. */
	vlog("%s: connection closed: no SET_OWNER within %u ms of connecting "
	     "(--handshake-timeout)", e->cfg.socket_path, vu_handshake_ms(&e->cfg));
	vu_dev_disconnect(&e->dev);
	disconnected(e, "handshake-timeout");
}

/*
 * What a control thread releases when it stops, or the main thread for an
 * export that never got one: the connection (stopping its queues, which
 * waits for their I/O) and the datapath. e->stage says how far it got,
 * for the log of a shutdown that gives up waiting.
 */
static void release_export(struct vu_export *e, const char *why)
{
	if (e->dev.cfg && e->dev.conn_fd >= 0) {
		__atomic_store_n(&e->stage, "stopping the frontend's queues "
				 "(waiting for their in-flight I/O)", __ATOMIC_RELEASE);
		vu_dev_disconnect(&e->dev);
		vlog("%s: frontend disconnected (%s)", e->cfg.socket_path, why);
		disconnected(e, why);
	}
	if (e->dp) {
		__atomic_store_n(&e->stage, "closing the datapath", __ATOMIC_RELEASE);
		e->ops->close(e->dp);
	}
	e->dp = NULL;
	close_fd(&e->cfg.backing_fd);
	if (e->cfg.has_device_fd)
		close_fd(&e->cfg.device_fd);
	e->cfg.has_device_fd = false;
	vlog_rl_flush(&e->rl_refused);
	vlog_rl_flush(&e->rl_accept);
	vlog_rl_flush(&e->dev.rl_refused);
	__atomic_store_n(&e->stage, NULL, __ATOMIC_RELEASE);
}

/* Called by the export's thread and by the main one at shutdown: once. */
static void unlink_socket(struct vu_export *e)
{
	if (__atomic_exchange_n(&e->socket_created, false, __ATOMIC_ACQ_REL) &&
	    unlink(e->cfg.socket_path) < 0)
		vlog("%s: cannot remove it: %s", e->cfg.socket_path,
		     strerror(errno));
}

/* Run the operations queued for e, on its thread. */
static void run_ops(struct vu_export *e)
{
	uint64_t v;

	eventfd_read(e->op_fd, &v);
	pthread_mutex_lock(&e->op_lock);
	while (e->queued) {
		struct vu_export_op *op = e->queued;

		e->queued = op->next;
		if (op->abandoned) {
			free(op);
			continue;
		}
		pthread_mutex_unlock(&e->op_lock);
		op->fn(e, op);
		pthread_mutex_lock(&e->op_lock);
		if (op->abandoned) {
			free(op);
		} else {
			op->done = true;
			pthread_cond_broadcast(&e->op_cond);
		}
	}
	pthread_mutex_unlock(&e->op_lock);
}

/* The thread ends: what is queued will never run. */
static void close_ops(struct vu_export *e)
{
	pthread_mutex_lock(&e->op_lock);
	e->ops_closed = true;
	while (e->queued) {
		struct vu_export_op *op = e->queued;

		e->queued = op->next;
		if (op->abandoned) {
			free(op);
		} else {
			op->ret = -ESHUTDOWN;
			op->done = true;
		}
	}
	pthread_cond_broadcast(&e->op_cond);
	pthread_mutex_unlock(&e->op_lock);
}

void vu_deadline_ts(struct timespec *ts, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}

int vu_export_call(struct vu_export *e, struct vu_export_op *op, unsigned int timeout_ms)
{
	struct timespec ts;
	struct vu_export_op **pp;
	int ret = 0;

	vu_deadline_ts(&ts, timeout_ms);
	op->next = NULL;
	op->done = false;
	op->abandoned = false;
	pthread_mutex_lock(&e->op_lock);
	if (e->ops_closed) {
		pthread_mutex_unlock(&e->op_lock);
		free(op);
		return -ESHUTDOWN;
	}
	for (pp = &e->queued; *pp; pp = &(*pp)->next)
		;
	*pp = op;
	eventfd_write(e->op_fd, 1);
	while (!op->done && !ret)
		ret = pthread_cond_timedwait(&e->op_cond, &e->op_lock, &ts);
	if (!op->done) {
		/* Still queued or running: whoever takes it last frees it. */
		op->abandoned = true;
		ret = -ETIMEDOUT;
	} else if (op->ret == -ESHUTDOWN) {
		free(op);
		ret = -ESHUTDOWN;
	} else {
		ret = 0;
	}
	pthread_mutex_unlock(&e->op_lock);
	return ret;
}

/*
 * Serve one export until the stop eventfd (or its remove eventfd) fires,
 * then release it and tell done_fd; tell fail_fd on error. A fault in the
 * frontend's memory (vu_guard.h) drops that frontend only. Operations of
 * the control socket run here, between two messages of the frontend.
 */
static void *export_thread(void *arg)
{
	struct vu_export *e = arg;
	bool removed = false;
	int done_fd, reap_fd;

	vu_ctl_watch(e);
	for (;;) {
		struct pollfd p[6] = {
			{ .fd = e->stop_fd, .events = POLLIN },
			{ .fd = e->listen_fd, .events = POLLIN },
			{ .fd = e->dev.conn_fd, .events = POLLIN },
			{ .fd = vu_dev_fault_fd(&e->dev), .events = POLLIN },
			{ .fd = e->remove_fd, .events = POLLIN },
			{ .fd = e->op_fd, .events = POLLIN },
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
		if (poll(p, 6, timeout) < 0) {
			if (errno == EINTR)
				continue;
			verr("%s: poll: %s", e->cfg.socket_path, strerror(errno));
			eventfd_write(e->fail_fd, 1);
			break;
		}
		if (p[0].revents)
			break;
		if (p[4].fd >= 0 && p[4].revents) {
			removed = true;
			break;
		}
		if (p[5].fd >= 0 && p[5].revents)
			run_ops(e);
		if (p[3].fd >= 0 && p[3].revents && vu_dev_fault(&e->dev)) {
			vu_dev_disconnect(&e->dev);
			disconnected(e, "fault");
			continue;
		}
		if (p[2].fd >= 0 && p[2].revents)
			serve_one(e);
		if (p[1].revents & POLLIN)
			accept_one(e);
	}
	if (removed) {
		/* No new frontend first, then the one connected, drained. */
		unlink_socket(e);
		close_fd(&e->listen_fd);
	}
	close_ops(e);
	release_export(e, removed ? "removed" : "shutdown");
	if (removed) {
		vlog("%s: removed", e->cfg.socket_path);
		vu_ctl_event_remove(e->cfg.socket_path);
	}
	/* e may be freed once finished is seen (after a join, though). */
	done_fd = e->done_fd;
	reap_fd = e->d->reap_fd;
	pthread_mutex_lock(&e->op_lock);
	__atomic_store_n(&e->finished, true, __ATOMIC_RELEASE);
	pthread_cond_broadcast(&e->op_cond);
	pthread_mutex_unlock(&e->op_lock);
	eventfd_write(done_fd, 1);
	if (removed)
		eventfd_write(reap_fd, 1);
	return NULL;
}

/* The export's vhu.ko device, for the kernel's events: once its datapath is open. */
static void note_kdev(struct vu_export *e)
{
	e->kdev_id = e->ops == &vu_dp_kernel_ops && e->dp ?
		(int64_t)vu_dpk_dev_id(e->dp) : -1;
}

/*
 * vhu.ko's ring errors and I/O errors on this daemon's devices, for the
 * control socket's monitor. The kernel datapath's queues run in the
 * module, which reports them on its "events" group; devices of other
 * processes are ignored. Only these two are relayed: a reset, a release
 * or a new capacity is the daemon's own doing, and is told as it does it.
 */
static void relay_kernel_events(struct vu_daemon *d, struct vhu_genl_events *kev)
{
	static struct vlog_ratelimit rl_lost =
		VLOG_RATELIMIT_INIT("lost kernel events", VLOG_RL_INTERVAL_MS, 1);
	struct vhu_genl_event ev[16];
	int n;

	while ((n = vhu_genl_events_read(kev, ev, 16)) > 0) {
		for (int i = 0; i < n; i++) {
			const char *what = NULL;
			char socket[sizeof(((struct vu_export_cfg *)0)->socket_path)] = "";

			if (ev[i].type == VHU_GENL_EVENT_LOST) {
				vlog_rl(&rl_lost, "vhu.ko's events came faster than they "
					"were read: some were lost (the counters have them)");
				continue;
			}
			if (ev[i].type == VHU_EVENT_RING_ERROR)
				what = "ring-error";
			else if (ev[i].type == VHU_EVENT_IO_ERROR)
				what = "io-error";
			if (!what || ev[i].queue == VHU_GENL_NO_QUEUE)
				continue;
			pthread_mutex_lock(&d->lock);
			for (unsigned int j = 0; j < d->n; j++)
				if (d->ex[j]->kdev_id == (int64_t)ev[i].dev_id) {
					snprintf(socket, sizeof(socket), "%s",
						 d->ex[j]->cfg.socket_path);
					break;
				}
			pthread_mutex_unlock(&d->lock);
			if (socket[0])
				vu_ctl_event_queue(socket, what, ev[i].queue);
		}
	}
}

/* Per export: what its thread needs besides vu_daemon_run()'s setup. */
static int export_prepare(struct vu_daemon *d, struct vu_export *e)
{
	pthread_condattr_t ca;

	e->d = d;
	e->stop_fd = d->stop_fd;
	e->fail_fd = d->fail_fd;
	e->done_fd = d->done_fd;
	e->queued = NULL;
	e->ops_closed = false;
	e->removing = false;
	e->refs = 0;
	e->frontend_pid = 0;
	e->started = false;
	pthread_mutex_init(&e->op_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&e->op_cond, &ca);
	pthread_condattr_destroy(&ca);
	e->remove_fd = eventfd(0, EFD_CLOEXEC);
	e->op_fd = eventfd(0, EFD_CLOEXEC);
	if (e->remove_fd < 0 || e->op_fd < 0) {
		verr("%s: eventfd: %s", e->cfg.socket_path, strerror(errno));
		return -1;
	}
	return 0;
}

/* Everything export_prepare() and the thread left: after its thread ended. */
static void export_destroy(struct vu_export *e)
{
	if (e->started)
		pthread_join(e->thread, NULL);
	e->started = false;
	close_fd(&e->listen_fd);
	close_fd(&e->remove_fd);
	close_fd(&e->op_fd);
	pthread_mutex_destroy(&e->op_lock);
	pthread_cond_destroy(&e->op_cond);
	if (e->heap)
		free(e);
}

static int start_thread(struct vu_export *e)
{
	int err_no = pthread_create(&e->thread, NULL, export_thread, e);

	if (err_no) {
		verr("%s: cannot start its thread: %s", e->cfg.socket_path,
		     strerror(err_no));
		return -err_no;
	}
	e->started = true;
	return 0;
}

/* Removed exports whose thread ended and that nobody holds: gone. */
static void reap(struct vu_daemon *d)
{
	struct vu_export *gone[16];
	unsigned int ngone = 0;
	uint64_t v;

	if (d->reap_fd >= 0)
		eventfd_read(d->reap_fd, &v);
	pthread_mutex_lock(&d->lock);
	for (unsigned int i = 0; i < d->n && ngone < ARRAY_SIZE(gone);) {
		struct vu_export *e = d->ex[i];

		if (e->removing && !e->refs &&
		    __atomic_load_n(&e->finished, __ATOMIC_ACQUIRE)) {
			gone[ngone++] = e;
			d->ex[i] = d->ex[--d->n];
			continue;
		}
		i++;
	}
	pthread_mutex_unlock(&d->lock);
	for (unsigned int i = 0; i < ngone; i++)
		export_destroy(gone[i]);
	if (ngone == ARRAY_SIZE(gone))
		eventfd_write(d->reap_fd, 1);	/* more next time round */
}

static struct vu_export *find_locked(struct vu_daemon *d, const char *socket)
{
	for (unsigned int i = 0; i < d->n; i++)
		if (!strcmp(d->ex[i]->cfg.socket_path, socket))
			return d->ex[i];
	return NULL;
}

int vu_daemon_add(struct vu_daemon *d, struct vu_export *e, char *err, size_t errlen)
{
	struct vu_export **ex;
	int ret;

	e->heap = true;
	e->dp = NULL;
	e->socket_created = true;
	e->handshake_deadline_ms = 0;
	e->stage = NULL;
	e->finished = false;
	memset(&e->dev, 0, sizeof(e->dev));
	e->dev.conn_fd = -1;
	vlog_ratelimit_init(&e->rl_refused, "refused frontends",
			    VLOG_RL_INTERVAL_MS, VLOG_RL_BURST);
	vlog_ratelimit_init(&e->rl_accept, "accept errors",
			    VLOG_RL_INTERVAL_MS, VLOG_RL_BURST);

	pthread_mutex_lock(&d->lock);
	if (d->stopping) {
		ret = -ESHUTDOWN;
		snprintf(err, errlen, "the daemon is stopping");
		goto out_unlock;
	}
	if (find_locked(d, e->cfg.socket_path)) {
		ret = -EEXIST;
		snprintf(err, errlen, "socket %s is already served%s", e->cfg.socket_path,
			 find_locked(d, e->cfg.socket_path)->removing ?
			 " (it is being removed)" : "");
		goto out_unlock;
	}
	if (d->n == d->cap) {
		unsigned int cap = d->cap ? d->cap * 2 : 8;

		ex = realloc(d->ex, cap * sizeof(*ex));
		if (!ex) {
			ret = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			goto out_unlock;
		}
		d->ex = ex;
		d->cap = cap;
	}
	ret = e->ops->open(&e->dp, &e->cfg, err, errlen);
	if (ret) {
		e->dp = NULL;
		goto out_unlock;
	}
	vu_dev_init(&e->dev, e->cfg.socket_path, &e->cfg, e->ops, e->dp);
	e->dev.stop_fd = d->stop_fd;
	note_kdev(e);
	if (export_prepare(d, e) || start_thread(e)) {
		ret = -ENOMEM;
		snprintf(err, errlen, "cannot start its thread");
		e->ops->close(e->dp);
		e->dp = NULL;
		close_fd(&e->remove_fd);
		close_fd(&e->op_fd);
		goto out_unlock;
	}
	d->ex[d->n++] = e;
	ret = 0;
	vlog("%s: serving %s (%" PRIu64 " bytes%s, %u queue%s, %s datapath; added)",
	     e->cfg.socket_path, e->cfg.backing, e->cfg.size,
	     e->cfg.readonly ? ", read-only" : "", e->cfg.queues,
	     e->cfg.queues == 1 ? "" : "s", e->ops->name);
out_unlock:
	pthread_mutex_unlock(&d->lock);
	if (ret)
		e->socket_created = false;	/* the caller's again */
	else
		vu_ctl_event_add(e->cfg.socket_path);
	return ret;
}

struct vu_export *vu_daemon_get(struct vu_daemon *d, const char *socket)
{
	struct vu_export *e;

	pthread_mutex_lock(&d->lock);
	e = find_locked(d, socket);
	if (e && e->removing)
		e = NULL;
	if (e)
		e->refs++;
	pthread_mutex_unlock(&d->lock);
	return e;
}

int vu_daemon_get_all(struct vu_daemon *d, struct vu_export ***out)
{
	unsigned int n = 0;

	pthread_mutex_lock(&d->lock);
	*out = malloc((d->n ? d->n : 1) * sizeof(**out));
	if (!*out) {
		pthread_mutex_unlock(&d->lock);
		return -ENOMEM;
	}
	for (unsigned int i = 0; i < d->n; i++)
		if (!d->ex[i]->removing) {
			d->ex[i]->refs++;
			(*out)[n++] = d->ex[i];
		}
	pthread_mutex_unlock(&d->lock);
	return n;
}

void vu_daemon_put(struct vu_daemon *d, struct vu_export *e)
{
	bool last;

	pthread_mutex_lock(&d->lock);
	last = !--e->refs && e->removing;
	pthread_mutex_unlock(&d->lock);
	if (last)
		eventfd_write(d->reap_fd, 1);
}

int vu_daemon_remove(struct vu_daemon *d, const char *socket, unsigned int timeout_ms,
		     char *err, size_t errlen)
{
	struct timespec ts;
	struct vu_export *e;
	bool finished;

	pthread_mutex_lock(&d->lock);
	e = find_locked(d, socket);
	if (!e || e->removing || d->stopping) {
		pthread_mutex_unlock(&d->lock);
		snprintf(err, errlen, !e ? "no export on socket %s" :
			 e->removing ? "socket %s: already being removed" :
			 "socket %s: the daemon is stopping", socket);
		return !e ? -ENOENT : -EALREADY;
	}
	e->removing = true;
	e->refs++;
	pthread_mutex_unlock(&d->lock);
	eventfd_write(e->remove_fd, 1);

	vu_deadline_ts(&ts, timeout_ms);
	pthread_mutex_lock(&e->op_lock);
	while (!(finished = __atomic_load_n(&e->finished, __ATOMIC_ACQUIRE)) &&
	       !pthread_cond_timedwait(&e->op_cond, &e->op_lock, &ts))
		;
	finished = __atomic_load_n(&e->finished, __ATOMIC_ACQUIRE);
	pthread_mutex_unlock(&e->op_lock);
	if (!finished) {
		const char *stage = __atomic_load_n(&e->stage, __ATOMIC_ACQUIRE);

		snprintf(err, errlen, "socket %s: still stopping after %u ms (%s); "
			 "it is removed once that finishes", socket, timeout_ms,
			 stage ?: "handling a request of its frontend");
		vu_daemon_put(d, e);
		return -ETIMEDOUT;
	}
	vu_daemon_put(d, e);
	return 0;
}

/*
 * Wait up to SHUTDOWN_TIMEOUT_MS for the started threads to release their
 * exports: true if every one did (then they are joined), else the ones
 * still busy are logged and left alone.
 */
static bool wait_threads(struct vu_daemon *d)
{
	uint64_t deadline = vu_now_ms() + SHUTDOWN_TIMEOUT_MS;
	bool all;

	for (;;) {
		struct pollfd p = { .fd = d->done_fd, .events = POLLIN };
		uint64_t now = vu_now_ms(), v;

		all = true;
		pthread_mutex_lock(&d->lock);
		for (unsigned int i = 0; i < d->n; i++)
			if (d->ex[i]->started &&
			    !__atomic_load_n(&d->ex[i]->finished, __ATOMIC_ACQUIRE))
				all = false;
		pthread_mutex_unlock(&d->lock);
		if (all || now >= deadline)
			break;
		if (poll(&p, 1, (int)(deadline - now)) > 0)
			eventfd_read(d->done_fd, &v);
	}
	if (all)
		return true;
	pthread_mutex_lock(&d->lock);
	for (unsigned int i = 0; i < d->n; i++) {
		struct vu_export *e = d->ex[i];
		const char *stage = __atomic_load_n(&e->stage, __ATOMIC_ACQUIRE);

		if (!e->started || __atomic_load_n(&e->finished, __ATOMIC_ACQUIRE))
			continue;
		verr("%s: shutdown: gave up after %u ms %s; its resources are "
		     "abandoned", e->cfg.socket_path, SHUTDOWN_TIMEOUT_MS,
		     stage ?: "handling a request (waiting for the datapath)");
	}
	pthread_mutex_unlock(&d->lock);
	return false;
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
	return vu_daemon_run_ctl(ex, n, NULL);
}

int vu_daemon_run_ctl(struct vu_export *ex, unsigned int n, const char *control)
{
	static struct vlog_ratelimit rl_hup =
		VLOG_RATELIMIT_INIT("SIGHUP", VLOG_RL_INTERVAL_MS, 1);
	struct vu_daemon *d;
	struct vu_ctl *ctl = NULL;
	struct vhu_genl_events *kev = NULL;
	sigset_t set, old;
	char err[256];
	int sfd = -1, ret = 1, err_no;
	bool have_kernel;

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

	d = calloc(1, sizeof(*d));
	if (!d || !(d->ex = calloc(n ? n : 1, sizeof(*d->ex)))) {
		verr("out of memory");
		free(d);
		sigprocmask(SIG_SETMASK, &old, NULL);
		return 1;
	}
	pthread_mutex_init(&d->lock, NULL);
	d->cap = n ? n : 1;
	for (unsigned int i = 0; i < n; i++) {
		ex[i].listen_fd = -1;
		ex[i].dp = NULL;
		ex[i].socket_created = false;
		ex[i].handshake_deadline_ms = 0;
		ex[i].stage = NULL;
		ex[i].finished = false;
		ex[i].heap = false;
		ex[i].started = false;
		ex[i].remove_fd = -1;
		ex[i].op_fd = -1;
		ex[i].kdev_id = -1;
		memset(&ex[i].dev, 0, sizeof(ex[i].dev));
		ex[i].dev.conn_fd = -1;
		vlog_ratelimit_init(&ex[i].rl_refused, "refused frontends",
				    VLOG_RL_INTERVAL_MS, VLOG_RL_BURST);
		vlog_ratelimit_init(&ex[i].rl_accept, "accept errors",
				    VLOG_RL_INTERVAL_MS, VLOG_RL_BURST);
		d->ex[d->n++] = &ex[i];
	}

	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	d->stop_fd = eventfd(0, EFD_CLOEXEC);
	d->fail_fd = eventfd(0, EFD_CLOEXEC);
	d->done_fd = eventfd(0, EFD_CLOEXEC);
	d->reap_fd = eventfd(0, EFD_CLOEXEC);
	if (sfd < 0 || d->stop_fd < 0 || d->fail_fd < 0 || d->done_fd < 0 || d->reap_fd < 0) {
		verr("cannot set up the event loop: %s", strerror(errno));
		goto out;
	}
	for (unsigned int i = 0; i < n; i++)
		if (export_prepare(d, &ex[i]))
			goto out;

	for (unsigned int i = 0; i < n; i++) {
		struct vu_export *e = &ex[i];

		if (e->ops->open(&e->dp, &e->cfg, err, sizeof(err))) {
			verr("%s: %s datapath: %s", e->cfg.socket_path,
			     e->ops->name, err);
			goto out;
		}
		vu_dev_init(&e->dev, e->cfg.socket_path, &e->cfg, e->ops, e->dp);
		e->dev.stop_fd = d->stop_fd;
		note_kdev(e);
		if (open_socket(e))
			goto out;
		vlog("%s: serving %s (%" PRIu64 " bytes%s, %u queue%s, %s datapath)",
		     e->cfg.socket_path, e->cfg.backing, e->cfg.size,
		     e->cfg.readonly ? ", read-only" : "", e->cfg.queues,
		     e->cfg.queues == 1 ? "" : "s", e->ops->name);
	}
	if (control) {
		ctl = vu_ctl_open(d, control);
		if (!ctl)
			goto out;
		/*
		 * The kernel datapath sets up what it shares between exports
		 * (its netlink socket) on its first probe: now, while the
		 * daemon still may, for the kernel exports added later. Where
		 * vhu.ko is missing, nothing is set up and nothing is lost.
		 */
		have_kernel = !vu_dp_kernel_ops.probe(err, sizeof(err));
		/*
		 * Joining vhu.ko's events needs CAP_NET_ADMIN: now or never.
		 * Without the module or the capability, the monitor still has
		 * every event but the kernel datapath's ring and I/O errors.
		 */
		if (vhu_genl_events_open(&kev, err, sizeof(err)) && have_kernel)
			vlog("vhu.ko's ring and I/O errors will not reach the monitor: %s",
			     err);
		/* Exports of either datapath may come. */
		vu_priv.all_datapaths = true;
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
	for (unsigned int i = 0; i < n; i++)
		if (start_thread(&ex[i]))
			goto out;
	/* Every socket listens since open_socket(), the control socket too: ready. */
	snprintf(err, sizeof(err), "READY=1\nSTATUS=serving %u export%s%s", n,
		 n == 1 ? "" : "s", ctl ? " and the control socket" : "");
	vu_notify(err);

	for (;;) {
		struct pollfd p[5] = {
			{ .fd = sfd, .events = POLLIN },
			{ .fd = d->fail_fd, .events = POLLIN },
			{ .fd = d->reap_fd, .events = POLLIN },
			{ .fd = ctl ? vu_ctl_fd(ctl) : -1, .events = POLLIN },
			{ .fd = kev ? vhu_genl_events_fd(kev) : -1, .events = POLLIN },
		};
		struct signalfd_siginfo si;

		if (poll(p, 5, -1) < 0) {
			if (errno == EINTR)
				continue;
			verr("poll: %s", strerror(errno));
			goto out;
		}
		if (p[1].revents)
			goto out;	/* a control thread failed; it said why */
		if (p[2].revents)
			reap(d);
		if (p[3].revents)
			vu_ctl_accept(ctl);
		if (p[4].revents)
			relay_kernel_events(d, kev);
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
	/* No new frontend or export from here on, whatever happens next. */
	pthread_mutex_lock(&d->lock);
	d->stopping = true;
	for (unsigned int i = 0; i < d->n; i++)
		unlink_socket(d->ex[i]);
	pthread_mutex_unlock(&d->lock);
	vu_notify("STOPPING=1");
	if (kev)
		vhu_genl_events_close(kev);
	/* No new request; then the exports stop, which ends every wait for one. */
	vu_ctl_stop(ctl);
	/* The stop eventfd stays readable: every thread sees it. */
	if (d->stop_fd >= 0)
		eventfd_write(d->stop_fd, 1);
	if (!wait_threads(d)) {
		fflush(stderr);
		_exit(VU_EXIT_ABANDONED);
	}
	/* The control socket's clients may hold exports: they end first. */
	if (!vu_ctl_close(ctl)) {
		sigprocmask(SIG_SETMASK, &old, NULL);
		return ret;	/* left to the exit */
	}
	for (unsigned int i = 0; i < d->n; i++) {
		struct vu_export *e = d->ex[i];

		if (!e->started)
			release_export(e, "shutdown");
		export_destroy(e);
	}
	free(d->ex);
	close_fd(&d->reap_fd);
	close_fd(&d->done_fd);
	close_fd(&d->fail_fd);
	close_fd(&d->stop_fd);
	pthread_mutex_destroy(&d->lock);
	free(d);
	if (sfd >= 0)
		close(sfd);
	vu_notify_close();
	sigprocmask(SIG_SETMASK, &old, NULL);
	return ret;
}
