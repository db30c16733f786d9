// SPDX-License-Identifier: GPL-2.0
/*
 * vu-seeds DIR: write the seed inputs of the vhost-user fuzz target
 * (vu_fuzz.h's format) into DIR, one file per session: the message flows
 * of QEMU 7.2's vhost-user-blk (realize, DRIVER_OK with ADD_MEM_REG or
 * SET_MEM_TABLE, stop, reconnect), and those the host tests replay for
 * Cloud Hypervisor, Firecracker and crosvm (tools/tests/replay_*.c), the
 * last ones with the guest posting requests.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "datapath.h"
#include "util.h"
#include "vu_fuzz.h"

/* The guest memory of every seed: one or two 1 MiB memfds. */
#define MEM_ARG		16			/* FD_MEMFD argument: 1 MiB */
#define REGION_SIZE	(MEM_ARG * FUZZ_MEM_UNIT)
#define UADDR0		0x7f0000000000ull
#define GPA1		0x100000000ull
#define UADDR1		(UADDR0 + REGION_SIZE)
/* Queue q's rings (256 entries) in region 0: desc, avail, used. */
#define RING_GPA(q)	(0x10000ull + (q) * 0x4000ull)
#define NUM		FUZZ_QUEUE_SIZE
/* A request's header, data and status in region 0. */
#define REQ_GPA		0x40000ull

#define FEATURES							\
	(BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |	\
	 BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_BLK_F_SEG_MAX) |	\
	 BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH) |		\
	 BIT(VIRTIO_BLK_F_CONFIG_WCE) | BIT(VIRTIO_BLK_F_MQ) |		\
	 BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES) |	\
	 BIT(VU_F_PROTOCOL_FEATURES))
#define QEMU_PF	(BIT(VU_PF_MQ) | BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_BACKEND_REQ) | \
		 BIT(VU_PF_CONFIG) | BIT(VU_PF_INFLIGHT_SHMFD) |		\
		 BIT(VU_PF_CONFIGURE_MEM_SLOTS) | BIT(VU_PF_STATUS))

/* The protocol features qemu_realize() acks. */
static uint64_t realize_pf = QEMU_PF;

static uint8_t buf[1 << 16];
static size_t pos;
/* ctl bits added to every message: CTL_NEED_REPLY once REPLY_ACK is on. */
static uint8_t ctl_all;

static void rec(uint8_t req, uint8_t ctl, const void *p, uint16_t len,
		const uint8_t *fds, uint8_t nfds)
{
	if (pos + REC_HDR + nfds + len > sizeof(buf)) {
		fprintf(stderr, "vu-seeds: seed too large\n");
		exit(1);
	}
	buf[pos++] = req;
	buf[pos++] = ctl | (ctl & CTL_GUEST ? 0 : ctl_all);
	buf[pos++] = len;
	buf[pos++] = len >> 8;
	buf[pos++] = nfds;
	memcpy(buf + pos, fds, nfds);
	pos += nfds;
	memcpy(buf + pos, p, len);
	pos += len;
}

static void msg(uint8_t req) { rec(req, 0, NULL, 0, NULL, 0); }

static void u64(uint8_t req, uint64_t v) { rec(req, 0, &v, 8, NULL, 0); }

static void state(uint8_t req, uint32_t index, uint32_t num)
{
	struct vu_vring_state s = { index, num };

	rec(req, 0, &s, sizeof(s), NULL, 0);
}

static void vring_fd(uint8_t req, uint32_t q, uint8_t spec)
{
	uint64_t v = q;

	rec(req, 0, &v, 8, &spec, 1);
}

