// SPDX-License-Identifier: GPL-2.0
/*
 * A userspace virtio-blk "guest" for the vhu selftests; see guest.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/vhost_types.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "guest.h"

#define RING_ALIGN	4096	/* the rings at the start of a queue's memory */
#define SLOTS_OFF	16384
#define SLOT_INDIRECT	64

int g_mem_init(struct guest *g)
{
	size_t half = G_REGION_SPLIT, gap = 2UL << 20;
	uint8_t *base;

	g->memfd = memfd_create("vhu-guest", MFD_CLOEXEC);
	if (g->memfd < 0 || ftruncate(g->memfd, G_MEM_SIZE))
		return -errno;
	/* Region 1 below region 0, with a hole between: never contiguous. */
	g->reserve_len = G_MEM_SIZE + gap;
	g->reserve = mmap(NULL, g->reserve_len, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->reserve == MAP_FAILED)
		return -errno;
	base = g->reserve;
	g->map[1] = mmap(base, G_MEM_SIZE - half, PROT_READ | PROT_WRITE,
			 MAP_SHARED | MAP_FIXED, g->memfd, half);
	g->map[0] = mmap(base + (G_MEM_SIZE - half) + gap, half,
			 PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 g->memfd, 0);
	if (g->map[0] == MAP_FAILED || g->map[1] == MAP_FAILED)
		return -errno;
	return 0;
}

void g_mem_fini(struct guest *g)
{
	if (g->reserve && g->reserve != MAP_FAILED)
		munmap(g->reserve, g->reserve_len);
	if (g->memfd >= 0)
		close(g->memfd);
}

void *g_ptr(struct guest *g, uint64_t gpa)
{
	uint64_t off = gpa - G_GPA_BASE;

	if (off < G_REGION_SPLIT)
		return g->map[0] + off;
	return g->map[1] + (off - G_REGION_SPLIT);
}

uint64_t g_uaddr(struct guest *g, uint64_t gpa)
{
	return (uint64_t)(uintptr_t)g_ptr(g, gpa);
}

static size_t g_chunk(uint64_t gpa, size_t len)
{
	uint64_t off = gpa - G_GPA_BASE;

	if (off < G_REGION_SPLIT && off + len > G_REGION_SPLIT)
		return G_REGION_SPLIT - off;
	return len;
}

void g_write(struct guest *g, uint64_t gpa, const void *src, size_t len)
{
	while (len) {
		size_t n = g_chunk(gpa, len);

		memcpy(g_ptr(g, gpa), src, n);
		gpa += n;
		src = (const uint8_t *)src + n;
		len -= n;
	}
}

void g_read(struct guest *g, uint64_t gpa, void *dst, size_t len)
{
	while (len) {
		size_t n = g_chunk(gpa, len);

		memcpy(dst, g_ptr(g, gpa), n);
		gpa += n;
		dst = (uint8_t *)dst + n;
		len -= n;
	}
}

int g_set_mem_table(struct guest *g)
{
	struct {
		struct vhu_memory hdr;
		struct vhu_mem_region r[2];
	} m = {
		.hdr.nregions = 2,
		.r[0] = {
			.guest_phys_addr = G_GPA_BASE,
			.memory_size = G_REGION_SPLIT,
			.userspace_addr = (uintptr_t)g->map[0],
		},
		.r[1] = {
			.guest_phys_addr = G_GPA_BASE + G_REGION_SPLIT,
			.memory_size = G_MEM_SIZE - G_REGION_SPLIT,
			.userspace_addr = (uintptr_t)g->map[1],
		},
	};

	return ioctl(g->vhu, VHU_SET_MEM_TABLE, &m) ? -errno : 0;
}

int g_open(struct guest *g)
{
	unsigned int q;

	for (q = 0; q < G_MAX_QUEUES; q++) {
		g->vq[q].vr.kick_fd = -1;
		g->vq[q].vr.call_fd = -1;
		g->vq[q].err = -1;
	}
	g->memfd = -1;
	g->vhu = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (g->vhu < 0)
		return -errno;
	if (ioctl(g->vhu, VHU_SET_OWNER))
		return -errno;
	return g_mem_init(g);
}

void g_close(struct guest *g)
{
	unsigned int q;

	if (g->vhu >= 0)
		close(g->vhu);
	g->vhu = -1;
	for (q = 0; q < G_MAX_QUEUES; q++) {
		struct g_vq *vq = &g->vq[q];

		if (vq->vr.kick_fd >= 0)
			close(vq->vr.kick_fd);
		if (vq->vr.call_fd >= 0)
			close(vq->vr.call_fd);
		if (vq->err >= 0)
			close(vq->err);
		vq->vr.kick_fd = vq->vr.call_fd = vq->err = -1;
	}
}

