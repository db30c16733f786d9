// SPDX-License-Identifier: GPL-2.0
/*
 * vhu selftests of whose resources a guest spends: the workers of a
 * device run in its owner's cgroups, so the owner's io.max holds the
 * guest's I/O and its cpu.max the workers' CPU; and each device runs its
 * blocking requests (FLUSH, DISCARD, WRITE_ZEROES) on a worker of its
 * own, so one guest's flushes stuck on a hung disk do not hold up
 * another guest's FLUSH. And an owner whose disk hangs can still be
 * killed: it exits within a bound, and the device goes once the disk is
 * back.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "cgroup.h"
#include "fixture.h"
#include "guest.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

FIXTURE(owner) {
	struct guest g;
	struct backend b;
	bool up;		/* guest_up() called: guest_down() at the end */
	char cg[PATH_MAX];	/* the cgroup we entered, or "" */
};

FIXTURE_SETUP(owner)
{
	self->up = false;
	self->cg[0] = 0;
	srand(getpid());
}

FIXTURE_TEARDOWN(owner)
{
	if (self->up)
		guest_down(&self->g, &self->b);
	if (self->cg[0])
		cg_leave(self->cg);
}

/* Enter a cgroup of our own with @ctl; false after a SKIP. */
static bool enter(struct __test_metadata *_metadata, char *cg, size_t len,
		  const char *ctl)
{
	int ret = cg_enter(cg, len, ctl);

	if (!ret)
		return true;
	cg[0] = 0;
	if (ret == -ENODEV)
		SKIP(return false, "no cgroup2 with %s", ctl);
	ASSERT_EQ(0, ret);
	return false;
}

/*
 * Every thread that works for the device (a worker per vring, one for the
 * device) is in the owner's cgroup, whatever cgroup that is: so the
 * owner's cpu.max and memory.max apply to them, and its io.max to the
 * I/O they submit.
 */
TEST_F_TIMEOUT(owner, workers_in_owner_cgroup, 120)
{
	const struct guest_cfg cfg = { .kind = B_FILE, .nq = 2 };
	struct vhu_dev_info info;
	char in[PATH_MAX];
	pid_t tid[8];
	int i, n;

	if (!enter(_metadata, self->cg, sizeof(self->cg), "+cpu +io +memory"))
		return;
	self->up = true;
	if (!guest_up(_metadata, &self->g, &self->b, &cfg))
		return;
	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_GET_DEV_INFO, &info));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(&self->g, 1, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL));

	n = vhu_worker_tids(info.dev_id, tid, 8);
	/* A worker for each vring and one for the device. */
	EXPECT_EQ(3, n);
	for (i = 0; i < n && i < 8; i++) {
		EXPECT_EQ(1, cg_has_thread(self->cg, tid[i], in, sizeof(in)))
			TH_LOG("worker %d is in %s, not in %s", tid[i], in,
			       self->cg + strlen(CG_ROOT));
	}
	check_random_rw(_metadata, &self->g, &self->b);
}

#define IO_CHUNK	(64U << 10)
#define IO_BYTES	(2U << 20)

/* Write IO_BYTES in IO_CHUNK requests at QD1 on vring 0: bytes per s. */
static double write_rate(struct __test_metadata *_metadata, struct guest *g,
			 struct backend *b, uint64_t sector)
{
	static uint8_t buf[IO_CHUNK];
	double t0 = now_ms(), ms;
	unsigned int i;

	for (i = 0; i < IO_BYTES / IO_CHUNK; i++) {
		uint64_t s = sector + i * (IO_CHUNK >> 9);

		prng_fill(buf, sizeof(buf));
		memcpy(b->shadow + s * 512, buf, sizeof(buf));
		EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_OUT, s, buf,
						sizeof(buf), NULL));
	}
	ms = now_ms() - t0;
	return IO_BYTES / (ms / 1e3);
}

/*
 * The owner's io.max holds the guest's writes: at a limit of an eighth of
 * what the disk took unthrottled, the guest writes at the limit (within a
 * factor of two for blk-throttle's slices), not at the disk's speed.
 * With @mem_flags VHU_MEM_F_PIN, the writes are the module's own bios.
 */