static void vring_addr(uint32_t q)
{
	struct vu_vring_addr a = {
		.index = q,
		.desc = UADDR0 + RING_GPA(q),
		.avail = UADDR0 + RING_GPA(q) + 0x1000,
		.used = UADDR0 + RING_GPA(q) + 0x2000,
	};

	rec(VU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
}

static struct vu_region_desc region(unsigned int i)
{
	return (struct vu_region_desc){
		.gpa = i ? GPA1 : 0,
		.size = REGION_SIZE,
		.uaddr = i ? UADDR1 : UADDR0,
	};
}

/* SET_MEM_TABLE of nr regions, each its own memfd (or one shared). */
static void mem_table(unsigned int nr, bool shared)
{
	struct vu_mem_table_msg t = { .nregions = nr };
	uint8_t fds[2];

	for (unsigned int i = 0; i < nr; i++) {
		t.regions[i] = region(i);
		fds[i] = i && shared ? FD_SPEC(FD_DUP, 0) : FD_SPEC(FD_MEMFD, MEM_ARG);
	}
	rec(VU_REQ_SET_MEM_TABLE, 0, &t, VU_MEM_TABLE_HDR_SIZE + nr * sizeof(t.regions[0]),
	    fds, nr);
}

static void add_mem_reg(unsigned int i)
{
	struct vu_mem_reg_msg m = { .region = region(i) };
	uint8_t fd = FD_SPEC(FD_MEMFD, MEM_ARG);

	rec(VU_REQ_ADD_MEM_REG, 0, &m, sizeof(m), &fd, 1);
}

static void get_config(uint32_t off, uint32_t size)
{
	struct vu_config_msg c = { .offset = off, .size = size };

	rec(VU_REQ_GET_CONFIG, 0, &c, VU_CONFIG_HDR_SIZE + size, NULL, 0);
}

static void inflight(uint8_t req, uint16_t nq)
{
	struct vu_inflight_msg in = {
		.mmap_size = vu_inflight_queue_size(NUM) * nq,
		.num_queues = nq,
		.queue_size = NUM,
	};
	uint8_t fd = FD_SPEC(FD_MEMFD, 1);

	rec(req, 0, &in, sizeof(in), &fd, req == VU_REQ_SET_INFLIGHT_FD);
}

/* The guest writes len bytes at gpa (region 0), and kicks the last kick fd. */
static void guest(uint64_t gpa, const void *p, uint16_t len)
{
	uint8_t b[4 + 4096];
	uint32_t off = gpa;

	memcpy(b, &off, 4);
	memcpy(b + 4, p, len);
	rec(0, CTL_GUEST, b, 4 + len, NULL, 0);
}

/* A request of type on queue 0: header, len data bytes, status; posted. */
static void post(uint16_t idx, uint32_t type, uint64_t sector, uint32_t len)
{
	struct virtio_blk_outhdr h = { .type = type, .sector = sector };
	bool in = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_GET_ID;
	struct vring_desc d[3] = {
		{ REQ_GPA, sizeof(h), VRING_DESC_F_NEXT, 1 },
		{ REQ_GPA + 0x1000, len, VRING_DESC_F_NEXT | (in ? VRING_DESC_F_WRITE : 0), 2 },
		{ REQ_GPA + 0x3000, 1, VRING_DESC_F_WRITE, 0 },
	};
	uint16_t head = (idx % 4) * 3;
	uint16_t ring = head, avail_idx = idx + 1;

	for (int i = 0; i < 3; i++) {
		d[i].addr += head * 0x4000ull;
		d[i].next += head;
	}
	if (!len) {
		d[0].next = head + 2;
		d[0].flags = VRING_DESC_F_NEXT;
	}
	guest(REQ_GPA + head * 0x4000ull, &h, sizeof(h));
	guest(RING_GPA(0) + head * 16, d, sizeof(d));
	guest(RING_GPA(0) + 0x1000 + 4 + (idx % NUM) * 2, &ring, 2);
	guest(RING_GPA(0) + 0x1000 + 2, &avail_idx, 2);
}

/* ---- the sessions ------------------------------------------------------- */

/* QEMU 7.2: realize, as the notes on its vhost-user-blk describe. */
static void qemu_realize(unsigned int nq, bool reconnect)
{
	uint8_t sock = FD_SPEC(FD_SOCKET, 0);

	ctl_all = 0;
	msg(VU_REQ_GET_FEATURES);
	msg(VU_REQ_GET_PROTOCOL_FEATURES);
	u64(VU_REQ_SET_PROTOCOL_FEATURES, realize_pf);
	ctl_all = CTL_NEED_REPLY;
	msg(VU_REQ_GET_QUEUE_NUM);
	msg(VU_REQ_GET_MAX_MEM_SLOTS);
	rec(VU_REQ_SET_BACKEND_REQ_FD, 0, NULL, 0, &sock, 1);
	msg(VU_REQ_SET_OWNER);
	msg(VU_REQ_GET_FEATURES);
	for (unsigned int q = 0; q < nq; q++) {
		vring_fd(VU_REQ_SET_VRING_CALL, q, FD_SPEC(FD_EVENTFD, 1));
		vring_fd(VU_REQ_SET_VRING_ERR, q, FD_SPEC(FD_EVENTFD, 1));
	}
	if (!reconnect)
		get_config(0, 57);
}

/* The guest sets DRIVER_OK. */
static void qemu_driver_ok(unsigned int nq, bool add_regions, bool get_inflight)
{
	u64(VU_REQ_SET_FEATURES, FEATURES);
	u64(VU_REQ_SET_STATUS, 0xb);
	msg(VU_REQ_GET_STATUS);
	if (get_inflight)
		inflight(VU_REQ_GET_INFLIGHT_FD, nq);
	inflight(VU_REQ_SET_INFLIGHT_FD, nq);
	for (unsigned int q = 0; q < nq; q++)
		vring_fd(VU_REQ_SET_VRING_CALL, q, FD_SPEC(FD_EVENTFD, 1));
	u64(VU_REQ_SET_FEATURES, FEATURES);
	if (add_regions) {
		add_mem_reg(0);
		add_mem_reg(1);
	} else {
		mem_table(2, true);
	}
	for (unsigned int q = 0; q < nq; q++) {
		state(VU_REQ_SET_VRING_NUM, q, NUM);
		state(VU_REQ_SET_VRING_BASE, q, 0);
		vring_addr(q);
		vring_fd(VU_REQ_SET_VRING_KICK, q, FD_SPEC(FD_EVENTFD, 1));
	}
	for (unsigned int q = 0; q < nq; q++)
		state(VU_REQ_SET_VRING_ENABLE, q, 1);
	u64(VU_REQ_SET_STATUS, 0xf);
}

static void qemu_stop(unsigned int nq)
{
	u64(VU_REQ_SET_STATUS, 0);
	for (unsigned int q = 0; q < nq; q++)
		state(VU_REQ_SET_VRING_ENABLE, q, 0);
	for (unsigned int q = 0; q < nq; q++)
		state(VU_REQ_GET_VRING_BASE, q, 0);
}

static void hangup(void)
{
	/* An empty raw record: nothing sent, then the socket closes. */
	rec(0, CTL_RAW | CTL_HANGUP, NULL, 0, NULL, 0);
}

static void seed_qemu(bool add_regions, unsigned int nq)
{
	qemu_realize(nq, false);
	qemu_driver_ok(nq, add_regions, true);
	qemu_stop(nq);
}

static void seed_qemu_reconnect(void)
{
	qemu_realize(2, false);
	qemu_driver_ok(2, true, true);
	hangup();
	qemu_realize(2, true);
	qemu_driver_ok(2, true, false);
	qemu_stop(2);
}

/* A guest doing I/O on queue 0, then the VM stops. */
static void seed_qemu_io(void)
{
	qemu_realize(1, false);
	qemu_driver_ok(1, false, true);
	post(0, VIRTIO_BLK_T_OUT, 8, 4096);
	post(1, VIRTIO_BLK_T_IN, 8, 512);
	post(2, VIRTIO_BLK_T_FLUSH, 0, 0);
	post(3, VIRTIO_BLK_T_GET_ID, 0, 20);
	qemu_stop(1);
}

/* SET_LOG_BASE of size bytes at off in nfds memfds of units * 64K. */
static void log_base(uint64_t size, uint64_t off, uint8_t units, uint8_t nfds)
{
	struct vu_log_msg l = { size, off };
	uint8_t fds[2] = { FD_SPEC(FD_MEMFD, units), FD_SPEC(FD_DUP, 0) };

	uint8_t ctl = ctl_all;

	/* QEMU 7.2 sends it without NEED_REPLY: it has its own reply. */
	ctl_all = 0;
	rec(VU_REQ_SET_LOG_BASE, 0, &l, sizeof(l), fds, nfds);
	ctl_all = ctl;
}

/* SET_VRING_ADDR of queue q, its used ring logged at its own gpa or not. */
static void vring_addr_log(uint32_t q, bool log)
{
	struct vu_vring_addr a = {
		.index = q,
		.flags = log ? VU_VRING_F_LOG : 0,
		.desc = UADDR0 + RING_GPA(q),
		.avail = UADDR0 + RING_GPA(q) + 0x1000,
		.used = UADDR0 + RING_GPA(q) + 0x2000,
		.log = log ? RING_GPA(q) + 0x2000 : 0,
	};

	rec(VU_REQ_SET_VRING_ADDR, 0, &a, sizeof(a), NULL, 0);
}

/*
 * QEMU 7.2 migrating a VM with I/O in progress: the log (192K covers
 * region 1 at 4G), LOG_ALL and the used rings logged while they run, a
 * log resize, the end of logging, then the VM stops.
 */
static void seed_qemu_migrate(void)
{
	uint8_t efd = FD_SPEC(FD_EVENTFD, 1);

	realize_pf = QEMU_PF | BIT(VU_PF_LOG_SHMFD);
	qemu_realize(1, false);
	qemu_driver_ok(1, false, true);
	post(0, VIRTIO_BLK_T_OUT, 8, 4096);
	log_base(3 * FUZZ_MEM_UNIT, 0, 3, 1);
	u64(VU_REQ_SET_FEATURES, FEATURES | BIT(VU_F_LOG_ALL));
	vring_addr_log(0, true);
	post(1, VIRTIO_BLK_T_IN, 8, 4096);
	post(2, VIRTIO_BLK_T_GET_ID, 0, 20);
	log_base(4 * FUZZ_MEM_UNIT, 0, 4, 1);
	post(3, VIRTIO_BLK_T_IN, 16, 512);
	rec(VU_REQ_SET_LOG_FD, 0, NULL, 0, &efd, 1);
	vring_addr_log(0, false);
	u64(VU_REQ_SET_FEATURES, FEATURES);
	qemu_stop(1);
	realize_pf = QEMU_PF;
}

/* Hostile SET_LOG_BASE messages, each after a realize (they close it). */
static void seed_log_hostile(void)
{
	static const struct { uint64_t size, off; uint8_t units, nfds; } bad[] = {
		{ 4096, 0, 1, 0 },			/* no fd */
		{ 4096, 0, 1, 2 },			/* two */
		{ 0, 0, 1, 1 },				/* empty */
		{ 2 * FUZZ_MEM_UNIT, 0, 1, 1 },		/* past the memfd */
		{ 8192, UINT64_MAX - 4095, 1, 1 },	/* offset overflow */
		{ 4096, 100, 1, 1 },			/* offset misaligned */
		{ 1ull << 40, 0, 1, 1 },		/* huge */
	};

	realize_pf = QEMU_PF | BIT(VU_PF_LOG_SHMFD);
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		qemu_realize(1, true);
		log_base(bad[i].size, bad[i].off, bad[i].units, bad[i].nfds);
	}
	realize_pf = QEMU_PF;
}

