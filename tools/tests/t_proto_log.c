// SPDX-License-Identifier: GPL-2.0
/*
 * The protocol server's side of dirty logging, with the recording
 * datapath: LOG_SHMFD and VHOST_F_LOG_ALL offered only by a datapath that
 * can log (export 2, tdp_log_ops, not export 0); SET_LOG_BASE mapped,
 * handed over and replied to; QEMU's migration start and end (LOG_ALL
 * alone, VHOST_VRING_F_LOG alone) reaching the datapath without stopping
 * a queue, anything more stopping them as before; the old log unmapped
 * when a new one comes, the last one when the frontend goes.
 */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "t_proto.h"
#include "tap.h"
#include "test_dp.h"
#include "util.h"

/* Mappings of the memfd called name in the daemon. */
static int daemon_maps(const char *name)
{
	char path[64], line[512];
	int n = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)proto.d.pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, name))
			n++;
	fclose(f);
	return n;
}

static int log_memfd(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, size)) {
		close(fd);
		return -1;
	}
	return fd;
}

static int set_log_base(struct vf *vf, int fd, uint64_t size)
{
	struct vu_log_msg l = { size, 0 }, r;
	int ret = vf_send(vf, VU_REQ_SET_LOG_BASE, false, &l, sizeof(l), &fd, 1);

	ret = ret ?: vf_recv_reply(vf, VU_REQ_SET_LOG_BASE, &r, sizeof(r), NULL);
	return ret ?: (r.mmap_size == size && !r.mmap_offset ? 0 : -1);
}

static int vring_addr(struct vf *vf, uint32_t q, bool log, uint64_t log_gpa)
{
	struct vu_vring_addr a;

	vf_ring_addrs(q, QSIZE, &a);
	a.flags = log ? VU_VRING_F_LOG : 0;
	a.log = log_gpa;
	return vf_req_ack(vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0);
}

