// SPDX-License-Identifier: GPL-2.0
/*
 * vhu datapath selftests: a userspace guest (guest.c) drives /dev/vhu
 * directly, with its memory in a memfd, its own split rings and eventfds,
 * against file and block-device backends; then checks every byte against
 * a shadow copy and the backend. Malicious rings must end in IOERR or the
 * err eventfd, never in an oops or a hang (the VM rig fails the run on any
 * kernel warning).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "kselftest_harness.h"
#include "guest.h"

#define DISK_MB		16
#define DISK_BYTES	((uint64_t)DISK_MB << 20)
#define DISK_SECTORS	(DISK_BYTES >> 9)
#define TIMEOUT_MS	20000
#define SERIAL		"vhu-selftest-serial!"	/* exactly 20 bytes */

enum backing { B_FILE, B_FILE_DIRECT, B_LOOP, B_NULLBLK, B_NBD, B_BRD };

static const char * const kind_name[] = {
	[B_FILE] = "file", [B_FILE_DIRECT] = "file", [B_LOOP] = "loop",
	[B_NULLBLK] = "nullblk", [B_NBD] = "nbd", [B_BRD] = "brd",
};

struct backend {
	enum backing kind;
	char path[PATH_MAX];
	int fd;
	int id;
	uint8_t *shadow;
};

static int vhu_present(void)
{
	return access(VHU_DEVICE_PATH, F_OK) == 0;
}

static void script_path(char *buf, size_t len)
{
	char exe[PATH_MAX - 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *slash;

	exe[n > 0 ? n : 0] = 0;
	slash = strrchr(exe, '/');
	if (slash)
		*slash = 0;
	snprintf(buf, len, "%s/vhu_backing.sh", slash ? exe : ".");
}

/* Create the backing store; fill it and the shadow with a pattern. */
static int backend_up(struct backend *b, enum backing kind, bool ro)
{
	char script[PATH_MAX], cmd[PATH_MAX * 2];
	int flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	uint8_t *buf;
	uint64_t off;
	FILE *p;

	b->kind = kind;
	b->id = getpid();
	b->fd = -1;
	script_path(script, sizeof(script));
	snprintf(cmd, sizeof(cmd), "%s up %s %d %d", script, kind_name[kind],
		 b->id, DISK_MB);
	p = popen(cmd, "r");
	if (!p)
		return -errno;
	if (!fgets(b->path, sizeof(b->path), p)) {
		pclose(p);
		return -ENODEV;
	}
	if (pclose(p))
		return -ENODEV;
	b->path[strcspn(b->path, "\n")] = 0;

	if (kind != B_FILE && kind != B_BRD)
		flags |= O_DIRECT;
	/* Fill through a writable descriptor first. */
	b->fd = open(b->path, O_RDWR | O_CLOEXEC | (flags & O_DIRECT));
	if (b->fd < 0)
		return -errno;
	b->shadow = malloc(DISK_BYTES);
	if (posix_memalign((void **)&buf, 4096, 1 << 20) || !b->shadow)
		return -ENOMEM;
	for (off = 0; off < DISK_BYTES; off += 1 << 20) {
		size_t i;

		for (i = 0; i < (1 << 20); i += 4)
			*(uint32_t *)(buf + i) = rand();
		memcpy(b->shadow + off, buf, 1 << 20);
		if (pwrite(b->fd, buf, 1 << 20, off) != 1 << 20)
			return -errno;
	}
	free(buf);
	fsync(b->fd);
	if (ro) {
		close(b->fd);
		b->fd = open(b->path, flags);
		if (b->fd < 0)
			return -errno;
	}
	return 0;
}

static void backend_down(struct backend *b)
{
	char script[PATH_MAX], cmd[PATH_MAX * 3];

	if (b->fd >= 0)
		close(b->fd);
	free(b->shadow);
	if (!b->path[0])
		return;
	script_path(script, sizeof(script));
	snprintf(cmd, sizeof(cmd), "%s down %s %d %s", script,
		 kind_name[b->kind], b->id, b->path);
	if (system(cmd))
		fprintf(stderr, "teardown of %s failed\n", b->path);
}

/* Compare the backing store with the shadow (through its own fd). */
static int backend_verify(struct backend *b)
{
	uint8_t *buf;
	uint64_t off;
	int ret = 0;

	if (posix_memalign((void **)&buf, 4096, 1 << 20))
		return -ENOMEM;
	for (off = 0; off < DISK_BYTES && !ret; off += 1 << 20) {
		if (pread(b->fd, buf, 1 << 20, off) != 1 << 20)
			ret = -EIO;
		else if (memcmp(buf, b->shadow + off, 1 << 20))
			ret = -EILSEQ;
	}
	free(buf);
	return ret;
}

static int set_backend(struct guest *g, struct backend *b, uint32_t flags,
		       unsigned int nq)
{
	struct vhu_backend be = {
		.fd = b->fd,
		.flags = flags,
		.config = {
			.capacity = DISK_SECTORS,
			.num_queues = nq,
			.max_discard_seg = 2,
			.max_write_zeroes_seg = 2,
		},
	};

	memcpy(be.config.serial, SERIAL, VHU_BLK_ID_BYTES);
	return ioctl(g->vhu, VHU_SET_BACKEND, &be) ? -errno : 0;
}

static bool offered(struct guest *g, int bit)
{
	return g->features & (1ULL << bit);
}

static void guest_close(struct guest *g)
{
	unsigned int q;

	if (g->vhu >= 0)
		close(g->vhu);
	g->vhu = -1;
	for (q = 0; q < G_MAX_QUEUES; q++) {
		if (g->vq[q].kick >= 0)
			close(g->vq[q].kick);
		if (g->vq[q].call >= 0)
			close(g->vq[q].call);
		if (g->vq[q].err >= 0)
			close(g->vq[q].err);
		g->vq[q].kick = g->vq[q].call = g->vq[q].err = -1;
	}
}

/* ------------------------------------------------------------------ */

FIXTURE(dp) {
	struct guest g;
	struct backend b;
};

FIXTURE_VARIANT(dp) {
	enum backing kind;
	unsigned int nq;
	bool event_idx;
	bool indirect;
	bool data_only;	/* only the tests whose outcome depends on the backend */
};

/* Tests of the rings and the device, not the backend: files only. */
#define SKIP_IF_DATA_ONLY() do {					\
	if (variant->data_only)						\
		SKIP(return, "backend-independent, run on files");	\
} while (0)

