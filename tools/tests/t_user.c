// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests of the userspace datapath: the export daemon runs in a
 * child with the real vu_dp_user_ops (io_uring, queue threads) over a
 * temporary backing file, and this process plays the guest: it builds
 * real split rings in the memfd guest memory, kicks, waits for calls and
 * checks statuses, used lengths and the backing file's contents.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "exportd.h"
#include "tap.h"
#include "test_util.h"
#include "util.h"
#include "vu_frontend.h"

#define DISK_SIZE (8u << 20)
#define QSIZE 256
#define NQ_MAX 4
#define SLOTS 32			/* requests in flight per queue */
#define SLOT_DATA 8192			/* data bytes per slot */
#define SERIAL "vhu-user-serial"

/*
 * The daemon with the userspace datapath: exports on sock_rw (NQ_MAX
 * queues), sock_ro (read-only, 1 queue) and sock_dio (O_DIRECT, 1 queue).
 */
static struct {
	struct tmp_dir dir;
	const char *sock_rw, *sock_ro, *sock_dio;
	const char *img_dio;
	int img_fd;		/* sock_rw's backing file, read only */
	struct exportd d;
} user;

struct tq {
	struct vr vr;		/* with the kick and call eventfds */
	int err;
	uint32_t len[QSIZE];	/* used length by head, ~0 until used */
};

struct tdev {
	struct vf vf;
	struct vf_guest *g;
	unsigned int nq;
	bool event_idx, indirect;
	int inflight_fd;
	struct tq q[NQ_MAX];
};

/* ---- guest memory layout ------------------------------------------------ */

/* Region 0 (gpa 0): rings at 64K per queue, then headers, then tables. */
static uint64_t hdr_gpa(int q, int s) { return 0x50000 + q * 0x1000 + s * 64; }
static uint64_t tbl_gpa(int q, int s) { return 0x60000 + q * 0x4000 + s * 512; }
/* Region 1 (gpa 4G): data, 256K per queue. */
static uint64_t data_gpa(int q, int s)
{
	return VF_GPA1 + q * 0x40000 + s * SLOT_DATA;
}

static void *gptr(struct vf_guest *g, uint64_t gpa)
{
	if (gpa < VF_REGION_SIZE)
		return g->base + gpa;
	return g->base + VF_REGION_SIZE + (gpa - VF_GPA1);
}

/* ---- the driver ---------------------------------------------------------- */

static int new_eventfd(struct vf *vf, uint32_t req, uint32_t q, int *keep)
{
	uint64_t v = q;
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	if (fd < 0)
		return -errno;
	*keep = fd;
	return vf_req_ack(vf, req, &v, sizeof(v), &fd, 1);
}

static void dev_close(struct tdev *d)
{
	for (unsigned int i = 0; i < NQ_MAX; i++) {
		struct tq *q = &d->q[i];

		close_fd(&q->vr.kick_fd);
		close_fd(&q->vr.call_fd);
		close_fd(&q->err);
	}
	close_fd(&d->inflight_fd);
	vf_close(&d->vf);
}

static int get_inflight(struct tdev *d)
{
	struct vu_inflight_msg inf = { .num_queues = d->nq, .queue_size = QSIZE };
	struct vu_hdr h;
	int ret;

	if (d->inflight_fd >= 0) {
		inf.mmap_size = lseek(d->inflight_fd, 0, SEEK_END);
	} else {
		ret = vf_send(&d->vf, VU_REQ_GET_INFLIGHT_FD, false, &inf,
			      sizeof(inf), NULL, 0);
		ret = ret ?: vf_recv(&d->vf, &h, &inf, sizeof(inf), &d->inflight_fd);
		if (ret || d->inflight_fd < 0)
			return -1;
	}
	return vf_req_ack(&d->vf, VU_REQ_SET_INFLIGHT_FD, &inf, sizeof(inf),
			  &d->inflight_fd, 1);
}

/*
 * QEMU 7.2's DRIVER_OK sequence, keeping the eventfds; the rings zeroed,
 * or as the last device left them.
 */
