// SPDX-License-Identifier: GPL-2.0
/*
 * Cloud Hypervisor's vhost-user-blk device, replayed against the daemon
 * (see replay.h). Read in cloud-hypervisor/cloud-hypervisor at ae44c29,
 * whose frontend is the rust-vmm vhost crate (0.17; read in rust-vmm/vhost
 * at 4e217d9, vhost/src/vhost_user/frontend.rs):
 *
 *  - Every message carries the header flags set by Frontend::set_hdr_flags():
 *    none until REPLY_ACK is negotiated, then NEED_REPLY on all of them,
 *    the GET requests included; FrontendInternal::wait_for_ack() waits
 *    for an ack only for NEED_REPLY messages once REPLY_ACK is acked.
 *  - Defaults (vmm/src/vm_config.rs): one queue (DEFAULT_DISK_NUM_QUEUES)
 *    of 128 entries (DEFAULT_DISK_QUEUE_SIZE), 512 MiB of guest memory
 *    (DEFAULT_MEMORY_MB) in one region at 0, shared with a file
 *    descriptor (scaled to 16 MiB here).
 *  - Features (virtio-devices/src/vhost_user/blk.rs, Blk::new()): SIZE_MAX,
 *    SEG_MAX, GEOMETRY, RO, BLK_SIZE, FLUSH, TOPOLOGY, CONFIG_WCE, DISCARD,
 *    WRITE_ZEROES, MQ with more than one queue, and DEFAULT_VIRTIO_FEATURES
 *    (virtio-devices/src/vhost_user/mod.rs: INDIRECT_DESC, EVENT_IDX,
 *    VERSION_1, IN_ORDER, ORDER_PLATFORM, NOTIFICATION_DATA,
 *    PROTOCOL_FEATURES, LOG_ALL); protocol features CONFIG, MQ,
 *    CONFIGURE_MEM_SLOTS, REPLY_ACK, INFLIGHT_SHMFD, LOG_SHMFD,
 *    DEVICE_STATE. No SET_BACKEND_REQ_FD (Blk::activate() has no backend
 *    request handler), no GET_MAX_MEM_SLOTS, no SET_STATUS.
 *
 * Not replayed: snapshot and live migration, which need DEVICE_STATE
 * (vhuctl does not offer it, so Cloud Hypervisor refuses them; its dirty
 * logging, LOG_SHMFD, is tested in t_user_log.c), and memory hotplug
 * (off by default).
 */
#include <unistd.h>

#include "replay.h"
#include "util.h"

#define CH_FEATURES							\
	(BIT(VIRTIO_BLK_F_SIZE_MAX) | BIT(VIRTIO_BLK_F_SEG_MAX) |	\
	 BIT(VIRTIO_BLK_F_GEOMETRY) | BIT(VIRTIO_BLK_F_RO) |		\
	 BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_FLUSH) |		\
	 BIT(VIRTIO_BLK_F_TOPOLOGY) | BIT(VIRTIO_BLK_F_CONFIG_WCE) |	\
	 BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES) |	\
	 BIT(VIRTIO_RING_F_INDIRECT_DESC) | BIT(VIRTIO_RING_F_EVENT_IDX) | \
	 BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_F_IN_ORDER) |		\
	 BIT(VIRTIO_F_ORDER_PLATFORM) | BIT(38) /* NOTIFICATION_DATA */ | \
	 BIT(VU_F_PROTOCOL_FEATURES) | BIT(26) /* LOG_ALL */)
#define CH_PROTOCOL_FEATURES						\
	(BIT(VU_PF_CONFIG) | BIT(VU_PF_MQ) | BIT(VU_PF_CONFIGURE_MEM_SLOTS) | \
	 BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_INFLIGHT_SHMFD) |		\
	 BIT(VU_PF_LOG_SHMFD) | BIT(19) /* DEVICE_STATE */)
#define CH_QUEUES	1
#define CH_QUEUE_SIZE	128
#define CH_CONFIG_SIZE	60	/* block/src/lib.rs: struct VirtioBlockConfig */

