/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhuctl's log: "vhuctl: " prefixed lines on stderr, one whole line at a
 * time whichever thread writes it.
 */
#ifndef LOG_H
#define LOG_H

/* What happens: a frontend connects, a request is refused, ... */
void vlog(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Why a command or the daemon fails ("vhuctl: error: ..."). */
void verr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