static int dev_open_inflight(struct tdev *d, struct vf_guest *g, const char *sock,
			     unsigned int nq, bool event_idx, bool indirect,
			     bool zero_rings, int inflight_fd)
{
	uint64_t f;

	memset(d, 0, sizeof(*d));
	d->g = g;
	d->nq = nq;
	d->event_idx = event_idx;
	d->indirect = indirect;
	for (unsigned int i = 0; i < NQ_MAX; i++)
		d->q[i].vr.kick_fd = d->q[i].vr.call_fd = d->q[i].err = -1;
	d->inflight_fd = inflight_fd;
	if (vf_connect(&d->vf, sock) || vf_realize(&d->vf, nq, &f))
		return -1;
	if (!event_idx)
		f &= ~BIT(VIRTIO_RING_F_EVENT_IDX);
	if (!indirect)
		f &= ~BIT(VIRTIO_RING_F_INDIRECT_DESC);
	if (vf_u64_ack(&d->vf, VU_REQ_SET_FEATURES, f) ||
	    vf_u64_ack(&d->vf, VU_REQ_SET_STATUS, 0xb) || get_inflight(d) ||
	    vf_u64_ack(&d->vf, VU_REQ_SET_FEATURES, f))
		return -2;
	for (int i = 0; i < 2; i++) {
		struct vu_mem_reg_msg mr = { 0, g->r[i] };

		if (vf_req_ack(&d->vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1))
			return -3;
	}
	for (unsigned int i = 0; i < nq; i++) {
		struct tq *q = &d->q[i];
		struct vu_vring_addr a;

		vf_ring_addrs(i, QSIZE, &a);
		vf_vr(g, i, QSIZE, zero_rings, &q->vr);
		q->vr.event_idx = event_idx;
		memset(q->len, 0xff, sizeof(q->len));
		if (vf_state_ack(&d->vf, VU_REQ_SET_VRING_NUM, i, QSIZE) ||
		    vf_state_ack(&d->vf, VU_REQ_SET_VRING_BASE, i, vr_used_idx(&q->vr)) ||
		    vf_req_ack(&d->vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) ||
		    new_eventfd(&d->vf, VU_REQ_SET_VRING_CALL, i, &q->vr.call_fd) ||
		    new_eventfd(&d->vf, VU_REQ_SET_VRING_ERR, i, &q->err) ||
		    new_eventfd(&d->vf, VU_REQ_SET_VRING_KICK, i, &q->vr.kick_fd))
			return -4;
	}
	for (unsigned int i = 0; i < nq; i++)
		if (vf_state_ack(&d->vf, VU_REQ_SET_VRING_ENABLE, i, 1))
			return -5;
	return vf_u64_ack(&d->vf, VU_REQ_SET_STATUS, 0xf) ? -6 : 0;
}

static int dev_open(struct tdev *d, struct vf_guest *g, const char *sock,
		    unsigned int nq, bool event_idx, bool indirect, bool zero_rings)
{
	return dev_open_inflight(d, g, sock, nq, event_idx, indirect, zero_rings, -1);
}

/* ---- requests ------------------------------------------------------------ */

/*
 * Put a chain in slot s's descriptors, head s * 8 (or in its indirect
 * table), and publish it.
 */
static void post(struct tdev *d, int qi, int s, const struct vr_buf *b, int n)
{
	struct tq *q = &d->q[qi];
	uint16_t head = s * 8;

	if (d->indirect) {
		vr_fill_chain(gptr(d->g, tbl_gpa(qi, s)), 0, b, n);
		vr_add_indirect(&q->vr, head, tbl_gpa(qi, s), n);
	} else {
		vr_add_chain(&q->vr, head, b, n);
	}
	q->len[head] = ~0u;
	vr_push(&q->vr, head);
	vr_publish(&q->vr);
}

/* Kick whether or not the device asked for it. */
static void kick(struct tdev *d, int qi)
{
	vr_kick(&d->q[qi].vr);
}

/*
 * Wait for calls until everything posted is used, recording the used
 * lengths: false if no call came for 3 s.
 */
static bool wait_used(struct tdev *d, int qi)
{
	struct tq *q = &d->q[qi];
	uint32_t head, len;

	for (;;) {
		while (vr_get_used(&q->vr, &head, &len))
			if (head < QSIZE)
				q->len[head] = len;
		if (q->vr.last_used == q->vr.avail_idx)
			return true;
		/* A call once the last one posted is used. */
		if (!vr_want_call_at(&q->vr, q->vr.avail_idx - 1) &&
		    vr_wait_call(&q->vr, 3000) != 1)
			return false;
	}
}

static struct virtio_blk_outhdr *hdr(struct tdev *d, int qi, int s)
{
	return gptr(d->g, hdr_gpa(qi, s));
}

static uint8_t *status(struct tdev *d, int qi, int s)
{
	return gptr(d->g, hdr_gpa(qi, s) + 16);
}

/* Post a plain request: header, optional data, status byte. */
static void post_req(struct tdev *d, int qi, int s, uint32_t type,
		     uint64_t sector, uint32_t len)
{
	struct vr_buf sg[3];
	int n = 0;

	hdr(d, qi, s)->type = type;
	hdr(d, qi, s)->ioprio = 0;
	hdr(d, qi, s)->sector = sector;
	*status(d, qi, s) = 0xaa;
	sg[n++] = (struct vr_buf){ hdr_gpa(qi, s), 16, false };
	if (len)
		sg[n++] = (struct vr_buf){ data_gpa(qi, s), len, type != VIRTIO_BLK_T_OUT };
	sg[n++] = (struct vr_buf){ hdr_gpa(qi, s) + 16, 1, true };
	post(d, qi, s, sg, n);
}

/* The used length of slot s's request since it was posted, or ~0. */
static uint32_t used_len(struct tdev *d, int qi, int s)
{
	return d->q[qi].len[s * 8];
}

/* One request, synchronously: its status (0xaa if none written). */
static int one(struct tdev *d, int qi, uint32_t type, uint64_t sector, uint32_t len)
{
	post_req(d, qi, 0, type, sector, len);
	kick(d, qi);
	if (!wait_used(d, qi))
		return -1;
	return *status(d, qi, 0);
}

static bool file_matches(uint64_t off, const void *buf, size_t len)
{
	char tmp[SLOT_DATA];

	return pread(user.img_fd, tmp, len, off) == (ssize_t)len && !memcmp(tmp, buf, len);
}

/* ---- tests --------------------------------------------------------------- */