FIXTURE_VARIANT_ADD(dp, file_1q) {
	.kind = B_FILE, .nq = 1, .event_idx = true, .indirect = false,
};

FIXTURE_VARIANT_ADD(dp, file_4q_indirect_noevidx) {
	.kind = B_FILE, .nq = 4, .event_idx = false, .indirect = true,
};

FIXTURE_VARIANT_ADD(dp, file_direct_1q_noevidx) {
	.kind = B_FILE_DIRECT, .nq = 1, .event_idx = false, .indirect = false,
};

FIXTURE_VARIANT_ADD(dp, file_direct_4q_indirect) {
	.kind = B_FILE_DIRECT, .nq = 4, .event_idx = true, .indirect = true,
};

FIXTURE_VARIANT_ADD(dp, loop_4q) {
	.kind = B_LOOP, .nq = 4, .event_idx = true, .indirect = false,
	.data_only = true,
};

FIXTURE_VARIANT_ADD(dp, nullblk_1q_indirect) {
	.kind = B_NULLBLK, .nq = 1, .event_idx = true, .indirect = true,
	.data_only = true,
};

FIXTURE_VARIANT_ADD(dp, nbd_4q_indirect_noevidx) {
	.kind = B_NBD, .nq = 4, .event_idx = false, .indirect = true,
	.data_only = true,
};

FIXTURE_VARIANT_ADD(dp, brd_buffered_1q) {
	.kind = B_BRD, .nq = 1, .event_idx = true, .indirect = false,
	.data_only = true,
};

FIXTURE_SETUP(dp)
{
	int ret;

	memset(&self->g, 0, sizeof(self->g));
	memset(&self->b, 0, sizeof(self->b));
	self->g.vhu = -1;
	self->b.fd = -1;
	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	srand(getpid());
	ret = backend_up(&self->b, variant->kind, false);
	if (ret == -ENODEV)
		SKIP(return, "backing store %s unavailable", kind_name[variant->kind]);
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, g_open(&self->g));
	self->g.nq = variant->nq;
	self->g.event_idx = variant->event_idx;
	self->g.indirect = variant->indirect;
	ASSERT_EQ(0, set_backend(&self->g, &self->b, 0, variant->nq));
	ASSERT_EQ(0, g_setup_vrings(&self->g));
}

