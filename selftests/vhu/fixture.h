/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the datapath selftest programs share that reports through the
 * kselftest harness (helpers taking its _metadata, in the style of the
 * Linux kernel's tools/testing/selftests/iommu/iommufd_utils.h): the
 * fixture setup of a guest on a backing store, and the checks that both
 * vhu_datapath_test (files) and vhu_blkdev_test (block devices) run.
 */
#ifndef VHU_SELFTEST_FIXTURE_H
#define VHU_SELFTEST_FIXTURE_H

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "guest.h"

/* A guest on a backing store, as a fixture sets it up. */
struct guest_cfg {
	enum backing kind;
	uint32_t flags;		/* VHU_BACKEND_F_* */
	unsigned int nq;
	bool event_idx;
	bool indirect;
	unsigned int num0;	/* queue 0's ring size, G_NUM if 0 */
	bool excl;		/* export a block device opened O_EXCL */
	uint32_t mem_flags;	/* VHU_MEM_F_* (VHU_SET_MEM_FLAGS) */
};

/*
 * Fixture setup: a backing store as @cfg says and a device on it driven
 * by @g. False after a SKIP (no vhu.ko, or no such backing store here):
 * the setup must return then.
 */
static inline bool guest_up(struct __test_metadata *_metadata,
			    struct guest *g, struct backend *b,
			    const struct guest_cfg *cfg)
{
	int ret;

	memset(g, 0, sizeof(*g));
	memset(b, 0, sizeof(*b));
	g->vhu = -1;
	b->fd = -1;
	if (!vhu_present())
		SKIP(return false, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	ret = backend_up(b, cfg->kind, false);
	if (ret == -ENODEV)
		SKIP(return false, "backing store %s unavailable",
		     backing_name(cfg->kind));
	ASSERT_EQ(0, ret);
	if (cfg->excl) {
		/* The same file, now the device's exclusive holder. */
		int fd = open(b->path, fcntl(b->fd, F_GETFL) | O_EXCL | O_CLOEXEC);

		ASSERT_LE(0, fd) TH_LOG("O_EXCL %s: %s", b->path, strerror(errno));
		close(b->fd);
		b->fd = fd;
	}
	ASSERT_EQ(0, g_open(g));
	g->nq = cfg->nq;
	g->event_idx = cfg->event_idx;
	g->indirect = cfg->indirect;
	g->mem_flags = cfg->mem_flags;
	g->vq[0].num = cfg->num0;
	ASSERT_EQ(0, set_backend(g, b, cfg->flags, cfg->nq));
	ASSERT_EQ(0, g_setup_vrings(g));
	return true;
}

/*
 * Fixture setup of a device with an owner and the guest's memory, but no
 * backing store, memory table or vrings yet: for tests of what is set
 * before those. False after a SKIP (no vhu.ko): the setup must return
 * then. guest_down() undoes it.
 */
static inline bool guest_open(struct __test_metadata *_metadata,
			      struct guest *g, struct backend *b)
{
	memset(g, 0, sizeof(*g));
	memset(b, 0, sizeof(*b));
	g->vhu = -1;
	g->memfd = -1;
	b->fd = -1;
	if (!vhu_present())
		SKIP(return false, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	ASSERT_EQ(0, g_open(g));
	return true;
}

/* Fixture teardown: undo guest_up() or guest_open(). */
static inline void guest_down(struct guest *g, struct backend *b)
{
	g_close(g);
	g_mem_fini(g);
	backend_down(b);
}

/* Random reads and writes on every queue; the counters agree. */
static inline void check_random_rw(struct __test_metadata *_metadata,
				   struct guest *g, struct backend *b)
{
	struct g_stats s;
	uint64_t reqs = 0;
	unsigned int q;

	ASSERT_EQ(0, random_io(g, b, 300, false));
	ASSERT_EQ(0, backend_verify(b));
	for (q = 0; q < g->nq; q++) {
		ASSERT_EQ(0, g_stats(g, q, &s));
		EXPECT_EQ(VHU_VRING_RUNNING, s.state);
		EXPECT_EQ(0U, s.reqs_ioerr);
		EXPECT_EQ(0U, s.ring_errors);
		EXPECT_EQ(0U, s.inflight);
		reqs += s.reqs_in + s.reqs_out;
	}
	EXPECT_EQ(300U, reqs);
}

/*
 * Every request type the backing store may or may not support, and
 * requests out of range or misaligned.
 */
static inline void check_request_types(struct __test_metadata *_metadata,
				       struct guest *g, struct backend *b)
{
	struct virtio_blk_discard_write_zeroes seg[2];
	static uint8_t buf[G_MAX_DATA], zero[G_MAX_DATA];
	uint32_t used = 0;
	int st;

	/* GET_ID */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_GET_ID, 0, buf,
					VHU_BLK_ID_BYTES, &used));
	EXPECT_EQ(VHU_BLK_ID_BYTES + 1U, used);
	EXPECT_EQ(0, memcmp(buf, SERIAL, VHU_BLK_ID_BYTES));

	/* FLUSH */
	st = g_do(g, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &used);
	EXPECT_EQ(g_offered(g, VIRTIO_BLK_F_FLUSH) ? VIRTIO_BLK_S_OK :
		  VIRTIO_BLK_S_UNSUPP, st);
	EXPECT_EQ(1U, used);

	/* WRITE_ZEROES without and with UNMAP, two segments */
	seg[0] = (struct virtio_blk_discard_write_zeroes){ .sector = 2048, .num_sectors = 64 };
	seg[1] = (struct virtio_blk_discard_write_zeroes){ .sector = 9000, .num_sectors = 8 };
	st = g_do(g, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, sizeof(seg), &used);
	if (g_offered(g, VIRTIO_BLK_F_WRITE_ZEROES)) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, st);
		memset(b->shadow + 2048 * 512, 0, 64 * 512);
		memset(b->shadow + 9000 * 512, 0, 8 * 512);
		EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, 2048, buf,
						64 * 512, NULL));
		EXPECT_EQ(0, memcmp(buf, zero, 64 * 512));

		seg[0] = (struct virtio_blk_discard_write_zeroes){
			.sector = 4096, .num_sectors = 32,
			.flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };
		EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0,
						seg, sizeof(seg[0]), NULL));
		memset(b->shadow + 4096 * 512, 0, 32 * 512);
		EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, 4096, buf,
						32 * 512, NULL));
		EXPECT_EQ(0, memcmp(buf, zero, 32 * 512));

		/* unknown flag */
		seg[0].flags = 2;
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP,
			  g_do(g, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg,
			       sizeof(seg[0]), NULL));
		/* beyond the end */
		seg[0] = (struct virtio_blk_discard_write_zeroes){
			.sector = DISK_SECTORS - 8, .num_sectors = 16 };
		EXPECT_EQ(VIRTIO_BLK_S_IOERR,
			  g_do(g, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg,
			       sizeof(seg[0]), NULL));
		/* not a whole segment */
		EXPECT_EQ(VIRTIO_BLK_S_IOERR,
			  g_do(g, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, 12, NULL));
	} else {
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, st);
	}

	/* DISCARD: contents undefined afterwards, so re-write the range. */
	seg[0] = (struct virtio_blk_discard_write_zeroes){ .sector = 16384, .num_sectors = 256 };
	st = g_do(g, 0, VIRTIO_BLK_T_DISCARD, 0, seg, sizeof(seg[0]), NULL);
	if (g_offered(g, VIRTIO_BLK_F_DISCARD)) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, st);
		memset(buf, 0x5a, 256 * 512 > G_MAX_DATA ? G_MAX_DATA : 256 * 512);
		EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_OUT, 16384, buf,
						G_MAX_DATA, NULL));
		EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_OUT,
						16384 + G_MAX_DATA / 512, buf,
						G_MAX_DATA, NULL));
		memset(b->shadow + 16384 * 512, 0x5a, 2 * G_MAX_DATA);
		seg[0].flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, g_do(g, 0, VIRTIO_BLK_T_DISCARD, 0,
						    seg, sizeof(seg[0]), NULL));
	} else {
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, st);
	}

	/* Unknown type */
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, g_do(g, 0, 0x7f, 0, NULL, 0, &used));
	EXPECT_EQ(1U, used);
	/* ... also when its low byte is IN, OUT or FLUSH: all 32 bits count. */
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, g_do(g, 0, 0x100 | VIRTIO_BLK_T_IN, 0,
					    buf, 512, &used));
	EXPECT_EQ(1U, used);
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, g_do(g, 0, 0x100 | VIRTIO_BLK_T_OUT, 0,
					    NULL, 0, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, g_do(g, 0, 0x100 | VIRTIO_BLK_T_FLUSH, 0,
					    NULL, 0, NULL));

	/* Out of range, straddling the end, misaligned length */
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_IN, DISK_SECTORS,
					   buf, 512, &used));
	EXPECT_EQ(1U, used);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_IN, DISK_SECTORS - 1,
					   buf, 1024, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_IN, 0, buf, 100, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_OUT, 8, buf, 100, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_OUT, ~0ULL, buf, 512, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_OUT, DISK_SECTORS - 1,
					   buf, 1024, NULL));

	/* A zero-length read is fine */
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, 0, NULL, 0, &used));
	EXPECT_EQ(1U, used);

	ASSERT_EQ(0, backend_verify(b));
}

