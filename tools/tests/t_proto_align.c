// SPDX-License-Identifier: GPL-2.0
/*
 * Protocol tests: rings at aligned frontend addresses in a region that
 * starts at a misaligned one. The daemon's copy of them is misaligned
 * then, and the datapath reads their fields in place: the ring must not
 * start.
 */
#include <sys/eventfd.h>
#include <unistd.h>

#include "t_proto.h"
#include "tap.h"
#include "test_dp.h"
#include "util.h"

void t_misaligned_rings(struct vf_guest *g)
{
	struct vu_mem_reg_msg mr = { .region = g->r[0] };
	int kick = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	struct vu_vring_addr a;
	uint64_t f = 0;
	uint32_t m;
	struct vf vf;
	int ret;

	if (!connect_ok(&vf, proto.sock0)) {
		tap_ok(false, "misaligned rings: connect");
		close_fd(&kick);
		return;
	}
	/* Rings 64 KiB into the region as the frontend sees it, 4 bytes in ours. */
	mr.region.uaddr += 4;
	vf_ring_addrs(0, QSIZE, &a);
	ret = vf_realize(&vf, 1, &f);
	ret = ret ?: vf_u64_ack(&vf, VU_REQ_SET_FEATURES, f);
	ret = ret ?: vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1);
	ret = ret ?: vf_state_ack(&vf, VU_REQ_SET_VRING_NUM, 0, QSIZE);
	ret = ret ?: vf_req_ack(&vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
	ret = ret ?: vf_vring_fd(&vf, VU_REQ_SET_VRING_KICK, 0, kick);
	tap_ok(ret == 0, "misaligned rings: a region at a misaligned address, rings in it");
	m = log_mark();
	ret = vf_state_ack(&vf, VU_REQ_SET_VRING_ENABLE, 0, 1);
	tap_ok(ret > 0 && tdp_find(TDP_START, m) < 0 && alive(&vf),
	       "misaligned rings: SET_VRING_ENABLE is refused, the ring does not start "
	       "(ack %d), the connection stays", ret);
	vf_close(&vf);
	close_fd(&kick);
	exportd_settle(&proto.d);
}