FIXTURE_TEARDOWN(dp)
{
	guest_close(&self->g);
	g_mem_fini(&self->g);
	backend_down(&self->b);
}

struct pend {
	unsigned int q, slot;
	uint32_t type, len;
	uint64_t sector;
};

static bool overlaps(const struct pend *p, int n, uint64_t sector, uint32_t len)
{
	int i;

	for (i = 0; i < n; i++)
		if (sector < p[i].sector + p[i].len / 512 &&
		    p[i].sector < sector + len / 512)
			return true;
	return false;
}

/* @total random reads and writes over the whole disk, on every queue. */
static int random_io(struct guest *g, struct backend *b, int total,
		     bool mem_swap)
{
	static uint8_t buf[G_MAX_DATA];
	struct pend p[G_MAX_QUEUES * 16];
	unsigned int q;
	int done = 0;

	while (done < total) {
		unsigned int count[G_MAX_QUEUES] = { 0 };
		int n = 0, i;

		for (q = 0; q < g->nq; q++) {
			for (i = 0; i < 16 && done + n < total; i++) {
				uint32_t len = 512 * (1 + rand() % (G_MAX_DATA / 512));
				uint64_t sector = rand() % (DISK_SECTORS - len / 512 + 1);
				int slot;

				if (overlaps(p, n, sector, len))
					continue;
				slot = g_slot_alloc(g, q);
				if (slot < 0)
					return -EBUSY;
				p[n] = (struct pend){ q, slot, VIRTIO_BLK_T_IN, len, sector };
				if (rand() & 1) {
					size_t k;

					p[n].type = VIRTIO_BLK_T_OUT;
					for (k = 0; k < len; k++)
						buf[k] = rand();
					memcpy(b->shadow + sector * 512, buf, len);
				}
				if (g_submit(g, q, slot, p[n].type, sector, len,
					     p[n].type == VIRTIO_BLK_T_OUT ? buf : NULL))
					return -EINVAL;
				count[q]++;
				n++;
			}
		}
		for (q = 0; q < g->nq; q++)
			g_kick(g, q, false);
		/* Replace the memory table while the batch is in flight. */
		if (mem_swap && g_set_mem_table(g))
			return -errno;
		for (q = 0; q < g->nq; q++) {
			int got = g_wait(g, q, count[q], TIMEOUT_MS);

			if (got != (int)count[q]) {
				fprintf(stderr, "q%u: %d of %u completed\n", q, got, count[q]);
				return -ETIMEDOUT;
			}
		}
		for (i = 0; i < n; i++) {
			struct g_vq *vq = &g->vq[p[i].q];
			uint32_t want = p[i].type == VIRTIO_BLK_T_IN ? p[i].len + 1 : 1;

			if (!vq->done[p[i].slot] || vq->status[p[i].slot] != VIRTIO_BLK_S_OK ||
			    vq->used_len[p[i].slot] != want) {
				fprintf(stderr, "req %d: type %u sector %llu len %u: status %u used %u\n",
					i, p[i].type, (unsigned long long)p[i].sector, p[i].len,
					vq->status[p[i].slot], vq->used_len[p[i].slot]);
				return -EIO;
			}
			if (p[i].type == VIRTIO_BLK_T_IN) {
				g_read(g, g_slot_data(g, p[i].q, p[i].slot), buf, p[i].len);
				if (memcmp(buf, b->shadow + p[i].sector * 512, p[i].len)) {
					fprintf(stderr, "read at %llu differs\n",
						(unsigned long long)p[i].sector);
					return -EILSEQ;
				}
			}
		}
		done += n;
	}
	return 0;
}

TEST_F_TIMEOUT(dp, random_rw, 600)
{
	struct vhu_vring_stats s;
	uint64_t reqs = 0;
	unsigned int q;

	ASSERT_EQ(0, random_io(&self->g, &self->b, 300, false));
	ASSERT_EQ(0, backend_verify(&self->b));
	for (q = 0; q < self->g.nq; q++) {
		ASSERT_EQ(0, g_stats(&self->g, q, &s));
		EXPECT_EQ(VHU_VRING_RUNNING, s.state);
		EXPECT_EQ(0, s.reqs_ioerr);
		EXPECT_EQ(0, s.ring_errors);
		EXPECT_EQ(0, s.inflight);
		reqs += s.reqs_in + s.reqs_out;
	}
	EXPECT_EQ(300, reqs);
}

