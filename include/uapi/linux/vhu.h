/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhu: vhost-user block backend with an in-kernel datapath.
 *
 * The ABI shared by vhu.ko and its userspace (vhuctl, selftests):
 * ioctls on the misc device /dev/vhu and the generic netlink family "vhu".
 *
 * Conventions:
 *  - Only fixed-size types (__u32, __s32, __aligned_u64, and __u8 arrays for
 *    byte strings); every structure is padded explicitly to a multiple of
 *    8 bytes, so it has the same layout on 32- and 64-bit.
 *  - Fields named "reserved" or "padding" must be zero on input; the kernel
 *    rejects a non-zero one with -EINVAL, so they can gain a meaning later.
 *    On output the kernel zeroes them.
 *  - Every flags field has a *_F_ALL mask of the bits this ABI knows; an
 *    unknown bit is rejected with -EINVAL.
 *  - An ioctl the module does not know fails with -ENOTTY.
 *  - Command numbers follow <linux/vhost.h> where a vhost command of the
 *    same meaning exists, under vhu's own ioctl type.
 *
 * Life cycle of a device (one open file of /dev/vhu):
 *
 *   open -> VHU_SET_OWNER -> VHU_SET_BACKEND -> VHU_SET_FEATURES ->
 *   VHU_SET_MEM_TABLE -> per vring: VHU_SET_VRING_NUM, _BASE, _ADDR,
 *   _KICK, _CALL, _ERR -> VHU_SET_VRING_ENABLE(1) -> ... I/O ... ->
 *   VHU_GET_VRING_BASE (stops the ring) -> close.
 *
 * All addresses passed in (memory regions, vring addresses) are virtual
 * addresses in the owner's address space, the mm of the task that called
 * VHU_SET_OWNER; they are only dereferenced through that mm. Buffers are
 * translated through the memory table; each ring must lie inside one region
 * of it (checked when the vring is enabled, -EFAULT otherwise, and a table
 * change that would leave an enabled vring's ring outside every region is
 * refused with -EBUSY). The inflight area (VHU_SET_VRING_INFLIGHT) is the
 * one exception: it is the frontend's and the daemon's, not guest memory.
 *
 * Setting features, the backend or a vring's number, addresses or base is
 * refused with -EBUSY while a vring that uses it is enabled; the memory
 * table (VHU_SET_MEM_TABLE, VHU_ADD_MEM_REGION, VHU_DEL_MEM_REGION) can be
 * changed at any time, while the vrings run. Every ioctl other than
 * VHU_GET_API, VHU_GET_FEATURES, VHU_GET_DEV_INFO and VHU_SET_OWNER fails
 * with -EPERM before VHU_SET_OWNER, and with -EPERM when called from a task
 * whose mm is not the owner's.
 */
#ifndef _UAPI_LINUX_VHU_H
#define _UAPI_LINUX_VHU_H

#include <linux/types.h>
#include <linux/ioctl.h>

#define VHU_DEVICE_NAME		"vhu"
#define VHU_DEVICE_PATH		"/dev/vhu"

/* Bumped on every incompatible change of this header. */
#define VHU_ABI_VERSION		1

/* ioctl type; see Documentation/userspace-api/ioctl/ioctl-number.rst. */
#define VHU_IOCTL_TYPE		0xB9

/*
 * Features of the module's API, reported by VHU_GET_API and by the
 * VHU_CMD_GET_VERSION netlink command, so userspace can probe what the
 * loaded module supports before it relies on it.
 */
#define VHU_API_F_GENL		(1ULL << 0)	/* generic netlink family "vhu" */
#define VHU_API_F_DATAPATH	(1ULL << 1)	/* the vring/backend ioctls */
#define VHU_API_F_MEM_HOTPLUG	(1ULL << 2)	/* VHU_ADD/DEL_MEM_REGION */
#define VHU_API_F_BLKDEV	(1ULL << 3)	/* block devices as backend */
#define VHU_API_F_DISCARD	(1ULL << 4)	/* VIRTIO_BLK_T_DISCARD */
#define VHU_API_F_WRITE_ZEROES	(1ULL << 5)	/* VIRTIO_BLK_T_WRITE_ZEROES */
#define VHU_API_F_STATS		(1ULL << 6)	/* VHU_GET_VRING_STATS, GET_STATS */
#define VHU_API_F_INFLIGHT	(1ULL << 7)	/* VHU_SET_VRING_INFLIGHT */
#define VHU_API_F_WRITE_CACHE	(1ULL << 8)	/* VHU_SET_WRITE_CACHE */
#define VHU_API_F_ALL		(VHU_API_F_GENL | VHU_API_F_DATAPATH | \
				 VHU_API_F_MEM_HOTPLUG | VHU_API_F_BLKDEV | \
				 VHU_API_F_DISCARD | VHU_API_F_WRITE_ZEROES | \
				 VHU_API_F_STATS | VHU_API_F_INFLIGHT | \
				 VHU_API_F_WRITE_CACHE)

