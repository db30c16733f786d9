// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace datapath's life cycle under I/O: a stop right after the
 * kicks, memory hotplug, the inflight area after a daemon went away, and
 * a stress run of all of it.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/vhu.h>
#include <linux/virtio_ring.h>

#include "t_user.h"
#include "tap.h"
#include "util.h"

/* Stop (SET_STATUS 0, disable, GET_VRING_BASE) right after kicking. */
void t_stop_inflight(struct vf_guest *g)
{
	uint32_t bases[NQ_MAX];
	bool st_ok = true;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 2, true, true, true);

	if (!tap_ok(ret == 0, "user stop: driver ok")) {
		dev_close(&d);
		return;
	}
	for (int qi = 0; qi < 2; qi++) {
		for (int s = 0; s < SLOTS; s++)
			post_req(&d, qi, s, s % 3 == 2 ? VIRTIO_BLK_T_FLUSH : VIRTIO_BLK_T_OUT,
				 s * 16, s % 3 == 2 ? 0 : SLOT_DATA);
		kick(&d, qi);
	}
	/*
	 * The stop may overtake the kick: the queue takes no new request once
	 * disabled, but every one it took is used before GET_VRING_BASE
	 * returns, in avail order, so base == used->idx <= avail_idx.
	 */
	ret = vf_stop(&d.vf, 2, bases);
	for (int qi = 0; qi < 2 && !ret; qi++)
		for (uint32_t s = 0; s < bases[qi] && s < SLOTS; s++)
			st_ok &= *status(&d, qi, s) == VIRTIO_BLK_S_OK;
	tap_ok(ret == 0 && bases[0] <= d.q[0].vr.avail_idx && bases[1] <= d.q[1].vr.avail_idx &&
	       vr_used_idx(&d.q[0].vr) == bases[0] && vr_used_idx(&d.q[1].vr) == bases[1],
	       "user stop: GET_VRING_BASE after every in-flight request completed (%u %u)",
	       bases[0], bases[1]);
	tap_ok(ret == 0 && st_ok, "user stop: every request taken before the stop has its status");
	dev_close(&d);
}

