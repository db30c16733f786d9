// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the host tests (see test_util.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "test_util.h"
#include "util.h"

int wait_pid_bounded(pid_t pid, int ms, int *status)
{
	for (int waited = 0; waited <= ms; waited += 10) {
		pid_t r = waitpid(pid, status, WNOHANG);

		if (r == pid)
			return 0;
		if (r < 0)
			return -1;
		usleep(10000);
	}
	return -1;
}

int make_file(const char *path, size_t size)
{
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int ret;

	if (fd < 0)
		return -1;
	ret = ftruncate(fd, size);
	close(fd);
	return ret;
}

int fd_count(pid_t pid)
{
	char path[64];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -1;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int settle_fds(pid_t pid, int want)
{
	int n = -1;

	for (int i = 0; i < 200; i++) {
		n = fd_count(pid);
		if (n == want)
			break;
		usleep(10000);
	}
	return n;
}

pid_t fork_logged(const char *logpath)
{
	pid_t pid = fork();
	int fd;

	if (pid)
		return pid;
	fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd >= 0)
		dup2(fd, 2);
	return 0;
}

pid_t spawn(char *const argv[], const char *out)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int null = open("/dev/null", O_RDONLY);

		dup2(null, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	return pid;
}

bool wait_socket(const char *path)
{
	struct stat st;

	for (int i = 0; i < 300; i++) {
		if (!stat(path, &st))
			return true;
		usleep(10000);
	}
	return false;
}

static long ms_left(const struct timespec *t0, int ms)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return ms - ((t1.tv_sec - t0->tv_sec) * 1000 +
		     (t1.tv_nsec - t0->tv_nsec) / 1000000);
}

/* Read what is there on p->fd into buf (the excess is dropped); -1 at EOF. */
static void drain(struct pollfd *p, char *buf, size_t len, size_t *n)
{
	char scratch[4096];
	ssize_t r;

	if (p->fd < 0 || !p->revents)
		return;
	if (*n + 1 < len)
		r = read(p->fd, buf + *n, len - 1 - *n);
	else
		r = read(p->fd, scratch, sizeof(scratch));
	if (r > 0 && *n + 1 < len)
		*n += r;
	else if (r == 0 || (r < 0 && errno != EINTR))
		p->fd = -1;
	buf[*n] = '\0';
}

void run_prog(struct run *r, const char *bin, const char *const *args, int ms)
{
	char *argv[40];
	int po[2], pe[2], n = 0, st;
	size_t no = 0, ne = 0;
	struct pollfd pfd[2];
	struct timespec t0;
	long left = ms;
	pid_t pid;

	memset(r, 0, sizeof(*r));
	argv[n++] = (char *)bin;
	while (*args && n < 39)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	if (pipe2(po, O_CLOEXEC) || pipe2(pe, O_CLOEXEC)) {
		r->status = -1;
		return;
	}
	pid = fork();
	if (pid == 0) {
		dup2(po[1], 1);
		dup2(pe[1], 2);
		execv(bin, argv);
		_exit(127);
	}
	close(po[1]);
	close(pe[1]);
	/* Read both pipes as they fill, so that no amount of output blocks it. */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pfd[0] = (struct pollfd){ .fd = po[0], .events = POLLIN };
	pfd[1] = (struct pollfd){ .fd = pe[0], .events = POLLIN };
	while ((pfd[0].fd >= 0 || pfd[1].fd >= 0) && left > 0) {
		if (poll(pfd, 2, left) < 0 && errno != EINTR)
			break;
		drain(&pfd[0], r->out, sizeof(r->out), &no);
		drain(&pfd[1], r->err, sizeof(r->err), &ne);
		left = ms_left(&t0, ms);
	}
	close(po[0]);
	close(pe[0]);
	if (pid < 0 || wait_pid_bounded(pid, left > 100 ? left : 100, &st)) {
		/* Ours, by its PID: never leave it running. */
		if (pid > 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
		}
		tap_diag("%s %s: killed after %d ms", bin, argv[1] ? argv[1] : "", ms);
		r->status = -1;
		return;
	}
	r->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int stop_child(pid_t pid, int ms, int *st)
{
	if (pid <= 0)
		return -1;
	kill(pid, SIGTERM);
	if (wait_pid_bounded(pid, ms, st)) {
		kill(pid, SIGKILL);
		waitpid(pid, st, 0);
		*st = -1;
		return -1;
	}
	return 0;
}

int count_lines(const char *s)
{
	int n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

int file_count(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[512];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		n += !!strstr(line, needle);
	fclose(f);
	return n;
}

void diag_file(const char *what, const char *path, int max)
{
	FILE *f = fopen(path, "r");
	char line[512];

	while (f && max-- > 0 && fgets(line, sizeof(line), f))
		tap_diag("%s: %.*s", what, (int)strcspn(line, "\n"), line);
	if (f)
		fclose(f);
}

bool tmp_dir_make(struct tmp_dir *t, const char *prefix)
{
	memset(t, 0, sizeof(*t));
	snprintf(t->path, sizeof(t->path), "/tmp/%s.XXXXXX", prefix);
	return mkdtemp(t->path);
}

const char *tmp_file(struct tmp_dir *t, const char *name)
{
	static char unlisted[128];
	char *p = unlisted;

	/* One too many stays behind, and tmp_dir_remove() says so. */
	if (t->nfiles < ARRAY_SIZE(t->files))
		p = t->files[t->nfiles++];
	else
		tap_diag("%s/%s: more than %zu files", t->path, name, ARRAY_SIZE(t->files));
	snprintf(p, sizeof(t->files[0]), "%s/%s", t->path, name);
	return p;
}

bool tmp_dir_remove(struct tmp_dir *t)
{
	for (unsigned int i = 0; i < t->nfiles; i++)
		unlink(t->files[i]);
	return rmdir(t->path) == 0;
}
