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

/* A backend serving a 16 MiB disk.img on sock, in a directory of its own. */
struct backend {
	struct tmp_dir dir;
	const char *img, *sock, *log;
	pid_t pid;
};

static bool backend_dir(struct backend *b, const char *prefix)
{
	if (!tmp_dir_make(&b->dir, prefix)) {
		tap_ok(false, "bench: temporary directory");
		return false;
	}
	b->img = tmp_file(&b->dir, "disk.img");
	b->sock = tmp_file(&b->dir, "backend.sock");
	b->log = tmp_file(&b->dir, "backend.log");
	b->pid = -1;
	make_file(b->img, 16 << 20);
	return true;
}

/* Its output as diagnostics when a test failed; then it goes. */
static void backend_stop(struct backend *b, bool failed)
{
	int st;

	stop_child(b->pid, 5000, &st);
	if (failed)
		diag_file("backend", b->log, 20);
	tmp_dir_remove(&b->dir);
}

/* A result about run r, with its status and output when it fails. */
static bool run_ok(const struct run *r, bool cond, const char *what)
{
	if (!tap_ok(cond, "bench: %s", what))
		tap_diag("status %d\n%s%s", r->status, r->out, r->err);
	return cond;
}

static void against_qsd(void)
{
	const char *qsd = find_qsd();
	char file[400], exp[400], pid_s[32];
	char *argv[] = { (char *)qsd, "--blockdev", file, "--export", exp, NULL };
	struct backend b;
	bool ok = true;
	struct run r;
	int fd;

	if (!qsd) {
		tap_ok(true, "bench: # SKIP qemu-storage-daemon not installed");
		return;
	}
	if (!backend_dir(&b, "vhu-bench-t"))
		return;
	snprintf(file, sizeof(file), "driver=file,node-name=f0,filename=%s,aio=threads", b.img);
	snprintf(exp, sizeof(exp), "type=vhost-user-blk,id=e0,node-name=f0,addr.type=unix,"
		 "addr.path=%s,writable=on,num-queues=2", b.sock);
	b.pid = spawn(argv, b.log);
	snprintf(pid_s, sizeof(pid_s), "%d", (int)b.pid);

	RUN(&r, "--socket", b.sock, "--rw", "randwrite", "--bs", "4k", "--iodepth", "8",
	    "--queues", "2", "--verify", "--quiet");
	ok &= run_ok(&r, r.status == 0 && strstr(r.out, "verify: 0 mismatches"),
		     "randwrite verify over 2 queues against qsd passes");

	/* Flip one sector on the backing file behind the daemon's back. */
	fd = open(b.img, O_WRONLY);
	if (fd >= 0) {
		char junk[512];

		memset(junk, 0x5a, sizeof(junk));
		if (pwrite(fd, junk, sizeof(junk), (5 << 20) + 3 * 512) != sizeof(junk))
			tap_diag("pwrite failed");
		close(fd);
	}
	RUN(&r, "--socket", b.sock, "--rw", "read", "--bs", "16k", "--iodepth", "4",
	    "--queues", "2", "--verify-only", "--quiet");
	ok &= run_ok(&r, r.status == 1 && strstr(r.out, "verify: 1 mismatches") &&
		     strstr(r.out, "sector at byte 5244416"),
		     "verify-only catches the corrupted sector and names it");

	RUN(&r, "--socket", b.sock, "--rw", "randread", "--iodepth", "4", "--runtime", "1",
	    "--backend-pid", pid_s, "--kthread-prefix", "", "--json");
	ok &= run_ok(&r, r.status == 0 && count_lines(r.out) == 1 && r.out[0] == '{' &&
		     strstr(r.out, "\"iops\":") && strstr(r.out, "\"p99.9\":") &&
		     strstr(r.out, "\"us_per_io\":"),
		     "--json is one object with IOPS, percentiles and CPU per I/O");

	RUN(&r, "--socket", b.sock, "--runtime", "1", "--queues", "4", "--quiet");
	ok &= run_ok(&r, r.status == 1 && strstr(r.err, "only 2 queues"),
		     "more queues than the backend has is a clear error");

	RUN(&r, "--socket", b.sock, "--runtime", "1", "--size", "1g", "--quiet");
	ok &= run_ok(&r, r.status == 2 && strstr(r.err, "larger than the disk"),
		     "--size beyond the disk is a clear error");
	backend_stop(&b, !ok);
}

/* The same verify through vhuctl's userspace datapath (no module needed). */
static void against_vhuctl_user(void)
{
	const char *vhuctl = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
	struct backend b;
	struct run r;
	bool ok;

	if (!backend_dir(&b, "vhu-bench-u"))
		return;
	b.pid = spawn((char *[]){ (char *)vhuctl, "export", "--datapath", "user",
				  "--socket", (char *)b.sock, "--backing", (char *)b.img,
				  "--queues", "2", NULL }, b.log);
	RUN(&r, "--socket", b.sock, "--rw", "write", "--bs", "8k", "--iodepth", "16",
	    "--queues", "2", "--verify", "--quiet");
	ok = run_ok(&r, r.status == 0 && strstr(r.out, "verify: 0 mismatches"),
		    "write verify over 2 queues against vhuctl --datapath user passes");
	backend_stop(&b, !ok);
}

void t_bench(void)
{
	options();
	against_qsd();
	against_vhuctl_user();
}
