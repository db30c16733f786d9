// SPDX-License-Identifier: GPL-2.0
/*
 * TEST CODE: the recording datapath (see test_dp.h). Never linked into
 * vhuctl.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "blkcfg.h"
#include "test_dp.h"

struct tdp_log *tdp_log;

struct vu_dp {
	const struct vu_export_cfg *cfg;
	uint64_t avail_hva[VHU_MAX_QUEUES];
	uint64_t used_hva[VHU_MAX_QUEUES];
	uint32_t base[VHU_MAX_QUEUES];
};

int tdp_log_init(void)
{
	tdp_log = mmap(NULL, sizeof(*tdp_log), PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	return tdp_log == MAP_FAILED ? -1 : 0;
}

/* The daemon's exports record from their own control threads. */
static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;

static void rec(uint32_t op, uint32_t index, uint64_t a, uint64_t b, uint64_t c)
{
	uint32_t n;

	pthread_mutex_lock(&rec_lock);
	n = tdp_log->n;
	if (n < TDP_MAX_EVENTS) {
		tdp_log->ev[n] = (struct tdp_event){ op, index, a, b, c };
		__atomic_store_n(&tdp_log->n, n + 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&rec_lock);
}

int tdp_find(uint32_t op, uint32_t from)
{
	for (uint32_t i = from; i < tdp_log->n; i++)
		if (tdp_log->ev[i].op == op)
			return i;
	return -1;
}

int tdp_count(uint32_t op, uint32_t from)
{
	int n = 0;

	for (uint32_t i = from; i < tdp_log->n; i++)
		n += tdp_log->ev[i].op == op;
	return n;
}

static int t_probe(char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	return 0;
}

static int t_open(struct vu_dp **dp, const struct vu_export_cfg *cfg,
		  char *err, size_t errlen)
{
	(void)err;
	(void)errlen;
	*dp = calloc(1, sizeof(**dp));
	if (!*dp)
		return -ENOMEM;
	(*dp)->cfg = cfg;
	rec(TDP_OPEN, 0, cfg->queues, cfg->size, 0);
	return 0;
}

static void t_close(struct vu_dp *dp)
{
	rec(TDP_CLOSE, 0, 0, 0, 0);
	free(dp);
}

/* The daemon's own virtio-blk defaults (blkcfg.c), as a datapath would. */
static uint64_t t_features_offered(struct vu_dp *dp)
{
	return vu_blk_features(dp->cfg);
}

static void t_get_config(struct vu_dp *dp, struct virtio_blk_config *c)
{
	vu_blk_config(dp->cfg, dp->cfg->lbs, true, c);
	rec(TDP_GET_CONFIG, 0, 0, 0, 0);
}

static void t_detach(struct vu_dp *dp)
{
	(void)dp;
	rec(TDP_DETACH, 0, 0, 0, 0);
}

static int t_features(struct vu_dp *dp, uint64_t f)
{
	(void)dp;
	rec(TDP_FEATURES, 0, f, 0, 0);
	return 0;
}

static int t_mem_table(struct vu_dp *dp, const struct vu_mem *mem)
{
	(void)dp;
	/* a: regions, b: first byte of region 0 as we see it, c: its gpa. */
	rec(TDP_MEM_TABLE, 0, mem->nregions,
	    mem->nregions ? *(uint8_t *)(uintptr_t)mem->r[0].hva : 0,
	    mem->nregions ? mem->r[0].gpa : 0);
	return 0;
}

static int t_add_region(struct vu_dp *dp, const struct vu_region *r)
{
	(void)dp;
	rec(TDP_ADD_REGION, 0, r->gpa, r->size, *(uint8_t *)(uintptr_t)r->hva);
	return 0;
}

static int t_remove_region(struct vu_dp *dp, const struct vu_region *r)
{
	(void)dp;
	rec(TDP_REMOVE_REGION, 0, r->gpa, r->size, 0);
	return 0;
}

static int t_inflight(struct vu_dp *dp, const struct vu_inflight *inf)
{
	(void)dp;
	rec(TDP_INFLIGHT, inf->num_queues, inf->size, inf->queue_size,
	    *(uint64_t *)inf->addr);
	return 0;
}

static int t_start(struct vu_dp *dp, const struct vu_dp_queue *q)
{
	dp->avail_hva[q->index] = q->avail_hva;
	dp->used_hva[q->index] = q->used_hva;
	dp->base[q->index] = q->base;
	/* a: first 8 bytes of the descriptor table, b: base, c: fds present. */
	rec(TDP_START, q->index, *(uint64_t *)(uintptr_t)q->desc_hva, q->base,
	    (q->kick_fd >= 0) | (q->call_fd >= 0) << 1 | (q->err_fd >= 0) << 2);
	return 0;
}

/* "Process" everything: the next avail index is the ring's avail->idx. */
static int t_stop(struct vu_dp *dp, uint32_t index, uint32_t *base)
{
	if (tdp_log->stop_delay_ms)
		usleep(tdp_log->stop_delay_ms * 1000);
	if (tdp_log->stop_fail) {
		tdp_log->stop_fail--;
		return -ETIMEDOUT;
	}
	*base = *(volatile uint16_t *)(uintptr_t)(dp->avail_hva[index] + 2);
	rec(TDP_STOP, index, *base, 0, 0);
	return 0;
}

static int t_call(struct vu_dp *dp, uint32_t index, int fd)
{
	(void)dp;
	rec(TDP_CALL, index, fd >= 0, 0, 0);
	return 0;
}

static int t_err(struct vu_dp *dp, uint32_t index, int fd)
{
	(void)dp;
	rec(TDP_ERR, index, fd >= 0, 0, 0);
	return 0;
}

static int t_write_cache(struct vu_dp *dp, bool write_cache)
{
	(void)dp;
	rec(TDP_WRITE_CACHE, 0, write_cache, 0, 0);
	return 0;
}

/*
 * The recording operations of both tables: every one but device_features
 * and the log's, which only tdp_log_ops records.
 */
#define TDP_RECORDING_OPS			\
	.probe = t_probe,			\
	.open = t_open,				\
	.close = t_close,			\
	.get_config = t_get_config,		\
	.detach = t_detach,			\
	.set_features = t_features,		\
	.set_mem_table = t_mem_table,		\
	.add_region = t_add_region,		\
	.remove_region = t_remove_region,	\
	.set_inflight = t_inflight,		\
	.start_queue = t_start,			\
	.stop_queue = t_stop,			\
	.set_call = t_call,			\
	.set_err = t_err,			\
	.set_write_cache = t_write_cache

const struct vu_dp_ops tdp_ops = {
	.name = "test-recording",
	.device_features = t_features_offered,
	TDP_RECORDING_OPS,
};

static uint64_t t_features_offered_log(struct vu_dp *dp)
{
	return vu_blk_features(dp->cfg) | BIT(VU_F_LOG_ALL);
}

static int t_set_log(struct vu_dp *dp, const struct vu_log *log)
{
	(void)dp;
	if (log->addr)
		__atomic_fetch_or((uint8_t *)log->addr, 0x80, __ATOMIC_RELAXED);
	rec(TDP_LOG, 0, log->size, log->addr != NULL, 0);
	return 0;
}

static int t_set_queue_log(struct vu_dp *dp, uint32_t index, bool log,
			   uint64_t used_gpa)
{
	(void)dp;
	rec(TDP_QUEUE_LOG, index, log, used_gpa, 0);
	return 0;
}

const struct vu_dp_ops tdp_log_ops = {
	.name = "test-recording-log",
	.device_features = t_features_offered_log,
	TDP_RECORDING_OPS,
	.set_log = t_set_log,
	.set_queue_log = t_set_queue_log,
};