static void check_io_max(struct __test_metadata *_metadata,
			 FIXTURE_DATA(owner) *self, uint32_t mem_flags)
{
	const struct guest_cfg cfg = { .kind = B_DM, .nq = 1, .mem_flags = mem_flags };
	unsigned long long limit;
	double free_rate, held_rate;
	char val[128];
	struct stat st;

	if (!enter(_metadata, self->cg, sizeof(self->cg), "+io"))
		return;
	self->up = true;
	if (!guest_up(_metadata, &self->g, &self->b, &cfg))
		return;
	ASSERT_EQ(0, fstat(self->b.fd, &st));
	ASSERT_TRUE(S_ISBLK(st.st_mode));

	free_rate = write_rate(_metadata, &self->g, &self->b, 0);
	limit = (unsigned long long)(free_rate / 8) & ~4095ULL;
	if (limit < 65536)
		limit = 65536;
	snprintf(val, sizeof(val), "%u:%u wbps=%llu", major(st.st_rdev),
		 minor(st.st_rdev), limit);
	ASSERT_EQ(0, cg_write(self->cg, "io.max", val)) TH_LOG("io.max %s", val);
	held_rate = write_rate(_metadata, &self->g, &self->b, IO_BYTES >> 9);
	snprintf(val, sizeof(val), "%u:%u wbps=max", major(st.st_rdev),
		 minor(st.st_rdev));
	EXPECT_EQ(0, cg_write(self->cg, "io.max", val));

	TH_LOG("unthrottled %.0f KiB/s; io.max wbps %llu KiB/s: %.0f KiB/s",
	       free_rate / 1024, limit >> 10, held_rate / 1024);
	EXPECT_GT(2.0 * limit, held_rate);
	EXPECT_EQ(0, backend_verify(&self->b));
}

TEST_F_TIMEOUT(owner, io_max_holds_guest, 300)
{
	check_io_max(_metadata, self, 0);
}

TEST_F_TIMEOUT(owner, io_max_holds_guest_pinned, 300)
{
	check_io_max(_metadata, self, VHU_MEM_F_PIN);
}

/*
 * utime + stime of threads @tid, in clock ticks; -1 if one is gone. Not
 * /proc/TID/stat: for a thread that is its whole process's.
 */
static long long cpu_ticks(const pid_t *tid, int n)
{
	unsigned long long ut, st;
	long long sum = 0;
	char path[80], line[1024], *p;
	int i;
	FILE *f;

	for (i = 0; i < n; i++) {
		snprintf(path, sizeof(path), "/proc/%d/task/%d/stat", tid[i], tid[i]);
		f = fopen(path, "re");
		if (!f)
			return -1;
		p = fgets(line, sizeof(line), f) ? strrchr(line, ')') : NULL;
		fclose(f);
		/* After the comm: state is field 3, utime 14, stime 15. */
		if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				 &ut, &st) != 2)
			return -1;
		sum += ut + st;
	}
	return sum;
}

#define CPU_BATCH	G_SLOTS
#define CPU_RUN_MS	3000

/* CPU time over a run, in seconds. */
struct cpu_use {
	double workers;		/* the device's workers */
	double self;		/* this thread, the guest */
	double cgroup;		/* all of the owner's cgroup (cpu.stat) */
	double wall;
};

/*
 * Buffered reads of G_MAX_DATA on vring 0, CPU_BATCH at a time, for
 * CPU_RUN_MS: the CPU time the device's workers, this thread and the
 * whole of cgroup @cg spent meanwhile.
 */
static struct cpu_use cpu_run(struct __test_metadata *_metadata,
			      struct guest *g, uint32_t id, const char *cg)
{
	long long w0, w1, s0, s1;
	unsigned long long u0, u1;
	double t0, tick = sysconf(_SC_CLK_TCK);
	pid_t tid[8], me = gettid();
	struct cpu_use use;
	int i, n, slot;

