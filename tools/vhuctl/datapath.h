/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The datapath interface: what the vhost-user protocol server hands to
 * whatever moves the I/O (vhu.ko through /dev/vhu, or later a userspace
 * datapath). The server validates and translates everything first; a
 * datapath never sees a raw vhost-user message.
 *
 * Ownership: fds passed in remain owned by the caller; a datapath that
 * keeps one dup()s it. Addresses ("hva") are in the daemon's address
 * space and stay valid until the matching remove/set_mem_table/reset.
 */
#ifndef DATAPATH_H
#define DATAPATH_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <linux/vhu.h>
#include <linux/virtio_blk.h>

#include "util.h"
#include "vu_admin.h"
#include "vu_mem.h"

enum vu_dp_mode {
	VU_DP_AUTO,
	VU_DP_KERNEL,
	VU_DP_USER,
};

/*
 * One export as configured on the command line, backing already opened.
 * Its limits are the uapi's, which both datapaths share: at most
 * VHU_MAX_QUEUES queues of at most VHU_MAX_VRING_NUM entries (the kernel
 * datapath also checks what the loaded module reports in struct vhu_api).
 */
struct vu_export_cfg {
	char socket_path[108];
	char backing[4096];
	bool readonly;
	bool direct;
	bool force_share;		/* lock the backing, refusing nobody */
	bool pin_memory;		/* kernel datapath: VHU_MEM_F_PIN */
	unsigned int busy_poll_us;	/* kernel datapath: VHU_SET_VRING_BUSY_POLL, 0 off */
	unsigned int queues;
	unsigned int queue_size;	/* largest ring accepted */
	char serial[21];		/* VIRTIO_BLK_ID_BYTES + NUL */
	unsigned int lbs;		/* logical block size */
	enum vu_dp_mode mode;

	int backing_fd;			/* opened by the export command */
	/*
	 * /dev/vhu opened by a client of the control socket, for the
	 * kernel datapath (the daemon opens no path once serving).
	 */
	bool has_device_fd;
	int device_fd;
	uint64_t size;			/* bytes */
	/*
	 * The smallest block the backing serves, at most lbs: a block
	 * device's logical block size, the direct I/O alignment of a file
	 * opened O_DIRECT, else 512. A driver that did not accept
	 * VIRTIO_BLK_F_BLK_SIZE uses 512-byte blocks; it is served only
	 * where this is 512.
	 */
	unsigned int backing_lbs;
	/*
	 * The most a frontend may take from connecting to its SET_OWNER,
	 * in ms: 0 for the daemon's default (daemon.h).
	 */
	unsigned int handshake_timeout_ms;
};

/* Everything needed to run one virtqueue, all translated. */
struct vu_dp_queue {
	uint32_t index;
	uint32_t num;
	uint32_t base;			/* next avail index to process */
	uint64_t desc_hva, avail_hva, used_hva;
	int kick_fd;			/* -1: polling requested (NOFD) */
	int call_fd;			/* -1: no interrupts */
	int err_fd;			/* -1: none */
	bool log_used;		/* VHOST_VRING_F_LOG */
	uint64_t log_used_gpa;	/* guest-physical address of the used ring */
};

/* The dirty log (VHOST_USER_SET_LOG_BASE, LOG_SHMFD), mapped by the server. */
struct vu_log {
	void *addr;	/* NULL: no log */
	uint64_t size;	/* bytes: covers size * 8 pages of VU_LOG_PAGE */
};
#define VU_LOG_PAGE 4096u

/* The inflight area (INFLIGHT_SHMFD), mapped by the server. */
struct vu_inflight {
	int fd;				/* -1: none */
	void *addr;
	uint64_t size;
	uint16_t num_queues;
	uint16_t queue_size;
};

/*
 * Bytes of the inflight area per queue of queue_size entries: the uapi's
 * struct vhu_inflight_queue (the vhost-user split layout), rounded up to
 * 64 bytes as QEMU lays the queues out one after the other.
 */
static inline uint64_t vu_inflight_queue_size(uint16_t queue_size)
{
	return ALIGN(VHU_INFLIGHT_QUEUE_SIZE(queue_size), 64);
}

/*
 * Signal a call or err fd from a frontend without ever waiting for its
 * reader: an eventfd whose counter is full, or a pipe nobody drains,
 * would block a write, so only a write the fd takes at once is made.
 * True if it was; when not, the reader has a signal pending already (or
 * reads nothing at all).
 */
static inline bool vu_signal_fd(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	uint64_t one = 1;

	return fd >= 0 && poll(&p, 1, 0) == 1 && p.revents == POLLOUT &&
	       write(fd, &one, sizeof(one)) == sizeof(one);
}

struct vu_dp;

