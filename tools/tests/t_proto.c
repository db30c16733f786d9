// SPDX-License-Identifier: GPL-2.0
/*
 * Protocol tests: the export daemon (daemon.c + vu_server.c, as in vhuctl)
 * runs in a child process with the recording test datapath (test_dp.c,
 * TEST CODE) and the test frontend (vu_frontend.c) drives it through each
 * lifecycle sequence and a catalogue of bad messages, checking replies,
 * what reached the datapath, that the daemon stays up and that it leaks
 * no fds. The child is stopped by its PID with a bounded wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "exportd.h"
#include "tap.h"
#include "test_dp.h"
#include "test_util.h"
#include "util.h"
#include "vu_frontend.h"

#define DISK_SIZE (8u << 20)
#define QSIZE 256

/*
 * The daemon with the recording datapath: export 0 on sock0 (2 queues),
 * export 1 on sock1 (read-only, 1 queue).
 */
static struct {
	struct tmp_dir dir;
	const char *sock0, *sock1;
	struct exportd d;
} proto;

static bool alive(struct vf *vf)
{
	uint64_t f;

	return vf_get_u64(vf, VU_REQ_GET_FEATURES, &f) == 0;
}

/* fd count once every earlier message is fully handled (a round trip). */
static int fds_now(struct vf *vf)
{
	return alive(vf) ? fd_count(proto.d.pid) : -1;
}

static bool connect_ok(struct vf *vf, const char *path)
{
	int ret = vf_connect(vf, path);

	if (ret)
		tap_diag("connect %s: %s", path, strerror(-ret));
	return ret == 0;
}

static uint32_t log_mark(void)
{
	return tdp_log->n;
}

/* Wait for the daemon to have logged an op (it runs asynchronously). */
static int wait_op(uint32_t op, uint32_t from)
{
	int i = -1;

	for (int t = 0; t < 200 && (i = tdp_find(op, from)) < 0; t++)
		usleep(10000);
	return i;
}

/* Queue q's ring, to set what the recording datapath reads of it. */
static struct vr ring(struct vf_guest *g, int q)
{
	struct vr r;