	n = vhu_worker_tids(id, tid, 8);
	if (n > 8)
		n = 8;
	w0 = cpu_ticks(tid, n);
	s0 = cpu_ticks(&me, 1);
	u0 = cg_stat(cg, "cpu.stat", "usage_usec");
	t0 = now_ms();
	do {
		for (i = 0; i < CPU_BATCH; i++) {
			slot = g_slot_alloc(g, 0);
			if (slot < 0)
				break;
			g_submit(g, 0, slot, VIRTIO_BLK_T_IN,
				 (prng() % (DISK_SECTORS - 128)) & ~7ULL, G_MAX_DATA, NULL);
		}
		g_kick(g, 0, true);
		EXPECT_LE(i, g_wait(g, 0, i, TIMEOUT_MS));
	} while (now_ms() - t0 < CPU_RUN_MS);
	use.wall = (now_ms() - t0) / 1e3;
	w1 = cpu_ticks(tid, n);
	s1 = cpu_ticks(&me, 1);
	u1 = cg_stat(cg, "cpu.stat", "usage_usec");
	EXPECT_LE(0, w0);
	EXPECT_LE(w0, w1);
	use.workers = (w1 - w0) / tick;
	use.self = (s1 - s0) / tick;
	use.cgroup = (u1 - u0) / 1e6;
	return use;
}

/*
 * The device's workers spend the owner's CPU: their time is charged to
 * the owner's cgroup (cpu.stat), and its cpu.max holds them: at a quota
 * of a fifth of what they took unthrottled, they take at most twice the
 * quota. The guest's buffered reads of a file in the page cache are the
 * workers' copies.
 */
TEST_F_TIMEOUT(owner, cpu_max_holds_workers, 300)
{
	const struct guest_cfg cfg = { .kind = B_FILE, .nq = 1 };
	struct cpu_use free, held;
	struct vhu_dev_info info;
	double quota;
	char val[64];

	if (!enter(_metadata, self->cg, sizeof(self->cg), "+cpu"))
		return;
	self->up = true;
	if (!guest_up(_metadata, &self->g, &self->b, &cfg))
		return;
	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_GET_DEV_INFO, &info));

	free = cpu_run(_metadata, &self->g, info.dev_id, self->cg);
	TH_LOG("unthrottled, in %.1f s: workers %.2f s, guest %.2f s, the cgroup %.2f s",
	       free.wall, free.workers, free.self, free.cgroup);
	/* Clock ticks: 10 ms each, per thread. */
	EXPECT_LE(0.9 * (free.workers + free.self) - 0.05, free.cgroup);

	quota = free.workers / free.wall / 5;
	if (quota < 0.02)
		quota = 0.02;
	snprintf(val, sizeof(val), "%.0f 100000", quota * 100000);
	ASSERT_EQ(0, cg_write(self->cg, "cpu.max", val)) TH_LOG("cpu.max %s", val);
	held = cpu_run(_metadata, &self->g, info.dev_id, self->cg);
	EXPECT_EQ(0, cg_write(self->cg, "cpu.max", "max 100000"));

	TH_LOG("workers unthrottled: %.0f%% of a CPU; cpu.max %.0f%%: %.0f%%",
	       free.workers / free.wall * 100, quota * 100,
	       held.workers / held.wall * 100);
	EXPECT_LT(held.workers / held.wall, 2 * quota);
	EXPECT_GT(free.workers / free.wall, 3 * quota);
}

/* More blocking requests than the shared workqueue of old ran at once. */
#define FLOOD		320
#define FLOOD_NUM	1024
/* What another guest's FLUSH may wait, on a file in a RAM disk. */
#define FLUSH_MAX_MS	1000

/*
 * Guest A's disk hangs with FLOOD flushes in flight; guest B's FLUSH on
 * another disk completes within FLUSH_MAX_MS all the same, and A's
 * complete once its disk is back.
 */
