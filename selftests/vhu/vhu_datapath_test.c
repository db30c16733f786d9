// SPDX-License-Identifier: GPL-2.0
/*
 * vhu datapath selftests on files: a userspace guest (guest.c) drives
 * /dev/vhu directly, with its memory in a memfd, its own split rings and
 * eventfds, against a file opened buffered or with O_DIRECT, then checks
 * every byte against the shadow copy and the file (backend.c). Also the
 * device on a read-only file, the netlink stats, and the ioctl ABI.
 * vhu_blkdev_test runs the checks whose outcome depends on the backing
 * store on block devices; vhu_badring_test feeds malicious rings.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <signal.h>
#include <sys/fanotify.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>

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

FIXTURE_VARIANT_ADD(dp, file_1q) {
	.cfg = { .kind = B_FILE, .nq = 1, .event_idx = true, .indirect = false },
};

FIXTURE_VARIANT_ADD(dp, file_4q_indirect_noevidx) {
	.cfg = { .kind = B_FILE, .nq = 4, .event_idx = false, .indirect = true },
};

FIXTURE_VARIANT_ADD(dp, file_direct_1q_noevidx) {
	.cfg = { .kind = B_FILE_DIRECT, .nq = 1, .event_idx = false, .indirect = false },
};

FIXTURE_VARIANT_ADD(dp, file_direct_4q_indirect) {
	.cfg = { .kind = B_FILE_DIRECT, .nq = 4, .event_idx = true, .indirect = true },
};

/* Guest memory pinned once (VHU_MEM_F_PIN): buffers are pinned pages. */
FIXTURE_VARIANT_ADD(dp, file_direct_4q_indirect_pinned) {
	.cfg = { .kind = B_FILE_DIRECT, .nq = 4, .event_idx = true, .indirect = true,
		 .mem_flags = VHU_MEM_F_PIN },
};

FIXTURE_VARIANT_ADD(dp, file_1q_pinned) {
	.cfg = { .kind = B_FILE, .nq = 1, .event_idx = true, .mem_flags = VHU_MEM_F_PIN },
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

TEST_F_TIMEOUT(dp, random_rw, 600)
{
	check_random_rw(_metadata, &self->g, &self->b);
}

TEST_F_TIMEOUT(dp, mem_table_during_io, 600)
{
	ASSERT_EQ(0, random_io(&self->g, &self->b, 120, true));
	ASSERT_EQ(0, backend_verify(&self->b));
}

TEST_F_TIMEOUT(dp, request_types, 120)
{
	check_request_types(_metadata, &self->g, &self->b);
}

/* An oversized request (beyond VHU_REQ_MAX_BYTES) fails untouched. */
TEST_F_TIMEOUT(dp, blk_size_4096, 120)
{
	check_blk_size_4096(_metadata, &self->g, &self->b);
}

TEST_F_TIMEOUT(dp, oversized, 120)
{
	struct guest *g = &self->g;
	int slot;

	slot = g_slot_alloc(g, 0);
	ASSERT_LE(0, slot);
	/* 40 MiB of guest memory from the start (rings included): never read. */
	ASSERT_EQ(0, g_submit_at(g, 0, slot, VIRTIO_BLK_T_OUT, 0, 40 << 20,
				 NULL, G_GPA_BASE));
	g_kick(g, 0, true);
	ASSERT_EQ(1, g_wait(g, 0, 1, TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g->vq[0].status[slot]);
	ASSERT_EQ(0, backend_verify(&self->b));
}

/* GET_VRING_BASE stops the ring and returns only when its I/O is used. */
TEST_F_TIMEOUT(dp, vring_base, 120)
{
	struct guest *g = &self->g;
	struct vhu_vring_state s = { .index = 0 };
	unsigned int i;
	int slot;

	for (i = 0; i < 24; i++) {
		slot = g_slot_alloc(g, 0);
		ASSERT_LE(0, slot);
		ASSERT_EQ(0, g_submit(g, 0, slot, VIRTIO_BLK_T_IN,
				      i * 128, G_MAX_DATA, NULL));
	}
	g_kick(g, 0, true);
	ASSERT_EQ(0, ioctl(g->vhu, VHU_GET_VRING_BASE, &s));
	ASSERT_LE(s.num, 24U);
	/* Everything taken is in the used ring already. */
	EXPECT_EQ(s.num, vr_used_idx(&g->vq[0].vr));

	/* Resume from there: the rest completes. */
	ASSERT_EQ(0, ioctl(g->vhu, VHU_SET_VRING_BASE, &s));
	ASSERT_EQ(0, g_enable(g, 0, true));
	ASSERT_EQ(24, g_wait(g, 0, 24, TIMEOUT_MS));
	for (i = 0; i < 24; i++)
		EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[i]);
}

/* Closing with requests in flight waits for them and frees everything. */
TEST_F_TIMEOUT(dp, close_inflight, 120)
{
	struct guest *g = &self->g;
	unsigned int q, i;
	uint8_t buf[512];

	for (q = 0; q < g->nq; q++) {
		for (i = 0; i < G_SLOTS; i++) {
			int slot = g_slot_alloc(g, q);

			ASSERT_LE(0, slot);
			ASSERT_EQ(0, g_submit(g, q, slot, VIRTIO_BLK_T_IN,
					      (i * 997) % (DISK_SECTORS - 128),
					      G_MAX_DATA, NULL));
		}
		g_kick(g, q, true);
	}
	g_close(g);

	/* A new device works. */
	memset(g->vq, 0, sizeof(g->vq));
	g_mem_fini(g);
	ASSERT_EQ(0, g_open(g));
	ASSERT_EQ(0, set_backend(g, &self->b, 0, g->nq));
	ASSERT_EQ(0, g_setup_vrings(g));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, 0, buf, 512, NULL));
	EXPECT_EQ(0, memcmp(buf, self->b.shadow, 512));
}