bool g_offered(const struct guest *g, unsigned int bit)
{
	return g->features & (1ULL << bit);
}

uint64_t g_slot_gpa(struct guest *g, unsigned int q, unsigned int slot)
{
	return g->vq[q].base + SLOTS_OFF + (uint64_t)slot * G_SLOT_SIZE;
}

uint64_t g_slot_data(struct guest *g, unsigned int q, unsigned int slot)
{
	return g_slot_gpa(g, q, slot) + 4096;
}

int g_setup_vrings(struct guest *g)
{
	uint64_t features = 0;
	unsigned int q;

	if (ioctl(g->vhu, VHU_GET_FEATURES, &features))
		return -errno;
	/* Dirty logging only where a test turns it on (vhu_log_test). */
	features &= ~((1ULL << VIRTIO_RING_F_EVENT_IDX) |
		      (1ULL << VIRTIO_RING_F_INDIRECT_DESC) |
		      (1ULL << VHOST_F_LOG_ALL));
	if (g->event_idx)
		features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	if (g->indirect)
		features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (ioctl(g->vhu, VHU_SET_FEATURES, &features))
		return -errno;
	g->features = features;
	if (g->mem_flags && ioctl(g->vhu, VHU_SET_MEM_FLAGS, &g->mem_flags))
		return -errno;
	if (g_set_mem_table(g))
		return -errno;

	for (q = 0; q < g->nq; q++) {
		struct g_vq *vq = &g->vq[q];
		struct vhu_vring_state s = { .index = q };
		struct vhu_vring_addr a = { .index = q };
		struct vhu_vring_file f = { .index = q };
		unsigned int num = vq->num ? vq->num : G_NUM;

		vq->index = q;
		vq->base = G_GPA_BASE + q * G_QUEUE_SPAN;
		/* The rings lie within one region, whichever the queue's. */
		vr_layout(&vq->vr, g_ptr(g, vq->base), num, RING_ALIGN);
		vq->vr.event_idx = g->event_idx;
		vq->vr.kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vq->vr.call_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		vq->err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vq->vr.kick_fd < 0 || vq->vr.call_fd < 0 || vq->err < 0)
			return -errno;

		s.num = num;
		if (ioctl(g->vhu, VHU_SET_VRING_NUM, &s))
			return -errno;
		s.num = 0;
		if (ioctl(g->vhu, VHU_SET_VRING_BASE, &s))
			return -errno;
		a.desc_user_addr = (uintptr_t)vq->vr.desc;
		a.avail_user_addr = (uintptr_t)vq->vr.avail;
		a.used_user_addr = (uintptr_t)vq->vr.used;
		if (ioctl(g->vhu, VHU_SET_VRING_ADDR, &a))
			return -errno;
		f.fd = vq->vr.kick_fd;
		if (ioctl(g->vhu, VHU_SET_VRING_KICK, &f))
			return -errno;
		f.fd = vq->vr.call_fd;
		if (ioctl(g->vhu, VHU_SET_VRING_CALL, &f))
			return -errno;
		f.fd = vq->err;
		if (ioctl(g->vhu, VHU_SET_VRING_ERR, &f))
			return -errno;
		if (g_enable(g, q, true))
			return -errno;
	}
	return 0;
}

int g_enable(struct guest *g, unsigned int q, bool on)
{
	struct vhu_vring_state s = { .index = q, .num = on };

	return ioctl(g->vhu, VHU_SET_VRING_ENABLE, &s) ? -errno : 0;
}

int g_slot_alloc(struct guest *g, unsigned int q)
{
	unsigned int i;

	for (i = 0; i < G_SLOTS; i++) {
		if (!g->vq[q].busy[i]) {
			g->vq[q].busy[i] = true;
			g->vq[q].done[i] = false;
			return i;
		}
	}
	return -1;
}

void g_publish(struct guest *g, unsigned int q, uint16_t head)
{
	struct vr *vr = &g->vq[q].vr;

	vr_push(vr, head);
	vr_publish(vr);
}

int g_submit(struct guest *g, unsigned int q, unsigned int slot,
	     uint32_t type, uint64_t sector, uint32_t len, const void *out)
{
	return g_submit_at(g, q, slot, type, sector, len, out,
			   g_slot_data(g, q, slot));
}

