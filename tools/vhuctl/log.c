// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: log lines (log.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include "log.h"

static void vline(const char *prefix, const char *fmt, va_list ap)
{
	/* One line at a time: exports log from their own threads. */
	flockfile(stderr);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void vlog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("vhuctl: ", fmt, ap);
	va_end(ap);
}

void verr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("vhuctl: error: ", fmt, ap);
	va_end(ap);
}

/* ---- rate-limited lines ---------------------------------------------- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void vlog_ratelimit_init(struct vlog_ratelimit *rl, const char *what,
			 unsigned int interval_ms, unsigned int burst)
{
	*rl = (struct vlog_ratelimit)VLOG_RATELIMIT_INIT(what, interval_ms, burst);
}

/* Say how many lines were left out; rl->lock held. */
static void summary(struct vlog_ratelimit *rl)
{
	if (rl->suppressed)
		vlog("%s: suppressed %lu lines", rl->what, rl->suppressed);
	rl->suppressed = 0;
}

void vlog_rl(struct vlog_ratelimit *rl, const char *fmt, ...)
{
	uint64_t now = now_ms();
	bool print;
	va_list ap;

	pthread_mutex_lock(&rl->lock);
	if (!rl->begin_ms || now - rl->begin_ms >= rl->interval_ms) {
		summary(rl);
		rl->begin_ms = now;
		rl->printed = 0;
	}
	print = rl->printed < rl->burst;
	if (print)
		rl->printed++;
	else
		rl->suppressed++;
	pthread_mutex_unlock(&rl->lock);
	if (!print)
		return;
	va_start(ap, fmt);
	vline("vhuctl: ", fmt, ap);
	va_end(ap);
}

void vlog_rl_flush(struct vlog_ratelimit *rl)
{
	pthread_mutex_lock(&rl->lock);
	summary(rl);
	pthread_mutex_unlock(&rl->lock);
}