/* A process that exits with I/O in flight leaves nothing behind. */
TEST_F_TIMEOUT(dp, exit_inflight, 120)
{
	pid_t pid;
	int status;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* The child is the owner of a device of its own. */
		struct guest c = { .nq = 1, .event_idx = variant->cfg.event_idx };
		unsigned int i;

		if (g_open(&c) || set_backend(&c, &self->b, 0, 1) ||
		    g_setup_vrings(&c))
			_exit(2);
		for (i = 0; i < G_SLOTS; i++) {
			int slot = g_slot_alloc(&c, 0);

			if (g_submit(&c, 0, slot, VIRTIO_BLK_T_OUT, i * 128,
				     G_MAX_DATA, self->b.shadow + i * 128 * 512))
				_exit(1);
		}
		g_kick(&c, 0, true);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	/* The child wrote what the shadow holds: the disk is unchanged. */
	EXPECT_EQ(0, backend_verify(&self->b));
}

/* Regions added and removed at runtime, while the queues run. */
TEST_F_TIMEOUT(dp, mem_hotplug, 120)
{
	struct guest *g = &self->g;
	uint64_t gpa = G_GPA_BASE + G_MEM_SIZE + (1 << 20);
	struct vhu_mem_region r = { .guest_phys_addr = gpa, .memory_size = 1 << 20 };
	uint8_t *extra, buf[4096];
	int slot;

	extra = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, extra);
	r.userspace_addr = (uintptr_t)extra;
	ASSERT_EQ(0, ioctl(g->vhu, VHU_ADD_MEM_REGION, &r));
	/* overlapping */
	EXPECT_EQ(-1, ioctl(g->vhu, VHU_ADD_MEM_REGION, &r));
	EXPECT_EQ(EEXIST, errno);

	slot = g_slot_alloc(g, 0);
	ASSERT_EQ(0, g_submit_at(g, 0, slot, VIRTIO_BLK_T_IN, 8, 4096, NULL,
				 gpa + 8192));
	g_kick(g, 0, true);
	ASSERT_EQ(1, g_wait(g, 0, 1, TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g->vq[0].status[slot]);
	EXPECT_EQ(0, memcmp(extra + 8192, self->b.shadow + 8 * 512, 4096));

	ASSERT_EQ(0, ioctl(g->vhu, VHU_DEL_MEM_REGION, &r));
	EXPECT_EQ(-1, ioctl(g->vhu, VHU_DEL_MEM_REGION, &r));
	EXPECT_EQ(ENOENT, errno);
	/* The region is gone: the request fails and memory stays untouched. */
	memset(extra, 0x77, 1 << 20);
	slot = g_slot_alloc(g, 0);
	ASSERT_EQ(0, g_submit_at(g, 0, slot, VIRTIO_BLK_T_IN, 8, 4096, NULL,
				 gpa + 8192));
	g_kick(g, 0, true);
	ASSERT_EQ(1, g_wait(g, 0, 1, TIMEOUT_MS));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g->vq[0].status[slot]);
	memset(buf, 0x77, sizeof(buf));
	EXPECT_EQ(0, memcmp(extra + 8192, buf, 4096));
	munmap(extra, 1 << 20);
}

