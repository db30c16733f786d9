// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the userspace datapath -- virtio-blk served by the daemon with
 * io_uring, for hosts without vhu.ko (or with --datapath user).
 *
 * One thread per running queue, each with its own io_uring. The kick
 * eventfd and a control eventfd are read through the io_uring itself, so one
 * io_uring_submit_and_wait() sleeps on kicks, control requests and I/O
 * completions alike. Each pass takes at most DPU_BUDGET requests from the
 * avail ring, reaps every completion, publishes the used index once and
 * signals the call eventfd if the driver asked for it (EVENT_IDX's
 * used_event, or VRING_AVAIL_F_NO_INTERRUPT); kicks are suppressed while
 * the thread is busy (avail_event, or VRING_USED_F_NO_NOTIFY).
 *
 * The protocol thread talks to a queue thread only through its command
 * word: STOP (drain, then exit) and PAUSE (drain, then park until
 * resumed). A memory table change parks every queue thread, so no thread
 * holds a pointer into a region that is about to be unmapped: translated
 * buffers only live as long as their request, and a parked queue has none.
 *
 * With an inflight area (INFLIGHT_SHMFD) each request is recorded there
 * from the moment it is taken until its used element is visible; a
 * queue started on an area that still lists requests (the daemon died
 * with I/O in flight) resubmits them first, in the order they were taken.
 *
 * While VHOST_F_LOG_ALL is on, every guest page the queue writes is
 * marked in the dirty log (vu_log.c) after the write and before the used
 * index that publishes it; the log, LOG_ALL and a queue's used-ring
 * logging change only with the threads parked, as the memory table does.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "blkcfg.h"
#include "dpu.h"
#include "log.h"
#include "util.h"
#include "vu_log.h"