TEST_F_TIMEOUT(dp, mem_table_during_io, 600)
{
	SKIP_IF_DATA_ONLY();
	ASSERT_EQ(0, random_io(&self->g, &self->b, 120, true));
	ASSERT_EQ(0, backend_verify(&self->b));
}

TEST_F_TIMEOUT(dp, request_types, 120)
{
	struct guest *g = &self->g;
	struct virtio_blk_discard_write_zeroes seg[2];
	static uint8_t buf[G_MAX_DATA], zero[G_MAX_DATA];
	uint32_t used = 0;
	int st;

	/* GET_ID */
	memset(buf, 0, sizeof(buf));
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_GET_ID, 0, buf,
					VHU_BLK_ID_BYTES, &used));
	EXPECT_EQ(VHU_BLK_ID_BYTES + 1, used);
	EXPECT_EQ(0, memcmp(buf, SERIAL, VHU_BLK_ID_BYTES));

	/* FLUSH */
	st = g_do(g, 0, VIRTIO_BLK_T_FLUSH, 0, NULL, 0, &used);
	EXPECT_EQ(offered(g, VIRTIO_BLK_F_FLUSH) ? VIRTIO_BLK_S_OK :
		  VIRTIO_BLK_S_UNSUPP, st);
	EXPECT_EQ(1, used);

	/* WRITE_ZEROES without and with UNMAP, two segments */
	seg[0] = (struct virtio_blk_discard_write_zeroes){ .sector = 2048, .num_sectors = 64 };
	seg[1] = (struct virtio_blk_discard_write_zeroes){ .sector = 9000, .num_sectors = 8 };
	st = g_do(g, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0, seg, sizeof(seg), &used);
	if (offered(g, VIRTIO_BLK_F_WRITE_ZEROES)) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, st);
		memset(self->b.shadow + 2048 * 512, 0, 64 * 512);
		memset(self->b.shadow + 9000 * 512, 0, 8 * 512);
		EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, 2048, buf,
						64 * 512, NULL));
		EXPECT_EQ(0, memcmp(buf, zero, 64 * 512));

		seg[0] = (struct virtio_blk_discard_write_zeroes){
			.sector = 4096, .num_sectors = 32,
			.flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP };
		EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_WRITE_ZEROES, 0,
						seg, sizeof(seg[0]), NULL));
		memset(self->b.shadow + 4096 * 512, 0, 32 * 512);
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
	if (offered(g, VIRTIO_BLK_F_DISCARD)) {
		EXPECT_EQ(VIRTIO_BLK_S_OK, st);
		memset(buf, 0x5a, 256 * 512 > G_MAX_DATA ? G_MAX_DATA : 256 * 512);
		EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_OUT, 16384, buf,
						G_MAX_DATA, NULL));
		EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_OUT,
						16384 + G_MAX_DATA / 512, buf,
						G_MAX_DATA, NULL));
		memset(self->b.shadow + 16384 * 512, 0x5a, 2 * G_MAX_DATA);
		seg[0].flags = VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, g_do(g, 0, VIRTIO_BLK_T_DISCARD, 0,
						    seg, sizeof(seg[0]), NULL));
	} else {
		EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, st);
	}

	/* Unknown type */
	EXPECT_EQ(VIRTIO_BLK_S_UNSUPP, g_do(g, 0, 0x7f, 0, NULL, 0, &used));
	EXPECT_EQ(1, used);

	/* Out of range, straddling the end, misaligned length */
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_IN, DISK_SECTORS,
					   buf, 512, &used));
	EXPECT_EQ(1, used);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_IN, DISK_SECTORS - 1,
					   buf, 1024, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_IN, 0, buf, 100, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_OUT, 8, buf, 100, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_OUT, ~0ULL, buf, 512, NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, g_do(g, 0, VIRTIO_BLK_T_OUT, DISK_SECTORS - 1,
					   buf, 1024, NULL));

	/* A zero-length read is fine */
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 0, VIRTIO_BLK_T_IN, 0, NULL, 0, &used));
	EXPECT_EQ(1, used);

	ASSERT_EQ(0, backend_verify(&self->b));
}

