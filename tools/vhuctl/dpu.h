/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The userspace datapath's internals: dpu_queue.c (ops, queue threads),
 * dpu_ring.c (split virtqueues) and dpu_blk.c (virtio-blk requests on
 * io_uring).
 *
 * Nothing the guest wrote is trusted: every descriptor address is range
 * checked against the memory table before it becomes a pointer, chains are
 * bounded, and the ring indices are checked against the ring size.
 */
#ifndef DPU_H
#define DPU_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include <liburing.h>
#include <linux/virtio_ring.h>
#include <linux/vhu.h>

#include "datapath.h"
#include "vu_mem.h"

/* The largest data transfer of one request, as vhu.ko. */
#define DPU_REQ_MAX_BYTES	(32u << 20)
/* Requests taken from the avail ring per wake-up before reaping. */
#define DPU_BUDGET		64

/* user_data of the non-request completions. */
#define DPU_UD_KICK		1ull
#define DPU_UD_CTL		2ull

/*
 * As vhu.ko: most iovecs in one request (the header, VHU_MAX_SEG data
 * segments and the status; a longer request fails), and most descriptors
 * in an indirect table (next is 16 bits: no chain in a longer one ends).
 */
#define DPU_MAX_IOV		(VHU_MAX_SEG + 2)
#define DPU_MAX_INDIRECT	65536

/* A split virtqueue, as its queue thread reads and writes it. */
struct dpu_ring {
	uint16_t num;
	bool event_idx, indirect;
	struct vring_desc *desc;
	struct vring_avail *avail;
	struct vring_used *used;
	uint16_t last_avail;		/* next avail entry to take */
	uint16_t avail_idx;		/* last avail->idx read */
	uint16_t used_idx;		/* ours; published to used->idx */
	uint16_t signalled_used;
	bool signalled_valid;
	uint8_t *busy;			/* heads in flight, one byte each */
};

/* A parsed descriptor chain. */
struct dpu_chain {
	unsigned int nout, nin;		/* readable iovecs, then writable ones */
	uint64_t out_len, in_len;
	bool bad;			/* outside memory, wrong order, too long: IOERR */
	bool have_status;
	uint64_t status_gpa;		/* the last device-writable byte */
	struct iovec iov[DPU_MAX_IOV];
};

/*
 * The next head from the avail ring: 1 and *head, 0 when the ring is
 * empty, -1 on a ring error (reason in *why).
 */
int dpu_ring_pop(struct dpu_ring *vq, uint16_t *head, const char **why);
/* Walk the chain at head: 0, or -1 on a ring error (reason in *why). */
int dpu_ring_walk(struct dpu_ring *vq, const struct vu_mem_view *m,
		  uint16_t head, struct dpu_chain *c, const char **why);
/* Put one used element (not yet visible: see dpu_ring_publish). */
void dpu_ring_push(struct dpu_ring *vq, uint16_t head, uint32_t len);
/* Make pushed elements visible (no call). */
void dpu_ring_flush(struct dpu_ring *vq);
/* Make pushed elements visible; true when the driver wants a call. */
bool dpu_ring_publish(struct dpu_ring *vq);
/* Ask for kicks (on) or suppress them while we are busy. */
void dpu_ring_notify(struct dpu_ring *vq, bool on);
/* avail->idx moved past what we have taken. */
bool dpu_ring_avail_pending(struct dpu_ring *vq);

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
	bool syncing;			/* write zeroes: the write-through fsync */
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

/*
 * A queue's counters, as vhu.ko's (enum vhu_stats_attr). Only the queue
 * thread writes them while it runs (the control thread before it starts
 * and after it ended), with relaxed atomic stores of plain increments:
 * no lock and no read-modify-write on the I/O path, and the control
 * thread reads each one whole (vu_dev_stats()), if not in step with the
 * others.
 */
struct dpu_stats {
	uint64_t reqs_in, reqs_out, reqs_flush, reqs_get_id, reqs_discard;
	uint64_t reqs_write_zeroes, reqs_unsupp, reqs_ioerr;
	uint64_t bytes_read, bytes_written, ring_errors, kicks, calls;
	uint32_t inflight;		/* nr_inflight, published */
	uint16_t last_avail;		/* vq.last_avail, published */
	bool error;			/* stopped by a ring error */
	bool started;			/* ran since the frontend attached */
};

