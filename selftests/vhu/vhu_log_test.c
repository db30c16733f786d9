// SPDX-License-Identifier: GPL-2.0
/*
 * vhu dirty logging selftests (VHU_SET_LOG_BASE, VHOST_F_LOG_ALL,
 * VHU_VRING_F_LOG). A guest on a file reads into buffers that cross page
 * boundaries; after each batch the whole log is compared with the pages
 * the device must have written: the data pages, the status byte's page
 * and, with VHU_VRING_F_LOG, the used ring's page at log_guest_addr. A
 * bit too many fails as a bit too few does. Then what must mark nothing
 * (LOG_ALL off, writes, pages beyond the log), changing the log and
 * LOG_ALL while the vring runs, the argument checks, and a log the owner
 * unmapped or made read-only (a ring error, nothing else), and a read in
 * flight when logging starts.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <linux/vhost_types.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "fixture.h"
#include "guest.h"

#define PG		4096ULL
/* Pages the log covers: all of guest memory, above 4 GiB. */
#define LOG_PAGES	((G_GPA_BASE + G_MEM_SIZE) / PG)
#define LOG_BYTES	(LOG_PAGES / 8)
/* Free guest memory of queue 0, past its slots. */
#define FREE_OFF	(8ULL << 20)

/* A log of @bytes in its own mapping, with a guard page after it. */
struct log {
	uint8_t *map;
	size_t map_len;
	uint64_t bytes;
};

