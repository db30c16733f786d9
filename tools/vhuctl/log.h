/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhuctl's log: "vhuctl: " prefixed lines on stderr, one whole line at a
 * time whichever thread writes it.
 */
#ifndef LOG_H
#define LOG_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* What happens: a frontend connects, a request is refused, ... */
void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Why a command or the daemon fails ("vhuctl: error: ..."). */
void verr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * One kind of event a peer can repeat at will (a refused connection, a
 * refused request): like the kernel's printk_ratelimit, at most burst
 * lines per interval_ms, and once an interval with suppressed lines is
 * over, one line saying how many were left out. Shared by threads.
 */
struct vlog_ratelimit {
	pthread_mutex_t lock;
	unsigned int interval_ms;
	unsigned int burst;
	const char *what;		/* names the kind in the summary line */
	uint64_t begin_ms;		/* start of the current interval */
	unsigned int printed;		/* lines in the current interval */
	unsigned long suppressed;	/* lines left out since the last summary */
};

#define VLOG_RATELIMIT_INIT(what_, interval_ms_, burst_) {		\
	.lock = PTHREAD_MUTEX_INITIALIZER,				\
	.interval_ms = (interval_ms_), .burst = (burst_),		\
	.what = (what_),						\
}

/* The defaults for events a peer repeats: 10 lines per 5 s. */
#define VLOG_RL_INTERVAL_MS	5000
#define VLOG_RL_BURST		10

void vlog_ratelimit_init(struct vlog_ratelimit *rl, const char *what,
			 unsigned int interval_ms, unsigned int burst);
/* vlog() unless rl's budget for this interval is spent. */
void vlog_rl(struct vlog_ratelimit *rl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* The summary of lines still suppressed, if any (at shutdown). */
void vlog_rl_flush(struct vlog_ratelimit *rl);

#endif
