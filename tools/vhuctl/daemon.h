/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The export daemon: listening sockets, one frontend per export, signals.
 */
#ifndef DAEMON_H
#define DAEMON_H

#include <pthread.h>

#include "priv.h"
#include "vu_server.h"

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
};

/*
 * Open every export's datapath and socket, give up what serving does not
 * need (vu_priv_enter(): vu_priv's user, group and seccomp filter), then
 * serve each from its own thread until SIGINT or SIGTERM; release everything on the way out. ex[i].cfg and ex[i].ops
 * must be set. Returns 0 after a clean shutdown, 1 if setup failed.
 */
int vu_daemon_run(struct vu_export *ex, unsigned int n);

#endif