/* An oversized request (beyond VHU_REQ_MAX_BYTES) fails untouched. */
TEST_F_TIMEOUT(dp, oversized, 120)
{
	struct guest *g = &self->g;
	int slot;

	SKIP_IF_DATA_ONLY();
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

	SKIP_IF_DATA_ONLY();
	for (i = 0; i < 24; i++) {
		slot = g_slot_alloc(g, 0);
		ASSERT_LE(0, slot);
		ASSERT_EQ(0, g_submit(g, 0, slot, VIRTIO_BLK_T_IN,
				      i * 128, G_MAX_DATA, NULL));
	}
	g_kick(g, 0, true);
	ASSERT_EQ(0, ioctl(g->vhu, VHU_GET_VRING_BASE, &s));
	ASSERT_LE(s.num, 24);
	/* Everything taken is in the used ring already. */
	EXPECT_EQ(s.num, __atomic_load_n(&g->vq[0].used->idx, __ATOMIC_ACQUIRE));

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

	SKIP_IF_DATA_ONLY();
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
	guest_close(g);

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

	SKIP_IF_DATA_ONLY();
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* The child is the owner of a device of its own. */
		struct guest c = { .nq = 1, .event_idx = variant->event_idx };
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

	SKIP_IF_DATA_ONLY();
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

/* ------------------------------------------------------------------ */
/* Malicious rings, on queue 0; queue 1 must keep working. */

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
	int ret;

	memset(&self->g, 0, sizeof(self->g));
	memset(&self->b, 0, sizeof(self->b));
	self->g.vhu = -1;
	self->b.fd = -1;
	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	srand(getpid());
	ret = backend_up(&self->b, B_FILE, false);
	if (ret == -ENODEV)
		SKIP(return, "no backing store");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, g_open(&self->g));
	self->g.nq = 2;
	self->g.event_idx = variant->event_idx;
	self->g.indirect = variant->indirect;
	ASSERT_EQ(0, set_backend(&self->g, &self->b, 0, 2));
	ASSERT_EQ(0, g_setup_vrings(&self->g));
}

FIXTURE_TEARDOWN(bad)
{
	guest_close(&self->g);
	g_mem_fini(&self->g);
	backend_down(&self->b);
}

static void set_desc(struct vring_desc *d, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
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
	struct vhu_vring_stats s;
	uint8_t buf[512];

	EXPECT_EQ(1, g_wait_err(g, 0, TIMEOUT_MS));
	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(VHU_VRING_ERROR, s.state);
	EXPECT_EQ(1, s.ring_errors);
	EXPECT_EQ(VIRTIO_BLK_S_OK, g_do(g, 1, VIRTIO_BLK_T_IN, 0, buf, 512, NULL));
	EXPECT_EQ(0, memcmp(buf, b->shadow, 512));
	EXPECT_EQ(0, backend_verify(b));
}

static void expect_used(struct __test_metadata *_metadata, struct guest *g,
			uint32_t len)
{
	struct vring_used_elem e;

	ASSERT_EQ(1, g_wait(g, 0, 1, TIMEOUT_MS));
	e = g->vq[0].used->ring[(uint16_t)(g->vq[0].last_used - 1) % G_NUM];
	EXPECT_EQ(0, e.id);
	EXPECT_EQ(len, e.len);
}

TEST_F(bad, desc_loop)
{
	struct guest *g = &self->g;
	struct vring_desc *d = g->vq[0].desc;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);

	set_desc(&d[0], h, 16, VRING_DESC_F_NEXT, 1);
	set_desc(&d[1], g_slot_data(g, 0, 0), 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_ring_error(_metadata, g, &self->b);
}