	vf_vr(g, q, QSIZE, false, &r);
	return r;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* ---- QEMU 7.2 lifecycle on export 0 ---------------------------------- */

static void t_qemu_lifecycle(struct vf_guest *g, int *inflight_fd)
{
	struct virtio_blk_config cfg;
	struct timespec t0;
	uint32_t bases[2], m;
	uint64_t f, st;
	struct vf vf;
	int i, ret;

	if (!tap_ok(connect_ok(&vf, proto.sock0), "qemu: connect"))
		return;
	m = log_mark();
	ret = vf_realize(&vf, 2, &f);
	if (!tap_ok(ret == 0, "qemu: realize sequence (GET_FEATURES .. GET_CONFIG 57 bytes)"))
		tap_diag("vf_realize step %d", ret);
	tap_ok((f & BIT(30)) && (f & BIT(VIRTIO_F_VERSION_1)) &&
	       (f & BIT(VIRTIO_BLK_F_MQ)) && (f & BIT(VIRTIO_BLK_F_FLUSH)) &&
	       (f & BIT(VIRTIO_BLK_F_CONFIG_WCE)) && !(f & BIT(VIRTIO_BLK_F_RO)),
	       "qemu: features offer bit 30, VERSION_1, MQ, FLUSH, CONFIG_WCE, not RO");
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0) > 0,
	       "qemu: SET_OWNER made the frontend the owner (a second one is refused)");

	ret = vf_get_config(&vf, 0, sizeof(cfg), &cfg);
	tap_ok(ret == 0 && cfg.capacity == DISK_SIZE / 512 && cfg.blk_size == 512 &&
	       cfg.num_queues == 2 && cfg.seg_max == QSIZE - 2 && cfg.wce == 1,
	       "qemu: config space: capacity, blk_size, num_queues, seg_max, wce");

	*(uint8_t *)g->base = 0xa5;
	*(uint8_t *)(g->base + VF_REGION_SIZE) = 0x5a;
	ring(g, 0).desc[0].addr = 0x1111222233334444ull;
	ring(g, 1).desc[0].addr = 0x5555666677778888ull;
	m = log_mark();
	ret = vf_driver_ok(&vf, g, 2, QSIZE, inflight_fd, true);
	if (!tap_ok(ret == 0, "qemu: DRIVER_OK sequence (features, status, inflight, "
		    "ADD_MEM_REG, vrings, enable)"))
		tap_diag("vf_driver_ok step %d", ret);
	tap_ok(*inflight_fd >= 0 &&
	       lseek(*inflight_fd, 0, SEEK_END) == 2 * (off_t)vu_inflight_queue_size(QSIZE),
	       "qemu: GET_INFLIGHT_FD returns a buffer sized for 2 x %d", QSIZE);
	i = tdp_find(TDP_ADD_REGION, m);
	tap_ok(i >= 0 && tdp_log->ev[i].a == VF_GPA0 && tdp_log->ev[i].c == 0xa5 &&
	       (i = tdp_find(TDP_ADD_REGION, i + 1)) >= 0 &&
	       tdp_log->ev[i].a == VF_GPA1 && tdp_log->ev[i].c == 0x5a,
	       "qemu: both regions mapped at their offsets (datapath reads the guest's bytes)");
	i = tdp_find(TDP_START, m);
	tap_ok(i >= 0 && tdp_log->ev[i].index == 0 &&
	       tdp_log->ev[i].a == 0x1111222233334444ull && tdp_log->ev[i].c == 7 &&
	       (i = tdp_find(TDP_START, i + 1)) >= 0 && tdp_log->ev[i].index == 1 &&
	       tdp_log->ev[i].a == 0x5555666677778888ull,
	       "qemu: both queues started with translated rings and kick/call/err fds");
	tap_ok(tdp_find(TDP_INFLIGHT, m) >= 0, "qemu: inflight buffer handed to the datapath");
	tap_ok(vf_get_u64(&vf, VU_REQ_GET_STATUS, &st) == 0 && st == 0xf,
	       "qemu: GET_STATUS returns DRIVER_OK status");

	/* Stop: in-flight I/O drains before GET_VRING_BASE answers. */
	ring(g, 0).avail->idx = 7;
	ring(g, 1).avail->idx = 3;
	tdp_log->stop_delay_ms = 200;
	m = log_mark();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = vf_stop(&vf, 2, bases);
	tap_ok(ret == 0 && bases[0] == 7 && bases[1] == 3,
	       "qemu: stop sequence; GET_VRING_BASE returns the datapath's next avail index");
	tap_ok(tdp_count(TDP_STOP, m) == 2 && ms_since(&t0) >= 200,
	       "qemu: queues drained before the replies");
	tdp_log->stop_delay_ms = 0;

	/* Guest reboot: the same connection starts the rings again. */
	ring(g, 0).used->idx = 7;
	ring(g, 1).used->idx = 3;
	m = log_mark();
	ret = vf_driver_ok(&vf, g, 2, QSIZE, inflight_fd, false);
	i = tdp_find(TDP_START, m);
	tap_ok(ret == 0 && tdp_count(TDP_START, m) == 2 && i >= 0 && tdp_log->ev[i].b == 7,
	       "qemu: restart after reset resumes at the saved base");

	/* Write cache toggle through SET_CONFIG. */
	{
		struct vu_config_msg c = {
			.offset = offsetof(struct virtio_blk_config, wce), .size = 1,
		};
		uint8_t wce = 1;

		m = log_mark();
		c.data[0] = 0;
		ret = vf_req_ack(&vf, VU_REQ_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 1, NULL, 0);
		i = tdp_find(TDP_WRITE_CACHE, m);
		tap_ok(ret == 0 && i >= 0 && tdp_log->ev[i].a == 0 &&
		       vf_get_config(&vf, c.offset, 1, &wce) == 0 && wce == 0,
		       "qemu: SET_CONFIG switches the write cache off");
		c.offset = 0;
		c.size = 8;
		tap_ok(vf_req_ack(&vf, VU_REQ_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 8, NULL, 0) > 0,
		       "qemu: SET_CONFIG of the capacity is refused");
	}

	/* Disconnect with running queues: everything is released. */
	m = log_mark();
	vf_close(&vf);
	i = wait_op(TDP_DETACH, m);
	tap_ok(i >= 0 && tdp_count(TDP_STOP, m) == 2 && tdp_find(TDP_STOP, m) < i,
	       "qemu: disconnect stops the running queues, then detaches");
	ret = settle_fds(proto.d.pid, proto.d.baseline_fds);
	tap_ok(ret == proto.d.baseline_fds, "qemu: no fd left open after the disconnect (%d, want %d)",
	       ret, proto.d.baseline_fds);

	/* Reconnect: the inflight buffer is handed over again. */
	*(uint64_t *)g->base = 0;
	{
		uint64_t *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
				   *inflight_fd, 0);

		if (p != MAP_FAILED) {
			p[0] = 0xfeedface;
			munmap(p, 4096);
		}
	}
	if (!tap_ok(connect_ok(&vf, proto.sock0), "reconnect: connect again"))
		return;
	m = log_mark();
	ret = vf_realize(&vf, 2, NULL);
	if (!ret)
		ret = vf_driver_ok(&vf, g, 2, QSIZE, inflight_fd, true);
	i = tdp_find(TDP_INFLIGHT, m);
	tap_ok(ret == 0 && i >= 0 && tdp_log->ev[i].c == 0xfeedface &&
	       tdp_count(TDP_START, m) == 2,
	       "reconnect: SET_INFLIGHT_FD hands the same buffer over and queues restart");

	/* RESET_OWNER releases the session; SET_OWNER works again. */
	m = log_mark();
	tap_ok(vf_req_ack(&vf, VU_REQ_RESET_OWNER, NULL, 0, NULL, 0) == 0 ||
	       tdp_find(TDP_DETACH, m) >= 0, "reset: RESET_OWNER accepted");
	tap_ok(tdp_count(TDP_STOP, m) == 2 && tdp_find(TDP_DETACH, m) >= 0,
	       "reset: RESET_OWNER stops the queues and detaches");
	/*
	 * RESET_OWNER also reset the negotiated protocol features. Only an
	 * owner's reset detaches, so a second one shows SET_OWNER took.
	 */
	m = log_mark();
	tap_ok(vf_req_sync(&vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0) == 0 &&
	       vf_req_sync(&vf, VU_REQ_RESET_OWNER, NULL, 0, NULL, 0) == 0 &&
	       tdp_find(TDP_DETACH, m) >= 0, "reset: SET_OWNER after RESET_OWNER");
	vf_close(&vf);
	settle_fds(proto.d.pid, proto.d.baseline_fds);
}

