/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The export daemon: listening sockets, one frontend per export, signals.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <limits.h>
#include <pthread.h>

#include "priv.h"
#include "vu_server.h"

/*
 * The handshake timeout (vu_export_cfg.handshake_timeout_ms): the most a
 * frontend may take from its connection to its SET_OWNER. 0 in the
 * configuration means this default, VU_HANDSHAKE_NONE no limit.
 */
#define VU_HANDSHAKE_TIMEOUT_MS	30000
#define VU_HANDSHAKE_NONE	UINT_MAX

/*
 * The exit status of a daemon that had to stop waiting for an export at
 * shutdown (I/O in flight on a backing that does not answer): its
 * sockets are unlinked, its resources abandoned to the exit.
 */
#define VU_EXIT_ABANDONED	3

struct vu_export;
struct vu_daemon;

/*
 * An operation on a running export (the control socket's list, stats,
 * resize), handed to the export's own control thread, the only one that
 * touches its vu_dev: fn runs there and sets ret. Allocated by the
 * caller with malloc(); see vu_export_call() for who frees it.
 */
struct vu_export_op {
	struct vu_export_op *next;
	void (*fn)(struct vu_export *e, struct vu_export_op *op);
	int ret;
	bool done;			/* protected by the export's op_lock */
	bool abandoned;			/* ditto: the caller gave up waiting */
};

struct vu_export {
	struct vu_export_cfg cfg;
	const struct vu_dp_ops *ops;
	struct vu_dp *dp;
	struct vu_dev dev;
	struct vu_sock_opts sock;	/* how to get listen_fd */
	int listen_fd;
	bool socket_created;		/* we bound it, so we unlink it */
	pthread_t thread;		/* its control thread */
	int stop_fd;			/* shared: readable once stopping */
	int fail_fd;			/* shared: written by a failed thread */
	int done_fd;			/* shared: written by a thread that ended */
	bool finished;			/* its thread released everything */
	const char *stage;		/* what its release waits for, or NULL */
	uint64_t handshake_deadline_ms;	/* for the frontend's SET_OWNER; 0: none */
	struct vlog_ratelimit rl_refused;	/* second frontends refused */
	struct vlog_ratelimit rl_accept;	/* accept() failures */

	/* Exports added and removed at runtime (the control socket). */
	struct vu_daemon *d;
	bool heap;			/* added at runtime: freed once removed */
	bool started;			/* its thread was started */
	pid_t frontend_pid;		/* its thread's: the connected frontend, or 0 */
	int64_t kdev_id;		/* vhu.ko's device id (kernel datapath), or -1; set before its thread starts */
	int remove_fd;			/* readable once the export is removed */
	int op_fd;			/* readable when an operation is queued */
	pthread_mutex_t op_lock;
	pthread_cond_t op_cond;		/* an operation is done */
	struct vu_export_op *queued;	/* protected by op_lock: queued, in order */
	bool ops_closed;		/* protected by op_lock: its thread ended */
	bool removing;			/* protected by d->lock */
	unsigned int refs;		/* protected by d->lock: vu_daemon_get() */
};

/* The running daemon's exports, for the control socket. */
struct vu_daemon {
	pthread_mutex_t lock;
	struct vu_export **ex;		/* protected by lock */
	unsigned int n, cap;		/* protected by lock */
	bool stopping;			/* protected by lock: no more adds */
	int stop_fd, fail_fd, done_fd;	/* shared by every export's thread */
	int reap_fd;			/* readable when a removed export ended */
};

/* The handshake timeout in effect for an export: 0 for none. */
unsigned int vu_handshake_ms(const struct vu_export_cfg *cfg);

/*
 * Open every export's datapath and socket, give up what serving does not
 * need (vu_priv_enter(): vu_priv's user, group and seccomp filter), then
 * serve each from its own thread until SIGINT or SIGTERM (SIGHUP is
 * ignored); release everything on the way out. ex[i].cfg and ex[i].ops
 * must be set. Returns 0 after a clean shutdown, 1 if setup failed or a
 * control thread did; exits with VU_EXIT_ABANDONED when the shutdown
 * cannot finish in its time.
 */
int vu_daemon_run(struct vu_export *ex, unsigned int n);

/*
 * The same with a control socket at control (NULL: none), which it makes
 * before dropping privileges; the daemon may start with no export then.
 * Ready (READY=1) once the control socket and every export listen.
 */
int vu_daemon_run_ctl(struct vu_export *ex, unsigned int n, const char *control);

/*
 * Start serving e, allocated with calloc() and set up as vu_daemon_run()
 * wants plus listen_fd (taken over; unlinked when it is removed). 0; else
 * -EEXIST if its socket is served already, -ESHUTDOWN if the daemon is
 * stopping, or another -errno, err saying why: e and its fds are the
 * caller's again then.
 */
int vu_daemon_add(struct vu_daemon *d, struct vu_export *e, char *err, size_t errlen);

/*
 * Stop serving the export on socket: no new frontend, its frontend
 * disconnected once its queues stopped (their I/O drained), its datapath
 * and backing released, its socket unlinked. Waits up to timeout_ms:
 * 0, -ENOENT if no such export, -ETIMEDOUT if it is still stopping (it
 * finishes on its own then), with err saying why.
 */
int vu_daemon_remove(struct vu_daemon *d, const char *socket, unsigned int timeout_ms,
		     char *err, size_t errlen);

/* A reference to the export on socket (not being removed), or NULL. */
struct vu_export *vu_daemon_get(struct vu_daemon *d, const char *socket);
/* Every export's, into a malloc()ed array *out: their number, or -ENOMEM. */
int vu_daemon_get_all(struct vu_daemon *d, struct vu_export ***out);
void vu_daemon_put(struct vu_daemon *d, struct vu_export *e);

/*
 * Run op on e's thread and wait up to timeout_ms for it: 0 once it ran
 * (op->ret says how it went; the caller frees op); -ETIMEDOUT if the
 * thread did not get to it in time (a frontend or a backing holds it up),
 * -ESHUTDOWN if the export is gone: the export frees op then.
 */
int vu_export_call(struct vu_export *e, struct vu_export_op *op, unsigned int timeout_ms);

struct timespec;
/* ms from now on CLOCK_MONOTONIC, for a condition variable on that clock. */
void vu_deadline_ts(struct timespec *ts, unsigned int ms);

#endif
