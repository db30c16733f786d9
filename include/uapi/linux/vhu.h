/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * vhu: vhost-user block backend with an in-kernel datapath.
 *
 * The ABI shared by vhu.ko and its userspace: ioctls on the misc device
 * /dev/vhu and the generic netlink family "vhu". This header is the
 * specification; Documentation/vhu.rst includes its kernel-doc.
 */
#ifndef _UAPI_LINUX_VHU_H
#define _UAPI_LINUX_VHU_H

#include <linux/types.h>
#include <linux/ioctl.h>

/**
 * DOC: Conventions
 *
 * - ioctl arguments use only fixed-size types (``__u32``, ``__s32``,
 *   ``__aligned_u64``, and ``__u8`` arrays for byte strings), and every
 *   structure is padded explicitly to a multiple of 8 bytes, so it has the
 *   same layout on 32- and 64-bit userspace. The inflight area
 *   (struct vhu_inflight_queue) is the exception: its layout is the
 *   vhost-user specification's, which userspace shares with the frontend,
 *   and the kernel never rejects it for its padding.
 * - Fields named ``reserved`` or ``padding`` must be zero on input; the
 *   kernel rejects a non-zero one with -EINVAL, so that they can gain a
 *   meaning later. On output the kernel zeroes them.
 * - Every flags field has a ``*_F_ALL`` mask of the bits this ABI knows; an
 *   unknown bit is rejected with -EINVAL.
 * - An ioctl the module does not know (another type, number, size or
 *   direction) fails with -ENOTTY, with or without an owner.
 * - Any ioctl fails with -EFAULT when its argument cannot be copied.
 * - Command numbers follow <linux/vhost.h> where a vhost command of the same
 *   meaning exists, under vhu's own ioctl type %VHU_IOCTL_TYPE.
 * - The module's capabilities are probed with %VHU_GET_API, never by trial:
 *   what a module implements beyond this first version of the ABI is a
 *   %VHU_API_F_* bit.
 */

#define VHU_DEVICE_NAME		"vhu"
#define VHU_DEVICE_PATH		"/dev/vhu"
/*
 * /dev/vhu is misc (major 10) minor 243, the first of the minors
 * Documentation/admin-guide/devices.txt reserves for local use: a fixed
 * minor lets the node exist before the module is loaded, and opening it
 * loads the module ("devname:vhu" and "char-major-10-243" aliases).
 */
#define VHU_DEVICE_MINOR	243

/*
 * ioctl type: Documentation/userspace-api/ioctl/ioctl-number.rst (as of
 * Linux 6.12) assigns 0xB8 and then 0xC0, so 0xB9 is used by nothing else.
 */
#define VHU_IOCTL_TYPE		0xB9

/**
 * DOC: Life cycle of a device
 *
 * Each open file of /dev/vhu is one device. Opening needs CAP_SYS_ADMIN.
 * The order ``vhuctl`` uses::
 *
 *   open -> VHU_SET_OWNER -> VHU_SET_BACKEND -> [VHU_SET_WRITE_CACHE] ->
 *   VHU_SET_FEATURES -> VHU_SET_MEM_TABLE ->
 *   per vring: VHU_SET_VRING_NUM, _BASE, _ADDR, _KICK, _CALL, _ERR,
 *              [_INFLIGHT] -> VHU_SET_VRING_ENABLE(1)
 *   -> I/O, with memory table changes at any time ->
 *   [migration: VHU_SET_LOG_BASE, VHU_SET_FEATURES with VHOST_F_LOG_ALL,
 *    VHU_SET_VRING_ADDR with VHU_VRING_F_LOG, ..., and back] ->
 *   VHU_GET_VRING_BASE (stops and drains the vring) ->
 *   VHU_RESET_OWNER or close
 *
 * Only %VHU_GET_API, %VHU_GET_FEATURES, %VHU_GET_DEV_INFO and
 * %VHU_SET_OWNER work without an owner. Every other ioctl fails with
 * -EPERM before %VHU_SET_OWNER, and when called from a task whose mm is not
 * the owner's.
 *
 * All addresses passed in (memory regions, vring addresses, the inflight
 * area) are virtual addresses in the owner's address space and are only
 * dereferenced through the owner's mm. Buffers found in descriptors are
 * guest-physical addresses, translated through the memory table.
 *
 * A vring is *stopped* until %VHU_SET_VRING_ENABLE with 1 succeeds, and
 * again after %VHU_SET_VRING_ENABLE with 0, %VHU_GET_VRING_BASE or
 * %VHU_RESET_OWNER.
 * Enabling a vring needs all of:
 *
 * - a ring size (%VHU_SET_VRING_NUM) and ring addresses
 *   (%VHU_SET_VRING_ADDR) and a kick eventfd (%VHU_SET_VRING_KICK);
 * - a backend (%VHU_SET_BACKEND) whose config.num_queues is above the
 *   vring's index;
 * - %VIRTIO_F_VERSION_1 among the acknowledged features
 *   (%VHU_SET_FEATURES): the rings are always little-endian;
 * - a memory table (%VHU_SET_MEM_TABLE, possibly empty);
 * - otherwise -EINVAL; and then each of the three rings inside one region
 *   of the memory table, else -EFAULT;
 * - with an inflight area attached (%VHU_SET_VRING_INFLIGHT), an area that
 *   can be read and is consistent, else -EFAULT or -EINVAL.
 *
 * Enabling processes what the avail ring already holds. While a vring is
 * enabled, %VHU_SET_FEATURES, %VHU_SET_BACKEND and that vring's
 * %VHU_SET_VRING_NUM, _ADDR, _BASE and _INFLIGHT fail with -EBUSY. A vring
 * stopped by a ring error (see %VHU_SET_VRING_ERR) still counts as enabled
 * until it is stopped explicitly. The memory table, the eventfds, the
 * write cache mode and the dirty log (%VHU_SET_LOG_BASE) can be changed at
 * any time. Two exceptions let a live migration start and end while the
 * vrings run: %VHU_SET_FEATURES that changes only ``VHOST_F_LOG_ALL``, and
 * %VHU_SET_VRING_ADDR that changes only the flags and @log_guest_addr of
 * an enabled vring.
 */

/**
 * DOC: Probing the module
 *
 * ``VHU_GET_API`` (no owner needed) fills struct vhu_api: the %VHU_API_F_*
 * bits, the flag masks and the limits of the loaded module. The netlink
 * command %VHU_CMD_GET_VERSION answers tools that do not open the device
 * with the module's version string, its %VHU_API_F_* bits, virtio
 * features, backend flags and region limit.
 */