/* ---- bad messages on a live connection -------------------------------- */

static void t_bad_live(struct vf_guest *g, int *inflight_fd)
{
	struct vu_vring_addr a;
	struct vu_mem_reg_msg mr;
	struct vf vf;
	uint64_t v;
	int fds[9], before, after, ret;

	if (!tap_ok(connect_ok(&vf, proto.sock0), "bad: connect"))
		return;
	ret = vf_realize(&vf, 2, NULL);
	if (!ret)
		ret = vf_driver_ok(&vf, g, 2, QSIZE, inflight_fd, true);
	if (!tap_ok(ret == 0, "bad: device running before the bad messages"))
		return;
	before = fds_now(&vf);

	tap_ok(vf_req_ack(&vf, VU_REQ_SET_FEATURES, &v, 4, NULL, 0) > 0 && alive(&vf),
	       "bad: SET_FEATURES with a 4-byte payload refused, connection kept");
	tap_ok(vf_u64_ack(&vf, VU_REQ_SET_FEATURES, BIT(63) | BIT(30)) > 0,
	       "bad: SET_FEATURES with a feature not offered refused");
	tap_ok(vf_u64_ack(&vf, VU_REQ_SET_PROTOCOL_FEATURES, BIT(VU_PF_LOG_SHMFD)) > 0,
	       "bad: SET_PROTOCOL_FEATURES with LOG_SHMFD (not offered) refused");
	tap_ok(vf_state_ack(&vf, VU_REQ_SET_VRING_NUM, 2, 128) > 0,
	       "bad: SET_VRING_NUM for queue 2 of 2 refused");
	tap_ok(vf_state_ack(&vf, VU_REQ_SET_VRING_NUM, 0, 100) > 0,
	       "bad: SET_VRING_NUM of 100 (not a power of 2) refused");
	tap_ok(vf_state_ack(&vf, VU_REQ_SET_VRING_NUM, 0, 2 * QSIZE) > 0,
	       "bad: SET_VRING_NUM above --queue-size refused");
	tap_ok(vf_state_ack(&vf, VU_REQ_SET_VRING_NUM, 0, 128) > 0,
	       "bad: SET_VRING_NUM on a running queue refused");
	tap_ok(vf_state_ack(&vf, VU_REQ_SET_VRING_BASE, 0x10000, 0) > 0,
	       "bad: SET_VRING_BASE with an out-of-range index refused");
	tap_ok(vf_state_ack(&vf, VU_REQ_SET_VRING_ENABLE, 0, 2) > 0,
	       "bad: SET_VRING_ENABLE with value 2 refused");
	tap_ok(vf_u64_ack(&vf, VU_REQ_SET_STATUS, 0x100) > 0,
	       "bad: SET_STATUS above 0xff refused");

	for (int i = 0; i < 9; i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	v = 0;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &v, 8, fds, 2) > 0,
	       "bad: SET_VRING_KICK with 2 fds refused");
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &v, 8, fds, 9) > 0,
	       "bad: a message with 9 fds refused");
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_CALL, &v, 8, NULL, 0) > 0,
	       "bad: SET_VRING_CALL without fd and without the no-fd flag refused");
	v = VU_VRING_NOFD;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_CALL, &v, 8, fds, 1) > 0,
	       "bad: SET_VRING_CALL with an fd and the no-fd flag refused");
	v = 1ull << 20;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &v, 8, fds, 1) > 0,
	       "bad: SET_VRING_KICK with unknown bits refused");
	v = 5;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_ERR, &v, 8, fds, 1) > 0,
	       "bad: SET_VRING_ERR for queue 5 refused");

	mr = (struct vu_mem_reg_msg){ 0, g->r[0] };
	tap_ok(vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), NULL, 0) > 0,
	       "bad: ADD_MEM_REG without an fd refused");
	mr.region.gpa = VF_GPA0 + 4096;
	mr.region.uaddr = 0x1000;
	mr.region.size = 4096;
	tap_ok(vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1) > 0,
	       "bad: ADD_MEM_REG overlapping in guest-physical space refused");
	mr.region.gpa = 0x200000000ull;
	mr.region.uaddr = VF_UADDR0 + 4096;
	tap_ok(vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1) > 0,
	       "bad: ADD_MEM_REG overlapping in frontend address space refused");
	mr.region.uaddr = 0x1000;
	mr.region.size = 0;
	tap_ok(vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1) > 0,
	       "bad: ADD_MEM_REG of zero size refused");
	mr.region.size = 8192;
	mr.region.gpa = UINT64_MAX - 4095;
	tap_ok(vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1) > 0,
	       "bad: ADD_MEM_REG with an overflowing range refused");
	mr.region.gpa = 0x200000000ull;
	mr.region.mmap_offset = VF_MEM_SIZE;
	tap_ok(vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1) > 0,
	       "bad: ADD_MEM_REG past the end of its fd refused");
	mr.region = (struct vu_region_desc){ 0x300000000ull, 4096, 0x2000, 0 };
	tap_ok(vf_req_ack(&vf, VU_REQ_REM_MEM_REG, &mr, sizeof(mr), NULL, 0) > 0,
	       "bad: REM_MEM_REG of an unknown region refused");
	{
		struct vu_mem_table_msg t = { .nregions = 2 };

		t.regions[0] = g->r[0];
		t.regions[1] = g->r[1];
		tap_ok(vf_req_ack(&vf, VU_REQ_SET_MEM_TABLE, &t, 8 + 64, &g->fd, 1) > 0,
		       "bad: SET_MEM_TABLE with 2 regions and 1 fd refused");
		tap_ok(vf_req_ack(&vf, VU_REQ_SET_MEM_TABLE, &t, 8 + 40, fds, 1) > 0,
		       "bad: SET_MEM_TABLE with a partial region refused");
		t.nregions = 3;
		tap_ok(vf_req_ack(&vf, VU_REQ_SET_MEM_TABLE, &t, 8 + 64, fds, 2) > 0,
		       "bad: SET_MEM_TABLE whose count disagrees with its size refused");
	}

	vf_ring_addrs(0, QSIZE, &a);
	a.desc = 0x1000;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0,
	       "bad: SET_VRING_ADDR outside every region refused");
	vf_ring_addrs(0, QSIZE, &a);
	a.used = VF_UADDR0 + VF_REGION_SIZE - 16;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0,
	       "bad: SET_VRING_ADDR with a ring crossing the region end refused");
	vf_ring_addrs(0, QSIZE, &a);
	a.desc += 8;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0,
	       "bad: SET_VRING_ADDR with a misaligned descriptor table refused");
	vf_ring_addrs(0, QSIZE, &a);
	a.flags = VU_VRING_F_LOG;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0,
	       "bad: SET_VRING_ADDR asking for dirty logging refused");
	tap_ok(vf_req_ack(&vf, 99, &v, 8, NULL, 0) > 0,
	       "bad: unknown request 99 refused with an ack");
	tap_ok(vf_req_ack(&vf, 0, NULL, 0, NULL, 0) > 0, "bad: request 0 refused");
	v = 0;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_LOG_BASE, &v, 8, fds, 1) > 0,
	       "bad: SET_LOG_BASE (dirty log not offered) refused");
	tap_ok(vf_req_ack(&vf, VU_REQ_POSTCOPY_ADVISE, NULL, 0, NULL, 0) > 0,
	       "bad: POSTCOPY_ADVISE (postcopy not offered) refused");
	tap_ok(vf_req_ack(&vf, VU_REQ_RESET_DEVICE, NULL, 0, NULL, 0) > 0,
	       "bad: RESET_DEVICE (not offered) refused");
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0) > 0,
	       "bad: a second SET_OWNER refused");
	{
		struct vu_inflight_msg inf = { .mmap_size = 64, .num_queues = 2,
					       .queue_size = QSIZE };

		tap_ok(vf_req_ack(&vf, VU_REQ_SET_INFLIGHT_FD, &inf, sizeof(inf),
				  inflight_fd, 1) > 0,
		       "bad: SET_INFLIGHT_FD with a too small area refused");
		tap_ok(vf_req_ack(&vf, VU_REQ_SET_INFLIGHT_FD, &inf, 20,
				  inflight_fd, 1) > 0,
		       "bad: SET_INFLIGHT_FD with a 20-byte payload refused");
	}
	for (int i = 0; i < 9; i++)
		close(fds[i]);

	tap_ok(alive(&vf), "bad: the connection survived every refused request");
	after = fds_now(&vf);
	tap_ok(after == before, "bad: refused requests leaked no fd (%d before, %d after)",
	       before, after);

	/* Hot-unplug region 1 the QEMU 7.2 way (with its fd), then re-add it. */
	{
		uint32_t m = log_mark();

		mr = (struct vu_mem_reg_msg){ 0, g->r[1] };
		tap_ok(vf_req_ack(&vf, VU_REQ_REM_MEM_REG, &mr, sizeof(mr), &g->fd, 1) == 0 &&
		       tdp_find(TDP_REMOVE_REGION, m) >= 0 &&
		       fds_now(&vf) == before - 1,
		       "mem: REM_MEM_REG unmaps the region and closes its fd");
		tap_ok(vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1) == 0 &&
		       fds_now(&vf) == before, "mem: ADD_MEM_REG maps it again");
		mr = (struct vu_mem_reg_msg){ 0, g->r[0] };
		tap_ok(vf_req_ack(&vf, VU_REQ_REM_MEM_REG, &mr, sizeof(mr), NULL, 0) > 0,
		       "mem: REM_MEM_REG of the region holding running rings refused");
	}

	/* A second frontend is turned away; the first keeps the device. */
	{
		struct vf vf2;

		tap_ok(connect_ok(&vf2, proto.sock0) && vf_is_closed(&vf2) && alive(&vf),
		       "conn: a second frontend is refused, the first keeps working");
		vf_close(&vf2);
	}
	vf_close(&vf);
	ret = settle_fds(proto.d.pid, proto.d.baseline_fds);
	tap_ok(ret == proto.d.baseline_fds, "bad: all fds released after the disconnect (%d, want %d)",
	       ret, proto.d.baseline_fds);
}