static int dup_fd(int fd)
{
	return fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

/* The queue thread's copies of the call and err fds, up to date. */
static void refresh_fds(struct dpu_queue *q)
{
	if (__atomic_load_n(&q->fd_gen, __ATOMIC_ACQUIRE) == q->own_gen)
		return;
	pthread_mutex_lock(&q->lock);
	close_fd(&q->own_call_fd);
	close_fd(&q->own_err_fd);
	q->own_call_fd = dup_fd(q->call_fd);
	q->own_err_fd = dup_fd(q->err_fd);
	q->own_gen = q->fd_gen;
	pthread_mutex_unlock(&q->lock);
}

/*
 * Signal the call or err fd, without the lock and without waiting for
 * its reader (vu_signal_fd()): set_fd() never waits for this thread, nor
 * this thread for the frontend.
 */
static void signal_fd(struct dpu_queue *q, bool call)
{
	static struct vlog_ratelimit rl =
		VLOG_RATELIMIT_INIT("unwritable call fds", VLOG_RL_INTERVAL_MS, VLOG_RL_BURST);
	int fd;

	refresh_fds(q);
	fd = call ? q->own_call_fd : q->own_err_fd;
	if (fd < 0)
		return;
	if (vu_signal_fd(fd)) {
		if (call)
			DPU_STAT_ADD(q, calls, 1);
	} else {
		vlog_rl(&rl, "%s: queue %u: its %s fd takes no signal (full, or "
			"nobody reads it); left as it is", q->dp->cfg->socket_path,
			q->index, call ? "call" : "err");
	}
}

/* ---- inflight area ---------------------------------------------------- */

static void inflight_take(struct dpu_queue *q, uint16_t head)
{
	struct vhu_inflight_queue *f = q->inflight;

	if (!f)
		return;
	f->desc[head].counter = ++q->inflight_counter;
	__atomic_store_n(&f->desc[head].inflight, 1, __ATOMIC_RELEASE);
}

/* Called right before the used index covering head is published. */
static void inflight_pre_put(struct dpu_queue *q, uint16_t head)
{
	if (q->inflight) {
		q->inflight->desc[head].next = q->inflight->last_batch_head;
		q->inflight->last_batch_head = head;
	}
}

static void inflight_put(struct dpu_queue *q, uint16_t head)
{
	struct vhu_inflight_queue *f = q->inflight;

	if (!f)
		return;
	__atomic_store_n(&f->desc[head].inflight, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&f->used_idx, q->vq.used_idx, __ATOMIC_RELEASE);
}

static int cmp_counter(const void *a, const void *b, void *arg)
{
	const struct vhu_inflight_queue *f = arg;
	uint64_t x = f->desc[*(const uint16_t *)a].counter;
	uint64_t y = f->desc[*(const uint16_t *)b].counter;

	return x < y ? -1 : x > y;
}

/*
 * Bring the area in line with the used ring and list the requests that
 * were in flight when the last daemon went away: *list (malloc'ed, in
 * submission order) and the count; the avail index resumes after them.
 */
static int inflight_recover(struct dpu_queue *q, uint16_t **list)
{
	struct vhu_inflight_queue *f = q->inflight;
	int n = 0;

	*list = NULL;
	if (!f)
		return 0;
	/* As vhu.ko: another version or ring size means nothing in flight. */
	if (f->version != VHU_INFLIGHT_VERSION || f->desc_num != q->vq.num) {
		memset(f->desc, 0, q->vq.num * sizeof(f->desc[0]));
		f->features = 0;
		f->version = VHU_INFLIGHT_VERSION;
		f->desc_num = q->vq.num;
		f->used_idx = q->vq.used_idx;
		q->inflight_counter = 0;
		return 0;
	}
	if (f->used_idx != q->vq.used_idx) {
		/*
		 * Died between publishing used elements and clearing them: the
		 * batch (one element from us, more from vhu.ko) is linked
		 * through next from last_batch_head.
		 */
		uint16_t batch = q->vq.used_idx - f->used_idx;
		uint16_t head = f->last_batch_head;

		if (batch > q->vq.num)
			return -EINVAL;
		for (uint16_t i = 0; i < batch; i++) {
			if (head >= q->vq.num)
				return -EINVAL;
			f->desc[head].inflight = 0;
			head = f->desc[head].next;
		}
		f->used_idx = q->vq.used_idx;
	}
	*list = calloc(q->vq.num, sizeof(**list));
	if (!*list)
		return -ENOMEM;
	q->inflight_counter = 0;
	for (uint16_t i = 0; i < q->vq.num; i++) {
		if (f->desc[i].counter > q->inflight_counter)
			q->inflight_counter = f->desc[i].counter;
		if (f->desc[i].inflight == 1)
			(*list)[n++] = i;
	}
	qsort_r(*list, n, sizeof(**list), cmp_counter, f);
	q->vq.last_avail = q->vq.avail_idx = q->vq.used_idx + n;
	return n;
}

/* ---- requests ---------------------------------------------------------- */

/*
 * After a fault in the frontend's memory (vu_guard.h) the rings read as
 * zeroes: take nothing more, and leave the one log line to the server.
 */
static bool mem_faulted(const struct dpu_queue *q)
{
	return vu_guard_faulted(q->mem->guard);
}

static void ring_error(struct dpu_queue *q, const char *why)
{
	q->broken = true;
	DPU_STAT_ADD(q, ring_errors, 1);
	DPU_STAT_SET(q, error, true);
	if (mem_faulted(q))
		return;
	vlog("%s: queue %u: ring error: %s; the queue stops",
	     q->dp->cfg->socket_path, q->index, why);
	signal_fd(q, false);
	dpu_event(q, VU_DEV_EV_RING_ERROR);
}

void dpu_event(struct dpu_queue *q, enum vu_dev_event ev)
{
	struct vu_dp *dp = q->dp;

	if (!__atomic_load_n(&dp->ev_fn, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&dp->ev_lock);
	if (dp->ev_fn)
		dp->ev_fn(dp->ev_ctx, ev, q->index);
	pthread_mutex_unlock(&dp->ev_lock);
}

struct io_uring_sqe *dpu_get_sqe(struct dpu_queue *q)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&q->uring);

	while (!sqe) {
		io_uring_submit(&q->uring);
		sqe = io_uring_get_sqe(&q->uring);
	}
	return sqe;
}

/* ---- dirty logging ----------------------------------------------------- */

/* Pages the log does not cover, or buffers outside the memory view. */
static void log_skipped(struct dpu_queue *q, uint64_t n)
{
	static struct vlog_ratelimit rl =
		VLOG_RATELIMIT_INIT("dirty log misses", VLOG_RL_INTERVAL_MS, VLOG_RL_BURST);

	vlog_rl(&rl, "%s: queue %u: %" PRIu64 " written pages beyond the dirty log "
		"(%" PRIu64 " bytes); not marked", q->dp->cfg->socket_path, q->index,
		n, q->dp->log.size);
}

void dpu_log_gpa(struct dpu_queue *q, uint64_t gpa, uint64_t len)
{
	uint64_t n = vu_log_write(&q->dp->log, gpa, len);

	if (n)
		log_skipped(q, n);
}

void dpu_log_iov(struct dpu_queue *q, const struct iovec *iov, unsigned int n,
		 uint64_t len)
{
	uint64_t skipped = vu_log_iov(&q->dp->log, q->mem, iov, n, len);

	if (skipped)
		log_skipped(q, skipped);
}

/* A field of the used ring the device wrote, where it logs its used ring. */
static void log_used(struct dpu_queue *q, uint64_t off, uint64_t len)
{
	if (q->log_used)
		dpu_log_gpa(q, q->log_used_gpa + off, len);
}

