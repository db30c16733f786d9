// SPDX-License-Identifier: GPL-2.0
/*
 * Dirty logging on the userspace datapath (live migration): the log a
 * frontend hands over with SET_LOG_BASE gets exactly the pages the device
 * wrote -- read data, status bytes, and the used ring where
 * VHOST_VRING_F_LOG asks for it -- only while VHOST_F_LOG_ALL is on,
 * which QEMU toggles while the rings run. Hostile SET_LOG_BASE messages
 * each close their connection with a reason in the daemon's log, and the
 * export goes on serving; a log memfd shrunk under the daemon drops its
 * connection only.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_ring.h>

#include "t_user.h"
#include "tap.h"
#include "util.h"
#include "vu_log.h"

/* Covers guest-physical 0 .. 4G + 1M (region 1 ends there), and more. */
#define LOG_BYTES	0x21000u
#define PG(gpa)		((uint64_t)(gpa) / VU_LOG_PAGE)

struct tlog {
	int fd;
	uint8_t *map;
	size_t size;
};

static int tlog_make(struct tlog *l, size_t size)
{
	l->size = size;
	l->map = MAP_FAILED;
	l->fd = memfd_create("t_log", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (l->fd < 0 || ftruncate(l->fd, size))
		return -1;
	l->map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, l->fd, 0);
	return l->map == MAP_FAILED ? -1 : 0;
}

static void tlog_free(struct tlog *l)
{
	if (l->map != MAP_FAILED)
		munmap(l->map, l->size);
	l->map = MAP_FAILED;
	close_fd(&l->fd);
}

/*
 * The pages marked in l (at most max of them, in order) and their count:
 * the frontend's side of a log sync, clearing every bit it read.
 */
static unsigned int tlog_sync(struct tlog *l, uint64_t *pages, unsigned int max)
{
	unsigned int n = 0;

	for (size_t i = 0; i < l->size; i++) {
		uint8_t b = __atomic_exchange_n(&l->map[i], 0, __ATOMIC_ACQ_REL);

		for (int bit = 0; bit < 8; bit++)
			if (b & (1u << bit)) {
				if (n < max)
					pages[n] = i * 8 + bit;
				n++;
			}
	}
	return n;
}

/* The log installed last, for settle(). */
static int cur_fd = -1;
static uint64_t cur_size;

/* SET_LOG_BASE with LOG_SHMFD: the reply echoes the payload. */
static int set_log_base(struct vf *vf, int fd, uint64_t size, uint64_t off)
{
	struct vu_log_msg l = { size, off }, r;
	int ret = vf_send(vf, VU_REQ_SET_LOG_BASE, false, &l, sizeof(l), &fd, 1);

	ret = ret ?: vf_recv_reply(vf, VU_REQ_SET_LOG_BASE, &r, sizeof(r), NULL);
	if (!ret && (r.mmap_size != size || r.mmap_offset != off))
		ret = -EPROTO;
	if (!ret) {
		cur_fd = fd;
		cur_size = size;
	}
	return ret;
}

/*
 * Wait for every mark of what was used: the used index is marked right
 * after it is stored, so after the driver saw it. SET_LOG_BASE of the
 * same log parks the queue threads, each at the end of its pass.
 */
static bool settle(struct tdev *d)
{
	return set_log_base(&d->vf, cur_fd, cur_size, 0) == 0;
}

/*
 * Once the device settled, exactly the pages want[0..nw) are marked in l
 * (then cleared).
 */
static bool tlog_exactly(struct tdev *d, struct tlog *l, const uint64_t *want,
			 unsigned int nw, const char *what)
{
	uint64_t got[64];
	unsigned int n;
	bool ok;

	if (!settle(d))
		return false;
	n = tlog_sync(l, got, 64);
	ok = n == nw;

	for (unsigned int i = 0; ok && i < nw; i++)
		ok = got[i] == want[i];
	if (!ok) {
		tap_diag("%s: %u pages marked:", what, n);
		for (unsigned int i = 0; i < n && i < 64; i++)
			tap_diag("  page 0x%llx", (unsigned long long)got[i]);
	}
	return ok;
}