#define VHU_API_F_GENL		(1ULL << 0)	/* generic netlink family "vhu" */
#define VHU_API_F_DATAPATH	(1ULL << 1)	/* the vring and backend ioctls */
#define VHU_API_F_MEM_HOTPLUG	(1ULL << 2)	/* VHU_ADD/DEL_MEM_REGION */
#define VHU_API_F_BLKDEV	(1ULL << 3)	/* block devices as backend */
#define VHU_API_F_DISCARD	(1ULL << 4)	/* VIRTIO_BLK_T_DISCARD */
#define VHU_API_F_WRITE_ZEROES	(1ULL << 5)	/* VIRTIO_BLK_T_WRITE_ZEROES */
#define VHU_API_F_STATS		(1ULL << 6)	/* VHU_CMD_GET_STATS */
#define VHU_API_F_INFLIGHT	(1ULL << 7)	/* VHU_SET_VRING_INFLIGHT */
#define VHU_API_F_WRITE_CACHE	(1ULL << 8)	/* VHU_SET_WRITE_CACHE */
#define VHU_API_F_CAPACITY	(1ULL << 9)	/* VHU_SET_CAPACITY */
#define VHU_API_F_DEV_INFO	(1ULL << 10)	/* VHU_SET_NAME, VHU_CMD_GET_DEV */
#define VHU_API_F_EVENTS	(1ULL << 11)	/* multicast group "events" */
/* Dirty logging: VHU_SET_LOG_BASE, VHOST_F_LOG_ALL, VHU_VRING_F_LOG. */
#define VHU_API_F_LOG		(1ULL << 12)
#define VHU_API_F_PIN_MEMORY	(1ULL << 13)	/* VHU_SET_MEM_FLAGS, VHU_MEM_F_PIN */
/* VHU_SET_VRING_BUSY_POLL, VHU_GET_VRING_BUSY_POLL */
#define VHU_API_F_BUSY_POLL	(1ULL << 14)
#define VHU_API_F_ALL		(VHU_API_F_GENL | VHU_API_F_DATAPATH | \
				 VHU_API_F_MEM_HOTPLUG | VHU_API_F_BLKDEV | \
				 VHU_API_F_DISCARD | VHU_API_F_WRITE_ZEROES | \
				 VHU_API_F_STATS | VHU_API_F_INFLIGHT | \
				 VHU_API_F_WRITE_CACHE | VHU_API_F_CAPACITY | \
				 VHU_API_F_DEV_INFO | VHU_API_F_EVENTS | \
				 VHU_API_F_LOG | VHU_API_F_PIN_MEMORY | \
				 VHU_API_F_BUSY_POLL)

/* Limits. */
#define VHU_MAX_MEM_REGIONS	509	/* as vhost-user's VHOST_USER_MAX_RAM_SLOTS */
#define VHU_MAX_QUEUES		64	/* vrings per device */
#define VHU_MAX_VRING_NUM	32768	/* the split ring size limit of virtio */
#define VHU_MAX_SEG		1022	/* data segments per request (seg_max) */

/**
 * struct vhu_api - ioctl(VHU_GET_API): what the loaded module implements
 * @features: the %VHU_API_F_* bits the module implements
 * @virtio_features: every virtio feature bit the module can ever offer
 *	(%VHU_GET_FEATURES reports those it offers for a given backend)
 * @backend_flags: the %VHU_BACKEND_F_* bits the module accepts
 * @vring_addr_flags: the %VHU_VRING_F_* bits the module accepts
 * @max_mem_regions: %VHU_MAX_MEM_REGIONS
 * @max_queues: %VHU_MAX_QUEUES
 * @max_vring_num: %VHU_MAX_VRING_NUM
 * @reserved: zero
 *
 * Needs no owner. The masks let userspace find out, without trial and
 * error, which bits of the flags fields the loaded module knows.
 */
struct vhu_api {
	__aligned_u64 features;
	__aligned_u64 virtio_features;
	__aligned_u64 backend_flags;
	__aligned_u64 vring_addr_flags;
	__u32 max_mem_regions;
	__u32 max_queues;
	__u32 max_vring_num;
	__u32 reserved[5];
};

#define VHU_GET_API		_IOR(VHU_IOCTL_TYPE, 0x80, struct vhu_api)

/**
 * DOC: Ownership and features
 *
 * ``VHU_SET_OWNER`` (no argument) binds the device to the calling task's
 * mm; only that mm's tasks may configure it afterwards. -EBUSY if the
 * device has an owner already, -EINVAL if the caller has no mm.
 *
 * ``VHU_RESET_OWNER`` (no argument) stops every vring, waits for their
 * in-flight requests, drops the backend, the memory table, the eventfds,
 * the inflight areas, the acknowledged features, the write cache mode and
 * the mm, and leaves the device as it was after open.
 *
 * ``VHU_GET_FEATURES`` (``__u64``, no owner needed) reports the virtio
 * feature bits (``VIRTIO_F_*``, ``VIRTIO_RING_F_*``, ``VIRTIO_BLK_F_*``) the
 * device offers: before %VHU_SET_BACKEND the ones every backend gets, after
 * it those of this backend (as struct vhu_dev_info.features).
 *
 * ``VHU_SET_FEATURES`` (``__u64``) sets the bits the driver acknowledged:
 * -EINVAL for a bit that is not offered, -EBUSY while a vring is enabled,
 * unless the only bit that changes is ``VHOST_F_LOG_ALL`` (bit 26 of
 * <linux/vhost_types.h>), which may be turned on and off while the vrings
 * run (see DOC: Dirty logging).
 * The datapath acts on %VIRTIO_F_VERSION_1 (required to enable a vring),
 * %VIRTIO_RING_F_EVENT_IDX, %VIRTIO_RING_F_INDIRECT_DESC and
 * ``VHOST_F_LOG_ALL``; the request types it serves follow from the backend.
 * ``VHOST_F_LOG_ALL`` is offered with every backend by a module with
 * %VHU_API_F_LOG.
 */
#define VHU_GET_FEATURES	_IOR(VHU_IOCTL_TYPE, 0x00, __u64)
#define VHU_SET_FEATURES	_IOW(VHU_IOCTL_TYPE, 0x00, __u64)
#define VHU_SET_OWNER		_IO(VHU_IOCTL_TYPE, 0x01)
#define VHU_RESET_OWNER		_IO(VHU_IOCTL_TYPE, 0x02)