/* The element just pushed. */
static void log_used_elem(struct dpu_queue *q)
{
	uint16_t slot = (uint16_t)(q->vq.used_idx - 1) & (q->vq.num - 1);

	log_used(q, offsetof(struct vring_used, ring) +
		 slot * sizeof(struct vring_used_elem), sizeof(struct vring_used_elem));
}

/* The used index, once stored. */
static void log_used_idx(struct dpu_queue *q)
{
	if (dpu_logging(q))
		log_used(q, offsetof(struct vring_used, idx), sizeof(uint16_t));
}

/*
 * dpu_ring_notify() writes used->flags, or avail_event after the ring:
 * logged where it changed them (the same value again changes no page).
 */
static void ring_notify(struct dpu_queue *q, bool on)
{
	uint16_t *field, old;
	uint64_t off;

	if (!dpu_logging(q) || !q->log_used) {
		dpu_ring_notify(&q->vq, on);
		return;
	}
	off = q->vq.event_idx ?
	      offsetof(struct vring_used, ring) + q->vq.num * sizeof(struct vring_used_elem) :
	      offsetof(struct vring_used, flags);
	field = (uint16_t *)(void *)((char *)q->vq.used + off);
	old = READ_ONCE(*field);
	dpu_ring_notify(&q->vq, on);
	if (READ_ONCE(*field) != old)
		log_used(q, off, sizeof(uint16_t));
}

/*
 * Dirty logging: each page is marked after the device wrote it (a sync
 * that cleared its bit in between copied the new bytes then), and a
 * request's data, status and used element before the used index store
 * that publishes it; the used index itself right after that store.
 */
void dpu_req_done(struct dpu_queue *q, struct dpu_req *req)
{
	if (req->status_ptr) {
		__atomic_store_n(req->status_ptr, req->status, __ATOMIC_RELAXED);
		if (dpu_logging(q))
			dpu_log_iov(q, &(struct iovec){ req->status_ptr, 1 }, 1, 1);
	}
	dpu_ring_push(&q->vq, req->head, req->written);
	if (dpu_logging(q))
		log_used_elem(q);
	if (q->inflight) {
		/* One element at a time, so a crash leaves at most one in doubt. */
		inflight_pre_put(q, req->head);
		dpu_ring_flush(&q->vq);
		log_used_idx(q);
		inflight_put(q, req->head);
	}
	q->vq.busy[req->head] = 0;
	q->nr_inflight--;
	DPU_STAT_SET(q, inflight, q->nr_inflight);
	q->nr_pushed++;
	req->next_free = q->free_reqs;
	q->free_reqs = req;
}

/*
 * Is a request free? One that was used and came back, or one of reqs[]
 * never handed out: those pages stay untouched, so a queue's memory
 * follows the requests it had in flight at once, not its ring size.
 */
static bool req_free(const struct dpu_queue *q)
{
	return q->free_reqs || q->nr_reqs < q->vq.num;
}

static struct dpu_req *req_get(struct dpu_queue *q)
{
	struct dpu_req *req = q->free_reqs;

	if (req) {
		q->free_reqs = req->next_free;
		return req;
	}
	req = &q->reqs[q->nr_reqs++];
	req->q = q;
	return req;
}

/*
 * Walk the chain at head and start its request (one is free: at most the
 * ring size are in flight); -1 on a ring error.
 */
static int take(struct dpu_queue *q, uint16_t head)
{
	struct dpu_req *req;
	const char *why;

	if (dpu_ring_walk(&q->vq, q->mem, head, &q->chain, &why)) {
		ring_error(q, why);
		return -1;
	}
	req = req_get(q);
	req->head = head;
	q->vq.busy[head] = 1;
	q->nr_inflight++;
	DPU_STAT_SET(q, inflight, q->nr_inflight);
	inflight_take(q, head);
	dpu_blk_start(q, req, &q->chain);
	return 0;
}

/* Take up to DPU_BUDGET requests. Returns true if more may be waiting. */
static bool handle_avail(struct dpu_queue *q)
{
	unsigned int budget = DPU_BUDGET;

	if (mem_faulted(q))
		return false;
	ring_notify(q, false);
	while (!q->broken && req_free(q) && !mem_faulted(q)) {
		const char *why;
		uint16_t head;
		int ret;

		if (!budget--)
			return true;
		ret = dpu_ring_pop(&q->vq, &head, &why);
		if (ret < 0) {
			ring_error(q, why);
			break;
		}
		if (!ret) {
			/* Empty: ask for a kick, then look once more. */
			ring_notify(q, true);
			if (!dpu_ring_avail_pending(&q->vq))
				break;
			ring_notify(q, false);
			continue;
		}
		/* A bad chain is not consumed: the base still points at it. */
		if (take(q, head))
			q->vq.last_avail--;
	}
	return false;
}