/* Random writes then reads, SLOTS in flight per queue, on nq queues. */
static void t_random_io(struct vf_guest *g, unsigned int nq, bool event_idx,
			bool indirect)
{
	const char *what = event_idx ? (indirect ? "event_idx+indirect" : "event_idx")
				     : (indirect ? "indirect" : "plain");
	bool ok = true, st_ok = true, data_ok = true, len_ok = true;
	uint64_t sector[NQ_MAX][SLOTS];
	uint32_t len[NQ_MAX][SLOTS];
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, nq, event_idx, indirect, true);

	if (!tap_ok(ret == 0, "user %uq %s: driver ok (%d)", nq, what, ret)) {
		dev_close(&d);
		return;
	}
	for (int round = 0; round < 4 && ok; round++) {
		bool write = round % 2 == 0;

		for (unsigned int qi = 0; qi < nq; qi++) {
			for (int s = 0; s < SLOTS; s++) {
				/* Distinct 8K areas per request: no overlap in flight. */
				unsigned int area = (qi * SLOTS + s) * 7 + round * 3;

				sector[qi][s] = (area % (DISK_SIZE / SLOT_DATA)) * 16 +
						(rand() % 8);
				len[qi][s] = 512 * (1 + rand() % 8);
				if (write) {
					uint8_t *p = gptr(g, data_gpa(qi, s));

					for (uint32_t i = 0; i < len[qi][s]; i++)
						p[i] = rand();
				}
				post_req(&d, qi, s, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
					 sector[qi][s], len[qi][s]);
			}
			kick(&d, qi);
		}
		for (unsigned int qi = 0; qi < nq; qi++) {
			ok &= wait_used(&d, qi);
			for (int s = 0; s < SLOTS && ok; s++) {
				st_ok &= *status(&d, qi, s) == VIRTIO_BLK_S_OK;
				data_ok &= file_matches(sector[qi][s] * 512,
							gptr(g, data_gpa(qi, s)),
							len[qi][s]);
				len_ok &= used_len(&d, qi, s) ==
					  (write ? 1 : len[qi][s] + 1);
			}
		}
	}
	tap_ok(ok, "user %uq %s: every request completed with a call", nq, what);
	tap_ok(st_ok, "user %uq %s: every status OK", nq, what);
	tap_ok(data_ok, "user %uq %s: data matches the backing file", nq, what);
	tap_ok(len_ok, "user %uq %s: used lengths count written bytes", nq, what);
	if (event_idx) {
		struct vr *vr = &d.q[0].vr;

		tap_ok(*vr_avail_event(vr) == vr->avail_idx,
		       "user %uq %s: avail_event asks for the next kick", nq, what);
	}
	dev_close(&d);
}