static int log_alloc(struct log *l, uint64_t bytes)
{
	l->bytes = bytes;
	l->map_len = (bytes + 2 * PG - 1) / PG * PG;
	l->map = mmap(NULL, l->map_len, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (l->map == MAP_FAILED)
		return -errno;
	/* Anything the device wrote past the log would land here. */
	return mprotect(l->map + l->map_len - PG, PG, PROT_READ) ? -errno : 0;
}

static void log_free(struct log *l)
{
	if (l->map && l->map != MAP_FAILED)
		munmap(l->map, l->map_len);
	l->map = NULL;
}

static int set_log(struct guest *g, void *addr, uint64_t bytes)
{
	struct vhu_log a = { .user_addr = (uintptr_t)addr, .size = bytes };

	return ioctl(g->vhu, VHU_SET_LOG_BASE, &a) ? -errno : 0;
}

static int set_log_all(struct guest *g, bool on)
{
	uint64_t f = g->features & ~(1ULL << VHOST_F_LOG_ALL);

	if (on)
		f |= 1ULL << VHOST_F_LOG_ALL;
	return ioctl(g->vhu, VHU_SET_FEATURES, &f) ? -errno : 0;
}

/* The guest-physical address of queue @q's used ring. */
static uint64_t used_gpa(struct guest *g, unsigned int q)
{
	struct g_vq *vq = &g->vq[q];

	return vq->base + ((uint8_t *)vq->vr.used - (uint8_t *)g_ptr(g, vq->base));
}

/* VHU_SET_VRING_ADDR on the vring's own rings with @flags. */
static int set_vring_log(struct guest *g, unsigned int q, uint32_t flags,
			 uint64_t log_gpa)
{
	struct vr *vr = &g->vq[q].vr;
	struct vhu_vring_addr a = {
		.index = q,
		.flags = flags,
		.desc_user_addr = (uintptr_t)vr->desc,
		.avail_user_addr = (uintptr_t)vr->avail,
		.used_user_addr = (uintptr_t)vr->used,
		.log_guest_addr = log_gpa,
	};

	return ioctl(g->vhu, VHU_SET_VRING_ADDR, &a) ? -errno : 0;
}

static bool bit(const struct log *l, uint64_t page)
{
	return l->map[page / 8] & (1U << (page % 8));
}

static void set_expect(uint8_t *expect, uint64_t gpa, uint64_t len)
{
	uint64_t p;

	for (p = gpa / PG; p <= (gpa + len - 1) / PG; p++)
		expect[p / 8] |= 1U << (p % 8);
}

/*
 * The log holds exactly @expect (LOG_BYTES of it, or l->bytes if fewer),
 * and nothing after it: the pages that differ are reported.
 */
static void check_log(struct __test_metadata *_metadata, const struct log *l,
		      const uint8_t *expect)
{
	uint64_t n = l->bytes < LOG_BYTES ? l->bytes : LOG_BYTES, i, p;
	int bad = 0;

	for (i = 0; i < n; i++) {
		if (l->map[i] == expect[i])
			continue;
		for (p = i * 8; p < i * 8 + 8; p++)
			if (bit(l, p) != !!(expect[p / 8] & (1U << (p % 8))) &&
			    bad++ < 8)
				TH_LOG("page 0x%llx (gpa 0x%llx): %s",
				       (unsigned long long)p,
				       (unsigned long long)(p * PG),
				       bit(l, p) ? "marked, not written" :
				       "written, not marked");
	}
	for (i = n; i < l->map_len - PG; i++)
		if (l->map[i] && bad++ < 8)
			TH_LOG("byte %llu after the log written",
			       (unsigned long long)i);
	EXPECT_EQ(0, bad);
}

/*
 * One request of @type with its data buffer of @len bytes at @data;
 * its header and status byte are in a slot of queue 0, whose status
 * byte's page goes to @expect. Return: the status, or -errno.
 */
static int do_at(struct guest *g, uint32_t type, uint64_t sector,
		 uint64_t data, uint32_t len, uint8_t *expect)
{
	int slot = g_slot_alloc(g, 0);

	if (slot < 0 || g_submit_at(g, 0, slot, type, sector, len, NULL, data))
		return -EINVAL;
	if (expect)
		set_expect(expect, g_slot_gpa(g, 0, slot) + G_SLOT_STATUS, 1);
	g_kick(g, 0, false);
	while (!g->vq[0].done[slot])
		if (g_wait(g, 0, 1, TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
	return g->vq[0].status[slot];
}

FIXTURE(log) {
	struct guest g;
	struct backend b;
	struct log l;
	uint8_t *expect;	/* LOG_BYTES: the pages that must be marked */
	uint64_t free;		/* gpa of free memory of queue 0 */
};

FIXTURE_VARIANT(log) {
	bool event_idx;
	bool indirect;
};

FIXTURE_VARIANT_ADD(log, plain) { .event_idx = false, .indirect = false };
FIXTURE_VARIANT_ADD(log, event_idx_indirect) { .event_idx = true, .indirect = true };

FIXTURE_SETUP(log)
{
	const struct guest_cfg cfg = {
		.kind = B_FILE, .nq = 1,
		.event_idx = variant->event_idx, .indirect = variant->indirect,
	};

	srand(getpid());
	self->l.map = NULL;
	self->expect = calloc(1, LOG_BYTES);
	ASSERT_NE(NULL, self->expect);
	if (!guest_up(_metadata, &self->g, &self->b, &cfg))
		return;
	if (!(self->g.features & (1ULL << VHOST_F_LOG_ALL))) {
		uint64_t f = 0;

		ASSERT_EQ(0, ioctl(self->g.vhu, VHU_GET_FEATURES, &f));
		if (!(f & (1ULL << VHOST_F_LOG_ALL)))
			SKIP(return, "vhu.ko without dirty logging");
	}
	ASSERT_EQ(0, log_alloc(&self->l, LOG_BYTES));
	self->free = self->g.vq[0].base + FREE_OFF;
}

FIXTURE_TEARDOWN(log)
{
	guest_down(&self->g, &self->b);
	log_free(&self->l);
	free(self->expect);
}

static void reset_expect(FIXTURE_DATA(log) *self)
{
	memset(self->expect, 0, LOG_BYTES);
	memset(self->l.map, 0, self->l.bytes);
}

/*
 * Reads whose buffers cross page boundaries, at page offsets 0x800 and
 * 0xfff, 8 times each (buffers split at random, direct or indirect), and
 * GET_ID: exactly their data pages and status bytes' pages are marked.
 * No used ring logging: its page stays clear.
 */
TEST_F(log, in_data_and_status)
{
	struct g_stats s;
	int i;

	ASSERT_EQ(0, set_log(&self->g, self->l.map, self->l.bytes));
	ASSERT_EQ(0, set_log_all(&self->g, true));
	for (i = 0; i < 8; i++) {
		uint64_t a = self->free + i * 16 * PG + 0x800;
		uint64_t b = self->free + i * 16 * PG + 8 * PG + 0xfff;

		reset_expect(self);
		ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 8, a,
						 3 * PG, self->expect));
		set_expect(self->expect, a, 3 * PG);
		ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 64, b,
						 1024, self->expect));
		set_expect(self->expect, b, 1024);
		check_log(_metadata, &self->l, self->expect);
	}
	/* GET_ID writes 20 bytes: the last 10 of one page, 10 of the next. */
	reset_expect(self);
	ASSERT_EQ(VIRTIO_BLK_S_OK,
		  do_at(&self->g, VIRTIO_BLK_T_GET_ID, 0, self->free + PG - 10,
			VHU_BLK_ID_BYTES, self->expect));
	set_expect(self->expect, self->free + PG - 10, VHU_BLK_ID_BYTES);
	check_log(_metadata, &self->l, self->expect);

	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	EXPECT_EQ(0U, s.log_skipped);
	EXPECT_EQ(0U, s.ring_errors);
}