/* Cloud Hypervisor (replay_ch.c): every message with NEED_REPLY. */
static void seed_cloud_hypervisor(void)
{
	uint64_t pf = BIT(VU_PF_MQ) | BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG) |
		      BIT(VU_PF_INFLIGHT_SHMFD) | BIT(VU_PF_CONFIGURE_MEM_SLOTS);

	ctl_all = 0;
	msg(VU_REQ_SET_OWNER);
	msg(VU_REQ_GET_FEATURES);
	msg(VU_REQ_GET_PROTOCOL_FEATURES);
	u64(VU_REQ_SET_PROTOCOL_FEATURES, pf);
	ctl_all = CTL_NEED_REPLY;
	msg(VU_REQ_GET_QUEUE_NUM);
	get_config(0, 60);
	u64(VU_REQ_SET_FEATURES, FEATURES);
	mem_table(1, false);
	for (unsigned int q = 0; q < 2; q++)
		state(VU_REQ_SET_VRING_NUM, q, NUM);
	inflight(VU_REQ_GET_INFLIGHT_FD, 2);
	inflight(VU_REQ_SET_INFLIGHT_FD, 2);
	for (unsigned int q = 0; q < 2; q++) {
		vring_addr(q);
		state(VU_REQ_SET_VRING_BASE, q, 0);
		vring_fd(VU_REQ_SET_VRING_CALL, q, FD_SPEC(FD_EVENTFD, 0));
		vring_fd(VU_REQ_SET_VRING_KICK, q, FD_SPEC(FD_EVENTFD, 0));
	}
	for (unsigned int q = 0; q < 2; q++)
		state(VU_REQ_SET_VRING_ENABLE, q, 1);
	/* Pause and resume, then shut down. */
	for (unsigned int q = 0; q < 2; q++)
		state(VU_REQ_SET_VRING_ENABLE, q, 0);
	for (unsigned int q = 0; q < 2; q++)
		state(VU_REQ_SET_VRING_ENABLE, q, 1);
	for (unsigned int q = 0; q < 2; q++) {
		state(VU_REQ_SET_VRING_ENABLE, q, 0);
		state(VU_REQ_GET_VRING_BASE, q, 0);
	}
}