static void t_types(struct vf_guest *g)
{
	char id[VIRTIO_BLK_ID_BYTES + 1] = { 0 };
	uint8_t *data = gptr(g, data_gpa(0, 0));
	uint8_t zero[SLOT_DATA] = { 0 };
	struct tdev d;
	struct vr_buf sg[4];
	int ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);

	if (!tap_ok(ret == 0, "user types: driver ok (%d)", ret)) {
		dev_close(&d);
		return;
	}
	tap_ok(one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK, "user: FLUSH ok");
	ret = one(&d, 0, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES);
	memcpy(id, data, VIRTIO_BLK_ID_BYTES);
	tap_ok(ret == VIRTIO_BLK_S_OK && !strcmp(id, SERIAL) &&
	       used_len(&d, 0, 0) == VIRTIO_BLK_ID_BYTES + 1, "user: GET_ID returns the serial");

	/* Fill 8K, then discard/zero parts of it. */
	memset(data, 0x5a, SLOT_DATA);
	ret = one(&d, 0, VIRTIO_BLK_T_OUT, 2048, SLOT_DATA);
	{
		struct virtio_blk_discard_write_zeroes *seg = gptr(g, hdr_gpa(0, 1));

		*seg = (struct virtio_blk_discard_write_zeroes){ 2048, 8, 0 };
		hdr(&d, 0, 0)->type = VIRTIO_BLK_T_WRITE_ZEROES;
		hdr(&d, 0, 0)->sector = 0;
		*status(&d, 0, 0) = 0xaa;
		sg[0] = (struct vr_buf){ hdr_gpa(0, 0), 16, false };
		sg[1] = (struct vr_buf){ hdr_gpa(0, 1), 16, false };
		sg[2] = (struct vr_buf){ hdr_gpa(0, 0) + 16, 1, true };
		post(&d, 0, 0, sg, 3);
		kick(&d, 0);
		wait_used(&d, 0);
		tap_ok(*status(&d, 0, 0) == VIRTIO_BLK_S_OK && file_matches(2048 * 512, zero, 4096),
		       "user: WRITE_ZEROES zeroes the range");
		hdr(&d, 0, 0)->type = VIRTIO_BLK_T_DISCARD;
		*seg = (struct virtio_blk_discard_write_zeroes){ 2056, 8, 0 };
		*status(&d, 0, 0) = 0xaa;
		post(&d, 0, 0, sg, 3);
		kick(&d, 0);
		wait_used(&d, 0);
		tap_ok(*status(&d, 0, 0) == VIRTIO_BLK_S_OK, "user: DISCARD ok");
		seg->flags = 0x80;
		*status(&d, 0, 0) = 0xaa;
		post(&d, 0, 0, sg, 3);
		kick(&d, 0);
		wait_used(&d, 0);
		tap_ok(*status(&d, 0, 0) == VIRTIO_BLK_S_UNSUPP, "user: DISCARD with unknown flags: UNSUPP");
		*seg = (struct virtio_blk_discard_write_zeroes){ DISK_SIZE / 512 - 4, 8, 0 };
		*status(&d, 0, 0) = 0xaa;
		post(&d, 0, 0, sg, 3);
		kick(&d, 0);
		wait_used(&d, 0);
		tap_ok(*status(&d, 0, 0) == VIRTIO_BLK_S_IOERR, "user: DISCARD past the end: IOERR");
	}
	tap_ok(one(&d, 0, 77, 0, 0) == VIRTIO_BLK_S_UNSUPP, "user: unknown type: UNSUPP");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, 1024) == VIRTIO_BLK_S_IOERR,
	       "user: read past the end: IOERR");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, ~0ull >> 1, 512) == VIRTIO_BLK_S_IOERR,
	       "user: read at a huge sector: IOERR");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_OUT, 0, 100) == VIRTIO_BLK_S_IOERR,
	       "user: write of a partial sector: IOERR");

	/* Header split over two descriptors (gathered). */
	memset(data, 0x33, 512);
	hdr(&d, 0, 0)->type = VIRTIO_BLK_T_OUT;
	hdr(&d, 0, 0)->sector = 100;
	*status(&d, 0, 0) = 0xaa;
	sg[0] = (struct vr_buf){ hdr_gpa(0, 0), 5, false };
	sg[1] = (struct vr_buf){ hdr_gpa(0, 0) + 5, 11, false };
	sg[2] = (struct vr_buf){ data_gpa(0, 0), 512, false };
	sg[3] = (struct vr_buf){ hdr_gpa(0, 0) + 16, 1, true };
	post(&d, 0, 0, sg, 4);
	kick(&d, 0);
	wait_used(&d, 0);
	tap_ok(*status(&d, 0, 0) == VIRTIO_BLK_S_OK && file_matches(100 * 512, data, 512),
	       "user: a header split over descriptors is gathered");

	/* Read whose data buffer is device-readable: wrong direction. */
	hdr(&d, 0, 0)->type = VIRTIO_BLK_T_IN;
	*status(&d, 0, 0) = 0xaa;
	sg[0] = (struct vr_buf){ hdr_gpa(0, 0), 16, false };
	sg[1] = (struct vr_buf){ data_gpa(0, 0), 512, false };
	sg[2] = (struct vr_buf){ hdr_gpa(0, 0) + 16, 1, true };
	post(&d, 0, 0, sg, 3);
	kick(&d, 0);
	wait_used(&d, 0);
	tap_ok(*status(&d, 0, 0) == VIRTIO_BLK_S_IOERR, "user: read into a readable buffer: IOERR");

	/* A buffer outside guest memory fails the request only. */
	*status(&d, 0, 0) = 0xaa;
	sg[1] = (struct vr_buf){ 0x200000000ull, 512, true };
	post(&d, 0, 0, sg, 3);
	kick(&d, 0);
	wait_used(&d, 0);
	tap_ok(*status(&d, 0, 0) == VIRTIO_BLK_S_IOERR, "user: buffer outside memory: IOERR");

	/* No status byte at all: completed with nothing written. */
	sg[1] = (struct vr_buf){ data_gpa(0, 0), 512, false };
	post(&d, 0, 0, sg, 2);
	kick(&d, 0);
	tap_ok(wait_used(&d, 0) && used_len(&d, 0, 0) == 0,
	       "user: a chain without a status byte completes with length 0");

	/* Write cache off (WCE 0): writes still work (RWF_DSYNC). */
	{
		struct vu_config_msg c = { .offset = offsetof(struct virtio_blk_config, wce),
					   .size = 1, .flags = 0, .data = { 0 } };

		ret = vf_req_ack(&d.vf, VU_REQ_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 1, NULL, 0);
		tap_ok(ret == 0 && one(&d, 0, VIRTIO_BLK_T_OUT, 8, 512) == VIRTIO_BLK_S_OK,
		       "user: write-through mode writes");
	}
	dev_close(&d);
}

/* A malformed ring: the err eventfd fires, the daemon stays up. */
static void t_bad_ring(struct vf_guest *g, const char *what, int kind)
{
	struct pollfd p;
	struct tdev d;
	struct tq *q;
	uint64_t f;
	int ret = dev_open(&d, g, user.sock_rw, 1, true, true, true);

	if (ret) {
		tap_ok(false, "user bad ring %s: driver ok (%d)", what, ret);
		dev_close(&d);
		return;
	}
	q = &d.q[0];
	post_req(&d, 0, 0, VIRTIO_BLK_T_IN, 0, 512);
	switch (kind) {
	case 0:		/* a loop through an indirect table */
		((struct vring_desc *)gptr(g, tbl_gpa(0, 0)))[2].flags |= VRING_DESC_F_NEXT;
		((struct vring_desc *)gptr(g, tbl_gpa(0, 0)))[2].next = 0;
		break;
	case 1:		/* avail index far ahead */
		q->vr.avail->idx += QSIZE + 1;
		break;
	case 2:		/* head out of range */
		q->vr.avail->ring[0] = QSIZE + 3;
		break;
	case 3:		/* nested indirect */
		((struct vring_desc *)gptr(g, tbl_gpa(0, 0)))[1].flags |= VRING_DESC_F_INDIRECT;
		break;
	case 4:		/* indirect table of a bad length */
		q->vr.desc[0].len = 20;
		break;
	case 5:		/* a loop in the descriptor table */
		d.indirect = false;
		post_req(&d, 0, 1, VIRTIO_BLK_T_IN, 0, 512);
		q->vr.desc[8 + 2].flags |= VRING_DESC_F_NEXT;
		q->vr.desc[8 + 2].next = 8;
		break;
	case 6:		/* indirect table outside memory */
		q->vr.desc[0].addr = 0x300000000ull;
		break;
	}
	kick(&d, 0);
	p = (struct pollfd){ .fd = q->err, .events = POLLIN };
	tap_ok(poll(&p, 1, 3000) == 1, "user bad ring %s: the err eventfd fires", what);
	ret = vf_get_u64(&d.vf, VU_REQ_GET_FEATURES, &f);
	tap_ok(ret == 0 && exportd_alive(&user.d), "user bad ring %s: the daemon stays up", what);
	{
		uint32_t base = ~0u;

		ret = vf_stop(&d.vf, 1, &base);
		tap_ok(ret == 0 && base == (kind == 5 ? 1u : 0u),
		       "user bad ring %s: the base stops at the bad entry (%u)", what, base);
	}
	dev_close(&d);
}

