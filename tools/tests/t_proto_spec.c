// SPDX-License-Identifier: GPL-2.0
/*
 * The protocol tests' corner cases of the vhost-user specification, one
 * group each, on export 0 (2 queues) and export 1 (read-only, 1 queue).
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "t_proto.h"
#include "tap.h"
#include "test_dp.h"
#include "util.h"

/* What an eventfd was signalled since it was last read (0: nothing). */
static uint64_t signalled(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t n = 0;

	if (poll(&p, 1, 0) == 1 && read(fd, &n, sizeof(n)) != sizeof(n))
		n = 0;
	return n;
}

/* SET_PROTOCOL_FEATURES without need_reply; the acks to expect from now on. */
static int protocol(struct vf *vf, uint64_t pf)
{
	vf->pf = pf;
	return vf_req_sync(vf, VU_REQ_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
}

/* Export 0 as QEMU 7.2 leaves it after DRIVER_OK: both queues running. */
static bool running(struct vf *vf, struct vf_guest *g, int *inflight_fd)
{
	int ret = connect_ok(vf, proto.sock0) ? vf_realize(vf, 2, NULL) : -100;

	ret = ret ?: vf_driver_ok(vf, g, 2, QSIZE, inflight_fd, true);
	if (ret)
		tap_diag("export 0 not running: step %d", ret);
	return ret == 0;
}

/* GET_CONFIG: the zero-length reply (and flags 0x5) of the specification. */
static bool config_error(struct vf *vf, const void *c, uint32_t size)
{
	struct vu_config_msg r;
	struct vu_hdr h;

	return vf_send(vf, VU_REQ_GET_CONFIG, false, c, size, NULL, 0) == 0 &&
	       vf_recv(vf, &h, &r, sizeof(r), NULL) == 0 &&
	       h.request == VU_REQ_GET_CONFIG && h.flags == 0x5 && h.size == 0;
}

/* A config space access the device refuses never costs the connection. */
static void t_spec_config(struct vf_guest *g)
{
	struct vu_config_msg c = { .offset = 0x100, .size = 4 };
	struct virtio_blk_config cfg;
	int inflight_fd = -1;
	struct vf vf;

	if (!tap_ok(running(&vf, g, &inflight_fd), "config: export 0 running"))
		goto out;
	tap_ok(config_error(&vf, &c, VU_CONFIG_HDR_SIZE + 4) && alive(&vf),
	       "config: GET_CONFIG at offset 0x100 gets a zero-length reply, the connection stays");
	c = (struct vu_config_msg){ .size = 300 };
	tap_ok(config_error(&vf, &c, VU_CONFIG_HDR_SIZE) && alive(&vf),
	       "config: GET_CONFIG of 300 bytes in a 12-byte payload gets a zero-length reply");
	{
		uint8_t big[VU_CONFIG_HDR_SIZE + 300] = { 0 };

		memcpy(big, &c, VU_CONFIG_HDR_SIZE);
		tap_ok(config_error(&vf, big, sizeof(big)) && alive(&vf),
		       "config: GET_CONFIG with a 312-byte payload gets a zero-length reply");
	}
	/* A guest writing a read-only field, through a frontend without acks. */
	c = (struct vu_config_msg){ .offset = 0, .size = 8 };
	memset(c.data, 0xff, 8);
	tap_ok(vf_send(&vf, VU_REQ_SET_CONFIG, false, &c, VU_CONFIG_HDR_SIZE + 8, NULL, 0) == 0 &&
	       vf_get_config(&vf, 0, sizeof(cfg), &cfg) == 0 &&
	       cfg.capacity == DISK_SIZE / 512,
	       "config: SET_CONFIG of the capacity without need_reply changes nothing, "
	       "the connection stays");
out:
	vf_close(&vf);
	close_fd(&inflight_fd);
}

/* SET_MEM_TABLE with as many regions as slots, each with its fd. */
static void t_spec_mem_table(struct vf_guest *g)
{
	struct {
		uint32_t nregions, padding;
		struct vu_region_desc regions[VU_MAX_MEM_SLOTS];
	} t = { .nregions = VU_MAX_MEM_SLOTS };
	int fds[VU_MAX_MEM_SLOTS], i, ret;
	uint32_t m;
	struct vf vf;

	if (!tap_ok(connect_ok(&vf, proto.sock1), "32 regions: connect"))
		return;
	/* Region i: 32K of the guest's memfd at gpa i * 1M, in a row. */
	for (i = 0; i < VU_MAX_MEM_SLOTS; i++) {
		t.regions[i] = (struct vu_region_desc){ 0x100000ull * i, 0x8000,
							VF_UADDR0 + 0x8000ull * i,
							0x8000ull * i };
		fds[i] = g->fd;
	}
	m = log_mark();
	ret = vf_req_sync(&vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0);
	ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_MEM_TABLE, &t,
				 VU_MEM_TABLE_HDR_SIZE + sizeof(t.regions), fds,
				 VU_MAX_MEM_SLOTS);
	i = tdp_find(TDP_MEM_TABLE, m);
	tap_ok(ret == 0 && i >= 0 && tdp_log->ev[i].a == VU_MAX_MEM_SLOTS,
	       "32 regions: SET_MEM_TABLE with %d regions and %d fds maps them all",
	       VU_MAX_MEM_SLOTS, VU_MAX_MEM_SLOTS);
	{
		struct vu_mem_reg_msg mr = { 0, t.regions[31] };

		ret = protocol(&vf, BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIGURE_MEM_SLOTS));
		ret = ret ?: vf_req_ack(&vf, VU_REQ_REM_MEM_REG, &mr, sizeof(mr), NULL, 0);
		tap_ok(ret == 0 && tdp_find(TDP_REMOVE_REGION, m) >= 0,
		       "32 regions: the 32nd region is in the table");
	}
	vf_close(&vf);
	tap_ok(exportd_settle(&proto.d) == proto.d.baseline_fds,
	       "32 regions: every region's fd closed after the disconnect");
}

