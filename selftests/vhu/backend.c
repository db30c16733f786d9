// SPDX-License-Identifier: GPL-2.0
/*
 * Backing stores for the vhu datapath selftests; see backend.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/ioctl.h>

#include "backend.h"

static const char * const kind_name[] = {
	[B_FILE] = "file", [B_FILE_DIRECT] = "file", [B_LOOP] = "loop",
	[B_NULLBLK] = "nullblk", [B_NBD] = "nbd", [B_BRD] = "brd",
	[B_WCACHE] = "wcache", [B_WCACHE_BUFFERED] = "wcache",
	[B_DM] = "dm", [B_FSDM] = "fsdm",
};

static bool kind_wcache(enum backing kind)
{
	return kind == B_WCACHE || kind == B_WCACHE_BUFFERED;
}

/* Opened O_DIRECT by backend_up() (and so by the device). */
static bool kind_direct(enum backing kind)
{
	return kind != B_FILE && kind != B_BRD && kind != B_WCACHE_BUFFERED;
}

static uint64_t prng_state = 88172645463325252ULL;

uint64_t prng(void)
{
	prng_state ^= prng_state << 13;
	prng_state ^= prng_state >> 7;
	prng_state ^= prng_state << 17;
	return prng_state;
}

void prng_fill(void *buf, size_t len)
{
	uint64_t *p = buf;
	size_t i;

	for (i = 0; i < len / 8; i++)
		p[i] = prng();
}

bool vhu_present(void)
{
	return access(VHU_DEVICE_PATH, F_OK) == 0;
}

const char *backing_name(enum backing kind)
{
	return kind_name[kind];
}

/* vhu_backing.sh, next to the test program. */
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

/*
 * vhu_backing.sh @cmd (up, cycle) for @b with @arg: 0 and the path it
 * printed in b->path, or -ENODEV when it failed.
 */
static int backing_script(struct backend *b, const char *cmd, const char *arg)
{
	char script[PATH_MAX], line[PATH_MAX * 3];
	FILE *p;

	script_path(script, sizeof(script));
	snprintf(line, sizeof(line), "%s %s %s %d %s", script, cmd,
		 kind_name[b->kind], b->id, arg);
	p = popen(line, "r");
	if (!p)
		return -errno;
	if (!fgets(b->path, sizeof(b->path), p)) {
		pclose(p);
		return -ENODEV;
	}
	if (pclose(p))
		return -ENODEV;
	b->path[strcspn(b->path, "\n")] = 0;
	return 0;
}

int backend_up(struct backend *b, enum backing kind, bool ro)
{
	int flags = (ro ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	char mb[16];
	uint8_t *buf;
	uint64_t off;
	int ret;

	b->kind = kind;
	b->id = getpid();
	b->fd = -1;
	snprintf(mb, sizeof(mb), "%d", DISK_MB);
	ret = backing_script(b, "up", mb);
	if (ret)
		return ret;

	if (kind_direct(kind))
		flags |= O_DIRECT;
	/* Fill through a writable descriptor first. */
	b->fd = open(b->path, O_RDWR | O_CLOEXEC | (flags & O_DIRECT));
	if (b->fd < 0)
		return -errno;
	b->shadow = calloc(1, DISK_BYTES);
	if (posix_memalign((void **)&buf, 4096, 1 << 20) || !b->shadow)
		return -ENOMEM;
	prng_state ^= (uint64_t)getpid() << 32;
	/*
	 * null_blk writes a block it already stores past its write cache:
	 * a wcache device stays unwritten (zeroes), so that the tests' writes
	 * land in the cache.
	 */
	for (off = 0; !kind_wcache(kind) && off < DISK_BYTES; off += 1 << 20) {
		prng_fill(buf, 1 << 20);
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

void backend_down(struct backend *b)
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

int backend_verify(struct backend *b)
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

int backend_cycle(struct backend *b)
{
	char old[PATH_MAX];
	int ret;

	close(b->fd);
	b->fd = -1;
	strcpy(old, b->path);
	ret = backing_script(b, "cycle", old);
	if (ret)
		return ret;
	/* O_DIRECT either way: no page cache of the old device can answer. */
	b->fd = open(b->path, O_RDWR | O_CLOEXEC | O_DIRECT);
	return b->fd < 0 ? -errno : 0;
}

/* vhu_backing.sh CMD on @b with @args after its id, which prints nothing: 0 or -EIO. */
static int backend_script(struct backend *b, const char *cmd, const char *args)
{
	char script[PATH_MAX], line[PATH_MAX * 3];

	script_path(script, sizeof(script));
	snprintf(line, sizeof(line), "%s %s %s %d %s", script, cmd,
		 kind_name[b->kind], b->id, args);
	return system(line) ? -EIO : 0;
}

int backend_stall(struct backend *b, bool stall)
{
	return backend_script(b, stall ? "stall" : "unstall", "");
}

int backend_delay(struct backend *b, unsigned int ms)
{
	char args[PATH_MAX + 16];

	snprintf(args, sizeof(args), "%s %u", b->path, ms);
	return backend_script(b, "delay", args);
}

int set_backend(struct guest *g, struct backend *b, uint32_t flags,
		unsigned int nq)
{
	return set_backend_blk(g, b, flags, nq, 0);
}

int set_backend_blk(struct guest *g, struct backend *b, uint32_t flags,
		    unsigned int nq, uint32_t blk_size)
{
	struct vhu_backend be = {
		.fd = b->fd,
		.flags = flags,
		.config = {
			.capacity = DISK_SECTORS,
			.blk_size = blk_size,
			.num_queues = nq,
			.max_discard_seg = 2,
			.max_write_zeroes_seg = 2,
		},
	};

	memcpy(be.config.serial, SERIAL, VHU_BLK_ID_BYTES);
	return ioctl(g->vhu, VHU_SET_BACKEND, &be) ? -errno : 0;
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

int random_io(struct guest *g, struct backend *b, int total, bool mem_swap)
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
					p[n].type = VIRTIO_BLK_T_OUT;
					prng_fill(buf, len);
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
