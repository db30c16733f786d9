// SPDX-License-Identifier: GPL-2.0
/*
 * soak-writer: the verifying writer of the crash soak (e2e-blk --kills),
 * run by the nested guest's init on its virtio-blk disks while the host
 * SIGKILLs and restarts the vhost-user backend under it.
 *
 *   soak-writer [-b FIRST] [-n BLOCKS] [-t THREADS] [-f EVERY] [-T SECONDS]
 *               [-x lost|torn] DEV...
 *
 * Every block of BLOCKS 4 KiB blocks from block FIRST of each DEV is
 * rewritten over and over, with O_DIRECT, by THREADS threads per device
 * (each owns a contiguous share of the blocks, so no two writes to one
 * block are ever in flight, and is pinned to a CPU in turn, so every
 * queue carries requests); a write covers 1 to 8 consecutive blocks.
 * Each block carries a header (magic, device, block number, generation)
 * and a payload derived from them, closed by a checksum over the whole
 * block. In memory the writer keeps, per block, the last generation
 * submitted and the last one acknowledged (its write returned in full).
 * Every EVERY writes a thread calls fdatasync(), so a write-back export
 * gets flushes too.
 *
 * It writes until a line "stop" arrives on stdin (the guest's console,
 * which the host writes to) or SECONDS pass, printing "SOAK: progress
 * acked=N per-device=N1,N2..." once a second. Then it reads every block back and checks:
 * the checksum is valid and the header names this block (else torn), the
 * generation is at least the last acknowledged one (else lost) and at
 * most the last submitted one (else phantom). A block never written must
 * still read as zeros. It prints one "SOAK: result" line per device and
 * exits 0 only when every device is clean and no write failed.
 *
 * -x damages one acknowledged block of the first device before the check,
 * the way a backend that loses or tears a write would (an older
 * generation put back, one byte changed): the check must then fail, which
 * shows that it can.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "blkfmt.h"

#define MAX_RUN		8u
#define MAGIC		0x766875736f616b21ull	/* "vhusoak!" */
#define MAX_THREADS	16

struct dev {
	const char *path;
	unsigned int index;
	int fd;
	uint64_t *submitted;	/* per block, written only by its owner */
	uint64_t *acked;
	atomic_ulong writes;	/* requests acknowledged */
	atomic_ulong blocks;	/* blocks acknowledged */
	atomic_ulong errors;	/* requests failed or short */
	atomic_ulong flushes;
};

struct worker {
	pthread_t tid;
	struct dev *dev;
	uint64_t lo, hi;	/* owned blocks, relative to first */
	int cpu;
	atomic_int done;
};

static uint64_t first, nblocks = 1024;
static unsigned int flush_every = 16;
static atomic_int stop;

