// SPDX-License-Identifier: GPL-2.0
/*
 * vhu datapath selftests on block devices: the checks of
 * vhu_datapath_test whose outcome depends on the backing store (random
 * I/O verified byte for byte, every request type), on a loop device with
 * direct I/O, null_blk, an NBD device and a brd RAM disk opened buffered.
 *
 * The tests of the rings and of the device itself do not depend on the
 * backing store and run on files only (vhu_datapath_test); here they are
 * reported as skipped, so both programs list the same tests.
 *
 * The bdev fixture holds what only a block device has: its page cache,
 * shared by every opener, and a read-only flag that can change under an
 * export.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "fixture.h"
#include "guest.h"

FIXTURE(dp) {
	struct guest g;
	struct backend b;
};

FIXTURE_VARIANT(dp) {
	struct guest_cfg cfg;
};

FIXTURE_VARIANT_ADD(dp, loop_4q) {
	.cfg = { .kind = B_LOOP, .nq = 4, .event_idx = true, .indirect = false },
};

FIXTURE_VARIANT_ADD(dp, nullblk_1q_indirect) {
	.cfg = { .kind = B_NULLBLK, .nq = 1, .event_idx = true, .indirect = true },
};

FIXTURE_VARIANT_ADD(dp, nbd_4q_indirect_noevidx) {
	.cfg = { .kind = B_NBD, .nq = 4, .event_idx = false, .indirect = true },
};

FIXTURE_VARIANT_ADD(dp, brd_buffered_1q) {
	.cfg = { .kind = B_BRD, .nq = 1, .event_idx = true, .indirect = false },
};

/* Guest memory pinned once (VHU_MEM_F_PIN): buffers are pinned pages. */
FIXTURE_VARIANT_ADD(dp, nullblk_2q_indirect_pinned) {
	.cfg = { .kind = B_NULLBLK, .nq = 2, .event_idx = true, .indirect = true,
		 .mem_flags = VHU_MEM_F_PIN },
};

FIXTURE_SETUP(dp)
{
	srand(getpid());
	guest_up(_metadata, &self->g, &self->b, &variant->cfg);
}

FIXTURE_TEARDOWN(dp)
{
	guest_down(&self->g, &self->b);
}

#define BACKEND_INDEPENDENT "backend-independent, run on files"

TEST_F_TIMEOUT(dp, random_rw, 600)
{
	check_random_rw(_metadata, &self->g, &self->b);
}

TEST_F_TIMEOUT(dp, mem_table_during_io, 600)
{
	SKIP(return, BACKEND_INDEPENDENT);
}

TEST_F_TIMEOUT(dp, request_types, 120)
{
	check_request_types(_metadata, &self->g, &self->b);
}

TEST_F_TIMEOUT(dp, blk_size_4096, 120)
{
	check_blk_size_4096(_metadata, &self->g, &self->b);
}

TEST_F_TIMEOUT(dp, oversized, 120)
{
	SKIP(return, BACKEND_INDEPENDENT);
}

TEST_F_TIMEOUT(dp, vring_base, 120)
{
	SKIP(return, BACKEND_INDEPENDENT);
}

TEST_F_TIMEOUT(dp, close_inflight, 120)
{
	SKIP(return, BACKEND_INDEPENDENT);
}

TEST_F_TIMEOUT(dp, exit_inflight, 120)
{
	SKIP(return, BACKEND_INDEPENDENT);
}

TEST_F_TIMEOUT(dp, mem_hotplug, 120)
{
	SKIP(return, BACKEND_INDEPENDENT);
}

FIXTURE(bdev) {
	struct guest g;
	struct backend b;
	int holder;	/* another opener's O_EXCL descriptor, or -1 */
	bool ro;	/* the test made the device read-only */
};

FIXTURE_VARIANT(bdev) {
	struct guest_cfg cfg;
	bool held;	/* someone else holds the device exclusively */
};

/* Both zero what they discard: memory freed, a hole punched in the file. */
FIXTURE_VARIANT_ADD(bdev, nullblk) {
	.cfg = { .kind = B_NULLBLK, .nq = 1, .event_idx = true },
};

FIXTURE_VARIANT_ADD(bdev, loop) {
	.cfg = { .kind = B_LOOP, .nq = 1, .event_idx = true },
};

/* The export's own descriptor is the device's exclusive holder. */
FIXTURE_VARIANT_ADD(bdev, nullblk_excl) {
	.cfg = { .kind = B_NULLBLK, .nq = 1, .event_idx = true, .excl = true },
};

/* Another opener holds the device exclusively, as a file system does. */
FIXTURE_VARIANT_ADD(bdev, nullblk_held) {
	.cfg = { .kind = B_NULLBLK, .nq = 1, .event_idx = true },
	.held = true,
};

