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

/* SET_PROTOCOL_FEATURES without need_reply; the acks to expect from now on. */
static int protocol(struct vf *vf, uint64_t pf)
{
	vf->pf = pf;
	return vf_req_sync(vf, VU_REQ_SET_PROTOCOL_FEATURES, &pf, 8, NULL, 0);
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

void t_spec(struct vf_guest *g)
{
	t_spec_mem_table(g);
	tap_ok(exportd_settle(&proto.d) == proto.d.baseline_fds, "spec: no fd leaked");
}
