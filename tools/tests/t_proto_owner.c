// SPDX-License-Identifier: GPL-2.0
/*
 * Protocol tests: a frontend that never sends SET_OWNER. Nothing else
 * needs one, so such a frontend can hand the datapath memory regions (or
 * an inflight area) and go; the server unmaps them then, and the
 * datapath must be detached from them too, or the next frontend's rings
 * run on memory that is gone.
 */
#include "t_proto.h"
#include "tap.h"
#include "test_dp.h"
#include "util.h"

void t_no_owner(struct vf_guest *g)
{
	uint64_t pf = BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIGURE_MEM_SLOTS);
	struct vu_mem_reg_msg mr = { .region = g->r[0] };
	uint32_t m;
	struct vf vf;
	int ret;

	if (!connect_ok(&vf, proto.sock0)) {
		tap_ok(false, "no owner: connect");
		return;
	}
	ret = vf_send(&vf, VU_REQ_SET_PROTOCOL_FEATURES, false, &pf, sizeof(pf), NULL, 0);
	vf.pf = pf;
	m = log_mark();
	ret = ret ?: vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1);
	tap_ok(ret == 0 && tdp_find(TDP_ADD_REGION, m) >= 0,
	       "no owner: ADD_MEM_REG without SET_OWNER reaches the datapath");
	m = log_mark();
	vf_close(&vf);
	tap_ok(wait_op(TDP_DETACH, m) >= 0,
	       "no owner: its disconnect detaches the datapath from the unmapped region");
	exportd_settle(&proto.d);
}
