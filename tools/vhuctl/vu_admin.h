/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhuctl: operations on a running export for the control socket -- its
 * counters, its capacity and the events its datapath reports. Called
 * only on the export's own control thread, except the event callback.
 */
#ifndef VU_ADMIN_H
#define VU_ADMIN_H

#include <stddef.h>
#include <stdint.h>

struct vu_dev;

/* The counters of one queue, named as vhu.ko's netlink counters. */
struct vu_queue_stats {
	uint32_t queue;
	uint32_t state;			/* enum vhu_vring_status */
	uint64_t reqs_in, reqs_out, reqs_flush, reqs_get_id, reqs_discard;
	uint64_t reqs_write_zeroes, reqs_unsupp, reqs_ioerr;
	uint64_t bytes_read, bytes_written, ring_errors, inflight;
	uint64_t kicks, calls, last_avail_idx;
};

/*
 * The counters of the export's queues, out[0..max): returns how many
 * were filled, or -errno with err saying why.
 */
int vu_dev_stats(struct vu_dev *dev, struct vu_queue_stats *out,
		 unsigned int max, char *err, size_t errlen);

/* "stopped", "running", ... for a struct vu_queue_stats.state. */
const char *vu_queue_state_name(uint32_t state);

/*
 * Resize the export: size 0 re-reads the backing's size, else sets it (a
 * regular file is ftruncate()d). The datapath takes the new capacity and
 * a connected frontend that negotiated BACKEND_REQ and CONFIG is sent
 * VHOST_USER_BACKEND_CONFIG_CHANGE_MSG. Returns 0 with *new_size in
 * bytes, or -errno with err saying why (nothing changed then).
 */
int vu_dev_resize(struct vu_dev *dev, uint64_t size, uint64_t *new_size,
		  char *err, size_t errlen);

/* What a datapath reports as it happens (the control socket's monitor). */
enum vu_dev_event {
	VU_DEV_EV_RING_ERROR,		/* a queue stopped on a ring error */
	VU_DEV_EV_IO_ERROR,		/* a request failed with IOERR */
};

/*
 * Called from any thread, never blocks, may be rate-limited by the
 * caller; fn NULL: no reports.
 */
typedef void vu_dev_event_fn(void *ctx, enum vu_dev_event ev, uint32_t queue);
void vu_dev_set_event_cb(struct vu_dev *dev, vu_dev_event_fn *fn, void *ctx);

#endif