static void t_readonly(struct vf_guest *g)
{
	struct tdev d;
	uint64_t f = 0;
	int ret = dev_open(&d, g, user.sock_ro, 1, true, false, true);

	vf_get_u64(&d.vf, VU_REQ_GET_FEATURES, &f);
	if (!tap_ok(ret == 0 && (f & BIT(VIRTIO_BLK_F_RO)), "user ro: driver ok, RO offered")) {
		dev_close(&d);
		return;
	}
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, 0, 4096) == VIRTIO_BLK_S_OK, "user ro: reads");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_OUT, 0, 4096) == VIRTIO_BLK_S_IOERR,
	       "user ro: a write fails with IOERR");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK, "user ro: flush ok");
	dev_close(&d);
}

static bool spin_used(struct tdev *d, int qi)
{
	for (int i = 0; i < 3000; i++) {
		if (vr_used_idx(&d->q[qi].vr) == d->q[qi].vr.avail_idx)
			return true;
		usleep(1000);
	}
	return false;
}

static bool call_pending(struct tdev *d, int qi, int ms)
{
	return vr_wait_call(&d->q[qi].vr, ms) == 1;
}

/* The daemon's CPU time (user + system) in clock ticks, or -1. */
static long daemon_cpu_ticks(void)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)user.d.pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

/*
 * Queues that run but get no requests must sleep. Frontends pass
 * non-blocking kick eventfds (QEMU's are), on which a naive io_uring read
 * completes at once with -EAGAIN: re-armed, that spins a CPU per queue.
 * This counts the daemon's own CPU time, not wall time, so a loaded
 * machine cannot make it fail.
 */
static void t_idle(struct vf_guest *g)
{
	long hz = sysconf(_SC_CLK_TCK), before, after;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 4, true, false, true);

	if (!tap_ok(ret == 0 && one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK,
		    "user idle: 4 queues running")) {
		dev_close(&d);
		return;
	}
	before = daemon_cpu_ticks();
	usleep(1000000);
	after = daemon_cpu_ticks();
	tap_ok(before >= 0 && after >= 0 && after - before <= hz / 10,
	       "user idle: 4 idle queues used %ld ms of CPU in 1 s (at most 100)",
	       (after - before) * 1000 / (hz ? hz : 100));
	tap_ok(one(&d, 3, VIRTIO_BLK_T_IN, 0, 4096) == VIRTIO_BLK_S_OK,
	       "user idle: a kick after the idle time is served");
	dev_close(&d);
}

/* Call suppression: NO_INTERRUPT without EVENT_IDX, used_event with it. */
static void t_notify(struct vf_guest *g, bool event_idx)
{
	const char *what = event_idx ? "used_event" : "NO_INTERRUPT";
	struct vr *vr;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 1, event_idx, false, true);

	if (!tap_ok(ret == 0, "user notify %s: driver ok", what)) {
		dev_close(&d);
		return;
	}
	vr = &d.q[0].vr;
	/* The first used update always calls (as vhost): get past it. */
	one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0);
	call_pending(&d, 0, 0);
	if (event_idx)
		*vr_used_event(vr) = vr->avail_idx + 10;
	else
		vr->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	post_req(&d, 0, 0, VIRTIO_BLK_T_IN, 0, 512);
	kick(&d, 0);
	tap_ok(spin_used(&d, 0) && !call_pending(&d, 0, 200),
	       "user notify %s: no call when the driver does not want one", what);
	vr->avail->flags = 0;
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK,
	       "user notify %s: a call once the driver asks again", what);
	if (!event_idx)
		tap_ok(vr->used->flags == 0, "user notify: idle queue asks for kicks");
	dev_close(&d);
}

/*
 * Stress: I/O on 4 queues while queues are disabled and re-enabled and
 * the data region is removed and re-added. Every request must complete
 * (OK, or IOERR while its region is gone) and the daemon stay up.
 */
