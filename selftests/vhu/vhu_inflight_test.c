// SPDX-License-Identifier: GPL-2.0
/*
 * vhu selftests of the inflight area (VHU_SET_VRING_INFLIGHT) and the
 * write cache mode (VHU_SET_WRITE_CACHE).
 *
 * A "previous backend" is simulated by writing the area and the rings the
 * way one that died would have left them, then enabling the vring as a
 * new backend does after a reconnect.
 */
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "fixture.h"
#include "guest.h"

#define IFL_BYTES	VHU_INFLIGHT_QUEUE_SIZE(G_NUM)
#define IFL_MAP		4096
#define HEAD(slot)	((unsigned int)(slot) * G_DESC_PER_SLOT)

FIXTURE(ifl) {
	struct guest g;
	struct backend b;
	struct vhu_inflight_queue *a;
};

FIXTURE_SETUP(ifl)
{
	const struct guest_cfg cfg = {
		.kind = B_FILE, .nq = 1, .event_idx = true,
	};

	self->a = MAP_FAILED;
	if (!guest_up(_metadata, &self->g, &self->b, &cfg))
		return;
	/* A fresh area, as a fresh memfd from GET_INFLIGHT_FD: all zero. */
	self->a = mmap(NULL, IFL_MAP, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, self->a);
}

FIXTURE_TEARDOWN(ifl)
{
	guest_down(&self->g, &self->b);
	if (self->a != MAP_FAILED)
		munmap(self->a, IFL_MAP);
}

static int ifl_attach(struct guest *g, void *addr, uint64_t size)
{
	struct vhu_vring_inflight f = {
		.index = 0, .user_addr = (uintptr_t)addr, .size = size,
	};

	return ioctl(g->vhu, VHU_SET_VRING_INFLIGHT, &f) ? -errno : 0;
}

/* Stop the vring as GET_VRING_BASE does; *base gets the next avail index. */
static int ring_stop(struct guest *g, uint32_t *base)
{
	struct vhu_vring_state s = { .index = 0 };

	if (ioctl(g->vhu, VHU_GET_VRING_BASE, &s))
		return -errno;
	if (base)
		*base = s.num;
	return 0;
}

static int ring_start(struct guest *g, uint32_t base)
{
	struct vhu_vring_state s = { .index = 0, .num = base };

	if (ioctl(g->vhu, VHU_SET_VRING_BASE, &s))
		return -errno;
	return g_enable(g, 0, true);
}

/* Make a write of @sector available with fresh data, noted in the shadow. */
static int submit_write(struct guest *g, struct backend *b, unsigned int slot,
			uint64_t sector, bool apply)
{
	uint8_t buf[4096];

	prng_fill(buf, sizeof(buf));
	if (apply)
		memcpy(b->shadow + sector * 512, buf, sizeof(buf));
	return g_submit(g, 0, slot, VIRTIO_BLK_T_OUT, sector, sizeof(buf), buf);
}

static uint64_t reqs_done(struct guest *g)
{
	struct g_stats s;

	if (g_stats(g, 0, &s))
		return ~0ULL;
	return s.reqs_in + s.reqs_out;
}

/*
 * The worker clears a batch in the area after it published the used index
 * and called (vhost-user's order), and then sets the area's used_idx: wait
 * for that, at most a second, before looking at the area.
 */
static void wait_area_used(struct vhu_inflight_queue *a, uint16_t idx)
{
	int i;

	for (i = 0; i < 1000 && __atomic_load_n(&a->used_idx, __ATOMIC_ACQUIRE) != idx; i++)
		usleep(1000);
}

