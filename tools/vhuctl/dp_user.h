/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace datapath's internals, shared by dp_user.c (ops, queue
 * threads) and dpu_blk.c (virtio-blk requests on io_uring).
 */
#ifndef DP_USER_H
#define DP_USER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <liburing.h>
#include <linux/vhu.h>

#include "datapath.h"
#include "vq_user.h"

/* The largest data transfer of one request, as vhu.ko. */
#define DPU_REQ_MAX_BYTES	(32u << 20)
/* Requests taken from the avail ring per wake-up before reaping. */
#define DPU_BUDGET		64

/* user_data of the non-request completions. */
#define DPU_UD_KICK		1ull
#define DPU_UD_CTL		2ull

struct dpu_queue;

struct dpu_req {
	struct dpu_queue *q;
	uint16_t head;
	uint8_t type;
	uint8_t status;
	uint8_t *status_ptr;		/* NULL: the chain has no status byte */
	uint32_t written;		/* bytes for the used element */
	uint32_t expect;		/* bytes the read/write must move */
	int falloc_mode, falloc_alt;	/* discard/write zeroes: mode, fallback */
	uint64_t off, len;
	unsigned int niov;
	struct iovec *iov;		/* data buffers (malloc'ed) */
	void *bounce;			/* aligned copy for O_DIRECT, or NULL */
	struct dpu_req *next_free;
};

/* Control requests from the protocol thread to a queue thread. */
enum dpu_cmd {
	DPU_CMD_NONE,
	DPU_CMD_PAUSE,			/* drain, park until resumed */
	DPU_CMD_STOP,			/* drain, exit */
};

struct dpu_queue {
	struct vu_dp *dp;
	uint32_t index;
	bool running;			/* the thread exists */
	pthread_t thread;
	struct io_uring ring;
	struct vq vq;
	const struct dpu_mem *mem;	/* changed only while parked */
	struct vhu_inflight_queue *inflight;	/* NULL: none */
	uint64_t inflight_counter;

	int kick_fd, ctl_fd;
	uint64_t kick_buf, ctl_buf;

	pthread_mutex_t lock;		/* cmd, parked, call_fd, err_fd */
	pthread_cond_t cond;
	enum dpu_cmd cmd;
	bool parked;
	int call_fd, err_fd;

	bool broken;			/* ring error: take nothing more */
	bool kicked;
	unsigned int nr_inflight;
	unsigned int nr_pushed;		/* used elements not yet published */
	struct dpu_req *reqs, *free_reqs;
	struct vq_chain chain;		/* scratch for the walk */
};

struct vu_dp {
	const struct vu_export_cfg *cfg;
	int fd;				/* our dup of the backing */
	bool writeback;
	uint64_t features;		/* acked */
	struct dpu_mem *mem;
	struct vu_inflight inflight;	/* the server's mapping; fd not owned */
	struct dpu_queue q[VU_MAX_QUEUES];
};

/* dpu_blk.c: start a request for a walked chain (completes it on error). */
void dpu_blk_start(struct dpu_queue *q, struct dpu_req *req,
		   struct vq_chain *c);
/* An io_uring completion for req. */
void dpu_blk_complete(struct dpu_queue *q, struct dpu_req *req, int res);
/* dp_user.c: the request is done, status set: put it in the used ring. */
void dpu_req_done(struct dpu_queue *q, struct dpu_req *req);
/* An SQE, submitting pending ones when the SQ is full. */
struct io_uring_sqe *dpu_get_sqe(struct dpu_queue *q);

#endif
