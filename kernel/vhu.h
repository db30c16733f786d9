/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhu: internal declarations shared by the module's files.
 *
 * Locking, outermost first:
 *   vhu_devs_lock (global device list)
 *   vhu_dev.mutex (device configuration; every ioctl but VHU_GET_API)
 *   vhu_vq.mutex (one vring: its configuration and its processing)
 *   vhu_dev.info_lock (spinlock: what netlink reads of a device without
 *     its mutex, which a hung backend can hold for long)
 * The dirty log is copied into every vring (vhu_vq.log) under
 * vhu_dev.mutex and each vhu_vq.mutex, and used under vhu_vq.mutex only.
 * Stopping a vring waits for its in-flight requests holding vhu_dev.mutex
 * but not vhu_vq.mutex, which the worker takes to complete them.
 * The memory table is read under RCU and pinned by requests (refs).
 * Completions come from any context and only touch vhu_vq.done (llist)
 * and wake the worker, under rcu_read_lock() so the worker stays valid
 * (it is stopped, and the device freed, after a grace period); those the
 * worker makes itself while submitting go on vhu_vq.local, without a wake.
 */
#ifndef _VHU_H
#define _VHU_H

#include <linux/types.h>
#include <linux/blk_types.h>
#include <linux/bvec.h>
#include <linux/eventfd.h>
#include <linux/fs.h>
#include <linux/llist.h>
#include <linux/list.h>
#include <linux/minmax.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/ratelimit.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/spinlock.h>
#include <linux/uio.h>
#include <linux/virtio_blk.h>
#include <linux/workqueue.h>
#include <linux/virtio_byteorder.h>
#include <linux/virtio_ring.h>
#include <linux/vhost_types.h>
#include <linux/wait.h>
#include <uapi/linux/vhu.h>

/* The rings are little-endian: VIRTIO_F_VERSION_1 is required. */
#define vhu16_to_cpu(x)	__virtio16_to_cpu(true, x)
#define vhu32_to_cpu(x)	__virtio32_to_cpu(true, x)
#define vhu64_to_cpu(x)	__virtio64_to_cpu(true, x)
#define cpu_to_vhu16(x)	__cpu_to_virtio16(true, x)
#define cpu_to_vhu32(x)	__cpu_to_virtio32(true, x)

/* Virtio features offered whatever the backend. */
#define VHU_BLK_BASE_FEATURES	(BIT_ULL(VIRTIO_F_VERSION_1) | \
				 BIT_ULL(VIRTIO_RING_F_INDIRECT_DESC) | \
				 BIT_ULL(VIRTIO_RING_F_EVENT_IDX) | \
				 BIT_ULL(VIRTIO_BLK_F_SEG_MAX) | \
				 BIT_ULL(VIRTIO_BLK_F_BLK_SIZE) | \
				 BIT_ULL(VIRTIO_BLK_F_TOPOLOGY) | \
				 BIT_ULL(VHOST_F_LOG_ALL))
/* Every virtio feature some backend may be offered. */
#define VHU_BLK_ALL_FEATURES	(VHU_BLK_BASE_FEATURES | \
				 BIT_ULL(VIRTIO_BLK_F_SIZE_MAX) | \
				 BIT_ULL(VIRTIO_BLK_F_RO) | \
				 BIT_ULL(VIRTIO_BLK_F_FLUSH) | \
				 BIT_ULL(VIRTIO_BLK_F_CONFIG_WCE) | \
				 BIT_ULL(VIRTIO_BLK_F_MQ) | \
				 BIT_ULL(VIRTIO_BLK_F_DISCARD) | \
				 BIT_ULL(VIRTIO_BLK_F_WRITE_ZEROES))

/*
 * The work of one worker pass over the avail ring, bounded as
 * vhost_exceeds_weight() bounds vhost's: a pass ends once it took
 * VHU_VQ_REQ_WEIGHT requests, or read VHU_VQ_DESC_WEIGHT descriptors for
 * them, or took VHU_VQ_BYTE_WEIGHT bytes of buffers, whichever comes first
 * (but takes one request at least), and the worker goes on after
 * cond_resched(). A chain is walked whole (at most the ring size, or
 * VHU_MAX_INDIRECT descriptors), and a long loop of the worker (a chain
 * walk, a batch of completions) reschedules every VHU_RESCHED_EVERY steps.
 */