/* A SET_PROTOCOL_FEATURES that turns REPLY_ACK on, with need_reply, is acked. */
static void t_spec_reply_ack(void)
{
	uint64_t pf = BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG);
	struct vf vf;

	if (!tap_ok(connect_ok(&vf, proto.sock1), "reply ack: connect"))
		return;
	tap_ok(vf_u64_ack(&vf, VU_REQ_SET_PROTOCOL_FEATURES, pf) == 0,
	       "reply ack: SET_PROTOCOL_FEATURES enabling REPLY_ACK acks itself");
	pf = BIT(VU_PF_CONFIG);
	tap_ok(vf_u64_ack(&vf, VU_REQ_SET_PROTOCOL_FEATURES, pf) == 0 && alive(&vf),
	       "reply ack: and one turning it off too");
	vf_close(&vf);
}

/*
 * Features while the rings run apply to them: the queues stop and start
 * again with the new ring features. Unchanged features stop nothing.
 */
static void t_spec_features(struct vf_guest *g)
{
	int inflight_fd = -1, i, ret;
	uint64_t f;
	uint32_t m;
	struct vf vf;

	if (!tap_ok(running(&vf, g, &inflight_fd), "features: export 0 running"))
		goto out;
	ret = vf_get_u64(&vf, VU_REQ_GET_FEATURES, &f);
	f &= ~(BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	m = log_mark();
	ret = ret ?: vf_u64_ack(&vf, VU_REQ_SET_FEATURES, f);
	tap_ok(ret == 0 && tdp_find(TDP_STOP, m) < 0,
	       "features: the same features again leave the running queues alone");
	f &= ~BIT(VIRTIO_RING_F_EVENT_IDX);
	m = log_mark();
	ret = vf_u64_ack(&vf, VU_REQ_SET_FEATURES, f);
	i = tdp_find(TDP_FEATURES, m);
	tap_ok(ret == 0 && tdp_count(TDP_STOP, m) == 2 && i > tdp_find(TDP_STOP, m) &&
	       tdp_log->ev[i].a == (f & ~BIT(30)) && tdp_count(TDP_START, i) == 2,
	       "features: SET_FEATURES without EVENT_IDX while running stops both queues, "
	       "applies it, starts them again");
out:
	vf_close(&vf);
	close_fd(&inflight_fd);
}

/* The rings of queue 0 at vf_ring_addrs(), without a kick fd yet. */
static int ring_setup(struct vf *vf, int efd)
{
	struct vu_vring_state s = { 0, QSIZE };
	struct vu_vring_addr a;
	uint64_t q = 0;
	int ret;

	vf_ring_addrs(0, QSIZE, &a);
	ret = vf_req_sync(vf, VU_REQ_SET_VRING_NUM, &s, 8, NULL, 0);
	s.num = 0;
	ret = ret ?: vf_req_sync(vf, VU_REQ_SET_VRING_BASE, &s, 8, NULL, 0);
	ret = ret ?: vf_req_sync(vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	ret = ret ?: vf_req_sync(vf, VU_REQ_SET_VRING_CALL, &q, 8, &efd, 1);
	return ret;
}

/*
 * A ring's enable state follows from the features alone: without
 * protocol features it starts enabled, with them it waits for
 * SET_VRING_ENABLE, whether the kick fd came before SET_FEATURES or not.
 */
static void t_spec_enable(struct vf_guest *g)
{
	struct vu_mem_table_msg t = { .nregions = 2 };
	int fds[2] = { g->fd, g->fd }, efd = eventfd(0, EFD_CLOEXEC), ret;
	uint64_t f = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_BLK_F_RO), q = 0;
	uint32_t m;
	struct vf vf;

	t.regions[0] = g->r[0];
	t.regions[1] = g->r[1];
	for (int pf = 1; pf >= 0; pf--) {
		const char *who = pf ? "enable, protocol features" : "enable, no protocol features";

		if (!connect_ok(&vf, proto.sock1)) {
			tap_ok(false, "%s: connect", who);
			continue;
		}
		m = log_mark();
		ret = vf_req_sync(&vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0);
		ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_MEM_TABLE, &t, 8 + 64, fds, 2);
		ret = ret ?: ring_setup(&vf, efd);
		ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_VRING_KICK, &q, 8, &efd, 1);
		tap_ok(ret == 0 && tdp_find(TDP_START, m) < 0,
		       "%s: a kick fd before SET_FEATURES starts nothing", who);
		if (pf)
			f |= BIT(VU_F_PROTOCOL_FEATURES);
		else
			f &= ~BIT(VU_F_PROTOCOL_FEATURES);
		ret = vf_req_sync(&vf, VU_REQ_SET_FEATURES, &f, 8, NULL, 0);
		if (pf) {
			struct vu_vring_state s = { 0, 1 };

			ret = ret ?: protocol(&vf, BIT(VU_PF_REPLY_ACK));
			tap_ok(ret == 0 && tdp_find(TDP_START, m) < 0,
			       "%s: SET_FEATURES leaves the ring disabled", who);
			ret = vf_req_ack(&vf, VU_REQ_SET_VRING_ENABLE, &s, 8, NULL, 0);
			tap_ok(ret == 0 && tdp_find(TDP_START, m) >= 0,
			       "%s: SET_VRING_ENABLE(1) starts it", who);
		} else {
			tap_ok(ret == 0 && tdp_find(TDP_START, m) >= 0,
			       "%s: SET_FEATURES starts the ring its kick fd set up", who);
		}
		vf_close(&vf);
	}
	close(efd);
}