TEST_F_TIMEOUT(owner, hung_flushes_stay_home, 300)
{
	const struct guest_cfg cfg_a = { .kind = B_DM, .nq = 1, .num0 = FLOOD_NUM };
	const struct guest_cfg cfg_b = { .kind = B_FILE, .nq = 1 };
	struct virtio_blk_outhdr h = { .type = VIRTIO_BLK_T_FLUSH };
	struct guest *a = &self->g, b;
	struct backend bb;
	uint64_t hdr, st, base;
	struct vring_desc *d;
	struct g_stats s;
	unsigned int i;
	double t0, ms;
	bool b_up;
	int ret;

	self->up = true;
	if (!guest_up(_metadata, a, &self->b, &cfg_a))
		return;
	/*
	 * The disk hangs first: the worker may take what the ring offers as
	 * soon as it is published, even before the kick.
	 */
	ASSERT_EQ(0, backend_stall(&self->b, true));
	/* FLOOD chains of a header and a status byte each, all FLUSH. */
	base = a->vq[0].base;
	hdr = base + (1 << 20);
	st = base + (2 << 20);
	g_write(a, hdr, &h, sizeof(h));
	memset(g_ptr(a, st), 0xff, FLOOD);
	d = a->vq[0].vr.desc;
	for (i = 0; i < FLOOD; i++) {
		vr_set_desc(&d[2 * i], hdr, sizeof(h), VRING_DESC_F_NEXT, 2 * i + 1);
		vr_set_desc(&d[2 * i + 1], st + i, 1, VRING_DESC_F_WRITE, 0);
		vr_push(&a->vq[0].vr, 2 * i);
	}
	vr_publish(&a->vq[0].vr);
	g_kick(a, 0, true);
	/* All of A's flushes are taken, and held by its disk. */
	for (i = 0; i < 100; i++) {
		if (!g_stats(a, 0, &s) && s.inflight == FLOOD)
			break;
		usleep(50000);
	}
	usleep(200000);
	ASSERT_EQ(0, g_stats(a, 0, &s));
	EXPECT_EQ(FLOOD, s.inflight);
	EXPECT_EQ(0U, s.reqs_flush) TH_LOG("the stalled disk did not hold A's flushes "
					   "(%llu unsupported)",
					   (unsigned long long)s.reqs_unsupp);

	/* B's FLUSH; A's disk comes back before B goes, whatever happened. */
	b_up = guest_up(_metadata, &b, &bb, &cfg_b);
	if (b_up) {
		t0 = now_ms();
		ret = g_do(&b, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL);
		ms = now_ms() - t0;
		TH_LOG("B's FLUSH took %.0f ms while A had %u flushes hung", ms, FLOOD);
		EXPECT_EQ(VIRTIO_BLK_S_OK, ret);
		EXPECT_GT(FLUSH_MAX_MS, ms);
	}
	ASSERT_EQ(0, backend_stall(&self->b, false));
	if (b_up)
		guest_down(&b, &bb);
	for (i = 0; i < 600; i++) {
		if (!g_stats(a, 0, &s) && !s.inflight)
			break;
		usleep(100000);
	}
	ASSERT_EQ(0, g_stats(a, 0, &s));
	EXPECT_EQ(0U, s.inflight);
	EXPECT_EQ(FLOOD, s.reqs_flush);
	EXPECT_EQ(0U, s.reqs_ioerr);
	EXPECT_EQ(0U, s.reqs_unsupp);
	for (i = 0; i < FLOOD; i++)
		if (*(uint8_t *)g_ptr(a, st + i) != VIRTIO_BLK_S_OK)
			break;
	EXPECT_EQ(FLOOD, i) TH_LOG("flush %u: status %u", i,
				   i < FLOOD ? *(uint8_t *)g_ptr(a, st + i) : 0);
}

/* How long a killed owner may take to exit: VHU_EXIT_WAIT_MS and slack. */
#define EXIT_MAX_MS	15000

/* vhu.ko's reference count: one per open device, and per teardown. */
static int module_refs(void)
{
	FILE *f = fopen("/sys/module/vhu/refcnt", "re");
	int n = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%d", &n) != 1)
		n = -1;
	fclose(f);
	return n;
}

/* Wait for @pid to exit, at most @ms: its status, or -1. */
static int wait_exit(pid_t pid, int ms)
{
	double end = now_ms() + ms;
	int status;

	do {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(20000);
	} while (now_ms() < end);
	return -1;
}

/*
 * The owner, a child: a device on @b (stalled by the parent), one read
 * in flight, then @hang_in_ioctl waits in GET_VRING_BASE for it, else in
 * pause(). It reports its device id on @fd once the read is kicked.
 */
