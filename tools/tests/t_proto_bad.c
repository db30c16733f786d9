// SPDX-License-Identifier: GPL-2.0
/*
 * The protocol tests' bad messages: refused on a live connection (which
 * survives and leaks nothing), or fatal to the connection only; and one
 * export's stalled frontend holding up no other.
 */
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "t_proto.h"
#include "tap.h"
#include "test_dp.h"
#include "util.h"

/* ---- bad messages on a live connection -------------------------------- */

void t_bad_live(struct vf_guest *g, int *inflight_fd)
{
	struct vu_vring_addr a;
	struct vu_mem_reg_msg mr;
	struct vf vf;
	uint64_t v;
	int fds[VU_MAX_MEM_SLOTS + 1], before, after, ret;

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

	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
		fds[i] = eventfd(0, EFD_CLOEXEC);
	v = 0;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &v, 8, fds, 2) > 0,
	       "bad: SET_VRING_KICK with 2 fds refused");
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &v, 8, fds, VU_MAX_MEM_SLOTS + 1) > 0,
	       "bad: a message with %d fds (more than a full memory table) refused",
	       VU_MAX_MEM_SLOTS + 1);
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
	{
		uint8_t big[VU_MEM_TABLE_HDR_SIZE + (VU_MAX_MEM_SLOTS + 1) * 32] = { 0 };

		*(uint32_t *)big = VU_MAX_MEM_SLOTS + 1;
		tap_ok(vf_req_ack(&vf, VU_REQ_SET_MEM_TABLE, big, sizeof(big), fds,
				  VU_MAX_MEM_SLOTS) > 0,
		       "bad: SET_MEM_TABLE with %d regions refused", VU_MAX_MEM_SLOTS + 1);
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
	for (size_t i = 0; i < ARRAY_SIZE(fds); i++)
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
		/*
		 * QEMU resizes a region as REM_MEM_REG and ADD_MEM_REG; here
		 * the one holding both queues' rings, which stop and start
		 * again where they were.
		 */
		mr = (struct vu_mem_reg_msg){ 0, g->r[0] };
		ring(g, 0).avail->idx = 5;
		ring(g, 1).avail->idx = 6;
		m = log_mark();
		ret = vf_req_ack(&vf, VU_REQ_REM_MEM_REG, &mr, sizeof(mr), NULL, 0);
		tap_ok(ret == 0 && tdp_count(TDP_STOP, m) == 2 &&
		       tdp_find(TDP_REMOVE_REGION, m) > tdp_find(TDP_STOP, tdp_find(TDP_STOP, m) + 1) &&
		       tdp_find(TDP_START, m) < 0,
		       "mem: REM_MEM_REG of the region holding running rings stops their queues first");
		mr.region.size = VF_REGION_SIZE / 2;
		m = log_mark();
		ret = vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1);
		{
			int s0 = tdp_find(TDP_START, m), s1 = s0 < 0 ? -1 : tdp_find(TDP_START, s0 + 1);

			tap_ok(ret == 0 && s1 > 0 && tdp_log->ev[s0].index == 0 &&
			       tdp_log->ev[s0].b == 5 && tdp_log->ev[s1].index == 1 &&
			       tdp_log->ev[s1].b == 6 && fds_now(&vf) == before,
			       "mem: ADD_MEM_REG of it, resized, starts both queues again where they stopped");
		}
	}

	/* A second frontend is turned away; the first keeps the device. */
	{
		struct vf vf2;

		tap_ok(connect_ok(&vf2, proto.sock0) && vf_is_closed(&vf2) && alive(&vf),
		       "conn: a second frontend is refused, the first keeps working");
		vf_close(&vf2);
	}
	vf_close(&vf);
	ret = exportd_settle(&proto.d);
	tap_ok(ret == proto.d.baseline_fds,
	       "bad: all fds released after the disconnect (%d, want %d)", ret,
	       proto.d.baseline_fds);
}

/* ---- errors that cost the connection ---------------------------------- */

void t_bad_fatal(void)
{
	struct vu_vring_state s = { 7, 0 };
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
	tap_ok(exportd_settle(&proto.d) == proto.d.baseline_fds, "fatal: no fd leaked");
}

/* An export whose frontend stalls mid-message holds up only itself. */
void t_isolation(void)
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
