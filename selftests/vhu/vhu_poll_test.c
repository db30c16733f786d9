// SPDX-License-Identifier: GPL-2.0
/*
 * vhu selftests of busy polling (VHU_SET_VRING_BUSY_POLL): the value's
 * rules (set and get, a bad index, the upper bound, the reset), and what
 * it does: with polling on, a request made available without a kick
 * right after one completed is taken within the window; with polling
 * off it is not, until the driver kicks; and once a window ended the
 * device asks for kicks again, so none is lost. How much polling saves
 * is for the benchmarks (Documentation/performance.rst), not for a test.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "fixture.h"
#include "guest.h"

/* Tries at a request without a kick inside a window; one must succeed. */
#define POLL_TRIES	50

static int get_poll(int fd, unsigned int index, uint32_t *usec)
{
	struct vhu_vring_state s = { .index = index, .num = 12345 };

	if (ioctl(fd, VHU_GET_VRING_BUSY_POLL, &s))
		return -errno;
	*usec = s.num;
	return 0;
}

static int set_poll(int fd, unsigned int index, uint32_t usec)
{
	struct vhu_vring_state s = { .index = index, .num = usec };

	return ioctl(fd, VHU_SET_VRING_BUSY_POLL, &s) ? -errno : 0;
}

/* The ioctls alone: no vring needs a size for them. */
FIXTURE(poll_ioctl) {
	struct guest g;
	struct backend b;
};

FIXTURE_SETUP(poll_ioctl)
{
	guest_open(_metadata, &self->g, &self->b);
}

FIXTURE_TEARDOWN(poll_ioctl)
{
	guest_down(&self->g, &self->b);
}

TEST_F(poll_ioctl, set_get)
{
	int fd = self->g.vhu;
	struct vhu_api api;
	uint32_t v = 0;
	unsigned int q;

	ASSERT_EQ(0, ioctl(fd, VHU_GET_API, &api));
	ASSERT_TRUE(api.features & VHU_API_F_BUSY_POLL);

	/* Off by default on every vring. */
	for (q = 0; q < VHU_MAX_QUEUES; q++) {
		ASSERT_EQ(0, get_poll(fd, q, &v));
		EXPECT_EQ(0U, v);
	}
	EXPECT_EQ(0, set_poll(fd, 0, 50));
	EXPECT_EQ(0, set_poll(fd, VHU_MAX_QUEUES - 1, VHU_MAX_BUSY_POLL_US));
	ASSERT_EQ(0, get_poll(fd, 0, &v));
	EXPECT_EQ(50U, v);
	ASSERT_EQ(0, get_poll(fd, VHU_MAX_QUEUES - 1, &v));
	EXPECT_EQ((uint32_t)VHU_MAX_BUSY_POLL_US, v);
	ASSERT_EQ(0, get_poll(fd, 1, &v));
	EXPECT_EQ(0U, v);

	/* Over the bound: refused, the value stays. */
	EXPECT_EQ(-EINVAL, set_poll(fd, 0, VHU_MAX_BUSY_POLL_US + 1));
	EXPECT_EQ(-EINVAL, set_poll(fd, 0, UINT32_MAX));
	ASSERT_EQ(0, get_poll(fd, 0, &v));
	EXPECT_EQ(50U, v);

	/* A bad index, both ways. */
	EXPECT_EQ(-EINVAL, set_poll(fd, VHU_MAX_QUEUES, 10));
	EXPECT_EQ(-EINVAL, set_poll(fd, UINT32_MAX, 10));
	EXPECT_EQ(-EINVAL, get_poll(fd, VHU_MAX_QUEUES, &v));

	/* Back to off, and the reset turns it off too. */
	EXPECT_EQ(0, set_poll(fd, 0, 0));
	ASSERT_EQ(0, get_poll(fd, 0, &v));
	EXPECT_EQ(0U, v);
	EXPECT_EQ(0, set_poll(fd, 0, 7));
	ASSERT_EQ(0, ioctl(fd, VHU_RESET_OWNER));
	ASSERT_EQ(0, ioctl(fd, VHU_SET_OWNER));
	ASSERT_EQ(0, get_poll(fd, 0, &v));
	EXPECT_EQ(0U, v);
	ASSERT_EQ(0, get_poll(fd, VHU_MAX_QUEUES - 1, &v));
	EXPECT_EQ(0U, v);
}

/* Without an owner it is refused, as every vring ioctl. */
TEST_F(poll_ioctl, needs_owner)
{
	uint32_t v = 0;

	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_RESET_OWNER));
	EXPECT_EQ(-EPERM, set_poll(self->g.vhu, 0, 10));
	EXPECT_EQ(-EPERM, get_poll(self->g.vhu, 0, &v));
	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_SET_OWNER));
}