static void flush_used(struct dpu_queue *q)
{
	bool call;

	if (!q->nr_pushed)
		return;
	q->nr_pushed = 0;
	call = dpu_ring_publish(&q->vq);
	log_used_idx(q);
	if (call)
		signal_fd(q, true);
}

/* ---- the queue thread ------------------------------------------------- */

static void arm_read(struct dpu_queue *q, int fd, uint64_t *buf, uint64_t ud)
{
	struct io_uring_sqe *sqe = dpu_get_sqe(q);

	io_uring_prep_read(sqe, fd, buf, sizeof(*buf), 0);
	io_uring_sqe_set_data64(sqe, ud);
}

/*
 * Wait for a kick. Frontends hand over non-blocking eventfds (QEMU's
 * event notifiers are EFD_NONBLOCK), and io_uring honours O_NONBLOCK: a
 * read would complete at once with -EAGAIN, and re-arming it would spin.
 * So poll for POLLIN, then drain the counter with a plain read.
 */
static void arm_kick(struct dpu_queue *q)
{
	struct io_uring_sqe *sqe = dpu_get_sqe(q);

	io_uring_prep_poll_add(sqe, q->kick_fd, POLLIN);
	io_uring_sqe_set_data64(sqe, DPU_UD_KICK);
}

/* Clear the kick counter; nothing to read (-EAGAIN) is fine. */
static void drain_kick(struct dpu_queue *q)
{
	while (read(q->kick_fd, &q->kick_buf, sizeof(q->kick_buf)) < 0 &&
	       errno == EINTR)
		;
}

static enum dpu_cmd reap(struct dpu_queue *q, enum dpu_cmd cmd)
{
	struct io_uring_cqe *cqe;
	unsigned int head, n = 0;

	io_uring_for_each_cqe(&q->uring, head, cqe) {
		uint64_t ud = cqe->user_data;
		int res = cqe->res;

		n++;
		if (ud == DPU_UD_KICK) {
			if (res > 0 && (res & POLLIN)) {
				drain_kick(q);
				DPU_STAT_ADD(q, kicks, 1);
			}
			if (res >= 0 || res == -EINTR)
				arm_kick(q);
			else
				vlog("%s: queue %u: kick fd: %s", q->dp->cfg->socket_path,
				     q->index, strerror(-res));
		} else if (ud == DPU_UD_CTL) {
			pthread_mutex_lock(&q->lock);
			cmd = q->cmd;
			pthread_mutex_unlock(&q->lock);
			arm_read(q, q->ctl_fd, &q->ctl_buf, DPU_UD_CTL);
		} else {
			dpu_blk_complete(q, (struct dpu_req *)(uintptr_t)ud, res);
		}
	}
	io_uring_cq_advance(&q->uring, n);
	return cmd;
}

/* Drained on PAUSE: wait here until the protocol thread resumes us. */
static void park(struct dpu_queue *q)
{
	pthread_mutex_lock(&q->lock);
	q->parked = true;
	pthread_cond_broadcast(&q->cond);
	while (q->cmd == DPU_CMD_PAUSE)
		pthread_cond_wait(&q->cond, &q->lock);
	q->parked = false;
	pthread_mutex_unlock(&q->lock);
}

static void *queue_thread(void *arg)
{
	struct dpu_queue *q = arg;
	enum dpu_cmd cmd = DPU_CMD_NONE;
	bool more = false;

	for (;;) {
		if (cmd == DPU_CMD_NONE) {
			more = handle_avail(q);
			DPU_STAT_SET(q, last_avail, q->vq.last_avail);
		}
		flush_used(q);
		if (cmd != DPU_CMD_NONE && !q->nr_inflight) {
			if (cmd == DPU_CMD_STOP)
				break;
			park(q);
			pthread_mutex_lock(&q->lock);
			cmd = q->cmd;
			pthread_mutex_unlock(&q->lock);
			continue;
		}
		if (more && cmd == DPU_CMD_NONE)
			io_uring_submit(&q->uring);
		else
			io_uring_submit_and_wait(&q->uring, 1);
		cmd = reap(q, cmd);
	}
	return NULL;
}

/* ---- start and stop --------------------------------------------------- */