/* Block @blk (absolute) of device @dev at generation @gen (blkfmt.h). */
static void fill(unsigned char *b, unsigned int dev, uint64_t blk, uint64_t gen)
{
	blk_fill(b, MAGIC, dev, blk, gen);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct dev *d = w->dev;
	uint64_t rnd = 0x2545f4914f6cdd1dull ^ ((uint64_t)d->index << 32) ^ w->lo;
	unsigned char *buf;
	unsigned long n = 0;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(w->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (posix_memalign((void **)&buf, BLK, BLK * MAX_RUN)) {
		atomic_fetch_add(&d->errors, 1);
		atomic_store(&w->done, 1);
		return NULL;
	}
	while (!atomic_load(&stop)) {
		uint64_t span = w->hi - w->lo;
		uint64_t b = w->lo + blk_xorshift(&rnd) % span;
		uint64_t len = 1 + blk_xorshift(&rnd) % MAX_RUN;
		uint64_t i;
		ssize_t r;

		if (len > w->hi - b)
			len = w->hi - b;
		for (i = 0; i < len; i++)
			fill(buf + i * BLK, d->index, first + b + i,
			     ++d->submitted[b + i]);
		r = pwrite(d->fd, buf, len * BLK, (first + b) * BLK);
		if (r != (ssize_t)(len * BLK)) {
			fprintf(stderr, "SOAK: %s: write of %" PRIu64 " blocks at %" PRIu64 ": %s\n",
				d->path, len, first + b,
				r < 0 ? strerror(errno) : "short");
			atomic_fetch_add(&d->errors, 1);
			continue;
		}
		for (i = 0; i < len; i++)
			d->acked[b + i] = d->submitted[b + i];
		atomic_fetch_add(&d->writes, 1);
		atomic_fetch_add(&d->blocks, len);
		if (flush_every && ++n % flush_every == 0) {
			if (fdatasync(d->fd)) {
				fprintf(stderr, "SOAK: %s: fdatasync: %s\n",
					d->path, strerror(errno));
				atomic_fetch_add(&d->errors, 1);
			} else {
				atomic_fetch_add(&d->flushes, 1);
			}
		}
	}
	free(buf);
	atomic_store(&w->done, 1);
	return NULL;
}

/* Reads every block back; 0 when the device is clean. */
static int verify(struct dev *d)
{
	unsigned long lost = 0, torn = 0, phantom = 0, verified = 0, shown = 0;
	unsigned long errors = atomic_load(&d->errors);
	unsigned char *buf;
	uint64_t i;

	if (posix_memalign((void **)&buf, BLK, BLK)) {
		printf("SOAK: %s: out of memory\n", d->path);
		return 1;
	}
	for (i = 0; i < nblocks; i++) {
		uint64_t blk = first + i;
		struct blk_hdr h;
		const char *what = NULL;

		if (pread(d->fd, buf, BLK, blk * BLK) != BLK) {
			printf("SOAK: %s: read of block %" PRIu64 " failed\n", d->path, blk);
			errors++;
			continue;
		}
		switch (blk_check(buf, MAGIC, d->index, blk, &h)) {
		case BLK_ZERO:
			h.gen = 0;	/* never written */
			break;
		case BLK_TORN:
			what = "torn";
			torn++;
			break;
		case BLK_OK:
			break;
		}
		if (!what && h.gen < d->acked[i]) {
			what = "lost";
			lost++;
		} else if (!what && h.gen > d->submitted[i]) {
			what = "phantom";
			phantom++;
		} else if (!what && d->submitted[i]) {
			verified++;
		}
		if (what && shown++ < 10)
			printf("SOAK: %s: block %" PRIu64 " %s: read gen %" PRIu64
			       " (magic %s, block %" PRIu64 "), acked %" PRIu64
			       ", submitted %" PRIu64 "\n", d->path, blk, what,
			       h.gen, h.magic == MAGIC ? "ok" : "bad", h.block,
			       d->acked[i], d->submitted[i]);
	}
	printf("SOAK: result %s: writes=%lu blocks=%lu flushes=%lu verified=%lu lost=%lu torn=%lu phantom=%lu errors=%lu\n",
	       d->path, atomic_load(&d->writes), atomic_load(&d->blocks),
	       atomic_load(&d->flushes), verified, lost, torn, phantom, errors);
	free(buf);
	return lost || torn || phantom || errors || !verified;
}

/* -x: one acknowledged block of @d made lost or torn. */
static int damage(struct dev *d, const char *how)
{
	unsigned char *buf;
	uint64_t i;

	for (i = 0; i < nblocks && !d->acked[i]; i++)
		;
	if (i == nblocks || posix_memalign((void **)&buf, BLK, BLK))
		return 1;
	if (!strcmp(how, "lost")) {
		memset(buf, 0, BLK);
		if (d->acked[i] > 1)
			fill(buf, d->index, first + i, d->acked[i] - 1);
	} else {
		if (pread(d->fd, buf, BLK, (first + i) * BLK) != BLK)
			return 1;
		buf[BLK / 2] ^= 1;
	}
	if (pwrite(d->fd, buf, BLK, (first + i) * BLK) != BLK)
		return 1;
	printf("SOAK: %s: block %" PRIu64 " damaged (%s) for the check's own test\n",
	       d->path, first + i, how);
	free(buf);
	return 0;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void usage(void)
{
	fprintf(stderr, "usage: soak-writer [-b FIRST] [-n BLOCKS] [-t THREADS] [-f EVERY] [-T SECONDS]\n"
		"                   [-x lost|torn] DEV...\n");
	exit(2);
}

int main(int argc, char **argv)
{
	unsigned int threads = 2, ndev, i, j, nw = 0, seconds = 3600;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct worker *w;
	struct dev *devs;
	double t0, last;
	const char *inject = NULL;
	char line[64];
	size_t got = 0;
	int opt, ret = 0, stuck = 0, in = 0;

	while ((opt = getopt(argc, argv, "b:n:t:f:T:x:")) != -1) {
		switch (opt) {
		case 'b': first = strtoull(optarg, NULL, 0); break;
		case 'n': nblocks = strtoull(optarg, NULL, 0); break;
		case 't': threads = strtoul(optarg, NULL, 0); break;
		case 'f': flush_every = strtoul(optarg, NULL, 0); break;
		case 'T': seconds = strtoul(optarg, NULL, 0); break;
		case 'x': inject = optarg; break;
		default: usage();
		}
	}
	ndev = argc - optind;
	if (!ndev || !threads || threads > MAX_THREADS || nblocks < threads ||
	    (inject && strcmp(inject, "lost") && strcmp(inject, "torn")))
		usage();
	if (ncpu < 1)
		ncpu = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	devs = calloc(ndev, sizeof(*devs));
	w = calloc((size_t)ndev * threads, sizeof(*w));
	if (!devs || !w)
		return 1;
	for (i = 0; i < ndev; i++) {
		struct dev *d = &devs[i];

		d->path = argv[optind + i];
		d->index = i;
		d->fd = open(d->path, O_RDWR | O_DIRECT);
		/* A file where O_DIRECT is not supported: the -x test's. */
		if (d->fd < 0 && errno == EINVAL)
			d->fd = open(d->path, O_RDWR);
		d->submitted = calloc(nblocks, sizeof(uint64_t));
		d->acked = calloc(nblocks, sizeof(uint64_t));
		if (d->fd < 0 || !d->submitted || !d->acked) {
			printf("SOAK: %s: %s\n", d->path, strerror(errno));
			return 1;
		}
		for (j = 0; j < threads; j++) {
			struct worker *x = &w[nw];

			x->dev = d;
			x->lo = nblocks * j / threads;
			x->hi = nblocks * (j + 1) / threads;
			x->cpu = nw % ncpu;
			if (pthread_create(&x->tid, NULL, work, x)) {
				printf("SOAK: cannot start a thread\n");
				return 1;
			}
			nw++;
		}
	}
	printf("SOAK: begin: %u device(s), %u thread(s) each, blocks %" PRIu64
	       "..%" PRIu64 " of 4 KiB\n", ndev, threads, first, first + nblocks - 1);

	/* Until "stop" on stdin (or SECONDS), progress once a second. */
	t0 = last = now();
	while (now() - t0 < seconds) {
		struct pollfd p = { .fd = in, .events = POLLIN };
		unsigned long acked = 0;

		if (poll(&p, 1, 200) > 0) {
			ssize_t r = read(0, line + got, sizeof(line) - 1 - got);

			if (r <= 0) {
				in = -1;	/* no input: run for SECONDS */
				continue;
			}
			got += r;
			line[got] = 0;
			if (strstr(line, "stop"))
				break;
			if (got > sizeof(line) / 2) {
				memmove(line, line + got - 8, 8);
				got = 8;
			}
		}
		if (now() - last >= 1) {
			char per[16 * 24] = "", *e = per;

			last = now();
			for (i = 0; i < ndev; i++) {
				unsigned long n = atomic_load(&devs[i].writes);

				acked += n;
				if (e < per + sizeof(per) - 24)
					e += sprintf(e, "%s%lu", i ? "," : "", n);
			}
			printf("SOAK: progress acked=%lu per-device=%s\n", acked, per);
		}
	}
	atomic_store(&stop, 1);
	/*
	 * Each thread finishes its write in flight. One that never returns
	 * (the frontend never got its request back) fails the run, bounded.
	 */
	for (i = 0; i < nw; i++) {
		t0 = now();
		while (!atomic_load(&w[i].done) && now() - t0 < 120)
			usleep(10000);
		if (!atomic_load(&w[i].done)) {
			printf("SOAK: %s: a write never completed\n", w[i].dev->path);
			stuck = 1;
		}
	}
	if (stuck)
		return 1;
	for (i = 0; i < nw; i++)
		pthread_join(w[i].tid, NULL);
	if (inject && damage(&devs[0], inject)) {
		printf("SOAK: %s: cannot damage a block\n", devs[0].path);
		return 1;
	}
	for (i = 0; i < ndev; i++) {
		if (fdatasync(devs[i].fd))
			printf("SOAK: %s: final fdatasync: %s\n", devs[i].path, strerror(errno));
		ret |= verify(&devs[i]);
	}
	return ret;
}
