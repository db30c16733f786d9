// SPDX-License-Identifier: GPL-2.0
/*
 * mig-io: the guest's side of the live-migration test (e2e-migrate). It
 * runs in the migrated guest and proves that every page the vhost-user
 * backend wrote into guest memory during the migration reached the
 * destination, which only the backend's dirty log can make happen: QEMU
 * sees the guest CPU's writes, never the backend's.
 *
 *   mig-io -g [-b FIRST] [-n BLOCKS] FILE
 *   mig-io [-b FIRST] [-n BLOCKS] [-w WFIRST] [-m WBLOCKS] [-s SLOTS]
 *          [-t THREADS] [-T SECONDS] [-x stale|lost] DEV
 *
 * -g writes, on the host, BLOCKS self-identifying 4 KiB blocks from block
 * FIRST of FILE (blkfmt.h, soak-writer's format: a header with magic and
 * block number, a payload derived from it, a checksum).
 *
 * Otherwise THREADS reader threads read those blocks, chosen at random,
 * with O_DIRECT straight into the slots of a buffer of SLOTS 4 KiB pages
 * (each thread owns a share of the slots and fills them in turn); after
 * each read the thread checks the slot holds the block it asked for and
 * notes the block in a table, which only the CPU writes. The buffer's
 * pages are written by the device alone. One writer thread rewrites the
 * WBLOCKS blocks from block WFIRST in turn with O_DIRECT, each with a
 * header (magic, block, generation), a derived payload and a checksum
 * (blkfmt.h), and remembers
 * per block the generation of its last acknowledged write.
 *
 * It runs until a line "stop" arrives on stdin (the guest's console: the
 * host writes it to the destination's console after the switch) or
 * SECONDS pass, printing "MIG: progress reads=N writes=N" once a second.
 * A line "phase NAME" starts a new phase of the I/O figures: at the end
 * one "MIG: phase NAME secs=S reads=N writes=N" line per phase (the
 * guest's own clock, which stands still while the VM is stopped).
 *
 * Then it checks every slot against the table (a slot holding another
 * block than the table says is stale: a device write to guest memory
 * that the migration lost) and reads back every written block (its
 * generation must be the last acknowledged one: else lost; its contents
 * must match its header: else torn), prints "MIG: result ..." and exits 0
 * only when nothing is stale, lost or torn and no I/O failed.
 *
 * -x damages the state before the check as a lost device write would: a
 * slot gets the contents of another block (stale), or a written block its
 * previous generation (lost). The check must then fail, which shows that
 * it can.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "blkfmt.h"

#define RMAGIC		0x76687572656164ull	/* "vhuread" */
#define WMAGIC		0x7668757772697465ull	/* "vhuwrite" */
#define MAX_THREADS	16
#define MAX_PHASES	8
#define NO_BLOCK	UINT64_MAX

static uint64_t rfirst = 16384, rblocks = 4096, wfirst = 8192, wblocks = 1024;
static unsigned int nslots = 2048, nthreads = 2;
static int fd;
static unsigned char *slots;
static uint64_t *table;		/* per slot: the block it holds */
static uint64_t *acked;		/* per written block: generation acknowledged */
static atomic_int stop;
static atomic_ulong reads, writes, bad_reads, errors;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t mix(uint64_t x)
{
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ull;
	return x ^ (x >> 33);
}

/* A block's contents (blkfmt.h, device 0). */
static void fill(void *p, uint64_t magic, uint64_t block, uint64_t gen)
{
	blk_fill(p, magic, 0, block, gen);
}

/* 1 if p holds exactly what fill() put there. */
static int holds(const void *p, uint64_t magic, uint64_t block, uint64_t gen)
{
	struct blk_hdr h;

	return blk_check(p, magic, 0, block, &h) == BLK_OK && h.gen == gen;
}

static int xfer(int write, void *buf, uint64_t block)
{
	ssize_t r = write ? pwrite(fd, buf, BLK, block * BLK) :
			    pread(fd, buf, BLK, block * BLK);

	if (r == BLK)
		return 0;
	atomic_fetch_add(&errors, 1);
	printf("MIG: %s of block %" PRIu64 ": %s\n", write ? "write" : "read",
	       block, r < 0 ? strerror(errno) : "short");
	return -1;
}

