/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Readiness for a service manager (NOTIFY_SOCKET, sd_notify(3)'s
 * protocol): see notify.c.
 */
#ifndef NOTIFY_H
#define NOTIFY_H

/*
 * Connect to NOTIFY_SOCKET, if set, and remove it from the environment:
 * 0 (also without it), or -1 after a log line. Before the seccomp filter.
 */
int vu_notify_open(void);
/* Send msg ("READY=1", ...) if connected; a failure is only logged. */
void vu_notify(const char *msg);
void vu_notify_close(void);

#endif