/* Limits. */
#define VHU_MAX_MEM_REGIONS	509	/* like vhost-user's VHOST_USER_MAX_RAM_SLOTS */
#define VHU_MAX_QUEUES		16	/* vrings per device */
#define VHU_MAX_VRING_NUM	32768	/* split ring size limit of virtio */

/**
 * struct vhu_api - what the loaded module implements
 * @abi_version: VHU_ABI_VERSION the module was built with
 * @padding: zero
 * @features: VHU_API_F_* bits the module implements
 * @virtio_features: every virtio feature bit the module can ever offer
 *	(VHU_GET_FEATURES reports those it offers for a given backend)
 * @backend_flags: the VHU_BACKEND_F_* bits the module accepts
 * @vring_addr_flags: the VHU_VRING_F_* bits the module accepts
 * @max_mem_regions: VHU_MAX_MEM_REGIONS
 * @max_queues: VHU_MAX_QUEUES
 * @max_vring_num: VHU_MAX_VRING_NUM
 * @reserved: zero on output, room for growth
 *
 * The masks let userspace find out, without trial and error, which bits of
 * the flags fields the loaded module knows.
 */
struct vhu_api {
	__u32 abi_version;
	__u32 padding;
	__aligned_u64 features;
	__aligned_u64 virtio_features;
	__aligned_u64 backend_flags;
	__aligned_u64 vring_addr_flags;
	__u32 max_mem_regions;
	__u32 max_queues;
	__u32 max_vring_num;
	__u32 reserved[3];
};

/* Probe the module: fills struct vhu_api. Needs no owner. */
#define VHU_GET_API		_IOR(VHU_IOCTL_TYPE, 0x80, struct vhu_api)

/*
 * Features: virtio feature bits (VIRTIO_F_*, VIRTIO_RING_F_*,
 * VIRTIO_BLK_F_*), as in <linux/vhost.h>.
 *
 * VHU_GET_FEATURES reports the bits the device offers: before
 * VHU_SET_BACKEND the ones every backend gets, after it the ones this
 * backend gets (as in struct vhu_dev_info). VHU_SET_FEATURES sets the bits
 * the driver acknowledged; a bit that is not offered fails with -EINVAL.
 * It must be called before any vring is enabled and fails with -EBUSY while
 * one is. VIRTIO_F_VERSION_1 is required (modern, little-endian rings).
 */
#define VHU_GET_FEATURES	_IOR(VHU_IOCTL_TYPE, 0x00, __u64)
#define VHU_SET_FEATURES	_IOW(VHU_IOCTL_TYPE, 0x00, __u64)

/*
 * VHU_SET_OWNER binds the device to the calling task's mm; only that mm's
 * tasks may configure it afterwards. Fails with -EBUSY if already owned.
 * VHU_RESET_OWNER stops every vring, waits for their in-flight I/O, drops
 * backend, memory table, eventfds and the mm, and leaves the device as
 * after open.
 */
#define VHU_SET_OWNER		_IO(VHU_IOCTL_TYPE, 0x01)
#define VHU_RESET_OWNER		_IO(VHU_IOCTL_TYPE, 0x02)

/**
 * struct vhu_mem_region - one region of guest memory
 * @guest_phys_addr: guest-physical address of the first byte
 * @memory_size: size in bytes, not zero
 * @userspace_addr: where the region is mapped in the owner's address space
 * @reserved: zero (vhost's flags_padding)
 *
 * Regions must not overlap in guest-physical space, and neither range may
 * wrap around the end of the 64-bit space. The owner must keep the mapping
 * while the region is in the table; a descriptor pointing to an unmapped
 * page only fails that request (-EFAULT inside the kernel, VIRTIO_BLK_S_IOERR
 * to the guest).
 */