/*
 * Blk::new(): VhostUserHandle::connect_vhost_user() sends SET_OWNER and
 * GET_FEATURES, negotiate_features_vhost_user() the protocol features
 * (SET_PROTOCOL_FEATURES still without NEED_REPLY), then GET_QUEUE_NUM
 * and GET_CONFIG of the whole config space with flags WRITABLE.
 */
static bool ch_realize(struct rp *rp, const char *what)
{
	struct virtio_blk_config cfg = { 0 };
	uint64_t backend_f, nq;

	if (!rp_open(rp, CH_PROTOCOL_FEATURES, &backend_f))
		return false;
	if (rp->pf & BIT(VU_PF_REPLY_ACK))
		rp->vf.hdr_flags = VU_FLAG_NEED_REPLY;
	rp_get_u64(rp, VU_REQ_GET_QUEUE_NUM, &nq);
	rp_get_config(rp, 0, CH_CONFIG_SIZE, &cfg);
	/* Blk::new() keeps PROTOCOL_FEATURES acked, the guest acks the rest. */
	rp->features = rp_guest_features(CH_FEATURES, backend_f);
	rp->nq = CH_QUEUES;
	rp->num = CH_QUEUE_SIZE;
	if (!rp_done(rp, NULL, what))
		return false;
	return rp_check(rp, NULL, nq >= CH_QUEUES && cfg.capacity == RP_DISK / 512 &&
			cfg.blk_size == 512 && cfg.seg_max >= 2 && (rp->pf & BIT(VU_PF_REPLY_ACK)),
			"GET_QUEUE_NUM %llu, GET_CONFIG capacity %llu, blk_size %u, "
			"REPLY_ACK negotiated", (unsigned long long)nq,
			(unsigned long long)cfg.capacity, cfg.blk_size);
}

/*
 * VhostUserHandle::setup_vhost_user() (vu_common_ctrl.rs), from
 * VhostUserCommon::activate() at the guest's DRIVER_OK and from
 * reinitialize_vhost_user() on a reconnect: SET_FEATURES, SET_MEM_TABLE
 * with every region (also when CONFIGURE_MEM_SLOTS is negotiated),
 * SET_VRING_NUM of each queue, the inflight area (GET_INFLIGHT_FD only
 * when it has none yet), then per queue SET_VRING_ADDR, SET_VRING_BASE
 * (the avail index in guest memory, as no vring bases were saved),
 * SET_VRING_CALL and SET_VRING_KICK, and SET_VRING_ENABLE of each
 * (enable_vhost_user_vrings()).
 */
static bool ch_setup(struct rp *rp, const char *what)
{
	rp_u64(rp, VU_REQ_SET_FEATURES, rp->features);
	rp_mem_table(rp);
	for (unsigned int q = 0; q < rp->nq; q++)
		rp_state(rp, VU_REQ_SET_VRING_NUM, q, rp->num);
	if (rp->inflight_fd < 0)
		rp_get_inflight(rp);
	rp_set_inflight(rp);
	for (unsigned int q = 0; q < rp->nq; q++) {
		rp_vring_addr(rp, q);
		rp_state(rp, VU_REQ_SET_VRING_BASE, q, rp_avail_idx(rp, q));
		rp_vring_fd(rp, VU_REQ_SET_VRING_CALL, q);
		rp_vring_fd(rp, VU_REQ_SET_VRING_KICK, q);
	}
	for (unsigned int q = 0; q < rp->nq; q++)
		rp_state(rp, VU_REQ_SET_VRING_ENABLE, q, 1);
	return rp_done(rp, NULL, what);
}

/* The guest's driver probes the device: new rings, then DRIVER_OK. */
static bool ch_activate(struct rp *rp, const char *what)
{
	for (unsigned int q = 0; q < rp->nq; q++)
		rp_ring_new(rp, q);
	/* VhostUserCommon::activate(): a new Inflight each time. */
	close_fd(&rp->inflight_fd);
	return ch_setup(rp, what);
}