/**
 * DOC: Dirty logging
 *
 * For a live migration the frontend must learn which pages of guest
 * memory the device wrote (%VHU_API_F_LOG). The log is a bitmap in the
 * owner's address space, as vhost's (VHOST_SET_LOG_BASE): one bit per
 * 4 KiB page of guest-physical memory, page p = gpa >> 12 being bit p % 8
 * of byte p / 8. The device only ever sets bits, with atomic operations
 * (the frontend clears them as it syncs); it never reads the bitmap
 * otherwise.
 *
 * While ``VHOST_F_LOG_ALL`` is acknowledged (%VHU_SET_FEATURES), the device
 * marks every page it writes: the bytes of the device-writable buffers a
 * request wrote (the data of a read, the GET_ID string; all the data
 * buffers of a read that failed in the backend, which may have written
 * part of them), its status byte, and, for a vring whose
 * %VHU_SET_VRING_ADDR had %VHU_VRING_F_LOG, the used ring's fields it
 * writes (elements, index, flags, avail event) at their offset from
 * @log_guest_addr. A request's
 * pages are marked after its buffers and its used element were written
 * and before the used index store that publishes it; the used index's
 * page right after that store. So once %VHU_GET_VRING_BASE returned, the
 * log holds every page the vring wrote.
 *
 * A page beyond the log (p >= 8 * size), or written while no log is
 * installed, is not marked but counted (%VHU_STATS_A_LOG_SKIPPED). A log
 * that cannot be written (the owner unmapped it or made it read-only)
 * stops the vring as a ring error does (%VHU_SET_VRING_ERR), as vhost
 * fails the vring with -EFAULT: the requests in flight still complete, and
 * nothing but the owner's own log pages is ever written.
 *
 * With ``VHOST_F_LOG_ALL`` off, the datapath does nothing of this.
 * ``VHOST_F_LOG_ALL`` may be acknowledged before a log is installed (QEMU
 * sets the features of a device it starts during a migration before the
 * log base).
 */

/* No flags yet. */
#define VHU_LOG_F_ALL		0

/**
 * struct vhu_log - ioctl(VHU_SET_LOG_BASE): the dirty log
 * @user_addr: the bitmap in the owner's address space, 8-byte aligned;
 *	0 drops the log
 * @size: bytes of bitmap at @user_addr, covering @size * 8 pages of guest
 *	memory; not 0 with a @user_addr, 0 without
 * @flags: %VHU_LOG_F_* bits (none yet)
 * @reserved: zero
 *
 * Installs, replaces or drops the log, at any time, also while vrings run
 * and log. The ioctl returns once no vring writes the old log any more, so
 * the owner may unmap it right after. The owner must keep the new one
 * mapped and writable while it is installed (see DOC: Dirty logging).
 * -EINVAL for a misaligned @user_addr, a range that wraps, a @size without
 * an address or an address without a @size, an unknown flag or a non-zero
 * @reserved; -EFAULT for a range that fails access_ok().
 * %VHU_RESET_OWNER drops the log. Needs the owner (%VHU_API_F_LOG).
 */
struct vhu_log {
	__aligned_u64 user_addr;
	__aligned_u64 size;
	__u32 flags;
	__u32 reserved[3];
};

#define VHU_SET_LOG_BASE	_IOW(VHU_IOCTL_TYPE, 0x04, struct vhu_log)

/**
 * struct vhu_mem_region - one region of guest memory
 * @guest_phys_addr: guest-physical address of the first byte
 * @memory_size: size in bytes, not zero
 * @userspace_addr: where the region is mapped in the owner's address space
 * @reserved: zero (vhost's flags_padding)
 *
 * Argument of %VHU_ADD_MEM_REGION and %VHU_DEL_MEM_REGION, and an entry of
 * struct vhu_memory. Regions must not overlap in guest-physical space, and
 * neither range may wrap around the end of the 64-bit space (-EINVAL);
 * the owner's range must pass access_ok() (-EFAULT). The owner must keep
 * the mapping while the region is in the table; a descriptor that points
 * to an unmapped page only fails that request (VIRTIO_BLK_S_IOERR).
 */
struct vhu_mem_region {
	__aligned_u64 guest_phys_addr;
	__aligned_u64 memory_size;
	__aligned_u64 userspace_addr;
	__aligned_u64 reserved;
};

/**
 * struct vhu_memory - ioctl(VHU_SET_MEM_TABLE): the whole memory table
 * @nregions: number of entries in @regions, at most %VHU_MAX_MEM_REGIONS
 * @padding: zero
 * @regions: the regions
 *
 * As struct vhost_memory. The ioctl's size covers the header only; the
 * kernel reads @nregions entries after it. Allowed at any time, also while
 * vrings run: the table is replaced as a whole, requests already
 * translated complete against the old one, and the ioctl returns only once
 * none uses it any more, so the owner may unmap a dropped region right
 * after. A table that would leave an enabled vring's ring outside every
 * region is refused with -EBUSY. -EINVAL for a bad or overlapping region,
 * too many regions or non-zero padding, -ENOMEM.
 */
struct vhu_memory {
	__u32 nregions;
	__u32 padding;
	struct vhu_mem_region regions[];
};

#define VHU_SET_MEM_TABLE	_IOW(VHU_IOCTL_TYPE, 0x03, struct vhu_memory)

/**
 * DOC: Memory hotplug
 *
 * ``VHU_ADD_MEM_REGION`` (struct vhu_mem_region) adds one region: -EEXIST
 * if it overlaps one in the table, -ENOSPC if the table is full.
 *
 * ``VHU_DEL_MEM_REGION`` (struct vhu_mem_region) removes the region that
 * matches all three addresses and sizes: -ENOENT if none does, -EBUSY if
 * an enabled vring's ring lies in it.
 *
 * Both work while the vrings run and replace the table as
 * %VHU_SET_MEM_TABLE does: %VHU_DEL_MEM_REGION returns only once no
 * request uses the removed region any more.
 */
#define VHU_ADD_MEM_REGION	_IOW(VHU_IOCTL_TYPE, 0x81, struct vhu_mem_region)
#define VHU_DEL_MEM_REGION	_IOW(VHU_IOCTL_TYPE, 0x82, struct vhu_mem_region)

/**
 * DOC: Pinned guest memory
 *
 * ``VHU_SET_MEM_FLAGS`` (``__u32``, %VHU_MEM_F_* bits) sets how the memory
 * tables that follow are held: -EINVAL for an unknown bit, -EBUSY once a
 * memory table is set or a vring has a size (%VHU_SET_VRING_NUM): set it
 * right after %VHU_SET_OWNER. %VHU_RESET_OWNER goes back to 0.
 *
 * %VHU_MEM_F_PIN pins every page of each region once, when the region
 * enters the table (%VHU_SET_MEM_TABLE, %VHU_ADD_MEM_REGION), as io_uring's
 * registered buffers do, instead of pinning a request's pages for each
 * I/O: the datapath then reads and writes guest buffers through the
 * pinned pages. The memory cost: every page of every region stays
 * resident and unmovable while the region is in the table (the pages are
 * faulted in, written, as the ioctl runs), and is charged to the owner's
 * locked memory (``RLIMIT_MEMLOCK``, ``VmLck``; ``CAP_IPC_LOCK`` lifts the
 * limit): a table over the limit is refused with -ENOMEM and the old one
 * stays. A region the owner cannot pin for writing (not mapped, read-only,
 * a file system that refuses long-term pins) fails the ioctl with the
 * error of pin_user_pages(), -EFAULT or -EOPNOTSUPP; a fatal signal while
 * pinning a large region ends it with -EINTR. The pages are unpinned once
 * the region left the table and the last request using it completed. A
 * region that stays from one table to the next (same three addresses and
 * sizes) keeps its pages. Pages stay valid even if the owner shrinks the
 * file behind a region: requests then use the pages the region had when it
 * was pinned.
 */