FIXTURE(ro) {
	struct guest g;
	struct backend b;
};

FIXTURE_SETUP(ro)
{
	const struct guest_cfg cfg = {
		.kind = B_FILE, .flags = VHU_BACKEND_F_READONLY, .nq = 1,
	};

	guest_up(_metadata, &self->g, &self->b, &cfg);
}

FIXTURE_TEARDOWN(ro)
{
	guest_down(&self->g, &self->b);
}

TEST_F(ro, refuses_writes)
{
	struct guest *g = &self->g;
	struct virtio_blk_discard_write_zeroes seg = { .sector = 0, .num_sectors = 8 };
	struct vhu_dev_info info;
	uint8_t buf[4096];

	ASSERT_EQ(0, ioctl(g->vhu, VHU_GET_DEV_INFO, &info));
	EXPECT_NE(0U, info.features & (1ULL << VIRTIO_BLK_F_RO));
	EXPECT_EQ(0U, info.caps & VHU_CAP_WRITE);
	EXPECT_EQ(0U, info.features & (1ULL << VIRTIO_BLK_F_DISCARD));

	memset(buf, 0xab, sizeof(buf));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_OUT, 0, buf,
					   sizeof(buf), NULL));
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, g_do(g, 0, VIRTIO_BLK_T_DISCARD, 0, &seg,
					    sizeof(seg), NULL));
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, g_do(g, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0,
					    &seg, sizeof(seg), NULL));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, 0, buf,
					sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, self->b.shadow, sizeof(buf)));
	EXPECT_EQ(0, backend_verify(&self->b));
}

/*
 * The netlink stats dump counts what we did, and the filtered dump of one
 * device agrees with the dump of all devices.
 */
TEST_F(ro, genl_stats)
{
	struct guest *g = &self->g;
	struct g_stats s, all;
	struct vhu_dev_info info;
	struct guest other = { .nq = 1 };
	uint8_t buf[4096];
	int i;

	ASSERT_EQ(0, ioctl(g->vhu, VHU_GET_DEV_INFO, &info));
	for (i = 0; i < 5; i++)
		ASSERT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, i * 8, buf,
						sizeof(buf), NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_OUT, 0, buf,
					   sizeof(buf), NULL));
	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(1, s.msgs);
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
	EXPECT_EQ(5U, s.reqs_in);
	EXPECT_EQ(1U, s.reqs_out);
	EXPECT_EQ(1U, s.reqs_ioerr);
	EXPECT_EQ(5 * sizeof(buf), s.bytes_read);
	EXPECT_EQ(0U, s.bytes_written);
	EXPECT_LE(1U, s.kicks);
	EXPECT_EQ(0U, s.inflight);
	EXPECT_EQ(6U, s.last_avail_idx);

	/* A second device, so the unfiltered dump has more than ours. */
	ASSERT_EQ(0, g_open(&other));
	ASSERT_EQ(0, set_backend(&other, &self->b, VHU_BACKEND_F_READONLY, 1));
	ASSERT_EQ(0, g_setup_vrings(&other));

	ASSERT_EQ(0, g_stats_dump(info.dev_id, true, 0, &all));
	EXPECT_EQ(1, all.msgs);
	EXPECT_EQ(s.state, all.state);
	EXPECT_EQ(s.reqs_in, all.reqs_in);
	EXPECT_EQ(s.reqs_out, all.reqs_out);
	EXPECT_EQ(s.bytes_read, all.bytes_read);
	EXPECT_EQ(s.reqs_ioerr, all.reqs_ioerr);
	EXPECT_EQ(s.kicks, all.kicks);

	g_close(&other);
	g_mem_fini(&other);
}

/* ------------------------------------------------------------------ */
/* The ioctl ABI: probe, argument checking, errors. */