/*
 * Pause (Blk::pause() -> VhostUserHandle::pause_vhost_user()):
 * SET_VRING_ENABLE 0 of each queue, nothing else; resume
 * (resume_vhost_user() from the RESUME_EVENT of the device's thread, no
 * vring bases saved): SET_VRING_ENABLE 1. A request whose kick comes
 * while the rings are disabled (inferred: one the guest queued just
 * before its vCPUs stopped) must wait for the resume.
 */
static void ch_pause_resume(struct rp *rp)
{
	const uint64_t sector = 10000;
	bool early;

	for (unsigned int q = 0; q < rp->nq; q++)
		rp_state(rp, VU_REQ_SET_VRING_ENABLE, q, 0);
	rp_done(rp, NULL, "pause (pause_vhost_user): SET_VRING_ENABLE 0");
	rp->seed++;
	rp_post(rp, 0, 0, VIRTIO_BLK_T_OUT, sector, 4096);
	rp_kick(rp, 0);
	usleep(300000);
	early = vr_more_used(&rp->q[0].vr) || rp_backing_has(rp, rp->seed, sector, 4096);
	rp_check(rp, NULL, !early, "paused: a request kicked meanwhile is left alone");
	for (unsigned int q = 0; q < rp->nq; q++)
		rp_state(rp, VU_REQ_SET_VRING_ENABLE, q, 1);
	rp_done(rp, NULL, "resume (resume_vhost_user): SET_VRING_ENABLE 1");
	rp_check(rp, NULL, rp_wait(rp, 0, 5000) && rp_status(rp, 0, 0) == VIRTIO_BLK_S_OK &&
		 rp_backing_has(rp, rp->seed, sector, 4096),
		 "resumed: the request kicked while paused is served");
}

/*
 * The guest's driver resets the device (VirtioDevice::reset() ->
 * VhostUserCommon::reset() -> reset_vhost_user()): per queue
 * SET_VRING_ENABLE 0 and GET_VRING_BASE; the driver then probes again,
 * and activate() sets everything up on the same connection.
 */
static void ch_reset(struct rp *rp)
{
	uint32_t base = 0;
	bool base_ok = true;

	for (unsigned int q = 0; q < rp->nq; q++) {
		rp_state(rp, VU_REQ_SET_VRING_ENABLE, q, 0);
		rp_get_vring_base(rp, q, &base);
		base_ok &= base == rp_avail_idx(rp, q);
	}
	if (rp_done(rp, NULL, "reset (reset_vhost_user): SET_VRING_ENABLE 0, GET_VRING_BASE"))
		rp_check(rp, NULL, base_ok, "reset: GET_VRING_BASE is the avail index (%u)",
			 base);
	if (ch_activate(rp, "the driver's new DRIVER_OK: setup_vhost_user() again"))
		rp_io(rp, NULL, "I/O after the reset", 512);
}

/*
 * The daemon dies. The device's thread sees EPOLLHUP on the socket
 * (VhostUserEpollHandler::handle_event(), HUP_CONNECTION_EVENT) and
 * reconnect() retries connect_vhost_user() every 100 ms: SET_OWNER,
 * GET_FEATURES, then reinitialize_vhost_user(): SET_PROTOCOL_FEATURES
 * with the acked ones (no GET_PROTOCOL_FEATURES, no NEED_REPLY yet),
 * NEED_REPLY from then on, and setup_vhost_user() with the inflight
 * area it already has. Meanwhile the guest goes on queueing requests.
 */
static void ch_reconnect(struct rp *rp)
{
	const uint64_t sector = 10016;

	vf_close(&rp->vf);
	rp_daemon_kill(rp);
	rp->seed++;
	rp_post(rp, 0, 1, VIRTIO_BLK_T_OUT, sector, 4096);
	rp_kick(rp, 0);
	if (!rp_check(rp, NULL, rp_daemon_start(rp, NULL), "a new daemon after SIGKILL"))
		return;
	if (!rp_connect(rp)) {
		rp_check(rp, NULL, false, "reconnect: connect");
		return;
	}
	rp_req(rp, VU_REQ_SET_OWNER, NULL, 0, NULL, 0);
	rp_get_u64(rp, VU_REQ_GET_FEATURES, &(uint64_t){ 0 });
	rp_u64(rp, VU_REQ_SET_PROTOCOL_FEATURES, rp->pf);
	rp->vf.pf = rp->pf;
	if (rp->pf & BIT(VU_PF_REPLY_ACK))
		rp->vf.hdr_flags = VU_FLAG_NEED_REPLY;
	if (!ch_setup(rp, "reconnect (reinitialize_vhost_user) with the inflight area"))
		return;
	rp_check(rp, NULL, rp_wait(rp, 0, 5000) && rp_status(rp, 0, 1) == VIRTIO_BLK_S_OK &&
		 rp_backing_has(rp, rp->seed, sector, 4096),
		 "reconnect: the request queued while the daemon was down is served");
	rp_io(rp, NULL, "I/O after the reconnect", 512);
}