static void queue_free(struct dpu_queue *q)
{
	if (q->uring.ring_fd > 0)
		io_uring_queue_exit(&q->uring);
	memset(&q->uring, 0, sizeof(q->uring));
	close_fd(&q->kick_fd);
	close_fd(&q->ctl_fd);
	close_fd(&q->call_fd);
	close_fd(&q->err_fd);
	close_fd(&q->own_call_fd);
	close_fd(&q->own_err_fd);
	if (q->reqs)
		munmap(q->reqs, q->vq.num * sizeof(*q->reqs));
	free(q->vq.busy);
	q->reqs = q->free_reqs = NULL;
	q->nr_reqs = 0;
	q->vq.busy = NULL;
	q->inflight = NULL;
	q->running = false;
}

static struct vhu_inflight_queue *inflight_of(struct vu_dp *dp, uint32_t index,
					      uint32_t num)
{
	const struct vu_inflight *inf = &dp->inflight;

	if (!inf->addr || index >= inf->num_queues || num != inf->queue_size)
		return NULL;
	return (void *)((char *)inf->addr +
			index * vu_inflight_queue_size(inf->queue_size));
}

static int queue_setup(struct vu_dp *dp, struct dpu_queue *q,
		       const struct vu_dp_queue *dq)
{
	unsigned int entries = 4;
	struct dpu_ring *vq = &q->vq;
	int ret;

	memset(vq, 0, sizeof(*vq));
	vq->num = dq->num;
	vq->desc = (void *)(uintptr_t)dq->desc_hva;
	vq->avail = (void *)(uintptr_t)dq->avail_hva;
	vq->used = (void *)(uintptr_t)dq->used_hva;
	vq->last_avail = vq->avail_idx = dq->base;
	vq->used_idx = __atomic_load_n(&vq->used->idx, __ATOMIC_ACQUIRE);
	vq->event_idx = dp->features & BIT(VIRTIO_RING_F_EVENT_IDX);
	vq->indirect = dp->features & BIT(VIRTIO_RING_F_INDIRECT_DESC);
	vq->busy = calloc(dq->num, 1);
	/* Zero pages, touched only as requests are first handed out. */
	q->reqs = mmap(NULL, dq->num * sizeof(*q->reqs), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (q->reqs == MAP_FAILED)
		q->reqs = NULL;
	q->free_reqs = NULL;
	q->nr_reqs = 0;
	if (!vq->busy || !q->reqs)
		return -ENOMEM;
	q->kick_fd = dup_fd(dq->kick_fd);
	q->call_fd = dup_fd(dq->call_fd);
	q->err_fd = dup_fd(dq->err_fd);
	q->own_gen = q->fd_gen - 1;	/* the thread takes its copies first */
	q->ctl_fd = eventfd(0, EFD_CLOEXEC);
	if (q->kick_fd < 0 || q->ctl_fd < 0 ||
	    (dq->call_fd >= 0 && q->call_fd < 0) || (dq->err_fd >= 0 && q->err_fd < 0))
		return -errno;
	/* Bounded SQ: dpu_get_sqe() submits when full; the CQ never drops. */
	while (entries < dq->num + 2 && entries < 4096)
		entries <<= 1;
	q->mem = dp->mem;
	q->inflight = inflight_of(dp, dq->index, dq->num);
	q->log_used = dq->log_used;
	q->log_used_gpa = dq->log_used_gpa;
	q->broken = false;
	q->cmd = DPU_CMD_NONE;
	q->nr_inflight = q->nr_pushed = 0;
	/* Counted from this start on, as vhu.ko's from SET_VRING_NUM. */
	memset(&q->st, 0, sizeof(q->st));
	q->st.started = true;
	q->st.last_avail = vq->last_avail;
	q->ioerr_event_ms = 0;
	ret = io_uring_queue_init(entries, &q->uring, 0);
	if (ret)
		memset(&q->uring, 0, sizeof(q->uring));
	return ret;
}

/* Requests left in the inflight area by a previous daemon: first in line. */
static int resubmit(struct dpu_queue *q)
{
	uint16_t *list;
	int n = inflight_recover(q, &list);

	if (n < 0)
		return n;
	if (n)
		vlog("%s: queue %u: resubmitting %d requests from the inflight area",
		     q->dp->cfg->socket_path, q->index, n);
	for (int i = 0; i < n && !q->broken; i++)
		take(q, list[i]);
	free(list);
	return 0;
}

static int dpu_start_queue(struct vu_dp *dp, const struct vu_dp_queue *dq)
{
	struct dpu_queue *q = &dp->q[dq->index];
	int ret;

	if (dq->kick_fd < 0)
		return -EOPNOTSUPP;	/* a polled ring (NOFD): not supported */
	if (q->running)
		return -EBUSY;
	ret = queue_setup(dp, q, dq);
	ret = ret ?: resubmit(q);
	q->st.last_avail = q->vq.last_avail;
	if (!ret) {
		arm_kick(q);
		arm_read(q, q->ctl_fd, &q->ctl_buf, DPU_UD_CTL);
		ret = -pthread_create(&q->thread, NULL, queue_thread, q);
	}
	if (ret) {
		queue_free(q);
		return ret;
	}
	q->running = true;
	return 0;
}

static void queue_command(struct dpu_queue *q, enum dpu_cmd cmd)
{
	pthread_mutex_lock(&q->lock);
	q->cmd = cmd;
	pthread_cond_broadcast(&q->cond);
	pthread_mutex_unlock(&q->lock);
	eventfd_write(q->ctl_fd, 1);
}

static int dpu_stop_queue(struct vu_dp *dp, uint32_t index, uint32_t *base)
{
	struct dpu_queue *q = &dp->q[index];

	if (!q->running)
		return -EINVAL;
	queue_command(q, DPU_CMD_STOP);
	pthread_join(q->thread, NULL);
	*base = q->vq.last_avail;
	queue_free(q);
	return 0;
}

/* Park every running queue thread with nothing in flight, then resume. */
static void pause_all(struct vu_dp *dp)
{
	for (uint32_t i = 0; i < dp->cfg->queues; i++)
		if (dp->q[i].running)
			queue_command(&dp->q[i], DPU_CMD_PAUSE);
	for (uint32_t i = 0; i < dp->cfg->queues; i++) {
		struct dpu_queue *q = &dp->q[i];

		if (!q->running)
			continue;
		pthread_mutex_lock(&q->lock);
		while (!q->parked)
			pthread_cond_wait(&q->cond, &q->lock);
		pthread_mutex_unlock(&q->lock);
	}
}

static void resume_all(struct vu_dp *dp)
{
	for (uint32_t i = 0; i < dp->cfg->queues; i++) {
		struct dpu_queue *q = &dp->q[i];

		if (!q->running)
			continue;
		q->mem = dp->mem;
		pthread_mutex_lock(&q->lock);
		q->cmd = DPU_CMD_NONE;
		pthread_cond_broadcast(&q->cond);
		pthread_mutex_unlock(&q->lock);
	}
}

/* ---- memory ------------------------------------------------------------ */

/* Install a new view with every queue thread parked; frees the old one. */
static void swap_mem(struct vu_dp *dp, struct vu_mem_view *new)
{
	struct vu_mem_view *old = dp->mem;

	pause_all(dp);
	dp->mem = new;
	resume_all(dp);
	free(old);
}

static int dpu_set_mem_table(struct vu_dp *dp, const struct vu_mem *mem)
{
	struct vu_mem_view *new = malloc(sizeof(*new));

	if (!new)
		return -ENOMEM;
	vu_mem_view_init(new, mem);
	swap_mem(dp, new);
	return 0;
}

/* The current view to change and swap in, or NULL. */
static struct vu_mem_view *copy_mem(struct vu_dp *dp)
{
	struct vu_mem_view *new = malloc(sizeof(*new));

	if (new)
		*new = *dp->mem;
	return new;
}

static int dpu_add_region(struct vu_dp *dp, const struct vu_region *r)
{
	struct vu_mem_view *new = copy_mem(dp);
	int ret;

	if (!new)
		return -ENOMEM;
	ret = vu_mem_view_add(new, r);
	if (ret) {
		free(new);
		return ret;
	}
	swap_mem(dp, new);
	return 0;
}

static int dpu_remove_region(struct vu_dp *dp, const struct vu_region *r)
{
	struct vu_mem_view *new = copy_mem(dp);

	if (!new)
		return -ENOMEM;
	vu_mem_view_remove(new, r);
	swap_mem(dp, new);
	return 0;
}

/* ---- the rest of the ops ----------------------------------------------- */

static int dpu_probe(char *err, size_t errlen)
{
	struct io_uring ring;
	int ret = io_uring_queue_init(4, &ring, 0);

	if (ret) {
		snprintf(err, errlen, "io_uring is not available: %s", strerror(-ret));
		return ret;
	}
	io_uring_queue_exit(&ring);
	return 0;
}

static int dpu_open(struct vu_dp **out, const struct vu_export_cfg *cfg,
		    char *err, size_t errlen)
{
	struct vu_dp *dp = calloc(1, sizeof(*dp));
	int ret;

	if (!dp) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	dp->fd = -1;
	dp->mem = calloc(1, sizeof(*dp->mem));
	if (!dp->mem) {
		snprintf(err, errlen, "out of memory");
		ret = -ENOMEM;
		goto err;
	}
	dp->fd = dup_fd(cfg->backing_fd);
	if (dp->fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "%s: %s", cfg->backing, strerror(-ret));
		goto err;
	}
	dp->cfg = cfg;
	dp->write_cache = true;
	dp->lbs = cfg->lbs;
	dp->size = cfg->size;
	pthread_mutex_init(&dp->ev_lock, NULL);
	dp->inflight.fd = -1;
	for (uint32_t i = 0; i < VHU_MAX_QUEUES; i++) {
		struct dpu_queue *q = &dp->q[i];

		q->dp = dp;
		q->index = i;
		q->kick_fd = -1;
		q->ctl_fd = -1;
		q->call_fd = -1;
		q->err_fd = -1;
		q->own_call_fd = -1;
		q->own_err_fd = -1;
		pthread_mutex_init(&q->lock, NULL);
		pthread_cond_init(&q->cond, NULL);
	}
	*out = dp;
	return 0;
err:
	if (dp->fd >= 0)
		close(dp->fd);
	free(dp->mem);
	free(dp);
	return ret;
}

