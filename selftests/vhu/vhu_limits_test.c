// SPDX-License-Identifier: GPL-2.0
/*
 * vhu selftests of what a guest can make its host spend. The requests of
 * a ring are allocated with the ring by VHU_SET_VRING_NUM and charged to
 * the owner's memory cgroup, so a guest that keeps its ring full of the
 * largest requests costs no kernel memory that is not the owner's. And a
 * pass of a vring's worker is bounded in descriptors, not only requests,
 * with a resched point in long chain walks: a ring full of the longest
 * chains does not keep another vring's worker on the same CPU waiting.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/sysinfo.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "cgroup.h"
#include "fixture.h"
#include "guest.h"

/* The memory cgroup charges pages to its counter in batches of 64. */
#define CG_BATCH	(64ULL * 4096)

/* /proc/meminfo's @key, in bytes. */
static unsigned long long meminfo(const char *key)
{
	unsigned long long v = 0, kb;
	char line[256], name[64];
	FILE *f = fopen("/proc/meminfo", "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "%63[^:]: %llu", name, &kb) == 2 &&
		    !strcmp(name, key))
			v = kb << 10;
	fclose(f);
	return v;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* Wait until vring @q of @g has @n requests in flight, at most @ms. */
static int wait_inflight(struct guest *g, unsigned int q, uint64_t n, int ms)
{
	double end = now_ms() + ms;
	struct g_stats s;

	do {
		if (!g_stats(g, q, &s) && s.inflight == n)
			return 0;
		usleep(20000);
	} while (now_ms() < end);
	return -ETIMEDOUT;
}

/* Wait until vring @q of @g has used @n entries in all, at most @ms. */
static int wait_used(struct guest *g, unsigned int q, uint16_t n, int ms)
{
	double end = now_ms() + ms;

	do {
		if (vr_used_idx(&g->vq[q].vr) == n)
			return 0;
		usleep(20000);
	} while (now_ms() < end);
	return -ETIMEDOUT;
}

/* The largest ring: its requests are charged when its size is set. */
#define BIG_NUM		32768
/* The ring the guest fills with the largest requests. */
#define FLOOD_NUM	2048
/* A full indirect table: header, VHU_MAX_SEG (1022) data buffers, status. */
#define IND_N		1024
/*
 * What a request in flight may cost the kernel without charging the
 * owner: the block layer's own bio and direct I/O state, 4 to 7 KiB for
 * one of IND_N buffers on a dm device. A request that allocated its
 * iovecs took 32 KiB more (16.6 KiB, an order-3 allocation).
 */
#define UNCHARGED_PER_REQ	(12ULL << 10)

#define PREEMPT_MODE	"/sys/kernel/debug/sched/preempt"

/*
 * Switch a PREEMPT_DYNAMIC kernel to preempt=none, the model where only
 * explicit cond_resched() calls let another task on the CPU run (not even
 * might_sleep()), and put the current mode in @old: 0, or -errno if the
 * kernel cannot switch.
 */
static int preempt_none(char *old, size_t len)
{
	char modes[128], *open, *close;
	FILE *f = fopen(PREEMPT_MODE, "re");

	if (!f)
		return -errno;
	if (!fgets(modes, sizeof(modes), f))
		modes[0] = 0;
	fclose(f);
	/* "none (voluntary) full": the current one in parentheses. */
	open = strchr(modes, '(');
	close = open ? strchr(open, ')') : NULL;
	if (!close || (size_t)(close - open) >= len)
		return -EINVAL;
	*close = 0;
	snprintf(old, len, "%s", open + 1);
	return cg_write("/sys/kernel/debug/sched", "preempt", "none");
}

FIXTURE(limits) {
	struct guest g;
	struct backend b;
	bool up;		/* guest_up() called: guest_down() at the end */
	char cg[PATH_MAX];	/* the cgroup we entered, or "" */
	char preempt[32];	/* the preemption model to restore, or "" */
};

FIXTURE_SETUP(limits)
{
	self->up = false;
	self->cg[0] = 0;
	self->preempt[0] = 0;
	srand(getpid());
}

FIXTURE_TEARDOWN(limits)
{
	if (self->up)
		guest_down(&self->g, &self->b);
	if (self->cg[0])
		cg_leave(self->cg);
	if (self->preempt[0])
		cg_write("/sys/kernel/debug/sched", "preempt", self->preempt);
}

/*
 * Only the owner's memory cgroup pays for a ring, and a ring full of the
 * largest requests (indirect tables of VHU_MAX_SEG data buffers, in
 * flight on a stalled disk) costs no kernel memory it is not charged for
 * beyond what the block layer needs for the I/O itself.
 */
TEST_F_TIMEOUT(limits, ring_memory_charged, 300)
{
	const struct guest_cfg cfg = {
		.kind = B_DM, .nq = 1, .event_idx = true, .indirect = true,
		.num0 = FLOOD_NUM,
	};
	unsigned long long m0, m1, f0, f1, charged, used;
	struct vhu_vring_state s = { .index = 0, .num = BIG_NUM };
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_IN };
	static struct vring_desc t[IND_N];
	uint64_t base, tab, hdr, st, data;
	struct guest *g = &self->g;
	struct g_stats gs;
	unsigned int i;
	int fd, ret;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	ret = cg_enter(self->cg, sizeof(self->cg), "+memory");
	if (ret) {
		self->cg[0] = 0;
		if (ret == -ENODEV)
			SKIP(return, "no cgroup2 memory controller");
		ASSERT_EQ(0, ret);
	}

	/* The requests of a ring: charged to the owner, whose ioctl it is. */
	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, VHU_SET_OWNER));
	m0 = cg_read(self->cg, "memory.current");
	f0 = meminfo("MemFree");
	ASSERT_EQ(0, ioctl(fd, VHU_SET_VRING_NUM, &s));
	m1 = cg_read(self->cg, "memory.current");
	f1 = meminfo("MemFree");
	charged = m1 > m0 ? m1 - m0 : 0;
	TH_LOG("ring of %u: %llu KiB charged, %llu KiB less free", BIG_NUM,
	       charged >> 10, f0 > f1 ? (f0 - f1) >> 10 : 0);
	EXPECT_LE(BIG_NUM * 128ULL, charged + CG_BATCH);
	close(fd);

	/* A ring of FLOOD_NUM full of the largest requests, stalled. */
	self->up = true;
	if (!guest_up(_metadata, g, &self->b, &cfg))
		return;
	base = g->vq[0].base;
	tab = base + (1 << 20);
	hdr = tab + sizeof(t);
	st = hdr + 64;
	data = base + (2 << 20);
	g_write(g, hdr, &h, sizeof(h));
	vr_set_desc(&t[0], hdr, sizeof(h), VRING_DESC_F_NEXT, 1);
	for (i = 1; i < IND_N - 1; i++)
		vr_set_desc(&t[i], data + (i - 1) * 512, 512,
			    VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, i + 1);
	vr_set_desc(&t[IND_N - 1], st, 1, VRING_DESC_F_WRITE, 0);
	g_write(g, tab, t, sizeof(t));
	/* Every request reads into the same buffers. */
	memset(g_ptr(g, data), 0, (IND_N - 2) * 512);
	for (i = 0; i < FLOOD_NUM; i++) {
		ASSERT_EQ(0, vr_add_indirect(&g->vq[0].vr, i, tab, IND_N));
		vr_push(&g->vq[0].vr, i);
	}
	/*
	 * The disk hangs before the ring is published: the worker may take
	 * what the ring offers as soon as it is, even before the kick.
	 */
	ASSERT_EQ(0, backend_stall(&self->b, true));
	m0 = cg_read(self->cg, "memory.current");
	f0 = meminfo("MemFree");
	vr_publish(&g->vq[0].vr);
	g_kick(g, 0, true);
	ret = wait_inflight(g, 0, FLOOD_NUM, 120000);
	m1 = cg_read(self->cg, "memory.current");
	f1 = meminfo("MemFree");
	EXPECT_EQ(0, ret) TH_LOG("the ring never had all %u in flight", FLOOD_NUM);
	charged = m1 > m0 ? m1 - m0 : 0;
	used = f0 > f1 ? f0 - f1 : 0;
	TH_LOG("%u requests in flight: %llu KiB charged, %llu KiB less free",
	       FLOOD_NUM, charged >> 10, used >> 10);
	EXPECT_GT(FLOOD_NUM * UNCHARGED_PER_REQ, used > charged ? used - charged : 0);

	ASSERT_EQ(0, backend_stall(&self->b, false));
	EXPECT_EQ(0, wait_used(g, 0, FLOOD_NUM, 120000));
	ASSERT_EQ(0, g_stats(g, 0, &gs));
	EXPECT_EQ(FLOOD_NUM, gs.reqs_in);
	EXPECT_EQ(0U, gs.reqs_ioerr);
	EXPECT_EQ(0U, gs.inflight);
}