/* ---- errors that cost the connection ---------------------------------- */

static void t_bad_fatal(void)
{
	struct vu_vring_state s = { 7, 0 };
	struct vu_config_msg c = { .size = 300 };
	struct vf vf;
	uint64_t v = 0;

	struct {
		const char *what;
		uint32_t req, flags, size;
		const void *p;
		bool realize;
		int nfds;
	} cases[] = {
		{ "a header with version 2", VU_REQ_GET_FEATURES, 0x2, 0, NULL, false, 0 },
		{ "a request with the reply flag", VU_REQ_GET_FEATURES, 0x5, 0, NULL, false, 0 },
		{ "a header with unknown flag bits", VU_REQ_GET_FEATURES, 0x101, 0, NULL, false, 0 },
		{ "a 1 MiB payload size", VU_REQ_SET_FEATURES, 0x1, 1 << 20, NULL, false, 0 },
		{ "GET_VRING_BASE of queue 7", VU_REQ_GET_VRING_BASE, 0x1, 8, &s, true, 0 },
		{ "GET_CONFIG of 300 bytes", VU_REQ_GET_CONFIG, 0x1, 12, &c, true, 0 },
		{ "GET_QUEUE_NUM before MQ was negotiated", VU_REQ_GET_QUEUE_NUM, 0x1, 0, NULL, false, 0 },
		{ "a failing request without need_reply", VU_REQ_SET_VRING_NUM, 0x1, 8, &s, true, 0 },
		{ "an unknown request without need_reply", 77, 0x1, 8, &v, true, 0 },
		{ "need_reply before REPLY_ACK was negotiated", 77, 0x9, 8, &v, false, 0 },
		{ "GET_FEATURES with an fd", VU_REQ_GET_FEATURES, 0x9, 0, NULL, true, 1 },
	};
	int efd = eventfd(0, EFD_CLOEXEC);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		if (!connect_ok(&vf, proto.sock0)) {
			tap_ok(false, "fatal: connect for %s", cases[i].what);
			continue;
		}
		if (cases[i].realize && vf_realize(&vf, 2, NULL))
			tap_diag("realize failed before %s", cases[i].what);
		if (cases[i].size > 4096) {
			struct vu_hdr h = { cases[i].req, cases[i].flags, cases[i].size };
			ssize_t n = send(vf.sock, &h, sizeof(h), MSG_NOSIGNAL);

			(void)n;
		} else {
			vf_send_raw(&vf, cases[i].req, cases[i].flags, cases[i].p,
				    cases[i].size, &efd, cases[i].nfds);
		}
		tap_ok(vf_is_closed(&vf), "fatal: %s closes the connection", cases[i].what);
		vf_close(&vf);
	}

	/* Half a header, then hang up. */
	if (connect_ok(&vf, proto.sock0)) {
		ssize_t n = send(vf.sock, "\x01\x00\x00", 3, MSG_NOSIGNAL);

		(void)n;
		vf_close(&vf);
	}
	tap_ok(connect_ok(&vf, proto.sock0) && alive(&vf),
	       "fatal: the daemon still serves after every dropped connection");
	vf_close(&vf);
	close(efd);
	tap_ok(settle_fds(proto.d.pid, proto.d.baseline_fds) == proto.d.baseline_fds, "fatal: no fd leaked");
}