#define VHU_MEM_F_PIN		(1U << 0)	/* pin regions once, not per I/O */
#define VHU_MEM_F_ALL		VHU_MEM_F_PIN

#define VHU_SET_MEM_FLAGS	_IOW(VHU_IOCTL_TYPE, 0x89, __u32)

/**
 * struct vhu_vring_state - a per-vring number, as struct vhost_vring_state
 * @index: vring index, below %VHU_MAX_QUEUES (-EINVAL otherwise)
 * @num: the value
 *
 * ioctl(VHU_SET_VRING_NUM): @num is the ring size, a power of 2 up to
 * %VHU_MAX_VRING_NUM (-EINVAL otherwise). Resets the vring's counters.
 * Allocates what the vring needs for that size (a request per entry, about
 * 230 bytes each, and 16 KiB; with %VHU_MEM_F_PIN 290 KiB more), charged
 * to the caller's memory cgroup: -ENOMEM if that fails. Requests allocate
 * nothing more, but for discard and write-zeroes segments beyond the
 * first, and with %VHU_MEM_F_PIN the page list of a request over four
 * pieces.
 *
 * ioctl(VHU_SET_VRING_BASE): @num is the next avail index to process, at
 * most 0xffff.
 *
 * ioctl(VHU_GET_VRING_BASE): stops the vring (as %VHU_SET_VRING_ENABLE
 * with 0), waits until all its in-flight requests completed and were put
 * in the used ring, then returns the next avail index to process in @num.
 * Allowed at any time.
 *
 * ioctl(VHU_SET_VRING_ENABLE): @num 1 starts processing the vring (see
 * the life cycle for what that needs), @num 0 stops it and waits until its
 * in-flight requests completed; any other value fails with -EINVAL. As
 * VHOST_VDPA_SET_VRING_ENABLE.
 *
 * Waiting for requests in flight takes as long as the backing store
 * does: these two, %VHU_RESET_OWNER, %VHU_SET_MEM_TABLE and the memory
 * hotplug ioctls wait killably, and fail with -EINTR on a fatal signal
 * (the vring stays stopped, a new memory table stays installed).
 */
struct vhu_vring_state {
	__u32 index;
	__u32 num;
};

/**
 * struct vhu_vring_file - a per-vring eventfd, as struct vhost_vring_file
 * @index: vring index, below %VHU_MAX_QUEUES
 * @fd: an eventfd, or -1 to detach the current one
 *
 * ioctl(VHU_SET_VRING_KICK): the guest's notifications; the vring's worker
 * waits on it. ioctl(VHU_SET_VRING_CALL): signalled after used ring
 * updates the driver asked to hear about. ioctl(VHU_SET_VRING_ERR):
 * signalled when the vring hits an unrecoverable ring error (a malformed
 * ring, an unreadable ring address, an unwritable inflight area); the
 * vring then takes no new request, in-flight ones still complete, the
 * other vrings keep running, and the netlink statistics report
 * %VHU_VRING_ERROR. Stop the vring and enable it again to restart it.
 *
 * Allowed at any time. -EBADF for a closed fd, -EINVAL for one that is not
 * an eventfd.
 */
struct vhu_vring_file {
	__u32 index;
	__s32 fd;
};

/* Log used-ring writes at @log_guest_addr (DOC: Dirty logging). */
#define VHU_VRING_F_LOG		(1U << 0)
#define VHU_VRING_F_ALL		(VHU_VRING_F_LOG)

/**
 * struct vhu_vring_addr - ioctl(VHU_SET_VRING_ADDR): where a split ring lives
 * @index: vring index, below %VHU_MAX_QUEUES
 * @flags: %VHU_VRING_F_* bits
 * @desc_user_addr: descriptor table, 16-byte aligned
 * @used_user_addr: used ring, 4-byte aligned
 * @avail_user_addr: available ring, 2-byte aligned
 * @log_guest_addr: guest-physical address of the used ring for dirty
 *	logging, 4-byte aligned; only with %VHU_VRING_F_LOG, ignored without
 *
 * As struct vhost_vring_addr; all three rings are addresses in the owner's
 * address space (-EINVAL if misaligned) and must lie inside the memory
 * table when the vring is enabled. With %VHU_VRING_F_LOG, the used ring's
 * writes are marked in the dirty log while ``VHOST_F_LOG_ALL`` is
 * acknowledged (see DOC: Dirty logging). On an enabled vring the ioctl
 * succeeds only if the three ring addresses are those the vring has: it
 * then changes the flags and @log_guest_addr alone, for the requests
 * completed afterwards (-EBUSY otherwise).
 */
struct vhu_vring_addr {
	__u32 index;
	__u32 flags;
	__aligned_u64 desc_user_addr;
	__aligned_u64 used_user_addr;
	__aligned_u64 avail_user_addr;
	__aligned_u64 log_guest_addr;
};

#define VHU_SET_VRING_NUM	_IOW(VHU_IOCTL_TYPE, 0x10, struct vhu_vring_state)
#define VHU_SET_VRING_ADDR	_IOW(VHU_IOCTL_TYPE, 0x11, struct vhu_vring_addr)
#define VHU_SET_VRING_BASE	_IOW(VHU_IOCTL_TYPE, 0x12, struct vhu_vring_state)
#define VHU_GET_VRING_BASE	_IOWR(VHU_IOCTL_TYPE, 0x12, struct vhu_vring_state)
#define VHU_SET_VRING_KICK	_IOW(VHU_IOCTL_TYPE, 0x20, struct vhu_vring_file)
#define VHU_SET_VRING_CALL	_IOW(VHU_IOCTL_TYPE, 0x21, struct vhu_vring_file)
#define VHU_SET_VRING_ERR	_IOW(VHU_IOCTL_TYPE, 0x22, struct vhu_vring_file)
#define VHU_SET_VRING_ENABLE	_IOW(VHU_IOCTL_TYPE, 0x75, struct vhu_vring_state)