/*
 * 4096-byte logical blocks on any backing store, whatever its physical
 * block: set while the vrings are stopped, reported, and enforced.
 */
static inline void check_blk_size_4096(struct __test_metadata *_metadata,
				       struct guest *g, struct backend *b)
{
	static uint8_t buf[4096];
	struct vhu_dev_info info;
	unsigned int q;

	for (q = 0; q < g->nq; q++)
		ASSERT_EQ(0, g_enable(g, q, false));
	ASSERT_EQ(0, set_backend_blk(g, b, 0, g->nq, 4096));
	memset(&info, 0, sizeof(info));
	ASSERT_EQ(0, ioctl(g->vhu, VHU_GET_DEV_INFO, &info));
	EXPECT_EQ(4096U, info.config.blk_size);
	EXPECT_GE(15U, info.config.physical_block_exp);
	for (q = 0; q < g->nq; q++)
		ASSERT_EQ(0, g_enable(g, q, true));
	prng_fill(buf, sizeof(buf));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_OUT, 64, buf, sizeof(buf), NULL));
	memcpy(b->shadow + 64 * 512, buf, sizeof(buf));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_OUT, 1, buf, 512, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_IN, 4, buf, 4096, NULL));
	EXPECT_EQ(0, backend_verify(b));
}

#endif
