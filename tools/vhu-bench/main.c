// SPDX-License-Identifier: GPL-2.0
/*
 * vhu-bench: connect to a vhost-user-blk socket as a frontend (like QEMU),
 * run one fio-like job and report IOPS, bandwidth, latency percentiles and
 * the backend's CPU time per I/O. See `vhu-bench --help` and
 * Documentation/performance.rst.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "util.h"

enum opt_type { O_STR, O_U64, O_SIZE, O_BOOL, O_RW };

struct opt {
	const char *name;
	enum opt_type type;
	size_t off;
	uint64_t min, max;	/* O_U64/O_SIZE */
	const char *help;
};

#define F(x) offsetof(struct vb_opts, x)
static const struct opt opts[] = {
	{ "socket", O_STR, F(socket), 0, 0, "PATH  vhost-user-blk socket (required)" },
	{ "rw", O_RW, F(rw), 0, 0, "randread|randwrite|read|write (randread)" },
	{ "bs", O_SIZE, F(bs), 512, 1 << 20, "SIZE  block size, multiple of 512 (4k)" },
	{ "iodepth", O_U64, F(iodepth), 1, VB_MAX_DEPTH, "N  requests in flight per queue (1)" },
	{ "queues", O_U64, F(queues), 1, VB_MAX_QUEUES, "N  queues, one thread each (1)" },
	{ "runtime", O_U64, F(runtime), 1, 86400, "SEC  run time (5)" },
	{ "size", O_SIZE, F(size), 0, UINT64_MAX, "SIZE  bytes of the disk to use (all)" },
	{ "seed", O_U64, F(seed), 0, UINT64_MAX, "N  random and verify seed (1)" },
	{ "verify", O_BOOL, F(verify), 0, 0,
	  "write every block of --size once with tags, read back, check" },
	{ "verify-only", O_BOOL, F(verify_only), 0, 0,
	  "only read back and check what a --verify run wrote" },
	{ "backend-pid", O_U64, F(backend_pid), 1, 1 << 22,
	  "PID  backend process, for CPU time per I/O" },
	{ "kthread-prefix", O_STR, F(kthread_prefix), 0, 0,
	  "STR  also count kernel threads named STR* (vhu; '' for none)" },
	{ "poll", O_BOOL, F(poll), 0, 0, "busy-poll the used rings instead of waiting for calls" },
	{ "no-event-idx", O_BOOL, F(no_event_idx), 0, 0, "do not negotiate EVENT_IDX" },
	{ "name", O_STR, F(name), 0, 0, "STR  label for the report" },
	{ "json", O_BOOL, F(json), 0, 0, "one JSON object on stdout" },
	{ "quiet", O_BOOL, F(quiet), 0, 0, "no progress line" },
};
#undef F

static void usage(FILE *f)
{
	fprintf(f, "usage: vhu-bench --socket PATH [options]\n\n"
		   "A vhost-user-blk frontend load generator.\n\n");
	for (size_t i = 0; i < ARRAY_SIZE(opts); i++)
		fprintf(f, "  --%-15s %s\n", opts[i].name, opts[i].help);
	fprintf(f, "  --%-15s %s\n", "help", "this text");
	fprintf(f, "\nSIZE takes k, m, g suffixes (powers of 1024). Exit status: 0 ok,\n"
		   "1 failure (backend, I/O errors, verify mismatches), 2 bad options.\n");
}

static int bad(const char *name, const char *fmt, const char *val)
{
	fprintf(stderr, "vhu-bench: --%s: ", name);
	fprintf(stderr, fmt, val);
	fputc('\n', stderr);
	return -1;
}

static int parse_num(const struct opt *op, const char *v, uint64_t *out)
{
	unsigned long long n;
	char *end;

	if (!*v || *v == '-')
		return bad(op->name, "'%s' is not a number", v);
	errno = 0;
	n = strtoull(v, &end, 0);
	if (errno || end == v)
		return bad(op->name, "'%s' is not a number", v);
	if (op->type == O_SIZE && *end) {
		int sh = strchr("kK", *end) ? 10 : strchr("mM", *end) ? 20 :
			 strchr("gG", *end) ? 30 : strchr("tT", *end) ? 40 : -1;

		if (sh < 0 || (end[1] && strcmp(end + 1, "iB") && strcmp(end + 1, "B")))
			return bad(op->name, "'%s': unknown size suffix", v);
		if (n > (UINT64_MAX >> sh))
			return bad(op->name, "'%s' is too large", v);
		n <<= sh;
	} else if (*end) {
		return bad(op->name, "'%s' is not a number", v);
	}
	if (n < op->min || n > op->max) {
		fprintf(stderr, "vhu-bench: --%s: %s is out of range %" PRIu64 "..%" PRIu64 "\n",
			op->name, v, op->min, op->max);
		return -1;
	}
	*out = n;
	return 0;
}