/**
 * DOC: Busy polling
 *
 * ``VHU_SET_VRING_BUSY_POLL`` (struct vhu_vring_state, %VHU_API_F_BUSY_POLL)
 * sets how long, in microseconds (@num), the vring's worker keeps looking
 * at the avail ring after a pass that took or used requests found it
 * empty, before it sleeps until the next kick, as vhost-net's
 * VHOST_SET_VRING_BUSYLOOP_TIMEOUT does. 0, the default, turns polling
 * off; at most %VHU_MAX_BUSY_POLL_US, else -EINVAL (as for an index not
 * below %VHU_MAX_QUEUES). While it polls, the worker asks the driver not
 * to kick (``VRING_USED_F_NO_NOTIFY``, or with %VIRTIO_RING_F_EVENT_IDX an
 * avail event the driver's index does not cross), so a request the
 * driver makes available in the window costs it no notification and the
 * worker no wake-up; completions of the vring's requests end the poll
 * too. The worker asks for kicks again, and looks at the avail ring once
 * more, before it sleeps. It stops polling at once when another task
 * needs its CPU or is runnable on it (as KVM's halt polling does: on a
 * CPU shared with the driver, polling would only delay the driver), on a
 * signal, when the vring is stopped or hits a ring error, and when the
 * memory table changes; it holds no lock while it polls. An idle vring
 * costs at most one window per wake-up: the worker polls again only
 * after a pass that moved requests. The time is spent in the worker, a
 * thread of the owner, in the owner's cgroups.
 *
 * The value is the longest window; the window itself adapts, as KVM's
 * halt polling does, to how long the vring sat idle after a pass that
 * moved requests (until the next pass that moves some). An idle time
 * longer than the value, which no window could have bridged, halves the
 * window (below 10 us it becomes 0: the worker sleeps at once); an idle
 * time the window did not bridge but the value would have doubles it
 * (from 0 to 10 us), up to the value. So a driver that sends requests far
 * apart costs no polling, and one that sends them back to back gets the
 * whole window. %VHU_STATS_A_POLL_NS reports the window,
 * %VHU_STATS_A_POLLS and %VHU_STATS_A_POLL_HITS how the polls went.
 *
 * Allowed at any time, on a vring with or without a ring size, and
 * applies from the worker's next poll on; setting it starts the window
 * at the value. ``VHU_GET_VRING_BUSY_POLL`` returns the vring's value in
 * @num. %VHU_RESET_OWNER sets 0.
 */
#define VHU_MAX_BUSY_POLL_US	1000

#define VHU_SET_VRING_BUSY_POLL	_IOW(VHU_IOCTL_TYPE, 0x23, struct vhu_vring_state)
#define VHU_GET_VRING_BUSY_POLL	_IOWR(VHU_IOCTL_TYPE, 0x24, struct vhu_vring_state)

/**
 * struct vhu_inflight_desc - the state of one descriptor in the inflight area
 * @inflight: 1 while the request at this head is in flight, else 0
 * @padding: zero
 * @next: the next head of the batch last published (see
 *	struct vhu_inflight_queue.last_batch_head)
 * @counter: the order in which heads were taken from the avail ring
 *
 * The vhost-user specification's DescStateSplit, in host byte order.
 */
struct vhu_inflight_desc {
	__u8 inflight;
	__u8 padding[5];
	__u16 next;
	__aligned_u64 counter;
};

/**
 * struct vhu_inflight_queue - one vring's part of the inflight area
 * @features: zero (the specification has no features yet); written as
 *	zero when the area is initialised, ignored otherwise
 * @version: %VHU_INFLIGHT_VERSION once initialised, 0 for a new area
 * @desc_num: the ring size the area was initialised for
 * @last_batch_head: the last head of the batch whose used elements were
 *	written last; the batch is linked through &vhu_inflight_desc.next
 * @used_idx: the used index once that batch is no longer in flight
 * @desc: one state per descriptor, @desc_num of them
 *
 * The vhost-user specification's QueueRegionSplit ("Inflight I/O
 * tracking"), shared by the frontend (VHOST_USER_SET_INFLIGHT_FD), the
 * backends that served the vring one after the other, and this module.
 */
struct vhu_inflight_queue {
	__aligned_u64 features;
	__u16 version;
	__u16 desc_num;
	__u16 last_batch_head;
	__u16 used_idx;
	struct vhu_inflight_desc desc[];
};

#define VHU_INFLIGHT_VERSION	1

/* Bytes a vring of @num entries needs of the inflight area. */
#define VHU_INFLIGHT_QUEUE_SIZE(num)				\
	(sizeof(struct vhu_inflight_queue) +			\
	 (__u64)(num) * sizeof(struct vhu_inflight_desc))

/**
 * struct vhu_vring_inflight - ioctl(VHU_SET_VRING_INFLIGHT)
 * @index: vring index, below %VHU_MAX_QUEUES
 * @padding: zero
 * @user_addr: this vring's struct vhu_inflight_queue, in the owner's
 *	address space, 8-byte aligned; 0 detaches the area
 * @size: bytes at @user_addr, at least VHU_INFLIGHT_QUEUE_SIZE(ring size)
 *
 * Attaches the vring's part of the vhost-user inflight area. With an area
 * attached, every head taken from the avail ring is marked in flight with
 * an increasing counter, and cleared once its used element is published,
 * a whole batch after one used index update. So a later backend can tell
 * which requests were lost with a previous one.
 *
 * Enabling the vring reads the area first. An area whose version is not
 * %VHU_INFLIGHT_VERSION (0 for a new one) or whose desc_num is not the
 * ring size is (re)initialised: no request in flight. Otherwise it is
 * recovered as the specification says (the last batch is cleared if
 * used_idx lags the used ring), the heads still marked in flight are
 * resubmitted in counter order before anything new, and the next avail
 * index becomes the used index plus their number, whatever
 * %VHU_SET_VRING_BASE said: the area, not the frontend's guess from the
 * used index at disconnect, knows what was taken. An area that cannot be
 * read or is inconsistent (a last batch longer than the ring, a head out
 * of range) fails the enable with -EFAULT or -EINVAL.
 *
 * The vring must be stopped (-EBUSY); attaching needs a ring size
 * (-EINVAL, as for a misaligned or too small area, or one that fails
 * access_ok()), detaching does not. The
 * owner must keep the area mapped while it is attached; an area that
 * becomes unwritable stops the vring as a ring error does. The area is not
 * guest memory and need not be in the memory table.
 */
struct vhu_vring_inflight {
	__u32 index;
	__u32 padding;
	__aligned_u64 user_addr;
	__aligned_u64 size;
};

#define VHU_SET_VRING_INFLIGHT	_IOW(VHU_IOCTL_TYPE, 0x85, struct vhu_vring_inflight)