TEST(api)
{
	struct vhu_mem_region *big;
	struct vhu_vring_state s = { .index = 0, .num = 100 };
	struct vhu_vring_addr a = { .index = 0, .flags = VHU_VRING_F_LOG };
	struct vhu_backend be = { .fd = -1 };
	struct vhu_memory *m;
	struct vhu_api api;
	uint64_t features;
	int fd;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	fd = open(VHU_DEVICE_PATH, O_RDWR);
	ASSERT_LE(0, fd);

	ASSERT_EQ(0, ioctl(fd, VHU_GET_API, &api));
	EXPECT_EQ(VHU_API_F_ALL, api.features & VHU_API_F_ALL);
	EXPECT_EQ(VHU_BACKEND_F_ALL, api.backend_flags);
	EXPECT_EQ(VHU_VRING_F_ALL, api.vring_addr_flags);
	EXPECT_EQ((__u32)VHU_MAX_MEM_REGIONS, api.max_mem_regions);
	EXPECT_NE(0U, api.virtio_features & (1ULL << VIRTIO_F_VERSION_1));

	EXPECT_EQ(-1, ioctl(fd, _IO(VHU_IOCTL_TYPE, 0x7f)));
	EXPECT_EQ(ENOTTY, errno);
	EXPECT_EQ(-1, ioctl(fd, _IO(0x42, 0x01)));
	EXPECT_EQ(ENOTTY, errno);

	/* Before SET_OWNER */
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_VRING_NUM, &s));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, ioctl(fd, VHU_GET_FEATURES, &features));
	ASSERT_EQ(0, ioctl(fd, VHU_SET_OWNER));
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_OWNER));
	EXPECT_EQ(EBUSY, errno);

	features |= 1ULL << 60;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_FEATURES, &features));
	EXPECT_EQ(EINVAL, errno);

	EXPECT_EQ(-1, ioctl(fd, VHU_SET_VRING_NUM, &s));	/* not 2^n */
	EXPECT_EQ(EINVAL, errno);
	s.num = 65536;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_VRING_NUM, &s));
	EXPECT_EQ(EINVAL, errno);
	s.index = VHU_MAX_QUEUES;
	s.num = 64;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_VRING_NUM, &s));
	EXPECT_EQ(EINVAL, errno);
	a.log_guest_addr = 2;	/* dirty logging at a misaligned used ring */
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_VRING_ADDR, &a));
	EXPECT_EQ(EINVAL, errno);
	a.flags = 2;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_VRING_ADDR, &a));
	EXPECT_EQ(EINVAL, errno);
	s.index = 0;
	s.num = 1;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_VRING_ENABLE, &s));	/* unconfigured */
	EXPECT_EQ(EINVAL, errno);

	be.reserved[1] = 1;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_BACKEND, &be));
	EXPECT_EQ(EINVAL, errno);
	be.reserved[1] = 0;
	be.flags = 1U << 31;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_BACKEND, &be));
	EXPECT_EQ(EINVAL, errno);
	be.flags = 0;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_BACKEND, &be));
	EXPECT_EQ(EBADF, errno);

	/* Memory tables: overlap, too many regions, padding. */
	m = calloc(1, sizeof(*m) + 510 * sizeof(*big));
	ASSERT_NE(NULL, m);
	big = m->regions;
	m->nregions = 2;
	big[0] = (struct vhu_mem_region){ 0x10000, 0x2000, 0x7f0000000000ULL, 0 };
	big[1] = (struct vhu_mem_region){ 0x11000, 0x2000, 0x7f0000100000ULL, 0 };
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_MEM_TABLE, m));
	EXPECT_EQ(EINVAL, errno);
	big[1].guest_phys_addr = 0x12000;
	EXPECT_EQ(0, ioctl(fd, VHU_SET_MEM_TABLE, m));
	m->padding = 1;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_MEM_TABLE, m));
	EXPECT_EQ(EINVAL, errno);
	m->padding = 0;
	m->nregions = 510;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_MEM_TABLE, m));
	EXPECT_EQ(EINVAL, errno);
	big[0].reserved = 1;
	m->nregions = 1;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_MEM_TABLE, m));
	EXPECT_EQ(EINVAL, errno);
	free(m);

	ASSERT_EQ(0, ioctl(fd, VHU_RESET_OWNER));
	ASSERT_EQ(0, ioctl(fd, VHU_SET_OWNER));
	close(fd);
}

/* A child process (another mm) cannot configure the device. */
TEST(other_mm)
{
	struct vhu_vring_state s = { .index = 0, .num = 64 };
	pid_t pid;
	int fd, status;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	fd = open(VHU_DEVICE_PATH, O_RDWR);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, VHU_SET_OWNER));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(ioctl(fd, VHU_SET_VRING_NUM, &s) == -1 && errno == EPERM ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, ioctl(fd, VHU_SET_VRING_NUM, &s));
	close(fd);
}

/*
 * A backing opened O_APPEND is refused: every write would land at its end
 * while the guest is told it went where it asked.
 */