static void t_stress(struct vf_guest *g)
{
	struct vu_mem_reg_msg mr = { 0, g->r[1] };
	bool ok = true, done = true, region = true;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, NQ_MAX, true, true, true);

	if (!tap_ok(ret == 0, "user stress: driver ok")) {
		dev_close(&d);
		return;
	}
	for (int it = 0; it < 100 && ok; it++) {
		for (int qi = 0; qi < NQ_MAX; qi++) {
			for (int s = 0; s < SLOTS; s++)
				post_req(&d, qi, s, s & 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
					 (rand() % (DISK_SIZE / SLOT_DATA)) * 16, SLOT_DATA);
			kick(&d, qi);
		}
		if (it % 3 == 0) {
			int qi = rand() % NQ_MAX;

			ok &= !vf_state_ack(&d.vf, VU_REQ_SET_VRING_ENABLE, qi, 0);
			ok &= !vf_state_ack(&d.vf, VU_REQ_SET_VRING_ENABLE, qi, 1);
		} else if (it % 3 == 1) {
			ok &= !vf_req_ack(&d.vf, region ? VU_REQ_REM_MEM_REG : VU_REQ_ADD_MEM_REG,
					  &mr, sizeof(mr), &g->fd, region ? 0 : 1);
			region = !region;
		}
		for (int qi = 0; qi < NQ_MAX; qi++) {
			ok &= wait_used(&d, qi);
			for (int s = 0; s < SLOTS; s++)
				done &= *status(&d, qi, s) == VIRTIO_BLK_S_OK ||
					*status(&d, qi, s) == VIRTIO_BLK_S_IOERR;
		}
	}
	tap_ok(ok && done && exportd_alive(&user.d),
	       "user stress: 100 rounds of I/O across enable toggles and region hotplug");
	dev_close(&d);
}

/* --direct: O_DIRECT on the guest's own (aligned) buffers. */
static void t_direct(struct vf_guest *g)
{
	uint8_t *data = gptr(g, data_gpa(0, 0));
	uint8_t back[SLOT_DATA];
	struct tdev d;
	int fd, ret = dev_open(&d, g, user.sock_dio, 1, true, true, true);

	if (!tap_ok(ret == 0, "user direct: driver ok")) {
		dev_close(&d);
		return;
	}
	for (int i = 0; i < SLOT_DATA; i++)
		data[i] = rand();
	memcpy(back, data, SLOT_DATA);
	tap_ok(one(&d, 0, VIRTIO_BLK_T_OUT, 64, SLOT_DATA) == VIRTIO_BLK_S_OK,
	       "user direct: aligned write");
	memset(data, 0, SLOT_DATA);
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, 64, SLOT_DATA) == VIRTIO_BLK_S_OK &&
	       !memcmp(data, back, SLOT_DATA), "user direct: read back");
	fd = open(user.img_dio, O_RDONLY | O_CLOEXEC);
	tap_ok(fd >= 0 && pread(fd, data, SLOT_DATA, 64 * 512) == SLOT_DATA &&
	       !memcmp(data, back, SLOT_DATA), "user direct: the data is in the file");
	{
		/* A guest buffer O_DIRECT cannot take: bounced. */
		uint8_t *odd = gptr(g, data_gpa(0, 1) + 100);
		struct vr_buf sg[3] = {
			{ hdr_gpa(0, 0), 16, false },
			{ data_gpa(0, 1) + 100, 1024, false },
			{ hdr_gpa(0, 0) + 16, 1, true },
		};

		memset(odd, 0x6b, 1024);
		hdr(&d, 0, 0)->type = VIRTIO_BLK_T_OUT;
		hdr(&d, 0, 0)->sector = 200;
		*status(&d, 0, 0) = 0xaa;
		post(&d, 0, 0, sg, 3);
		kick(&d, 0);
		wait_used(&d, 0);
		tap_ok(*status(&d, 0, 0) == VIRTIO_BLK_S_OK && fd >= 0 &&
		       pread(fd, back, 1024, 200 * 512) == 1024 && !memcmp(back, odd, 1024),
		       "user direct: a misaligned buffer is bounced (write)");
		memset(odd, 0, 1024);
		hdr(&d, 0, 0)->type = VIRTIO_BLK_T_IN;
		sg[1].write = true;
		*status(&d, 0, 0) = 0xaa;
		post(&d, 0, 0, sg, 3);
		kick(&d, 0);
		wait_used(&d, 0);
		tap_ok(*status(&d, 0, 0) == VIRTIO_BLK_S_OK && !memcmp(back, odd, 1024),
		       "user direct: a misaligned buffer is bounced (read)");
	}
	if (fd >= 0)
		close(fd);
	dev_close(&d);
}

/* Stop (SET_STATUS 0, disable, GET_VRING_BASE) right after kicking. */
static void t_stop_inflight(struct vf_guest *g)
{
	uint32_t bases[NQ_MAX];
	bool st_ok = true;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 2, true, true, true);

	if (!tap_ok(ret == 0, "user stop: driver ok")) {
		dev_close(&d);
		return;
	}
	for (int qi = 0; qi < 2; qi++) {
		for (int s = 0; s < SLOTS; s++)
			post_req(&d, qi, s, s % 3 == 2 ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_OUT,
				 s * 16, s % 3 == 2 ? 0 : SLOT_DATA);
		kick(&d, qi);
	}
	/*
	 * The stop may overtake the kick: the queue takes no new request once
	 * disabled, but every one it took is used before GET_VRING_BASE
	 * returns, in avail order, so base == used->idx <= avail_idx.
	 */
	ret = vf_stop(&d.vf, 2, bases);
	for (int qi = 0; qi < 2 && !ret; qi++)
		for (uint32_t s = 0; s < bases[qi] && s < SLOTS; s++)
			st_ok &= *status(&d, qi, s) == VIRTIO_BLK_S_OK;
	tap_ok(ret == 0 && bases[0] <= d.q[0].vr.avail_idx && bases[1] <= d.q[1].vr.avail_idx &&
	       vr_used_idx(&d.q[0].vr) == bases[0] && vr_used_idx(&d.q[1].vr) == bases[1],
	       "user stop: GET_VRING_BASE after every in-flight request completed (%u %u)",
	       bases[0], bases[1]);
	tap_ok(ret == 0 && st_ok, "user stop: every request taken before the stop has its status");
	dev_close(&d);
}

