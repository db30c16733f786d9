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
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

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

TEST_HARNESS_MAIN