TEST_F(bad, indirect_loop)
{
	struct guest *g = &self->g;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	uint64_t tgpa = h + 64;
	struct vring_desc t[2];

	set_desc(&t[0], h, 16, VRING_DESC_F_NEXT, 1);
	set_desc(&t[1], g_slot_data(g, 0, 0), 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 0);
	g_write(g, tgpa, t, sizeof(t));
	/* A loop, or an indirect descriptor that was not negotiated. */
	set_desc(&g->vq[0].desc[0], tgpa, sizeof(t), VRING_DESC_F_INDIRECT, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_ring_error(_metadata, g, &self->b);
}

TEST_F(bad, nested_indirect)
{
	struct guest *g = &self->g;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	uint64_t tgpa = h + 64;
	struct vring_desc t[1];

	set_desc(&t[0], tgpa, sizeof(t), VRING_DESC_F_INDIRECT, 0);
	g_write(g, tgpa, t, sizeof(t));
	set_desc(&g->vq[0].desc[0], tgpa, sizeof(t), VRING_DESC_F_INDIRECT, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_ring_error(_metadata, g, &self->b);
}

TEST_F(bad, next_out_of_range)
{
	struct guest *g = &self->g;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);

	set_desc(&g->vq[0].desc[0], h, 16, VRING_DESC_F_NEXT, G_NUM + 3);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_ring_error(_metadata, g, &self->b);
}

TEST_F(bad, head_out_of_range)
{
	struct guest *g = &self->g;

	g_publish(g, 0, G_NUM + 7);
	g_kick(g, 0, true);
	expect_ring_error(_metadata, g, &self->b);
}

TEST_F(bad, avail_jump)
{
	struct guest *g = &self->g;
	struct g_vq *vq = &g->vq[0];

	vq->avail_idx += G_NUM + 1;
	__atomic_store_n(&vq->avail->idx, vq->avail_idx, __ATOMIC_RELEASE);
	g_kick(g, 0, true);
	expect_ring_error(_metadata, g, &self->b);
}

/* Buffers outside every region: IOERR, the backend untouched. */
TEST_F(bad, outside_regions)
{
	struct guest *g = &self->g;
	struct vring_desc *d = g->vq[0].desc;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_OUT, 0);
	struct vhu_vring_stats s;

	set_desc(&d[0], h, 16, VRING_DESC_F_NEXT, 1);
	set_desc(&d[1], 0x1000, 512, VRING_DESC_F_NEXT, 2);
	set_desc(&d[2], h + G_SLOT_STATUS, 1, VRING_DESC_F_WRITE, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, slot0_status(g, 0));

	/* Past the end of guest memory, and straddling the end. */
	put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	set_desc(&d[1], G_GPA_BASE + G_MEM_SIZE - 256, 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, slot0_status(g, 0));

	/* The status byte itself outside: used with length 0. */
	put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	set_desc(&d[1], g_slot_data(g, 0, 0), 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(&d[2], 0x2000, 1, VRING_DESC_F_WRITE, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 0);

	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(3, s.reqs_ioerr);
	EXPECT_EQ(VHU_VRING_RUNNING, s.state);
	EXPECT_EQ(0, backend_verify(&self->b));
}

/* Zero-length descriptors are skipped; huge ones fail the request. */
TEST_F(bad, zero_and_huge_len)
{
	struct guest *g = &self->g;
	struct vring_desc *d = g->vq[0].desc;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 16);
	uint8_t buf[4096];

	set_desc(&d[0], h, 16, VRING_DESC_F_NEXT, 1);
	set_desc(&d[1], g_slot_data(g, 0, 0), 0,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	set_desc(&d[2], g_slot_data(g, 0, 0), 4096,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 3);
	set_desc(&d[3], h + G_SLOT_STATUS, 1, VRING_DESC_F_WRITE, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 4097);
	EXPECT_EQ(VIRTIO_BLK_S_OK, slot0_status(g, 0));
	g_read(g, g_slot_data(g, 0, 0), buf, sizeof(buf));
	EXPECT_EQ(0, memcmp(buf, self->b.shadow + 16 * 512, sizeof(buf)));

	put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	set_desc(&d[1], g_slot_data(g, 0, 0), 0xffffffff,
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
	struct vring_desc *d = g->vq[0].desc;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_IN, 24);
	uint8_t buf[1024];

	set_desc(&d[0], h, 5, VRING_DESC_F_NEXT, 1);
	set_desc(&d[1], h + 5, 7, VRING_DESC_F_NEXT, 2);
	set_desc(&d[2], h + 12, 4, VRING_DESC_F_NEXT, 3);
	set_desc(&d[3], g_slot_data(g, 0, 0), 1024,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 4);
	set_desc(&d[4], h + G_SLOT_STATUS, 1, VRING_DESC_F_WRITE, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1025);
	EXPECT_EQ(VIRTIO_BLK_S_OK, slot0_status(g, 0));
	g_read(g, g_slot_data(g, 0, 0), buf, sizeof(buf));
	EXPECT_EQ(0, memcmp(buf, self->b.shadow + 24 * 512, sizeof(buf)));

	/* Only 8 header bytes. */
	put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	set_desc(&d[0], h, 8, VRING_DESC_F_NEXT, 4);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(VIRTIO_BLK_S_IOERR, slot0_status(g, 0));
}

/* Status in a device-readable descriptor: never written, request fails. */
TEST_F(bad, status_readonly)
{
	struct guest *g = &self->g;
	struct vring_desc *d = g->vq[0].desc;
	uint64_t h = put_hdr(g, 0, VIRTIO_BLK_T_OUT, 0);
	struct vhu_vring_stats s;

	set_desc(&d[0], h, 16, VRING_DESC_F_NEXT, 1);
	set_desc(&d[1], g_slot_data(g, 0, 0), 512, VRING_DESC_F_NEXT, 2);
	set_desc(&d[2], h + G_SLOT_STATUS, 1, 0, 0);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 0);
	EXPECT_EQ(0xee, slot0_status(g, 0));

	/* Writable data, then a readable status: wrong order. */
	put_hdr(g, 0, VIRTIO_BLK_T_IN, 0);
	set_desc(&d[1], g_slot_data(g, 0, 0), 512,
		 VRING_DESC_F_WRITE | VRING_DESC_F_NEXT, 2);
	g_publish(g, 0, 0);
	g_kick(g, 0, true);
	expect_used(_metadata, g, 1);
	EXPECT_EQ(0xee, slot0_status(g, 0));

	ASSERT_EQ(0, g_stats(g, 0, &s));
	EXPECT_EQ(2, s.reqs_ioerr);
	EXPECT_EQ(0, backend_verify(&self->b));
}