/* Firecracker (replay_fc.c): one queue, CONFIG only, no acks. */
static void seed_firecracker(void)
{
	ctl_all = 0;
	msg(VU_REQ_SET_OWNER);
	msg(VU_REQ_GET_FEATURES);
	msg(VU_REQ_GET_PROTOCOL_FEATURES);
	u64(VU_REQ_SET_PROTOCOL_FEATURES, BIT(VU_PF_CONFIG));
	get_config(0, 60);
	u64(VU_REQ_SET_FEATURES, FEATURES & ~BIT(VIRTIO_BLK_F_MQ));
	mem_table(1, false);
	state(VU_REQ_SET_VRING_NUM, 0, NUM);
	vring_addr(0);
	state(VU_REQ_SET_VRING_BASE, 0, 0);
	vring_fd(VU_REQ_SET_VRING_CALL, 0, FD_SPEC(FD_EVENTFD, 0));
	vring_fd(VU_REQ_SET_VRING_KICK, 0, FD_SPEC(FD_EVENTFD, 0));
	state(VU_REQ_SET_VRING_ENABLE, 0, 1);
	post(0, VIRTIO_BLK_T_IN, 0, 4096);
	post(1, VIRTIO_BLK_T_OUT, 16, 1024);
	get_config(0, 60);
}

