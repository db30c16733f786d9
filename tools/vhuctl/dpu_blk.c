// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: virtio-blk requests of the userspace datapath, on io_uring.
 *
 * The same checks as vhu.ko (kernel/blk.c): a request whose buffers are
 * bad, too large or in the wrong direction, or whose sectors are out of
 * range or misaligned, completes with IOERR (UNSUPP for unknown types and
 * flags) without touching the backing. Reads and writes go to io_uring
 * with the guest's own iovecs (no copy); flush is IORING_OP_FSYNC;
 * discard and write zeroes are IORING_OP_FALLOCATE, which a block device
 * turns into a discard or zero-out.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

#include "dpu.h"

#define SECTOR_SHIFT 9

static size_t iov_gather(const struct iovec *iov, unsigned int n, void *buf,
			 size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t k = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy((char *)buf + done, iov[i].iov_base, k);
		done += k;
	}
	return done;
}

static size_t iov_scatter(const struct iovec *iov, unsigned int n,
			  const void *buf, size_t len)
{
	size_t done = 0;

	for (unsigned int i = 0; i < n && done < len; i++) {
		size_t k = iov[i].iov_len < len - done ? iov[i].iov_len : len - done;

		memcpy(iov[i].iov_base, (const char *)buf + done, k);
		done += k;
	}
	return done;
}

/* Drop the first skip bytes of an iovec array (edits it in place). */
static struct iovec *iov_skip(struct iovec *iov, unsigned int *n, size_t skip)
{
	while (*n && skip >= iov->iov_len) {
		skip -= iov->iov_len;
		iov++;
		(*n)--;
	}
	if (*n && skip) {
		iov->iov_base = (char *)iov->iov_base + skip;
		iov->iov_len -= skip;
	}
	return iov;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An IOERR for the event callback, at most one a DPU_IOERR_EVENT_MS per queue. */
static void ioerr_event(struct dpu_queue *q)
{
	uint64_t now;

	if (!__atomic_load_n(&q->dp->ev_fn, __ATOMIC_RELAXED))
		return;
	now = now_ms();
	if (q->ioerr_event_ms && now - q->ioerr_event_ms < DPU_IOERR_EVENT_MS)
		return;
	q->ioerr_event_ms = now ?: 1;
	dpu_event(q, VU_DEV_EV_IO_ERROR);
}

/* The counters of a completed request, as vhu.ko counts them. */
static void account(struct dpu_queue *q, const struct dpu_req *req)
{
	bool ok = req->status == VIRTIO_BLK_S_OK;

	if (req->status == VIRTIO_BLK_S_UNSUPP) {
		DPU_STAT_ADD(q, reqs_unsupp, 1);
	} else if (req->status == VIRTIO_BLK_S_IOERR) {
		DPU_STAT_ADD(q, reqs_ioerr, 1);
		ioerr_event(q);
	}
	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		DPU_STAT_ADD(q, reqs_in, 1);
		if (ok && req->expect)
			DPU_STAT_ADD(q, bytes_read, req->expect);
		break;
	case VIRTIO_BLK_T_OUT:
		DPU_STAT_ADD(q, reqs_out, 1);
		if (ok && req->expect)
			DPU_STAT_ADD(q, bytes_written, req->expect);
		break;
	case VIRTIO_BLK_T_FLUSH:
		DPU_STAT_ADD(q, reqs_flush, 1);
		break;
	case VIRTIO_BLK_T_GET_ID:
		DPU_STAT_ADD(q, reqs_get_id, 1);
		break;
	case VIRTIO_BLK_T_DISCARD:
		DPU_STAT_ADD(q, reqs_discard, 1);
		break;
	case VIRTIO_BLK_T_WRITE_ZEROES:
		DPU_STAT_ADD(q, reqs_write_zeroes, 1);
		break;
	}
}

/*
 * Dirty logging: a read's buffers, now written, whether or not it
 * succeeded (a failed read may have written part of them). The status
 * byte is marked by dpu_req_done(), which writes it.
 */
static void finish(struct dpu_queue *q, struct dpu_req *req, uint8_t status)
{
	req->status = status;
	if (dpu_logging(q) && req->type == VIRTIO_BLK_T_IN && req->iov)
		dpu_log_iov(q, req->iov, req->niov, req->expect);
	account(q, req);
	free(req->iov);
	free(req->bounce);
	req->iov = NULL;
	req->bounce = NULL;
	dpu_req_done(q, req);
}

/* The driver's logical block size: requests are aligned to it. */
static unsigned int driver_lbs(const struct dpu_queue *q)
{
	return __atomic_load_n(&q->dp->lbs, __ATOMIC_RELAXED);
}

/*
 * The capacity a request is checked against, read once: a resize
 * applies to the requests taken after it.
 */
static uint64_t disk_size(const struct dpu_queue *q)
{
	return __atomic_load_n(&q->dp->size, __ATOMIC_RELAXED);
}

