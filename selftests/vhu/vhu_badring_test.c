// SPDX-License-Identifier: GPL-2.0
/*
 * vhu datapath selftests with malicious rings: descriptor loops, nested
 * or unnegotiated indirect tables, indices out of range, a head offered
 * twice, buffers and rings outside guest memory, odd lengths and layouts.
 * Each must end in IOERR or the err eventfd with the queue in ERROR, never
 * in an oops or a hang (the VM rig fails the run on any kernel warning),
 * and the device's other queue keeps working.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "fixture.h"
#include "guest.h"

/* Malicious rings on queue 0; queue 1 must keep working. */
FIXTURE(bad) {
	struct guest g;
	struct backend b;
};

FIXTURE_VARIANT(bad) {
	bool event_idx;
	bool indirect;
};

FIXTURE_VARIANT_ADD(bad, plain) { .event_idx = false, .indirect = false };
FIXTURE_VARIANT_ADD(bad, evidx) { .event_idx = true, .indirect = false };
FIXTURE_VARIANT_ADD(bad, indirect) { .event_idx = false, .indirect = true };
FIXTURE_VARIANT_ADD(bad, evidx_indirect) { .event_idx = true, .indirect = true };

FIXTURE_SETUP(bad)
{
	const struct guest_cfg cfg = {
		.kind = B_FILE, .nq = 2,
		.event_idx = variant->event_idx, .indirect = variant->indirect,
	};

	srand(getpid());
	guest_up(_metadata, &self->g, &self->b, &cfg);
}

FIXTURE_TEARDOWN(bad)
{
	guest_down(&self->g, &self->b);
}

/* Write a request header into slot 0 of @q; return its gpa. */
static uint64_t put_hdr(struct guest *g, unsigned int q, uint32_t type,
			uint64_t sector)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	uint64_t gpa = g_slot_gpa(g, q, 0);
	uint8_t sentinel = 0xee;

	g_write(g, gpa, &h, sizeof(h));
	g_write(g, gpa + G_SLOT_STATUS, &sentinel, 1);
	return gpa;
}

static uint8_t slot0_status(struct guest *g, unsigned int q)
{
	uint8_t st;

	g_read(g, g_slot_gpa(g, q, 0) + G_SLOT_STATUS, &st, 1);
	return st;
}

/* Queue @q is broken: err fd signalled, state ERROR; queue 1 still works. */
static void expect_ring_error(struct __test_metadata *_metadata,
			      struct guest *g, struct backend *b)
{
	struct g_stats s;
	uint8_t buf[512];

	EXPECT_EQ(1, g_wait_err(g, 0, TIMEOUT_MS));
	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(VHU_VRING_ERROR, s.state);
	EXPECT_EQ(1U, s.ring_errors);
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 1, VIRTIO_BLK_T_IN, 0, buf, 512, NULL));
	EXPECT_EQ(0, memcmp(buf, b->shadow, 512));
	EXPECT_EQ(0, backend_verify(b));
}

/* Offer @head on queue 0 and kick: the ring error must follow. */
static void offer_bad(struct __test_metadata *_metadata, struct guest *g,
		      struct backend *b, uint16_t head)
{
	g_publish(g, 0, head);
	g_kick(g, 0, true);
	expect_ring_error(_metadata, g, b);
}

static void expect_used(struct __test_metadata *_metadata, struct guest *g,
			uint32_t len)
{
	struct vring_used_elem e;

	ASSERT_EQ(1, g_wait(g, 0, 1, TIMEOUT_MS));
	e = g->vq[0].vr.used->ring[(uint16_t)(g->vq[0].vr.last_used - 1) % G_NUM];
	EXPECT_EQ(0U, e.id);
	EXPECT_EQ(len, e.len);
}

TEST_F(bad, desc_loop)
{
	struct guest *g = &self->g;
	struct vring_desc *d = g->vq[0].vr.desc;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);

	vr_set_desc(&d[0], h, 16, VRING_DESC_F_NEXT, 1);
	vr_set_desc(&d[1], g_slot_data(g, 0, 0), 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	offer_bad(_metadata, g, &self->b, 0);
}