#define VHU_VQ_REQ_WEIGHT	64
#define VHU_VQ_DESC_WEIGHT	4096
#define VHU_VQ_BYTE_WEIGHT	(512U << 10)
#define VHU_RESCHED_EVERY	256

/*
 * Most iovecs (buffer pieces) in one request: the header, VHU_MAX_SEG data
 * segments and the status, as UIO_MAXIOV. A longer request fails.
 */
#define VHU_REQ_MAX_IOV		(VHU_MAX_SEG + 2)
/*
 * Most descriptors in one indirect table: next is 16 bits, so no chain in
 * a longer table can end (vhost refuses such a table too). Any table up to
 * this length is walked, so a request over seg_max fails alone.
 */
#define VHU_MAX_INDIRECT	65536
/* Largest data transfer of one request. */
#define VHU_REQ_MAX_BYTES	(32U << 20)
/* vhu_req.type before the request's header is read: no VIRTIO_BLK_T_*. */
#define VHU_REQ_TYPE_NONE	U32_MAX
/* Most segments of one discard or write-zeroes request. */
#define VHU_MAX_DISCARD_SEG	256
/* Segments a request holds without an allocation (the default limit). */
#define VHU_REQ_INLINE_SEGS	1
/*
 * Pinned memory (VHU_MEM_F_PIN): bio_vecs a request holds without an
 * allocation (a 4K I/O: header, data, status, and one more for data that
 * crosses a page), and the most bio_vecs one chain may need: every page of
 * the largest request in each direction, and one more per piece for
 * pieces that start or end inside a page.
 */
#define VHU_REQ_INLINE_BVECS	4
#define VHU_REQ_MAX_BVEC	(2 * ((VHU_REQ_MAX_BYTES + 4096) >> PAGE_SHIFT) + \
				 2 * VHU_REQ_MAX_IOV)

/**
 * struct vhu_mem_pin - the pinned pages of one region (VHU_MEM_F_PIN, pin.c)
 * @refs: one per table holding the region; the last one unpins
 * @mm: the mm charged for the pages (a mm_count reference)
 * @npages: entries in @pages
 * @first_off: offset of the region's first byte in @pages[0]
 * @pages: every page of the region, in order
 */
struct vhu_mem_pin {
	refcount_t refs;
	struct mm_struct *mm;
	unsigned long npages;
	u32 first_off;
	struct page *pages[];
};

/**
 * struct vhu_mem_table - the guest memory table, replaced as a whole
 * @rcu: frees the table after a grace period
 * @refs: one for the device, one per request that translated through it;
 *	the last one frees the table
 * @nregions: number of entries in @regions
 * @pins: with VHU_MEM_F_PIN, the pin of each region (same index as
 *	@regions), else NULL
 * @regions: sorted by guest_phys_addr, not overlapping
 */
struct vhu_mem_table {
	struct rcu_head rcu;
	refcount_t refs;
	u32 nregions;
	struct vhu_mem_pin **pins;
	struct vhu_mem_region regions[];
};

struct vhu_dev;
struct vhu_vq;

/**
 * struct vhu_poll - a wait-queue entry on the kick eventfd, like vhost_poll
 * @wait: the entry, whose callback wakes the worker
 * @table: used to find the eventfd's wait queue through vfs_poll()
 * @wqh: the wait queue @wait is on, NULL when not polling
 * @vq: the vring to wake
 */
struct vhu_poll {
	wait_queue_entry_t wait;
	poll_table table;
	wait_queue_head_t *wqh;
	struct vhu_vq *vq;
};