/*
 * A write, a flush, a request of an unknown type and a read refused
 * before it reached the backend (out of range) mark only their status
 * byte, whatever device-writable buffers they have.
 */
TEST_F(log, status_only)
{
	uint64_t a = self->free + 0x200;

	ASSERT_EQ(0, set_log(&self->g, self->l.map, self->l.bytes));
	ASSERT_EQ(0, set_log_all(&self->g, true));
	reset_expect(self);
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_OUT, 8, a,
					 2 * PG, self->expect));
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_FLUSH, 0, a, 0,
					 self->expect));
	/* An unknown type, with a device-writable buffer it does not fill. */
	ASSERT_EQ(VIRTIO_BLK_S_UNSUPP, do_at(&self->g, 0x7f, 0, a, PG,
					     self->expect));
	ASSERT_EQ(VIRTIO_BLK_S_IOERR, do_at(&self->g, VIRTIO_BLK_T_IN,
					    DISK_SECTORS - 1, a, 2 * PG,
					    self->expect));
	check_log(_metadata, &self->l, self->expect);
}

/*
 * VHU_VRING_F_LOG: the used ring's writes are marked at log_guest_addr
 * (here not where the ring really is, to tell the two apart), and no
 * longer once the flag is cleared; both while the vring runs.
 */
TEST_F(log, used_ring)
{
	uint64_t fake = self->free + 64 * PG, a = self->free + 0x800;

	ASSERT_EQ(0, set_log(&self->g, self->l.map, self->l.bytes));
	ASSERT_EQ(0, set_log_all(&self->g, true));
	ASSERT_EQ(0, set_vring_log(&self->g, 0, VHU_VRING_F_LOG, fake));
	reset_expect(self);
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, a, PG,
					 self->expect));
	set_expect(self->expect, a, PG);
	/* The ring of 128 entries fits one page: elements, idx, flags. */
	set_expect(self->expect, fake, 1);
	check_log(_metadata, &self->l, self->expect);

	/* At the real address: its page, not the former one. */
	ASSERT_EQ(0, set_vring_log(&self->g, 0, VHU_VRING_F_LOG,
				   used_gpa(&self->g, 0)));
	reset_expect(self);
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, a, PG,
					 self->expect));
	set_expect(self->expect, a, PG);
	set_expect(self->expect, used_gpa(&self->g, 0), 1);
	check_log(_metadata, &self->l, self->expect);

	ASSERT_EQ(0, set_vring_log(&self->g, 0, 0, 0));
	reset_expect(self);
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, a, PG,
					 self->expect));
	set_expect(self->expect, a, PG);
	check_log(_metadata, &self->l, self->expect);
}