/* Queue 0's SET_VRING_ADDR, logging its used ring at log or not. */
static int vring_log(struct tdev *d, bool on, uint64_t log)
{
	struct vu_vring_addr a;

	vf_ring_addrs(0, QSIZE, &a);
	if (on) {
		a.flags = VU_VRING_F_LOG;
		a.log = log;
	}
	return vf_req_ack(&d->vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

/* Queue 0's used ring in guest-physical space (region 0 is at gpa 0). */
static uint64_t used_gpa(void)
{
	struct vu_vring_addr a;

	vf_ring_addrs(0, QSIZE, &a);
	return a.used - VF_UADDR0 + VF_GPA0;
}

/* A read of len bytes at gpa into slot s's header and status. */
static int read_at(struct tdev *d, int s, uint64_t gpa, uint32_t len)
{
	struct vr_buf sg[3] = {
		{ hdr_gpa(0, s), 16, false },
		{ gpa, len, true },
		{ hdr_gpa(0, s) + 16, 1, true },
	};

	hdr(d, 0, s)->type = VIRTIO_BLK_T_IN;
	hdr(d, 0, s)->ioprio = 0;
	hdr(d, 0, s)->sector = 8 * s;
	*status(d, 0, s) = 0xaa;
	post(d, 0, s, sg, 3);
	kick(d, 0);
	return wait_used(d, 0) ? *status(d, 0, s) : -1;
}

static void t_log_marks(struct vf_guest *g)
{
	uint64_t f, pf, used = used_gpa(), sp = PG(hdr_gpa(0, 1) + 16);
	uint64_t d0 = data_gpa(0, 1);
	struct tlog l = { .fd = -1 }, l2 = { .fd = -1 };
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);

	if (!tap_ok(ret == 0 && !tlog_make(&l, LOG_BYTES) && !tlog_make(&l2, LOG_BYTES),
		    "user log: driver ok, log memfds made (%d)", ret))
		goto out;
	tap_ok(!vf_get_u64(&d.vf, VU_REQ_GET_FEATURES, &f) && (f & BIT(VU_F_LOG_ALL)) &&
	       !vf_get_u64(&d.vf, VU_REQ_GET_PROTOCOL_FEATURES, &pf) &&
	       (pf & BIT(VU_PF_LOG_SHMFD)) && (d.vf.pf & BIT(VU_PF_LOG_SHMFD)),
	       "user log: VHOST_F_LOG_ALL and LOG_SHMFD offered, LOG_SHMFD acked");
	f = 0;
	vf_get_u64(&d.vf, VU_REQ_GET_FEATURES, &f);
	f &= ~(BIT(VU_F_LOG_ALL) | BIT(VIRTIO_RING_F_INDIRECT_DESC));

	tap_ok(set_log_base(&d.vf, l.fd, LOG_BYTES, 0) == 0,
	       "user log: SET_LOG_BASE taken while the queue runs, the reply echoes it");
	tap_ok(read_at(&d, 1, d0, 8192) == VIRTIO_BLK_S_OK &&
	       tlog_exactly(&d, &l, NULL, 0, "LOG_ALL off"),
	       "user log: with VHOST_F_LOG_ALL off a read marks nothing");

	{
		int on = file_count(user.d.log, "dirty logging on");

		tap_ok(vf_u64_ack(&d.vf, VU_REQ_SET_FEATURES, f | BIT(VU_F_LOG_ALL)) == 0 &&
		       file_count(user.d.log, "dirty logging on") == on + 1 &&
		       vring_log(&d, true, used) == 0,
		       "user log: LOG_ALL on (the queue not stopped) and the used ring logged");
	}
	{
		struct vu_vring_addr a;
		int efd = eventfd(0, EFD_CLOEXEC);

		vf_ring_addrs(0, QSIZE, &a);
		a.flags = VU_VRING_F_LOG;
		a.log = UINT64_MAX - 100;
		tap_ok(vf_req_ack(&d.vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0 &&
		       file_count(user.d.log, "used ring log address") >= 1,
		       "user log: a used ring log address that overflows is refused");
		tap_ok(efd >= 0 && vf_req_ack(&d.vf, VU_REQ_SET_LOG_FD, NULL, 0, &efd, 1) == 0,
		       "user log: SET_LOG_FD taken (its fd closed: the fd count at the end)");
		close_fd(&efd);
		tlog_sync(&l, NULL, 0);
	}
	{
		uint64_t want[] = { PG(used), sp, PG(d0), PG(d0) + 1 };

		tap_ok(read_at(&d, 1, d0, 8192) == VIRTIO_BLK_S_OK &&
		       tlog_exactly(&d, &l, want, 4, "8K read"),
		       "user log: an 8K read marks its 2 data pages, the status page and the used ring");
	}
	{
		/* 4K of data across a page boundary: both pages. */
		uint64_t want[] = { PG(used), sp, PG(d0 + 0x800), PG(d0 + 0x800) + 1 };

		tap_ok(read_at(&d, 1, d0 + 0x800, 4096) == VIRTIO_BLK_S_OK &&
		       tlog_exactly(&d, &l, want, 4, "crossing read"),
		       "user log: a read across a page boundary marks both pages");
	}
	{
		uint64_t want[] = { PG(used), PG(hdr_gpa(0, 0) + 16) };

		tap_ok(one(&d, 0, VIRTIO_BLK_T_OUT, 0, 4096) == VIRTIO_BLK_S_OK &&
		       tlog_exactly(&d, &l, want, 2, "write"),
		       "user log: a write marks its status page and the used ring only");
	}
	{
		/* The used ring logged at another address: marks go there. */
		uint64_t want[] = { sp, PG(d0), PG(d0) + 1, PG(VF_GPA1 + 0x80000) };

		tap_ok(vring_log(&d, true, VF_GPA1 + 0x80000) == 0 &&
		       read_at(&d, 1, d0, 8192) == VIRTIO_BLK_S_OK &&
		       tlog_exactly(&d, &l, want, 4, "moved log_guest_addr"),
		       "user log: the used ring is logged at the log address SET_VRING_ADDR gives");
	}
	{
		uint64_t want[] = { sp, PG(d0), PG(d0) + 1 };

		tap_ok(vring_log(&d, false, 0) == 0 &&
		       read_at(&d, 1, d0, 8192) == VIRTIO_BLK_S_OK &&
		       tlog_exactly(&d, &l, want, 3, "no F_LOG"),
		       "user log: without VHOST_VRING_F_LOG the used ring is not marked");
	}
	{
		uint64_t want[] = { PG(used), sp, PG(d0), PG(d0) + 1 };

		tap_ok(vring_log(&d, true, used) == 0 &&
		       set_log_base(&d.vf, l2.fd, LOG_BYTES, 0) == 0 &&
		       read_at(&d, 1, d0, 8192) == VIRTIO_BLK_S_OK &&
		       tlog_exactly(&d, &l2, want, 4, "new log") &&
		       tlog_exactly(&d, &l, NULL, 0, "old log"),
		       "user log: a new SET_LOG_BASE while running: marks go to the new log only");
	}
	{
		/* A log too small for region 1: its pages are skipped, said once. */
		uint64_t want[] = { PG(used), sp };

		tap_ok(set_log_base(&d.vf, l.fd, 4096, 0) == 0 &&
		       read_at(&d, 1, d0, 8192) == VIRTIO_BLK_S_OK &&
		       tlog_exactly(&d, &l, want, 2, "small log") &&
		       file_count(user.d.log, "beyond the dirty log") >= 1,
		       "user log: pages beyond a small log are skipped (logged), the rest marked");
		set_log_base(&d.vf, l.fd, LOG_BYTES, 0);
		tlog_sync(&l, NULL, 0);
	}
	{
		/* GET_ID writes the serial: its page, status, used ring. */
		uint64_t want[] = { PG(used), sp, PG(d0) };
		struct vr_buf sg[3] = {
			{ hdr_gpa(0, 1), 16, false },
			{ d0, 20, true },
			{ hdr_gpa(0, 1) + 16, 1, true },
		};

		hdr(&d, 0, 1)->type = VIRTIO_BLK_T_GET_ID;
		*status(&d, 0, 1) = 0xaa;
		post(&d, 0, 1, sg, 3);
		kick(&d, 0);
		tap_ok(wait_used(&d, 0) && *status(&d, 0, 1) == VIRTIO_BLK_S_OK &&
		       tlog_exactly(&d, &l, want, 3, "GET_ID"),
		       "user log: GET_ID marks the serial's page");
	}
	tap_ok(vf_u64_ack(&d.vf, VU_REQ_SET_FEATURES, f) == 0 &&
	       read_at(&d, 1, d0, 8192) == VIRTIO_BLK_S_OK &&
	       tlog_exactly(&d, &l, NULL, 0, "LOG_ALL off again"),
	       "user log: LOG_ALL off while running: nothing marked any more");
out:
	dev_close(&d);
	tlog_free(&l);
	tlog_free(&l2);
}

/*
 * LOG_ALL toggled while SLOTS reads are in flight, again and again: every
 * request completes OK, and with LOG_ALL left on, a last round marks all
 * its data pages.
 */
static void t_log_toggle(struct vf_guest *g)
{
	struct tlog l = { .fd = -1 };
	bool ok = true;
	uint64_t f = 0;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);

	if (!tap_ok(ret == 0 && !tlog_make(&l, LOG_BYTES) &&
		    set_log_base(&d.vf, l.fd, LOG_BYTES, 0) == 0 &&
		    !vf_get_u64(&d.vf, VU_REQ_GET_FEATURES, &f),
		    "user log toggle: driver ok with a log (%d)", ret))
		goto out;
	f &= ~(BIT(VU_F_LOG_ALL) | BIT(VIRTIO_RING_F_INDIRECT_DESC));
	for (int round = 0; round < 20 && ok; round++) {
		for (int s = 0; s < SLOTS; s++)
			post_req(&d, 0, s, VIRTIO_BLK_T_IN, 16 * s, SLOT_DATA);
		kick(&d, 0);
		ok = vf_u64_ack(&d.vf, VU_REQ_SET_FEATURES,
				f | (round % 2 ? 0 : BIT(VU_F_LOG_ALL))) == 0 &&
		     wait_used(&d, 0);
		for (int s = 0; s < SLOTS && ok; s++)
			ok = *status(&d, 0, s) == VIRTIO_BLK_S_OK &&
			     used_len(&d, 0, s) == SLOT_DATA + 1;
	}
	tap_ok(ok, "user log toggle: LOG_ALL on and off 20 times under I/O, all requests OK");
	tlog_sync(&l, NULL, 0);
	ok = vf_u64_ack(&d.vf, VU_REQ_SET_FEATURES, f | BIT(VU_F_LOG_ALL)) == 0;
	for (int s = 0; s < SLOTS; s++)
		post_req(&d, 0, s, VIRTIO_BLK_T_IN, 16 * s, SLOT_DATA);
	kick(&d, 0);
	ok = ok && wait_used(&d, 0);
	for (int s = 0; s < SLOTS && ok; s++)
		for (uint64_t p = PG(data_gpa(0, s)); p <= PG(data_gpa(0, s) + SLOT_DATA - 1); p++)
			ok = vu_log_test(&(struct vu_log){ l.map, l.size }, p);
	tap_ok(ok, "user log toggle: then every data page of %d reads is marked", SLOTS);
out:
	dev_close(&d);
	tlog_free(&l);
}

/* ---- hostile SET_LOG_BASE ------------------------------------------------ */

/* A frontend that negotiated LOG_SHMFD, and nothing more. */
static bool realized(struct vf *vf)
{
	uint64_t f;

	return !vf_connect(vf, user.sock_rw) && !vf_realize(vf, 1, &f) &&
	       (vf->pf & BIT(VU_PF_LOG_SHMFD));
}

struct bad_log {
	const char *what, *why;	/* the test, the daemon's reason */
	uint64_t size, off;
	int nfds;		/* of the memfd; -1: an eventfd */
	size_t memfd;		/* its size */
};

static void t_log_bad(struct vf_guest *g)
{
	static const struct bad_log bad[] = {
		{ "no fd", "0 fds attached", 4096, 0, 0, 8192 },
		{ "two fds", "2 fds attached", 4096, 0, 2, 8192 },
		{ "size 0", "an empty log", 0, 0, 1, 8192 },
		{ "size past the memfd", "past the end of its fd", 16384, 0, 1, 8192 },
		{ "offset + size past the memfd", "past the end of its fd", 4096, 8192, 1, 8192 },
		{ "offset overflow", "overflows", 8192, UINT64_MAX - 4095, 1, 8192 },
		{ "offset not page aligned", "not page aligned", 4096, 100, 1, 8192 },
		{ "huge size", "at most", 1ull << 40, 0, 1, 8192 },
		{ "not a memfd", "not a regular file", 4096, 0, -1, 0 },
	};
	struct tlog l = { .fd = -1 };
	struct tdev d;
	struct vf vf;
	int ret;

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		const struct bad_log *b = &bad[i];
		struct vu_log_msg m = { b->size, b->off };
		int before = file_count(user.d.log, b->why);
		int fds[2] = { -1, -1 }, n = b->nfds < 0 ? 1 : b->nfds;
		bool ok;

		if (b->nfds < 0)
			fds[0] = eventfd(0, EFD_CLOEXEC);
		else if (b->nfds && !tlog_make(&l, b->memfd))
			fds[0] = fds[1] = l.fd;
		ok = realized(&vf) && (n == 0 || fds[0] >= 0) &&
		     !vf_send(&vf, VU_REQ_SET_LOG_BASE, false, &m, sizeof(m), fds, n) &&
		     vf_is_closed(&vf) && file_count(user.d.log, b->why) > before;
		tap_ok(ok, "user log bad: %s: connection closed, \"%s\" in the log", b->what, b->why);
		vf_close(&vf);
		if (b->nfds < 0)
			close_fd(&fds[0]);
		tlog_free(&l);
	}
	/* Without LOG_SHMFD negotiated, SET_LOG_BASE is not taken. */
	{
		struct vu_log_msg m = { 4096, 0 };
		uint64_t pf = BIT(VU_PF_REPLY_ACK);

		ret = vf_connect(&vf, user.sock_rw);
		ret = ret ?: vf_send(&vf, VU_REQ_SET_PROTOCOL_FEATURES, false, &pf, 8, NULL, 0);
		ret = ret ?: tlog_make(&l, 8192);
		ret = ret ?: vf_send(&vf, VU_REQ_SET_LOG_BASE, false, &m, sizeof(m), &l.fd, 1);
		tap_ok(!ret && vf_is_closed(&vf),
		       "user log bad: SET_LOG_BASE without LOG_SHMFD negotiated: refused");
		vf_close(&vf);
		tlog_free(&l);
	}
	ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);
	tap_ok(ret == 0 && one(&d, 0, VIRTIO_BLK_T_IN, 0, 4096) == VIRTIO_BLK_S_OK,
	       "user log bad: the export still serves I/O (%d)", ret);
	dev_close(&d);
}