/* crosvm (replay_crosvm.c): SET_FEATURES(bit 30) first, config slices. */
static void seed_crosvm(void)
{
	struct {
		struct vu_config_msg c;
	} w = { .c = { .offset = offsetof(struct virtio_blk_config, wce), .size = 1 } };
	uint64_t pf = BIT(VU_PF_MQ) | BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG) |
		      BIT(VU_PF_BACKEND_REQ);
	uint8_t sock = FD_SPEC(FD_SOCKET, 0);

	ctl_all = 0;
	msg(VU_REQ_SET_OWNER);
	msg(VU_REQ_GET_FEATURES);
	u64(VU_REQ_SET_FEATURES, BIT(VU_F_PROTOCOL_FEATURES));
	msg(VU_REQ_GET_PROTOCOL_FEATURES);
	u64(VU_REQ_SET_PROTOCOL_FEATURES, pf);
	rec(VU_REQ_SET_BACKEND_REQ_FD, 0, NULL, 0, &sock, 1);
	msg(VU_REQ_GET_QUEUE_NUM);
	get_config(0, 8);
	get_config(8, 12);
	get_config(20, 40);
	u64(VU_REQ_SET_FEATURES, FEATURES);
	mem_table(2, false);
	for (unsigned int q = 0; q < 2; q++) {
		state(VU_REQ_SET_VRING_NUM, q, NUM);
		vring_addr(q);
		state(VU_REQ_SET_VRING_BASE, q, 0);
		vring_fd(VU_REQ_SET_VRING_CALL, q, FD_SPEC(FD_EVENTFD, 0));
		vring_fd(VU_REQ_SET_VRING_KICK, q, FD_SPEC(FD_EVENTFD, 0));
		state(VU_REQ_SET_VRING_ENABLE, q, 1);
	}
	w.c.data[0] = 1;
	rec(VU_REQ_SET_CONFIG, 0, &w, VU_CONFIG_HDR_SIZE + 1, NULL, 0);
	for (unsigned int q = 0; q < 2; q++) {
		state(VU_REQ_SET_VRING_ENABLE, q, 0);
		state(VU_REQ_GET_VRING_BASE, q, 0);
	}
}

static void out(const char *dir, const char *name)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f || fwrite(buf, 1, pos, f) != pos || fclose(f)) {
		fprintf(stderr, "vu-seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	pos = 0;
	ctl_all = 0;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: vu-seeds DIR\n");
		return 2;
	}
	seed_qemu(true, 2);
	out(argv[1], "qemu-7.2-add-mem-reg");
	seed_qemu(false, 1);
	out(argv[1], "qemu-7.2-mem-table");
	seed_qemu_reconnect();
	out(argv[1], "qemu-7.2-reconnect");
	seed_qemu_io();
	out(argv[1], "qemu-7.2-io");
	seed_cloud_hypervisor();
	out(argv[1], "cloud-hypervisor");
	seed_firecracker();
	out(argv[1], "firecracker-io");
	seed_crosvm();
	out(argv[1], "crosvm");
	seed_qemu_migrate();
	out(argv[1], "qemu-7.2-migrate");
	seed_log_hostile();
	out(argv[1], "log-base-hostile");
	return 0;
}
