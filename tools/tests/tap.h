/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Minimal TAP producer for the host unit tests: "ok N - name" lines, a
 * trailing plan "1..N", "# " diagnostics.
 */
#ifndef TAP_H
#define TAP_H

#include <stdbool.h>

/* Record one result; returns cond. */
bool tap_ok(bool cond, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/*
 * A result with the TAP "# TODO todo" directive: a check that waits for a
 * known defect to be fixed. Not counted as a failure; a diagnostic says
 * when it passes. Returns cond.
 */
bool tap_todo(bool cond, const char *todo, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void tap_diag(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Print the plan; 0 if every test passed, else 1. */
int tap_done(void);

/* Test groups, run in order by test_main.c. */
void t_cli(void);
void t_imglock(void);
void t_mem(void);
void t_log(void);
void t_proto(void);
void t_bench(void);
void t_user(void);
void t_replay(void);
void t_contain(void);
void t_timebound(void);
void t_priv(void);
void t_sandbox(void);
void t_service(void);
void t_control(void);
void t_admin(void);
/* The same on the kernel datapath (root, vhu.ko loaded): vhuctl-test --admin-kernel. */
void t_admin_kernel(void);
void t_control_kernel(void);

#endif