/*
 * A frontend that shrinks its log memfd under the daemon, LOG_ALL on:
 * the next write to the log drops that connection, not the daemon.
 */
static void t_log_shrunk(struct vf_guest *g)
{
	struct tlog l = { .fd = -1 };
	uint64_t f = 0;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);

	if (!tap_ok(ret == 0 && !tlog_make(&l, LOG_BYTES) &&
		    set_log_base(&d.vf, l.fd, LOG_BYTES, 0) == 0 &&
		    !vf_get_u64(&d.vf, VU_REQ_GET_FEATURES, &f) &&
		    vf_u64_ack(&d.vf, VU_REQ_SET_FEATURES,
			       (f & ~BIT(VIRTIO_RING_F_INDIRECT_DESC)) | BIT(VU_F_LOG_ALL)) == 0,
		    "user log shrunk: driver ok, logging (%d)", ret)) {
		dev_close(&d);
		tlog_free(&l);
		return;
	}
	tap_ok(!ftruncate(l.fd, 0), "user log shrunk: the log memfd cut to 0 bytes");
	tlog_free(&l);
	post_req(&d, 0, 1, VIRTIO_BLK_T_IN, 0, 8192);
	kick(&d, 0);
	tap_ok(vf_is_closed(&d.vf) && exportd_alive(&user.d),
	       "user log shrunk: that connection is dropped, the daemon lives");
	dev_close(&d);
	ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);
	tap_ok(ret == 0 && one(&d, 0, VIRTIO_BLK_T_IN, 0, 4096) == VIRTIO_BLK_S_OK,
	       "user log shrunk: a new frontend is served (%d)", ret);
	dev_close(&d);
}

void t_user_log(struct vf_guest *g)
{
	t_log_marks(g);
	t_log_toggle(g);
	t_log_bad(g);
	t_log_shrunk(g);
}