/**
 * struct vhu_backend_info - the backend, fixed between VHU_SET_BACKENDs
 * @file: the backing file or block device (our reference)
 * @bdev: the block device, or NULL for a regular file
 * @caps: VHU_CAP_* bits
 * @features: virtio feature bits offered
 * @size: bytes the guest may address (config.capacity * 512); written
 *	under vhu_dev.mutex and vhu_dev.info_lock (VHU_SET_CAPACITY) with
 *	WRITE_ONCE(), read once per request with READ_ONCE(), so that each
 *	request checks its range against one value
 * @config: the effective configuration; written under vhu_dev.mutex and
 *	vhu_dev.info_lock, read under either
 */
struct vhu_backend_info {
	struct file *file;
	struct block_device *bdev;
	u64 caps;
	u64 features;
	u64 size;
	struct vhu_blk_config config;
};

/**
 * struct vhu_req - one virtio-blk request in flight
 * @vq: the vring it came from
 * @node: on vhu_dev.blocking until the device's worker runs it (FLUSH,
 *	DISCARD, WRITE_ZEROES), then on vhu_vq.done once complete
 * @iocb: the asynchronous read or write through the backing file
 * @bio: or the read or write as a bio, with pinned memory on a block
 *	device opened O_DIRECT (vhu_blk_rw_bio()); bio_init() per I/O
 * @mem: the memory table the buffers were translated with (a reference)
 * @be: the backend at submission (backing file reference held by @vq's dev)
 * @status_uaddr: the status byte, in the owner's address space
 * @status_page: with pinned memory, the page of the status byte (then
 *	@status_uaddr is unused)
 * @status_off: the status byte's offset in @status_page
 * @bvec: with pinned memory, the request's pieces (@bv, or an array
 *	charged to the owner's memory cgroup), which an asynchronous direct
 *	I/O reads until it completes; NULL otherwise
 * @result: bytes transferred or a negative errno
 * @len: bytes to transfer for IN and OUT
 * @type: VIRTIO_BLK_T_* as the guest wrote it (all 32 bits), or
 *	VHU_REQ_TYPE_NONE before the header is read
 * @written: bytes written to guest buffers, for the used element
 * @head: the descriptor chain head, returned in the used ring; also the
 *	request's index in vhu_vq.reqs
 * @status: VIRTIO_BLK_S_*
 * @nr_segs: discard/write-zeroes segments in @segs
 * @segs: discard/write-zeroes segments, copied from the guest: @seg, or
 *	an array charged to the owner's memory cgroup
 * @seg: room for VHU_REQ_INLINE_SEGS segments
 * @bv: room for VHU_REQ_INLINE_BVECS bio_vecs
 *
 * One per descriptor head, allocated with the ring (vhu_vq.reqs): the
 * busy bitmap makes sure a head, and so its request, is in flight once at
 * most. The guest's buffers are not kept: the iovecs live in vhu_vq.scratch
 * while the request is submitted, which is all a kiocb needs of them (aio
 * submits from an iovec array on its stack the same way).
 *
 * Owned by one party at a time, so it needs no lock: the worker until it
 * submits the request, then whoever executes it until vhu_req_complete(),
 * then the worker again, under vhu_vq.mutex, until vhu_req_put().
 */
struct vhu_req {
	struct vhu_vq *vq;
	struct llist_node node;
	union {
		struct kiocb iocb;
		struct bio bio;
	};
	struct vhu_mem_table *mem;
	struct vhu_backend_info *be;
	u8 __user *status_uaddr;
	struct page *status_page;
	u32 status_off;
	struct bio_vec *bvec;
	long result;
	size_t len;
	u32 type;
	u32 written;
	u16 head;
	u8 status;
	u32 nr_segs;
	struct virtio_blk_discard_write_zeroes *segs;
	struct virtio_blk_discard_write_zeroes seg[VHU_REQ_INLINE_SEGS];
	struct bio_vec bv[VHU_REQ_INLINE_BVECS];
};

