// SPDX-License-Identifier: GPL-2.0
/*
 * vhu-bench, the load generator: option errors, and against
 * qemu-storage-daemon (skipped if it is not installed) that a verify run
 * passes, that a corrupted sector is caught, and that --json is one object.
 * Never asserts anything about timing. Run with VHU_BENCH=path (the
 * Makefile sets it).
 */
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "test_util.h"
#include "util.h"

/* Run vhu-bench with args (NULL-terminated), 60 s at most. */
static void run(struct run *r, const char *const *args)
{
	const char *bin = getenv("VHU_BENCH") ? getenv("VHU_BENCH") :
			  "../vhu-bench/vhu-bench";

	run_prog(r, bin, args, 60000);
}

#define RUN(r, ...) run(r, (const char *const[]){ __VA_ARGS__, NULL })

static void expect_error(const char *what, const char *needle, const char *const *args)
{
	struct run r;

	run(&r, args);
	if (!tap_ok(r.status == 2 && strstr(r.err, needle) && count_lines(r.err) == 1 &&
		    !r.out[0], "bench: %s", what))
		tap_diag("status %d, stderr: %s", r.status, r.err);
}

#define ERR(what, needle, ...) \
	expect_error(what, needle, (const char *const[]){ __VA_ARGS__, NULL })

static void options(void)
{
	struct run r;

	RUN(&r, "--help");
	tap_ok(r.status == 0 && strstr(r.out, "--iodepth") && strstr(r.out, "--verify"),
	       "bench: --help lists the options");
	ERR("no --socket", "--socket is required", "--rw", "read");
	ERR("unknown option", "unknown option '--frobnicate'", "--socket", "x", "--frobnicate");
	ERR("stray argument", "unexpected argument 'x'", "x");
	ERR("bad --rw", "--rw: 'randrw' is not", "--socket", "x", "--rw", "randrw");
	ERR("--bs not a multiple of 512", "not a multiple of 512", "--socket", "x", "--bs", "1000");
	ERR("--bs bad suffix", "unknown size suffix", "--socket", "x", "--bs", "4x");
	ERR("--iodepth 0", "--iodepth: 0 is out of range", "--socket", "x", "--iodepth", "0");
	ERR("--iodepth too deep", "out of range", "--socket", "x", "--iodepth", "1000");
	ERR("--queues not a number", "--queues: 'two' is not a number", "--socket", "x",
	    "--queues", "two");
	ERR("--runtime negative", "--runtime: '-1' is not a number", "--socket", "x",
	    "--runtime", "-1");
	ERR("missing value", "--bs: needs a value", "--socket", "x", "--bs");
	ERR("value on a flag", "--json: takes no value", "--socket", "x", "--json=1");
	ERR("--verify on a read job", "--verify needs a write job", "--socket", "x",
	    "--verify");
	ERR("--verify with --verify-only", "exclude each other", "--socket", "x",
	    "--rw", "write", "--verify", "--verify-only");
	RUN(&r, "--socket", "/nonexistent/vhu-bench.sock", "--runtime", "1");
	if (!tap_ok(r.status == 1 && strstr(r.err, "cannot connect") && count_lines(r.err) == 1,
		    "bench: a socket nobody listens on is a clear error"))
		tap_diag("status %d, stderr: %s", r.status, r.err);
}

static const char *find_qsd(void)
{
	static const char *const cands[] = { "/usr/bin/qemu-storage-daemon",
					     "/usr/local/bin/qemu-storage-daemon" };

	for (size_t i = 0; i < ARRAY_SIZE(cands); i++)
		if (!access(cands[i], X_OK))
			return cands[i];
	return NULL;
}

static pid_t start_qsd(const char *qsd, const char *img, const char *sock)
{
	char file[400], exp[400];
	pid_t pid;

	snprintf(file, sizeof(file), "driver=file,node-name=f0,filename=%s,aio=threads", img);
	snprintf(exp, sizeof(exp), "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,"
		 "addr.path=%s,writable=on,num-queues=2", sock);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		execl(qsd, qsd, "--blockdev", file, "--export", exp, (char *)NULL);
		_exit(127);
	}
	return pid;
}

static void stop_qsd(pid_t pid)
{
	int st;

	stop_child(pid, 5000, &st);
}

