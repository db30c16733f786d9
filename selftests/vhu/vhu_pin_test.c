// SPDX-License-Identifier: GPL-2.0
/*
 * vhu selftests of pinned guest memory (VHU_SET_MEM_FLAGS, VHU_MEM_F_PIN):
 * the regions are pinned when they enter the table and charged to the
 * owner's RLIMIT_MEMLOCK (VmLck), a table over the limit is refused and
 * leaves nothing charged, a region that leaves the table is unpinned, and
 * a request whose buffer lies in pages the owner truncated from its memfd
 * still completes, on the pages that were pinned. Reads and writes with
 * pinning on are checked by vhu_datapath_test and vhu_blkdev_test's
 * "pinned" variants.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "fixture.h"
#include "guest.h"

/* VmLck of this process, in KiB, or -1. */
static long vmlck_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "re");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* Drop CAP_IPC_LOCK from the effective set: RLIMIT_MEMLOCK then applies. */
static int drop_ipc_lock(void)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct d[2];

	if (syscall(SYS_capget, &h, d))
		return -errno;
	d[CAP_IPC_LOCK / 32].effective &= ~(1U << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &h, d) ? -errno : 0;
}

/* Both limits: the hard one may be below @bytes (root may raise it). */
static int set_memlock(rlim_t bytes)
{
	struct rlimit r = { .rlim_cur = bytes, .rlim_max = bytes };

	return setrlimit(RLIMIT_MEMLOCK, &r) ? -errno : 0;
}

#define G_MEM_KB	((long)(G_MEM_SIZE >> 10))

FIXTURE(pin) {
	struct guest g;
	struct backend b;
};

FIXTURE_SETUP(pin)
{
	guest_open(_metadata, &self->g, &self->b);
}

FIXTURE_TEARDOWN(pin)
{
	guest_down(&self->g, &self->b);
}

/* The flag's own rules: known bits only, before the table and ring sizes. */
TEST_F(pin, set_mem_flags)
{
	struct vhu_vring_state s = { .index = 0, .num = 16 };
	struct vhu_api api;
	uint32_t flags = 2;

	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_GET_API, &api));
	ASSERT_TRUE(api.features & VHU_API_F_PIN_MEMORY);
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_MEM_FLAGS, &flags));
	EXPECT_EQ(EINVAL, errno);
	flags = VHU_MEM_F_PIN;
	EXPECT_EQ(0, ioctl(self->g.vhu, VHU_SET_MEM_FLAGS, &flags));
	/* Nothing is pinned before there is a table. */
	EXPECT_EQ(0, vmlck_kb());
	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_SET_VRING_NUM, &s));
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_MEM_FLAGS, &flags));
	EXPECT_EQ(EBUSY, errno);
	/* The reset forgets the flags and the ring sizes. */
	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_RESET_OWNER));
	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_SET_OWNER));
	flags = 0;
	ASSERT_EQ(0, g_set_mem_table(&self->g));
	EXPECT_EQ(0, vmlck_kb());
	EXPECT_EQ(-1, ioctl(self->g.vhu, VHU_SET_MEM_FLAGS, &flags));
	EXPECT_EQ(EBUSY, errno);
}

/*
 * The table is charged to VmLck while installed; the same table again
 * keeps its pins (no double charge); removing a region unpins and
 * uncharges it; closing the device uncharges the rest.
 */
TEST_F(pin, charged_and_released)
{
	struct vhu_mem_region r1 = {
		.guest_phys_addr = G_GPA_BASE + G_REGION_SPLIT,
		.memory_size = G_MEM_SIZE - G_REGION_SPLIT,
		.userspace_addr = (uintptr_t)self->g.map[1],
	};
	uint32_t flags = VHU_MEM_F_PIN;

	ASSERT_EQ(0, vmlck_kb());
	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_SET_MEM_FLAGS, &flags));
	ASSERT_EQ(0, g_set_mem_table(&self->g));
	EXPECT_EQ(G_MEM_KB, vmlck_kb());
	ASSERT_EQ(0, g_set_mem_table(&self->g));
	EXPECT_EQ(G_MEM_KB, vmlck_kb());
	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_DEL_MEM_REGION, &r1));
	EXPECT_EQ((long)(G_REGION_SPLIT >> 10), vmlck_kb());
	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_ADD_MEM_REGION, &r1));
	EXPECT_EQ(G_MEM_KB, vmlck_kb());
	close(self->g.vhu);
	self->g.vhu = -1;
	EXPECT_EQ(0, vmlck_kb());
}

