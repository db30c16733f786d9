// SPDX-License-Identifier: GPL-2.0
/*
 * The daemon's seccomp filter (sandbox.c), installed in a forked child as
 * the daemon installs it: the system calls each datapath makes while it
 * serves still work, others fail with EPERM (and are counted and logged),
 * and the process goes on. The child reports each check on a pipe.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <linux/vhu.h>

#include "sandbox.h"
#include "tap.h"
#include "test_util.h"
#include "util.h"

#define NCHECKS 24

struct sb {
	int nr;
	char name[NCHECKS][80];
	bool ok[NCHECKS];
};

static void check(struct sb *s, bool ok, const char *name)
{
	if (s->nr < NCHECKS) {
		snprintf(s->name[s->nr], sizeof(s->name[0]), "%s", name);
		s->ok[s->nr++] = ok;
	}
}

/* The call failed with EPERM. */
static bool eperm(long ret)
{
	return ret < 0 && errno == EPERM;
}

static void *thread_fn(void *arg)
{
	return arg;
}

/* Calls both datapaths make, then calls neither may. */
static void common_checks(struct sb *s, int file_fd)
{
	uint64_t v = 1;
	pthread_t t;
	void *res = NULL;
	int efd, mfd;
	char *p;

	efd = eventfd(0, EFD_CLOEXEC);
	check(s, efd >= 0 && write(efd, &v, 8) == 8 && read(efd, &v, 8) == 8,
	      "an eventfd is made, written and read");
	check(s, !pthread_create(&t, NULL, thread_fn, s) && !pthread_join(t, &res) &&
	      res == s, "a thread starts and is joined");
	mfd = memfd_create("sandbox", MFD_CLOEXEC);
	p = mfd >= 0 && !ftruncate(mfd, 4096) ?
	    mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0) : MAP_FAILED;
	check(s, p != MAP_FAILED && !munmap(p, 4096),
	      "a memfd is made, sized and mapped (the inflight area)");
	close(efd);
	close(mfd);

	check(s, eperm(open("/etc/hostname", O_RDONLY | O_CLOEXEC)), "open() fails with EPERM");
	check(s, eperm(socket(AF_INET, SOCK_STREAM, 0)), "socket() fails with EPERM");
	check(s, eperm(fork()), "fork() fails with EPERM");
	check(s, eperm(execve("/bin/true", (char *[]){ "true", NULL }, environ)),
	      "execve() fails with EPERM");
	check(s, eperm((long)mmap(NULL, 4096, PROT_READ | PROT_EXEC,
				  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)),
	      "an executable mapping fails with EPERM");
	check(s, eperm(kill(getppid(), 0)), "kill() of another process fails with EPERM");
	check(s, eperm(setuid(0)), "setuid() fails with EPERM");
	check(s, eperm(ioctl(file_fd, TCGETS, &(struct termios){ 0 })),
	      "an ioctl not vhu's fails with EPERM");
}

static void user_checks(struct sb *s, int file_fd)
{
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	char buf[16] = { 0 };
	bool ok = false;

	if (!io_uring_queue_init(4, &ring, 0)) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		io_uring_prep_read(sqe, file_fd, buf, 5, 0);
		ok = io_uring_submit_and_wait(&ring, 1) == 1 &&
		     !io_uring_wait_cqe(&ring, &cqe) && cqe->res == 5 &&
		     !memcmp(buf, "sandb", 5);
		io_uring_queue_exit(&ring);
	}
	check(s, ok, "user: an io_uring is set up and reads the backing");
	check(s, pread(file_fd, buf, 5, 0) == 5 && fdatasync(file_fd) == 0,
	      "user: pread() and fdatasync() of the backing work");
}

static void kernel_checks(struct sb *s, int file_fd)
{
	struct vhu_api api;
	struct io_uring ring;
	int ret;

	/* vhu's ioctl type passes the filter; a file then says ENOTTY. */
	check(s, ioctl(file_fd, VHU_GET_API, &api) < 0 && errno == ENOTTY,
	      "kernel: vhu's ioctls pass the filter");
	ret = io_uring_queue_init(4, &ring, 0);
	check(s, ret == -EPERM, "kernel: io_uring_setup() fails with EPERM");
	if (!ret)
		io_uring_queue_exit(&ring);
}