struct vhu_mem_region {
	__aligned_u64 guest_phys_addr;
	__aligned_u64 memory_size;
	__aligned_u64 userspace_addr;
	__aligned_u64 reserved;
};

/**
 * struct vhu_memory - the memory table, as in struct vhost_memory
 * @nregions: number of entries in @regions, at most VHU_MAX_MEM_REGIONS
 * @padding: zero
 * @regions: the regions
 */
struct vhu_memory {
	__u32 nregions;
	__u32 padding;
	struct vhu_mem_region regions[];
};

/*
 * Replace the whole memory table. The ioctl's size covers the header only;
 * the kernel reads nregions entries after it. Allowed while vrings run: the
 * table is replaced atomically (RCU), requests already translated complete
 * against the old mapping, later ones use the new table.
 */
#define VHU_SET_MEM_TABLE	_IOW(VHU_IOCTL_TYPE, 0x03, struct vhu_memory)

/*
 * Add one region (-EEXIST if it overlaps one in the table, -ENOSPC if the
 * table is full) or remove one (matched on all three addresses and sizes;
 * -ENOENT if none matches), while the vrings keep running. As for
 * VHU_SET_MEM_TABLE, the table is replaced with RCU, and the ioctl returns
 * only once no request can use the removed region any more, so the owner
 * may unmap it right after.
 */
#define VHU_ADD_MEM_REGION	_IOW(VHU_IOCTL_TYPE, 0x81, struct vhu_mem_region)
#define VHU_DEL_MEM_REGION	_IOW(VHU_IOCTL_TYPE, 0x82, struct vhu_mem_region)

/**
 * struct vhu_vring_state - a per-vring number, as in struct vhost_vring_state
 * @index: vring index, below VHU_MAX_QUEUES (-EINVAL otherwise); only
 *	vrings below the config's num_queues can be enabled
 * @num: the value: the ring size (a power of 2, at most VHU_MAX_VRING_NUM)
 *	for VHU_SET_VRING_NUM, the next avail index for VHU_SET/GET_VRING_BASE,
 *	1 or 0 for VHU_SET_VRING_ENABLE
 */
struct vhu_vring_state {
	__u32 index;
	__u32 num;
};

/**
 * struct vhu_vring_file - a per-vring eventfd, as in struct vhost_vring_file
 * @index: vring index
 * @fd: an eventfd, or -1 to detach the current one
 */
struct vhu_vring_file {
	__u32 index;
	__s32 fd;
};

/* VHU_VRING_F_LOG: log used-ring writes to @log_guest_addr (dirty log). */
#define VHU_VRING_F_LOG		(1U << 0)
#define VHU_VRING_F_ALL		(VHU_VRING_F_LOG)

/**
 * struct vhu_vring_addr - where a split ring lives, as in vhost_vring_addr
 * @index: vring index
 * @flags: VHU_VRING_F_* bits
 * @desc_user_addr: descriptor table, in the owner's address space,
 *	16-byte aligned
 * @used_user_addr: used ring, in the owner's address space, 4-byte aligned
 * @avail_user_addr: available ring, in the owner's address space,
 *	2-byte aligned
 * @log_guest_addr: guest-physical address of the used ring for dirty
 *	logging; only with VHU_VRING_F_LOG
 *
 * The three rings are accessed through the owner's mm and must be mapped
 * there. This module does not implement dirty logging yet
 * (VHOST_F_LOG_ALL is not offered): VHU_VRING_F_LOG fails with
 * -EOPNOTSUPP, and @log_guest_addr is otherwise ignored.
 */
struct vhu_vring_addr {
	__u32 index;
	__u32 flags;
	__aligned_u64 desc_user_addr;
	__aligned_u64 used_user_addr;
	__aligned_u64 avail_user_addr;
	__aligned_u64 log_guest_addr;
};

/* Vrings, numbered as in <linux/vhost.h>. */
#define VHU_SET_VRING_NUM	_IOW(VHU_IOCTL_TYPE, 0x10, struct vhu_vring_state)
#define VHU_SET_VRING_ADDR	_IOW(VHU_IOCTL_TYPE, 0x11, struct vhu_vring_addr)
#define VHU_SET_VRING_BASE	_IOW(VHU_IOCTL_TYPE, 0x12, struct vhu_vring_state)
/*
 * Stop the vring (as VHU_SET_VRING_ENABLE 0), wait until all its in-flight
 * requests completed and were put in the used ring, then return the next
 * avail index to process in @num.
 */