/* Remove and re-add the data region while the queue runs. */
void t_hotplug(struct vf_guest *g)
{
	struct vu_mem_reg_msg mr = { 0, g->r[1] };
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);

	if (!tap_ok(ret == 0, "user hotplug: driver ok")) {
		dev_close(&d);
		return;
	}
	for (int s = 0; s < SLOTS; s++)
		post_req(&d, 0, s, VIRTIO_BLK_T_IN, s * 16, SLOT_DATA);
	kick(&d, 0);
	ret = vf_req_ack(&d.vf, VU_REQ_REM_MEM_REG, &mr, sizeof(mr), NULL, 0);
	tap_ok(ret == 0 && wait_used(&d, 0), "user hotplug: region removed under I/O");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_IOERR,
	       "user hotplug: a buffer in the removed region fails");
	ret = vf_req_ack(&d.vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1);
	tap_ok(ret == 0 && one(&d, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK,
	       "user hotplug: re-added region works again");

	/* A whole new table (crosvm's way) while requests are in flight. */
	{
		struct vu_mem_table_msg t = { .nregions = 2 };
		int fds[2] = { g->fd, g->fd };
		bool st_ok = true;

		t.regions[0] = g->r[0];
		t.regions[1] = g->r[1];
		for (int s = 0; s < SLOTS; s++)
			post_req(&d, 0, s, VIRTIO_BLK_T_IN, s * 16, SLOT_DATA);
		kick(&d, 0);
		ret = vf_req_ack(&d.vf, VU_REQ_SET_MEM_TABLE, &t,
				 VU_MEM_TABLE_HDR_SIZE + 2 * sizeof(t.regions[0]), fds, 2);
		tap_ok(ret == 0 && wait_used(&d, 0), "user hotplug: SET_MEM_TABLE under I/O");
		for (int s = 0; s < SLOTS; s++)
			st_ok &= *status(&d, 0, s) == VIRTIO_BLK_S_OK;
		tap_ok(st_ok && one(&d, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK,
		       "user hotplug: every request completed, the queue runs on the new table");
	}
	dev_close(&d);
}

/*
 * The daemon went away with a request taken but not completed (QEMU then
 * reconnects with the base at the used index and the same inflight fd):
 * the request is resubmitted from the inflight area, exactly once.
 */
void t_inflight(struct vf_guest *g)
{
	uint8_t *data = gptr(g, data_gpa(0, 1));
	struct vhu_inflight_queue *f;
	struct tdev d;
	struct vr *vr = &d.q[0].vr;
	uint16_t used;
	void *area;
	int fd, ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);

	if (!tap_ok(ret == 0 && one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK,
		    "user inflight: first connection serves")) {
		dev_close(&d);
		return;
	}
	fd = dup(d.inflight_fd);
	dev_close(&d);
	area = mmap(NULL, vu_inflight_queue_size(QSIZE), PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	if (!tap_ok(area != MAP_FAILED, "user inflight: area mapped")) {
		close(fd);
		return;
	}
	f = area;
	tap_ok(f->version == 1 && f->desc_num == QSIZE && f->used_idx == vr_used_idx(vr),
	       "user inflight: the area was initialized and tracks the used index");

	/* As if the old daemon took slot 1's write and died. */
	memset(data, 0x77, 512);
	post_req(&d, 0, 1, VIRTIO_BLK_T_OUT, 300, 512);
	f->desc[8].counter = 1000;
	f->desc[8].inflight = 1;
	used = vr_used_idx(vr);
	usleep(100000);
	ret = dev_open_inflight(&d, g, user.sock_rw, 1, true, false, false, fd);
	tap_ok(ret == 0 && wait_used(&d, 0) && vr_used_idx(vr) == (uint16_t)(used + 1) &&
	       *status(&d, 0, 1) == VIRTIO_BLK_S_OK && file_matches(300 * 512, data, 512),
	       "user inflight: the request is resubmitted and completes once");
	tap_ok(f->desc[8].inflight == 0 && f->used_idx == vr_used_idx(vr) &&
	       file_count(user.d.log, "resubmitting 1 requests") == 1,
	       "user inflight: the area is clean again");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK,
	       "user inflight: the ring carries on after the resubmitted request");

	/*
	 * As vhu.ko leaves it: a batch of two (slots 1, 2) published in the
	 * used ring, linked through next, not yet cleared; slot 3 in flight.
	 */
	fd = dup(d.inflight_fd);
	dev_close(&d);
	used = vr_used_idx(vr);
	for (int s = 1; s <= 3; s++) {
		post_req(&d, 0, s, VIRTIO_BLK_T_FLUSH, 0, 0);
		f->desc[s * 8].inflight = 1;
		f->desc[s * 8].counter = 2000 + s;
	}
	vr->used->ring[used % QSIZE] = (struct vring_used_elem){ 8, 1 };
	vr->used->ring[(uint16_t)(used + 1) % QSIZE] = (struct vring_used_elem){ 16, 1 };
	__atomic_store_n(&vr->used->idx, (uint16_t)(used + 2), __ATOMIC_RELEASE);
	f->desc[16].next = 8;
	f->last_batch_head = 16;
	ret = dev_open_inflight(&d, g, user.sock_rw, 1, true, false, false, fd);
	tap_ok(ret == 0 && wait_used(&d, 0) && vr_used_idx(vr) == (uint16_t)(used + 3) &&
	       vr->used->ring[(uint16_t)(used + 2) % QSIZE].id == 24 &&
	       *status(&d, 0, 3) == VIRTIO_BLK_S_OK &&
	       file_count(user.d.log, "resubmitting 1 requests") == 2,
	       "user inflight: a published batch of two is cleared, only the third resubmitted");
	tap_ok(!f->desc[8].inflight && !f->desc[16].inflight && !f->desc[24].inflight &&
	       f->used_idx == vr_used_idx(vr),
	       "user inflight: the area is clean after the batch");
	munmap(area, vu_inflight_queue_size(QSIZE));
	dev_close(&d);
}

/*
 * Stress: I/O on 4 queues while queues are disabled and re-enabled and
 * the data region is removed and re-added. Every request must complete
 * (OK, or IOERR while its region is gone) and the daemon stay up.
 */
void t_stress(struct vf_guest *g)
{
	struct vu_mem_reg_msg mr = { 0, g->r[1] };
	bool ok = true, done = true, region = true;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, NQ_MAX, true, true, true);

	if (!tap_ok(ret == 0, "user stress: driver ok")) {
		dev_close(&d);
		return;
	}
	for (int it = 0; it < 100 && ok; it++) {
		for (int qi = 0; qi < NQ_MAX; qi++) {
			for (int s = 0; s < SLOTS; s++)
				post_req(&d, qi, s, s & 1 ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
					 (rand() % (DISK_SIZE / SLOT_DATA)) * 16, SLOT_DATA);
			kick(&d, qi);
		}
		if (it % 3 == 0) {
			int qi = rand() % NQ_MAX;

			ok &= !vf_state_ack(&d.vf, VU_REQ_SET_VRING_ENABLE, qi, 0);
			ok &= !vf_state_ack(&d.vf, VU_REQ_SET_VRING_ENABLE, qi, 1);
		} else if (it % 3 == 1) {
			ok &= !vf_req_ack(&d.vf, region ? VU_REQ_REM_MEM_REG : VU_REQ_ADD_MEM_REG,
					  &mr, sizeof(mr), &g->fd, region ? 0 : 1);
			region = !region;
		}
		for (int qi = 0; qi < NQ_MAX; qi++) {
			ok &= wait_used(&d, qi);
			for (int s = 0; s < SLOTS; s++)
				done &= *status(&d, qi, s) == VIRTIO_BLK_S_OK ||
					*status(&d, qi, s) == VIRTIO_BLK_S_IOERR;
		}
	}
	tap_ok(ok && done && exportd_alive(&user.d),
	       "user stress: 100 rounds of I/O across enable toggles and region hotplug");
	dev_close(&d);
}