/**
 * struct vhu_vq_stats - counters of a vring, see enum vhu_stats_attr
 * @reqs_in: VIRTIO_BLK_T_IN requests completed
 * @reqs_out: VIRTIO_BLK_T_OUT requests completed
 * @reqs_flush: VIRTIO_BLK_T_FLUSH requests completed
 * @reqs_get_id: VIRTIO_BLK_T_GET_ID requests completed
 * @reqs_discard: VIRTIO_BLK_T_DISCARD requests completed
 * @reqs_write_zeroes: VIRTIO_BLK_T_WRITE_ZEROES requests completed
 * @reqs_unsupp: requests answered VIRTIO_BLK_S_UNSUPP
 * @reqs_ioerr: requests answered VIRTIO_BLK_S_IOERR
 * @bytes_read: bytes read from the backend
 * @bytes_written: bytes written to the backend
 * @ring_errors: unrecoverable ring errors
 * @calls: call eventfd signals
 * @log_skipped: pages written while logging that the dirty log did not
 *	cover
 *
 * Written by the worker under vhu_vq.mutex, read locklessly (READ_ONCE).
 */
struct vhu_vq_stats {
	u64 reqs_in;
	u64 reqs_out;
	u64 reqs_flush;
	u64 reqs_get_id;
	u64 reqs_discard;
	u64 reqs_write_zeroes;
	u64 reqs_unsupp;
	u64 reqs_ioerr;
	u64 bytes_read;
	u64 bytes_written;
	u64 ring_errors;
	u64 calls;
	u64 log_skipped;
};

/**
 * struct vhu_vq_log - what a vring knows of dirty logging (log.c)
 * @all: VHOST_F_LOG_ALL is acknowledged: mark what the vring writes
 * @used: VHU_VRING_F_LOG: mark the used ring's writes too
 * @used_gpa: guest-physical address of the used ring (log_guest_addr)
 * @base: the bitmap in the owner's address space, 0 if none
 * @size: bytes at @base
 *
 * Protected by vhu_vq.mutex. @all, @base and @size are the device's
 * (vhu_dev.log, VHU_SET_FEATURES), copied in under vhu_dev.mutex too.
 */
struct vhu_vq_log {
	bool all;
	bool used;
	u64 used_gpa;
	unsigned long base;
	u64 size;
};

/**
 * enum vhu_worker_state - a vring worker's life with its owner
 * @VHU_WORKER_RUNNING: running, or none yet
 * @VHU_WORKER_DYING: killed with the owner, using what completes for
 *	VHU_EXIT_WAIT_MS at most
 * @VHU_WORKER_DEAD: gone: the release drops what completes (vhu_vq_drop())
 */
enum vhu_worker_state {
	VHU_WORKER_RUNNING,
	VHU_WORKER_DYING,
	VHU_WORKER_DEAD,
};

/*
 * How long a dying owner waits for its requests in flight: a worker
 * killed with it uses them as they complete, and the release of its
 * device waits for them, for this long at most each.
 */
#define VHU_EXIT_WAIT_MS	5000