#define VHU_GET_VRING_BASE	_IOWR(VHU_IOCTL_TYPE, 0x12, struct vhu_vring_state)
/* Kick (guest -> device) eventfd; the vring's worker polls it. */
#define VHU_SET_VRING_KICK	_IOW(VHU_IOCTL_TYPE, 0x20, struct vhu_vring_file)
/* Call (device -> guest) eventfd, signalled after used-ring updates. */
#define VHU_SET_VRING_CALL	_IOW(VHU_IOCTL_TYPE, 0x21, struct vhu_vring_file)
/*
 * Error eventfd: signalled when the vring hits an unrecoverable error (a
 * malformed ring, an unreadable ring address); the vring then takes no new
 * request (in-flight ones still complete), the others keep running.
 * VHU_GET_VRING_STATS reports it as VHU_VRING_ERROR. The vring still counts
 * as enabled: stop it (VHU_SET_VRING_ENABLE 0 or VHU_GET_VRING_BASE) and
 * enable it again to restart it.
 */
#define VHU_SET_VRING_ERR	_IOW(VHU_IOCTL_TYPE, 0x22, struct vhu_vring_file)
/*
 * Start (@num 1) or stop (@num 0) processing a vring; as
 * VHOST_VDPA_SET_VRING_ENABLE. Starting needs num, addresses, a kick fd,
 * a backend and a memory table (-EINVAL otherwise); it processes what is
 * already in the avail ring. Stopping waits for in-flight requests of the
 * vring to complete.
 */
#define VHU_SET_VRING_ENABLE	_IOW(VHU_IOCTL_TYPE, 0x75, struct vhu_vring_state)

/**
 * struct vhu_vring_inflight - the vhost-user inflight area of a vring
 * @index: vring index
 * @padding: zero
 * @user_addr: this vring's queue region of the area the frontend shared
 *	with VHOST_USER_SET_INFLIGHT_FD, in the owner's address space,
 *	8-byte aligned; 0 detaches
 * @size: bytes at @user_addr, at least 16 + 16 * the ring size
 *
 * With an area attached the device tracks every request in it, in the
 * split-ring layout of the vhost-user specification ("Inflight I/O
 * tracking": a header of features, version, desc_num, last_batch_head and
 * used_idx, then one 16-byte state per descriptor with inflight, next and
 * counter): a head taken from the avail ring is marked in flight with an
 * increasing counter, and cleared once its used element is published, a
 * whole batch after one used index update. So a later backend can tell
 * which requests were lost with a previous one.
 *
 * VHU_SET_VRING_ENABLE(1) reads the area first. An area whose version is 0
 * or whose desc_num is not the ring size is (re)initialised: no request in
 * flight. Otherwise it is recovered as the specification says (the last
 * batch is cleared if used_idx lags the used ring), the heads still marked
 * in flight are resubmitted in counter order before anything new, and the
 * next avail index becomes the used index plus their number, whatever
 * VHU_SET_VRING_BASE said: the area, not the frontend's guess from the
 * used index at disconnect, knows what was taken. An area that cannot be
 * read or is inconsistent (a last batch longer than the ring, a head out
 * of range) fails the enable with -EFAULT or -EINVAL.
 *
 * Must be set while the vring is stopped (-EBUSY otherwise), after
 * VHU_SET_VRING_NUM (-EINVAL otherwise, and if @size is too small for the
 * ring). The owner must keep the area mapped while attached; an area that
 * becomes unwritable stops the vring as a ring error does.
 */
struct vhu_vring_inflight {
	__u32 index;
	__u32 padding;
	__aligned_u64 user_addr;
	__aligned_u64 size;
};

#define VHU_SET_VRING_INFLIGHT	_IOW(VHU_IOCTL_TYPE, 0x85, struct vhu_vring_inflight)