/* A new area is initialized, then every request is tracked in it. */
TEST_F(ifl, tracks_requests)
{
	struct guest *g = &self->g;
	struct vhu_inflight_queue *a = self->a;
	uint32_t base = 0;
	unsigned int i;

	ASSERT_EQ(0, ring_stop(g, &base));
	ASSERT_EQ(0, ifl_attach(g, a, IFL_BYTES));
	ASSERT_EQ(0, ring_start(g, base));
	EXPECT_EQ(1, a->version);
	EXPECT_EQ(G_NUM, a->desc_num);
	EXPECT_EQ(g->vq[0].vr.used->idx, a->used_idx);

	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, submit_write(g, &self->b, i, 64 + i * 8, true));
	g_kick(g, 0, true);
	ASSERT_EQ(8, g_wait(g, 0, 8, TIMEOUT_MS));
	wait_area_used(a, 8);
	for (i = 0; i < 8; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[i]);
		/* Taken in avail order, then cleared once used. */
		EXPECT_EQ(i + 1, a->desc[HEAD(i)].counter);
		EXPECT_EQ(0, a->desc[HEAD(i)].inflight);
	}
	EXPECT_EQ(8, a->used_idx);
	EXPECT_EQ(8, g->vq[0].vr.used->idx);
	EXPECT_EQ(0, backend_verify(&self->b));
}

/*
 * What a dead backend had in flight is resubmitted first, oldest first,
 * then the avail ring resumes after it.
 */
TEST_F(ifl, resubmits_in_order)
{
	struct guest *g = &self->g;
	struct vhu_inflight_queue *a = self->a;
	static const uint64_t order[3] = { 7, 3, 5 };	/* slots 0, 1, 2 */
	struct g_stats s;
	uint8_t last[4096];
	uint32_t base = 0;
	unsigned int i;

	ASSERT_EQ(0, ring_stop(g, &base));
	ASSERT_EQ(0U, base);
	/* Three writes of one sector; the one with the highest counter wins. */
	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, submit_write(g, &self->b, i, 100, true));
		if (!i)
			memcpy(last, self->b.shadow + 100 * 512, sizeof(last));
	}
	memcpy(self->b.shadow + 100 * 512, last, sizeof(last));
	/* And one the dead backend never took. */
	ASSERT_EQ(0, submit_write(g, &self->b, 3, 200, true));

	a->version = 1;
	a->desc_num = G_NUM;
	for (i = 0; i < 3; i++) {
		a->desc[HEAD(i)].inflight = 1;
		a->desc[HEAD(i)].counter = order[i];
	}
	ASSERT_EQ(0, ifl_attach(g, a, IFL_BYTES));
	/* The frontend's base is the used index: 0. */
	ASSERT_EQ(0, ring_start(g, 0));
	g_kick(g, 0, true);
	ASSERT_EQ(4, g_wait(g, 0, 4, TIMEOUT_MS));
	wait_area_used(a, 4);
	for (i = 0; i < 4; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[i]);
		EXPECT_EQ(0, a->desc[HEAD(i)].inflight);
	}
	/* Resubmitted 1, 2, 0 (counters 3, 5, 7), then the new one. */
	EXPECT_EQ(8U, a->desc[HEAD(1)].counter);
	EXPECT_EQ(9U, a->desc[HEAD(2)].counter);
	EXPECT_EQ(10U, a->desc[HEAD(0)].counter);
	EXPECT_EQ(11U, a->desc[HEAD(3)].counter);
	EXPECT_EQ(4, a->used_idx);
	EXPECT_EQ(4U, reqs_done(g));
	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
	EXPECT_EQ(0, backend_verify(&self->b));
}

/*
 * The frontend guesses the base from the used index when the backend
 * dies; the kernel may have completed more since. The area knows better.
 */