/**
 * struct vhu_vq - one split virtqueue and its worker
 * @dev: the device
 * @index: vring index
 * @mutex: serializes configuration and processing of this vring
 * @num: ring size, 0 if not set; written under @mutex, read locklessly by
 *	the netlink dump
 * @desc: descriptor table (owner address); protected by @mutex
 * @avail: available ring (owner address); protected by @mutex
 * @used: used ring (owner address); protected by @mutex
 * @addr_set: the addresses above are valid; protected by @mutex
 * @last_avail_idx: next avail entry to process; protected by @mutex
 * @avail_idx: last avail->idx read; protected by @mutex
 * @used_idx: next used entry to write; protected by @mutex
 * @signalled_used: used index at the last call; protected by @mutex
 * @signalled_used_valid: @signalled_used is meaningful; protected by @mutex
 * @enabled: avail processing on; written under @mutex (and the device's),
 *	read locklessly for the statistics
 * @broken: stopped by a ring error; written under @mutex, read locklessly
 *	for the statistics
 * @event_idx: VIRTIO_RING_F_EVENT_IDX negotiated; protected by @mutex
 * @indirect: VIRTIO_RING_F_INDIRECT_DESC negotiated; protected by @mutex
 * @kick: kick eventfd file; protected by @mutex
 * @call: call eventfd; protected by @mutex
 * @err: error eventfd; protected by @mutex
 * @poll: our entry on @kick's wait queue; protected by @mutex
 * @worker: the worker, a thread of the owner (worker.c), NULL before the
 *	first enable; set under @mutex and the device's mutex, read under RCU
 *	by wakers, cleared with a grace period before it is stopped
 * @worker_state: enum vhu_worker_state; not RUNNING once @worker was
 *	killed with the owner: completions wake @inflight_wq instead; read
 *	under RCU
 * @kicked: bit 0 set by the kick callback, cleared by the worker
 * @done: completed requests, pushed from any context
 * @submitter: the worker while it takes requests from the avail ring
 *	(vhu_vq_handle_avail()), else NULL; written under @mutex, read by
 *	completions
 * @local: requests @submitter completed itself while it took them (a
 *	synchronous backend, a request that failed early), last first; only
 *	@submitter uses it, under @mutex, and empties it before unlocking
 * @inflight: requests taken from the avail ring and not yet used; changed
 *	under @mutex, read locklessly
 * @inflight_wq: woken when @inflight drops to zero, and by completions
 *	that find no worker
 * @busy: heads in flight, to refuse a head the guest offers twice;
 *	protected by @mutex
 * @ifl: the vhost-user inflight area of this vring (owner address), NULL
 *	if none; protected by @mutex
 * @ifl_size: bytes at @ifl; protected by @mutex
 * @ifl_counter: the last submission order given out; protected by @mutex
 * @resubmit: heads the area had in flight at enable, in submission order,
 *	taken before the avail ring; protected by @mutex
 * @nr_resubmit: entries in @resubmit; protected by @mutex
 * @resubmit_pos: next entry of @resubmit to take; protected by @mutex
 * @reqs: one request per head, @num of them; protected by @mutex (a
 *	request in flight belongs to whoever executes it)
 * @scratch: iovec space for parsing and submitting a chain; protected by
 *	@mutex
 * @bvscratch: with VHU_MEM_F_PIN, VHU_REQ_MAX_BVEC bio_vecs for parsing a
 *	chain into pinned pages, else NULL; protected by @mutex
 * @mem_hint: the memory table region the last buffer was in, any value
 *	(vhu_mem_translate_bvec()); protected by @mutex
 * @kicks: kick wake-ups
 * @stats: counters
 * @log: dirty logging; protected by @mutex
 * @busy_poll_us: how long the worker polls an empty avail ring
 *	(VHU_SET_VRING_BUSY_POLL), 0 for never; written under @mutex, read
 *	locklessly by the worker
 * @poll_armed: the worker's last pass took or used requests, so it may
 *	poll once before it sleeps; only the worker uses it (and the
 *	reset, once the worker is stopped)
 * @poll_ns: the busy-poll window, adapted by the worker (worker.c);
 *	written only by the worker (and the reset), read locklessly
 * @busy_poll_seq: counts VHU_SET_VRING_BUSY_POLL calls; written under
 *	@mutex, read locklessly by the worker
 * @poll_seq: the @busy_poll_seq that @poll_ns was last started from; only
 *	the worker uses it (and the reset)
 * @idle_since: ktime_get_ns() when the worker went idle after a pass that
 *	moved requests, 0 when it did not; only the worker uses it (and the
 *	reset)
 * @polls: busy polls begun
 * @poll_hits: busy polls that ended with work to do
 */
struct vhu_vq {
	struct vhu_dev *dev;
	u32 index;
	struct mutex mutex; /* vring configuration and processing */
	u32 num;
	struct vring_desc __user *desc;
	struct vring_avail __user *avail;
	struct vring_used __user *used;
	bool addr_set;
	u16 last_avail_idx;
	u16 avail_idx;
	u16 used_idx;
	u16 signalled_used;
	bool signalled_used_valid;
	bool enabled;
	bool broken;
	bool event_idx;
	bool indirect;
	struct file *kick;
	struct eventfd_ctx *call;
	struct eventfd_ctx *err;
	struct vhu_poll poll;
	struct vhost_task *worker;
	u8 worker_state;
	unsigned long kicked;
	struct llist_head done;
	struct task_struct *submitter;
	struct llist_node *local;
	atomic_t inflight;
	wait_queue_head_t inflight_wq;
	unsigned long *busy;
	struct vhu_inflight_queue __user *ifl;
	u64 ifl_size;
	u64 ifl_counter;
	u16 *resubmit;
	u32 nr_resubmit;
	u32 resubmit_pos;
	struct vhu_req *reqs;
	struct iovec *scratch;
	struct bio_vec *bvscratch;
	u32 mem_hint;
	atomic64_t kicks;
	struct vhu_vq_stats stats;
	struct vhu_vq_log log;
	u32 busy_poll_us;
	bool poll_armed;
	u32 busy_poll_seq;
	u32 poll_seq;
	u64 poll_ns;
	u64 idle_since;
	atomic64_t polls;
	atomic64_t poll_hits;
};