/* ------------------------------------------------------------------ */

FIXTURE(ro) {
	struct guest g;
	struct backend b;
};

FIXTURE_SETUP(ro)
{
	int ret;

	memset(&self->g, 0, sizeof(self->g));
	memset(&self->b, 0, sizeof(self->b));
	self->g.vhu = -1;
	self->b.fd = -1;
	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH " (vhu.ko not loaded)");
	ret = backend_up(&self->b, B_FILE, false);
	if (ret == -ENODEV)
		SKIP(return, "no backing store");
	ASSERT_EQ(0, ret);
	ASSERT_EQ(0, g_open(&self->g));
	self->g.nq = 1;
	ASSERT_EQ(0, set_backend(&self->g, &self->b, VHU_BACKEND_F_READONLY, 1));
	ASSERT_EQ(0, g_setup_vrings(&self->g));
}

FIXTURE_TEARDOWN(ro)
{
	guest_close(&self->g);
	g_mem_fini(&self->g);
	backend_down(&self->b);
}

TEST_F(ro, refuses_writes)
{
	struct guest *g = &self->g;
	struct virtio_blk_discard_write_zeroes seg = { .sector = 0, .num_sectors = 8 };
	struct vhu_dev_info info;
	uint8_t buf[4096];

	ASSERT_EQ(0, ioctl(g->vhu, VHU_GET_DEV_INFO, &info));
	EXPECT_TRUE(info.features & (1ULL << VIRTIO_BLK_F_RO));
	EXPECT_FALSE(info.caps & VHU_CAP_WRITE);
	EXPECT_FALSE(info.features & (1ULL << VIRTIO_BLK_F_DISCARD));

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

struct genl_stats {
	uint32_t dev;
	int msgs;		/* messages for @dev */
	int queue0;		/* ... of which for queue 0 */
	uint32_t state;
	uint64_t reqs_in, reqs_out, bytes_read, kicks, ioerr;
};

static int genl_stats_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[VHU_ATTR_MAX + 1], *st[VHU_STATS_A_MAX + 1];
	struct genl_stats *gs = arg;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, VHU_ATTR_MAX, NULL) ||
	    !tb[VHU_ATTR_DEV_ID] || !tb[VHU_ATTR_QUEUE] || !tb[VHU_ATTR_STATS])
		return NL_SKIP;
	if (nla_get_u32(tb[VHU_ATTR_DEV_ID]) != gs->dev)
		return NL_OK;
	gs->msgs++;
	if (nla_get_u32(tb[VHU_ATTR_QUEUE]) != 0)
		return NL_OK;
	if (nla_parse_nested(st, VHU_STATS_A_MAX, tb[VHU_ATTR_STATS], NULL))
		return NL_SKIP;
	gs->queue0++;
	gs->state = nla_get_u32(st[VHU_STATS_A_STATE]);
	gs->reqs_in = nla_get_u64(st[VHU_STATS_A_REQS_IN]);
	gs->reqs_out = nla_get_u64(st[VHU_STATS_A_REQS_OUT]);
	gs->bytes_read = nla_get_u64(st[VHU_STATS_A_BYTES_READ]);
	gs->kicks = nla_get_u64(st[VHU_STATS_A_KICKS]);
	gs->ioerr = nla_get_u64(st[VHU_STATS_A_REQS_IOERR]);
	return NL_OK;
}

