/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhu-bench: a vhost-user-blk frontend load generator.
 *
 * One file per concern:
 *   main.c   option table, parsing, the run
 *   setup.c  guest memory and QEMU-like negotiation with the backend
 *   job.c    one thread per queue: the I/O pattern, verify tags, its ring
 *            (tools/lib/vring.c: EVENT_IDX, kick/call eventfds)
 *   stats.c  latency histogram, backend CPU time, progress and reports
 */
#ifndef VHU_BENCH_H
#define VHU_BENCH_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vring.h"
#include "vu_frontend.h"

#define VB_MAX_QUEUES	16
#define VB_MAX_DEPTH	256
#define VB_EXIT_USAGE	2	/* bad options */
#define VB_EXIT_FAIL	1	/* backend/protocol failure, verify mismatch */

enum vb_rw { VB_RANDREAD, VB_RANDWRITE, VB_READ, VB_WRITE };

struct vb_opts {
	const char *socket;
	enum vb_rw rw;
	uint64_t bs;
	uint64_t iodepth;
	uint64_t queues;
	uint64_t runtime;	/* seconds */
	uint64_t size;		/* bytes of the disk to use, 0 = all */
	uint64_t seed;
	uint64_t backend_pid;
	const char *kthread_prefix;
	const char *name;
	bool verify;
	bool verify_only;
	bool json;
	bool poll;
	bool no_event_idx;
	bool quiet;
};

/* ---- latency histogram (stats.c) ------------------------------------- */
#define VB_HIST_SUB	64	/* linear sub-buckets per power of two */
#define VB_HIST_BUCKETS	(64 * VB_HIST_SUB)
struct vb_hist {
	uint64_t b[VB_HIST_BUCKETS];
	uint64_t n, sum, min, max;
};
void vb_hist_add(struct vb_hist *h, uint64_t ns);
void vb_hist_merge(struct vb_hist *dst, const struct vb_hist *src);
uint64_t vb_hist_pct(const struct vb_hist *h, double pct);

/* ---- the device (setup.c) -------------------------------------------- */
struct vb_dev {
	struct vf vf;
	uint64_t features;		/* virtio features acked */
	uint64_t capacity;		/* bytes */
	uint32_t num;			/* ring size */
	size_t ring_bytes;		/* one queue's ring, page aligned parts */
	unsigned int nq;
	int memfd;
	uint8_t *mem;
	uint64_t mem_size;
	uint64_t mem_ua;		/* == (uintptr_t)mem; GPA 0 */
	int inflight_fd;
	struct vr ring[VB_MAX_QUEUES];	/* at mem + q * ring_bytes */
	uint8_t *qmem[VB_MAX_QUEUES];	/* per queue buffers after the rings */
	uint64_t qmem_gpa[VB_MAX_QUEUES];
};
int vb_dev_open(struct vb_dev *d, const struct vb_opts *o, char *err, size_t errlen);
void vb_dev_close(struct vb_dev *d);
/* Per-queue buffer bytes: headers, statuses and data for iodepth slots. */
uint64_t vb_qmem_bytes(const struct vb_opts *o);

/* ---- jobs (job.c) ---------------------------------------------------- */
struct vb_job {
	pthread_t th;
	struct vb_dev *d;
	const struct vb_opts *o;
	unsigned int q;
	uint64_t first_blk, nblk;	/* this queue's slice of the disk */
	volatile uint64_t ios, bytes;	/* read by the progress line */
	uint64_t errors, mismatches;
	char first_mismatch[160];
	struct vb_hist hist;
	uint64_t waits;			/* waits for a call */
	int failed;			/* protocol failure: -errno */
};
extern volatile int vb_stop;
void *vb_job_run(void *arg);

/* ---- CPU accounting and reports (stats.c) ---------------------------- */
struct vb_cpu {
	uint64_t backend_ticks;		/* utime+stime, whole process */
	uint64_t kthread_ticks;		/* kernel threads matching the prefix */
	int nkthreads;
	bool backend_ok;
};
void vb_cpu_sample(struct vb_cpu *c, const struct vb_opts *o);
void vb_progress(const struct vb_opts *o, struct vb_job *jobs, double t);
void vb_report(const struct vb_opts *o, struct vb_dev *d, struct vb_job *jobs,
	       double secs, const struct vb_cpu *c0, const struct vb_cpu *c1);

const char *vb_rw_name(enum vb_rw rw);
uint64_t vb_now_ns(void);

#endif