struct reader {
	pthread_t tid;
	unsigned int lo, hi;	/* owned slots */
	uint64_t seed;
};

static void *reader(void *arg)
{
	struct reader *r = arg;
	unsigned int s = r->lo;

	while (!atomic_load(&stop)) {
		uint64_t b;
		unsigned char *p = slots + (size_t)s * BLK;

		r->seed = mix(r->seed + 1);
		b = rfirst + r->seed % rblocks;
		table[s] = NO_BLOCK;
		if (xfer(0, p, b))
			break;
		if (!holds(p, RMAGIC, b, 0)) {
			atomic_fetch_add(&bad_reads, 1);
			printf("MIG: read of block %" PRIu64 " into slot %u returned other data\n", b, s);
		} else {
			table[s] = b;
		}
		atomic_fetch_add(&reads, 1);
		if (++s == r->hi)
			s = r->lo;
	}
	return NULL;
}

static void *writer(void *arg)
{
	unsigned char *buf = arg;
	uint64_t i = 0;

	while (!atomic_load(&stop)) {
		uint64_t b = i % wblocks, gen = acked[b] + 1;

		fill(buf, WMAGIC, wfirst + b, gen);
		if (xfer(1, buf, wfirst + b))
			break;
		acked[b] = gen;
		atomic_fetch_add(&writes, 1);
		i++;
	}
	return NULL;
}

/* A lost device write, as -x asks: 0 once done. */
static int damage(const char *what, unsigned char *buf)
{
	if (!strcmp(what, "stale")) {
		/* The slot keeps what an earlier read had put there. */
		for (unsigned int s = 0; s < nslots; s++) {
			uint64_t b = table[s];

			if (b == NO_BLOCK)
				continue;
			b = rfirst + (b - rfirst + 1) % rblocks;
			fill(slots + (size_t)s * BLK, RMAGIC, b, 0);
			printf("MIG: damaged: slot %u now holds block %" PRIu64 ", the table says %" PRIu64 "\n",
			       s, b, table[s]);
			return 0;
		}
		return -1;
	}
	for (uint64_t b = 0; b < wblocks; b++) {
		if (acked[b] < 1)
			continue;
		fill(buf, WMAGIC, wfirst + b, acked[b] - 1);
		if (xfer(1, buf, wfirst + b))
			return -1;
		printf("MIG: damaged: block %" PRIu64 " put back to generation %" PRIu64 "\n",
		       wfirst + b, acked[b] - 1);
		return 0;
	}
	return -1;
}