/*
 * Without CAP_IPC_LOCK, a table over RLIMIT_MEMLOCK is refused with
 * -ENOMEM and nothing stays charged; the old table stays; under the
 * limit it is accepted. In a child: the capability does not come back.
 */
TEST_F(pin, rlimit_memlock)
{
	int status;
	pid_t pid;

	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint32_t flags = VHU_MEM_F_PIN;
		struct vhu_mem_region r0 = {
			.guest_phys_addr = G_GPA_BASE,
			.memory_size = G_REGION_SPLIT,
			.userspace_addr = (uintptr_t)self->g.map[0],
		};

		/* The child's own device: the parent's belongs to its mm. */
		close(self->g.vhu);
		self->g.vhu = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
		if (self->g.vhu < 0 || ioctl(self->g.vhu, VHU_SET_OWNER) ||
		    ioctl(self->g.vhu, VHU_SET_MEM_FLAGS, &flags))
			_exit(10);
		if (drop_ipc_lock())
			_exit(11);
		if (set_memlock(G_MEM_SIZE / 2 + 4096))
			_exit(19);
		/* Both regions: over the limit. */
		if (g_set_mem_table(&self->g) != -ENOMEM)
			_exit(12);
		if (vmlck_kb() != 0)
			_exit(13);
		/* One region: under it. */
		if (ioctl(self->g.vhu, VHU_ADD_MEM_REGION, &r0))
			_exit(14);
		if (vmlck_kb() != (long)(G_REGION_SPLIT >> 10))
			_exit(15);
		/* The second one no longer fits: refused, the first stays. */
		r0.guest_phys_addr += G_REGION_SPLIT;
		r0.userspace_addr = (uintptr_t)self->g.map[1];
		if (ioctl(self->g.vhu, VHU_ADD_MEM_REGION, &r0) != -1 || errno != ENOMEM)
			_exit(16);
		if (vmlck_kb() != (long)(G_REGION_SPLIT >> 10))
			_exit(17);
		close(self->g.vhu);
		_exit(vmlck_kb() == 0 ? 0 : 18);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * The owner truncates its memfd under region 1 while it is pinned: its
 * mapping of region 1 faults now (SIGBUS), but the device still reads
 * and writes the pinned pages, so a read into region 1 completes OK, as
 * does a write from it, and closing the device unpins all.
 */
TEST_F(pin, shrunk_memfd)
{
	const struct guest_cfg cfg = { .kind = B_FILE, .nq = 1, .event_idx = true,
				       .mem_flags = VHU_MEM_F_PIN };
	uint64_t data = G_GPA_BASE + G_REGION_SPLIT + (1 << 20);
	unsigned int slot;

	/* guest_up() opens its own device: drop the fixture's. */
	guest_down(&self->g, &self->b);
	if (!guest_up(_metadata, &self->g, &self->b, &cfg))
		return;
	ASSERT_EQ(0, g_enable(&self->g, 0, true));
	EXPECT_EQ(G_MEM_KB, vmlck_kb());
	/* Queue 0's rings and slots are in region 0, which stays. */
	ASSERT_EQ(0, ftruncate(self->g.memfd, G_REGION_SPLIT));

	slot = g_slot_alloc(&self->g, 0);
	ASSERT_EQ(0, g_submit_at(&self->g, 0, slot, VIRTIO_BLK_T_IN, 8, 4096, NULL, data));
	g_kick(&self->g, 0, true);
	ASSERT_EQ(1, g_wait(&self->g, 0, 1, TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->g.vq[0].status[slot]);
	EXPECT_EQ(4097U, self->g.vq[0].used_len[slot]);

	slot = g_slot_alloc(&self->g, 0);
	ASSERT_EQ(0, g_submit_at(&self->g, 0, slot, VIRTIO_BLK_T_OUT, 16, 4096, NULL, data));
	g_kick(&self->g, 0, true);
	ASSERT_EQ(1, g_wait(&self->g, 0, 1, TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, self->g.vq[0].status[slot]);

	g_close(&self->g);
	EXPECT_EQ(0, vmlck_kb());
}

TEST_HARNESS_MAIN