/* An export whose frontend stalls mid-message holds up only itself. */
static void t_isolation(void)
{
	struct vu_hdr h = { VU_REQ_SET_FEATURES, 0x1, 8 };
	struct vf a, b;
	uint64_t f = 0;
	bool ok;

	if (!connect_ok(&a, proto.sock0)) {
		tap_ok(false, "isolation: connect to export 0");
		return;
	}
	/* SET_FEATURES' header without its payload: export 0 waits for it. */
	ok = vf_get_u64(&a, VU_REQ_GET_FEATURES, &f) == 0 &&
	     send(a.sock, &h, sizeof(h), MSG_NOSIGNAL) == sizeof(h);
	usleep(100000);
	ok = ok && connect_ok(&b, proto.sock1);
	tap_ok(ok && vf_realize(&b, 1, NULL) == 0,
	       "isolation: export 1 serves a whole realize while export 0 waits for a payload");
	/* With one control loop export 0 would have been cut off by now. */
	tap_ok(send(a.sock, &f, sizeof(f), MSG_NOSIGNAL) == sizeof(f) && alive(&a),
	       "isolation: export 0 then takes the rest of its message and still serves");
	vf_close(&a);
	if (ok)
		vf_close(&b);
}

/* ---- other frontends on export 1 (read-only, 1 queue) ----------------- */