/* A queue the datapath failed to stop is not reported as stopped. */
static void t_spec_stop_fails(struct vf_guest *g)
{
	int inflight_fd = -1;
	uint32_t base = 0, m;
	struct vf vf;

	if (!tap_ok(running(&vf, g, &inflight_fd), "stop fails: export 0 running"))
		goto out;
	m = log_mark();
	tdp_log->stop_fail = 1;
	tap_ok(vf_get_vring_base(&vf, 0, &base) != 0 && vf_is_closed(&vf),
	       "stop fails: GET_VRING_BASE gives no base, the connection closes");
	tap_ok(wait_op(TDP_DETACH, m) > tdp_find(TDP_STOP, m),
	       "stop fails: the disconnect stops the queue, then detaches");
out:
	tdp_log->stop_fail = 0;
	vf_close(&vf);
	close_fd(&inflight_fd);
}

/* A new call fd is signalled once, running ring or not. */
static void t_spec_call(struct vf_guest *g)
{
	int inflight_fd = -1, efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), ret;
	struct vf vf;

	if (!tap_ok(running(&vf, g, &inflight_fd), "call: export 0 running"))
		goto out;
	ret = vf_vring_fd(&vf, VU_REQ_SET_VRING_CALL, 1, efd);
	tap_ok(ret == 0 && signalled(efd) == 1,
	       "call: a new call fd of a running queue is signalled once");
	ret = vf_stop(&vf, 2, (uint32_t[2]){ 0 });
	ret = ret ?: vf_vring_fd(&vf, VU_REQ_SET_VRING_CALL, 0, efd);
	tap_ok(ret == 0 && signalled(efd) == 1,
	       "call: so is one of a stopped queue");
