/* SPDX-License-Identifier: GPL-2.0 */
/*
 * TEST CODE: a recording datapath for the protocol tests. It moves no
 * I/O; it logs every call into memory shared with the test process and
 * reads the rings through the addresses it was given, so the tests can
 * check what the protocol server handed to a datapath.
 */
#ifndef TEST_DP_H
#define TEST_DP_H

#include <stdint.h>

#include "datapath.h"

enum tdp_op {
	TDP_OPEN = 1, TDP_CLOSE, TDP_GET_CONFIG, TDP_DETACH, TDP_FEATURES,
	TDP_MEM_TABLE, TDP_ADD_REGION, TDP_REMOVE_REGION, TDP_INFLIGHT,
	TDP_START, TDP_STOP, TDP_CALL, TDP_ERR, TDP_WRITE_CACHE,
	TDP_LOG, TDP_QUEUE_LOG,
};

struct tdp_event {
	uint32_t op;
	uint32_t index;
	uint64_t a, b, c;
};

#define TDP_MAX_EVENTS 4096

struct tdp_log {
	volatile uint32_t n;
	uint32_t stop_delay_ms;		/* pretend draining takes this long */
	uint32_t stop_fail;		/* fail this many stops (-ETIMEDOUT) */
	struct tdp_event ev[TDP_MAX_EVENTS];
};

extern const struct vu_dp_ops tdp_ops;
/*
 * The same with dirty logging: VHOST_F_LOG_ALL offered, set_log (which
 * records the log's size and sets bit 7 of its first byte, so the test
 * sees the mapping is shared and writable) and set_queue_log.
 */
extern const struct vu_dp_ops tdp_log_ops;
/* The log, in MAP_SHARED memory set up before the daemon forks. */
extern struct tdp_log *tdp_log;

int tdp_log_init(void);
/* Index of the first event with op at or after 'from', or -1. */
int tdp_find(uint32_t op, uint32_t from);
int tdp_count(uint32_t op, uint32_t from);

#endif