/* Dump VHU_CMD_GET_STATS, for one device (@filter) or all of them. */
static int genl_dump_stats(struct genl_stats *gs, bool filter)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = nlmsg_alloc();
	int fam, ret = -1;

	if (!sk || !msg || genl_connect(sk))
		goto out;
	fam = genl_ctrl_resolve(sk, VHU_GENL_NAME);
	if (fam < 0)
		goto out;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, fam, 0, NLM_F_DUMP,
			 VHU_CMD_GET_STATS, VHU_GENL_VERSION))
		goto out;
	if (filter && nla_put_u32(msg, VHU_ATTR_DEV_ID, gs->dev))
		goto out;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, genl_stats_cb, gs);
	if (nl_send_auto(sk, msg) < 0)
		goto out;
	ret = nl_recvmsgs_default(sk);
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}

/* The netlink stats dump agrees with the ioctl and with what we did. */
TEST_F(ro, genl_stats)
{
	struct guest *g = &self->g;
	struct genl_stats gs = { 0 };
	struct vhu_vring_stats s;
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
	EXPECT_EQ(5, s.reqs_in);
	EXPECT_EQ(1, s.reqs_out);
	EXPECT_EQ(1, s.reqs_ioerr);
	EXPECT_EQ(5 * sizeof(buf), s.bytes_read);
	EXPECT_LE(1, s.kicks);
	EXPECT_EQ(0, s.inflight);

	/* A second device, so the unfiltered dump has more than ours. */
	ASSERT_EQ(0, g_open(&other));
	ASSERT_EQ(0, set_backend(&other, &self->b, VHU_BACKEND_F_READONLY, 1));
	ASSERT_EQ(0, g_setup_vrings(&other));

	gs.dev = info.dev_id;
	ASSERT_EQ(0, genl_dump_stats(&gs, true));
	EXPECT_EQ(1, gs.msgs);
	EXPECT_EQ(1, gs.queue0);
	EXPECT_EQ(VHU_VRING_RUNNING, gs.state);
	EXPECT_EQ(s.reqs_in, gs.reqs_in);
	EXPECT_EQ(s.reqs_out, gs.reqs_out);
	EXPECT_EQ(s.bytes_read, gs.bytes_read);
	EXPECT_EQ(s.reqs_ioerr, gs.ioerr);
	EXPECT_EQ(s.kicks, gs.kicks);

	memset(&gs, 0, sizeof(gs));
	gs.dev = info.dev_id;
	ASSERT_EQ(0, genl_dump_stats(&gs, false));
	EXPECT_EQ(1, gs.queue0);
	EXPECT_EQ(5, gs.reqs_in);

	guest_close(&other);
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
	EXPECT_EQ(VHU_ABI_VERSION, api.abi_version);
	EXPECT_EQ(VHU_API_F_ALL, api.features & VHU_API_F_ALL);
	EXPECT_EQ(VHU_BACKEND_F_ALL, api.backend_flags);
	EXPECT_EQ(VHU_VRING_F_ALL, api.vring_addr_flags);
	EXPECT_EQ(VHU_MAX_MEM_REGIONS, api.max_mem_regions);
	EXPECT_TRUE(api.virtio_features & (1ULL << VIRTIO_F_VERSION_1));

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
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_VRING_ADDR, &a));
	EXPECT_EQ(EOPNOTSUPP, errno);
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

TEST_HARNESS_MAIN
