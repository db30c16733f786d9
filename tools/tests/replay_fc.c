// SPDX-License-Identifier: GPL-2.0
/*
 * Firecracker's vhost-user-blk device, replayed against the daemon (see
 * replay.h). Read in firecracker-microvm/firecracker at 81b38b9:
 * src/vmm/src/devices/virtio/vhost_user.rs (VhostUserHandleImpl, on the
 * rust-vmm vhost crate's Frontend) and
 * src/vmm/src/devices/virtio/block/vhost_user/ (device.rs, mod.rs).
 *
 *  - Defaults: one queue (NUM_QUEUES) of 256 entries (QUEUE_SIZE), cache
 *    type Unsafe (block/mod.rs, CacheType's default), so no FLUSH; guest
 *    memory of 128 MiB (the machine configuration's default) in one
 *    memfd-backed region at 0 (scaled to 16 MiB here); the virtio-mmio
 *    transport.
 *  - Features: VERSION_1, EVENT_IDX, RO, PROTOCOL_FEATURES
 *    (AVAILABLE_FEATURES), FLUSH only with cache type Writeback; never
 *    BLK_SIZE, so the guest's logical block size is 512. Protocol
 *    features: CONFIG only, so no REPLY_ACK and never NEED_REPLY: a
 *    refusal can only show as a closed connection.
 *  - Nothing on pause (its pause stops the vCPUs; VhostUserBlock has no
 *    hook for it: inferred from its absence), no reset
 *    (VirtioDevice::_reset() returns false), no reconnect, no snapshot
 *    (prepare_save() is unimplemented).
 */
#include "replay.h"
#include "util.h"

#define FC_FEATURES (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) | \
		     BIT(VU_F_PROTOCOL_FEATURES) | BIT(VIRTIO_BLK_F_RO))
#define FC_QUEUE_SIZE	256
#define FC_CONFIG_SIZE	60	/* device.rs: BLOCK_CONFIG_SPACE_SIZE */

/*
 * VhostUserBlockImpl::new(): VhostUserHandleImpl::new() connects and
 * sends SET_OWNER; negotiate_features(): GET_FEATURES,
 * GET_PROTOCOL_FEATURES, SET_PROTOCOL_FEATURES (CONFIG); then GET_CONFIG
 * of 60 bytes with flags WRITABLE, kept as the config space.
 */
static bool fc_new(struct rp *rp, struct virtio_blk_config *cfg)
{
	uint64_t backend_f;

	if (!rp_open(rp, BIT(VU_PF_CONFIG), &backend_f))
		return false;
	rp_get_config(rp, 0, FC_CONFIG_SIZE, cfg);
	/* The guest acks of avail_features (the negotiated ones). */
	rp->features = rp_guest_features(FC_FEATURES, backend_f);
	rp->nq = 1;
	rp->num = FC_QUEUE_SIZE;
	return rp_done(rp, NULL, "new (VhostUserBlockImpl::new): owner, features, CONFIG, "
		       "GET_CONFIG");
}

/*
 * VirtioDevice::activate() at the guest's DRIVER_OK: SET_FEATURES with
 * what the guest acked, then setup_backend(): SET_MEM_TABLE with every
 * region, SET_VRING_NUM of each queue, then per queue SET_VRING_ADDR,
 * SET_VRING_BASE (the avail index), SET_VRING_CALL, SET_VRING_KICK and
 * SET_VRING_ENABLE 1.
 */
static void fc_setup(struct rp *rp)
{
	rp_ring_new(rp, 0);
	rp_u64(rp, VU_REQ_SET_FEATURES, rp->features);
	rp_mem_table(rp);
	rp_state(rp, VU_REQ_SET_VRING_NUM, 0, rp->num);
	rp_vring_addr(rp, 0);
	rp_state(rp, VU_REQ_SET_VRING_BASE, 0, rp_avail_idx(rp, 0));
	rp_vring_fd(rp, VU_REQ_SET_VRING_CALL, 0);
	rp_vring_fd(rp, VU_REQ_SET_VRING_KICK, 0);
	rp_state(rp, VU_REQ_SET_VRING_ENABLE, 0, 1);
}

/* Guest memory: one region at 0. */
static const struct vu_region_desc fc_mem[] = {
	{ .gpa = 0, .size = 16u << 20, .uaddr = 0x7f5c00000000ull, .mmap_offset = 0 },
};

/*
 * Not a default of vhuctl: an export of 4096-byte logical blocks. The
 * guest never learns it (no BLK_SIZE) and sends 512-byte requests; they
 * must be served, or the frontend refused at setup, where the daemon
 * can say why (no ack reports a refusal to Firecracker).
 */
static void fc_lbs4096(const char *dp)
{
	static const char *const lbs[] = { "--logical-block-size", "4096", NULL };
	struct virtio_blk_config cfg = { 0 };
	struct rp rp;
	bool refused;

	if (!rp_init(&rp, "firecracker lbs 4096", dp, fc_mem, ARRAY_SIZE(fc_mem)))
		return;
	if (rp_check(&rp, NULL, rp_daemon_start(&rp, lbs), "vhuctl export "
		     "--logical-block-size 4096") && fc_new(&rp, &cfg)) {
		fc_setup(&rp);
		rp.failed = NULL;
		refused = rp_closed(&rp);
		if (!refused)
			rp_io(&rp, NULL, "requests of 4096-byte multiples", 4096);
		else
			rp_check(&rp, NULL, true, "requests of 4096-byte multiples: none, "
				 "the frontend was refused");
		rp_check(&rp, RP_TODO_SECTOR_512, refused || rp_io_ok(&rp, 512),
			 "512-byte requests are served, or the frontend refused at setup");
	}
	rp_fini(&rp);
}

void rp_firecracker(const char *dp)
{
	struct virtio_blk_config cfg = { 0 }, again = { 0 };
	struct rp rp;

	if (!rp_init(&rp, "firecracker", dp, fc_mem, ARRAY_SIZE(fc_mem)))
		return;
	if (!rp_check(&rp, NULL, rp_daemon_start(&rp, NULL), "vhuctl export at its defaults") ||
	    !fc_new(&rp, &cfg))
		goto out;
	fc_setup(&rp);
	if (!rp_done_open(&rp, NULL, "activate (setup_backend): 1 region, 1 queue of 256, "
			  "the connection stays"))
		goto out;
	rp_check(&rp, NULL, cfg.capacity == RP_DISK / 512,
		 "GET_CONFIG: capacity %llu", (unsigned long long)cfg.capacity);
	rp_io(&rp, NULL, "I/O", 512);
	/*
	 * A drive update (PATCH /drives, VhostUserBlockImpl::config_update()):
	 * GET_CONFIG again, and a config interrupt for the guest.
	 */
	rp_get_config(&rp, 0, FC_CONFIG_SIZE, &again);
	if (rp_done(&rp, NULL, "drive update (config_update): GET_CONFIG while running"))
		rp_check(&rp, NULL, again.capacity == cfg.capacity,
			 "drive update: the same capacity");
	rp_io(&rp, NULL, "I/O after the drive update", 512);
	/* The VM exits: the connection closes. */
	vf_close(&rp.vf);
	rp_check(&rp, NULL, rp_daemon_stop(&rp), "SIGTERM ends the daemon cleanly");
out:
	rp_fini(&rp);
	fc_lbs4096(dp);
}
