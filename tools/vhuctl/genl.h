/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhuctl: what vhu.ko tells over its generic netlink family "vhu" about
 * its devices, and its "events" multicast group.
 *
 * Every function reports a failure as a negative errno and, where it
 * takes one, a one-line message in err: -ENOENT when the module is not
 * loaded, -EPERM when the caller lacks CAP_NET_ADMIN for what it asked
 * (without it, only the devices of the caller's own process are seen).
 */
#ifndef VHUCTL_GENL_H
#define VHUCTL_GENL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/vhu.h>

/* One device, as VHU_CMD_GET_DEV describes it. */
struct vhu_genl_dev {
	uint32_t dev_id;
	uint32_t owner_pid;		/* thread group id, 0: no owner */
	char name[VHU_NAME_BYTES];	/* VHU_SET_NAME's, "" if none */
	bool has_backend;		/* the fields below are set */
	char backing[4096];		/* path of the backing file/device */
	uint64_t capacity;		/* bytes */
	uint32_t blk_size;		/* logical block size */
	bool readonly;
	uint64_t caps;			/* VHU_CAP_* */
	uint32_t num_queues;		/* config.num_queues */
	uint64_t features;		/* virtio features offered */
	uint64_t acked_features;	/* and acknowledged */
	uint32_t num_vrings;		/* vrings with a ring size */
};

/*
 * Call fn() for each device the caller may see, in id order, or for
 * device dev_id only when dev_id >= 0 (then -ENOENT if there is none,
 * -EPERM if it is another process's and the caller lacks CAP_NET_ADMIN).
 * A nonzero return of fn() stops the walk and is returned. Needs a
 * module with VHU_API_F_DEV_INFO (else -EOPNOTSUPP).
 */
int vhu_genl_get_devs(long dev_id,
		      int (*fn)(const struct vhu_genl_dev *dev, void *arg),
		      void *arg, char *err, size_t errlen);

/* Events lost to an overrun of the socket (one report per overrun). */
#define VHU_GENL_EVENT_LOST	UINT32_MAX
/* vhu_genl_event.queue of an event without a vring. */
#define VHU_GENL_NO_QUEUE	UINT32_MAX

/* One notification of the "events" group. */
struct vhu_genl_event {
	uint32_t type;		/* enum vhu_event, or VHU_GENL_EVENT_LOST */
	uint32_t dev_id;
	uint32_t owner_pid;	/* as VHU_ATTR_OWNER_PID, 0 if none */
	uint32_t queue;		/* RING_ERROR, IO_ERROR; else VHU_GENL_NO_QUEUE */
	uint64_t size;		/* CAPACITY: the new capacity in bytes */
};

struct vhu_genl_events;

/*
 * Join the "events" group (needs CAP_NET_ADMIN: -EPERM) on a new
 * non-blocking socket; *evp is freed with vhu_genl_events_close().
 */
int vhu_genl_events_open(struct vhu_genl_events **evp, char *err,
			 size_t errlen);
/* The socket, to poll for POLLIN. */
int vhu_genl_events_fd(const struct vhu_genl_events *ev);
/*
 * What arrived, never blocking: up to max events into out. Returns their
 * number (0: nothing pending) or -errno. An overrun of the socket (the
 * kernel dropped notifications) comes as one VHU_GENL_EVENT_LOST event.
 */
int vhu_genl_events_read(struct vhu_genl_events *ev,
			 struct vhu_genl_event *out, int max);
void vhu_genl_events_close(struct vhu_genl_events *ev);

/*
 * Parse one netlink message of len bytes (as read from the socket) into
 * *out: 0, or -EINVAL for anything but a well-formed VHU_CMD_EVENT.
 */
int vhu_genl_event_parse(const void *msg, size_t len,
			 struct vhu_genl_event *out);

#endif