TEST(backend_o_append)
{
	const char *dir = getenv("TMPDIR") ?: "/tmp";
	struct vhu_backend be = { 0 };
	char path[4096];
	int fd, bfd;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	/* A scratch file in $TMPDIR, unlinked at once (O_TMPFILE is not everywhere). */
	snprintf(path, sizeof(path), "%s/vhu-append.XXXXXX", dir);
	bfd = mkstemp(path);
	ASSERT_LE(0, bfd) TH_LOG("mkstemp in %s: %s", dir, strerror(errno));
	unlink(path);
	ASSERT_EQ(0, ftruncate(bfd, 1 << 20));
	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, VHU_SET_OWNER));

	be.fd = bfd;
	EXPECT_EQ(0, ioctl(fd, VHU_SET_BACKEND, &be)) TH_LOG("%s", strerror(errno));
	ASSERT_EQ(0, fcntl(bfd, F_SETFL, O_APPEND));
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_BACKEND, &be));
	EXPECT_EQ(EINVAL, errno);
	close(fd);
	close(bfd);
}

/* Answer every permission event on @fan with FAN_DENY, until killed. */
static void fan_deny_all(int fan)
{
	struct fanotify_event_metadata ev[16];
	struct fanotify_response r = { .response = FAN_DENY };
	ssize_t n;
	int i;

	for (;;) {
		n = read(fan, ev, sizeof(ev));
		for (i = 0; n > 0 && i < n / (ssize_t)sizeof(ev[0]); i++) {
			r.fd = ev[i].fd;
			if (write(fan, &r, sizeof(r)) != sizeof(r))
				_exit(1);
			close(ev[i].fd);
		}
	}
}

/*
 * A request runs the checks read(2) and write(2) run first
 * (rw_verify_area(): the LSMs, fanotify's permission events): a listener
 * that denies access to the backing file fails the guest's read.
 */
TEST(fanotify_denies_read)
{
	const struct guest_cfg cfg = { .kind = B_FILE, .nq = 1 };
	struct guest g;
	struct backend b;
	uint8_t buf[512];
	int fan, status;
	pid_t pid;

	if (!guest_up(_metadata, &g, &b, &cfg))
		return;
	fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY);
	if (fan < 0) {
		guest_down(&g, &b);
		SKIP(return, "no fanotify permission events");
	}
	ASSERT_EQ(0, fanotify_mark(fan, FAN_MARK_ADD, FAN_ACCESS_PERM, AT_FDCWD,
				   b.path));
	/*
	 * Since 6.14 (and in Debian's 6.12) whether a file raises permission
	 * events is decided when it is opened: the device gets the backing
	 * again, opened under the mark.
	 */
	ASSERT_EQ(0, g_enable(&g, 0, false));
	close(b.fd);
	b.fd = open(b.path, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, b.fd);
	ASSERT_EQ(0, set_backend(&g, &b, 0, 1));
	ASSERT_EQ(0, g_enable(&g, 0, true));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		fan_deny_all(fan);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(&g, 0, VIRTIO_BLK_T_IN, 0, buf,
					   sizeof(buf), NULL));
	kill(pid, SIGKILL);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	close(fan);

	/* No listener: the read goes through. */
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(&g, 0, VIRTIO_BLK_T_IN, 0, buf,
					sizeof(buf), NULL));
	EXPECT_EQ(0, memcmp(buf, b.shadow, sizeof(buf)));
	guest_down(&g, &b);
}

/* An owned device with a ring size on vring 0 (so the dump lists it). */
static int open_sized(uint32_t *id)
{
	struct vhu_vring_state s = { .index = 0, .num = 64 };
	struct vhu_dev_info info;
	int fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (ioctl(fd, VHU_SET_OWNER) || ioctl(fd, VHU_SET_VRING_NUM, &s) ||
	    ioctl(fd, VHU_GET_DEV_INFO, &info)) {
		close(fd);
		return -1;
	}
	*id = info.dev_id;
	return fd;
}

/*
 * The stats dump resumes by device id: a device that reuses a freed, lower
 * id after others were opened is still dumped, once.
 */
TEST(genl_stats_id_reuse)
{
	uint32_t id[4];
	struct g_stats s;
	int fd[4], i;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	for (i = 0; i < 3; i++)
		ASSERT_LE(0, fd[i] = open_sized(&id[i]));
	close(fd[0]);
	ASSERT_LE(0, fd[3] = open_sized(&id[3]));
	EXPECT_EQ(id[0], id[3]) TH_LOG("the freed id is taken again");
	for (i = 1; i < 4; i++) {
		EXPECT_EQ(0, g_stats_dump(id[i], true, 0, &s)) TH_LOG("device %u", id[i]);
		EXPECT_EQ(1, s.msgs) TH_LOG("device %u", id[i]);
	}
	for (i = 1; i < 4; i++)
		close(fd[i]);
}

TEST_HARNESS_MAIN