static void generate(const char *path)
{
	unsigned char *buf = aligned_alloc(BLK, BLK);

	fd = open(path, O_WRONLY);
	if (fd < 0 || !buf) {
		printf("MIG: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	for (uint64_t b = rfirst; b < rfirst + rblocks; b++) {
		fill(buf, RMAGIC, b, 0);
		if (xfer(1, buf, b))
			exit(1);
	}
	if (fsync(fd))
		exit(1);
	exit(0);
}

/*
 * -y: two processes per CPU, pinned, that yield to each other when the
 * CPU would otherwise idle, so that every CPU switches address spaces
 * all the time (see e2e-migrate: QEMU
 * 7.2's TCG loses guest writes made through its TLB entries across a
 * migration's dirty-bitmap sync; a switch flushes them).
 */
static void start_yielders(void)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	for (long c = 0; c < ncpu * 2; c++) {
		cpu_set_t set;
		pid_t pid = fork();

		if (pid < 0) {
			printf("MIG: fork: %s\n", strerror(errno));
			exit(1);
		}
		if (pid)
			continue;
		struct sched_param sp = { 0 };

		prctl(PR_SET_PDEATHSIG, SIGKILL);
		/* Only where the CPU would idle: the I/O goes first. */
		sched_setscheduler(0, SCHED_IDLE, &sp);
		CPU_ZERO(&set);
		CPU_SET(c / 2, &set);
		sched_setaffinity(0, sizeof(set), &set);
		for (;;)
			sched_yield();
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: mig-io -g [-b FIRST] [-n BLOCKS] FILE\n"
		"       mig-io [-b FIRST] [-n BLOCKS] [-w WFIRST] [-m WBLOCKS] [-s SLOTS]\n"
		"              [-t THREADS] [-T SECONDS] [-x stale|lost] [-y] DEV\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct reader rd[MAX_THREADS];
	const char *inject = NULL, *phase_name[MAX_PHASES] = { "before" };
	unsigned long phase_reads[MAX_PHASES + 1], phase_writes[MAX_PHASES + 1];
	double phase_t[MAX_PHASES + 1], t0, last;
	unsigned int seconds = 600, nphase = 1, stale = 0, checked = 0;
	unsigned long lost = 0, torn = 0, verified = 0;
	unsigned char *wbuf;
	char line[256];
	size_t got = 0;
	int opt, gen = 0, in = 0, ret, yielders = 0;
	pthread_t wt;

	while ((opt = getopt(argc, argv, "gb:n:w:m:s:t:T:x:y")) != -1) {
		switch (opt) {
		case 'g': gen = 1; break;
		case 'b': rfirst = strtoull(optarg, NULL, 0); break;
		case 'n': rblocks = strtoull(optarg, NULL, 0); break;
		case 'w': wfirst = strtoull(optarg, NULL, 0); break;
		case 'm': wblocks = strtoull(optarg, NULL, 0); break;
		case 's': nslots = strtoul(optarg, NULL, 0); break;
		case 't': nthreads = strtoul(optarg, NULL, 0); break;
		case 'T': seconds = strtoul(optarg, NULL, 0); break;
		case 'x': inject = optarg; break;
		case 'y': yielders = 1; break;
		default: usage();
		}
	}
	if (optind != argc - 1 || !rblocks || !wblocks || !nthreads ||
	    nthreads > MAX_THREADS || nslots < nthreads ||
	    (inject && strcmp(inject, "stale") && strcmp(inject, "lost")))
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (gen)
		generate(argv[optind]);

	fd = open(argv[optind], O_RDWR | O_DIRECT);
	/* A file where O_DIRECT is not supported: the -x test's. */
	if (fd < 0 && errno == EINVAL)
		fd = open(argv[optind], O_RDWR);
	slots = mmap(NULL, (size_t)nslots * BLK, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	table = malloc(nslots * sizeof(*table));
	acked = calloc(wblocks, sizeof(*acked));
	wbuf = aligned_alloc(BLK, BLK);
	if (fd < 0 || slots == MAP_FAILED || !table || !acked || !wbuf) {
		printf("MIG: %s: %s\n", argv[optind], strerror(errno));
		return 1;
	}
	/* The slots' pages are there, so every later write is the device's. */
	memset(slots, 0, (size_t)nslots * BLK);
	for (unsigned int s = 0; s < nslots; s++)
		table[s] = NO_BLOCK;

	if (yielders)
		start_yielders();
	for (unsigned int i = 0; i < nthreads; i++) {
		rd[i].lo = nslots * i / nthreads;
		rd[i].hi = nslots * (i + 1) / nthreads;
		rd[i].seed = mix(i + 1 + (uint64_t)time(NULL));
		if (pthread_create(&rd[i].tid, NULL, reader, &rd[i])) {
			printf("MIG: cannot start a thread\n");
			return 1;
		}
	}
	if (pthread_create(&wt, NULL, writer, wbuf)) {
		printf("MIG: cannot start a thread\n");
		return 1;
	}
	printf("MIG: begin: %u reader thread(s) into %u slots of 4 KiB from blocks %" PRIu64
	       "..%" PRIu64 ", one writer on blocks %" PRIu64 "..%" PRIu64 "\n",
	       nthreads, nslots, rfirst, rfirst + rblocks - 1, wfirst, wfirst + wblocks - 1);

	t0 = last = phase_t[0] = now();
	phase_reads[0] = phase_writes[0] = 0;
	while (now() - t0 < seconds) {
		struct pollfd p = { .fd = in, .events = POLLIN };
		char *nl;

		if (poll(&p, 1, 100) > 0) {
			ssize_t r = read(0, line + got, sizeof(line) - 1 - got);

			if (r <= 0) {
				in = -1;	/* no input: run for SECONDS */
				continue;
			}
			got += r;
			line[got] = 0;
			while ((nl = strpbrk(line, "\r\n"))) {
				*nl = 0;
				if (!strncmp(line, "phase ", 6) && nphase < MAX_PHASES) {
					phase_name[nphase] = strdup(line + 6);
					phase_t[nphase] = now();
					phase_reads[nphase] = atomic_load(&reads);
					phase_writes[nphase] = atomic_load(&writes);
					printf("MIG: phase %s begins\n", line + 6);
					nphase++;
				} else if (!strcmp(line, "stop")) {
					goto stopped;
				}
				got -= nl + 1 - line;
				memmove(line, nl + 1, got + 1);
			}
			if (got > sizeof(line) / 2)
				got = 0;
		}
		if (now() - last >= 1) {
			last = now();
			printf("MIG: progress reads=%lu writes=%lu\n",
			       atomic_load(&reads), atomic_load(&writes));
		}
	}
stopped:
	phase_t[nphase] = now();
	atomic_store(&stop, 1);
	for (unsigned int i = 0; i < nthreads; i++)
		pthread_join(rd[i].tid, NULL);
	pthread_join(wt, NULL);
	phase_reads[nphase] = atomic_load(&reads);
	phase_writes[nphase] = atomic_load(&writes);
	for (unsigned int i = 0; i < nphase; i++) {
		double secs = phase_t[i + 1] - phase_t[i];
		unsigned long r = phase_reads[i + 1] - phase_reads[i];
		unsigned long w = phase_writes[i + 1] - phase_writes[i];

		printf("MIG: phase %s secs=%.2f reads=%lu writes=%lu read_iops=%.0f write_iops=%.0f\n",
		       phase_name[i], secs, r, w, secs > 0 ? r / secs : 0,
		       secs > 0 ? w / secs : 0);
	}
	if (inject && damage(inject, wbuf)) {
		printf("MIG: cannot damage anything (-x %s)\n", inject);
		return 1;
	}

	for (unsigned int s = 0; s < nslots; s++) {
		uint64_t b = table[s];

		if (b == NO_BLOCK)
			continue;
		checked++;
		if (holds(slots + (size_t)s * BLK, RMAGIC, b, 0))
			continue;
		if (stale++ < 10) {
			struct blk_hdr h;

			memcpy(&h, slots + (size_t)s * BLK, sizeof(h));
			printf("MIG: STALE slot %u: the table says block %" PRIu64
			       ", it holds magic %#" PRIx64 " block %" PRIu64 "\n",
			       s, b, h.magic, h.block);
		}
	}
	for (uint64_t b = 0; b < wblocks; b++) {
		struct blk_hdr h;

		if (xfer(0, wbuf, wfirst + b))
			continue;
		if (!acked[b]) {
			static const unsigned char zero[BLK];

			if (memcmp(wbuf, zero, BLK))
				torn++;
			else
				verified++;
			continue;
		}
		if (blk_check(wbuf, WMAGIC, 0, wfirst + b, &h) != BLK_OK) {
			if (torn++ < 10)
				printf("MIG: TORN block %" PRIu64 "\n", wfirst + b);
		} else if (h.gen != acked[b]) {
			if (lost++ < 10)
				printf("MIG: LOST block %" PRIu64 ": generation %" PRIu64
				       ", the last acknowledged write was %" PRIu64 "\n",
				       wfirst + b, h.gen, acked[b]);
		} else {
			verified++;
		}
	}
	ret = stale || lost || torn || atomic_load(&bad_reads) || atomic_load(&errors);
	printf("MIG: result slots=%u checked=%u stale=%u reads=%lu bad_reads=%lu writes=%lu blocks_verified=%lu lost=%lu torn=%lu errors=%lu: %s\n",
	       nslots, checked, stale, atomic_load(&reads), atomic_load(&bad_reads),
	       atomic_load(&writes), verified, lost, torn, atomic_load(&errors),
	       ret ? "FAIL" : "PASS");
	return ret;
}