/**
 * DOC: Write cache
 *
 * ``VHU_SET_WRITE_CACHE`` (``__u32``) sets the write cache mode of the
 * device. 1, the default: write-back, a write completes once the backend
 * accepted it and FLUSH makes it durable. 0: write-through, a write
 * completes only once it is durable (it is submitted O_DSYNC, and
 * WRITE_ZEROES is synced). Any other value fails with -EINVAL. Allowed at
 * any time; applies to the requests submitted afterwards.
 * %VHU_RESET_OWNER goes back to 1. The daemon offers
 * %VIRTIO_BLK_F_CONFIG_WCE and sets 1 only while the driver has virtio-blk's
 * ``wce`` at 1 and negotiated %VIRTIO_BLK_F_FLUSH: a driver that cannot
 * flush takes a completed write as durable.
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
 * @size_max: largest segment in bytes (%VIRTIO_BLK_F_SIZE_MAX); 0: no limit
 *	offered
 * @seg_max: most data segments per request (%VIRTIO_BLK_F_SEG_MAX), at
 *	most %VHU_MAX_SEG; 0: 254. The device takes up to %VHU_MAX_SEG + 2
 *	buffer pieces per request (header and status included) and 32 MiB of
 *	data; a request with more completes with VIRTIO_BLK_S_IOERR. An
 *	indirect table may be longer than the ring (a driver sizes it by
 *	@seg_max), up to 65536 descriptors.
 * @blk_size: logical block size, a power of 2 from 512 to 4096
 *	(%VIRTIO_BLK_F_BLK_SIZE), not below a block device's own; 0: the
 *	backend's (512 for files). Requests must be aligned to it. For a
 *	driver that did not accept %VIRTIO_BLK_F_BLK_SIZE, and so uses
 *	512-byte sectors, the daemon sets the backend again with 512 before
 *	a vring is enabled.
 * @num_queues: number of request queues, 1 to %VHU_MAX_QUEUES
 *	(%VIRTIO_BLK_F_MQ when above 1); 0: 1
 * @physical_block_exp: log2(physical block / logical block)
 *	(%VIRTIO_BLK_F_TOPOLOGY, as the three fields below)
 * @alignment_offset: offset of the first aligned logical block
 * @min_io_size: suggested minimum I/O size in logical blocks
 * @opt_io_size: optimal sustained I/O size in logical blocks
 * @max_discard_sectors: most sectors per discard segment; 0: the backend's
 *	limit (or UINT_MAX / 512 for files)
 * @max_discard_seg: most segments per discard request, at most 256; 0: 1
 * @discard_sector_alignment: discard alignment in sectors; 0: blk_size
 * @max_write_zeroes_sectors: most sectors per write-zeroes segment;
 *	0: UINT_MAX / 512
 * @max_write_zeroes_seg: most segments per write-zeroes request, at most
 *	256; 0: 1
 * @write_zeroes_may_unmap: 1 if VIRTIO_BLK_WRITE_ZEROES_FLAG_UNMAP may
 *	deallocate (output only: computed from the backend; must be 0 on input)
 * @serial: the GET_ID string, NUL-padded, not necessarily NUL-terminated
 * @padding: zero
 *
 * On input (struct vhu_backend) 0 means "the default"; %VHU_GET_DEV_INFO
 * returns the effective values, which are what the device reports in its
 * virtio config space.
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
 * struct vhu_backend - ioctl(VHU_SET_BACKEND): what the device reads and writes
 * @fd: a regular file or a block device, opened for reading and not
 *	O_APPEND; opened O_RDONLY it makes a read-only device, as
 *	%VHU_BACKEND_F_READONLY does. Opened with O_DIRECT for direct I/O,
 *	else I/O is buffered; O_DSYNC or O_SYNC make every write
 *	write-through. The module takes its own reference.
 * @flags: %VHU_BACKEND_F_* bits
 * @reserved: zero
 * @config: the virtio-blk configuration; 0 fields take defaults
 *
 * Capabilities are derived from the backend: FLUSH if it can fsync,
 * DISCARD and WRITE_ZEROES if it supports fallocate(PUNCH_HOLE) and
 * (ZERO_RANGE) (a file) or discard and write-zeroes (a block device), all
 * unless turned off with a flag. Fails with -EBUSY while a vring is
 * enabled, -EINVAL for an invalid config, -EBADF or -EINVAL for an
 * unusable fd. Acknowledged features that the new backend does not offer
 * are dropped.
 */
struct vhu_backend {
	__s32 fd;
	__u32 flags;
	__aligned_u64 reserved[2];
	struct vhu_blk_config config;
};

#define VHU_SET_BACKEND		_IOW(VHU_IOCTL_TYPE, 0x30, struct vhu_backend)

/**
 * DOC: Resizing
 *
 * ``VHU_SET_CAPACITY`` (``__u64``, 512-byte sectors) changes the capacity
 * of the device's backend while it runs, for a backing that grew or shrank
 * (%VHU_API_F_CAPACITY). The new capacity must be a nonzero multiple of the
 * logical block size and fit the backing as it is now; else -EINVAL. It
 * fails with -ENODEV without a backend. Requests already taken keep the
 * capacity they were checked against; the next ones see the new one. The
 * guest learns of it from the daemon (a vhost-user config change message).
 * Members of the netlink group %VHU_MCGRP_EVENTS hear of it
 * (%VHU_EVENT_CAPACITY).
 */
#define VHU_SET_CAPACITY	_IOW(VHU_IOCTL_TYPE, 0x87, __u64)

/* Bytes of struct vhu_name.name, the terminating NUL included. */
#define VHU_NAME_BYTES		256

/**
 * struct vhu_name - ioctl(VHU_SET_NAME): a name for the device
 * @name: a NUL-terminated string of printable bytes (no byte below 0x20,
 *	nor 0x7f), NUL-padded: every byte after the first NUL is zero. An
 *	empty string clears the name.
 * @reserved: zero
 *
 * The owner names its device for tools that list devices over netlink
 * (%VHU_ATTR_NAME): ``vhuctl`` sets the path of the export's vhost-user
 * socket. The kernel only stores it; it need not be unique. -EINVAL for a
 * name that is not terminated, not padded, not printable, or a non-zero
 * @reserved. %VHU_RESET_OWNER clears it. Needs the owner
 * (%VHU_API_F_DEV_INFO).
 */
struct vhu_name {
	__u8 name[VHU_NAME_BYTES];
	__aligned_u64 reserved[2];
};

#define VHU_SET_NAME		_IOW(VHU_IOCTL_TYPE, 0x88, struct vhu_name)

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
 * struct vhu_dev_info - ioctl(VHU_GET_DEV_INFO): the device as the guest sees it
 * @dev_id: this device's id, as in the %VHU_ATTR_DEV_ID netlink attribute
 * @padding: zero
 * @features: the virtio feature bits the device offers (%VHU_GET_FEATURES)
 * @acked_features: the bits set with %VHU_SET_FEATURES
 * @caps: %VHU_CAP_* bits of the backend (0 without a backend)
 * @reserved: zero
 * @config: the effective virtio-blk configuration (all zero without a
 *	backend)
 *
 * Needs no owner. The daemon answers VHOST_USER_GET_FEATURES and
 * VHOST_USER_GET_CONFIG from it.
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

