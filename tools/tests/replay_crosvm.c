// SPDX-License-Identifier: GPL-2.0
/*
 * crosvm's vhost-user frontend with a block device, replayed against the
 * daemon (see replay.h). Read in google/crosvm at f1e797a:
 * devices/src/virtio/vhost_user_frontend/mod.rs (VhostUserFrontend) on
 * its fork of the rust-vmm crate, third_party/vmm_vhost/src/
 * backend_client.rs (BackendClient).
 *
 *  - Never NEED_REPLY: BackendClient::set_need_reply() is never called
 *    (REPLY_ACK is negotiated only for the backend's own requests), so
 *    a refused request can only end the connection, and crosvm learns of
 *    it at the next send or from the worker's read notifier, which
 *    reports the device as crashed (worker.rs).
 *  - Defaults: rings of Queue::MAX_SIZE (32768) entries unless the
 *    max-queue-size option is given (VhostUserFrontend::new());
 *    GET_QUEUE_NUM queues, of which the guest enables as many as it has
 *    vCPUs (one by default; only enabled queues are activated,
 *    virtio_pci_device.rs); 256 MiB of memory in three regions of one
 *    shared memory object, 0-640K, 640K-1M (reserved) and 1M up
 *    (x86_64/src/lib.rs, arch_memory_regions(); scaled to 16 MiB here).
 *  - Features: VIRTIO_DEVICE_TYPE_SPECIFIC_FEATURES_MASK (bits 0-23 and
 *    50-63), base_features() (VERSION_1, EVENT_IDX, SUSPEND) and
 *    PROTOCOL_FEATURES: no INDIRECT_DESC. Protocol features: CONFIG, MQ,
 *    BACKEND_REQ, DEVICE_STATE, SHMEM, REPLY_ACK. No inflight area.
 *  - Every guest access to the device's config window (0x1000 bytes,
 *    virtio_pci_device.rs) is one GET_CONFIG or SET_CONFIG of that offset
 *    and size (VirtioDevice::read_config(), write_config()).
 */
#include <stddef.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "replay.h"
#include "util.h"

#define CROSVM_FEATURES	(0xfffc000000ffffffull | BIT(VIRTIO_F_VERSION_1) |	\
			 BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(42) /* SUSPEND */ |	\
			 BIT(VU_F_PROTOCOL_FEATURES))
#define CROSVM_PROTOCOL_FEATURES					\
	(BIT(VU_PF_CONFIG) | BIT(VU_PF_MQ) | BIT(VU_PF_BACKEND_REQ) |	\
	 BIT(19) /* DEVICE_STATE */ | BIT(22) /* SHMEM */ | BIT(VU_PF_REPLY_ACK))
#define CROSVM_MAX_SIZE	32768	/* devices/src/virtio/queue.rs: Queue::MAX_SIZE */
#define CROSVM_VCPUS	1

/*
 * VhostUserFrontend::new(): SET_OWNER, GET_FEATURES,
 * GET_PROTOCOL_FEATURES and SET_PROTOCOL_FEATURES (no SET_FEATURES before
 * the guest's negotiation), SET_BACKEND_REQ_FD with BACKEND_REQ (the
 * sending end of a new socket pair, create_backend_req_handler()),
 * GET_QUEUE_NUM with MQ.
 */
static bool crosvm_new(struct rp *rp, uint32_t max_queue_size, int *backend_req,
		       uint64_t *nq)
{
	uint64_t backend_f;
	int sv[2] = { -1, -1 };

	if (!rp_open(rp, CROSVM_PROTOCOL_FEATURES, &backend_f))
		return false;
	if ((rp->pf & BIT(VU_PF_BACKEND_REQ)) &&
	    !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv)) {
		rp_req(rp, VU_REQ_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1);
		close(sv[1]);
		*backend_req = sv[0];
	}
	*nq = 1;
	if (rp->pf & BIT(VU_PF_MQ))
		rp_get_u64(rp, VU_REQ_GET_QUEUE_NUM, nq);
	/* The guest's driver acks what crosvm offers (avail_features). */
	rp->features = rp_guest_features(CROSVM_FEATURES, backend_f);
	rp->nq = *nq < CROSVM_VCPUS ? *nq : CROSVM_VCPUS;
	rp->num = max_queue_size;
	return rp_done(rp, NULL, "new (VhostUserFrontend::new): owner, features, "
		       "backend channel, GET_QUEUE_NUM");
}

/*
 * The config reads of the Linux driver's virtblk_probe() for the features
 * it acked, in its order, each a GET_CONFIG of the field's offset and
 * size (an 8-byte field is two 4-byte reads, virtio_pci_modern's
 * vp_get()). Inferred from Linux, not from crosvm.
 */