static void hung_owner(struct backend *b, int fd, bool hang_in_ioctl)
{
	struct vhu_vring_state s = { .index = 0 };
	struct vhu_dev_info info;
	static uint8_t buf[4096];
	struct g_stats st;
	struct guest g;
	int i, slot;

	memset(&g, 0, sizeof(g));
	g.vhu = -1;
	if (g_open(&g) || (g.nq = 1, set_backend(&g, b, 0, 1)) ||
	    g_setup_vrings(&g) || ioctl(g.vhu, VHU_GET_DEV_INFO, &info))
		_exit(2);
	slot = g_slot_alloc(&g, 0);
	if (slot < 0 || g_submit(&g, 0, slot, VIRTIO_BLK_T_IN, 0, sizeof(buf), NULL))
		_exit(3);
	g_kick(&g, 0, true);
	/* Taken by the worker: GET_VRING_BASE has it to wait for. */
	for (i = 0; i < 200; i++) {
		if (!g_stats(&g, 0, &st) && st.inflight == 1)
			break;
		usleep(20000);
	}
	if (write(fd, &info.dev_id, sizeof(info.dev_id)) != sizeof(info.dev_id))
		_exit(4);
	if (hang_in_ioctl)
		ioctl(g.vhu, VHU_GET_VRING_BASE, &s);
	for (;;)
		pause();
}

/*
 * The owner is killed while its disk hangs with a read in flight,
 * waiting in @hang_in_ioctl's GET_VRING_BASE or elsewhere: it exits
 * within EXIT_MAX_MS, and once the disk is back its device goes.
 */
static void killed_on_hung_disk(struct __test_metadata *_metadata,
				struct backend *b, bool hang_in_ioctl)
{
	int fds[2], status, refs, ret = -1;
	uint32_t id = 0;
	struct g_stats s;
	double t0, ms;
	unsigned int i;
	pid_t pid;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	ret = backend_up(b, B_DM, false);
	if (ret == -ENODEV)
		SKIP(return, "backing store dm unavailable");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, pipe(fds));
	refs = module_refs();
	ASSERT_LE(0, refs);
	ASSERT_EQ(0, backend_stall(b, true));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		close(fds[0]);
		hung_owner(b, fds[1], hang_in_ioctl);
	}
	close(fds[1]);
	EXPECT_EQ(sizeof(id), read(fds[0], &id, sizeof(id)));
	close(fds[0]);
	/* The read is in flight, held by the disk. */
	for (i = 0; i < 100; i++) {
		ret = g_stats_dump(id, false, 0, &s);
		if (!ret && s.inflight == 1)
			break;
		usleep(50000);
	}
	EXPECT_EQ(0, ret);
	EXPECT_EQ(1U, s.inflight);
	usleep(300000);

	kill(pid, SIGKILL);
	t0 = now_ms();
	status = wait_exit(pid, EXIT_MAX_MS);
	ms = now_ms() - t0;
	TH_LOG("the owner exited %.0f ms after SIGKILL", ms);
	EXPECT_NE(-1, status);
	EXPECT_TRUE(WIFSIGNALED(status));

	/* Off the list at once, torn down once the disk is back. */
	EXPECT_EQ(-ENOENT, g_stats_dump(id, false, 0, &s));
	EXPECT_EQ(0, backend_stall(b, false));
	if (status == -1)
		EXPECT_NE(-1, wait_exit(pid, 60000));
	for (i = 0; i < 200 && module_refs() != refs; i++)
		usleep(50000);
	EXPECT_EQ(refs, module_refs());
	backend_down(b);
}

/*
 * A fixture only for its timeout: the owner may take EXIT_MAX_MS to go,
 * and the module's references 10 s more, beyond the harness's default
 * 30 s for a whole test on a slow kernel (the debug kernel of make
 * check-debug took longer than that).
 */
FIXTURE(hung) {
	struct backend b;
};

FIXTURE_SETUP(hung)
{
	memset(&self->b, 0, sizeof(self->b));
	self->b.fd = -1;
}

FIXTURE_TEARDOWN(hung)
{
}

TEST_F_TIMEOUT(hung, killed_idle_on_hung_disk, 120)
{
	killed_on_hung_disk(_metadata, &self->b, false);
}

TEST_F_TIMEOUT(hung, killed_in_get_vring_base_on_hung_disk, 120)
{
	killed_on_hung_disk(_metadata, &self->b, true);
}

TEST_HARNESS_MAIN