int g_submit_at(struct guest *g, unsigned int q, unsigned int slot,
		uint32_t type, uint64_t sector, uint32_t len, const void *out,
		uint64_t data)
{
	struct g_vq *vq = &g->vq[q];
	uint64_t sg = g_slot_gpa(g, q, slot);
	struct virtio_blk_outhdr hdr = { .type = type, .sector = sector };
	struct vr_buf chain[G_DESC_PER_SLOT];
	struct vring_desc table[G_DESC_PER_SLOT];
	bool dev_writes = true;
	unsigned int n = 0, head = slot * G_DESC_PER_SLOT;
	uint8_t sentinel = 0xee;

	if (len > G_MAX_DATA && data == g_slot_data(g, q, slot))
		return -EINVAL;
	g_write(g, sg, &hdr, sizeof(hdr));
	g_write(g, sg + G_SLOT_STATUS, &sentinel, 1);
	chain[n++] = (struct vr_buf){ sg, sizeof(hdr), false };
	if (type == VIRTIO_BLK_T_OUT || type == VIRTIO_BLK_T_DISCARD ||
	    type == VIRTIO_BLK_T_WRITE_ZEROES) {
		dev_writes = false;
		if (out)
			g_write(g, data, out, len);
	}
	if (len) {
		/* Split bigger buffers in two at a random 512-byte boundary. */
		uint32_t first = len;

		if (len >= 1024 && (rand() & 1))
			first = 512 * (1 + rand() % (len / 512 - 1));
		chain[n++] = (struct vr_buf){ data, first, dev_writes };
		if (first < len)
			chain[n++] = (struct vr_buf){ data + first, len - first,
						      dev_writes };
	}
	chain[n++] = (struct vr_buf){ sg + G_SLOT_STATUS, 1, true };

	if (g->indirect && (rand() & 1)) {
		/* The table may straddle the regions: written with g_write(). */
		vr_fill_chain(table, 0, chain, n);
		g_write(g, sg + SLOT_INDIRECT, table, n * sizeof(table[0]));
		vr_add_indirect(&vq->vr, head, sg + SLOT_INDIRECT, n);
	} else {
		vr_add_chain(&vq->vr, head, chain, n);
	}
	vq->busy[slot] = true;
	vq->done[slot] = false;
	g_publish(g, q, head);
	return 0;
}

void g_kick(struct guest *g, unsigned int q, bool force)
{
	struct vr *vr = &g->vq[q].vr;

	if ((vr_kick_needed(vr) || force) && vr_kick(vr))
		perror("kick");
}

static int g_harvest(struct guest *g, unsigned int q)
{
	struct g_vq *vq = &g->vq[q];
	uint32_t id, len;
	int n = 0;

	while (vr_get_used(&vq->vr, &id, &len)) {
		unsigned int slot = id / G_DESC_PER_SLOT;

		n++;
		if (id % G_DESC_PER_SLOT || slot >= G_SLOTS) {
			fprintf(stderr, "q%u: used id %u is no head\n", q, id);
			continue;
		}
		g_read(g, g_slot_gpa(g, q, slot) + G_SLOT_STATUS,
		       &vq->status[slot], 1);
		vq->used_len[slot] = len;
		vq->done[slot] = true;
		vq->busy[slot] = false;
	}
	return n;
}

static long g_ms_left(const struct timespec *end)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (end->tv_sec - now.tv_sec) * 1000 +
	       (end->tv_nsec - now.tv_nsec) / 1000000;
}

static void g_deadline(struct timespec *end, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, end);
	end->tv_sec += ms / 1000;
	end->tv_nsec += (ms % 1000) * 1000000L;
	if (end->tv_nsec >= 1000000000L) {
		end->tv_sec++;
		end->tv_nsec -= 1000000000L;
	}
}

int g_wait(struct guest *g, unsigned int q, unsigned int n, int ms)
{
	struct vr *vr = &g->vq[q].vr;
	unsigned int got = 0;
	struct timespec end;
	long left;
	int ret;

	g_deadline(&end, ms);
	for (;;) {
		got += g_harvest(g, q);
		if (got >= n)
			return got;
		/* Ask for a call, then look again before sleeping. */
		if (vr_enable_calls(vr))
			continue;
		left = g_ms_left(&end);
		ret = left > 0 ? vr_wait_call(vr, left) : 0;
		if (ret < 0)
			return ret;
		if (!ret)
			return got + g_harvest(g, q);
	}
}

int g_wait_err(struct guest *g, unsigned int q, int ms)
{
	struct pollfd p = { .fd = g->vq[q].err, .events = POLLIN };
	uint64_t cnt;

	if (poll(&p, 1, ms) <= 0)
		return 0;
	return read(g->vq[q].err, &cnt, sizeof(cnt)) == sizeof(cnt);
}

struct g_stats_ctx {
	uint32_t dev_id;
	unsigned int q;
	struct g_stats *s;
	bool found;
};