void t_proto_log(struct vf_guest *g)
{
	int inflight_fd = -1, fa = -1, fb = -1, i = -1;
	uint64_t f = 0, pf = 0, fl;
	uint8_t *ma = MAP_FAILED;
	struct vf vf;
	uint32_t m;

	if (tap_ok(connect_ok(&vf, proto.sock0), "proto log: connect to export 0")) {
		tap_ok(!vf_get_u64(&vf, VU_REQ_GET_FEATURES, &f) && !(f & BIT(VU_F_LOG_ALL)) &&
		       !vf_get_u64(&vf, VU_REQ_GET_PROTOCOL_FEATURES, &pf) &&
		       !(pf & BIT(VU_PF_LOG_SHMFD)),
		       "proto log: a datapath without set_log: neither LOG_ALL nor LOG_SHMFD offered");
		vf_close(&vf);
	}
	if (!tap_ok(connect_ok(&vf, proto.sock2) && vf_realize(&vf, 2, NULL) == 0 &&
		    !vf_get_u64(&vf, VU_REQ_GET_FEATURES, &f) && (f & BIT(VU_F_LOG_ALL)) &&
		    (vf.pf & BIT(VU_PF_LOG_SHMFD)),
		    "proto log: export 2 offers LOG_ALL and LOG_SHMFD, realize acks LOG_SHMFD"))
		goto out;
	m = log_mark();
	if (!tap_ok(vf_driver_ok(&vf, g, 2, QSIZE, &inflight_fd, true) == 0 &&
		    tdp_count(TDP_START, m) == 2 &&
		    (i = tdp_find(TDP_FEATURES, m)) >= 0 && !(tdp_log->ev[i].a & BIT(VU_F_LOG_ALL)),
		    "proto log: DRIVER_OK without LOG_ALL, both queues running"))
		goto out;
	/* The features vf_driver_ok() acked, and them with LOG_ALL. */
	f = tdp_log->ev[i].a | BIT(VU_F_PROTOCOL_FEATURES);
	fl = f | BIT(VU_F_LOG_ALL);

	fa = log_memfd("vhu-tlog-a", 65536);
	fb = log_memfd("vhu-tlog-b", 131072);
	if (fa >= 0)
		ma = mmap(NULL, 65536, PROT_READ, MAP_SHARED, fa, 0);
	m = log_mark();
	tap_ok(fa >= 0 && ma != MAP_FAILED && set_log_base(&vf, fa, 65536) == 0 &&
	       (i = tdp_find(TDP_LOG, m)) >= 0 && tdp_log->ev[i].a == 65536 &&
	       tdp_log->ev[i].b == 1 && (ma[0] & 0x80) && daemon_maps("vhu-tlog-a") == 1,
	       "proto log: SET_LOG_BASE: mapped shared and writable, handed over, replied to");
	tap_ok(vf_u64_ack(&vf, VU_REQ_SET_FEATURES, fl) == 0 &&
	       (i = tdp_find(TDP_FEATURES, m)) >= 0 && (tdp_log->ev[i].a & BIT(VU_F_LOG_ALL)),
	       "proto log: SET_FEATURES with LOG_ALL reaches the datapath");
	tap_ok(vring_addr(&vf, 0, true, 0x2000) == 0 && vring_addr(&vf, 1, true, 0x3000) == 0 &&
	       (i = tdp_find(TDP_QUEUE_LOG, m)) >= 0 && tdp_log->ev[i].index == 0 &&
	       tdp_log->ev[i].a == 1 && tdp_log->ev[i].b == 0x2000 &&
	       (i = tdp_find(TDP_QUEUE_LOG, i + 1)) >= 0 && tdp_log->ev[i].index == 1 &&
	       tdp_log->ev[i].b == 0x3000,
	       "proto log: SET_VRING_ADDR with VHOST_VRING_F_LOG: each queue logs its used ring");
	tap_ok(vring_addr(&vf, 0, true, 0x4000) == 0 &&
	       (i = tdp_find(TDP_QUEUE_LOG, i + 1)) >= 0 && tdp_log->ev[i].b == 0x4000,
	       "proto log: a new log address alone reaches the running queue");
	tap_ok(tdp_count(TDP_STOP, m) == 0,
	       "proto log: migration start stopped no queue");

	m = log_mark();
	tap_ok(set_log_base(&vf, fb, 131072) == 0 &&
	       (i = tdp_find(TDP_LOG, m)) >= 0 && tdp_log->ev[i].a == 131072 &&
	       daemon_maps("vhu-tlog-a") == 0 && daemon_maps("vhu-tlog-b") == 1 &&
	       tdp_count(TDP_STOP, m) == 0,
	       "proto log: a new log replaces the old one, unmapped, no queue stopped");
	tap_ok(vring_addr(&vf, 0, false, 0) == 0 && vring_addr(&vf, 1, false, 0) == 0 &&
	       vf_u64_ack(&vf, VU_REQ_SET_FEATURES, f) == 0 &&
	       tdp_count(TDP_QUEUE_LOG, m) == 2 && tdp_count(TDP_STOP, m) == 0 &&
	       (i = tdp_find(TDP_FEATURES, m)) >= 0 && !(tdp_log->ev[i].a & BIT(VU_F_LOG_ALL)),
	       "proto log: migration end (F_LOG and LOG_ALL off) stopped no queue");

	m = log_mark();
	tap_ok(vring_addr(&vf, 0, false, 0) == 0 && tdp_count(TDP_STOP, m) == 1 &&
	       tdp_count(TDP_QUEUE_LOG, m) == 0,
	       "proto log: SET_VRING_ADDR changing nothing restarts the queue, as before");
	m = log_mark();
	tap_ok(vf_u64_ack(&vf, VU_REQ_SET_FEATURES,
			  fl & ~BIT(VIRTIO_RING_F_EVENT_IDX)) == 0 &&
	       tdp_count(TDP_STOP, m) == 2,
	       "proto log: LOG_ALL changing with another feature restarts both queues");
	{
		struct vu_vring_addr a;

		vf_ring_addrs(0, QSIZE, &a);
		a.flags = VU_VRING_F_LOG | 2;
		tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) > 0 &&
		       vring_addr(&vf, 0, true, UINT64_MAX - 8) > 0,
		       "proto log: unknown vring flags and a wrapping log address refused");
	}

	m = log_mark();
	vf_close(&vf);
	tap_ok(wait_op(TDP_DETACH, m) >= 0 && daemon_maps("vhu-tlog-b") == 0,
	       "proto log: the frontend gone, its log is unmapped");
	if (ma != MAP_FAILED)
		munmap(ma, 65536);
	close_fd(&fa);
	close_fd(&fb);
	close_fd(&inflight_fd);
	return;
out:
	vf_close(&vf);
	close_fd(&inflight_fd);
}
