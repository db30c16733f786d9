// SPDX-License-Identifier: GPL-2.0
/*
 * What the frontend replays share (see replay.h): the daemon, one
 * function per message that records the first failing step, and the
 * guest's driver with its data checks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "replay.h"
#include "tap.h"
#include "util.h"

#define IO_TIMEOUT_MS	5000	/* a TCG guest's kernel datapath is slow */

void replay_run(const char *dp)
{
	rp_cloud_hypervisor(dp);
	rp_firecracker(dp);
	rp_crosvm(dp);
}

/* The host tests: the userspace datapath. */
void t_replay(void)
{
	replay_run("user");
}

/* ---- the daemon ----------------------------------------------------------- */

/* Byte off of the backing as the writes of seed left it (seed 0: as made). */
static uint8_t pat(uint32_t seed, uint64_t off)
{
	uint32_t h = (uint32_t)(off >> 9) * 2654435761u ^ seed * 40503u;

	return (uint8_t)(h ^ (h >> 13)) + (uint8_t)(off & 511) * 7 + seed;
}

static bool fill_backing(const char *img)
{
	uint8_t buf[4096];
	int fd = open(img, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	bool ok = fd >= 0;

	for (uint64_t off = 0; ok && off < RP_DISK; off += sizeof(buf)) {
		for (unsigned int i = 0; i < sizeof(buf); i++)
			buf[i] = pat(0, off + i);
		ok = pwrite(fd, buf, sizeof(buf), off) == sizeof(buf);
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

bool rp_init(struct rp *rp, const char *who, const char *dp,
	     const struct vu_region_desc *r, unsigned int nr)
{
	memset(rp, 0, sizeof(*rp));
	snprintf(rp->name, sizeof(rp->name), "%s %s", who, dp);
	rp->dp = dp;
	rp->vhuctl = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
	rp->pid = -1;
	rp->vf.sock = -1;
	rp->vf.backend_fd = -1;
	rp->g.fd = -1;
	rp->inflight_fd = -1;
	for (unsigned int q = 0; q < RP_MAX_Q; q++) {
		rp->q[q].vr.kick_fd = rp->q[q].vr.call_fd = -1;
		rp->q[q].err_fd = -1;
	}
	if (!tmp_dir_make(&rp->dir, "vhuctl-replay")) {
		tap_ok(false, "%s: temporary directory", rp->name);
		return false;
	}
	rp->sock = tmp_file(&rp->dir, "vhu.sock");
	rp->img = tmp_file(&rp->dir, "disk.img");
	rp->log = tmp_file(&rp->dir, "vhuctl.log");
	if (!fill_backing(rp->img) || vf_guest_layout(&rp->g, r, nr)) {
		tap_ok(false, "%s: backing file and guest memory", rp->name);
		return false;
	}
	return true;
}

void rp_fini(struct rp *rp)
{
	vf_close(&rp->vf);
	if (rp->pid > 0)
		rp_daemon_stop(rp);
	if (rp->failures || getenv("VHUCTL_TEST_LOG"))
		diag_file(rp->name, rp->log, INT_MAX);
	for (unsigned int q = 0; q < RP_MAX_Q; q++) {
		close_fd(&rp->q[q].vr.kick_fd);
		close_fd(&rp->q[q].vr.call_fd);
		close_fd(&rp->q[q].err_fd);
	}
	close_fd(&rp->inflight_fd);
	vf_guest_fini(&rp->g);
	tap_ok(tmp_dir_remove(&rp->dir), "%s: no files left behind", rp->name);
}

bool rp_daemon_start(struct rp *rp, const char *const *extra)
{
	char *argv[16] = { (char *)rp->vhuctl, "export", "--socket", (char *)rp->sock,
			   "--backing", (char *)rp->img, "--datapath", (char *)rp->dp };
	int n = 8;

	while (extra && *extra && n < (int)ARRAY_SIZE(argv) - 1)
		argv[n++] = (char *)*extra++;
	argv[n] = NULL;
	rp->pid = spawn(argv, rp->log);
	return rp->pid > 0 && wait_socket(rp->sock);
}

void rp_daemon_kill(struct rp *rp)
{
	int st;

	if (rp->pid <= 0)
		return;
	kill(rp->pid, SIGKILL);
	waitpid(rp->pid, &st, 0);
	rp->pid = -1;
}

bool rp_daemon_stop(struct rp *rp)
{
	int st = -1;
	bool ok;

	if (rp->pid <= 0)
		return false;
	ok = !stop_child(rp->pid, 10000, &st) && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	rp->pid = -1;
	return ok;
}

bool rp_connect(struct rp *rp)
{
	rp->failed = NULL;
	return vf_connect(&rp->vf, rp->sock) == 0;
}

bool rp_closed(struct rp *rp)
{
	struct pollfd p = { .fd = rp->vf.sock, .events = POLLIN | POLLRDHUP };
	char c;

	if (rp->vf.sock < 0)
		return true;
	if (poll(&p, 1, 200) <= 0)
		return false;
	return recv(rp->vf.sock, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0 ||
	       (p.revents & (POLLHUP | POLLERR));
}

/* ---- checks --------------------------------------------------------------- */

bool rp_check(struct rp *rp, const char *todo, bool cond, const char *fmt, ...)
{
	char what[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	todo = todo ? todo : rp->todo;
	if (!cond)
		rp->failures++;
	if (todo)
		return tap_todo(cond, todo, "%s: %s", rp->name, what);
	return tap_ok(cond, "%s: %s", rp->name, what);
}

static bool done(struct rp *rp, const char *todo, const char *what, bool open)
{
	bool ok = !rp->failed;

	if (!ok)
		tap_diag("%s: %s: %s failed: %s", rp->name, what, rp->failed,
			 rp->err > 0 ? "the backend's ack is non-zero" : strerror(-rp->err));
	rp->failed = NULL;
	if (ok && open && rp_closed(rp)) {
		tap_diag("%s: %s: the daemon closed the connection", rp->name, what);
		ok = false;
	}
	return rp_check(rp, todo, ok, "%s", what);
}

bool rp_done(struct rp *rp, const char *todo, const char *what)
{
	return done(rp, todo, what, false);
}

bool rp_done_open(struct rp *rp, const char *todo, const char *what)
{
	return done(rp, todo, what, true);
}

/* ---- one message each ----------------------------------------------------- */

static const char *const req_names[VU_REQ_MAX] = {
	[VU_REQ_GET_FEATURES] = "GET_FEATURES", [VU_REQ_SET_FEATURES] = "SET_FEATURES",
	[VU_REQ_SET_OWNER] = "SET_OWNER", [VU_REQ_SET_MEM_TABLE] = "SET_MEM_TABLE",
	[VU_REQ_SET_VRING_NUM] = "SET_VRING_NUM", [VU_REQ_SET_VRING_ADDR] = "SET_VRING_ADDR",
	[VU_REQ_SET_VRING_BASE] = "SET_VRING_BASE", [VU_REQ_GET_VRING_BASE] = "GET_VRING_BASE",
	[VU_REQ_SET_VRING_KICK] = "SET_VRING_KICK", [VU_REQ_SET_VRING_CALL] = "SET_VRING_CALL",
	[VU_REQ_SET_VRING_ERR] = "SET_VRING_ERR",
	[VU_REQ_GET_PROTOCOL_FEATURES] = "GET_PROTOCOL_FEATURES",
	[VU_REQ_SET_PROTOCOL_FEATURES] = "SET_PROTOCOL_FEATURES",
	[VU_REQ_GET_QUEUE_NUM] = "GET_QUEUE_NUM", [VU_REQ_SET_VRING_ENABLE] = "SET_VRING_ENABLE",
	[VU_REQ_SET_BACKEND_REQ_FD] = "SET_BACKEND_REQ_FD", [VU_REQ_GET_CONFIG] = "GET_CONFIG",
	[VU_REQ_SET_CONFIG] = "SET_CONFIG", [VU_REQ_GET_INFLIGHT_FD] = "GET_INFLIGHT_FD",
	[VU_REQ_SET_INFLIGHT_FD] = "SET_INFLIGHT_FD", [VU_REQ_ADD_MEM_REG] = "ADD_MEM_REG",
};

/* Record the first failing step: false once one failed. */
static bool step(struct rp *rp, uint32_t req, int ret)
{
	if (ret && !rp->failed) {
		rp->failed = req < VU_REQ_MAX && req_names[req] ? req_names[req] : "a request";
		rp->err = ret;
	}
	return !rp->failed;
}

void rp_req(struct rp *rp, uint32_t req, const void *p, uint32_t size,
	    const int *fds, int nfds)
{
	if (!rp->failed)
		step(rp, req, vf_call(&rp->vf, req, p, size, fds, nfds));
}

void rp_u64(struct rp *rp, uint32_t req, uint64_t v)
{
	rp_req(rp, req, &v, sizeof(v), NULL, 0);
}

void rp_state(struct rp *rp, uint32_t req, uint32_t index, uint32_t num)
{
	struct vu_vring_state s = { index, num };

	rp_req(rp, req, &s, sizeof(s), NULL, 0);
}

void rp_get_u64(struct rp *rp, uint32_t req, uint64_t *v)
{
	*v = 0;
	if (!rp->failed)
		step(rp, req, vf_get_u64(&rp->vf, req, v));
}

void rp_mem_table(struct rp *rp)
{
	if (!rp->failed)
		step(rp, VU_REQ_SET_MEM_TABLE, vf_set_mem_table(&rp->vf, &rp->g));
}

void rp_vring_addr(struct rp *rp, unsigned int q)
{
	uint64_t gpa = RP_RING_GPA + q * 0x100000ull;
	struct vu_vring_addr a = {
		.index = q,
		.desc = vf_gpa_uaddr(&rp->g, gpa, vr_desc_size(rp->num)),
		.used = vf_gpa_uaddr(&rp->g, gpa + 0xa0000, vr_used_size(rp->num)),
		.avail = vf_gpa_uaddr(&rp->g, gpa + 0x80000, vr_avail_size(rp->num)),
	};

	rp_req(rp, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

void rp_vring_fd(struct rp *rp, uint32_t req, unsigned int q)
{
	uint64_t v = q;
	int fd = req == VU_REQ_SET_VRING_KICK ? rp->q[q].vr.kick_fd :
		 req == VU_REQ_SET_VRING_CALL ? rp->q[q].vr.call_fd : rp->q[q].err_fd;

	rp_req(rp, req, &v, sizeof(v), &fd, 1);
}

bool rp_open(struct rp *rp, uint64_t want_pf, uint64_t *backend_f)
{
	uint64_t pf = 0;

	if (!rp_connect(rp))
		return rp_check(rp, NULL, false, "connect");
	rp_req(rp, VU_REQ_SET_OWNER, NULL, 0, NULL, 0);
	rp_get_u64(rp, VU_REQ_GET_FEATURES, backend_f);
	if (*backend_f & BIT(VU_F_PROTOCOL_FEATURES)) {
		rp_get_u64(rp, VU_REQ_GET_PROTOCOL_FEATURES, &pf);
		rp->pf = pf & want_pf;
		rp_u64(rp, VU_REQ_SET_PROTOCOL_FEATURES, rp->pf);
	}
	rp->vf.pf = rp->pf;
	return true;
}

uint64_t rp_guest_features(uint64_t offered, uint64_t backend_f)
{
	return ((offered & backend_f & RP_LINUX_FEATURES) | BIT(VU_F_PROTOCOL_FEATURES)) &
	       backend_f;
}

void rp_get_vring_base(struct rp *rp, unsigned int q, uint32_t *base)
{
	*base = ~0u;
	if (!rp->failed)
		step(rp, VU_REQ_GET_VRING_BASE, vf_get_vring_base(&rp->vf, q, base));
}

void rp_get_config(struct rp *rp, uint32_t off, uint32_t size, void *out)
{
	if (!rp->failed)
		step(rp, VU_REQ_GET_CONFIG, vf_config_get(&rp->vf, off, size, 1, out));
}

void rp_get_inflight(struct rp *rp)
{
	close_fd(&rp->inflight_fd);
	if (!rp->failed)
		step(rp, VU_REQ_GET_INFLIGHT_FD,
		     vf_get_inflight(&rp->vf, rp->nq, rp->num, &rp->inflight,
				     &rp->inflight_fd));
}

void rp_set_inflight(struct rp *rp)
{
	rp_req(rp, VU_REQ_SET_INFLIGHT_FD, &rp->inflight, sizeof(rp->inflight),
	       &rp->inflight_fd, 1);
}

/* ---- the guest's driver --------------------------------------------------- */

/* Slot s of queue q: header, status at 16, payload at 32, table at 64, data. */
static uint64_t slot_gpa(unsigned int q, unsigned int s)
{
	return RP_SLOT_GPA + q * 0x40000ull + s * 0x4000ull;
}

#define SLOT_DATA	0x1000
#define SLOT_DATA_MAX	8192

void rp_ring_new(struct rp *rp, unsigned int q)
{
	uint64_t gpa = RP_RING_GPA + q * 0x100000ull;
	struct rp_q *rq = &rp->q[q];
	int kick = rq->vr.kick_fd, call = rq->vr.call_fd;

	vr_init(&rq->vr, rp->num, vf_gpa_ptr(&rp->g, gpa, vr_desc_size(rp->num)),
		vf_gpa_ptr(&rp->g, gpa + 0x80000, vr_avail_size(rp->num)),
		vf_gpa_ptr(&rp->g, gpa + 0xa0000, vr_used_size(rp->num)));
	rq->vr.event_idx = rp->features & BIT(VIRTIO_RING_F_EVENT_IDX);
	rq->vr.kick_fd = kick >= 0 ? kick : eventfd(0, EFD_CLOEXEC);
	rq->vr.call_fd = call >= 0 ? call : eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (rq->err_fd < 0)
		rq->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	memset(rq->len, 0xff, sizeof(rq->len));
}

uint16_t rp_avail_idx(const struct rp *rp, unsigned int q)
{
	return rp->q[q].vr.avail_idx;
}

uint8_t rp_status(struct rp *rp, unsigned int q, unsigned int s)
{
	return *(uint8_t *)vf_gpa_ptr(&rp->g, slot_gpa(q, s) + 16, 1);
}

uint8_t *rp_data(struct rp *rp, unsigned int q, unsigned int s)
{
	return vf_gpa_ptr(&rp->g, slot_gpa(q, s) + SLOT_DATA, SLOT_DATA_MAX);
}

void rp_post(struct rp *rp, unsigned int q, unsigned int s, uint32_t type,
	     uint64_t sector, uint32_t len)
{
	uint64_t slot = slot_gpa(q, s);
	struct virtio_blk_outhdr *h = vf_gpa_ptr(&rp->g, slot, sizeof(*h));
	struct vr *vr = &rp->q[q].vr;
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	uint8_t *data = rp_data(rp, q, s);
	struct vr_buf b[4];
	uint16_t head = s * 4;
	int n = 0;

	*h = (struct virtio_blk_outhdr){ .type = type, .sector = sector };
	*(uint8_t *)vf_gpa_ptr(&rp->g, slot + 16, 1) = 0xaa;
	b[n++] = (struct vr_buf){ slot, sizeof(*h), false };
	if (type == VIRTIO_BLK_T_DISCARD || type == VIRTIO_BLK_T_WRITE_ZEROES) {
		struct virtio_blk_discard_write_zeroes *dwz =
			vf_gpa_ptr(&rp->g, slot + 32, sizeof(*dwz));

		*dwz = (struct virtio_blk_discard_write_zeroes){
			.sector = sector, .num_sectors = len / 512,
		};
		b[n++] = (struct vr_buf){ slot + 32, sizeof(*dwz), false };
	} else if (len) {
		/* Two descriptors from 2 KiB on, as for two pages of a bio. */
		uint32_t first = len >= 2048 ? len / 2 : len;

		for (uint32_t i = 0; i < len; i++)
			data[i] = in ? 0xee : pat(rp->seed, sector * 512 + i);
		b[n++] = (struct vr_buf){ slot + SLOT_DATA, first, in };
		if (first < len)
			b[n++] = (struct vr_buf){ slot + SLOT_DATA + first, len - first, in };
	}
	b[n++] = (struct vr_buf){ slot + 16, 1, true };
	if (rp->features & BIT(VIRTIO_RING_F_INDIRECT_DESC)) {
		vr_fill_chain(vf_gpa_ptr(&rp->g, slot + 64, n * sizeof(struct vring_desc)),
			      0, b, n);
		vr_add_indirect(vr, head, slot + 64, n);
	} else {
		vr_add_chain(vr, head, b, n);
	}
	rp->q[q].len[s] = ~0u;
	vr_push(vr, head);
	vr_publish(vr);
}

void rp_kick(struct rp *rp, unsigned int q)
{
	if (vr_kick_needed(&rp->q[q].vr))
		vr_kick(&rp->q[q].vr);
}

bool rp_wait(struct rp *rp, unsigned int q, int ms)
{
	struct rp_q *rq = &rp->q[q];
	uint32_t head, len;

	for (;;) {
		while (vr_get_used(&rq->vr, &head, &len))
			if (head % 4 == 0 && head / 4 < RP_SLOTS)
				rq->len[head / 4] = len;
		if (rq->vr.last_used == rq->vr.avail_idx)
			return true;
		/* A call once the last one posted is used. */
		if (!vr_want_call_at(&rq->vr, rq->vr.avail_idx - 1) &&
		    vr_wait_call(&rq->vr, ms) != 1)
			return false;
	}
}

bool rp_backing_has(struct rp *rp, uint32_t seed, uint64_t sector, uint32_t len)
{
	uint8_t buf[SLOT_DATA_MAX];
	int fd = open(rp->img, O_RDONLY | O_CLOEXEC);
	bool ok = fd >= 0 && len <= sizeof(buf) &&
		  pread(fd, buf, len, sector * 512) == (ssize_t)len;

	for (uint32_t i = 0; ok && i < len; i++)
		ok = buf[i] == pat(seed, sector * 512 + i);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* A read's buffer holds seed's pattern (or zeroes). */
static bool data_is(struct rp *rp, unsigned int q, unsigned int s, uint32_t seed,
		    uint64_t sector, uint32_t len, bool zeroes)
{
	const uint8_t *d = rp_data(rp, q, s);

	for (uint32_t i = 0; i < len; i++)
		if (d[i] != (zeroes ? 0 : pat(seed, sector * 512 + i)))
			return false;
	return true;
}

enum phase { WRITE, READ_BACK, READ_OLD };

/* One batch of RP_SLOTS requests per queue in a phase: false if any failed. */
static bool io_phase(struct rp *rp, enum phase ph, uint32_t unit)
{
	uint32_t type = ph == WRITE ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	bool ok = true;

	for (unsigned int q = 0; q < rp->nq; q++) {
		for (unsigned int s = 0; s < RP_SLOTS; s++) {
			uint32_t len = unit << (s % 4);

			rp_post(rp, q, s, type, (ph == READ_OLD ? 12288 : 4096) + q * 256 + s * 16,
				len > SLOT_DATA_MAX ? SLOT_DATA_MAX : len);
		}
		rp_kick(rp, q);
	}
	for (unsigned int q = 0; q < rp->nq; q++) {
		if (!rp_wait(rp, q, IO_TIMEOUT_MS)) {
			tap_diag("%s: queue %u: %u of %u requests used in %d ms", rp->name, q,
				 rp->q[q].vr.last_used, rp->q[q].vr.avail_idx, IO_TIMEOUT_MS);
			return false;
		}
		for (unsigned int s = 0; s < RP_SLOTS; s++) {
			uint32_t len = unit << (s % 4);
			uint64_t sector = (ph == READ_OLD ? 12288 : 4096) + q * 256 + s * 16;
			bool good;

			len = len > SLOT_DATA_MAX ? SLOT_DATA_MAX : len;
			good = rp_status(rp, q, s) == VIRTIO_BLK_S_OK &&
			       rp->q[q].len[s] == (ph == WRITE ? 1 : len + 1) &&
			       (ph == WRITE ? rp_backing_has(rp, rp->seed, sector, len) :
				data_is(rp, q, s, ph == READ_OLD ? 0 : rp->seed, sector, len,
					false));
			if (!good)
				tap_diag("%s: queue %u: %s of %u bytes at sector %llu: status %u, "
					 "used length %u%s", rp->name, q,
					 ph == WRITE ? "write" : "read", len,
					 (unsigned long long)sector, rp_status(rp, q, s),
					 rp->q[q].len[s], rp_status(rp, q, s) ? "" : ", wrong data");
			ok &= good;
		}
	}
	return ok;
}

bool rp_io_ok(struct rp *rp, uint32_t unit)
{
	bool ok;

	if (rp->vf.sock < 0)
		return false;	/* the frontend gave the device up */
	rp->seed++;
	ok = io_phase(rp, WRITE, unit) && io_phase(rp, READ_BACK, unit) &&
	     io_phase(rp, READ_OLD, unit);
	if (ok && (rp->features & BIT(VIRTIO_BLK_F_FLUSH))) {
		rp_post(rp, 0, 0, VIRTIO_BLK_T_FLUSH, 0, 0);
		rp_kick(rp, 0);
		ok = rp_wait(rp, 0, IO_TIMEOUT_MS) && rp_status(rp, 0, 0) == VIRTIO_BLK_S_OK;
	}
	return ok;
}

bool rp_io(struct rp *rp, const char *todo, const char *what, uint32_t unit)
{
	return rp_check(rp, todo, rp_io_ok(rp, unit), "%s: %u writes and %u reads%s, data checked",
			what, rp->nq * RP_SLOTS, 2 * rp->nq * RP_SLOTS,
			rp->features & BIT(VIRTIO_BLK_F_FLUSH) ? " and a flush" : "");
}

/* One request in slot 0 of queue 0, waited for: its status, or -1. */
static int one(struct rp *rp, uint32_t type, uint64_t sector, uint32_t len)
{
	if (rp->vf.sock < 0)
		return -1;
	rp_post(rp, 0, 0, type, sector, len);
	rp_kick(rp, 0);
	return rp_wait(rp, 0, IO_TIMEOUT_MS) ? rp_status(rp, 0, 0) : -1;
}

bool rp_discard_zeroes(struct rp *rp, const char *what)
{
	bool ok = true;

	if (rp->features & BIT(VIRTIO_BLK_F_WRITE_ZEROES)) {
		rp->seed++;
		ok = one(rp, VIRTIO_BLK_T_OUT, 8192, 4096) == VIRTIO_BLK_S_OK &&
		     one(rp, VIRTIO_BLK_T_WRITE_ZEROES, 8192, 4096) == VIRTIO_BLK_S_OK &&
		     one(rp, VIRTIO_BLK_T_IN, 8192, 4096) == VIRTIO_BLK_S_OK &&
		     data_is(rp, 0, 0, 0, 8192, 4096, true);
	}
	if (rp->features & BIT(VIRTIO_BLK_F_DISCARD))
		ok &= one(rp, VIRTIO_BLK_T_DISCARD, 8200, 4096) == VIRTIO_BLK_S_OK;
	return rp_check(rp, NULL, ok, "%s: write zeroes reads back zeroes, discard succeeds",
			what);
}