TEST_F(bad, indirect_loop)
{
	struct guest *g = &self->g;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	uint64_t tgpa = h + 64;
	struct vring_desc t[2];

	vr_set_desc(&t[0], h, 16, VRING_DESC_F_NEXT, 1);
	vr_set_desc(&t[1], g_slot_data(g, 0, 0), 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	g_write(g, tgpa, t, sizeof(t));
	/* A loop, or an indirect descriptor that was not negotiated. */
	vr_set_desc(&g->vq[0].vr.desc[0], tgpa, sizeof(t), VRING_DESC_F_INDIRECT, 0);
	offer_bad(_metadata, g, &self->b, 0);
}

TEST_F(bad, nested_indirect)
{
	struct guest *g = &self->g;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	uint64_t tgpa = h + 64;
	struct vring_desc t[1];

	vr_set_desc(&t[0], tgpa, sizeof(t), VRING_DESC_F_INDIRECT, 0);
	g_write(g, tgpa, t, sizeof(t));
	vr_set_desc(&g->vq[0].vr.desc[0], tgpa, sizeof(t), VRING_DESC_F_INDIRECT, 0);
	offer_bad(_metadata, g, &self->b, 0);
}

TEST_F(bad, next_out_of_range)
{
	struct guest *g = &self->g;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);

	vr_set_desc(&g->vq[0].vr.desc[0], h, 16, VRING_DESC_F_NEXT, G_NUM + 3);
	offer_bad(_metadata, g, &self->b, 0);
}

TEST_F(bad, head_out_of_range)
{
	struct guest *g = &self->g;

	offer_bad(_metadata, g, &self->b, G_NUM + 7);
}

/* A head offered again while it is in flight: a ring error, once served. */
TEST_F(bad, duplicate_head)
{
	struct guest *g = &self->g;

	ASSERT_EQ(0, g_slot_alloc(g, 0));
	ASSERT_EQ(0, g_submit(g, 0, 0, VIRTIO_BLK_T_IN, 0, 512, NULL));
	/* Both in the avail ring before the kick: one pass sees both. */
	offer_bad(_metadata, g, &self->b, 0);
	/* The first one completed, exactly once. */
	EXPECT_EQ(1, g_wait(g, 0, 1, TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[0]);
	EXPECT_EQ(1, g->vq[0].vr.used->idx);
}

TEST_F(bad, avail_jump)
{
	struct guest *g = &self->g;
	struct g_vq *vq = &g->vq[0];

	vq->vr.avail_idx += G_NUM + 1;
	vr_publish(&vq->vr);
	g_kick(g, 0, true);
	expect_ring_error(_metadata, g, &self->b);
}

/* Buffers outside every region: IOERR, the backend untouched. */
TEST_F(bad, outside_regions)
{
	struct guest *g = &self->g;
	struct vring_desc *d = g->vq[0].vr.desc;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_OUT, 0);
	struct g_stats s;

	vr_set_desc(&d[0], h, 16, VRING_DESC_F_NEXT, 1);
	vr_set_desc(&d[1], 0x1000, 512, VRING_DESC_F_NEXT, 2);
	vr_set_desc(&d[2], h + G_SLOT_STATUS, 1, VRING_DESC_F_WRITE, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, slot0_status(g, 0));

	/* Past the end of guest memory, and straddling the end. */
	put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	vr_set_desc(&d[1], G_GPA_BASE + G_MEM_SIZE - 256, 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, slot0_status(g, 0));

	/* The status byte itself outside: used with length 0. */
	put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	vr_set_desc(&d[1], g_slot_data(g, 0, 0), 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	vr_set_desc(&d[2], 0x2000, 1, VRING_DESC_F_WRITE, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 0);

	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(3U, s.reqs_ioerr);
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
	EXPECT_EQ(0, backend_verify(&self->b));
}

/* Rings must lie in the memory table, when enabled and while running. */
TEST_F(bad, rings_outside_regions)
{
	struct guest *g = &self->g;
	struct g_vq *vq = &g->vq[0];
	struct vhu_vring_addr a = {
		.index = 0,
		.desc_user_addr = (uintptr_t)vq->vr.desc,
		.avail_user_addr = (uintptr_t)vq->vr.avail,
		.used_user_addr = (uintptr_t)vq->vr.used,
	};
	struct vhu_mem_region r0 = {
		.guest_phys_addr = G_GPA_BASE,
		.memory_size = G_REGION_SPLIT,
		.userspace_addr = (uintptr_t)g->map[0],
	};
	struct vhu_vring_state s = { .index = 0 };
	uint8_t buf[512];
	void *outside;

	/* Queue 0's rings are in region 0: it cannot go while they run. */
	EXPECT_EQ(-1, ioctl(g->vhu, VHU_DEL_MEM_REGION, &r0));
	EXPECT_EQ(EBUSY, errno);
	ASSERT_EQ(0, ioctl(g->vhu, VHU_GET_VRING_BASE, &s));

	/* Mapped in our address space, but not guest memory. */
	outside = mmap(NULL, 4096, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, outside);
	memcpy(outside, vq->vr.desc, 4096);
	a.desc_user_addr = (uintptr_t)outside;
	ASSERT_EQ(0, ioctl(g->vhu, VHU_SET_VRING_ADDR, &a));
	ASSERT_EQ(0, ioctl(g->vhu, VHU_SET_VRING_BASE, &s));
	EXPECT_EQ(-EFAULT, g_enable(g, 0, true));
	/* A used ring running off the end of region 0. */
	a.desc_user_addr = (uintptr_t)vq->vr.desc;
	a.used_user_addr = (uintptr_t)g->map[0] + G_REGION_SPLIT - 64;
	ASSERT_EQ(0, ioctl(g->vhu, VHU_SET_VRING_ADDR, &a));
	EXPECT_EQ(-EFAULT, g_enable(g, 0, true));
	munmap(outside, 4096);

	/* Back inside: the vring runs, and the table can change around it. */
	a.used_user_addr = (uintptr_t)vq->vr.used;
	ASSERT_EQ(0, ioctl(g->vhu, VHU_SET_VRING_ADDR, &a));
	ASSERT_EQ(0, g_enable(g, 0, true));
	ASSERT_EQ(0, g_set_mem_table(g));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, 0, buf, 512, NULL));
	EXPECT_EQ(0, memcmp(buf, self->b.shadow, 512));
}

