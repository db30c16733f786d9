// SPDX-License-Identifier: GPL-2.0
/*
 * Latency histogram, backend CPU time, the progress line and the reports.
 *
 * Histogram: log-linear buckets over nanoseconds, 64 sub-buckets per power
 * of two, so percentiles are within 1/64 (1.6%) of the true value with
 * fixed memory (32 KiB per queue) whatever the run length.
 *
 * Backend CPU: utime+stime of --backend-pid from /proc/PID/stat (the whole
 * thread group: io_uring workers and vhost_task-style workers included), plus
 * every kernel thread (PF_KTHREAD) whose comm starts with --kthread-prefix
 * ("vhu" by default: the vhu module's workers), sampled before and after the
 * run. Kernel threads that exit during the run lose their time; work done in
 * softirq/irq context of other tasks is not attributed.
 */
#include <ctype.h>
#include <dirent.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define PF_KTHREAD_FLAG 0x00200000u

static unsigned int hist_idx(uint64_t v)
{
	unsigned int msb;

	if (v < VB_HIST_SUB)
		return v;
	msb = 63 - __builtin_clzll(v);
	return (msb - 5) * VB_HIST_SUB + ((v >> (msb - 6)) & (VB_HIST_SUB - 1));
}

/* The middle of bucket i. */
static uint64_t hist_val(unsigned int i)
{
	unsigned int e = i / VB_HIST_SUB, sub = i % VB_HIST_SUB;

	if (!e)
		return sub;
	return ((uint64_t)(VB_HIST_SUB + sub) << (e - 1)) + ((1ull << (e - 1)) >> 1);
}

void vb_hist_add(struct vb_hist *h, uint64_t ns)
{
	h->b[hist_idx(ns)]++;
	if (!h->n || ns < h->min)
		h->min = ns;
	if (ns > h->max)
		h->max = ns;
	h->n++;
	h->sum += ns;
}

void vb_hist_merge(struct vb_hist *dst, const struct vb_hist *src)
{
	for (unsigned int i = 0; i < VB_HIST_BUCKETS; i++)
		dst->b[i] += src->b[i];
	if (src->n && (!dst->n || src->min < dst->min))
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
	dst->n += src->n;
	dst->sum += src->sum;
}

uint64_t vb_hist_pct(const struct vb_hist *h, double pct)
{
	uint64_t want = (uint64_t)(h->n * pct / 100.0 + 0.5), seen = 0;

	if (!h->n)
		return 0;
	if (want < 1)
		want = 1;
	for (unsigned int i = 0; i < VB_HIST_BUCKETS; i++) {
		seen += h->b[i];
		if (seen >= want) {
			uint64_t v = hist_val(i);

			return v < h->min ? h->min : v > h->max ? h->max : v;
		}
	}
	return h->max;
}

/* utime+stime and flags of one /proc/PID/stat; -1 if unreadable. */
static int read_stat(int pid, uint64_t *ticks, unsigned int *flags)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	unsigned int fl;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "re");
	if (!f)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	/* Fields 3.. after the comm: state ppid pgrp session tty tpgid flags
	 * minflt cminflt majflt cmajflt utime stime */
	if (!p || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %u %*u %*u %*u %*u %llu %llu",
			 &fl, &ut, &st) != 3)
		return -1;
	*ticks = ut + st;
	if (flags)
		*flags = fl;
	return 0;
}

void vb_cpu_sample(struct vb_cpu *c, const struct vb_opts *o)
{
	size_t plen = strlen(o->kthread_prefix);
	struct dirent *de;
	DIR *d;

	memset(c, 0, sizeof(*c));
	if (o->backend_pid)
		c->backend_ok = !read_stat(o->backend_pid, &c->backend_ticks, NULL);
	if (!plen)
		return;
	d = opendir("/proc");
	if (!d)
		return;
	while ((de = readdir(d))) {
		char path[300], comm[64] = "";
		unsigned int flags;
		uint64_t t;
		int pid;
		FILE *f;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = atoi(de->d_name);
		if (pid == getpid() || (uint64_t)pid == o->backend_pid)
			continue;
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (!fgets(comm, sizeof(comm), f))
			comm[0] = '\0';
		fclose(f);
		if (strncmp(comm, o->kthread_prefix, plen))
			continue;
		if (read_stat(pid, &t, &flags) || !(flags & PF_KTHREAD_FLAG))
			continue;
		c->kthread_ticks += t;
		c->nkthreads++;
	}
	closedir(d);
}

static void totals(struct vb_job *jobs, unsigned int nq, uint64_t *ios, uint64_t *bytes)
{
	*ios = *bytes = 0;
	for (unsigned int q = 0; q < nq; q++) {
		*ios += jobs[q].ios;
		*bytes += jobs[q].bytes;
	}
}

void vb_progress(const struct vb_opts *o, struct vb_job *jobs, double t)
{
	static uint64_t last_ios, last_bytes;
	static double last_t;
	uint64_t ios, bytes;
	double dt;

	totals(jobs, o->queues, &ios, &bytes);
	dt = t - last_t;
	if (dt <= 0)
		return;
	printf("\r[%5.1fs/%llus] %10.0f IOPS %9.1f MB/s  total %llu I/Os   ", t,
	       (unsigned long long)o->runtime, (ios - last_ios) / dt,
	       (bytes - last_bytes) / dt / 1e6, (unsigned long long)ios);
	fflush(stdout);
	last_ios = ios;
	last_bytes = bytes;
	last_t = t;
}