/*
 * A reboot (Vmm::vm_reboot() in vmm/src/lib.rs): the old VM shuts down,
 * dropping its handle (VhostUserCommon::shutdown() closes the socket),
 * and the new VM's Blk::new() connects again from scratch.
 */
static void ch_reboot(struct rp *rp)
{
	vf_close(&rp->vf);
	rp->seed++;
	if (ch_realize(rp, "reboot (vm_reboot): a new connection, Blk::new()") &&
	    ch_activate(rp, "reboot: activate on the new connection"))
		rp_io(rp, NULL, "I/O after the reboot", 512);
}

/* Guest memory of the default VM: one region of RAM at 0. */
static const struct vu_region_desc ch_mem[] = {
	{ .gpa = 0, .size = 16u << 20, .uaddr = 0x7f2a40000000ull, .mmap_offset = 0 },
};

/*
 * Not a default: nine memory zones (--memory-zone, or hot-plugged DIMMs
 * present at a reconnect) are nine regions in one SET_MEM_TABLE, which
 * setup_vhost_user() sends also when CONFIGURE_MEM_SLOTS is negotiated.
 */
static void ch_zones(const char *dp)
{
	struct vu_region_desc zone[9];
	struct rp rp;

	for (unsigned int i = 0; i < ARRAY_SIZE(zone); i++)
		zone[i] = (struct vu_region_desc){
			.gpa = i * (2ull << 20), .size = 2u << 20,
			.uaddr = 0x7f3b00000000ull + i * (16ull << 20),
			.mmap_offset = i * (2ull << 20),
		};
	if (!rp_init(&rp, "cloud-hypervisor 9 memory zones", dp, zone, ARRAY_SIZE(zone)))
		return;
	if (rp_check(&rp, NULL, rp_daemon_start(&rp, NULL), "vhuctl export at its defaults") &&
	    ch_realize(&rp, "realize (Blk::new)")) {
		rp.todo = RP_TODO_MEM_TABLE_32;
		if (ch_activate(&rp, "activate: SET_MEM_TABLE with 9 regions and 9 fds"))
			rp_io(&rp, NULL, "I/O over 9 memory zones", 512);
		else
			rp_check(&rp, NULL, false, "I/O over 9 memory zones: not set up");
		rp.todo = NULL;
	}
	rp_fini(&rp);
}

void rp_cloud_hypervisor(const char *dp)
{
	struct rp rp;

	if (!rp_init(&rp, "cloud-hypervisor", dp, ch_mem, ARRAY_SIZE(ch_mem)))
		return;
	if (!rp_check(&rp, NULL, rp_daemon_start(&rp, NULL), "vhuctl export at its defaults") ||
	    !ch_realize(&rp, "realize (Blk::new): owner, features, queues, config") ||
	    !ch_activate(&rp, "activate (setup_vhost_user): 1 region, 1 queue of 128, "
			 "inflight area"))
		goto out;
	rp_io(&rp, NULL, "I/O", 512);
	rp_discard_zeroes(&rp, "discard and write zeroes");
	ch_pause_resume(&rp);
	ch_reset(&rp);
	ch_reconnect(&rp);
	ch_reboot(&rp);
	vf_close(&rp.vf);
	rp_check(&rp, NULL, rp_daemon_stop(&rp), "SIGTERM ends the daemon cleanly");
out:
	rp_fini(&rp);
	ch_zones(dp);
}