TEST_F(ifl, stale_base)
{
	struct guest *g = &self->g;
	struct g_stats s;
	uint8_t buf[512];
	uint32_t base = 0;
	unsigned int i;

	ASSERT_EQ(0, ring_stop(g, &base));
	ASSERT_EQ(0, ifl_attach(g, self->a, IFL_BYTES));
	ASSERT_EQ(0, ring_start(g, base));
	for (i = 0; i < 5; i++)
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  g_do(g, 0, VIRTIO_BLK_T_IN, i, buf, 512, NULL));
	ASSERT_EQ(0, ring_stop(g, &base));
	ASSERT_EQ(5U, base);
	ASSERT_EQ(0, ring_start(g, 2));
	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(5U, s.last_avail_idx);
	ASSERT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, 9, buf, 512, NULL));
	EXPECT_EQ(0, memcmp(buf, self->b.shadow + 9 * 512, 512));
	/* Nothing ran twice. */
	EXPECT_EQ(6U, reqs_done(g));
	EXPECT_EQ(6, g->vq[0].vr.used->idx);
}

/* A batch published in the used ring but not cleared is not redone. */
TEST_F(ifl, clears_published_batch)
{
	struct guest *g = &self->g;
	struct vhu_inflight_queue *a = self->a;
	struct g_vq *vq = &g->vq[0];
	struct g_stats s;
	uint32_t base = 0;
	unsigned int i;

	ASSERT_EQ(0, ring_stop(g, &base));
	/* Slots 0 and 1 "completed" (their data never reaches the disk). */
	ASSERT_EQ(0, submit_write(g, &self->b, 0, 300, false));
	ASSERT_EQ(0, submit_write(g, &self->b, 1, 308, false));
	ASSERT_EQ(0, submit_write(g, &self->b, 2, 316, true));
	vq->vr.used->ring[0] = (struct vring_used_elem){ .id = HEAD(0), .len = 1 };
	vq->vr.used->ring[1] = (struct vring_used_elem){ .id = HEAD(1), .len = 1 };
	__atomic_store_n(&vq->vr.used->idx, 2, __ATOMIC_RELEASE);

	a->version = 1;
	a->desc_num = G_NUM;
	a->used_idx = 0;
	a->last_batch_head = HEAD(1);
	a->desc[HEAD(1)].next = HEAD(0);
	for (i = 0; i < 3; i++) {
		a->desc[HEAD(i)].inflight = 1;
		a->desc[HEAD(i)].counter = i + 1;
	}
	ASSERT_EQ(0, ifl_attach(g, a, IFL_BYTES));
	ASSERT_EQ(0, ring_start(g, 2));
	EXPECT_EQ(0, a->desc[HEAD(0)].inflight);
	EXPECT_EQ(0, a->desc[HEAD(1)].inflight);
	g_kick(g, 0, true);
	ASSERT_EQ(3, g_wait(g, 0, 3, TIMEOUT_MS));
	wait_area_used(a, 3);
	EXPECT_EQ(HEAD(2), vq->vr.used->ring[2].id);
	EXPECT_EQ(VIRTIO_BLK_S_OK, vq->status[2]);
	EXPECT_EQ(1U, reqs_done(g));
	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
	EXPECT_EQ(3U, s.last_avail_idx);
	EXPECT_EQ(3, a->used_idx);
	EXPECT_EQ(0, backend_verify(&self->b));
}