static bool linux_probe(struct rp *rp, uint64_t nq, const char *what)
{
	static const struct { int feature; uint8_t off, len; } rd[] = {
		{ VIRTIO_BLK_F_SEG_MAX, offsetof(struct virtio_blk_config, seg_max), 4 },
		{ VIRTIO_BLK_F_MQ, offsetof(struct virtio_blk_config, num_queues), 2 },
		{ VIRTIO_BLK_F_CONFIG_WCE, offsetof(struct virtio_blk_config, wce), 1 },
		{ VIRTIO_BLK_F_BLK_SIZE, offsetof(struct virtio_blk_config, blk_size), 4 },
		{ VIRTIO_BLK_F_TOPOLOGY,
		  offsetof(struct virtio_blk_config, physical_block_exp), 1 },
		{ VIRTIO_BLK_F_TOPOLOGY, offsetof(struct virtio_blk_config, alignment_offset), 1 },
		{ VIRTIO_BLK_F_TOPOLOGY, offsetof(struct virtio_blk_config, min_io_size), 2 },
		{ VIRTIO_BLK_F_TOPOLOGY, offsetof(struct virtio_blk_config, opt_io_size), 4 },
		{ VIRTIO_BLK_F_DISCARD,
		  offsetof(struct virtio_blk_config, discard_sector_alignment), 4 },
		{ VIRTIO_BLK_F_DISCARD, offsetof(struct virtio_blk_config, max_discard_sectors), 4 },
		{ VIRTIO_BLK_F_DISCARD, offsetof(struct virtio_blk_config, max_discard_seg), 4 },
		{ VIRTIO_BLK_F_WRITE_ZEROES,
		  offsetof(struct virtio_blk_config, max_write_zeroes_sectors), 4 },
		{ -1, offsetof(struct virtio_blk_config, capacity), 4 },
		{ -1, offsetof(struct virtio_blk_config, capacity) + 4, 4 },
	};
	struct virtio_blk_config cfg = { 0 };
	unsigned int n = 0;

	for (unsigned int i = 0; i < ARRAY_SIZE(rd); i++) {
		if (rd[i].feature >= 0 && !(rp->features & BIT(rd[i].feature)))
			continue;
		rp_get_config(rp, rd[i].off, rd[i].len, (uint8_t *)&cfg + rd[i].off);
		n++;
	}
	if (!rp_done(rp, NULL, what))
		return false;
	return rp_check(rp, NULL, cfg.capacity == RP_DISK / 512 && cfg.blk_size == 512 &&
			(!(rp->features & BIT(VIRTIO_BLK_F_MQ)) || cfg.num_queues == nq) &&
			cfg.seg_max >= 2, "probe: %u fields read, capacity %llu, %u queues, "
			"seg_max %u", n, (unsigned long long)cfg.capacity, cfg.num_queues,
			cfg.seg_max);
}

/*
 * VhostUserFrontend::activate() at DRIVER_OK, and again on a wake:
 * SET_FEATURES only when the acked features changed since the last one
 * sent, SET_MEM_TABLE, then per queue activate_vring(): SET_VRING_NUM,
 * SET_VRING_ADDR, SET_VRING_BASE (the queue's next avail index),
 * SET_VRING_CALL, SET_VRING_KICK, SET_VRING_ENABLE 1.
 */
static bool crosvm_activate(struct rp *rp, bool features, const uint32_t *base,
			    const char *what)
{
	if (features)
		rp_u64(rp, VU_REQ_SET_FEATURES, rp->features);
	rp_mem_table(rp);
	for (unsigned int q = 0; q < rp->nq; q++) {
		if (!base)
			rp_ring_new(rp, q);
		rp_state(rp, VU_REQ_SET_VRING_NUM, q, rp->num);
		rp_vring_addr(rp, q);
		rp_state(rp, VU_REQ_SET_VRING_BASE, q, base ? base[q] : 0);
		rp_vring_fd(rp, VU_REQ_SET_VRING_CALL, q);
		rp_vring_fd(rp, VU_REQ_SET_VRING_KICK, q);
		rp_state(rp, VU_REQ_SET_VRING_ENABLE, q, 1);
	}
	if (rp_done_open(rp, NULL, what))
		return true;
	vf_close(&rp->vf);	/* the worker reports the device crashed */
	return false;
}

/*
 * deactivate_vring() of each queue, on virtio_sleep() and on reset():
 * SET_VRING_ENABLE 0, GET_VRING_BASE.
 */
static bool crosvm_deactivate(struct rp *rp, uint32_t *base, const char *what)
{
	bool ok = true;

	for (unsigned int q = 0; q < rp->nq; q++) {
		rp_state(rp, VU_REQ_SET_VRING_ENABLE, q, 0);
		rp_get_vring_base(rp, q, &base[q]);
		ok &= base[q] == rp_avail_idx(rp, q);
	}
	return rp_done(rp, NULL, what) &&
	       rp_check(rp, NULL, ok, "%s: GET_VRING_BASE is the avail index (%u)", what,
			base[0]);
}