/**
 * DOC: Generic netlink
 *
 * The family "vhu" (%VHU_GENL_NAME, version %VHU_GENL_VERSION) serves
 * tools that do not own a device. Documentation/netlink/specs/vhu.yaml
 * describes it in the kernel's YNL format.
 *
 * - %VHU_CMD_GET_VERSION (no attributes in the request) answers with
 *   %VHU_ATTR_VERSION, %VHU_ATTR_API_FEATURES, %VHU_ATTR_VIRTIO_FEATURES,
 *   %VHU_ATTR_BACKEND_FLAGS and %VHU_ATTR_MAX_MEM_REGIONS.
 * - %VHU_CMD_GET_STATS is a dump (NLM_F_DUMP) of one message per vring
 *   with a ring size, of every device: %VHU_ATTR_DEV_ID,
 *   %VHU_ATTR_OWNER_PID, %VHU_ATTR_QUEUE and a nested %VHU_ATTR_STATS of
 *   enum vhu_stats_attr. A %VHU_ATTR_DEV_ID in the request restricts the
 *   dump to that device. The counters run from the vring's
 *   %VHU_SET_VRING_NUM on and are read without a lock: each is
 *   consistent, but not with the others.
 * - %VHU_CMD_GET_DEV (%VHU_API_F_DEV_INFO) describes a device: with
 *   %VHU_ATTR_DEV_ID a request answers for that device (-ENOENT if there
 *   is none), a dump answers for every device. Each answer has
 *   %VHU_ATTR_DEV_ID, %VHU_ATTR_OWNER_PID, %VHU_ATTR_FEATURES,
 *   %VHU_ATTR_ACKED_FEATURES and %VHU_ATTR_NUM_VRINGS; %VHU_ATTR_NAME once
 *   the owner set one (%VHU_SET_NAME); and with a backend
 *   %VHU_ATTR_BACKING, %VHU_ATTR_CAPACITY, %VHU_ATTR_BLK_SIZE,
 *   %VHU_ATTR_READONLY, %VHU_ATTR_CAPS and %VHU_ATTR_NUM_QUEUES.
 *
 * Devices are not namespaced. A task with CAP_NET_ADMIN in the initial
 * user namespace sees every device. Any other task sees, in the dumps and
 * requests of %VHU_CMD_GET_STATS and %VHU_CMD_GET_DEV, only the devices
 * whose owner is its own process (%VHU_ATTR_OWNER_PID, a thread group id
 * in the initial pid namespace, is that of the task sending the request),
 * so that a daemon that dropped its privileges can still
 * watch its own devices: a dump leaves the others out, a
 * %VHU_CMD_GET_DEV request for another one fails with -EPERM.
 *
 * The multicast group "events" (%VHU_MCGRP_EVENTS, %VHU_API_F_EVENTS)
 * carries %VHU_CMD_EVENT notifications: %VHU_ATTR_EVENT (enum vhu_event),
 * %VHU_ATTR_DEV_ID, %VHU_ATTR_OWNER_PID, and %VHU_ATTR_QUEUE or
 * %VHU_ATTR_CAPACITY as the event has them. Joining it needs
 * CAP_NET_ADMIN; the events are sent in the initial network namespace
 * only. A member that does not read fast enough loses events (its
 * socket reports ENOBUFS).
 *
 * Commands and attributes are only ever appended: what a module has
 * beyond this list is a %VHU_API_F_* bit, and %VHU_GENL_VERSION changes
 * only when a number changes meaning.
 */
#define VHU_GENL_NAME		"vhu"
/* 2: the attributes below; 1 was a pre-release with other numbers. */
#define VHU_GENL_VERSION	2
#define VHU_MCGRP_EVENTS	"events"

/**
 * enum vhu_cmd - generic netlink commands of the "vhu" family
 * @VHU_CMD_UNSPEC: unused
 * @VHU_CMD_GET_VERSION: the module's version, API bits and limits
 * @VHU_CMD_GET_STATS: a dump of per-vring counters
 * @VHU_CMD_GET_DEV: a device's description, or a dump of every device's
 * @VHU_CMD_EVENT: a notification of the group %VHU_MCGRP_EVENTS
 * @__VHU_CMD_MAX: internal
 */
enum vhu_cmd {
	VHU_CMD_UNSPEC,
	VHU_CMD_GET_VERSION,
	VHU_CMD_GET_STATS,
	VHU_CMD_GET_DEV,
	VHU_CMD_EVENT,

	__VHU_CMD_MAX
};

#define VHU_CMD_MAX (__VHU_CMD_MAX - 1)

/**
 * enum vhu_attr - top-level attributes of the "vhu" family
 * @VHU_ATTR_UNSPEC: unused
 * @VHU_ATTR_VERSION: string: the module's version
 * @VHU_ATTR_API_FEATURES: u64: %VHU_API_F_* bits, as struct vhu_api.features
 * @VHU_ATTR_PAD: padding for 64-bit attributes
 * @VHU_ATTR_VIRTIO_FEATURES: u64: as struct vhu_api.virtio_features
 * @VHU_ATTR_BACKEND_FLAGS: u32: %VHU_BACKEND_F_ALL of the module
 * @VHU_ATTR_MAX_MEM_REGIONS: u32: %VHU_MAX_MEM_REGIONS
 * @VHU_ATTR_DEV_ID: u32: struct vhu_dev_info.dev_id
 * @VHU_ATTR_OWNER_PID: u32: thread group id of the owner, 0 if none
 * @VHU_ATTR_QUEUE: u32: vring index
 * @VHU_ATTR_STATS: nested: enum vhu_stats_attr
 * @VHU_ATTR_NAME: string: the name the owner set (%VHU_SET_NAME)
 * @VHU_ATTR_BACKING: string: the path of the backing file or block
 *	device, as the kernel's d_path() gives it (a file deleted since
 *	ends in " (deleted)"); left out of a dump's message that would not
 *	fit the dump's buffer with it (a path of several KiB), never out of
 *	the answer to a request
 * @VHU_ATTR_CAPACITY: u64: the capacity in bytes (config.capacity * 512)
 * @VHU_ATTR_BLK_SIZE: u32: the logical block size (config.blk_size)
 * @VHU_ATTR_READONLY: u8: 1 if the device refuses writes, else 0
 * @VHU_ATTR_FEATURES: u64: virtio features offered (%VHU_GET_FEATURES)
 * @VHU_ATTR_ACKED_FEATURES: u64: virtio features acknowledged
 *	(%VHU_SET_FEATURES)
 * @VHU_ATTR_CAPS: u64: %VHU_CAP_* bits of the backend
 * @VHU_ATTR_NUM_QUEUES: u32: config.num_queues of the backend
 * @VHU_ATTR_NUM_VRINGS: u32: vrings with a ring size (%VHU_SET_VRING_NUM)
 * @VHU_ATTR_EVENT: u32: enum vhu_event
 * @__VHU_ATTR_MAX: internal
 */