/* Bad arguments and inconsistent areas: clear errors, nothing lost. */
TEST_F(ifl, bad_areas)
{
	struct guest *g = &self->g;
	struct vhu_inflight_queue *a = self->a;
	struct vhu_vring_inflight f = { .index = 0, .padding = 1 };
	struct g_stats s;
	uint8_t buf[512];
	uint16_t used;
	uint32_t base = 0;
	void *gone;

	EXPECT_EQ(-EBUSY, ifl_attach(g, a, IFL_BYTES));
	ASSERT_EQ(0, ring_stop(g, &base));
	f.user_addr = (uintptr_t)a;
	f.size = IFL_BYTES;
	EXPECT_EQ(-1, ioctl(g->vhu, VHU_SET_VRING_INFLIGHT, &f));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-EINVAL, ifl_attach(g, (uint8_t *)a + 4, IFL_BYTES));
	EXPECT_EQ(-EINVAL, ifl_attach(g, a, IFL_BYTES - 1));
	EXPECT_EQ(0, ifl_attach(g, NULL, 0));
	f.index = VHU_MAX_QUEUES;
	f.padding = 0;
	EXPECT_EQ(-1, ioctl(g->vhu, VHU_SET_VRING_INFLIGHT, &f));
	EXPECT_EQ(EINVAL, errno);

	used = g->vq[0].vr.used->idx;
	a->version = 1;
	a->desc_num = G_NUM;
	/* A last batch longer than the ring. */
	a->used_idx = used + 200;
	ASSERT_EQ(0, ifl_attach(g, a, IFL_BYTES));
	EXPECT_EQ(-EINVAL, ring_start(g, base));
	/* A batch list leaving the ring. */
	a->used_idx = used - 1;
	a->last_batch_head = G_NUM + 5;
	EXPECT_EQ(-EINVAL, ring_start(g, base));
	/* An area for another ring size starts over. */
	a->used_idx = 0;
	a->desc_num = G_NUM / 2;
	a->desc[HEAD(3)].inflight = 1;
	ASSERT_EQ(0, ring_start(g, base));
	EXPECT_EQ(G_NUM, a->desc_num);
	EXPECT_EQ(0, a->desc[HEAD(3)].inflight);
	EXPECT_EQ(used, a->used_idx);
	EXPECT_EQ(0U, reqs_done(g));

	/* An area that is gone. */
	ASSERT_EQ(0, ring_stop(g, &base));
	gone = mmap(NULL, IFL_MAP, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, gone);
	ASSERT_EQ(0, ifl_attach(g, gone, IFL_BYTES));
	munmap(gone, IFL_MAP);
	EXPECT_EQ(-EFAULT, ring_start(g, base));

	/* One that turns read-only while the ring runs: a ring error. */
	ASSERT_EQ(0, ifl_attach(g, a, IFL_BYTES));
	ASSERT_EQ(0, ring_start(g, base));
	ASSERT_EQ(0, mprotect(a, IFL_MAP, PROT_READ));
	ASSERT_EQ(0, g_slot_alloc(g, 0));
	ASSERT_EQ(0, g_submit(g, 0, 0, VIRTIO_BLK_T_IN, 5, 512, NULL));
	g_kick(g, 0, true);
	EXPECT_EQ(1, g_wait_err(g, 0, TIMEOUT_MS));
	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(VHU_VRING_ERROR, s.state);

	/* Writable again: the request was not lost, it runs on restart. */
	ASSERT_EQ(0, mprotect(a, IFL_MAP, PROT_READ | PROT_WRITE));
	ASSERT_EQ(0, ring_stop(g, &base));
	ASSERT_EQ(0, ring_start(g, base));
	ASSERT_EQ(1, g_wait(g, 0, 1, TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[0]);
	g_read(g, g_slot_data(g, 0, 0), buf, 512);
	EXPECT_EQ(0, memcmp(buf, self->b.shadow + 5 * 512, 512));
}

/* Write-through mode: argument checks, and writes still land. */
TEST_F(ifl, write_cache)
{
	struct guest *g = &self->g;
	uint32_t wce = 2;
	unsigned int i;

	EXPECT_EQ(-1, ioctl(g->vhu, VHU_SET_WRITE_CACHE, &wce));
	EXPECT_EQ(EINVAL, errno);
	wce = 0;
	ASSERT_EQ(0, ioctl(g->vhu, VHU_SET_WRITE_CACHE, &wce));
	for (i = 0; i < 8; i++)
		ASSERT_EQ(0, submit_write(g, &self->b, i, 400 + i * 8, true));
	g_kick(g, 0, true);
	ASSERT_EQ(8, g_wait(g, 0, 8, TIMEOUT_MS));
	for (i = 0; i < 8; i++)
		EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[i]);
	wce = 1;
	ASSERT_EQ(0, ioctl(g->vhu, VHU_SET_WRITE_CACHE, &wce));
	EXPECT_EQ(0, backend_verify(&self->b));
}

TEST_HARNESS_MAIN