/*
 * The write cache mode the driver sees in virtio-blk's config "wce" (the
 * daemon offers VIRTIO_BLK_F_CONFIG_WCE and forwards the driver's writes of
 * it). 1, the default: write-back, a write completes once the backend
 * accepted it and FLUSH makes it durable. 0: write-through, a write
 * completes only once it is durable (submitted as O_DSYNC). Any other value
 * fails with -EINVAL. May be changed while the vrings run; applies to the
 * writes submitted afterwards.
 */
#define VHU_SET_WRITE_CACHE	_IOW(VHU_IOCTL_TYPE, 0x86, __u32)

/* Backend flags. */
#define VHU_BACKEND_F_READONLY	(1U << 0)	/* offer VIRTIO_BLK_F_RO, refuse writes */
#define VHU_BACKEND_F_NO_FLUSH	(1U << 1)	/* do not offer VIRTIO_BLK_F_FLUSH */
#define VHU_BACKEND_F_NO_DISCARD (1U << 2)	/* do not offer VIRTIO_BLK_F_DISCARD */
#define VHU_BACKEND_F_NO_WRITE_ZEROES (1U << 3)	/* ... VIRTIO_BLK_F_WRITE_ZEROES */
#define VHU_BACKEND_F_ALL	(VHU_BACKEND_F_READONLY | VHU_BACKEND_F_NO_FLUSH | \
				 VHU_BACKEND_F_NO_DISCARD | \
				 VHU_BACKEND_F_NO_WRITE_ZEROES)

#define VHU_BLK_ID_BYTES	20	/* VIRTIO_BLK_ID_BYTES */

/**
 * struct vhu_blk_config - the virtio-blk configuration of the device
 * @capacity: size in 512-byte sectors; 0: the backend's size. Must not
 *	exceed the backend's size.
 * @size_max: largest segment in bytes (VIRTIO_BLK_F_SIZE_MAX); 0: no limit
 *	offered
 * @seg_max: most data segments per request (VIRTIO_BLK_F_SEG_MAX); 0: 254
 *	(the ring size is not known yet; the daemon passes ring size - 2).
 *	Like @size_max, advice to the driver: the device itself accepts up
 *	to 1024 buffer pieces and 32 MiB of data per request.
 * @blk_size: logical block size, a power of 2 from 512 to 4096
 *	(VIRTIO_BLK_F_BLK_SIZE); 0: the backend's (512 for files). Requests
 *	must be aligned to it.
 * @num_queues: number of request queues, 1 to VHU_MAX_QUEUES
 *	(VIRTIO_BLK_F_MQ when above 1); 0: 1
 * @physical_block_exp: log2(physical block / logical block)
 *	(VIRTIO_BLK_F_TOPOLOGY, as the three fields below)
 * @alignment_offset: offset of the first aligned logical block
 * @min_io_size: suggested minimum I/O size in logical blocks
 * @opt_io_size: optimal sustained I/O size in logical blocks
 * @max_discard_sectors: most sectors per discard segment; 0: the backend's
 *	limit (or UINT_MAX / 512 for files)
 * @max_discard_seg: most segments per discard request; 0: 1
 * @discard_sector_alignment: discard alignment in sectors; 0: blk_size
 * @max_write_zeroes_sectors: most sectors per write-zeroes segment;
 *	0: as for discard
 * @max_write_zeroes_seg: most segments per write-zeroes request; 0: 1
 * @write_zeroes_may_unmap: 1 if VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP may
 *	deallocate (output only: computed from the backend; must be 0 on input)
 * @serial: the GET_ID string, NUL-padded, not necessarily NUL-terminated
 * @padding: zero
 *
 * On input (struct vhu_backend) 0 means "the default"; VHU_GET_DEV_INFO
 * returns the effective values, which are what the device reports in its
 * virtio config space (the daemon answers VHOST_USER_GET_CONFIG from it).
 */
struct vhu_blk_config {
	__aligned_u64 capacity;
	__u32 size_max;
	__u32 seg_max;
	__u32 blk_size;
	__u32 num_queues;
	__u32 physical_block_exp;
	__u32 alignment_offset;
	__u32 min_io_size;
	__u32 opt_io_size;
	__u32 max_discard_sectors;
	__u32 max_discard_seg;
	__u32 discard_sector_alignment;
	__u32 max_write_zeroes_sectors;
	__u32 max_write_zeroes_seg;
	__u32 write_zeroes_may_unmap;
	__u8 serial[VHU_BLK_ID_BYTES];
	__u32 padding;
};