/* A running guest, with and without EVENT_IDX, pinned or not. */
FIXTURE(poll) {
	struct guest g;
	struct backend b;
};

FIXTURE_VARIANT(poll) {
	bool event_idx;
	uint32_t mem_flags;
};

FIXTURE_VARIANT_ADD(poll, evidx) {
	.event_idx = true,
};

FIXTURE_VARIANT_ADD(poll, noevidx) {
	.event_idx = false,
};

FIXTURE_VARIANT_ADD(poll, evidx_pinned) {
	.event_idx = true,
	.mem_flags = VHU_MEM_F_PIN,
};

FIXTURE_SETUP(poll)
{
	const struct guest_cfg cfg = {
		.kind = B_FILE, .nq = 1, .event_idx = variant->event_idx,
		.mem_flags = variant->mem_flags,
	};

	if (!guest_up(_metadata, &self->g, &self->b, &cfg))
		return;
	ASSERT_EQ(0, g_enable(&self->g, 0, true));
}

FIXTURE_TEARDOWN(poll)
{
	guest_down(&self->g, &self->b);
}

/*
 * One read that completes (the worker's pass moves a request, so it
 * polls afterwards if polling is on), then one more made available at
 * once without a kick. The guest spins on the used ring for the first,
 * as a polling driver does, rather than sleep on the call eventfd: the
 * second then comes early in the window. Return: its slot, or -1.
 */
static int read_then_publish(struct __test_metadata *_metadata,
			     struct guest *g, uint8_t *buf)
{
	time_t end = time(NULL) + 10;
	int slot;

	slot = g_slot_alloc(g, 0);
	EXPECT_LE(0, slot);
	if (slot < 0)
		return -1;
	EXPECT_EQ(0, g_submit(g, 0, slot, VIRTIO_BLK_T_IN, 8, 4096, NULL));
	g_kick(g, 0, false);
	while (!g->vq[0].done[slot] && time(NULL) < end)
		g_wait(g, 0, 1, 0);
	EXPECT_TRUE(g->vq[0].done[slot]);
	EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[slot]);
	g_read(g, g_slot_data(g, 0, slot), buf, 4096);
	slot = g_slot_alloc(g, 0);
	EXPECT_LE(0, slot);
	if (slot < 0)
		return -1;
	EXPECT_EQ(0, g_submit(g, 0, slot, VIRTIO_BLK_T_IN, 16, 4096, NULL));
	return slot;
}

TEST_F_TIMEOUT(poll, unkicked_request, 120)
{
	struct guest *g = &self->g;
	static uint8_t buf[4096];
	int i, slot, taken = 0, got;

	/* Off (the default): a request made available without a kick waits for it. */
	for (i = 0; i < 3; i++) {
		slot = read_then_publish(_metadata, g, buf);
		ASSERT_LE(0, slot);
		EXPECT_EQ(0, g_wait(g, 0, 1, 300));
		EXPECT_FALSE(g->vq[0].done[slot]);
		/* The device asked for the kick, which takes it. */
		g_kick(g, 0, false);
		ASSERT_EQ(1, g_wait(g, 0, 1, 10000));
		EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[slot]);
	}

	/*
	 * On: the same request is taken without a kick. The worker yields
	 * to any task runnable on its CPU, as this one spinning on the used
	 * ring would be on a single CPU.
	 */
	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: the poller yields it to this test");
	/*
	 * The window starts when the worker used the first read and the
	 * test must publish the second inside it, which a slow machine (an
	 * emulated one) may miss now and then: one try of many must land.
	 */
	for (i = 0; i < POLL_TRIES && !taken; i++) {
		/*
		 * A miss is a long idle time to the worker, which halves
		 * its window: setting the value starts it there again.
		 */
		ASSERT_EQ(0, set_poll(g->vhu, 0, VHU_MAX_BUSY_POLL_US));
		slot = read_then_publish(_metadata, g, buf);
		ASSERT_LE(0, slot);
		got = g_wait(g, 0, 1, 100);
		if (got == 1) {
			taken = 1;
			EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[slot]);
			break;
		}
		/* Missed the window: the device asked for a kick again. */
		g_kick(g, 0, false);
		ASSERT_EQ(1, g_wait(g, 0, 1, 10000));
	}
	TH_LOG("taken without a kick at try %d of %d", i + 1, POLL_TRIES);
	EXPECT_EQ(1, taken);
}