/* Without LOG_ALL nothing is marked, nor counted; with it, again. */
TEST_F(log, log_all_toggled_while_running)
{
	uint64_t f, a = self->free + 0x800;
	struct g_stats s;

	ASSERT_EQ(0, set_log(&self->g, self->l.map, self->l.bytes));
	ASSERT_EQ(0, set_vring_log(&self->g, 0, VHU_VRING_F_LOG,
				   used_gpa(&self->g, 0)));
	reset_expect(self);
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, a,
					 2 * PG, NULL));
	check_log(_metadata, &self->l, self->expect);

	ASSERT_EQ(0, set_log_all(&self->g, true));
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, a,
					 2 * PG, self->expect));
	set_expect(self->expect, a, 2 * PG);
	set_expect(self->expect, used_gpa(&self->g, 0), 1);
	check_log(_metadata, &self->l, self->expect);

	/* Another feature may not change while the vring runs. */
	f = self->g.features ^ (1ULL << VIRTIO_RING_F_EVENT_IDX);
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_FEATURES, &f));
	EXPECT_EQ(EBUSY, errno);
	f |= 1ULL << VHOST_F_LOG_ALL;
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_FEATURES, &f));
	EXPECT_EQ(EBUSY, errno);

	ASSERT_EQ(0, set_log_all(&self->g, false));
	reset_expect(self);
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, a,
					 2 * PG, NULL));
	check_log(_metadata, &self->l, self->expect);
	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
	EXPECT_EQ(0U, s.log_skipped);
}

/*
 * A log of fewer pages than guest memory: a read into its last page and
 * the next one marks the first, counts the other, and writes nothing
 * after the log. LOG_ALL without a log: everything counted. (512 bytes:
 * one buffer, which g_submit_at() does not split; the count is per
 * buffer.) Then a read of 3 pages whose last 2 are beyond: its covered
 * pages are marked.
 */
TEST_F(log, beyond_the_log)
{
	/* The log covers up to page 8k + 7: a read across 8k + 7 / 8k + 8. */
	uint64_t last = self->free / PG / 8 * 8 + 8 * 8 + 7;
	uint64_t a = (last + 1) * PG - 256, b = (last - 1) * PG + 0x100;
	struct log small = {};
	uint64_t before;
	struct g_stats s;

	ASSERT_EQ(0, log_alloc(&small, (last + 1) / 8));
	ASSERT_EQ(0, set_log(&self->g, small.map, small.bytes));
	ASSERT_EQ(0, set_log_all(&self->g, true));
	reset_expect(self);
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, a,
					 512, self->expect));
	set_expect(self->expect, a, 256);
	check_log(_metadata, &small, self->expect);
	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	EXPECT_EQ(1U, s.log_skipped);

	memset(small.map, 0, small.bytes);
	memset(self->expect, 0, LOG_BYTES);
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, b,
					 3 * PG, self->expect));
	set_expect(self->expect, b, 2 * PG - 0x100);
	check_log(_metadata, &small, self->expect);
	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	EXPECT_LE(3U, s.log_skipped);

	/* No log: the data pages and the status byte's page are counted. */
	ASSERT_EQ(0, set_log(&self->g, NULL, 0));
	log_free(&small);
	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	before = s.log_skipped;
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, a,
					 512, NULL));
	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	EXPECT_EQ(before + 2 + 1, s.log_skipped);
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
}

/*
 * A new log while the vring runs: the old one gets nothing more, and may
 * be unmapped as soon as the ioctl returned, as may a dropped one.
 */
TEST_F(log, replaced_while_running)
{
	uint64_t a = self->free + 0x800, b = self->free + 32 * PG + 0x800;
	uint8_t *old_expect = calloc(1, LOG_BYTES);
	struct log other = {};
	struct g_stats s;

	ASSERT_NE(NULL, old_expect);
	ASSERT_EQ(0, log_alloc(&other, LOG_BYTES));
	ASSERT_EQ(0, set_log(&self->g, self->l.map, self->l.bytes));
	ASSERT_EQ(0, set_log_all(&self->g, true));
	reset_expect(self);
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, a, PG,
					 self->expect));
	set_expect(self->expect, a, PG);

	ASSERT_EQ(0, set_log(&self->g, other.map, other.bytes));
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, b, PG,
					 old_expect));
	set_expect(old_expect, b, PG);
	check_log(_metadata, &self->l, self->expect);
	check_log(_metadata, &other, old_expect);

	/* Dropped, then unmapped at once: nothing touches it any more. */
	ASSERT_EQ(0, set_log(&self->g, NULL, 0));
	log_free(&other);
	ASSERT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, b, PG,
					 NULL));
	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
	EXPECT_EQ(0U, s.ring_errors);
	free(old_expect);
}

/*
 * A log the owner unmapped, or made read-only, while it is installed:
 * the request still completes, the vring stops with a ring error, and
 * the memory now at that address is not written.
 */