/**
 * struct vhu_backend - what the device reads and writes
 * @fd: a regular file or a block device, opened for reading; opened
 *	O_RDONLY it makes a read-only device, as VHU_BACKEND_F_READONLY does.
 *	Opened with O_DIRECT for direct I/O, else I/O is buffered.
 *	The module takes its own reference.
 * @flags: VHU_BACKEND_F_* bits
 * @reserved: zero
 * @config: the virtio-blk configuration; 0 fields take defaults
 *
 * Capabilities are derived from the backend: FLUSH if it can fsync, DISCARD
 * and WRITE_ZEROES if it supports fallocate(PUNCH_HOLE) / (ZERO_RANGE) (a
 * file) or discard / write-zeroes (a block device), all unless turned off
 * with a flag. Fails with -EBUSY while a vring is enabled, -EINVAL for an
 * invalid config, -EBADF / -EINVAL for an unusable fd. Features set with
 * VHU_SET_FEATURES that the new backend does not offer are dropped.
 */
struct vhu_backend {
	__s32 fd;
	__u32 flags;
	__aligned_u64 reserved[2];
	struct vhu_blk_config config;
};

#define VHU_SET_BACKEND		_IOW(VHU_IOCTL_TYPE, 0x30, struct vhu_backend)

/* Capabilities of the backend (struct vhu_dev_info.caps). */
#define VHU_CAP_WRITE		(1ULL << 0)
#define VHU_CAP_FLUSH		(1ULL << 1)
#define VHU_CAP_DISCARD		(1ULL << 2)
#define VHU_CAP_WRITE_ZEROES	(1ULL << 3)
#define VHU_CAP_DIRECT		(1ULL << 4)	/* opened O_DIRECT */
#define VHU_CAP_BLKDEV		(1ULL << 5)	/* a block device */
#define VHU_CAP_ALL		(VHU_CAP_WRITE | VHU_CAP_FLUSH | VHU_CAP_DISCARD | \
				 VHU_CAP_WRITE_ZEROES | VHU_CAP_DIRECT | \
				 VHU_CAP_BLKDEV)

/**
 * struct vhu_dev_info - the device as the guest will see it
 * @dev_id: this device's id, as in the VHU_ATTR_DEV_ID netlink attribute
 * @padding: zero
 * @features: the virtio feature bits the device offers (= VHU_GET_FEATURES)
 * @acked_features: the bits set with VHU_SET_FEATURES
 * @caps: VHU_CAP_* bits of the backend (0 without a backend)
 * @reserved: zero
 * @config: the effective virtio-blk configuration (all zero without a
 *	backend)
 *
 * The single source of truth for VHOST_USER_GET_FEATURES and
 * VHOST_USER_GET_CONFIG: the daemon answers both from this.
 */
struct vhu_dev_info {
	__u32 dev_id;
	__u32 padding;
	__aligned_u64 features;
	__aligned_u64 acked_features;
	__aligned_u64 caps;
	__aligned_u64 reserved[4];
	struct vhu_blk_config config;
};

#define VHU_GET_DEV_INFO	_IOR(VHU_IOCTL_TYPE, 0x83, struct vhu_dev_info)

/* Vring states (struct vhu_vring_stats.state). */
#define VHU_VRING_STOPPED	0
#define VHU_VRING_RUNNING	1
#define VHU_VRING_ERROR		2	/* stopped by an error, err fd signalled */

/**
 * struct vhu_vring_stats - counters of one vring, since VHU_SET_VRING_NUM
 * @index: vring index (input)
 * @state: VHU_VRING_* (output)
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
 * @ring_errors: unrecoverable ring errors (0 or 1: the vring stops)
 * @inflight: requests taken from the avail ring and not yet used
 * @kicks: kick eventfd wake-ups
 * @calls: call eventfd signals
 * @last_avail_idx: next avail index the device will read
 * @reserved: zero on output
 */
struct vhu_vring_stats {
	__u32 index;
	__u32 state;
	__aligned_u64 reqs_in;
	__aligned_u64 reqs_out;
	__aligned_u64 reqs_flush;
	__aligned_u64 reqs_get_id;
	__aligned_u64 reqs_discard;
	__aligned_u64 reqs_write_zeroes;
	__aligned_u64 reqs_unsupp;
	__aligned_u64 reqs_ioerr;
	__aligned_u64 bytes_read;
	__aligned_u64 bytes_written;
	__aligned_u64 ring_errors;
	__aligned_u64 inflight;
	__aligned_u64 kicks;
	__aligned_u64 calls;
	__aligned_u64 last_avail_idx;
	__aligned_u64 reserved[4];
};