FIXTURE_SETUP(bdev)
{
	srand(getpid());
	self->holder = -1;
	self->ro = false;
	if (!guest_up(_metadata, &self->g, &self->b, &variant->cfg))
		return;
	ASSERT_TRUE(g_offered(&self->g, VIRTIO_BLK_F_DISCARD));
	if (variant->held) {
		self->holder = open(self->b.path, O_RDONLY | O_EXCL | O_CLOEXEC);
		ASSERT_LE(0, self->holder) TH_LOG("%s", strerror(errno));
	}
}

FIXTURE_TEARDOWN(bdev)
{
	int off = 0;

	/* The device outlives the test (null_blk): leave it writable. */
	if (self->ro && ioctl(self->b.fd, BLKROSET, &off))
		TH_LOG("BLKROSET 0 on %s: %s", self->b.path, strerror(errno));
	if (self->holder >= 0)
		close(self->holder);
	guest_down(&self->g, &self->b);
}

/* The range the bdev tests discard: 128 KiB at 8 MiB. */
#define RANGE_SECTOR	16384ULL
#define RANGE_BYTES	(256U * 512)

/* A discard of the range by the guest: its status. */
static int range_op(struct guest *g, uint32_t type)
{
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = RANGE_SECTOR, .num_sectors = RANGE_BYTES / 512,
	};

	return g_do(g, 0, type, 0, &seg, sizeof(seg), NULL);
}

static int discard_range(struct guest *g)
{
	return range_op(g, VIRTIO_BLK_T_DISCARD);
}

/*
 * A range another opener of the device has read through the page cache
 * reads, after the guest's DISCARD, what the device holds: the zeroes of
 * the discard, not the data from before it. The cache is truncated, or
 * only invalidated while someone else holds the device exclusively.
 */
TEST_F_TIMEOUT(bdev, discard_drops_page_cache, 120)
{
	static uint8_t buf[RANGE_BYTES], zero[RANGE_BYTES];
	uint64_t off = RANGE_SECTOR * 512;
	unsigned char vec[RANGE_BYTES / 4096];
	unsigned int i;
	void *map;
	int fd;

	/* Buffered: the device's page cache, which all its openers share. */
	fd = open(self->b.path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ((ssize_t)RANGE_BYTES, pread(fd, buf, RANGE_BYTES, off));
	EXPECT_EQ(0, memcmp(buf, self->b.shadow + off, RANGE_BYTES));
	/* Cached now, or the check below would prove nothing. */
	map = mmap(NULL, RANGE_BYTES, PROT_READ, MAP_SHARED, fd, off);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(0, mincore(map, RANGE_BYTES, vec));
	munmap(map, RANGE_BYTES);
	for (i = 0; i < sizeof(vec); i++)
		ASSERT_EQ(1, vec[i] & 1) TH_LOG("page %u of the range not cached", i);

	ASSERT_EQ(VIRTIO_BLK_S_OK, discard_range(&self->g));
	memset(self->b.shadow + off, 0, RANGE_BYTES);
	/* The device zeroed the range (read past the cache: O_DIRECT). */
	ASSERT_EQ(0, backend_verify(&self->b))
		TH_LOG("%s does not read zeroes after a discard",
		       backing_name(self->b.kind));

	ASSERT_EQ((ssize_t)RANGE_BYTES, pread(fd, buf, RANGE_BYTES, off));
	EXPECT_EQ(0, memcmp(buf, zero, RANGE_BYTES))
		TH_LOG("the page cache still holds the data from before the discard");
	close(fd);
}

/*
 * A device made read-only after the export (blockdev --setro) refuses the
 * guest's DISCARD, as it refuses its writes, and keeps its data; made
 * writable again, it takes the DISCARD.
 */
TEST_F_TIMEOUT(bdev, discard_read_only, 120)
{
	static uint8_t buf[4096];
	int on = 1, off = 0;

	ASSERT_EQ(0, ioctl(self->b.fd, BLKROSET, &on)) TH_LOG("%s", strerror(errno));
	self->ro = true;

	EXPECT_EQ(VIRTIO_BLK_S_IOERR, discard_range(&self->g));
	memset(buf, 0xa5, sizeof(buf));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(&self->g, 0, VIRTIO_BLK_T_OUT,
					   RANGE_SECTOR, buf, sizeof(buf), NULL));
	/* Zeroes are writes too (the block layer lets them through). */
	if (g_offered(&self->g, VIRTIO_BLK_F_WRITE_ZEROES))
		EXPECT_EQ(VIRTIO_BLK_S_IOERR,
			  range_op(&self->g, VIRTIO_BLK_T_WRITE_ZEROES));
	EXPECT_EQ(0, backend_verify(&self->b));

	ASSERT_EQ(0, ioctl(self->b.fd, BLKROSET, &off));
	self->ro = false;
	EXPECT_EQ(VIRTIO_BLK_S_OK, discard_range(&self->g));
}

TEST_HARNESS_MAIN
