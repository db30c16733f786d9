// SPDX-License-Identifier: GPL-2.0
/*
 * The protocol tests' other frontends, on export 1 (read-only, 1 queue):
 * crosvm's order with SET_MEM_TABLE, and a frontend without protocol
 * features.
 */
#include <stddef.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "t_proto.h"
#include "tap.h"
#include "test_dp.h"
#include "util.h"

void t_set_mem_table(struct vf_guest *g)
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
		int err = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		uint64_t n = 0;

		/*
		 * A refusal this frontend cannot be told of (it asks for no
		 * replies) breaks the ring it concerns, not the connection.
		 */
		f = 0;
		ret = vf_req_sync(&vf, VU_REQ_SET_VRING_ERR, &f, 8, &err, 1);
		m = log_mark();
		ret = ret ?: vf_req_sync(&vf, VU_REQ_SET_VRING_ENABLE, &s, 8, NULL, 0);
		tap_ok(ret == 0 && tdp_find(TDP_STOP, m) >= 0 &&
		       read(err, &n, sizeof(n)) == sizeof(n) && n == 1,
		       "legacy: SET_VRING_ENABLE without protocol features breaks the ring "
		       "(stopped, err eventfd signalled), the connection stays");
		close(err);
	}
	vf_close(&vf);
	close(efd);
	tap_ok(exportd_settle(&proto.d) == proto.d.baseline_fds,
	       "crosvm/legacy: no fd leaked");
}
