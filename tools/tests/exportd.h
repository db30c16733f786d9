/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The export daemon (vhuctl export's core, vu_daemon_run()) in a child
 * process, for the tests that drive it as a frontend. It is stopped by its
 * PID with a bounded wait.
 */
#ifndef EXPORTD_H
#define EXPORTD_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "daemon.h"

#define EXPORTD_MAX 4

struct exportd {
	pid_t pid;			/* -1 once stopped */
	const char *log;		/* its stderr */
	int baseline_fds;		/* its fds once listening */
	unsigned int n;
	struct vu_export ex[EXPORTD_MAX];
};

/*
 * Add an export on sock with ops: the given number of queues of at most
 * 256 entries, 512-byte blocks, over backing, made here with size bytes.
 * Its configuration, for the caller to change (readonly, direct, serial).
 */
struct vu_export_cfg *exportd_add(struct exportd *d, const char *sock,
				  const char *backing, uint64_t size,
				  unsigned int queues, const struct vu_dp_ops *ops);
/*
 * Fork the daemon serving every export (backing files opened there: read
 * only when readonly, O_DIRECT when direct), its stderr into log: true
 * once it listens on every socket. baseline_fds is then its fd count.
 */
bool exportd_start(struct exportd *d, const char *log);
bool exportd_alive(const struct exportd *d);
/* Wait up to 2 s for its fds to be back to baseline_fds: the last count. */
int exportd_settle(const struct exportd *d);
/* SIGTERM: true if it exited with status 0 within 5 s, else it is killed. */
bool exportd_stop(struct exportd *d);
/* Its log as TAP diagnostics, when VHUCTL_TEST_LOG is set. */
void exportd_diag_log(const struct exportd *d);

#endif