/**
 * struct vhu_dev - one open of /dev/vhu
 * @file: the file this instance belongs to
 * @id: device id, for netlink
 * @node: on the global device list; protected by vhu_devs_lock
 * @mutex: serializes configuration ioctls
 * @mm: the owner's address space (mm_users reference); protected by @mutex
 * @owner_tgid: the owner's thread group id; written under @mutex, read
 *	locklessly by netlink
 * @acked_features: features set with VHU_SET_FEATURES; written under
 *	@mutex, read locklessly by netlink
 * @write_cache: the write cache mode (VHU_SET_WRITE_CACHE): true for
 *	write-back, false for write-through (writes submitted O_DSYNC);
 *	written under @mutex, read locklessly at submission
 * @be: the backend, NULL if none; protected by @mutex, and stable while a
 *	vring is enabled (VHU_SET_BACKEND is refused then); replaced under
 *	@info_lock too, so netlink may read it under @info_lock alone
 * @info_lock: protects @name, and @be for readers without @mutex
 * @name: the name set with VHU_SET_NAME, NUL-terminated; written under
 *	@mutex and @info_lock, read under either
 * @io_err_rs: bounds the VHU_EVENT_IO_ERROR notifications of the device
 *	(its own lock)
 * @mem: the memory table (RCU); updated under @mutex
 * @mem_flags: VHU_MEM_F_* bits (VHU_SET_MEM_FLAGS); protected by @mutex
 * @worker: runs the requests that block, a thread of the owner (worker.c);
 *	set under @mutex, read under RCU by the vrings' workers, cleared
 *	with a grace period before it is stopped
 * @worker_killed: @worker exited with the owner: the vrings' workers run
 *	their blocking requests themselves; read under RCU
 * @log: the dirty log (VHU_SET_LOG_BASE), user_addr 0 if none; protected
 *	by @mutex, and copied into each vring (vhu_vq.log)
 * @blocking: requests queued for @worker, pushed by the vrings' workers
 * @free_work: the teardown, when the release leaves it to a kernel worker
 * @vqs: the vrings
 */
struct vhu_dev {
	struct file *file;
	u32 id;
	struct list_head node;
	struct mutex mutex; /* device configuration */
	struct mm_struct *mm;
	pid_t owner_tgid;
	u64 acked_features;
	bool write_cache;
	struct vhu_backend_info *be;
	spinlock_t info_lock; /* @name, @be for netlink */
	char name[VHU_NAME_BYTES];
	struct ratelimit_state io_err_rs;
	struct vhu_mem_table __rcu *mem;
	u32 mem_flags;
	struct vhost_task *worker;
	bool worker_killed;
	struct vhu_log log;
	struct llist_head blocking;
	struct work_struct free_work;
	struct vhu_vq vqs[VHU_MAX_QUEUES];
};

extern struct mutex vhu_devs_lock;
extern struct list_head vhu_devs;

int vhu_device_init(void);
void vhu_device_exit(void);

int vhu_genl_init(void);
void vhu_genl_exit(void);
/* No vring: for the events that have none. */
#define VHU_NO_QUEUE	U32_MAX
void vhu_genl_notify(struct vhu_dev *dev, enum vhu_event event, u32 queue,
		     u64 capacity);

/* mem.c */
struct vhu_mem_table *vhu_mem_table_from_user(const void __user *argp);
struct vhu_mem_table *vhu_mem_table_add(struct vhu_dev *dev,
					const void __user *argp);