static int pin(pid_t tid, int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(tid, sizeof(set), &set) ? -errno : 0;
}

/* The longest chains: each head's chain runs to the end of the table. */
#define LONG_NUM	32768
#define LONG_HEADS	512
#define PROBES		5
/*
 * How many of vring 0's chains may complete while a request on vring 1
 * waits for the CPU they share. A pass of VHU_VQ_REQ_WEIGHT such chains
 * reads 2M descriptors without a resched point when only requests are
 * counted, so vring 1 waits for the whole pass: dozens of chains. With
 * the descriptor budget and a resched point in the chain walk, it waits
 * for a scheduler tick at most, a fraction of one chain.
 *
 * The bound is counted in the guest's work, not in milliseconds: under
 * TCG on a loaded host the wall-clock wait says more about the host than
 * about the worker.
 */
#define PROBE_MAX_CHAINS	8

/*
 * Vring 0 takes a ring full of the longest chains (every head's chain runs
 * through the rest of a 32768-entry table) while vring 1's worker shares
 * its CPU: each read on vring 1 is served while vring 0 completes at most
 * PROBE_MAX_CHAINS of its chains, all along. Under preempt=none where the
 * kernel can switch to it: the bound must not depend on preemption points
 * the worker happens to pass (a might_sleep() in an allocation is one
 * under preempt=voluntary).
 */