static int g_stats_cb(struct nl_msg *msg, void *arg)
{
	static const struct {
		int attr;
		size_t off;
	} ctrs[] = {
#define G_STAT(a, f) { VHU_STATS_A_##a, offsetof(struct g_stats, f) }
		G_STAT(REQS_IN, reqs_in), G_STAT(REQS_OUT, reqs_out),
		G_STAT(REQS_FLUSH, reqs_flush), G_STAT(REQS_GET_ID, reqs_get_id),
		G_STAT(REQS_DISCARD, reqs_discard),
		G_STAT(REQS_WRITE_ZEROES, reqs_write_zeroes),
		G_STAT(REQS_UNSUPP, reqs_unsupp), G_STAT(REQS_IOERR, reqs_ioerr),
		G_STAT(BYTES_READ, bytes_read), G_STAT(BYTES_WRITTEN, bytes_written),
		G_STAT(RING_ERRORS, ring_errors), G_STAT(INFLIGHT, inflight),
		G_STAT(KICKS, kicks), G_STAT(CALLS, calls),
		G_STAT(LAST_AVAIL_IDX, last_avail_idx),
		G_STAT(LOG_SKIPPED, log_skipped),
		G_STAT(POLLS, polls), G_STAT(POLL_HITS, poll_hits),
		G_STAT(POLL_NS, poll_ns),
#undef G_STAT
	};
	struct nlattr *tb[VHU_ATTR_MAX + 1], *st[VHU_STATS_A_MAX + 1];
	struct g_stats_ctx *ctx = arg;
	size_t i;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, VHU_ATTR_MAX, NULL) ||
	    !tb[VHU_ATTR_DEV_ID] || !tb[VHU_ATTR_QUEUE] || !tb[VHU_ATTR_STATS])
		return NL_SKIP;
	if (nla_get_u32(tb[VHU_ATTR_DEV_ID]) != ctx->dev_id)
		return NL_OK;
	ctx->s->msgs++;
	if (nla_get_u32(tb[VHU_ATTR_QUEUE]) != ctx->q)
		return NL_OK;
	if (nla_parse_nested(st, VHU_STATS_A_MAX, tb[VHU_ATTR_STATS], NULL) ||
	    !st[VHU_STATS_A_STATE])
		return NL_SKIP;
	ctx->found = true;
	ctx->s->state = nla_get_u32(st[VHU_STATS_A_STATE]);
	for (i = 0; i < sizeof(ctrs) / sizeof(ctrs[0]); i++)
		if (st[ctrs[i].attr])
			*(uint64_t *)((char *)ctx->s + ctrs[i].off) =
				nla_get_u64(st[ctrs[i].attr]);
	return NL_OK;
}

int g_stats_dump(uint32_t dev_id, bool all, unsigned int q, struct g_stats *s)
{
	struct g_stats_ctx ctx = { .dev_id = dev_id, .q = q, .s = s };
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_msg *msg = nlmsg_alloc();
	int fam, ret = -EIO;

	memset(s, 0, sizeof(*s));
	if (!sk || !msg || genl_connect(sk))
		goto out;
	fam = genl_ctrl_resolve(sk, VHU_GENL_NAME);
	if (fam < 0)
		goto out;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, fam, 0, NLM_F_DUMP,
			 VHU_CMD_GET_STATS, VHU_GENL_VERSION) ||
	    (!all && nla_put_u32(msg, VHU_ATTR_DEV_ID, dev_id)))
		goto out;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, g_stats_cb, &ctx);
	if (nl_send_auto(sk, msg) < 0 || nl_recvmsgs_default(sk) < 0)
		goto out;
	ret = ctx.found ? 0 : -ENOENT;
out:
	nlmsg_free(msg);
	nl_socket_free(sk);
	return ret;
}

int g_stats(struct guest *g, unsigned int q, struct g_stats *s)
{
	struct vhu_dev_info info;

	if (ioctl(g->vhu, VHU_GET_DEV_INFO, &info))
		return -errno;
	return g_stats_dump(info.dev_id, false, q, s);
}

int g_do(struct guest *g, unsigned int q, uint32_t type, uint64_t sector,
	 void *buf, uint32_t len, uint32_t *used_len)
{
	int slot = g_slot_alloc(g, q);

	if (slot < 0)
		return -EBUSY;
	if (g_submit(g, q, slot, type, sector, len, buf))
		return -EINVAL;
	g_kick(g, q, false);
	while (!g->vq[q].done[slot]) {
		if (g_wait(g, q, 1, 10000) <= 0)
			return -ETIMEDOUT;
	}
	if (buf && (type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID))
		g_read(g, g_slot_data(g, q, slot), buf, len);
	if (used_len)
		*used_len = g->vq[q].used_len[slot];
	return g->vq[q].status[slot];
}