static void stop_all(struct vu_dp *dp)
{
	uint32_t base;

	for (uint32_t i = 0; i < dp->cfg->queues; i++)
		if (dp->q[i].running)
			dpu_stop_queue(dp, i, &base);
}

static void dpu_close(struct vu_dp *dp)
{
	stop_all(dp);
	for (uint32_t i = 0; i < VHU_MAX_QUEUES; i++) {
		pthread_mutex_destroy(&dp->q[i].lock);
		pthread_cond_destroy(&dp->q[i].cond);
	}
	pthread_mutex_destroy(&dp->ev_lock);
	close(dp->fd);
	free(dp->mem);
	free(dp);
}

/* The device's features, and dirty logging (VHOST_F_LOG_ALL). */
static uint64_t dpu_device_features(struct vu_dp *dp)
{
	return vu_blk_features(dp->cfg) | BIT(VU_F_LOG_ALL);
}

static void dpu_get_config(struct vu_dp *dp, struct virtio_blk_config *c)
{
	vu_blk_config(dp->cfg, dp->lbs, dp->write_cache, c);
	c->capacity = __atomic_load_n(&dp->size, __ATOMIC_RELAXED) >> 9;
}

/* The frontend is gone: forget everything it set up. */
static void dpu_detach(struct vu_dp *dp)
{
	stop_all(dp);
	/* As vhu.ko's VHU_RESET_OWNER: no queue has counters any more. */
	for (uint32_t i = 0; i < VHU_MAX_QUEUES; i++)
		memset(&dp->q[i].st, 0, sizeof(dp->q[i].st));
	memset(dp->mem, 0, sizeof(*dp->mem));
	memset(&dp->inflight, 0, sizeof(dp->inflight));
	dp->inflight.fd = -1;
	dp->features = 0;
	dp->lbs = dp->cfg->lbs;
	/* The server unmaps the log right after. */
	memset(&dp->log, 0, sizeof(dp->log));
	dp->log_all = false;
	for (uint32_t i = 0; i < VHU_MAX_QUEUES; i++)
		dp->q[i].log_used = false;
	/* The write cache mode stays: the frontend keeps showing it. */
}