/* [sector, +len) inside the disk, aligned and not too large. */
static bool range_ok(const struct dpu_queue *q, uint64_t sector, uint64_t len)
{
	unsigned int lbs = driver_lbs(q);
	uint64_t size = disk_size(q);

	if (len > DPU_REQ_MAX_BYTES || len % lbs)
		return false;
	if (sector > size >> SECTOR_SHIFT)
		return false;
	if ((sector << SECTOR_SHIFT) % lbs)
		return false;
	return len <= size - (sector << SECTOR_SHIFT);
}

/* Write-through: every write is durable when it completes. */
static int write_flags(const struct dpu_queue *q)
{
	return __atomic_load_n(&q->dp->write_cache, __ATOMIC_RELAXED) ? 0 : RWF_DSYNC;
}

static void submit_rw(struct dpu_queue *q, struct dpu_req *req,
		      struct iovec *iov, unsigned int n, uint64_t len,
		      uint64_t sector)
{
	struct io_uring_sqe *sqe;

	if (!len) {
		finish(q, req, VIRTIO_BLK_S_OK);
		return;
	}
	req->iov = malloc(n * sizeof(*iov));
	if (!req->iov) {
		finish(q, req, VIRTIO_BLK_S_IOERR);
		return;
	}
	memcpy(req->iov, iov, n * sizeof(*iov));
	req->niov = n;
	req->expect = len;
	req->off = sector << SECTOR_SHIFT;
	sqe = dpu_get_sqe(q);
	if (req->type == VIRTIO_BLK_T_IN)
		io_uring_prep_readv(sqe, q->dp->fd, req->iov, n, req->off);
	else
		io_uring_prep_writev2(sqe, q->dp->fd, req->iov, n, req->off,
				      write_flags(q));
	io_uring_sqe_set_data(sqe, req);
}

static void submit_falloc(struct dpu_queue *q, struct dpu_req *req)
{
	struct io_uring_sqe *sqe = dpu_get_sqe(q);

	io_uring_prep_fallocate(sqe, q->dp->fd, req->falloc_mode, req->off,
				req->len);
	io_uring_sqe_set_data(sqe, req);
}

/*
 * O_DIRECT refused the guest's buffers (not aligned for the backing):
 * go through an aligned copy instead, like QEMU's bounce buffers.
 */
static bool submit_bounce(struct dpu_queue *q, struct dpu_req *req)
{
	struct io_uring_sqe *sqe;

	if (posix_memalign(&req->bounce, 4096, req->expect)) {
		req->bounce = NULL;
		return false;
	}
	sqe = dpu_get_sqe(q);
	if (req->type == VIRTIO_BLK_T_IN) {
		io_uring_prep_read(sqe, q->dp->fd, req->bounce, req->expect, req->off);
	} else {
		iov_gather(req->iov, req->niov, req->bounce, req->expect);
		io_uring_prep_write(sqe, q->dp->fd, req->bounce, req->expect, req->off);
		sqe->rw_flags = write_flags(q);
	}
	io_uring_sqe_set_data(sqe, req);
	return true;
}

static void submit_flush(struct dpu_queue *q, struct dpu_req *req)
{
	struct io_uring_sqe *sqe = dpu_get_sqe(q);

	io_uring_prep_fsync(sqe, q->dp->fd, IORING_FSYNC_DATASYNC);
	io_uring_sqe_set_data(sqe, req);
}

/* Discard and write zeroes: one segment (max_*_seg is 1), checked. */
static uint8_t prep_segs(struct dpu_queue *q, struct dpu_req *req,
			 struct iovec *out, unsigned int nout, uint64_t len)
{
	struct virtio_blk_discard_write_zeroes seg;
	uint32_t lbs_sectors = driver_lbs(q) >> SECTOR_SHIFT;
	uint32_t max = 0x3fffff & ~(lbs_sectors - 1);
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	uint32_t known = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;
	uint64_t disk = disk_size(q) >> SECTOR_SHIFT;

	if (len != sizeof(seg) ||
	    iov_gather(out, nout, &seg, sizeof(seg)) != sizeof(seg))
		return VIRTIO_BLK_S_IOERR;
	if (seg.flags & ~known)
		return VIRTIO_BLK_S_UNSUPP;
	if (!seg.num_sectors || seg.num_sectors > max ||
	    seg.sector % lbs_sectors || seg.num_sectors % lbs_sectors ||
	    seg.sector > disk || seg.num_sectors > disk - seg.sector)
		return VIRTIO_BLK_S_IOERR;
	req->off = seg.sector << SECTOR_SHIFT;
	req->len = (uint64_t)seg.num_sectors << SECTOR_SHIFT;
	if (discard) {
		req->falloc_mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		req->falloc_alt = -1;
	} else if (seg.flags & VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP) {
		req->falloc_mode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
		req->falloc_alt = FALLOC_FL_ZERO_RANGE;
	} else {
		/* A hole in a file reads as zeroes too (tmpfs has no ZERO_RANGE). */
		req->falloc_mode = FALLOC_FL_ZERO_RANGE;
		req->falloc_alt = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
	}
	return VIRTIO_BLK_S_OK;
}