TEST_F_TIMEOUT(limits, long_chains_yield, 300)
{
	const struct guest_cfg cfg = {
		.kind = B_FILE, .nq = 2, .event_idx = true, .num0 = LONG_NUM,
	};
	struct guest *g = &self->g;
	struct vring_desc *d;
	struct vhu_dev_info info;
	double t0, lat, max_lat = 0;
	unsigned int i, q, done, max_done = 0;
	uint64_t base, data, st;
	uint8_t buf[512];
	struct g_stats s;
	uint16_t used;
	pid_t tid[2];

	if (get_nprocs() < 2)
		SKIP(return, "needs two CPUs");
	if (preempt_none(self->preempt, sizeof(self->preempt))) {
		self->preempt[0] = 0;
		TH_LOG("the preemption model stays as it is");
	}
	self->up = true;
	if (!guest_up(_metadata, g, &self->b, &cfg))
		return;
	ASSERT_EQ(0, ioctl(g->vhu, VHU_GET_DEV_INFO, &info));
	/* Both workers on CPU 0, the guest on CPU 1. */
	for (q = 0; q < 2; q++) {
		tid[q] = vhu_worker_tid(info.dev_id, q);
		ASSERT_LT(0, tid[q]) TH_LOG("no worker for vring %u", q);
		ASSERT_EQ(0, pin(tid[q], 0));
	}
	ASSERT_EQ(0, pin(0, 1));

	base = g->vq[0].base;
	data = base + (2 << 20);
	st = base + (3 << 20);
	d = g->vq[0].vr.desc;
	for (i = 0; i < LONG_NUM - 1; i++)
		vr_set_desc(&d[i], data + (i % 64) * 512, 512, VRING_DESC_F_NEXT, i + 1);
	vr_set_desc(&d[LONG_NUM - 1], st, 1, VRING_DESC_F_WRITE, 0);
	for (i = 0; i < LONG_HEADS; i++)
		vr_push(&g->vq[0].vr, i);
	vr_publish(&g->vq[0].vr);
	g_kick(g, 0, true);
	usleep(100000);

	for (i = 0; i < PROBES; i++) {
		used = vr_used_idx(&g->vq[0].vr);
		t0 = now_ms();
		ASSERT_EQ(VIRTIO_BLK_S_OK, g_do(g, 1, VIRTIO_BLK_T_IN, i * 8, buf,
						sizeof(buf), NULL));
		lat = now_ms() - t0;
		done = (uint16_t)(vr_used_idx(&g->vq[0].vr) - used);
		if (lat > max_lat)
			max_lat = lat;
		if (done > max_done)
			max_done = done;
		EXPECT_EQ(0, memcmp(buf, self->b.shadow + i * 8 * 512, sizeof(buf)));
	}
	used = vr_used_idx(&g->vq[0].vr);
	TH_LOG("vring 1 waited at most %.1f ms, while vring 0 completed at most %u chains; vring 0 had used %u of %u",
	       max_lat, max_done, used, LONG_HEADS);
	/* Else the flood was over too soon to tell. */
	ASSERT_GT(LONG_HEADS, used);
	EXPECT_GE(PROBE_MAX_CHAINS, max_done);

	/* Every chain is too long for a request: IOERR, not a ring error. */
	EXPECT_EQ(0, wait_used(g, 0, LONG_HEADS, 240000));
	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(LONG_HEADS, s.reqs_ioerr);
	EXPECT_EQ(0U, s.ring_errors);
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
}

TEST_HARNESS_MAIN