/* Queue threads read the block size as they check each request. */
static int dpu_set_features(struct vu_dp *dp, uint64_t features)
{
	bool log_all = features & BIT(VU_F_LOG_ALL);

	/*
	 * Logging turns on or off with the threads parked: a write completed
	 * after this returns is logged, and none is once it went off.
	 */
	if (log_all != dp->log_all) {
		pause_all(dp);
		dp->log_all = log_all;
		resume_all(dp);
	}
	dp->features = features;
	__atomic_store_n(&dp->lbs, vu_blk_driver_lbs(dp->cfg, features), __ATOMIC_RELAXED);
	return 0;
}

/*
 * The server keeps the area mapped (and releases an old one only after
 * this returns); running queues move to the new area while parked.
 */
static int dpu_set_inflight(struct vu_dp *dp, const struct vu_inflight *inf)
{
	pause_all(dp);
	dp->inflight = *inf;
	for (uint32_t i = 0; i < dp->cfg->queues; i++)
		if (dp->q[i].running)
			dp->q[i].inflight = NULL;	/* tracked from the next start */
	resume_all(dp);
	return 0;
}

/*
 * A new log (or none) with every queue thread parked: once this returns
 * none writes the old one, which the server then unmaps.
 */
static int dpu_set_log(struct vu_dp *dp, const struct vu_log *log)
{
	pause_all(dp);
	dp->log = *log;
	resume_all(dp);
	return 0;
}

static int dpu_set_queue_log(struct vu_dp *dp, uint32_t index, bool log,
			     uint64_t used_gpa)
{
	struct dpu_queue *q = &dp->q[index];

	if (!q->running)
		return -EINVAL;
	pause_all(dp);
	q->log_used = log;
	q->log_used_gpa = used_gpa;
	resume_all(dp);
	return 0;
}