/* Remove and re-add the data region while the queue runs. */
static void t_hotplug(struct vf_guest *g)
{
	struct vu_mem_reg_msg mr = { 0, g->r[1] };
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);

	if (!tap_ok(ret == 0, "user hotplug: driver ok")) {
		dev_close(&d);
		return;
	}
	for (int s = 0; s < SLOTS; s++)
		post_req(&d, 0, s, VIRTIO_BLK_T_IN, s * 16, SLOT_DATA);
	kick(&d, 0);
	ret = vf_req_ack(&d.vf, VU_REQ_REM_MEM_REG, &mr, sizeof(mr), NULL, 0);
	tap_ok(ret == 0 && wait_used(&d, 0), "user hotplug: region removed under I/O");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_IOERR,
	       "user hotplug: a buffer in the removed region fails");
	ret = vf_req_ack(&d.vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1);
	tap_ok(ret == 0 && one(&d, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK,
	       "user hotplug: re-added region works again");

	/* A whole new table (crosvm's way) while requests are in flight. */
	{
		struct vu_mem_table_msg t = { .nregions = 2 };
		int fds[2] = { g->fd, g->fd };
		bool st_ok = true;

		t.regions[0] = g->r[0];
		t.regions[1] = g->r[1];
		for (int s = 0; s < SLOTS; s++)
			post_req(&d, 0, s, VIRTIO_BLK_T_IN, s * 16, SLOT_DATA);
		kick(&d, 0);
		ret = vf_req_ack(&d.vf, VU_REQ_SET_MEM_TABLE, &t,
				 VU_MEM_TABLE_HDR_SIZE + 2 * sizeof(t.regions[0]), fds, 2);
		tap_ok(ret == 0 && wait_used(&d, 0), "user hotplug: SET_MEM_TABLE under I/O");
		for (int s = 0; s < SLOTS; s++)
			st_ok &= *status(&d, 0, s) == VIRTIO_BLK_S_OK;
		tap_ok(st_ok && one(&d, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK,
		       "user hotplug: every request completed, the queue runs on the new table");
	}
	dev_close(&d);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Not a benchmark (tools/bench is): an order of magnitude for the log,
 * 4 KiB random reads in batches of SLOTS per queue for about a second.
 */
static void t_rate(struct vf_guest *g, unsigned int nq)
{
	double t0, t;
	uint64_t n = 0;
	bool ok = true;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, nq, true, false, true);

	if (!tap_ok(ret == 0, "user rate %uq: driver ok", nq)) {
		dev_close(&d);
		return;
	}
	t0 = now_s();
	do {
		for (unsigned int qi = 0; qi < nq; qi++) {
			for (int s = 0; s < SLOTS; s++)
				post_req(&d, qi, s, VIRTIO_BLK_T_IN,
					 (rand() % (DISK_SIZE / 4096)) * 8, 4096);
			kick(&d, qi);
		}
		for (unsigned int qi = 0; qi < nq; qi++)
			ok &= wait_used(&d, qi);
		n += nq * SLOTS;
		t = now_s() - t0;
	} while (ok && t < 1.0);
	tap_ok(ok, "user rate %uq: %.0f 4K reads/s (batches of %d per queue, page cache)",
	       nq, n / t, SLOTS);
	dev_close(&d);
}

/*
 * The daemon went away with a request taken but not completed (QEMU then
 * reconnects with the base at the used index and the same inflight fd):
 * the request is resubmitted from the inflight area, exactly once.
 */
static void t_inflight(struct vf_guest *g)
{
	uint8_t *data = gptr(g, data_gpa(0, 1));
	struct vhu_inflight_queue *f;
	struct tdev d;
	struct vr *vr = &d.q[0].vr;
	uint16_t used;
	void *area;
	int fd, ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);

	if (!tap_ok(ret == 0 && one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK,
		    "user inflight: first connection serves")) {
		dev_close(&d);
		return;
	}
	fd = dup(d.inflight_fd);
	dev_close(&d);
	area = mmap(NULL, vu_inflight_queue_size(QSIZE), PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	if (!tap_ok(area != MAP_FAILED, "user inflight: area mapped")) {
		close(fd);
		return;
	}
	f = area;
	tap_ok(f->version == 1 && f->desc_num == QSIZE && f->used_idx == vr_used_idx(vr),
	       "user inflight: the area was initialized and tracks the used index");

	/* As if the old daemon took slot 1's write and died. */
	memset(data, 0x77, 512);
	post_req(&d, 0, 1, VIRTIO_BLK_T_OUT, 300, 512);
	f->desc[8].counter = 1000;
	f->desc[8].inflight = 1;
	used = vr_used_idx(vr);
	usleep(100000);
	ret = dev_open_inflight(&d, g, user.sock_rw, 1, true, false, false, fd);
	tap_ok(ret == 0 && wait_used(&d, 0) && vr_used_idx(vr) == (uint16_t)(used + 1) &&
	       *status(&d, 0, 1) == VIRTIO_BLK_S_OK && file_matches(300 * 512, data, 512),
	       "user inflight: the request is resubmitted and completes once");
	tap_ok(f->desc[8].inflight == 0 && f->used_idx == vr_used_idx(vr) &&
	       file_count(user.d.log, "resubmitting 1 requests") == 1,
	       "user inflight: the area is clean again");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK,
	       "user inflight: the ring carries on after the resubmitted request");

	/*
	 * As vhu.ko leaves it: a batch of two (slots 1, 2) published in the
	 * used ring, linked through next, not yet cleared; slot 3 in flight.
	 */
	fd = dup(d.inflight_fd);
	dev_close(&d);
	used = vr_used_idx(vr);
	for (int s = 1; s <= 3; s++) {
		post_req(&d, 0, s, VIRTIO_BLK_T_FLUSH, 0, 0);
		f->desc[s * 8].inflight = 1;
		f->desc[s * 8].counter = 2000 + s;
	}
	vr->used->ring[used % QSIZE] = (struct vring_used_elem){ 8, 1 };
	vr->used->ring[(uint16_t)(used + 1) % QSIZE] = (struct vring_used_elem){ 16, 1 };
	__atomic_store_n(&vr->used->idx, (uint16_t)(used + 2), __ATOMIC_RELEASE);
	f->desc[16].next = 8;
	f->last_batch_head = 16;
	ret = dev_open_inflight(&d, g, user.sock_rw, 1, true, false, false, fd);
	tap_ok(ret == 0 && wait_used(&d, 0) && vr_used_idx(vr) == (uint16_t)(used + 3) &&
	       vr->used->ring[(uint16_t)(used + 2) % QSIZE].id == 24 &&
	       *status(&d, 0, 3) == VIRTIO_BLK_S_OK && file_count(user.d.log, "resubmitting 1 requests") == 2,
	       "user inflight: a published batch of two is cleared, only the third resubmitted");
	tap_ok(!f->desc[8].inflight && !f->desc[16].inflight && !f->desc[24].inflight &&
	       f->used_idx == vr_used_idx(vr),
	       "user inflight: the area is clean after the batch");
	munmap(area, vu_inflight_queue_size(QSIZE));
	dev_close(&d);
}

