// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: virtio-blk requests on the backend.
 *
 * Reads and writes are asynchronous kiocbs on the backing file's
 * read_iter/write_iter with an iov_iter over the guest buffers (owner
 * addresses; the submitting worker has the owner's mm): direct I/O when
 * the file was opened O_DIRECT, buffered otherwise. With guest memory
 * pinned (VHU_MEM_F_PIN) a block device opened O_DIRECT gets a bio
 * instead, built on the request's bio_vecs (vhu_blk_rw_bio()). FLUSH, DISCARD and
 * WRITE_ZEROES block, so they run on the device's own worker (worker.c).
 * Every completion is handed back to the vring's worker, which writes the
 * status and the used ring.
 */

#include <linux/blkdev.h>
#include <linux/falloc.h>
#include <linux/file.h>
#include <linux/log2.h>
#include <linux/pagemap.h>
#include <linux/slab.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_config.h>

#include "vhu.h"

#define VHU_SECTOR_SHIFT	9

static void vhu_req_finish(struct vhu_req *req, u8 status)
{
	req->status = status;
	req->written++;		/* the status byte */
	vhu_req_complete(req);
}

/* ---- reads and writes ---- */

/* A read or write is over: @ret bytes, or a negative errno. */
static void vhu_blk_rw_done(struct vhu_req *req, long ret)
{
	req->result = ret;
	if (ret < 0 || ret != req->len) {
		vhu_req_finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	if (req->type == VIRTIO_BLK_T_IN)
		req->written = ret;
	vhu_req_finish(req, VIRTIO_BLK_S_OK);
}

static void vhu_blk_rw_complete(struct kiocb *iocb, long ret)
{
	struct vhu_req *req = container_of(iocb, struct vhu_req, iocb);

	/* The write is over: the file system may freeze now. */
	if ((iocb->ki_flags & IOCB_WRITE) &&
	    S_ISREG(file_inode(iocb->ki_filp)->i_mode))
		kiocb_end_write(iocb);
	vhu_blk_rw_done(req, ret);
}

/* ---- reads and writes as bios, on pinned pages ---- */

/*
 * The request's own bio is over. bio_endio() has dropped its blkcg
 * reference already; bio_uninit() releases whatever else the block layer
 * may have hung on it, as it must for a bio that bio_init() set up. The
 * request may be reused as soon as it is complete: nothing reads the bio
 * after.
 */
static void vhu_blk_bio_end(struct bio *bio)
{
	struct vhu_req *req = container_of(bio, struct vhu_req, bio);
	blk_status_t status = bio->bi_status;

	bio_uninit(bio);
	/* No call to convert the usual success. */
	vhu_blk_rw_done(req, status ? blk_status_to_errno(status) : req->len);
}

/*
 * Whether every piece of @iter, a bio_vec iterator, starts at a multiple
 * of @bdev's DMA alignment and is a multiple of its logical block size
 * long: bdev_iter_is_aligned(), without the call and the dispatch on the
 * iterator's type. At most VHU_REQ_MAX_BVEC pieces.
 */
static bool vhu_blk_bvec_aligned(struct block_device *bdev,
				 const struct iov_iter *iter)
{
	unsigned int addr_mask = bdev_dma_alignment(bdev);
	unsigned int len_mask = bdev_logical_block_size(bdev) - 1;
	const struct bio_vec *bv = iter->bvec;
	size_t size = iov_iter_count(iter);
	size_t skip = iter->iov_offset;
	unsigned long i;

	for (i = 0; i < iter->nr_segs && size; i++, skip = 0) {
		size_t len = min_t(size_t, bv[i].bv_len - skip, size);

		if ((len & len_mask) || ((bv[i].bv_offset + skip) & addr_mask))
			return false;
		size -= len;
	}
	return !size;
}

/*
 * Whether a read or write may bypass the block device's read_iter and
 * write_iter: with the pages pinned already, all their direct I/O path
 * would do is the atime update and the bio. Only for a block device
 * opened O_DIRECT, on buffers its queue can take as they are (else the
 * direct I/O path's -EINVAL stays its answer), and while the device has
 * no page cache: a direct write through write_iter invalidates the pages
 * another opener may have cached, a bio does not.
 */
static bool vhu_blk_bio_ok(struct vhu_backend_info *be, struct iov_iter *iter)
{
	return be->bdev && (be->caps & VHU_CAP_DIRECT) &&
	       iov_iter_is_bvec(iter) && !READ_ONCE(be->file->f_mapping->nrpages) &&
	       vhu_blk_bvec_aligned(be->bdev, iter);
}

/*
 * The bio takes @iter's bio_vecs (the request's) as they are, as
 * bio_iov_iter_get_pages() does for a bio_vec iterator (BIO_CLONED: it
 * does not own them), without then stepping @iter over them all: nothing
 * reads @iter after.
 */
static void vhu_blk_bio_set_bvec(struct bio *bio, const struct iov_iter *iter)
{
	bio->bi_vcnt = iter->nr_segs;
	bio->bi_io_vec = (struct bio_vec *)iter->bvec;
	bio->bi_iter.bi_bvec_done = iter->iov_offset;
	bio->bi_iter.bi_size = iov_iter_count(iter);
	bio_set_flag(bio, BIO_CLONED);
	vhu_bio_set_no_page_ref(bio);
}

/*
 * A read or write as one bio on the request's bio_vecs (the block layer
 * splits it as the queue needs, into clones from its own bio_set), as
 * blkdev_direct_IO() would submit it: writes REQ_SYNC | REQ_IDLE, and
 * REQ_FUA in write-through mode. The bio is the request's own
 * (vhu_req.bio), as nvmet's bdev backend has an inline bio per request:
 * nothing is allocated or freed per I/O. It is set up and submitted by
 * the vring's worker, a thread of the owner, so it is charged to the
 * owner's blkcg (bio_associate_blkg() in bio_init()) as the kiocb path's
 * bios are. What write_iter checks of a block device first is checked
 * here too: read-only, active swap.
 */
static void vhu_blk_rw_bio(struct vhu_req *req, struct iov_iter *iter, u64 pos,
			   bool write)
{
	struct block_device *bdev = req->be->bdev;
	struct inode *inode = req->be->file->f_mapping->host;
	struct bio *bio = &req->bio;
	blk_opf_t opf = REQ_OP_READ;

	if (write) {
		if (bdev_read_only(bdev)) {
			vhu_blk_rw_done(req, -EPERM);
			return;
		}
		if (IS_SWAPFILE(inode)) {
			vhu_blk_rw_done(req, -ETXTBSY);
			return;
		}
		opf = REQ_OP_WRITE | REQ_SYNC | REQ_IDLE;
		if (!READ_ONCE(req->vq->dev->write_cache))
			opf |= REQ_FUA;
	}
	bio_init(bio, bdev, NULL, 0, opf);
	bio->bi_iter.bi_sector = pos >> VHU_SECTOR_SHIFT;
	bio->bi_end_io = vhu_blk_bio_end;
	/* Takes the array as it is, pins nothing. */
	vhu_blk_bio_set_bvec(bio, iter);
	submit_bio(bio);
}

/*
 * @iter, and the iovecs it walks, are valid until this returns: all that
 * read_iter and write_iter may use them for, even when they complete
 * later (aio submits from an iovec array on its stack in the same way).
 */
static void vhu_blk_rw(struct vhu_req *req, struct iov_iter *iter, u64 pos)
{
	struct file *file = req->be->file;
	bool write = req->type == VIRTIO_BLK_T_OUT;
	size_t len = iov_iter_count(iter);
	loff_t vpos = pos;
	ssize_t ret;

	req->len = len;

	/* What read(2) and write(2) check first: the LSMs, fanotify. */
	ret = rw_verify_area(write ? WRITE : READ, file, &vpos, len);
	if (ret) {
		vhu_blk_rw_done(req, ret);
		return;
	}
	/* A bio needs no kiocb. */
	if (vhu_blk_bio_ok(req->be, iter)) {
		vhu_blk_rw_bio(req, iter, pos, write);
		return;
	}

	init_sync_kiocb(&req->iocb, file);
	/* Of the file's own flags, only direct I/O and sync writes apply. */
	req->iocb.ki_flags &= IOCB_DIRECT | IOCB_DSYNC | IOCB_SYNC;
	req->iocb.ki_pos = pos;
	req->iocb.ki_complete = vhu_blk_rw_complete;
	if (write) {
		/* Write-through: complete only once durable (FUA or a flush). */
		if (!READ_ONCE(req->vq->dev->write_cache))
			req->iocb.ki_flags |= IOCB_DSYNC;
		/*
		 * Freeze protection until the write completes, not only
		 * while it is submitted, as aio and io_uring hold it.
		 */
		if (S_ISREG(file_inode(file)->i_mode))
			kiocb_start_write(&req->iocb);
		req->iocb.ki_flags |= IOCB_WRITE;
		ret = file->f_op->write_iter(&req->iocb, iter);
	} else {
		ret = file->f_op->read_iter(&req->iocb, iter);
	}
	if (ret != -EIOCBQUEUED)
		vhu_blk_rw_complete(&req->iocb, ret);
}

/* ---- flush, discard, write zeroes: blocking, on the device's worker ---- */

static int vhu_blk_zero_range(struct vhu_req *req, u64 pos, u64 len,
			      bool unmap)
{
	struct file *file = req->be->file;
	int ret = -EOPNOTSUPP;

	/* The block layer zeroes a read-only device: refuse, as writes. */
	if (req->be->bdev && bdev_read_only(req->be->bdev))
		return -EPERM;

	if (unmap)
		ret = vfs_fallocate(file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    pos, len);
	if (ret == -EOPNOTSUPP)
		ret = vfs_fallocate(file, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE,
				    pos, len);
	/* A file system without ZERO_RANGE (tmpfs): a hole reads as zeroes. */
	if (ret == -EOPNOTSUPP && !req->be->bdev)
		ret = vfs_fallocate(file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				    pos, len);
	return ret;
}

/*
 * A block device's discard, with what BLKDISCARD does around it. The
 * block layer lets a discard to a read-only device through with only a
 * warning: refuse it, as a write is refused. The range's page cache goes
 * first, or a buffered reader (another opener, or this backend opened
 * without O_DIRECT) would keep reading the data from before the discard.
 * The invalidate lock keeps the cache from being filled from the range
 * again until the discard is done; the inode lock, which BLKDISCARD takes
 * too on newer kernels, keeps their buffered I/O and block size changes
 * out meanwhile.
 */
static int vhu_blk_discard_bdev(struct vhu_backend_info *be, u64 pos, u64 len)
{
	struct file *file = be->file;
	struct address_space *mapping = file->f_mapping;
	struct block_device *bdev = be->bdev;
	loff_t end = pos + len - 1;
	int ret;

	if (!(file->f_mode & FMODE_WRITE))
		return -EBADF;
	if (bdev_read_only(bdev))
		return -EPERM;

	inode_lock(mapping->host);
	filemap_invalidate_lock(mapping);
	/*
	 * Truncating the pages of a file system mounted on the device could
	 * free buffers it is using: as BLKDISCARD does, claim the device
	 * around the truncation, which fails while another holder has it
	 * exclusively, and then only invalidate the pages nobody uses. The
	 * backing file is the claim's holder: opened O_EXCL, it is the
	 * device's holder already, the claim succeeds, and the pages are
	 * truncated, as BLKDISCARD does for an exclusive opener.
	 */
	if (!bd_prepare_to_claim(bdev, file, NULL)) {
		truncate_inode_pages_range(mapping, pos, end);
		bd_abort_claiming(bdev, file);
		ret = 0;
	} else {
		ret = invalidate_inode_pages2_range(mapping, pos >> PAGE_SHIFT,
						    end >> PAGE_SHIFT);
	}
	if (!ret)
		ret = blkdev_issue_discard(bdev, pos >> VHU_SECTOR_SHIFT,
					   len >> VHU_SECTOR_SHIFT, GFP_KERNEL);
	filemap_invalidate_unlock(mapping);
	inode_unlock(mapping->host);
	return ret;
}

static int vhu_blk_discard_range(struct vhu_req *req, u64 pos, u64 len)
{
	struct vhu_backend_info *be = req->be;

	if (be->bdev)
		return vhu_blk_discard_bdev(be, pos, len);
	return vfs_fallocate(be->file, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
			     pos, len);
}

/**
 * vhu_blk_run_blocking() - run a FLUSH, DISCARD or WRITE_ZEROES request
 * @req: the request, its segments copied in
 *
 * Context: the device's worker, or the vring's when the owner is being
 * killed; may block for as long as the backend takes.
 */
void vhu_blk_run_blocking(struct vhu_req *req)
{
	int ret = 0;
	u32 i;

	if (req->type == VIRTIO_BLK_T_FLUSH) {
		ret = vfs_fsync(req->be->file, 0);
	} else {
		for (i = 0; i < req->nr_segs && !ret; i++) {
			const struct virtio_blk_discard_write_zeroes *s = &req->segs[i];
			u64 pos = __le64_to_cpu(s->sector) << VHU_SECTOR_SHIFT;
			u64 len = (u64)__le32_to_cpu(s->num_sectors) << VHU_SECTOR_SHIFT;
			bool unmap = __le32_to_cpu(s->flags) &
				     VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

			if (req->type == VIRTIO_BLK_T_DISCARD)
				ret = vhu_blk_discard_range(req, pos, len);
			else
				ret = vhu_blk_zero_range(req, pos, len, unmap);
		}
	}
	/* Write-through: the zeroes are durable before the request completes. */
	if (!ret && req->type == VIRTIO_BLK_T_WRITE_ZEROES &&
	    !READ_ONCE(req->vq->dev->write_cache))
		ret = vfs_fsync(req->be->file, 1);
	req->result = ret;
	vhu_req_finish(req, ret ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

/*
 * Check the ranges of a discard/write-zeroes request against @size, the
 * capacity in bytes this request sees; copy them in.
 */
static u8 vhu_blk_prep_segs(struct vhu_req *req, struct iov_iter *out,
			    u64 size)
{
	const struct vhu_blk_config *cfg = &req->be->config;
	bool discard = req->type == VIRTIO_BLK_T_DISCARD;
	u32 max_seg = discard ? cfg->max_discard_seg : cfg->max_write_zeroes_seg;
	u32 max_sectors = discard ? cfg->max_discard_sectors :
				    cfg->max_write_zeroes_sectors;
	u32 align = cfg->blk_size >> VHU_SECTOR_SHIFT;
	size_t len = iov_iter_count(out);
	size_t n = len / sizeof(*req->segs);
	u32 i;

	if (!n || len % sizeof(*req->segs) || n > max_seg)
		return VIRTIO_BLK_S_IOERR;
	if (vhu_req_alloc_segs(req, n))
		return VIRTIO_BLK_S_IOERR;
	if (copy_from_iter(req->segs, len, out) != len)
		return VIRTIO_BLK_S_IOERR;
	req->nr_segs = n;

	for (i = 0; i < n; i++) {
		u64 sector = __le64_to_cpu(req->segs[i].sector);
		u32 num = __le32_to_cpu(req->segs[i].num_sectors);
		u32 flags = __le32_to_cpu(req->segs[i].flags);
		u32 known = discard ? 0 : VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP;

		if (flags & ~known)
			return VIRTIO_BLK_S_UNSUPP;
		if (!num || num > max_sectors || sector % align || num % align ||
		    sector > size >> VHU_SECTOR_SHIFT ||
		    num > (size >> VHU_SECTOR_SHIFT) - sector)
			return VIRTIO_BLK_S_IOERR;
	}
	return VIRTIO_BLK_S_OK;
}

/*
 * Whether [sector, sector + len) is inside a disk of @size bytes and
 * aligned.
 */
static bool vhu_blk_range_ok(struct vhu_backend_info *be, u64 size,
			     u64 sector, size_t len)
{
	u32 bs = be->config.blk_size;

	if (len > VHU_REQ_MAX_BYTES || len % bs)
		return false;
	if (sector > size >> VHU_SECTOR_SHIFT)
		return false;
	if ((sector << VHU_SECTOR_SHIFT) % bs)
		return false;
	return len <= size - (sector << VHU_SECTOR_SHIFT);
}

/*
 * The request header, from the start of @out. A pinned request's header
 * usually is the whole of its first bio_vec: read it from that page
 * directly rather than through copy_from_iter()'s generic walk, and step
 * @out over it as iov_iter_advance() would, without its walk either: past
 * the bio_vec when the header is all of it (its own descriptor, as
 * drivers lay requests out), else into it.
 */
static bool vhu_blk_read_hdr(struct iov_iter *out, struct virtio_blk_outhdr *hdr)
{
	if (iov_iter_is_bvec(out) && out->nr_segs && !out->iov_offset &&
	    out->bvec->bv_len >= sizeof(*hdr) &&
	    iov_iter_count(out) >= sizeof(*hdr)) {
		memcpy_from_page((char *)hdr, out->bvec->bv_page,
				 out->bvec->bv_offset, sizeof(*hdr));
		if (out->bvec->bv_len == sizeof(*hdr)) {
			out->bvec++;
			out->nr_segs--;
		} else {
			out->iov_offset = sizeof(*hdr);
		}
		out->count -= sizeof(*hdr);
		return true;
	}
	return copy_from_iter(hdr, sizeof(*hdr), out) == sizeof(*hdr);
}

/**
 * vhu_blk_submit() - execute a virtio-blk request
 * @req: the request, with its buffers, status address and backend
 * @out: the device-readable buffers (header, then data)
 * @in: the device-writable buffers without the status byte
 *
 * @out and @in are only valid during the call: what the request needs of
 * them later (discard segments) is copied.
 *
 * Malformed requests complete right away with IOERR or UNSUPP without
 * touching the backend.
 *
 * Context: the vring's worker, with the owner's mm adopted.
 */
void vhu_blk_submit(struct vhu_req *req, struct iov_iter *out,
		    struct iov_iter *in)
{
	struct vhu_backend_info *be = req->be;
	/* VHU_SET_CAPACITY may change it: one value for the whole check. */
	u64 size = READ_ONCE(be->size);
	struct virtio_blk_outhdr hdr;
	u64 sector;
	u8 status;

	if (!vhu_blk_read_hdr(out, &hdr)) {
		vhu_req_finish(req, VIRTIO_BLK_S_IOERR);
		return;
	}
	req->type = __virtio32_to_cpu(true, hdr.type);
	sector = __virtio64_to_cpu(true, hdr.sector);

	switch (req->type) {
	case VIRTIO_BLK_T_IN:
		if (!vhu_blk_range_ok(be, size, sector, iov_iter_count(in)))
			break;
		vhu_blk_rw(req, in, sector << VHU_SECTOR_SHIFT);
		return;
	case VIRTIO_BLK_T_OUT:
		if (!(be->caps & VHU_CAP_WRITE) ||
		    !vhu_blk_range_ok(be, size, sector,
				      iov_iter_count(out)))
			break;
		vhu_blk_rw(req, out, sector << VHU_SECTOR_SHIFT);
		return;
	case VIRTIO_BLK_T_FLUSH:
		if (!(be->caps & VHU_CAP_FLUSH)) {
			vhu_req_finish(req, VIRTIO_BLK_S_UNSUPP);
			return;
		}
		vhu_worker_queue_blocking(req);
		return;
	case VIRTIO_BLK_T_GET_ID:
		req->written = copy_to_iter(be->config.serial,
					    min_t(size_t, VHU_BLK_ID_BYTES,
						  iov_iter_count(in)), in);
		vhu_req_finish(req, VIRTIO_BLK_S_OK);
		return;
	case VIRTIO_BLK_T_DISCARD:
	case VIRTIO_BLK_T_WRITE_ZEROES:
		if (!(be->caps & (req->type == VIRTIO_BLK_T_DISCARD ?
				  VHU_CAP_DISCARD : VHU_CAP_WRITE_ZEROES))) {
			vhu_req_finish(req, VIRTIO_BLK_S_UNSUPP);
			return;
		}
		status = vhu_blk_prep_segs(req, out, size);
		if (status != VIRTIO_BLK_S_OK) {
			vhu_req_finish(req, status);
			return;
		}
		vhu_worker_queue_blocking(req);
		return;
	default:
		vhu_req_finish(req, VIRTIO_BLK_S_UNSUPP);
		return;
	}
	vhu_req_finish(req, VIRTIO_BLK_S_IOERR);
}

/* ---- the backend ---- */

/**
 * vhu_blk_free_backend() - release a backend
 * @be: the backend, may be NULL
 *
 * Context: process context; no request uses it.
 */
void vhu_blk_free_backend(struct vhu_backend_info *be)
{
	if (!be)
		return;
	fput(be->file);
	kfree(be);
}

static bool vhu_cfg_padding_ok(const struct vhu_backend *b)
{
	return !b->reserved[0] && !b->reserved[1] && !b->config.padding &&
	       !b->config.write_zeroes_may_unmap;
}

/* Fill the 0 fields of @c with defaults and check the result. */
static int vhu_blk_config_fill(struct vhu_backend_info *be, u64 size)
{
	struct vhu_blk_config *c = &be->config;
	struct block_device *bdev = be->bdev;
	u32 lbs = bdev ? bdev_logical_block_size(bdev) : 512;
	u64 max_sectors;

	if (!c->blk_size)
		c->blk_size = lbs;
	if (!is_power_of_2(c->blk_size) || c->blk_size < 512 ||
	    c->blk_size > 4096 || c->blk_size < lbs)
		return -EINVAL;
	max_sectors = round_down(size, c->blk_size) >> VHU_SECTOR_SHIFT;
	if (!c->capacity)
		c->capacity = max_sectors;
	if (c->capacity > max_sectors ||
	    c->capacity % (c->blk_size >> VHU_SECTOR_SHIFT))
		return -EINVAL;
	be->size = c->capacity << VHU_SECTOR_SHIFT;

	if (!c->seg_max)
		c->seg_max = 254;
	if (c->seg_max > VHU_MAX_SEG)
		return -EINVAL;
	if (!c->num_queues)
		c->num_queues = 1;
	if (c->num_queues > VHU_MAX_QUEUES)
		return -EINVAL;

	if (bdev) {
		u32 pbs = bdev_physical_block_size(bdev);

		/* A physical block no bigger than a logical one: 2^0 of them. */
		if (!c->physical_block_exp && pbs > c->blk_size)
			c->physical_block_exp = ilog2(pbs / c->blk_size);
		if (!c->min_io_size)
			c->min_io_size = bdev_io_min(bdev) / c->blk_size;
		if (!c->opt_io_size)
			c->opt_io_size = bdev_io_opt(bdev) / c->blk_size;
	}
	if (!c->min_io_size)
		c->min_io_size = 1;
	if (c->physical_block_exp > 15)
		return -EINVAL;

	if (!c->max_discard_sectors)
		c->max_discard_sectors = bdev ?
			min_t(u64, bdev_max_discard_sectors(bdev), UINT_MAX) :
			UINT_MAX >> VHU_SECTOR_SHIFT;
	if (!c->max_discard_seg)
		c->max_discard_seg = 1;
	if (!c->discard_sector_alignment)
		c->discard_sector_alignment = c->blk_size >> VHU_SECTOR_SHIFT;
	if (!c->max_write_zeroes_sectors)
		c->max_write_zeroes_sectors = UINT_MAX >> VHU_SECTOR_SHIFT;
	if (!c->max_write_zeroes_seg)
		c->max_write_zeroes_seg = 1;
	if (c->max_discard_seg > VHU_MAX_DISCARD_SEG ||
	    c->max_write_zeroes_seg > VHU_MAX_DISCARD_SEG)
		return -EINVAL;
	c->write_zeroes_may_unmap = !bdev || bdev_write_zeroes_sectors(bdev);
	return 0;
}

static void vhu_blk_caps(struct vhu_backend_info *be, u32 flags)
{
	struct file *file = be->file;
	u64 caps = 0, f = VHU_BLK_BASE_FEATURES;

	if ((file->f_mode & FMODE_WRITE) && !(flags & VHU_BACKEND_F_READONLY))
		caps |= VHU_CAP_WRITE;
	if (file->f_op->fsync && !(flags & VHU_BACKEND_F_NO_FLUSH))
		caps |= VHU_CAP_FLUSH;
	if ((caps & VHU_CAP_WRITE) && !(flags & VHU_BACKEND_F_NO_DISCARD) &&
	    (be->bdev ? bdev_max_discard_sectors(be->bdev) : !!file->f_op->fallocate))
		caps |= VHU_CAP_DISCARD;
	if ((caps & VHU_CAP_WRITE) && !(flags & VHU_BACKEND_F_NO_WRITE_ZEROES) &&
	    file->f_op->fallocate)
		caps |= VHU_CAP_WRITE_ZEROES;
	if (file->f_flags & O_DIRECT)
		caps |= VHU_CAP_DIRECT;
	if (be->bdev)
		caps |= VHU_CAP_BLKDEV;

	if (!(caps & VHU_CAP_WRITE))
		f |= BIT_ULL(VIRTIO_BLK_F_RO);
	if (caps & VHU_CAP_FLUSH)
		f |= BIT_ULL(VIRTIO_BLK_F_FLUSH);
	/* A switchable write cache (VHU_SET_WRITE_CACHE) needs writes and flush. */
	if ((caps & (VHU_CAP_WRITE | VHU_CAP_FLUSH)) ==
	    (VHU_CAP_WRITE | VHU_CAP_FLUSH))
		f |= BIT_ULL(VIRTIO_BLK_F_CONFIG_WCE);
	if (caps & VHU_CAP_DISCARD)
		f |= BIT_ULL(VIRTIO_BLK_F_DISCARD);
	if (caps & VHU_CAP_WRITE_ZEROES)
		f |= BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES);
	if (be->config.size_max)
		f |= BIT_ULL(VIRTIO_BLK_F_SIZE_MAX);
	if (be->config.num_queues > 1)
		f |= BIT_ULL(VIRTIO_BLK_F_MQ);
	be->caps = caps;
	be->features = f;
}

/**
 * vhu_blk_set_backend() - VHU_SET_BACKEND
 * @dev: the device, no vring enabled
 * @argp: struct vhu_backend
 *
 * Context: process context, holds @dev->mutex.
 * Return: 0 or a negative errno.
 */
long vhu_blk_set_backend(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_backend_info *be;
	struct vhu_backend b;
	struct inode *inode;
	struct file *file;
	int ret;

	lockdep_assert_held(&dev->mutex);

	if (copy_from_user(&b, argp, sizeof(b)))
		return -EFAULT;
	if (b.flags & ~VHU_BACKEND_F_ALL || !vhu_cfg_padding_ok(&b))
		return -EINVAL;

	file = fget(b.fd);
	if (!file)
		return -EBADF;
	inode = file->f_mapping->host;
	ret = -EINVAL;
	if (!(file->f_mode & FMODE_READ) || !file->f_op->read_iter ||
	    !file->f_op->write_iter)
		goto err_fput;
	if (!S_ISREG(file_inode(file)->i_mode) &&
	    !S_ISBLK(file_inode(file)->i_mode))
		goto err_fput;
	/* Every write would land at the end of the file. */
	if (file->f_flags & O_APPEND)
		goto err_fput;

	ret = -ENOMEM;
	be = kzalloc(sizeof(*be), GFP_KERNEL_ACCOUNT);
	if (!be)
		goto err_fput;
	be->file = file;
	be->config = b.config;
	if (S_ISBLK(file_inode(file)->i_mode))
		be->bdev = I_BDEV(inode);
	ret = vhu_blk_config_fill(be, i_size_read(inode));
	if (ret)
		goto err_free;
	vhu_blk_caps(be, b.flags);

	spin_lock(&dev->info_lock);
	swap(dev->be, be);
	spin_unlock(&dev->info_lock);
	vhu_blk_free_backend(be);
	/* Bits acknowledged for the old backend that this one lacks are gone. */
	WRITE_ONCE(dev->acked_features, dev->acked_features & dev->be->features);
	return 0;

err_free:
	kfree(be);
err_fput:
	fput(file);
	return ret;
}

/**
 * vhu_blk_set_capacity() - VHU_SET_CAPACITY
 * @dev: the device
 * @argp: the new capacity, a __u64 in 512-byte sectors
 *
 * The backend stays in place while its vrings run: only its size and
 * config.capacity change. Requests read be->size once (READ_ONCE()) when
 * they are submitted and are checked against that value, so each sees
 * either the old capacity or the new one, never a mix; the ones taken
 * before keep the capacity they were checked against.
 *
 * Context: process context, holds @dev->mutex.
 * Return: 0, -ENODEV without a backend, -EINVAL for a capacity that is
 * zero, not a multiple of the logical block size or beyond the backing's
 * current size, -EFAULT.
 */
long vhu_blk_set_capacity(struct vhu_dev *dev, void __user *argp)
{
	struct vhu_backend_info *be = dev->be;
	u64 sectors, limit;
	u32 bs;

	lockdep_assert_held(&dev->mutex);

	if (get_user(sectors, (u64 __user *)argp))
		return -EFAULT;
	if (!be)
		return -ENODEV;
	bs = be->config.blk_size;
	/* A block device's inode has its size, as a regular file's. */
	limit = round_down(i_size_read(be->file->f_mapping->host), bs) >>
		VHU_SECTOR_SHIFT;
	if (!sectors || sectors % (bs >> VHU_SECTOR_SHIFT) || sectors > limit)
		return -EINVAL;

	spin_lock(&dev->info_lock);
	be->config.capacity = sectors;
	WRITE_ONCE(be->size, sectors << VHU_SECTOR_SHIFT);
	spin_unlock(&dev->info_lock);
	vhu_genl_notify(dev, VHU_EVENT_CAPACITY, VHU_NO_QUEUE,
			sectors << VHU_SECTOR_SHIFT);
	return 0;
}