struct vhu_mem_table *vhu_mem_table_del(struct vhu_dev *dev,
					const void __user *argp);
void vhu_mem_table_free(struct vhu_mem_table *t);
int vhu_mem_replace(struct vhu_dev *dev, struct vhu_mem_table *t, bool killable);
struct vhu_mem_table *vhu_mem_get(struct vhu_dev *dev);
void vhu_mem_put(struct vhu_mem_table *t);
int vhu_mem_translate(struct vhu_mem_table *t, u64 gpa, u32 len,
		      struct iovec *iov, unsigned int max);
bool vhu_mem_present(struct vhu_dev *dev);
bool vhu_mem_covers(const struct vhu_mem_table *t, const void __user *uaddr,
		    u64 len);
int vhu_mem_translate_bvec_search(struct vhu_mem_table *t, u32 *hint, u64 gpa,
				  u64 len, struct bio_vec *bv, unsigned int max);

/*
 * The pinned pages of @len bytes at offset @off of a region (@p its pin)
 * into @bv, one bio_vec per page touched. Return: the number used, or
 * -E2BIG if @max do not suffice.
 */
static __always_inline int vhu_mem_pin_bvec(const struct vhu_mem_pin *p,
					    u64 off, u64 len,
					    struct bio_vec *bv,
					    unsigned int max)
{
	u64 pos = p->first_off + off;
	unsigned int n = 0;

	while (len) {
		u32 boff = offset_in_page(pos);
		u32 blen = min_t(u64, len, PAGE_SIZE - boff);

		if (n == max)
			return -E2BIG;
		bv[n].bv_page = p->pages[pos >> PAGE_SHIFT];
		bv[n].bv_offset = boff;
		bv[n].bv_len = blen;
		n++;
		pos += blen;
		len -= blen;
	}
	return n;
}

/**
 * vhu_mem_translate_bvec() - guest-physical range to pinned pages
 * @t: a pinned table (@t->pins set), referenced by the caller
 * @hint: the index of the region to try first, any value; set to the
 *	region of the last byte translated (the next buffer of a guest is
 *	most likely in the same region)
 * @gpa: guest-physical address
 * @len: length in bytes
 * @bv: where to put the pieces, one per page touched
 * @max: room in @bv
 *
 * As vhu_mem_translate(), but into the pages VHU_MEM_F_PIN pinned: no
 * page table is walked and nothing is pinned per I/O. The pages stay
 * valid while the caller holds its reference on @t. A range that lies in
 * the hint's region, as most do, skips the search of the table; the hint
 * is only an index, checked against @t, so one kept from another table
 * is just a miss. Inline: the chain walk calls it once per descriptor.
 *
 * Context: any context.
 * Return: the number of bio_vecs used (0 when @len is 0), -EFAULT if a
 * byte is outside every region, -E2BIG if @max bio_vecs do not suffice.
 */
static __always_inline int vhu_mem_translate_bvec(struct vhu_mem_table *t,
						  u32 *hint, u64 gpa, u64 len,
						  struct bio_vec *bv,
						  unsigned int max)
{
	u32 i = *hint;

	if (likely(i < t->nregions)) {
		const struct vhu_mem_region *r = &t->regions[i];
		u64 off = gpa - r->guest_phys_addr;

		/* (Below the region, @off wrapped around: beyond its size.) */
		if (off < r->memory_size && len <= r->memory_size - off)
			return vhu_mem_pin_bvec(t->pins[i], off, len, bv, max);
	}
	return vhu_mem_translate_bvec_search(t, hint, gpa, len, bv, max);
}

int vhu_mem_pin_table(struct vhu_dev *dev, struct vhu_mem_table *t);

/* pin.c */
struct vhu_mem_pin *vhu_pin_region(const struct vhu_mem_region *r);
void vhu_pin_put(struct vhu_mem_pin *p);

/* vq.c */
bool vhu_vq_process(struct vhu_vq *vq);
bool vhu_vq_poll_begin(struct vhu_vq *vq, __virtio16 __user **idxp, u16 *idx);
void vhu_vq_complete(struct vhu_vq *vq);
void vhu_vq_drop(struct vhu_vq *vq);