enum vhu_attr {
	VHU_ATTR_UNSPEC,
	VHU_ATTR_VERSION,
	VHU_ATTR_API_FEATURES,
	VHU_ATTR_PAD,
	VHU_ATTR_VIRTIO_FEATURES,
	VHU_ATTR_BACKEND_FLAGS,
	VHU_ATTR_MAX_MEM_REGIONS,
	VHU_ATTR_DEV_ID,
	VHU_ATTR_OWNER_PID,
	VHU_ATTR_QUEUE,
	VHU_ATTR_STATS,
	VHU_ATTR_NAME,
	VHU_ATTR_BACKING,
	VHU_ATTR_CAPACITY,
	VHU_ATTR_BLK_SIZE,
	VHU_ATTR_READONLY,
	VHU_ATTR_FEATURES,
	VHU_ATTR_ACKED_FEATURES,
	VHU_ATTR_CAPS,
	VHU_ATTR_NUM_QUEUES,
	VHU_ATTR_NUM_VRINGS,
	VHU_ATTR_EVENT,

	__VHU_ATTR_MAX
};

#define VHU_ATTR_MAX (__VHU_ATTR_MAX - 1)

/**
 * enum vhu_event - what a %VHU_CMD_EVENT notification reports
 * @VHU_EVENT_UNSPEC: unused
 * @VHU_EVENT_RING_ERROR: a vring stopped on a ring error (as its err
 *	eventfd is signalled); with %VHU_ATTR_QUEUE
 * @VHU_EVENT_RESET: the owner reset the device (%VHU_RESET_OWNER)
 * @VHU_EVENT_RELEASE: the device's last file reference was closed: the
 *	device is gone
 * @VHU_EVENT_CAPACITY: %VHU_SET_CAPACITY changed the capacity; with
 *	%VHU_ATTR_CAPACITY, the new size in bytes
 * @VHU_EVENT_IO_ERROR: a request completed with VIRTIO_BLK_S_IOERR; with
 *	%VHU_ATTR_QUEUE. At most %VHU_EVENT_IO_ERROR_BURST of them per device
 *	in %VHU_EVENT_IO_ERROR_INTERVAL_MS; the others are only counted
 *	(%VHU_STATS_A_REQS_IOERR), so that a failing backend cannot flood
 *	the group.
 */
enum vhu_event {
	VHU_EVENT_UNSPEC,
	VHU_EVENT_RING_ERROR,
	VHU_EVENT_RESET,
	VHU_EVENT_RELEASE,
	VHU_EVENT_CAPACITY,
	VHU_EVENT_IO_ERROR,
};

#define VHU_EVENT_IO_ERROR_BURST	10
#define VHU_EVENT_IO_ERROR_INTERVAL_MS	5000

/**
 * enum vhu_vring_status - the state of a vring (%VHU_STATS_A_STATE)
 * @VHU_VRING_STOPPED: not enabled
 * @VHU_VRING_RUNNING: enabled and taking requests
 * @VHU_VRING_ERROR: stopped by a ring error (err fd signalled); so until the
 *	vring is enabled again or the owner reset, even once it was stopped
 */
enum vhu_vring_status {
	VHU_VRING_STOPPED,
	VHU_VRING_RUNNING,
	VHU_VRING_ERROR,
};

/**
 * enum vhu_stats_attr - the counters of one vring, nested in %VHU_ATTR_STATS
 * @VHU_STATS_A_UNSPEC: unused
 * @VHU_STATS_A_PAD: padding for 64-bit attributes
 * @VHU_STATS_A_STATE: u32: enum vhu_vring_status
 * @VHU_STATS_A_REQS_IN: u64: VIRTIO_BLK_T_IN requests completed
 * @VHU_STATS_A_REQS_OUT: u64: VIRTIO_BLK_T_OUT requests completed
 * @VHU_STATS_A_REQS_FLUSH: u64: VIRTIO_BLK_T_FLUSH requests completed
 * @VHU_STATS_A_REQS_GET_ID: u64: VIRTIO_BLK_T_GET_ID requests completed
 * @VHU_STATS_A_REQS_DISCARD: u64: VIRTIO_BLK_T_DISCARD requests completed
 * @VHU_STATS_A_REQS_WRITE_ZEROES: u64: VIRTIO_BLK_T_WRITE_ZEROES requests
 *	completed
 * @VHU_STATS_A_REQS_UNSUPP: u64: requests answered VIRTIO_BLK_S_UNSUPP
 * @VHU_STATS_A_REQS_IOERR: u64: requests answered VIRTIO_BLK_S_IOERR
 * @VHU_STATS_A_BYTES_READ: u64: bytes read from the backend
 * @VHU_STATS_A_BYTES_WRITTEN: u64: bytes written to the backend
 * @VHU_STATS_A_RING_ERRORS: u64: unrecoverable ring errors (each stops the
 *	vring)
 * @VHU_STATS_A_INFLIGHT: u64: requests taken from the avail ring and not
 *	yet used
 * @VHU_STATS_A_KICKS: u64: kick eventfd wake-ups
 * @VHU_STATS_A_CALLS: u64: call eventfd signals
 * @VHU_STATS_A_LAST_AVAIL_IDX: u64: the next avail index the device reads
 * @VHU_STATS_A_LOG_SKIPPED: u64: pages written while ``VHOST_F_LOG_ALL``
 *	was on that the dirty log did not cover, or while none was installed,
 *	counted per buffer (a page two buffers share counts twice)
 *	(%VHU_API_F_LOG)
 * @VHU_STATS_A_POLLS: u64: busy polls of the avail ring the worker began
 *	(%VHU_SET_VRING_BUSY_POLL)
 * @VHU_STATS_A_POLL_HITS: u64: busy polls that ended with a request to take
 *	or a completion to use, rather than at the end of their window
 * @VHU_STATS_A_POLL_NS: u64: the worker's busy-poll window now, in
 *	nanoseconds: it adapts between 0 and the vring's busy-poll time to
 *	the gaps between requests (%VHU_SET_VRING_BUSY_POLL)
 * @__VHU_STATS_A_MAX: internal
 */
enum vhu_stats_attr {
	VHU_STATS_A_UNSPEC,
	VHU_STATS_A_PAD,
	VHU_STATS_A_STATE,
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
	VHU_STATS_A_LOG_SKIPPED,
	VHU_STATS_A_POLLS,
	VHU_STATS_A_POLL_HITS,
	VHU_STATS_A_POLL_NS,

	__VHU_STATS_A_MAX
};

#define VHU_STATS_A_MAX (__VHU_STATS_A_MAX - 1)

#endif /* _UAPI_LINUX_VHU_H */
