/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the host tests.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stddef.h>
#include <sys/types.h>

/* waitpid() for at most ms milliseconds; -1 on timeout (child left alone). */
int wait_pid_bounded(pid_t pid, int ms, int *status);
/* Create (truncate) a file of size bytes; 0 or -1. */
int make_file(const char *path, size_t size);
/* Number of open fds of a process, -1 if it cannot be read. */
int fd_count(pid_t pid);

#endif