struct vu_dp_ops {
	const char *name;
	/* Can this datapath run here? 0, or -errno with a reason in err. */
	int (*probe)(char *err, size_t errlen);
	/* Per export, at daemon start: takes the backing (dup it to keep it). */
	int (*open)(struct vu_dp **dp, const struct vu_export_cfg *cfg,
		    char *err, size_t errlen);
	void (*close)(struct vu_dp *dp);

	/*
	 * The device as the guest sees it: the virtio feature bits offered
	 * (device and ring bits; vhost-user's bit 30 is the server's) and the
	 * virtio-blk config space. GET_FEATURES and GET_CONFIG are answered
	 * from these, so the datapath that serves the requests decides.
	 */
	uint64_t (*device_features)(struct vu_dp *dp);
	void (*get_config)(struct vu_dp *dp, struct virtio_blk_config *cfg);

	/*
	 * The frontend went away, whether it sent SET_OWNER or not: forget
	 * what it set up, queues already stopped. The next frontend starts
	 * afresh.
	 */
	void (*detach)(struct vu_dp *dp);

	/*
	 * The driver's features (checked with vu_blk_check_features()): the
	 * ring features, and the logical block size it uses
	 * (vu_blk_driver_lbs()), which the device serves and reports in
	 * blk_size from then on. Before any, and after detach, the export's.
	 */
	int (*set_features)(struct vu_dp *dp, uint64_t features);
	int (*set_mem_table)(struct vu_dp *dp, const struct vu_mem *mem);
	int (*add_region)(struct vu_dp *dp, const struct vu_region *r);
	int (*remove_region)(struct vu_dp *dp, const struct vu_region *r);
	int (*set_inflight)(struct vu_dp *dp, const struct vu_inflight *inf);

	int (*start_queue)(struct vu_dp *dp, const struct vu_dp_queue *q);
	/* Stop, finish the queue's in-flight requests, report the next avail. */
	int (*stop_queue)(struct vu_dp *dp, uint32_t index, uint32_t *base);
	int (*set_call)(struct vu_dp *dp, uint32_t index, int fd);
	int (*set_err)(struct vu_dp *dp, uint32_t index, int fd);

	/*
	 * The write cache mode to run with: true is write-back (FLUSH makes
	 * writes durable), false write-through (every write, and the zeroes
	 * of WRITE_ZEROES, durable on completion). Write-back only for a
	 * driver that set virtio-blk's wce to 1 and negotiated FLUSH; the
	 * server calls this after every SET_FEATURES and wce change.
	 */
	int (*set_write_cache)(struct vu_dp *dp, bool write_cache);

	/*
	 * For the control socket (vu_admin.h), from the export's control
	 * thread; an op left NULL is not supported. get_stats fills the
	 * counters of queues 0..n (n at most the export's queues) and
	 * returns n or -errno with err set; a queue that never ran reads as
	 * stopped with every counter 0. Both datapaths count as vhu.ko does
	 * (enum vhu_stats_attr), from the queue's last start on.
	 */
	int (*get_stats)(struct vu_dp *dp, struct vu_queue_stats *out,
			 unsigned int n, char *err, size_t errlen);
	/*
	 * The backing now holds bytes (a nonzero multiple of the export's
	 * logical block size): requests checked from now on see the new
	 * capacity, those already taken keep the one they were checked
	 * against; get_config reports it. 0, or -errno with err set and
	 * the capacity unchanged.
	 */
	int (*set_capacity)(struct vu_dp *dp, uint64_t bytes, char *err,
			    size_t errlen);
	/* Events the datapath sees itself (vu_dev_set_event_cb()). */
	void (*set_event_cb)(struct vu_dp *dp, vu_dev_event_fn *fn, void *ctx);

	/* NULL: this datapath cannot log; then the server offers neither
	 * VHOST_F_LOG_ALL nor PROTOCOL_F_LOG_SHMFD. */
	/*
	 * Install the log (log->addr NULL: drop it). Allowed while queues run;
	 * returns only once the datapath no longer writes the old log, so the
	 * server may unmap it right after.
	 */
	int (*set_log)(struct vu_dp *dp, const struct vu_log *log);
	/* While the queue runs (SET_VRING_ADDR that changes only the log flag
	 * or log address): log its used ring at used_gpa, or stop. */
	int (*set_queue_log)(struct vu_dp *dp, uint32_t index, bool log,
			     uint64_t used_gpa);
};

extern const struct vu_dp_ops vu_dp_kernel_ops;
/* The kernel datapath's vhu.ko device id (VHU_GET_DEV_INFO). */
uint32_t vu_dpk_dev_id(const struct vu_dp *dp);
extern const struct vu_dp_ops vu_dp_user_ops;

/*
 * Pick the datapath for a mode: kernel or user as asked, auto = the kernel
 * when /dev/vhu is usable, else userspace. NULL with a reason in err; else
 * err is empty, or for auto falling back to userspace why the kernel's
 * cannot run.
 */
const struct vu_dp_ops *vu_dp_select(enum vu_dp_mode mode, char *err,
				     size_t errlen);

#endif