static void t_set_mem_table(struct vf_guest *g)
{
	struct vu_mem_table_msg t = { .nregions = 2 };
	struct vu_vring_addr a;
	struct vf vf;
	uint64_t f, pf;
	uint32_t m, blk = 0;
	int fds[2] = { g->fd, g->fd }, efd, i, ret;

	if (!tap_ok(connect_ok(&vf, proto.sock1), "crosvm: connect"))
		return;
	m = log_mark();
	/* crosvm: SET_OWNER first, protocol features after SET_FEATURES. */
	ret = vf_req_sync(&vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0);
	ret = ret ?: vf_get_u64(&vf, VU_REQ_GET_FEATURES, &f);
	tap_ok(ret == 0 && (f & BIT(VIRTIO_BLK_F_RO)) && !(f & BIT(VIRTIO_BLK_F_MQ)),
	       "crosvm: a read-only single-queue export offers RO, not MQ");
	f &= BIT(30) | BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_BLK_F_RO);
	ret = vf_req_sync(&vf, VU_REQ_SET_FEATURES, &f, 8, NULL, 0);
	ret = ret ?: vf_get_u64(&vf, VU_REQ_GET_PROTOCOL_FEATURES, &pf);
	pf = BIT(VU_PF_MQ) | BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG);
	ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
	t.regions[0] = g->r[0];
	t.regions[1] = g->r[1];
	*(uint8_t *)g->base = 0xc3;
	ret = ret ?: vf_req_ack(&vf, VU_REQ_SET_MEM_TABLE, &t, 8 + 64, fds, 2);
	i = tdp_find(TDP_MEM_TABLE, m);
	tap_ok(ret == 0 && i >= 0 && tdp_log->ev[i].a == 2 && tdp_log->ev[i].b == 0xc3,
	       "crosvm: SET_MEM_TABLE with 2 regions and 2 fds maps both");
	tap_ok(vf_get_config(&vf, offsetof(struct virtio_blk_config, blk_size), 4, &blk) == 0 &&
	       blk == 512, "crosvm: GET_CONFIG of one field at its offset");
	vf_ring_addrs(0, QSIZE, &a);
	ring(g, 0).desc[0].addr = 0xabcdef;
	efd = eventfd(0, EFD_CLOEXEC);
	f = 0;
	ret = vf_state_ack(&vf, VU_REQ_SET_VRING_NUM, 0, QSIZE);
	ret = ret ?: vf_req_ack(&vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	ret = ret ?: vf_state_ack(&vf, VU_REQ_SET_VRING_BASE, 0, 0);
	ret = ret ?: vf_req_ack(&vf, VU_REQ_SET_VRING_CALL, &f, 8, &efd, 1);
	ret = ret ?: vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &f, 8, &efd, 1);
	tap_ok(ret == 0 && tdp_find(TDP_START, m) < 0,
	       "crosvm: with protocol features the ring waits for SET_VRING_ENABLE");
	ret = vf_state_ack(&vf, VU_REQ_SET_VRING_ENABLE, 0, 1);
	i = tdp_find(TDP_START, m);
	tap_ok(ret == 0 && i >= 0 && tdp_log->ev[i].a == 0xabcdef,
	       "crosvm: SET_VRING_ENABLE starts the queue");

	/* A new table while running: the queue restarts on the new mapping. */
	m = log_mark();
	t.nregions = 1;
	ret = vf_req_ack(&vf, VU_REQ_SET_MEM_TABLE, &t, 8 + 32, fds, 1);
	i = tdp_find(TDP_STOP, m);
	tap_ok(ret == 0 && i >= 0 && tdp_find(TDP_MEM_TABLE, i) > i &&
	       tdp_find(TDP_START, tdp_find(TDP_MEM_TABLE, i)) > 0,
	       "crosvm: SET_MEM_TABLE while running stops, remaps, restarts");
	{
		struct vu_mem_reg_msg mr = { 0, g->r[1] };

		tap_ok(vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), fds, 1) > 0,
		       "crosvm: ADD_MEM_REG without CONFIGURE_MEM_SLOTS refused");
	}
	tap_ok(vf_get_config(&vf, 0, 4, &blk) == 0, "crosvm: still alive");
	m = log_mark();
	vf_close(&vf);
	tap_ok(wait_op(TDP_DETACH, m) >= 0, "crosvm: disconnect detaches");
	close(efd);

	/* No protocol features at all: the kick fd starts the ring. */
	if (!tap_ok(connect_ok(&vf, proto.sock1), "legacy: connect"))
		return;
	m = log_mark();
	f = BIT(VIRTIO_F_VERSION_1);
	efd = eventfd(0, EFD_CLOEXEC);
	ret = vf_req_sync(&vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0);
	ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_FEATURES, &f, 8, NULL, 0);
	t.nregions = 2;
	ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_MEM_TABLE, &t, 8 + 64, fds, 2);
	{
		struct vu_vring_state s = { 0, QSIZE };

		ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_VRING_NUM, &s, 8, NULL, 0);
		s.num = 0;
		ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_VRING_BASE, &s, 8, NULL, 0);
	}
	ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	f = 0;
	ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_VRING_CALL, &f, 8, &efd, 1);
	tap_ok(ret == 0 && tdp_find(TDP_START, m) < 0, "legacy: set up without a kick fd");
	ret = vf_req_sync(&vf, VU_REQ_SET_VRING_KICK, &f, 8, &efd, 1);
	tap_ok(ret == 0 && tdp_find(TDP_START, m) >= 0,
	       "legacy: without protocol features SET_VRING_KICK starts the ring");
	{
		struct vu_vring_state s = { 0, 1 };

		vf_send(&vf, VU_REQ_SET_VRING_ENABLE, false, &s, 8, NULL, 0);
		tap_ok(vf_is_closed(&vf),
		       "legacy: SET_VRING_ENABLE without protocol features ends the connection");
	}
	vf_close(&vf);
	close(efd);
	tap_ok(settle_fds(proto.d.pid, proto.d.baseline_fds) == proto.d.baseline_fds, "crosvm/legacy: no fd leaked");
}