TEST_F(log, unmapped_by_the_owner)
{
	uint64_t a = self->free + 0x800;
	struct g_stats s;
	int st;

	ASSERT_EQ(0, set_log(&self->g, self->l.map, self->l.bytes));
	ASSERT_EQ(0, set_log_all(&self->g, true));
	ASSERT_EQ(0, mprotect(self->l.map, self->l.map_len, PROT_READ));
	st = do_at(&self->g, VIRTIO_BLK_T_IN, 0, a, PG, NULL);
	EXPECT_EQ(VIRTIO_BLK_S_OK, st);
	EXPECT_EQ(1, g_wait_err(&self->g, 0, TIMEOUT_MS));
	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	EXPECT_EQ(VHU_VRING_ERROR, s.state);
	EXPECT_EQ(1U, s.ring_errors);
	/* Nothing was written to it. */
	check_log(_metadata, &self->l, self->expect);

	/* Restart the vring; then the log goes away altogether. */
	ASSERT_EQ(0, g_enable(&self->g, 0, false));
	ASSERT_EQ(0, g_enable(&self->g, 0, true));
	ASSERT_EQ(0, munmap(self->l.map, self->l.map_len));
	self->l.map = NULL;
	st = do_at(&self->g, VIRTIO_BLK_T_IN, 0, a, PG, NULL);
	EXPECT_EQ(VIRTIO_BLK_S_OK, st);
	EXPECT_EQ(1, g_wait_err(&self->g, 0, TIMEOUT_MS));
	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	EXPECT_EQ(VHU_VRING_ERROR, s.state);
	EXPECT_EQ(2U, s.ring_errors);	/* they count from VHU_SET_VRING_NUM */
	/* The device is still sound: drop the log and go on. */
	ASSERT_EQ(0, set_log(&self->g, NULL, 0));
	ASSERT_EQ(0, g_enable(&self->g, 0, false));
	ASSERT_EQ(0, g_enable(&self->g, 0, true));
	EXPECT_EQ(VIRTIO_BLK_S_OK, do_at(&self->g, VIRTIO_BLK_T_IN, 0, a, PG,
					 NULL));
}

/* The argument checks of VHU_SET_LOG_BASE and of VHU_SET_VRING_ADDR. */
TEST_F(log, bad_args)
{
	struct vr *vr = &self->g.vq[0].vr;
	struct vhu_log l = { .user_addr = (uintptr_t)self->l.map, .size = 64 };
	struct vhu_vring_addr a = {
		.index = 0,
		.desc_user_addr = (uintptr_t)vr->desc,
		.avail_user_addr = (uintptr_t)vr->avail,
		.used_user_addr = (uintptr_t)vr->used,
	};
	struct vhu_api api;

	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_GET_API, &api));
	EXPECT_NE(0U, api.features & VHU_API_F_LOG);
	EXPECT_NE(0U, api.vring_addr_flags & VHU_VRING_F_LOG);

	EXPECT_EQ(0, ioctl(self->g.vhu, VHU_SET_LOG_BASE, &l));
	l.user_addr += 4;	/* misaligned */
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_LOG_BASE, &l));
	EXPECT_EQ(EINVAL, errno);
	l.user_addr = ~0ULL - 7;	/* wraps */
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_LOG_BASE, &l));
	EXPECT_EQ(EINVAL, errno);
	l.user_addr = 0xffff880000000000ULL;	/* not a user address */
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_LOG_BASE, &l));
	EXPECT_EQ(EFAULT, errno);
	l.user_addr = 0;	/* a size without a log */
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_LOG_BASE, &l));
	EXPECT_EQ(EINVAL, errno);
	l.user_addr = (uintptr_t)self->l.map;
	l.size = 0;		/* a log without a size */
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_LOG_BASE, &l));
	EXPECT_EQ(EINVAL, errno);
	l.size = 64;
	l.flags = 1;
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_LOG_BASE, &l));
	EXPECT_EQ(EINVAL, errno);
	l.flags = 0;
	l.reserved[2] = 1;
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_LOG_BASE, &l));
	EXPECT_EQ(EINVAL, errno);
	l.reserved[2] = 0;
	/* vhost's argument, a bare __u64: not this ioctl. */
	EXPECT_EQ(-1, ioctl(self->g.vhu, _IOW(VHU_IOCTL_TYPE, 0x04, __u64), &l));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_LOG_BASE, NULL));
	EXPECT_EQ(EFAULT, errno);
	l.user_addr = 0;
	l.size = 0;
	EXPECT_EQ(0, ioctl(self->g.vhu, VHU_SET_LOG_BASE, &l));

	/* An enabled vring: only the logging may change. */
	a.flags = VHU_VRING_F_LOG;
	a.log_guest_addr = used_gpa(&self->g, 0) + 2;
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_VRING_ADDR, &a));
	EXPECT_EQ(EINVAL, errno);
	a.log_guest_addr -= 2;
	EXPECT_EQ(0, ioctl(self->g.vhu, VHU_SET_VRING_ADDR, &a));
	a.flags = 2;
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_VRING_ADDR, &a));
	EXPECT_EQ(EINVAL, errno);
	a.flags = 0;
	a.used_user_addr += 4096;
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_VRING_ADDR, &a));
	EXPECT_EQ(EBUSY, errno);
}

