/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhost-user protocol server: one device (export) and its connection.
 */
#ifndef VU_SERVER_H
#define VU_SERVER_H

#include <linux/virtio_blk.h>

#include "datapath.h"
#include "log.h"
#include "vu_mem.h"
#include "vu_proto.h"

struct vu_queue {
	uint32_t num;
	uint32_t base;
	struct vu_vring_addr addr;	/* as the frontend sent it */
	bool have_num, have_addr;
	bool kick_set;			/* SET_VRING_KICK seen since the last stop */
	bool enabled;			/* SET_VRING_ENABLE state */
	bool running;			/* handed to the datapath */
	bool broken;			/* a refusal nobody could be told of */
	int kick_fd, call_fd, err_fd;
};

struct vu_dev {
	const char *name;		/* for log lines: the socket path */
	const struct vu_export_cfg *cfg;
	const struct vu_dp_ops *ops;
	struct vu_dp *dp;

	int conn_fd;			/* -1 when no frontend (O_NONBLOCK) */
	/*
	 * Readable once the daemon stops: a wait for the frontend (the rest
	 * of a message, room for a reply) ends at once. -1: none.
	 */
	int stop_fd;
	/* Most a message (header, payload, fds) or a reply may take. */
	unsigned int msg_timeout_ms;
	uint64_t deadline_ms;		/* of the message being taken or answered */
	struct vlog_ratelimit rl_refused;	/* "... refused: ..." lines */
	bool owner;			/* SET_OWNER seen, no RESET_OWNER since */
	uint64_t features;		/* offered */
	uint64_t acked_features;
	bool features_set;		/* SET_FEATURES seen */
	uint64_t protocol_features;	/* offered */
	uint64_t acked_protocol_features;
	uint8_t status;
	bool write_cache;		/* the driver's wce (true = write-back), kept
					 * across frontends; the datapath writes back
					 * only if FLUSH is negotiated too */
	struct virtio_blk_config config;

	struct vu_guard guard;		/* faults in the frontend's memory */
	struct vu_mem mem;
	struct vu_queue q[VHU_MAX_QUEUES];
	struct vu_inflight inflight;
	/*
	 * The dirty log (SET_LOG_BASE), mapped here and registered with the
	 * guard: the datapath writes it while VHOST_F_LOG_ALL is acked.
	 */
	struct vu_log log;
	int backend_req_fd;
};

/*
 * Protocol features this backend offers; LOG_SHMFD too where the datapath
 * can log (ops->set_log).
 */
#define VU_PROTOCOL_FEATURES						\
	((1ull << VU_PF_MQ) | (1ull << VU_PF_REPLY_ACK) |		\
	 (1ull << VU_PF_BACKEND_REQ) | (1ull << VU_PF_CONFIG) |		\
	 (1ull << VU_PF_INFLIGHT_SHMFD) |				\
	 (1ull << VU_PF_CONFIGURE_MEM_SLOTS) | (1ull << VU_PF_STATUS))

void vu_dev_init(struct vu_dev *dev, const char *name,
		 const struct vu_export_cfg *cfg, const struct vu_dp_ops *ops,
		 struct vu_dp *dp);

/*
 * Take a connected socket: 0, or -errno (logged) when the connection's
 * guard cannot be set up; then the caller closes fd.
 */
int vu_dev_connect(struct vu_dev *dev, int fd);

/* CLOCK_MONOTONIC in ms, for deadlines. */
uint64_t vu_now_ms(void);

/* The default of msg_timeout_ms. */
#define VU_MSG_TIMEOUT_MS	10000

/*
 * Receive and handle one message, called once conn_fd is readable. 0:
 * keep the connection; negative: close it (-ECONNRESET when the frontend
 * hung up, -ETIMEDOUT when a message or reply took longer than
 * msg_timeout_ms, -ESHUTDOWN when stop_fd fired, else a protocol error
 * already logged).
 */
int vu_dev_handle(struct vu_dev *dev);

/* Stop queues, release memory and fds, close the connection. */
void vu_dev_disconnect(struct vu_dev *dev);

/*
 * The fd that becomes readable when an access to the frontend's memory
 * faulted (vu_guard.h), -1 without a connection.
 */
int vu_dev_fault_fd(const struct vu_dev *dev);
/*
 * Did an access to the frontend's memory fault? Then -EFAULT, with one log
 * line saying so: the caller drops the connection (vu_dev_disconnect()).
 */
int vu_dev_fault(struct vu_dev *dev);

#endif