/* ---- the real QEMU 7.2 frontend ---------------------------------------- */

/* A guest kernel with its modules on this host, or false. */
static bool find_guest_kernel(char *kernel, size_t klen, char *rel, size_t rlen)
{
	static const char *const rels[] = { "6.1.0-56-amd64", NULL };
	char mods[256];
	FILE *p;

	/* Prefer Debian 12's 6.1 (what QEMU 7.2 ships with), else any. */
	for (int i = 0; rels[i]; i++) {
		snprintf(kernel, klen, "/boot/vmlinuz-%s", rels[i]);
		snprintf(mods, sizeof(mods), "/lib/modules/%s", rels[i]);
		if (!access(kernel, R_OK) && !access(mods, R_OK)) {
			snprintf(rel, rlen, "%s", rels[i]);
			return true;
		}
	}
	p = popen("ls /boot 2>/dev/null | sed -n 's/^vmlinuz-//p' | sort -V | tail -n 1", "r");
	if (!p)
		return false;
	if (!fgets(rel, rlen, p))
		rel[0] = '\0';
	pclose(p);
	rel[strcspn(rel, "\n")] = '\0';
	snprintf(kernel, klen, "/boot/vmlinuz-%s", rel);
	snprintf(mods, sizeof(mods), "/lib/modules/%s", rel);
	return rel[0] && !access(kernel, R_OK) && !access(mods, R_OK);
}

#define QBOOT "/usr/share/qemu/qboot.rom"

static void t_real_qemu(void)
{
	const char *top = getenv("VHU_TOP");
	const char *qlog = tmp_file(&proto.dir, "qemu.log");
	const char *glog = tmp_file(&proto.dir, "guest.log");
	const char *init = tmp_file(&proto.dir, "init");
	const char *initrd = tmp_file(&proto.dir, "initrd");
	char kernel[256], rel[128], serial[200], chardev[200], mk[800];
	int st, i, nstart;
	uint32_t m;
	pid_t pid;

	if (system("command -v qemu-system-x86_64 >/dev/null 2>&1")) {
		tap_ok(true, "# SKIP real qemu: qemu-system-x86_64 not installed");
		return;
	}
	/* mkinitramfs' own, next to the initrd */
	tmp_file(&proto.dir, "initrd.stamp");
	snprintf(chardev, sizeof(chardev), "socket,id=vu0,path=%s", proto.sock0);

	/* 1. Device realize only: QEMU stays paused (-S). */
	{
		char *argv[] = {
			"qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
			"-m", "256M", "-smp", "2",
			"-object", "memory-backend-memfd,id=mem,size=256M,share=on",
			"-numa", "node,memdev=mem", "-chardev", chardev,
			"-device", "vhost-user-blk-pci,chardev=vu0,num-queues=2",
			"-S", "-display", "none", "-nodefaults", "-monitor", "none", NULL,
		};

		m = log_mark();
		pid = spawn(argv, qlog);
		i = -1;
		for (int t = 0; t < 1000 && i < 0; t++) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				pid = -1;
				break;
			}
			i = tdp_find(TDP_GET_CONFIG, m);	/* realize's last step */
			usleep(10000);
		}
		usleep(500000);
		if (!tap_ok(pid > 0 && i >= 0 && waitpid(pid, &st, WNOHANG) == 0,
			    "real qemu: QEMU 7.2 realizes vhost-user-blk-pci (2 queues) against the daemon"))
			diag_file("qemu", qlog, 20);
		if (pid > 0)
			stop_child(pid, 20000, &st);
		tap_ok(pid > 0 && wait_op(TDP_DETACH, m) >= 0,
		       "real qemu: the daemon releases the device when QEMU quits");
	}

	/* 2. A guest kernel loads virtio_blk: DRIVER_OK, then VM stop. */
	/*
	 * qboot boots -kernel directly; SeaBIOS would drive the disk itself
	 * and wait forever for a read the recording datapath never completes.
	 */
	if (!top || !find_guest_kernel(kernel, sizeof(kernel), rel, sizeof(rel)) ||
	    access("/bin/busybox", X_OK) || access(QBOOT, R_OK)) {
		tap_ok(true, "# SKIP real qemu guest: no guest kernel, busybox, qboot or VHU_TOP");
		return;
	}
	{
		FILE *f = fopen(init, "w");

		if (f) {
			fputs("#!/bin/sh\n/bin/busybox mount -t devtmpfs dev /dev\n"
			      "for m in $(/bin/busybox cat /modules/order); do\n"
			      "  /bin/busybox insmod /modules/$m\ndone\n"
			      "/bin/busybox sleep 600\n", f);
			fclose(f);
		}
	}
	snprintf(mk, sizeof(mk), "'%s/tools/testing/vm/mkinitramfs' '%s' '%s' '%s' "
		 "virtio_pci virtio_blk >/dev/null 2>&1", top, rel, initrd, init);
	if (system(mk)) {
		tap_ok(true, "# SKIP real qemu guest: mkinitramfs failed");
		return;
	}
	{
		char *argv[] = {
			"qemu-system-x86_64", "-machine", "q35", "-bios", QBOOT,
			"-accel", "tcg,thread=multi", "-cpu", "max", "-m", "256M", "-smp", "2",
			"-object", "memory-backend-memfd,id=mem,size=256M,share=on",
			"-numa", "node,memdev=mem", "-chardev", chardev,
			"-device", "vhost-user-blk-pci,chardev=vu0,num-queues=2",
			"-kernel", kernel, "-initrd", (char *)initrd,
			"-append", "console=ttyS0 panic=-1 loglevel=4",
			"-display", "none", "-nodefaults", "-no-reboot",
			"-serial", serial, NULL,
		};
		int secs = 180;	/* TCG: KVM cannot boot a stock kernel everywhere */

		snprintf(serial, sizeof(serial), "file:%s", glog);
		m = log_mark();
		pid = spawn(argv, qlog);
		for (int t = 0; t < secs * 10 && tdp_count(TDP_START, m) < 2; t++) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				pid = -1;
				break;
			}
			usleep(100000);
		}
		nstart = tdp_count(TDP_START, m);
		i = tdp_find(TDP_ADD_REGION, m);
		if (!tap_ok(nstart >= 2 && i >= 0 && tdp_find(TDP_INFLIGHT, m) >= 0,
			    "real qemu guest: virtio_blk's DRIVER_OK starts both queues "
			    "(memory slots, inflight fd, translated rings)")) {
			diag_file("qemu", qlog, 20);
			diag_file("guest", glog, 60);
		}
		if (pid > 0) {
			uint32_t stop_from = log_mark();

			stop_child(pid, 20000, &st);
			tap_ok(st == 0 && tdp_count(TDP_STOP, stop_from) >= 2,
			       "real qemu guest: VM stop gets every queue's base (GET_VRING_BASE) "
			       "and QEMU exits cleanly");
		} else {
			tap_ok(false, "real qemu guest: QEMU kept running");
		}
		wait_op(TDP_DETACH, m);
	}
	settle_fds(proto.d.pid, proto.d.baseline_fds);
}