static void get_id(struct dpu_queue *q, struct dpu_req *req,
		   struct iovec *in, unsigned int nin, uint64_t in_len)
{
	char id[VIRTIO_BLK_ID_BYTES] = { 0 };
	size_t n = in_len < sizeof(id) ? in_len : sizeof(id);

	memcpy(id, q->dp->cfg->serial, strnlen(q->dp->cfg->serial, sizeof(id)));
	req->written += iov_scatter(in, nin, id, n);
	if (dpu_logging(q))
		dpu_log_iov(q, in, nin, n);
	finish(q, req, VIRTIO_BLK_S_OK);
}

void dpu_blk_start(struct dpu_queue *q, struct dpu_req *req, struct dpu_chain *c)
{
	const struct vu_export_cfg *cfg = q->dp->cfg;
	struct virtio_blk_outhdr hdr;
	struct iovec *out = c->iov, *in;
	unsigned int nout = c->nout, nin = c->nin;
	uint64_t out_len, in_len;
	uint8_t status;

	req->type = 0xff;
	req->written = 0;
	req->expect = 0;
	req->syncing = false;
	req->iov = NULL;
	req->bounce = NULL;
	req->status_ptr = c->have_status ? vu_mem_view_ptr(q->mem, c->status_gpa, 1) : NULL;
	if (req->status_ptr)
		req->written = 1;
	if (c->bad || !req->status_ptr || c->out_len > DPU_REQ_MAX_BYTES + 4096 ||
	    c->in_len > DPU_REQ_MAX_BYTES + 4096) {
		finish(q, req, VIRTIO_BLK_S_IOERR);
		return;
	}
	/* The status byte is not a data buffer. */
	in = c->iov + nout;
	if (nin && !--in[nin - 1].iov_len)
		nin--;
	in_len = c->in_len - 1;

	if (iov_gather(out, nout, &hdr, sizeof(hdr)) != sizeof(hdr)) {
		finish(q, req, VIRTIO_BLK_S_IOERR);
		return;
	}
	out = iov_skip(out, &nout, sizeof(hdr));
	out_len = c->out_len - sizeof(hdr);
	req->type = hdr.type > 0xfe ? 0xfe : hdr.type;

	switch (hdr.type) {
	case VIRTIO_BLK_T_IN:
		if (out_len || !range_ok(q, hdr.sector, in_len))
			break;
		submit_rw(q, req, in, nin, in_len, hdr.sector);
		return;
	case VIRTIO_BLK_T_OUT:
		if (cfg->readonly || in_len || !range_ok(q, hdr.sector, out_len))
			break;
		submit_rw(q, req, out, nout, out_len, hdr.sector);
		return;
	case VIRTIO_BLK_T_FLUSH:
		submit_flush(q, req);
		return;
	case VIRTIO_BLK_T_GET_ID:
		get_id(q, req, in, nin, in_len);
		return;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (cfg->readonly) {
			finish(q, req, VIRTIO_BLK_S_UNSUPP);
			return;
		}
		if (in_len) {
			finish(q, req, VIRTIO_BLK_S_IOERR);
			return;
		}
		status = prep_segs(q, req, out, nout, out_len);
		if (status != VIRTIO_BLK_S_OK) {
			finish(q, req, status);
			return;
		}
		submit_falloc(q, req);
		return;
	default:
		finish(q, req, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	finish(q, req, VIRTIO_BLK_S_IOERR);
}

void dpu_blk_complete(struct dpu_queue *q, struct dpu_req *req, int res)
{
	uint8_t status = res < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
	case VIRTIO_BLK_T_OUT:
		if (res == -EINVAL && q->dp->cfg->direct && !req->bounce &&
		    submit_bounce(q, req))
			return;
		if (res < 0 || (uint32_t)res != req->expect) {
			status = VIRTIO_BLK_S_IOERR;
		} else if (req->type == VIRTIO_BLK_T_IN) {
			if (req->bounce)
				iov_scatter(req->iov, req->niov, req->bounce, req->expect);
			req->written += req->expect;
		}
		break;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (req->syncing)
			break;
		if ((res == -EOPNOTSUPP || res == -EINVAL) && req->falloc_alt >= 0) {
			req->falloc_mode = req->falloc_alt;
			req->falloc_alt = -1;
			submit_falloc(q, req);
			return;
		}
		/* Discard is a hint: a backing that cannot punch holes ignores it. */
		if (req->type == VIRTIO_BLK_T_DISCARD && res == -EOPNOTSUPP)
			status = VIRTIO_BLK_S_OK;
		/* Write-through: the zeroes are durable before it completes. */
		if (req->type == VIRTIO_BLK_T_WRITE_ZEROES && res >= 0 && write_flags(q)) {
			req->syncing = true;
			submit_flush(q, req);
			return;
		}
		break;
	}
	finish(q, req, status);
}