void t_user(void)
{
	struct tmp_dir *dir = &user.dir;
	struct exportd *d = &user.d;
	const char *img_rw;
	struct vf_guest g;

	if (!tmp_dir_make(dir, "vhuctl-user") || vf_guest_init(&g)) {
		tap_ok(false, "user: set up");
		return;
	}
	user.sock_rw = tmp_file(dir, "rw.sock");
	user.sock_ro = tmp_file(dir, "ro.sock");
	user.sock_dio = tmp_file(dir, "dio.sock");
	img_rw = tmp_file(dir, "rw.img");
	user.img_dio = tmp_file(dir, "dio.img");
	exportd_add(d, user.sock_rw, img_rw, DISK_SIZE, NQ_MAX, &vu_dp_user_ops);
	exportd_add(d, user.sock_ro, tmp_file(dir, "ro.img"), DISK_SIZE, 1,
		    &vu_dp_user_ops)->readonly = true;
	exportd_add(d, user.sock_dio, user.img_dio, DISK_SIZE, 1,
		    &vu_dp_user_ops)->direct = true;
	for (unsigned int i = 0; i < d->n; i++)
		strcpy(d->ex[i].cfg.serial, SERIAL);
	user.img_fd = open(img_rw, O_RDONLY | O_CLOEXEC);
	srand(42);

	if (!tap_ok(exportd_start(d, tmp_file(dir, "daemon.log")),
		    "user: daemon with the userspace datapath listening"))
		goto out;

	t_random_io(&g, 1, true, true);
	t_random_io(&g, 1, false, false);
	t_random_io(&g, 4, true, false);
	t_random_io(&g, 4, false, true);
	t_types(&g);
	t_notify(&g, false);
	t_notify(&g, true);
	t_bad_ring(&g, "indirect loop", 0);
	t_bad_ring(&g, "avail index jump", 1);
	t_bad_ring(&g, "head out of range", 2);
	t_bad_ring(&g, "nested indirect", 3);
	t_bad_ring(&g, "indirect length", 4);
	t_bad_ring(&g, "descriptor loop", 5);
	t_bad_ring(&g, "indirect table outside memory", 6);
	t_readonly(&g);
	t_idle(&g);
	t_direct(&g);
	t_stop_inflight(&g);
	t_hotplug(&g);
	t_inflight(&g);
	t_stress(&g);
	t_rate(&g, 1);
	t_rate(&g, 4);

	tap_ok(settle_fds(d->pid, d->baseline_fds) == d->baseline_fds,
	       "user: the daemon's fds are back to the baseline (%d)", d->baseline_fds);
	tap_ok(exportd_stop(d), "user: SIGTERM ends the daemon cleanly");
out:
	exportd_stop(d);
	exportd_diag_log(d);
	close_fd(&user.img_fd);
	vf_guest_fini(&g);
	tap_ok(tmp_dir_remove(dir), "user: no files left behind");
}