const char *vb_rw_name(enum vb_rw rw)
{
	static const char *const n[] = { "randread", "randwrite", "read", "write" };

	return n[rw];
}

void vb_report(const struct vb_opts *o, struct vb_dev *d, struct vb_job *jobs,
	       double secs, const struct vb_cpu *c0, const struct vb_cpu *c1)
{
	static struct vb_hist h;
	uint64_t ios, bytes, errors = 0, mism = 0, kicks = 0, waits = 0;
	double hz = sysconf(_SC_CLK_TCK), bcpu, kcpu, iops, mbs;
	const char *first = NULL;
	bool have_cpu = o->backend_pid ? c0->backend_ok && c1->backend_ok : false;

	memset(&h, 0, sizeof(h));
	totals(jobs, o->queues, &ios, &bytes);
	for (unsigned int q = 0; q < o->queues; q++) {
		vb_hist_merge(&h, &jobs[q].hist);
		errors += jobs[q].errors;
		mism += jobs[q].mismatches;
		kicks += d->ring[q].kicks;
		waits += jobs[q].waits;
		if (!first && jobs[q].first_mismatch[0])
			first = jobs[q].first_mismatch;
	}
	iops = secs > 0 ? ios / secs : 0;
	mbs = secs > 0 ? bytes / secs / 1e6 : 0;
	bcpu = have_cpu ? (c1->backend_ticks - c0->backend_ticks) / hz : 0;
	kcpu = (c1->kthread_ticks > c0->kthread_ticks ?
		c1->kthread_ticks - c0->kthread_ticks : 0) / hz;
	have_cpu = have_cpu || c1->nkthreads;

	if (o->json) {
		printf("{\"name\":\"%s\",\"rw\":\"%s\",\"bs\":%llu,\"iodepth\":%llu,"
		       "\"queues\":%llu,\"runtime_s\":%.3f,\"event_idx\":%s,"
		       "\"ios\":%llu,\"errors\":%llu,\"iops\":%.1f,\"mb_s\":%.2f,"
		       "\"lat_us\":{\"min\":%.2f,\"mean\":%.2f,\"p50\":%.2f,\"p99\":%.2f,"
		       "\"p99.9\":%.2f,\"max\":%.2f},",
		       o->name ? o->name : "", vb_rw_name(o->rw), (unsigned long long)o->bs,
		       (unsigned long long)o->iodepth, (unsigned long long)o->queues, secs,
		       d->ring[0].event_idx ? "true" : "false",
		       (unsigned long long)ios, (unsigned long long)errors, iops, mbs,
		       h.min / 1e3, h.n ? h.sum / 1e3 / h.n : 0, vb_hist_pct(&h, 50) / 1e3,
		       vb_hist_pct(&h, 99) / 1e3, vb_hist_pct(&h, 99.9) / 1e3, h.max / 1e3);
		if (have_cpu)
			printf("\"cpu\":{\"backend_s\":%.2f,\"kthreads_s\":%.2f,\"kthreads\":%d,"
			       "\"us_per_io\":%.3f},", bcpu, kcpu, c1->nkthreads,
			       ios ? (bcpu + kcpu) * 1e6 / ios : 0);
		if (o->verify || o->verify_only)
			printf("\"verify\":{\"mismatches\":%llu},", (unsigned long long)mism);
		printf("\"kicks\":%llu,\"waits\":%llu}\n", (unsigned long long)kicks,
		       (unsigned long long)waits);
		return;
	}
	printf("%s%s%s bs=%llu iodepth=%llu queues=%llu: %.2f s, event_idx %s\n",
	       o->name ? o->name : "", o->name ? ": " : "", vb_rw_name(o->rw),
	       (unsigned long long)o->bs, (unsigned long long)o->iodepth,
	       (unsigned long long)o->queues, secs, d->ring[0].event_idx ? "on" : "off");
	printf("  %.0f IOPS, %.1f MB/s (%llu I/Os, %llu errors)\n", iops, mbs,
	       (unsigned long long)ios, (unsigned long long)errors);
	printf("  latency us: min %.1f mean %.1f p50 %.1f p99 %.1f p99.9 %.1f max %.1f\n",
	       h.min / 1e3, h.n ? h.sum / 1e3 / h.n : 0, vb_hist_pct(&h, 50) / 1e3,
	       vb_hist_pct(&h, 99) / 1e3, vb_hist_pct(&h, 99.9) / 1e3, h.max / 1e3);
	if (have_cpu && o->backend_pid)
		printf("  backend cpu: %.2f s (pid %llu) + %.2f s (%d '%s*' kernel threads)"
		       " = %.2f us/IO\n", bcpu, (unsigned long long)o->backend_pid, kcpu,
		       c1->nkthreads, o->kthread_prefix, ios ? (bcpu + kcpu) * 1e6 / ios : 0);
	else if (have_cpu)
		printf("  backend cpu: %.2f s (%d '%s*' kernel threads only, no --backend-pid)"
		       " = %.2f us/IO\n", kcpu, c1->nkthreads, o->kthread_prefix,
		       ios ? kcpu * 1e6 / ios : 0);
	printf("  notifications: %llu kicks, %llu waits for a call\n",
	       (unsigned long long)kicks, (unsigned long long)waits);
	if (o->verify || o->verify_only)
		printf("  verify: %llu mismatches%s%s\n", (unsigned long long)mism,
		       first ? ", first: " : "", first ? first : "");
}