/* vring.c */
void vhu_vq_init(struct vhu_dev *dev, struct vhu_vq *vq, u32 index);
int vhu_vq_stop(struct vhu_vq *vq, long timeout, bool killable);
void vhu_vq_reset(struct vhu_vq *vq);
bool vhu_vq_any_enabled(struct vhu_dev *dev);
int vhu_vq_check_mem(struct vhu_dev *dev, const struct vhu_mem_table *t);
enum vhu_vring_status vhu_vq_status(struct vhu_vq *vq);
long vhu_set_vring_num(struct vhu_dev *dev, void __user *argp);
long vhu_set_vring_addr(struct vhu_dev *dev, void __user *argp);
long vhu_set_vring_base(struct vhu_dev *dev, void __user *argp);
long vhu_get_vring_base(struct vhu_dev *dev, void __user *argp);
long vhu_set_vring_kick(struct vhu_dev *dev, void __user *argp);
long vhu_set_vring_call(struct vhu_dev *dev, void __user *argp);
long vhu_set_vring_err(struct vhu_dev *dev, void __user *argp);
long vhu_set_vring_enable(struct vhu_dev *dev, void __user *argp);
long vhu_set_vring_inflight(struct vhu_dev *dev, void __user *argp);
long vhu_set_vring_busy_poll(struct vhu_dev *dev, void __user *argp);
long vhu_get_vring_busy_poll(struct vhu_dev *dev, void __user *argp);

/* inflight.c */
long vhu_inflight_set(struct vhu_vq *vq, const struct vhu_vring_inflight *f);
int vhu_inflight_recover(struct vhu_vq *vq);
int vhu_inflight_take(struct vhu_vq *vq, u16 head);
int vhu_inflight_link(struct vhu_vq *vq, struct llist_node *list,
		      u16 *batch_head);
int vhu_inflight_publish(struct vhu_vq *vq, u16 batch_head);
int vhu_inflight_put(struct vhu_vq *vq, struct llist_node *list);
int vhu_inflight_used(struct vhu_vq *vq);
void vhu_inflight_drop_resubmit(struct vhu_vq *vq);
void vhu_inflight_reset(struct vhu_vq *vq);

/* log.c */
long vhu_log_set_base(struct vhu_dev *dev, void __user *argp);
void vhu_log_set_all(struct vhu_dev *dev);
void vhu_log_reset(struct vhu_dev *dev);
long vhu_log_set_vring(struct vhu_vq *vq, const struct vhu_vring_addr *a);
int vhu_log_complete(struct vhu_vq *vq, struct llist_node *list, u16 used_idx);
int vhu_log_used(struct vhu_vq *vq, u64 offset, u64 len);

/* worker.c */
int vhu_worker_start(struct vhu_vq *vq);
void vhu_worker_stop(struct vhu_vq *vq);
void vhu_worker_wake(struct vhu_vq *vq);
void vhu_worker_queue_blocking(struct vhu_req *req);
void vhu_worker_stop_dev(struct vhu_dev *dev);

/* blk.c */
long vhu_blk_set_backend(struct vhu_dev *dev, void __user *argp);
long vhu_blk_set_capacity(struct vhu_dev *dev, void __user *argp);
void vhu_blk_free_backend(struct vhu_backend_info *be);
void vhu_blk_submit(struct vhu_req *req, struct iov_iter *out,
		    struct iov_iter *in);
void vhu_blk_run_blocking(struct vhu_req *req);

/* req.c */
struct vhu_req *vhu_req_array_alloc(struct vhu_vq *vq, u32 num);
void vhu_req_array_free(struct vhu_req *reqs);
struct vhu_req *vhu_req_get(struct vhu_vq *vq, u16 head,
			    struct vhu_mem_table *mem);
int vhu_req_alloc_segs(struct vhu_req *req, u32 n);
int vhu_req_set_bvec(struct vhu_req *req, const struct bio_vec *bv, u32 n);
void vhu_req_complete(struct vhu_req *req);
void vhu_req_put(struct vhu_req *req);

#endif /* _VHU_H */