out:
	vf_close(&vf);
	close_fd(&inflight_fd);
	close(efd);
}

/*
 * A vring request refused when the frontend asked for no reply breaks
 * that ring (stopped, err eventfd signalled) and nothing else, until
 * GET_VRING_BASE resets it.
 */
static void t_spec_no_reply(struct vf_guest *g)
{
	int inflight_fd = -1, err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), ret;
	struct vu_vring_state s = { 1, 2 * QSIZE };
	uint32_t m, base;
	struct vf vf;

	if (!tap_ok(running(&vf, g, &inflight_fd), "no reply: export 0 running"))
		goto out;
	ret = vf_vring_fd(&vf, VU_REQ_SET_VRING_ERR, 1, err);
	m = log_mark();
	ret = ret ?: vf_send(&vf, VU_REQ_SET_VRING_NUM, false, &s, 8, NULL, 0);
	tap_ok(ret == 0 && alive(&vf) && signalled(err) == 1 &&
	       tdp_count(TDP_STOP, m) == 1 && tdp_log->ev[tdp_find(TDP_STOP, m)].index == 1,
	       "no reply: SET_VRING_NUM above --queue-size without need_reply breaks "
	       "queue 1 alone: stopped, err eventfd signalled, connection kept");
	tap_ok(file_count(proto.d.log, "queue 1 is broken") > 0,
	       "no reply: the log says the queue is broken, and why");
	tap_ok(vf_state_ack(&vf, VU_REQ_SET_VRING_ENABLE, 1, 1) > 0 &&
	       tdp_find(TDP_START, m) < 0, "no reply: a broken queue does not start");
	tap_ok(vf_state_ack(&vf, VU_REQ_SET_VRING_NUM, 0, QSIZE / 2) > 0 && signalled(err) == 0,
	       "no reply: with need_reply a refusal is acked and breaks nothing");
	m = log_mark();
	ret = vf_get_vring_base(&vf, 1, &base);
	ret = ret ?: vf_state_ack(&vf, VU_REQ_SET_VRING_NUM, 1, QSIZE);
	ret = ret ?: vf_vring_fd(&vf, VU_REQ_SET_VRING_KICK, 1, err);
	ret = ret ?: vf_state_ack(&vf, VU_REQ_SET_VRING_ENABLE, 1, 1);
	tap_ok(ret == 0 && tdp_find(TDP_START, m) >= 0,
	       "no reply: after GET_VRING_BASE the queue is set up and started again");
	s = (struct vu_vring_state){ 7, QSIZE };
	vf_send(&vf, VU_REQ_SET_VRING_NUM, false, &s, 8, NULL, 0);
	tap_ok(vf_is_closed(&vf),
	       "no reply: a refusal naming no queue (index 7) still closes the connection");
out:
	vf_close(&vf);
	close_fd(&inflight_fd);
	close(err);
}

void t_spec(struct vf_guest *g)
{
	t_spec_config(g);
	t_spec_mem_table(g);
	t_spec_reply_ack();
	t_spec_features(g);
	t_spec_enable(g);
	t_spec_stop_fails(g);
	t_spec_call(g);
	t_spec_no_reply(g);
	tap_ok(exportd_settle(&proto.d) == proto.d.baseline_fds, "spec: no fd leaked");
}