/* Another process's ioctl: not the owner. */
TEST_F(log, not_the_owner)
{
	struct vhu_log l = { .user_addr = (uintptr_t)self->l.map, .size = 64 };
	pid_t pid;
	int st;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(ioctl(self->g.vhu, VHU_SET_LOG_BASE, &l) == -1 &&
		      errno == EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

/* A guest on a dm device that can hang, for requests held in flight. */
FIXTURE(late) {
	struct guest g;
	struct backend b;
	struct log l;
	bool up;		/* guest_up() called: guest_down() at the end */
	bool stalled;
};

FIXTURE_SETUP(late)
{
	self->up = false;
	self->stalled = false;
	self->l.map = NULL;
	srand(getpid());
}

FIXTURE_TEARDOWN(late)
{
	if (self->stalled)
		backend_stall(&self->b, false);
	if (self->up)
		guest_down(&self->g, &self->b);
	log_free(&self->l);
}

/*
 * A read taken before LOG_ALL was turned on, whose data lands after it:
 * the frontend's first sync must see its pages, and does (the device
 * finds a request's buffers when it completes, not when it takes it).
 */
TEST_F_TIMEOUT(late, read_in_flight_when_logging_starts, 120)
{
	const struct guest_cfg cfg = { .kind = B_DM, .nq = 1 };
	struct guest *g = &self->g;
	uint8_t *expect = calloc(1, LOG_BYTES);
	uint64_t f = 0, a;
	struct g_stats s;
	int slot, i;

	ASSERT_NE(NULL, expect);
	self->up = true;
	if (!guest_up(_metadata, g, &self->b, &cfg))
		return;
	ASSERT_EQ(0, ioctl(g->vhu, VHU_GET_FEATURES, &f));
	if (!(f & (1ULL << VHOST_F_LOG_ALL)))
		SKIP(return, "vhu.ko without dirty logging");
	ASSERT_EQ(0, log_alloc(&self->l, LOG_BYTES));
	a = g->vq[0].base + FREE_OFF + 0x800;

	ASSERT_EQ(0, backend_stall(&self->b, true));
	self->stalled = true;
	slot = g_slot_alloc(g, 0);
	ASSERT_LE(0, slot);
	ASSERT_EQ(0, g_submit_at(g, 0, slot, VIRTIO_BLK_T_IN, 8, 2 * PG, NULL, a));
	g_kick(g, 0, true);
	for (i = 0; i < 200; i++) {
		ASSERT_EQ(0, g_stats(g, 0, &s));
		if (s.inflight)
			break;
		usleep(10000);
	}
	ASSERT_EQ(1U, s.inflight);

	ASSERT_EQ(0, set_log(g, self->l.map, self->l.bytes));
	ASSERT_EQ(0, set_log_all(g, true));
	ASSERT_EQ(0, backend_stall(&self->b, false));
	self->stalled = false;
	ASSERT_EQ(1, g_wait(g, 0, 1, TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[slot]);
	set_expect(expect, a, 2 * PG);
	set_expect(expect, g_slot_gpa(g, 0, slot) + G_SLOT_STATUS, 1);
	check_log(_metadata, &self->l, expect);
	free(expect);
}

TEST_HARNESS_MAIN