#define VHU_GET_VRING_STATS	_IOWR(VHU_IOCTL_TYPE, 0x84, struct vhu_vring_stats)

/*
 * Generic netlink family "vhu".
 *
 * VHU_CMD_GET_VERSION (no attributes in the request) answers with
 * VHU_ATTR_VERSION, VHU_ATTR_ABI_VERSION, VHU_ATTR_API_FEATURES,
 * VHU_ATTR_VIRTIO_FEATURES, VHU_ATTR_BACKEND_FLAGS and
 * VHU_ATTR_MAX_MEM_REGIONS.
 *
 * VHU_CMD_GET_STATS is a dump (NLM_F_DUMP) of one message per vring of
 * every device (devices are not namespaced, so it needs CAP_NET_ADMIN in
 * the initial user namespace): VHU_ATTR_DEV_ID,
 * VHU_ATTR_OWNER_PID, VHU_ATTR_QUEUE and a nested VHU_ATTR_STATS with the
 * VHU_STATS_A_* counters of struct vhu_vring_stats. A VHU_ATTR_DEV_ID in
 * the request restricts the dump to that device.
 */
#define VHU_GENL_NAME		"vhu"
#define VHU_GENL_VERSION	1

enum vhu_cmd {
	VHU_CMD_UNSPEC,
	VHU_CMD_GET_VERSION,
	VHU_CMD_GET_STATS,

	__VHU_CMD_MAX
};

#define VHU_CMD_MAX (__VHU_CMD_MAX - 1)

enum vhu_attr {
	VHU_ATTR_UNSPEC,
	VHU_ATTR_VERSION,		/* string: module version */
	VHU_ATTR_ABI_VERSION,		/* u32: VHU_ABI_VERSION */
	VHU_ATTR_API_FEATURES,		/* u64: VHU_API_F_* */
	VHU_ATTR_PAD,
	VHU_ATTR_VIRTIO_FEATURES,	/* u64: struct vhu_api.virtio_features */
	VHU_ATTR_BACKEND_FLAGS,		/* u32: VHU_BACKEND_F_ALL */
	VHU_ATTR_MAX_MEM_REGIONS,	/* u32: VHU_MAX_MEM_REGIONS */
	VHU_ATTR_DEV_ID,		/* u32: struct vhu_dev_info.dev_id */
	VHU_ATTR_OWNER_PID,		/* u32: tgid of the owner, 0 if none */
	VHU_ATTR_QUEUE,			/* u32: vring index */
	VHU_ATTR_STATS,			/* nested: VHU_STATS_A_* */

	__VHU_ATTR_MAX
};

#define VHU_ATTR_MAX (__VHU_ATTR_MAX - 1)

/* Attributes nested in VHU_ATTR_STATS: u64 unless noted. */
enum vhu_stats_attr {
	VHU_STATS_A_UNSPEC,
	VHU_STATS_A_PAD,
	VHU_STATS_A_STATE,		/* u32: VHU_VRING_* */
	VHU_STATS_A_REQS_IN,
	VHU_STATS_A_REQS_OUT,
	VHU_STATS_A_REQS_FLUSH,
	VHU_STATS_A_REQS_GET_ID,
	VHU_STATS_A_REQS_DISCARD,
	VHU_STATS_A_REQS_WRITE_ZEROES,
	VHU_STATS_A_REQS_UNSUPP,
	VHU_STATS_A_REQS_IOERR,
	VHU_STATS_A_BYTES_READ,
	VHU_STATS_A_BYTES_WRITTEN,
	VHU_STATS_A_RING_ERRORS,
	VHU_STATS_A_INFLIGHT,
	VHU_STATS_A_KICKS,
	VHU_STATS_A_CALLS,
	VHU_STATS_A_LAST_AVAIL_IDX,

	__VHU_STATS_A_MAX
};

#define VHU_STATS_A_MAX (__VHU_STATS_A_MAX - 1)

#endif /* _UAPI_LINUX_VHU_H */