/* Zero-length descriptors are skipped; huge ones fail the request. */
TEST_F(bad, zero_and_huge_len)
{
	struct guest *g = &self->g;
	struct vring_desc *d = g->vq[0].vr.desc;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 16);
	uint8_t buf[4096];

	vr_set_desc(&d[0], h, 16, VRING_DESC_F_NEXT, 1);
	vr_set_desc(&d[1], g_slot_data(g, 0, 0), 0,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	vr_set_desc(&d[2], g_slot_data(g, 0, 0), 4096,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	vr_set_desc(&d[3], h + G_SLOT_STATUS, 1, VRING_DESC_F_WRITE, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 4097);
	EXPECT_EQ(VIRTIO_BLK_S_OK, slot0_status(g, 0));
	g_read(g, g_slot_data(g, 0, 0), buf, sizeof(buf));
	EXPECT_EQ(0, memcmp(buf, self->b.shadow + 16 * 512, sizeof(buf)));

	put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	vr_set_desc(&d[1], g_slot_data(g, 0, 0), 0xffffffff,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, slot0_status(g, 0));
}

/* The header may be split over descriptors (any layout); too short fails. */
TEST_F(bad, header_split)
{
	struct guest *g = &self->g;
	struct vring_desc *d = g->vq[0].vr.desc;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 24);
	uint8_t buf[1024];

	vr_set_desc(&d[0], h, 5, VRING_DESC_F_NEXT, 1);
	vr_set_desc(&d[1], h + 5, 7, VRING_DESC_F_NEXT, 2);
	vr_set_desc(&d[2], h + 12, 4, VRING_DESC_F_NEXT, 3);
	vr_set_desc(&d[3], g_slot_data(g, 0, 0), 1024,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 4);
	vr_set_desc(&d[4], h + G_SLOT_STATUS, 1, VRING_DESC_F_WRITE, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1025);
	EXPECT_EQ(VIRTIO_BLK_S_OK, slot0_status(g, 0));
	g_read(g, g_slot_data(g, 0, 0), buf, sizeof(buf));
	EXPECT_EQ(0, memcmp(buf, self->b.shadow + 24 * 512, sizeof(buf)));

	/* Only 8 header bytes. */
	put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	vr_set_desc(&d[0], h, 8, VRING_DESC_F_NEXT, 4);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, slot0_status(g, 0));
}

