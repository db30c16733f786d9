// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end tests of the userspace datapath: the export daemon runs in a
 * child with the real vu_dp_user_ops (io_uring, queue threads) over a
 * temporary backing file, and this process plays the guest: it builds
 * real split rings in the memfd guest memory, kicks, waits for calls and
 * checks statuses, used lengths and the backing file's contents. This
 * file has the daemon and the driver; the tests are in t_user_io.c
 * (requests), t_user_ring.c (notifications, malformed rings, idle queues)
 * and t_user_life.c (stop, hotplug, inflight resubmission, stress).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "t_user.h"
#include "tap.h"
#include "util.h"

struct user user;

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

void dev_close(struct tdev *d)
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

static int open_dev(struct tdev *d, struct vf_guest *g, const char *sock,
		    unsigned int nq, bool event_idx, bool indirect, bool zero_rings,
		    int inflight_fd, uint64_t drop)
{
	uint64_t f;

	memset(d, 0, sizeof(*d));
	d->g = g;
	d->nq = nq;
	d->event_idx = event_idx;
	d->indirect = indirect;
	for (unsigned int i = 0; i < NQ_MAX; i++) {
		d->q[i].vr.kick_fd = -1;
		d->q[i].vr.call_fd = -1;
		d->q[i].err = -1;
	}
	d->inflight_fd = inflight_fd;
	if (vf_connect(&d->vf, sock) || vf_realize(&d->vf, nq, &f))
		return -1;
	if (!event_idx)
		f &= ~BIT(VIRTIO_RING_F_EVENT_IDX);
	if (!indirect)
		f &= ~BIT(VIRTIO_RING_F_INDIRECT_DESC);
	f &= ~drop;
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

int dev_open_inflight(struct tdev *d, struct vf_guest *g, const char *sock,
		      unsigned int nq, bool event_idx, bool indirect,
		      bool zero_rings, int inflight_fd)
{
	return open_dev(d, g, sock, nq, event_idx, indirect, zero_rings, inflight_fd, 0);
}

int dev_open(struct tdev *d, struct vf_guest *g, const char *sock,
	     unsigned int nq, bool event_idx, bool indirect, bool zero_rings)
{
	return open_dev(d, g, sock, nq, event_idx, indirect, zero_rings, -1, 0);
}

int dev_open_without(struct tdev *d, struct vf_guest *g, const char *sock,
		     uint64_t drop)
{
	return open_dev(d, g, sock, 1, true, false, true, -1, drop);
}

void post(struct tdev *d, int qi, int s, const struct vr_buf *b, int n)
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

void post_req(struct tdev *d, int qi, int s, uint32_t type, uint64_t sector,
	      uint32_t len)
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

void kick(struct tdev *d, int qi)
{
	vr_kick(&d->q[qi].vr);
}

bool wait_used(struct tdev *d, int qi)
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

uint32_t used_len(struct tdev *d, int qi, int s)
{
	return d->q[qi].len[s * 8];
}

int one(struct tdev *d, int qi, uint32_t type, uint64_t sector, uint32_t len)
{
	post_req(d, qi, 0, type, sector, len);
	kick(d, qi);
	return wait_used(d, qi) ? *status(d, qi, 0) : -1;
}

int chain(struct tdev *d, const struct vr_buf *b, int n)
{
	*status(d, 0, 0) = 0xaa;
	post(d, 0, 0, b, n);
	kick(d, 0);
	return wait_used(d, 0) ? *status(d, 0, 0) : -1;
}

bool file_matches(uint64_t off, const void *buf, size_t len)
{
	char tmp[SLOT_DATA];

	return pread(user.img_fd, tmp, len, off) == (ssize_t)len && !memcmp(tmp, buf, len);
}

/* ---- the daemon, and the tests in order --------------------------------- */

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
	user.sock_4k = tmp_file(dir, "4k.sock");
	img_rw = tmp_file(dir, "rw.img");
	user.img_dio = tmp_file(dir, "dio.img");
	user.img_4k = tmp_file(dir, "4k.img");
	exportd_add(d, user.sock_rw, img_rw, DISK_SIZE, NQ_MAX,
		    &vu_dp_user_ops)->queue_size = 4096;
	exportd_add(d, user.sock_ro, tmp_file(dir, "ro.img"), DISK_SIZE, 1,
		    &vu_dp_user_ops)->readonly = true;
	exportd_add(d, user.sock_dio, user.img_dio, DISK_SIZE, 1,
		    &vu_dp_user_ops)->direct = true;
	exportd_add(d, user.sock_4k, user.img_4k, DISK_SIZE, 1, &vu_dp_user_ops)->lbs = 4096;
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
	t_bad_rings(&g);
	t_seg_max(&g);
	t_readonly(&g);
	t_idle(&g);
	t_direct(&g);
	t_blk_size(&g);
	t_stop_inflight(&g);
	t_hotplug(&g);
	t_inflight(&g);
	t_stress(&g);
	t_user_log(&g);
	t_rate(&g, 1);
	t_rate(&g, 4);

	tap_ok(exportd_settle(d) == d->baseline_fds,
	       "user: the daemon's fds are back to the baseline (%d)", d->baseline_fds);
	tap_ok(exportd_stop(d), "user: SIGTERM ends the daemon cleanly");
out:
	exportd_stop(d);
	exportd_diag_log(d);
	close_fd(&user.img_fd);
	vf_guest_fini(&g);
	tap_ok(tmp_dir_remove(dir), "user: no files left behind");
}
