/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the host tests.
 */
#ifndef TEST_UTIL_H
#define TEST_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* What run_prog() saw of a program. */
struct run {
	int status;		/* exit status, or 128 + signal, -1 on timeout */
	char out[8192];
	char err[4096];
};

/* waitpid() for at most ms milliseconds; -1 on timeout (child left alone). */
int wait_pid_bounded(pid_t pid, int ms, int *status);
/* Create (truncate) a file of size bytes; 0 or -1. */
int make_file(const char *path, size_t size);
/* Number of open fds of a process, -1 if it cannot be read. */
int fd_count(pid_t pid);
/* Wait up to 2 s for pid's fd count to reach want; the last count seen. */
int settle_fds(pid_t pid, int want);
/* fork(), the child's stderr going to logpath (truncated); fork()'s value. */
pid_t fork_logged(const char *logpath);
/*
 * Run argv (PATH searched) in a child, stdin from /dev/null, stdout and
 * stderr into the file out (truncated); fork()'s value.
 */
pid_t spawn(char *const argv[], const char *out);
/* Wait up to 3 s for path to exist (a daemon's socket). */
bool wait_socket(const char *path);
/*
 * Run bin with args (NULL-terminated) as a child, stdout and stderr captured
 * (truncated to fit), for at most ms milliseconds: then it is killed and
 * r->status is -1.
 */
void run_prog(struct run *r, const char *bin, const char *const *args, int ms);
/* SIGTERM pid, SIGKILL it after ms; reaped either way. 0, or -1 (*st = -1). */
int stop_child(pid_t pid, int ms, int *st);
/* Number of newlines in s. */
int count_lines(const char *s);
/* Lines of the file at path that contain needle; -1 if it cannot be read. */
int file_count(const char *path, const char *needle);
/* The file at path as TAP diagnostics "what: line", its first max lines. */
void diag_file(const char *what, const char *path, int max);

/* A test group's directory under /tmp and the files it makes there. */
struct tmp_dir {
	char path[64];
	unsigned int nfiles;
	char files[16][128];
};

/* mkdtemp() /tmp/<prefix>.XXXXXX: false if it cannot be made. */
bool tmp_dir_make(struct tmp_dir *t, const char *prefix);
/* The path of name in t, which tmp_dir_remove() will unlink. */
const char *tmp_file(struct tmp_dir *t, const char *name);
/*
 * Unlink every tmp_file() (made or not), then remove the directory: true
 * if that worked, so nothing else was left behind.
 */
bool tmp_dir_remove(struct tmp_dir *t);

#endif
