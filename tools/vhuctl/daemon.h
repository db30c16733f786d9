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

#endif