void t_proto(void)
{
	struct tmp_dir *dir = &proto.dir;
	struct exportd *d = &proto.d;
	int inflight_fd = -1, connects;
	struct vf_guest g;
	uint32_t m;
	struct vf vf;

	if (!tmp_dir_make(dir, "vhuctl-proto") || tdp_log_init() || vf_guest_init(&g)) {
		tap_ok(false, "proto: set up");
		return;
	}
	proto.sock0 = tmp_file(dir, "blk0.sock");
	proto.sock1 = tmp_file(dir, "blk1.sock");
	exportd_add(d, proto.sock0, tmp_file(dir, "disk0.img"), DISK_SIZE, 2, &tdp_ops);
	exportd_add(d, proto.sock1, tmp_file(dir, "disk1.img"), DISK_SIZE, 1,
		    &tdp_ops)->readonly = true;
	if (!tap_ok(exportd_start(d, tmp_file(dir, "daemon.log")),
		    "daemon: listening on two sockets"))
		goto out;
	tap_ok(tdp_count(TDP_OPEN, 0) == 2, "daemon: one datapath per export");

	t_qemu_lifecycle(&g, &inflight_fd);
	t_bad_live(&g, &inflight_fd);
	t_bad_fatal();
	t_isolation();
	t_set_mem_table(&g);
	t_real_qemu();
	tap_ok(settle_fds(proto.d.pid, proto.d.baseline_fds) == proto.d.baseline_fds,
	       "daemon: no fd leaked across all sessions");

	/* Shutdown with a frontend connected. */
	connect_ok(&vf, proto.sock0);
	vf_realize(&vf, 2, NULL);
	m = log_mark();
	tap_ok(exportd_stop(d), "daemon: SIGTERM ends it with status 0");
	tap_ok(tdp_find(TDP_DETACH, m) >= 0 && tdp_count(TDP_CLOSE, m) == 2,
	       "daemon: shutdown releases the connection and both datapaths");
	tap_ok(access(proto.sock0, F_OK) && access(proto.sock1, F_OK),
	       "daemon: both sockets unlinked");
	tap_ok(vf_is_closed(&vf), "daemon: the frontend sees the connection closed");
	vf_close(&vf);
	connects = file_count(d->log, "frontend connected");
	tap_ok(connects >= 10, "daemon: logs one line per connection (%d)", connects);

out:
	exportd_stop(d);
	exportd_diag_log(d);
	close_fd(&inflight_fd);
	vf_guest_fini(&g);
	tap_ok(tmp_dir_remove(dir), "proto: no files left behind");
}
