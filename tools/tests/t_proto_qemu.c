// SPDX-License-Identifier: GPL-2.0
/*
 * The protocol tests' QEMU 7.2 life cycle on export 0: realize,
 * DRIVER_OK, stop, restart, SET_CONFIG, disconnect, reconnect with the
 * inflight area, RESET_OWNER.
 */
#include <stddef.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "t_proto.h"
#include "tap.h"
#include "test_dp.h"
#include "util.h"

void t_qemu_lifecycle(struct vf_guest *g, int *inflight_fd)
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
	ret = exportd_settle(&proto.d);
	tap_ok(ret == proto.d.baseline_fds,
	       "qemu: no fd left open after the disconnect (%d, want %d)", ret,
	       proto.d.baseline_fds);

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

	/*
	 * RESET_OWNER, deprecated: it disables and stops the rings and keeps
	 * everything negotiated, REPLY_ACK included; SET_OWNER works again.
	 */
	m = log_mark();
	tap_ok(vf_req_ack(&vf, VU_REQ_RESET_OWNER, NULL, 0, NULL, 0) == 0,
	       "reset: RESET_OWNER accepted");
	tap_ok(tdp_count(TDP_STOP, m) == 2 && tdp_find(TDP_DETACH, m) < 0,
	       "reset: RESET_OWNER stops the queues, and the session stays (no detach)");
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0) == 0,
	       "reset: SET_OWNER after RESET_OWNER, with need_reply, is acked");
	m = log_mark();
	ret = vf_driver_ok(&vf, g, 2, QSIZE, inflight_fd, false);
	tap_ok(ret == 0 && tdp_count(TDP_START, m) == 2 && tdp_find(TDP_MEM_TABLE, m) < 0,
	       "reset: the queues start again on the memory the session kept (step %d)", ret);
	m = log_mark();
	vf_close(&vf);
	tap_ok(wait_op(TDP_DETACH, m) >= 0, "reset: the disconnect then detaches");
	exportd_settle(&proto.d);
}
