/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Replays of other frontends' vhost-user-blk sessions against the real
 * daemon: Cloud Hypervisor, Firecracker and crosvm, each in the message
 * order, flags, features, fds, memory layout and ring sizes of its own
 * source (replay_ch.c, replay_fc.c, replay_crosvm.c), with a split-ring
 * driver playing the Linux guest on memfd guest memory and the data
 * checked against the backing file.
 *
 * The same code runs on both datapaths: `vhuctl export --datapath user`
 * in the host tests (t_replay()) and `--datapath kernel` in the VM
 * (vhuctl-kernel-test), each export at vhuctl's defaults unless a replay
 * says otherwise.
 */
#ifndef REPLAY_H
#define REPLAY_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "test_util.h"
#include "vring.h"
#include "vu_frontend.h"

/*
 * Known defects the replays run into. While one is 1, the checks that
 * depend on it carry a TAP "# TODO" directive with its text and are not
 * counted as failures; set it to 0 once the fix is in, and they count.
 */
#define RP_OPEN_RING_32768	0
#define RP_OPEN_CONFIG_ACCESS	0
#define RP_OPEN_MEM_TABLE_32	0
#define RP_OPEN_SECTOR_512	0

#define RP_TODO(open, what)	((open) ? (what) : NULL)
/* crosvm's default rings (32768 entries) against the default export. */
#define RP_TODO_RING_32768	RP_TODO(RP_OPEN_RING_32768, \
	"SET_VRING_NUM 32768 is refused by an export at its default queue size")
/* A config access the backend refuses must not end the connection. */
#define RP_TODO_CONFIG_ACCESS	RP_TODO(RP_OPEN_CONFIG_ACCESS, \
	"a refused GET_CONFIG or SET_CONFIG closes the connection")
/* SET_MEM_TABLE with up to 32 regions (rust-vmm's limit). */
#define RP_TODO_MEM_TABLE_32	RP_TODO(RP_OPEN_MEM_TABLE_32, \
	"SET_MEM_TABLE takes at most 8 regions")
/* 512-byte requests of a guest that did not negotiate BLK_SIZE. */
#define RP_TODO_SECTOR_512	RP_TODO(RP_OPEN_SECTOR_512, \
	"a 4096-byte export fails the 512-byte requests of a guest without BLK_SIZE")

/*
 * The guest of every replay is Linux: of the features a frontend offers
 * it, the virtio-blk driver (drivers/block/virtio_blk.c, features[]) and
 * the virtio core (vring_transport_features()) take these.
 */
#define RP_LINUX_FEATURES						\
	((1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_RING_F_INDIRECT_DESC) | \
	 (1ull << VIRTIO_RING_F_EVENT_IDX) | (1ull << VIRTIO_BLK_F_SEG_MAX) |	\
	 (1ull << VIRTIO_BLK_F_RO) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |	\
	 (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_TOPOLOGY) |	\
	 (1ull << VIRTIO_BLK_F_CONFIG_WCE) | (1ull << VIRTIO_BLK_F_MQ) |	\
	 (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES))

#define RP_MAX_Q	2	/* queues a replay's guest drives */
#define RP_SLOTS	8	/* requests in flight per queue */
#define RP_DISK		(8u << 20)

/*
 * Guest-physical layout every replay's memory covers: queue q's rings at
 * RP_RING_GPA + q MiB (room for 32768 entries), its request slots at
 * RP_SLOT_GPA + q * 256 KiB, 16 KiB each.
 */
#define RP_RING_GPA	0x200000ull
#define RP_SLOT_GPA	0x600000ull

struct rp_q {
	struct vr vr;		/* with the kick and call eventfds */
	int err_fd;
	uint32_t len[RP_SLOTS];	/* used length by slot, ~0 until used */
};

/* One replay: a daemon, a frontend's connection and its guest. */
struct rp {
	char name[64];		/* "<frontend> <datapath>", for the TAP lines */
	const char *dp;		/* datapath: "user" or "kernel" */
	const char *todo;	/* a defect the whole replay depends on, or NULL */
	struct tmp_dir dir;
	const char *vhuctl, *sock, *img, *log;
	pid_t pid;
	int failures;		/* checks that failed: the log is shown */

	struct vf vf;
	struct vf_guest g;
	uint64_t features;	/* what the guest's driver acked */
	uint64_t pf;		/* protocol features, as set */
	unsigned int nq;	/* queues the guest drives */
	uint32_t num;		/* their size */
	struct rp_q q[RP_MAX_Q];
	int inflight_fd;
	struct vu_inflight_msg inflight;
	uint32_t seed;		/* of the data the next writes carry */

	/* The first step of a sequence that failed, until rp_done(). */
	const char *failed;
	int err;
};

/* Run every replay against `$VHUCTL export --datapath dp`. */
void replay_run(const char *dp);

/* ---- the replays (one file each) ------------------------------------ */

void rp_cloud_hypervisor(const char *dp);
void rp_firecracker(const char *dp);
void rp_crosvm(const char *dp);

/* ---- what they share (replay.c) ------------------------------------- */

/*
 * Set up rp for frontend who on datapath dp: a temporary directory, the
 * backing file (RP_DISK bytes, every sector a known pattern) and the
 * guest memory regions r. false if that failed (already reported).
 */
bool rp_init(struct rp *rp, const char *who, const char *dp,
	     const struct vu_region_desc *r, unsigned int nr);
