// SPDX-License-Identifier: GPL-2.0
/*
 * vhu selftests with a backend that takes its time: a write held back by
 * dm-delay keeps the file system it goes to from freezing until it
 * completes, as for aio and io_uring.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "fixture.h"
#include "guest.h"

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

/* How long dm-delay holds the file's I/O. */
#define DELAY_MS	3000

FIXTURE(stall) {
	struct guest g;
	struct backend b;
	bool up;		/* guest_up() called: guest_down() at the end */
	int frozen;		/* a directory of the file system we froze, or -1 */
};

FIXTURE_SETUP(stall)
{
	self->up = false;
	self->frozen = -1;
	srand(getpid());
}

FIXTURE_TEARDOWN(stall)
{
	if (self->frozen >= 0) {
		ioctl(self->frozen, FITHAW, 0);
		close(self->frozen);
	}
	if (self->up)
		guest_down(&self->g, &self->b);
}

/*
 * A write in flight on a file holds off a freeze of its file system until
 * it completes: FIFREEZE returns with the write done, not with it still
 * in flight under a frozen file system.
 */
TEST_F_TIMEOUT(stall, freeze_waits_for_write, 120)
{
	const struct guest_cfg cfg = { .kind = B_FSDM, .nq = 1 };
	struct guest *g = &self->g;
	char dir[PATH_MAX];
	uint8_t buf[4096];
	double t0, t1;
	int slot, done;

	self->up = true;
	if (!guest_up(_metadata, g, &self->b, &cfg))
		return;
	ASSERT_EQ(0, backend_delay(&self->b, DELAY_MS));
	snprintf(dir, sizeof(dir), "%s", self->b.path);
	self->frozen = open(dirname(dir), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	ASSERT_LE(0, self->frozen);

	prng_fill(buf, sizeof(buf));
	memcpy(self->b.shadow, buf, sizeof(buf));
	slot = g_slot_alloc(g, 0);
	ASSERT_LE(0, slot);
	ASSERT_EQ(0, g_submit(g, 0, slot, VIRTIO_BLK_T_OUT, 0, sizeof(buf), buf));
	g_kick(g, 0, true);
	/* The write is on its way to dm-delay. */
	usleep(300000);

	t0 = now_ms();
	ASSERT_EQ(0, ioctl(self->frozen, FIFREEZE, 0));
	t1 = now_ms();
	/* Done, but the worker may not have put it in the used ring yet. */
	done = g_wait(g, 0, 1, 500);
	ASSERT_EQ(0, ioctl(self->frozen, FITHAW, 0));
	close(self->frozen);
	self->frozen = -1;
	TH_LOG("FIFREEZE took %.0f ms; the write was %s", t1 - t0,
	       done ? "complete" : "still in flight");
	EXPECT_EQ(1, done);

	if (!done)
		ASSERT_EQ(1, g_wait(g, 0, 1, TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[slot]);
	ASSERT_EQ(0, backend_delay(&self->b, 0));
	EXPECT_EQ(0, backend_verify(&self->b));
}

TEST_HARNESS_MAIN