/*
 * Once a window ended, the device asks for kicks again: a request made
 * available then, kicked only if the device asks (as a driver does), is
 * taken. Also while the request before is still being used, and over
 * many requests in a row (a poll after each), with data checked.
 */
TEST_F_TIMEOUT(poll, no_lost_kick, 120)
{
	struct guest *g = &self->g;
	static uint8_t buf[4096];
	int i;

	ASSERT_EQ(0, set_poll(g->vhu, 0, 200));
	for (i = 0; i < 20; i++) {
		prng_fill(buf, sizeof(buf));
		memcpy(self->b.shadow + (uint64_t)i * 4096, buf, sizeof(buf));
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  g_do(g, 0, VIRTIO_BLK_T_OUT, i * 8, buf, sizeof(buf), NULL));
		/* Every other time: after the window ended. */
		if (i % 2)
			usleep(5000);
	}
	EXPECT_EQ(0, backend_verify(&self->b));
	ASSERT_EQ(0, random_io(g, &self->b, 200, false));
	EXPECT_EQ(0, backend_verify(&self->b));
}

/*
 * Reads @n times, @gap_us apart (0: back to back), then the vring's
 * counters into @s, logged as @what.
 */
static void reads(struct __test_metadata *_metadata, struct guest *g,
		  int n, unsigned int gap_us, const char *what,
		  struct g_stats *s)
{
	static uint8_t buf[4096];
	int i;

	for (i = 0; i < n; i++) {
		ASSERT_EQ(VIRTIO_BLK_S_OK,
			  g_do(g, 0, VIRTIO_BLK_T_IN, (i % 64) * 8, buf,
			       sizeof(buf), NULL));
		if (gap_us)
			usleep(gap_us);
	}
	ASSERT_EQ(0, g_stats(g, 0, s));
	TH_LOG("%s: window %llu ns, %llu polls, %llu hits", what,
	       (unsigned long long)s->poll_ns, (unsigned long long)s->polls,
	       (unsigned long long)s->poll_hits);
}

/*
 * The window adapts: requests 5 ms apart, more than any window may be,
 * shrink it from the value to at most 10 us (the window that a
 * completion's short gap may grow it to again); back to back they grow
 * it again, and polls find the requests.
 */
TEST_F_TIMEOUT(poll, adapts, 120)
{
	struct guest *g = &self->g;
	struct g_stats s;
	uint64_t polls, hits;

	if (sysconf(_SC_NPROCESSORS_ONLN) < 2)
		SKIP(return, "one CPU: the poller yields it to this test");
	ASSERT_EQ(0, set_poll(g->vhu, 0, VHU_MAX_BUSY_POLL_US));
	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(0U, s.polls);
	EXPECT_EQ(0U, s.poll_hits);

	/* 1000 us halves to below 10 us in 7 gaps. */
	reads(_metadata, g, 12, 5000, "far apart", &s);
	EXPECT_GE(10000U, s.poll_ns);
	EXPECT_LE(1U, s.polls);
	polls = s.polls;
	hits = s.poll_hits;

	reads(_metadata, g, 300, 0, "back to back", &s);
	EXPECT_LT(10000U, s.poll_ns);
	EXPECT_GE(VHU_MAX_BUSY_POLL_US * 1000U, s.poll_ns);
	EXPECT_LT(polls, s.polls);
	EXPECT_LT(hits, s.poll_hits);
	EXPECT_GE(s.polls, s.poll_hits);

	/* And down again. */
	reads(_metadata, g, 12, 5000, "far apart again", &s);
	EXPECT_GE(10000U, s.poll_ns);
	EXPECT_EQ(312U + 12U, s.reqs_in);
	EXPECT_EQ(0U, s.ring_errors);
}

/* Stopping the vring while it polls, and enabling it again. */
TEST_F_TIMEOUT(poll, stop_while_polling, 120)
{
	struct guest *g = &self->g;
	static uint8_t buf[4096];
	struct g_stats s;
	int i;

	ASSERT_EQ(0, set_poll(g->vhu, 0, VHU_MAX_BUSY_POLL_US));
	for (i = 0; i < 10; i++) {
		EXPECT_EQ(VIRTIO_BLK_S_OK,
			  g_do(g, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf), NULL));
		/* The worker polls now: stop it under the poller's feet. */
		ASSERT_EQ(0, g_enable(g, 0, false));
		ASSERT_EQ(0, g_enable(g, 0, true));
	}
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  g_do(g, 0, VIRTIO_BLK_T_IN, 0, buf, sizeof(buf), NULL));
	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
	EXPECT_EQ(0U, s.ring_errors);
	EXPECT_EQ(11U, s.reqs_in);
}

TEST_HARNESS_MAIN