/* Status in a device-readable descriptor: never written, request fails. */
TEST_F(bad, status_readonly)
{
	struct guest *g = &self->g;
	struct vring_desc *d = g->vq[0].vr.desc;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_OUT, 0);
	struct g_stats s;

	vr_set_desc(&d[0], h, 16, VRING_DESC_F_NEXT, 1);
	vr_set_desc(&d[1], g_slot_data(g, 0, 0), 512, VRING_DESC_F_NEXT, 2);
	vr_set_desc(&d[2], h + G_SLOT_STATUS, 1, 0, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 0);
	EXPECT_EQ(0xee, slot0_status(g, 0));

	/* Writable data, then a readable status: wrong order. */
	put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	vr_set_desc(&d[1], g_slot_data(g, 0, 0), 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(0xee, slot0_status(g, 0));

	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(2U, s.reqs_ioerr);
	EXPECT_EQ(0, backend_verify(&self->b));
}

/*
 * A write of @nseg 512-byte segments from sector @sector in one indirect
 * table (in queue 0's memory past its slots), with @npad zero-length
 * descriptors before the status: header, segments, padding, status.
 * Return: the table's length in descriptors.
 */
static unsigned int long_write(struct guest *g, unsigned int nseg,
			       unsigned int npad, uint64_t sector)
{
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_OUT, sector);
	uint64_t tgpa = g->vq[0].base + (4UL << 20);
	uint64_t data = g->vq[0].base + (6UL << 20);
	unsigned int n = 0, i;
	struct vr_buf *b;

	b = calloc(nseg + npad + 2, sizeof(*b));
	if (!b)
		return 0;
	b[n++] = (struct vr_buf){ h, 16, false };
	for (i = 0; i < nseg; i++)
		b[n++] = (struct vr_buf){ data + i * 512, 512, false };
	for (i = 0; i < npad; i++)
		b[n++] = (struct vr_buf){ data, 0, false };
	b[n++] = (struct vr_buf){ h + G_SLOT_STATUS, 1, true };
	vr_fill_chain(g_ptr(g, tgpa), 0, b, n);
	free(b);
	vr_add_indirect(&g->vq[0].vr, 0, tgpa, n);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	return n;
}

/*
 * seg_max (VHU_MAX_SEG) data segments make a table of VHU_MAX_SEG + 2
 * descriptors, longer than the ring: served. One more segment fails
 * that request alone (IOERR), as many zero-length descriptors do not. A
 * table over 65536 descriptors is a ring error.
 */
TEST_F(bad, long_indirect)
{
	struct guest *g = &self->g;
	uint64_t data = g->vq[0].base + (6UL << 20);
	size_t bytes = (VHU_MAX_SEG + 1) * 512;
	struct g_stats s;
	uint8_t *buf;

	if (!variant->indirect)
		SKIP(return, "needs indirect descriptors");
	buf = malloc(bytes);
	ASSERT_NE(NULL, buf);
	prng_fill(buf, bytes);
	g_write(g, data, buf, bytes);

	EXPECT_EQ(VHU_MAX_SEG + 2, long_write(g, VHU_MAX_SEG, 0, 64));
	expect_used(_metadata, g, 1);
	EXPECT_EQ(VIRTIO_BLK_S_OK, slot0_status(g, 0));
	memcpy(self->b.shadow + 64 * 512, buf, VHU_MAX_SEG * 512);
	EXPECT_EQ(0, backend_verify(&self->b));

	/* One segment over seg_max: IOERR, the backend untouched. */
	long_write(g, VHU_MAX_SEG + 1, 0, 4096);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, slot0_status(g, 0));
	EXPECT_EQ(0, backend_verify(&self->b));

	/* Zero-length descriptors are no segments: 2000 descriptors served. */
	long_write(g, 16, 2000 - 18, 8192);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(VIRTIO_BLK_S_OK, slot0_status(g, 0));
	memcpy(self->b.shadow + 8192 * 512, buf, 16 * 512);
	EXPECT_EQ(0, backend_verify(&self->b));

	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
	EXPECT_EQ(0U, s.ring_errors);
	EXPECT_EQ(1U, s.reqs_ioerr);
	free(buf);

	/* 65537 descriptors: the vring stops. */
	long_write(g, 16, 65537 - 18, 0);
	expect_ring_error(_metadata, g, &self->b);
}

TEST_HARNESS_MAIN
