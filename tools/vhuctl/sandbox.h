/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The export daemon's seccomp filter (sandbox.c): the system calls it
 * makes once every export is set up, per datapath.
 */
#ifndef SANDBOX_H
#define SANDBOX_H

#include <stdbool.h>
#include <stddef.h>

/* The datapaths the exports use: the filter allows what each needs. */
#define VU_SANDBOX_KERNEL	0x1u
#define VU_SANDBOX_USER		0x2u

/*
 * Set PR_SET_NO_NEW_PRIVS and load the filter for @datapaths into every
 * thread of the process. A system call outside it fails with EPERM and a
 * log line naming it (where the architecture lets the daemon see it:
 * x86-64, arm64; elsewhere it fails with EPERM silently). 0, or -errno
 * with the reason in @err. Cannot be undone.
 */
int vu_sandbox_install(unsigned int datapaths, char *err, size_t errlen);

/*
 * Is the filter in place (in this process)? Then a call outside it is
 * better not made: code that could open something later asks first.
 */
bool vu_sandbox_installed(void);

/* The calls the filter refused so far (in this process). */
unsigned long vu_sandbox_refused(void);

#endif