/* Fork, install the filter for datapaths, run the checks; TAP here. */
static void run(const char *what, unsigned int datapaths, const char *file, const char *log)
{
	struct sb *s = mmap(NULL, sizeof(*s), PROT_READ | PROT_WRITE,
			    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	unsigned long before = 0, refused = 0;
	char err[256] = "";
	int st = -1;
	pid_t pid;

	if (s == MAP_FAILED) {
		tap_ok(false, "sandbox %s: shared memory", what);
		return;
	}
	memset(s, 0, sizeof(*s));
	fflush(stdout);
	pid = fork_logged(log);
	if (pid == 0) {
		int fd = open(file, O_RDWR | O_CLOEXEC);

		if (fd < 0 || vu_sandbox_install(datapaths, err, sizeof(err))) {
			fprintf(stderr, "install: %s\n", err);
			_exit(2);
		}
		before = vu_sandbox_refused();
		common_checks(s, fd);
		if (datapaths & VU_SANDBOX_USER)
			user_checks(s, fd);
		else
			kernel_checks(s, fd);
		refused = vu_sandbox_refused() - before;
		check(s, refused >= 8, "the refused calls are counted");
		_exit(0);
	}
	if (!tap_ok(pid > 0 && !wait_pid_bounded(pid, 10000, &st) && WIFEXITED(st) &&
		    WEXITSTATUS(st) == 0,
		    "sandbox %s: the filter installs, the process survives every refused call",
		    what)) {
		if (pid > 0 && st == -1)
			stop_child(pid, 1000, &st);
		tap_diag("status %#x", st);
		diag_file("child", log, 20);
	}
	for (int i = 0; i < s->nr; i++)
		tap_ok(s->ok[i], "sandbox %s: %s", what, s->name[i]);
	tap_ok(file_count(log, "vhuctl: sandbox: refused system call") >= 8,
	       "sandbox %s: each refused call is logged with its number", what);
	munmap(s, sizeof(*s));
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>

/*
 * The ASan build (check-san): a sandboxed process's sanitizer report
 * still reaches its file (log_path; here one of the test's own, not the
 * run's report directory), so a daemon's report is not lost.
 */
static void san_report(struct tmp_dir *dir, const char *log)
{
	char prefix[128], name[64];
	const char *report;
	int st = -1;
	pid_t pid;

	snprintf(prefix, sizeof(prefix), "%s/asan", dir->path);
	fflush(stdout);
	pid = fork_logged(log);
	if (pid == 0) {
		char err[256] = "";
		volatile char *p;

		__sanitizer_set_report_path(prefix);
		if (vu_sandbox_install(VU_SANDBOX_USER, err, sizeof(err))) {
			fprintf(stderr, "install: %s\n", err);
			_exit(2);
		}
		/* A size the compiler cannot know, or UBSan's check comes first. */
		p = malloc(8 + (getppid() < 0));
		p[24] = 1;	/* heap-buffer-overflow: the report, then exit 1 */
		free((void *)p);
		_exit(0);
	}
	snprintf(name, sizeof(name), "asan.%d", (int)pid);
	report = tmp_file(dir, name);
	if (pid > 0 && wait_pid_bounded(pid, 10000, &st))
		stop_child(pid, 1000, &st);
	tap_ok(pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 1,
	       "sandbox: ASan build: the overflow is caught (status %#x)", st);
	if (!tap_ok(file_count(report, "ERROR: AddressSanitizer: heap-buffer-overflow") == 1,
		    "sandbox: ASan build: the sandboxed process's report reaches its file"))
		diag_file("child", log, 20);
}
#else
static void san_report(struct tmp_dir *dir, const char *log)
{
	(void)dir;
	(void)log;
}
#endif

void t_sandbox(void)
{
	struct tmp_dir dir;
	const char *file, *log;
	int fd;

	if (!tmp_dir_make(&dir, "vhuctl-sandbox")) {
		tap_ok(false, "sandbox: temporary directory");
		return;
	}
	file = tmp_file(&dir, "disk.img");
	log = tmp_file(&dir, "child.log");
	fd = open(file, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (!tap_ok(fd >= 0 && write(fd, "sandbox", 7) == 7, "sandbox: a backing file"))
		goto out;
	close(fd);
	run("user", VU_SANDBOX_USER, file, log);
	run("kernel", VU_SANDBOX_KERNEL, file, log);
	san_report(&dir, log);
out:
	tap_ok(tmp_dir_remove(&dir), "sandbox: no files left behind");
}