static int parse(int argc, char **argv, struct vb_opts *o)
{
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL, *eq;
		const struct opt *op = NULL;
		size_t len;

		if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			exit(0);
		}
		if (strncmp(a, "--", 2)) {
			fprintf(stderr, "vhu-bench: unexpected argument '%s' (try --help)\n", a);
			return -1;
		}
		a += 2;
		eq = strchr(a, '=');
		len = eq ? (size_t)(eq - a) : strlen(a);
		for (size_t k = 0; k < ARRAY_SIZE(opts); k++)
			if (strlen(opts[k].name) == len && !strncmp(opts[k].name, a, len))
				op = &opts[k];
		if (!op) {
			fprintf(stderr, "vhu-bench: unknown option '--%.*s' (try --help)\n",
				(int)len, a);
			return -1;
		}
		if (op->type == O_BOOL) {
			if (eq)
				return bad(op->name, "takes no value (got '%s')", eq + 1);
			*(bool *)((char *)o + op->off) = true;
			continue;
		}
		if (eq)
			val = eq + 1;
		else if (i + 1 < argc)
			val = argv[++i];
		else
			return bad(op->name, "needs a value%s", "");
		switch (op->type) {
		case O_STR:
			*(const char **)((char *)o + op->off) = val;
			break;
		case O_U64:
		case O_SIZE:
			if (parse_num(op, val, (uint64_t *)((char *)o + op->off)))
				return -1;
			break;
		case O_RW: {
			int k;

			for (k = 0; k < 4 && strcmp(val, vb_rw_name(k)); k++)
				;
			if (k == 4)
				return bad(op->name, "'%s' is not randread, randwrite, read or write",
					   val);
			o->rw = k;
			break;
		}
		default:
			break;
		}
	}
	if (!o->socket) {
		fprintf(stderr, "vhu-bench: --socket is required (try --help)\n");
		return -1;
	}
	if (o->bs % 512) {
		fprintf(stderr, "vhu-bench: --bs: %" PRIu64 " is not a multiple of 512\n", o->bs);
		return -1;
	}
	if (o->verify && o->verify_only) {
		fprintf(stderr, "vhu-bench: --verify and --verify-only exclude each other\n");
		return -1;
	}
	if (o->verify && (o->rw == VB_RANDREAD || o->rw == VB_READ)) {
		fprintf(stderr, "vhu-bench: --verify needs a write job (--rw write or randwrite)\n");
		return -1;
	}
	return 0;
}

static void on_signal(int sig)
{
	(void)sig;
	vb_stop = 1;
}

int main(int argc, char **argv)
{
	struct vb_opts o = {
		.rw = VB_RANDREAD, .bs = 4096, .iodepth = 1, .queues = 1, .runtime = 5,
		.seed = 1, .kthread_prefix = "vhu",
	};
	static struct vb_job jobs[VB_MAX_QUEUES];
	struct vb_cpu c0, c1;
	struct vb_dev d;
	char err[256];
	uint64_t t0, nblk, per;
	bool progress;
	double secs;
	int rc = 0;

	if (parse(argc, argv, &o))
		return VB_EXIT_USAGE;
	progress = !o.json && !o.quiet && isatty(1);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	if (vb_dev_open(&d, &o, err, sizeof(err))) {
		fprintf(stderr, "vhu-bench: %s\n", err);
		return VB_EXIT_FAIL;
	}
	if (o.size > d.capacity) {
		fprintf(stderr, "vhu-bench: --size %" PRIu64 " is larger than the disk (%" PRIu64
			" bytes)\n", o.size, d.capacity);
		vb_dev_close(&d);
		return VB_EXIT_USAGE;
	}
	nblk = (o.size ? o.size : d.capacity) / o.bs;
	per = nblk / o.queues;
	if (!per) {
		fprintf(stderr, "vhu-bench: the disk (%" PRIu64 " bytes) has fewer than %" PRIu64
			" blocks of %" PRIu64 " bytes\n", d.capacity, o.queues, o.bs);
		vb_dev_close(&d);
		return VB_EXIT_USAGE;
	}
	vb_cpu_sample(&c0, &o);
	t0 = vb_now_ns();
	for (unsigned int q = 0; q < o.queues; q++) {
		jobs[q] = (struct vb_job){ .d = &d, .o = &o, .q = q,
					   .first_blk = q * per, .nblk = per };
		if (pthread_create(&jobs[q].th, NULL, vb_job_run, &jobs[q])) {
			fprintf(stderr, "vhu-bench: cannot start a thread\n");
			vb_stop = 1;
			o.queues = q;
			rc = VB_EXIT_FAIL;
			break;
		}
	}
	/* Verify runs until every block is checked; the others for --runtime. */
	if (!o.verify && !o.verify_only) {
		for (uint64_t ms = 0; !vb_stop && ms < o.runtime * 1000; ms += 100) {
			usleep(100000);
			if (progress && ms % 1000 == 900)
				vb_progress(&o, jobs, (vb_now_ns() - t0) / 1e9);
		}
		vb_stop = 1;
	}
	for (unsigned int q = 0; q < o.queues; q++)
		pthread_join(jobs[q].th, NULL);
	secs = (vb_now_ns() - t0) / 1e9;
	vb_cpu_sample(&c1, &o);
	if (progress)
		printf("\r%78s\r", "");
	for (unsigned int q = 0; q < o.queues; q++) {
		if (jobs[q].failed) {
			fprintf(stderr, "vhu-bench: queue %u: %s\n", q,
				jobs[q].failed == -ETIMEDOUT ?
				"the backend did not complete requests within 10 s" :
				strerror(-jobs[q].failed));
			rc = VB_EXIT_FAIL;
		}
		if (jobs[q].errors || jobs[q].mismatches)
			rc = VB_EXIT_FAIL;
	}
	if (o.backend_pid && !c0.backend_ok)
		fprintf(stderr, "vhu-bench: --backend-pid %" PRIu64 ": cannot read its /proc stat\n",
			o.backend_pid);
	vb_report(&o, &d, jobs, secs, &c0, &c1);
	vb_dev_close(&d);
	return rc;
}