/* A guest's config write (write_config(): SET_CONFIG, flags 0). */
static void config_write(struct rp *rp, uint32_t off, const void *p, uint32_t len)
{
	struct vu_config_msg c = { .offset = off, .size = len };

	memcpy(c.data, p, len);
	rp_req(rp, VU_REQ_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + len, NULL, 0);
}

/*
 * Accesses a guest can make that the backend refuses: a read past the
 * config space (offset 0x100 of the 0x1000-byte window) and a write of
 * the read-only capacity. Linux makes neither; any guest can.
 */
static void config_refused(struct rp *rp)
{
	uint64_t cap = 1;
	uint32_t v;
	bool ok;

	vf_config_get(&rp->vf, 0x100, 4, 1, &v);
	ok = !rp_closed(rp) && rp_io_ok(rp, 512);
	rp_check(rp, RP_TODO_CONFIG_ACCESS, ok,
		 "a guest's config read at 0x100 leaves the disk working");
	rp->failed = NULL;
	config_write(rp, offsetof(struct virtio_blk_config, capacity), &cap, sizeof(cap));
	rp->failed = NULL;
	ok = !rp_closed(rp) && rp_io_ok(rp, 512);
	rp_check(rp, RP_TODO_CONFIG_ACCESS, ok,
		 "a guest's write of the read-only capacity leaves the disk working");
}

static const struct vu_region_desc crosvm_mem[] = {
	{ .gpa = 0, .size = 640u << 10, .uaddr = 0x7e1000000000ull, .mmap_offset = 0 },
	{ .gpa = 640u << 10, .size = 384u << 10, .uaddr = 0x7e1100000000ull,
	  .mmap_offset = 640u << 10 },
	{ .gpa = 1u << 20, .size = 15u << 20, .uaddr = 0x7e1200000000ull,
	  .mmap_offset = 1u << 20 },
};

/* One crosvm VM: rings of max_queue_size entries. */
static void crosvm_run(const char *dp, const char *name, uint32_t max_queue_size,
		       const char *todo)
{
	uint32_t base[RP_MAX_Q];
	int backend_req = -1;
	struct rp rp;
	uint64_t nq;

	if (!rp_init(&rp, name, dp, crosvm_mem, ARRAY_SIZE(crosvm_mem)))
		return;
	if (!rp_check(&rp, NULL, rp_daemon_start(&rp, NULL), "vhuctl export at its defaults") ||
	    !crosvm_new(&rp, max_queue_size, &backend_req, &nq) ||
	    !linux_probe(&rp, nq, "the guest's probe: GET_CONFIG of each field it reads"))
		goto out;
	rp.todo = todo;
	crosvm_activate(&rp, true, NULL, "activate: 3 regions, 1 queue, the connection stays");
	rp_io(&rp, NULL, "I/O", 512);
	rp_discard_zeroes(&rp, "discard and write zeroes");

	/* The guest switches to write-through (cache_type in sysfs) and back. */
	config_write(&rp, offsetof(struct virtio_blk_config, wce), &(uint8_t){ 0 }, 1);
	rp_check(&rp, NULL, !rp.failed && !rp_closed(&rp) && rp_io_ok(&rp, 512),
		 "write-through (SET_CONFIG of wce 0): I/O, data checked");
	config_write(&rp, offsetof(struct virtio_blk_config, wce), &(uint8_t){ 1 }, 1);
	rp_done(&rp, NULL, "write-back again (SET_CONFIG of wce 1)");

	/* virtio_sleep(), then virtio_wake() with the queues it kept. */
	if (crosvm_deactivate(&rp, base, "sleep (virtio_sleep)") &&
	    crosvm_activate(&rp, false, base, "wake (virtio_wake): activate at the bases"))
		rp_io(&rp, NULL, "I/O after the wake", 512);

	/* reset(), then the driver probes again and activates new rings. */
	if (crosvm_deactivate(&rp, base, "reset (VirtioDevice::reset)") &&
	    linux_probe(&rp, nq, "the guest's new probe") &&
	    crosvm_activate(&rp, false, NULL, "activate after the reset: new rings"))
		rp_io(&rp, NULL, "I/O after the reset", 512);

	config_refused(&rp);
	vf_close(&rp.vf);
	rp.todo = NULL;
	rp_check(&rp, NULL, rp_daemon_stop(&rp), "SIGTERM ends the daemon cleanly");
out:
	close_fd(&backend_req);
	rp_fini(&rp);
}

void rp_crosvm(const char *dp)
{
	crosvm_run(dp, "crosvm", CROSVM_MAX_SIZE, RP_TODO_RING_32768);
	crosvm_run(dp, "crosvm max-queue-size=256", 256, NULL);
}
