// SPDX-License-Identifier: GPL-2.0
/*
 * vhu durability selftests. The backing store is a null_blk device with a
 * volatile write cache (vhu_backing.sh wcache): a power cycle loses every
 * write no FLUSH or FUA made durable (null_blk caches writes to blocks it
 * does not store yet only, so the device starts unwritten and every test
 * writes where nothing was written). Writes in write-through mode
 * (VHU_SET_WRITE_CACHE 0: submitted O_DSYNC) and write-back writes
 * followed by a FLUSH must survive one; write-back writes without a flush
 * must not, the control that shows the other tests can fail. The block
 * device is opened O_DIRECT (durable by FUA) and buffered (by a flush once
 * the page cache is written).
 */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "fixture.h"
#include "guest.h"

FIXTURE(wc) {
	struct guest g;
	struct backend b;
};

FIXTURE_VARIANT(wc) {
	enum backing kind;
	uint32_t mem_flags;
};

FIXTURE_VARIANT_ADD(wc, direct) { .kind = B_WCACHE };
FIXTURE_VARIANT_ADD(wc, buffered) { .kind = B_WCACHE_BUFFERED };
/* Pinned guest memory: writes are bios of the module's own (REQ_FUA). */
FIXTURE_VARIANT_ADD(wc, direct_pinned) { .kind = B_WCACHE, .mem_flags = VHU_MEM_F_PIN };

FIXTURE_SETUP(wc)
{
	const struct guest_cfg cfg = { .kind = variant->kind, .nq = 1, .event_idx = true,
				       .mem_flags = variant->mem_flags };

	srand(getpid());
	guest_up(_metadata, &self->g, &self->b, &cfg);
}

FIXTURE_TEARDOWN(wc)
{
	guest_down(&self->g, &self->b);
}

/* 8 writes of new data, 64 KiB each, 1 MiB apart, noted in @expect. */
static void write_some(struct __test_metadata *_metadata, struct guest *g,
		       uint8_t *expect)
{
	static uint8_t buf[G_MAX_DATA];
	unsigned int i;

	for (i = 0; i < 8; i++) {
		uint64_t sector = (2 * i + 1) * 2048;

		prng_fill(buf, sizeof(buf));
		ASSERT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_OUT, sector, buf,
						sizeof(buf), NULL));
		memcpy(expect + sector * 512, buf, sizeof(buf));
	}
	/* The device reads back what it took. */
	ASSERT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, 2048, buf, sizeof(buf),
					NULL));
	ASSERT_EQ(0, memcmp(buf, expect + 2048 * 512, sizeof(buf)));
}

static void set_write_cache(struct __test_metadata *_metadata, struct guest *g,
			    uint32_t mode)
{
	ASSERT_EQ(0, ioctl(g->vhu, VHU_SET_WRITE_CACHE, &mode));
}

/* Close the device (its backend goes), power the backing store off and on. */
static void power_cycle(struct __test_metadata *_metadata, struct guest *g,
			struct backend *b)
{
	g_close(g);
	ASSERT_EQ(0, backend_cycle(b));
}

TEST_F(wc, write_through)
{
	set_write_cache(_metadata, &self->g, 0);
	write_some(_metadata, &self->g, self->b.shadow);
	power_cycle(_metadata, &self->g, &self->b);
	EXPECT_EQ(0, backend_verify(&self->b));
}

TEST_F(wc, write_back_flush)
{
	write_some(_metadata, &self->g, self->b.shadow);
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(&self->g, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, NULL));
	power_cycle(_metadata, &self->g, &self->b);
	EXPECT_EQ(0, backend_verify(&self->b));
}

/* The control: the device keeps what it had before the unflushed writes. */
TEST_F(wc, write_back_lost)
{
	uint8_t *written = malloc(DISK_BYTES);

	ASSERT_NE(NULL, written);
	memcpy(written, self->b.shadow, DISK_BYTES);
	write_some(_metadata, &self->g, written);
	free(written);
	power_cycle(_metadata, &self->g, &self->b);
	EXPECT_EQ(0, backend_verify(&self->b));
}

TEST_HARNESS_MAIN