static int set_fd(struct vu_dp *dp, uint32_t index, int fd, bool call)
{
	struct dpu_queue *q = &dp->q[index];
	int nfd = dup_fd(fd);

	if (fd >= 0 && nfd < 0)
		return -errno;
	pthread_mutex_lock(&q->lock);
	close_fd(call ? &q->call_fd : &q->err_fd);
	if (call)
		q->call_fd = nfd;
	else
		q->err_fd = nfd;
	__atomic_store_n(&q->fd_gen, q->fd_gen + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&q->lock);
	return 0;
}

static int dpu_set_call(struct vu_dp *dp, uint32_t index, int fd)
{
	return set_fd(dp, index, fd, true);
}

static int dpu_set_err(struct vu_dp *dp, uint32_t index, int fd)
{
	return set_fd(dp, index, fd, false);
}

/* Write-through makes every write RWF_DSYNC and syncs after WRITE_ZEROES. */
static int dpu_set_write_cache(struct vu_dp *dp, bool write_cache)
{
	__atomic_store_n(&dp->write_cache, write_cache, __ATOMIC_RELAXED);
	return 0;
}

/* ---- the control socket's ops ---------------------------------------- */

static int dpu_get_stats(struct vu_dp *dp, struct vu_queue_stats *out,
			 unsigned int n, char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	for (unsigned int i = 0; i < n; i++) {
		struct dpu_queue *q = &dp->q[i];
		struct vu_queue_stats *s = &out[i];

		memset(s, 0, sizeof(*s));
		s->queue = i;
		s->state = VHU_VRING_STOPPED;
		if (!q->st.started)
			continue;
		if (DPU_STAT_GET(q, error))
			s->state = VHU_VRING_ERROR;
		else if (q->running)
			s->state = VHU_VRING_RUNNING;
		s->reqs_in = DPU_STAT_GET(q, reqs_in);
		s->reqs_out = DPU_STAT_GET(q, reqs_out);
		s->reqs_flush = DPU_STAT_GET(q, reqs_flush);
		s->reqs_get_id = DPU_STAT_GET(q, reqs_get_id);
		s->reqs_discard = DPU_STAT_GET(q, reqs_discard);
		s->reqs_write_zeroes = DPU_STAT_GET(q, reqs_write_zeroes);
		s->reqs_unsupp = DPU_STAT_GET(q, reqs_unsupp);
		s->reqs_ioerr = DPU_STAT_GET(q, reqs_ioerr);
		s->bytes_read = DPU_STAT_GET(q, bytes_read);
		s->bytes_written = DPU_STAT_GET(q, bytes_written);
		s->ring_errors = DPU_STAT_GET(q, ring_errors);
		s->inflight = DPU_STAT_GET(q, inflight);
		s->kicks = DPU_STAT_GET(q, kicks);
		s->calls = DPU_STAT_GET(q, calls);
		s->last_avail_idx = DPU_STAT_GET(q, last_avail);
	}
	return n;
}

/* Each request reads the size once, as it is checked (dpu_blk.c). */
static int dpu_set_capacity(struct vu_dp *dp, uint64_t bytes, char *err,
			    size_t errlen)
{
	(void)err;
	(void)errlen;
	__atomic_store_n(&dp->size, bytes, __ATOMIC_RELAXED);
	return 0;
}

static void dpu_set_event_cb(struct vu_dp *dp, vu_dev_event_fn *fn, void *ctx)
{
	pthread_mutex_lock(&dp->ev_lock);
	dp->ev_ctx = ctx;
	__atomic_store_n(&dp->ev_fn, fn, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&dp->ev_lock);
}

const struct vu_dp_ops vu_dp_user_ops = {
	.name = "user",
	.probe = dpu_probe,
	.open = dpu_open,
	.close = dpu_close,
	.device_features = dpu_device_features,
	.get_config = dpu_get_config,
	.detach = dpu_detach,
	.set_features = dpu_set_features,
	.set_mem_table = dpu_set_mem_table,
	.add_region = dpu_add_region,
	.remove_region = dpu_remove_region,
	.set_inflight = dpu_set_inflight,
	.start_queue = dpu_start_queue,
	.stop_queue = dpu_stop_queue,
	.set_call = dpu_set_call,
	.set_err = dpu_set_err,
	.set_write_cache = dpu_set_write_cache,
	.get_stats = dpu_get_stats,
	.set_capacity = dpu_set_capacity,
	.set_event_cb = dpu_set_event_cb,
	.set_log = dpu_set_log,
	.set_queue_log = dpu_set_queue_log,
};