static void against_qsd(void)
{
	char dir[] = "/tmp/vhu-bench-t.XXXXXX", img[256], sock[256], pid_s[32];
	const char *qsd = find_qsd();
	struct run r;
	pid_t pid;
	int fd;

	if (!qsd) {
		tap_ok(true, "bench: # SKIP qemu-storage-daemon not installed");
		return;
	}
	if (!mkdtemp(dir)) {
		tap_ok(false, "bench: temporary directory");
		return;
	}
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(sock, sizeof(sock), "%s/qsd.sock", dir);
	make_file(img, 16 << 20);
	pid = start_qsd(qsd, img, sock);
	snprintf(pid_s, sizeof(pid_s), "%d", (int)pid);

	RUN(&r, "--socket", sock, "--rw", "randwrite", "--bs", "4k", "--iodepth", "8",
	    "--queues", "2", "--verify", "--quiet");
	if (!tap_ok(r.status == 0 && strstr(r.out, "verify: 0 mismatches"),
		    "bench: randwrite verify over 2 queues against qsd passes"))
		tap_diag("status %d\n%s%s", r.status, r.out, r.err);

	/* Flip one sector on the backing file behind the daemon's back. */
	fd = open(img, O_WRONLY);
	if (fd >= 0) {
		char junk[512];

		memset(junk, 0x5a, sizeof(junk));
		if (pwrite(fd, junk, sizeof(junk), (5 << 20) + 3 * 512) != sizeof(junk))
			tap_diag("pwrite failed");
		close(fd);
	}
	RUN(&r, "--socket", sock, "--rw", "read", "--bs", "16k", "--iodepth", "4",
	    "--queues", "2", "--verify-only", "--quiet");
	if (!tap_ok(r.status == 1 && strstr(r.out, "verify: 1 mismatches") &&
		    strstr(r.out, "sector at byte 5244416"),
		    "bench: verify-only catches the corrupted sector and names it"))
		tap_diag("status %d\n%s%s", r.status, r.out, r.err);

	RUN(&r, "--socket", sock, "--rw", "randread", "--iodepth", "4", "--runtime", "1",
	    "--backend-pid", pid_s, "--kthread-prefix", "", "--json");
	if (!tap_ok(r.status == 0 && count_lines(r.out) == 1 && r.out[0] == '{' &&
		    strstr(r.out, "\"iops\":") && strstr(r.out, "\"p99.9\":") &&
		    strstr(r.out, "\"us_per_io\":"),
		    "bench: --json is one object with IOPS, percentiles and CPU per I/O"))
		tap_diag("status %d\n%s%s", r.status, r.out, r.err);

	RUN(&r, "--socket", sock, "--runtime", "1", "--queues", "4", "--quiet");
	if (!tap_ok(r.status == 1 && strstr(r.err, "only 2 queues"),
		    "bench: more queues than the backend has is a clear error"))
		tap_diag("status %d\n%s%s", r.status, r.out, r.err);

	RUN(&r, "--socket", sock, "--runtime", "1", "--size", "1g", "--quiet");
	if (!tap_ok(r.status == 2 && strstr(r.err, "larger than the disk"),
		    "bench: --size beyond the disk is a clear error"))
		tap_diag("status %d\n%s%s", r.status, r.out, r.err);

	stop_qsd(pid);
	unlink(img);
	unlink(sock);
	rmdir(dir);
}

/* The same verify through vhuctl's userspace datapath (no module needed). */
static void against_vhuctl_user(void)
{
	const char *vhuctl = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
	char dir[] = "/tmp/vhu-bench-u.XXXXXX", img[256], sock[256];
	struct run r;
	pid_t pid;

	if (!mkdtemp(dir)) {
		tap_ok(false, "bench: temporary directory");
		return;
	}
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(sock, sizeof(sock), "%s/u.sock", dir);
	make_file(img, 16 << 20);
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 1);
		dup2(null, 2);
		execl(vhuctl, vhuctl, "export", "--datapath", "user", "--socket", sock,
		      "--backing", img, "--queues", "2", (char *)NULL);
		_exit(127);
	}
	RUN(&r, "--socket", sock, "--rw", "write", "--bs", "8k", "--iodepth", "16",
	    "--queues", "2", "--verify", "--quiet");
	if (!tap_ok(r.status == 0 && strstr(r.out, "verify: 0 mismatches"),
		    "bench: write verify over 2 queues against vhuctl --datapath user passes"))
		tap_diag("status %d\n%s%s", r.status, r.out, r.err);
	stop_qsd(pid);	/* SIGTERM, then SIGKILL after 5 s */
	unlink(img);
	unlink(sock);
	rmdir(dir);
}

void t_bench(void)
{
	options();
	against_qsd();
	against_vhuctl_user();
}