#define DPU_STAT_SET(q, f, v)	__atomic_store_n(&(q)->st.f, (v), __ATOMIC_RELAXED)
#define DPU_STAT_ADD(q, f, n)	DPU_STAT_SET(q, f, (q)->st.f + (n))
#define DPU_STAT_GET(q, f)	__atomic_load_n(&(q)->st.f, __ATOMIC_RELAXED)

/* I/O errors reported to the event callback: at most one a second per queue. */
#define DPU_IOERR_EVENT_MS	1000

struct dpu_queue {
	struct vu_dp *dp;
	uint32_t index;
	bool running;			/* the thread exists */
	pthread_t thread;
	struct io_uring uring;
	struct dpu_ring vq;
	const struct vu_mem_view *mem;	/* changed only while parked */
	struct vhu_inflight_queue *inflight;	/* NULL: none */
	uint64_t inflight_counter;

	int kick_fd, ctl_fd;
	uint64_t kick_buf, ctl_buf;

	pthread_mutex_t lock;		/* cmd, parked, call_fd, err_fd, fd_gen */
	pthread_cond_t cond;
	enum dpu_cmd cmd;
	bool parked;
	int call_fd, err_fd;
	unsigned int fd_gen;		/* bumped when call_fd or err_fd change */
	/*
	 * The queue thread's own copies of call_fd and err_fd, taken under
	 * the lock when fd_gen moved: it signals them without the lock.
	 */
	int own_call_fd, own_err_fd;
	unsigned int own_gen;

	bool broken;			/* ring error: take nothing more */
	unsigned int nr_inflight;
	unsigned int nr_pushed;		/* used elements not yet published */
	struct dpu_req *reqs;		/* the ring size of them (mmap) */
	struct dpu_req *free_reqs;	/* handed out before, now free */
	uint32_t nr_reqs;		/* reqs[] handed out so far */
	struct dpu_chain chain;		/* scratch for the walk */
	struct dpu_stats st;
	uint64_t ioerr_event_ms;	/* the last I/O error reported */
	/* VHOST_VRING_F_LOG: changed only while parked (set_queue_log). */
	bool log_used;
	uint64_t log_used_gpa;
};

struct vu_dp {
	const struct vu_export_cfg *cfg;
	int fd;				/* our dup of the backing */
	bool write_cache;		/* false: write-through (RWF_DSYNC) */
	uint64_t features;		/* acked */
	unsigned int lbs;		/* the driver's logical block size */
	/*
	 * The capacity in bytes requests are checked against: read once
	 * per request by the queue threads, set by set_capacity.
	 */
	uint64_t size;
	pthread_mutex_t ev_lock;	/* ev_fn, ev_ctx */
	vu_dev_event_fn *ev_fn;
	void *ev_ctx;
	struct vu_mem_view *mem;
	struct vu_inflight inflight;	/* the server's mapping; fd not owned */
	/*
	 * Dirty logging: the server's mapping of the log, and whether
	 * VHOST_F_LOG_ALL is on. Both change only with every queue thread
	 * parked (set_log, set_features), so a thread reads them plainly and
	 * never writes a log the server has unmapped.
	 */
	struct vu_log log;
	bool log_all;
	struct dpu_queue q[VHU_MAX_QUEUES];
};

/* Is the queue's device writing to be logged? One predictable branch. */
static inline bool dpu_logging(const struct dpu_queue *q)
{
	return __builtin_expect(q->dp->log_all, 0);
}

/* dpu_queue.c: mark [gpa, +len) and [iov, +len) dirty (while logging). */
void dpu_log_gpa(struct dpu_queue *q, uint64_t gpa, uint64_t len);
void dpu_log_iov(struct dpu_queue *q, const struct iovec *iov, unsigned int n,
		 uint64_t len);

/* dpu_blk.c: start a request for a walked chain (completes it on error). */
void dpu_blk_start(struct dpu_queue *q, struct dpu_req *req,
		   struct dpu_chain *c);
/* An io_uring completion for req. */
void dpu_blk_complete(struct dpu_queue *q, struct dpu_req *req, int res);
/* dpu_queue.c: the request is done, status set: put it in the used ring. */
void dpu_req_done(struct dpu_queue *q, struct dpu_req *req);
/* Tell the event callback, if any (any thread; never blocks for long). */
void dpu_event(struct dpu_queue *q, enum vu_dev_event ev);
/* An SQE, submitting pending ones when the SQ is full. */
struct io_uring_sqe *dpu_get_sqe(struct dpu_queue *q);

#endif