void rp_fini(struct rp *rp);
/* `vhuctl export` on rp's socket and backing, plus the options extra. */
bool rp_daemon_start(struct rp *rp, const char *const *extra);
/* SIGKILL, as a crash; SIGTERM with a bounded wait (true if it exited 0). */
void rp_daemon_kill(struct rp *rp);
bool rp_daemon_stop(struct rp *rp);
bool rp_connect(struct rp *rp);
/* The daemon closed the connection (within 200 ms). */
bool rp_closed(struct rp *rp);

/* A check of this replay: TODO when rp->todo or todo is set. */
bool rp_check(struct rp *rp, const char *todo, bool cond, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/*
 * The check that every step since the last rp_done() went through, named
 * what; with the failed step and its error otherwise.
 */
bool rp_done(struct rp *rp, const char *todo, const char *what);
/*
 * The same, and the daemon kept the connection: for a frontend that asked
 * for no reply, the only way a refusal shows.
 */
bool rp_done_open(struct rp *rp, const char *todo, const char *what);

/*
 * How all three open a session, in the same order: connect, SET_OWNER,
 * GET_FEATURES (the backend's, in *backend_f), then, when it offers
 * PROTOCOL_FEATURES, GET_PROTOCOL_FEATURES and SET_PROTOCOL_FEATURES of
 * the ones in want_pf (rp->pf, also vf.pf), before any SET_FEATURES and
 * with no header flag. false if the connection failed (reported).
 */
bool rp_open(struct rp *rp, uint64_t want_pf, uint64_t *backend_f);
/*
 * The features the guest's driver acks when the frontend offers it
 * offered & backend_f, with PROTOCOL_FEATURES, which all three keep acked
 * themselves: their SET_FEATURES value.
 */
uint64_t rp_guest_features(uint64_t offered, uint64_t backend_f);

/*
 * One message each, skipped once a step failed: sent as vf_call() does
 * (vf.hdr_flags; an ack awaited with NEED_REPLY and REPLY_ACK).
 */
void rp_req(struct rp *rp, uint32_t req, const void *p, uint32_t size,
	    const int *fds, int nfds);
void rp_u64(struct rp *rp, uint32_t req, uint64_t v);
void rp_state(struct rp *rp, uint32_t req, uint32_t index, uint32_t num);
void rp_get_u64(struct rp *rp, uint32_t req, uint64_t *v);
void rp_mem_table(struct rp *rp);
/* SET_VRING_ADDR of queue q's rings, at their frontend user addresses. */
void rp_vring_addr(struct rp *rp, unsigned int q);
/* SET_VRING_KICK/CALL/ERR of queue q with its eventfd (kick, call, err). */
void rp_vring_fd(struct rp *rp, uint32_t req, unsigned int q);
void rp_get_vring_base(struct rp *rp, unsigned int q, uint32_t *base);
/* GET_CONFIG as the rust-vmm frontends send it (flags WRITABLE). */
void rp_get_config(struct rp *rp, uint32_t off, uint32_t size, void *out);
/* GET_INFLIGHT_FD for rp's queues, keeping the fd; SET_INFLIGHT_FD of it. */
void rp_get_inflight(struct rp *rp);
void rp_set_inflight(struct rp *rp);

/* ---- the guest's driver --------------------------------------------- */

/*
 * Queue q's rings of rp->num entries as the guest's driver makes them:
 * zeroed at RP_RING_GPA; event idx from rp->features. The eventfds are
 * made once and kept, as a VMM keeps them across reconnects.
 */
void rp_ring_new(struct rp *rp, unsigned int q);
/* The avail index the guest's driver published on queue q. */
uint16_t rp_avail_idx(const struct rp *rp, unsigned int q);
/*
 * Post a request in slot s of queue q: header, len data bytes in one or
 * two descriptors, status (through an indirect table when negotiated). A
 * write carries the pattern of rp->seed, a read's buffer is filled with
 * 0xee; for DISCARD and WRITE_ZEROES len is the range's size.
 */
void rp_post(struct rp *rp, unsigned int q, unsigned int s, uint32_t type,
	     uint64_t sector, uint32_t len);
/* Kick queue q if the device asks for it, as the Linux driver does. */
void rp_kick(struct rp *rp, unsigned int q);
/* Wait up to ms for everything posted on queue q to be used. */
bool rp_wait(struct rp *rp, unsigned int q, int ms);
/* Slot s's status byte (0xaa if none written) and data buffer. */
uint8_t rp_status(struct rp *rp, unsigned int q, unsigned int s);
uint8_t *rp_data(struct rp *rp, unsigned int q, unsigned int s);
/* The backing file holds what rp_post() wrote for this seed and sector. */
bool rp_backing_has(struct rp *rp, uint32_t seed, uint64_t sector, uint32_t len);
/*
 * The guest's I/O, one check named what: on every queue RP_SLOTS writes
 * in flight (512 B to 4 KiB, data in one or two segments), then reads of
 * the same and of never-written sectors, each status, used length and
 * byte checked against the backing file; a flush when negotiated.
 * Sizes are multiples of unit (the guest's logical block size).
 */
bool rp_io(struct rp *rp, const char *todo, const char *what, uint32_t unit);
/* The same without a check of its own. */
bool rp_io_ok(struct rp *rp, uint32_t unit);
/*
 * DISCARD and WRITE_ZEROES as the Linux driver sends them, where
 * negotiated: the zeroed range reads back as zeroes.
 */
bool rp_discard_zeroes(struct rp *rp, const char *what);

#endif
