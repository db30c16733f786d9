// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the kernel datapath -- vhu.ko through /dev/vhu.
 *
 * Each export opens its own /dev/vhu device, becomes its owner (so the
 * memory and ring addresses it passes are the daemon's own mappings of
 * the frontend's memfds) and sets the backing file as the backend. From
 * then on the protocol server's calls map one to one onto ioctls; vhuctl
 * never touches a request, the module reads the rings and does the I/O.
 *
 * The device's features and config space come from VHU_GET_DEV_INFO, the
 * module being the one that serves them; the block size the driver uses
 * is the backend's, set again when the driver's features call for another.
 *
 * The counters of the control socket's stats are the module's, read from
 * its generic netlink family (VHU_CMD_GET_STATS for this device). The
 * daemon makes no socket once its seccomp filter is in place, so one
 * netlink socket is opened with the first datapath (or probe) before it,
 * and shared by every export under a lock: a dump is short.
 *
 * The device is named after the export's socket path (VHU_SET_NAME), so
 * that netlink readers (vhuctl stats) can tell the exports apart.
 *
 * Dirty logging (a module with VHU_API_F_LOG) is the module's too: the
 * log the server mapped is installed with VHU_SET_LOG_BASE, and the
 * module marks the pages it writes while VHOST_F_LOG_ALL is acknowledged,
 * the used ring's with VHU_VRING_F_LOG. Both change while the vrings run.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include <linux/vhost_types.h>
#include <linux/vhu.h>

#include "blkcfg.h"
#include "datapath.h"
#include "log.h"
#include "sandbox.h"


struct vu_dp {
	int fd;
	const struct vu_export_cfg *cfg;
	struct vhu_dev_info info;
	struct vu_inflight inflight;	/* the server's mapping; addr NULL: none */
	bool write_cache;		/* the mode set last, kept across frontends */
	uint64_t api_features;		/* VHU_API_F_* of the loaded module */
	/* Each queue's rings as last given, for a change of its logging. */
	struct vhu_vring_addr addr[VHU_MAX_QUEUES];
};

/* The netlink socket for the counters (see the top of this file). */
static struct {
	pthread_mutex_t lock;		/* everything here */
	struct nl_sock *sk;
	int family;			/* or -errno: why there is no socket */
	char why[96];
} nl = { .lock = PTHREAD_MUTEX_INITIALIZER, .family = -ENOTCONN };

/*
 * Open the shared socket unless done or the filter is in place (then
 * the call would be refused); a failure is kept to be reported by
 * get_stats, it does not keep the export from serving.
 */
static void nl_prepare(void)
{
	struct nl_sock *sk;
	int ret;

	pthread_mutex_lock(&nl.lock);
	if (nl.sk || vu_sandbox_installed())
		goto out;
	sk = nl_socket_alloc();
	if (!sk) {
		nl.family = -ENOMEM;
		snprintf(nl.why, sizeof(nl.why), "cannot allocate a netlink socket");
		goto out;
	}
	ret = genl_connect(sk);
	if (ret < 0) {
		nl.family = -EIO;
		snprintf(nl.why, sizeof(nl.why), "cannot connect to generic netlink: %s",
			 nl_geterror(ret));
		nl_socket_free(sk);
		goto out;
	}
	ret = genl_ctrl_resolve(sk, VHU_GENL_NAME);
	if (ret < 0) {
		nl.family = -ENOENT;
		snprintf(nl.why, sizeof(nl.why), "the vhu module has no netlink family");
		nl_socket_free(sk);
		goto out;
	}
	nl.sk = sk;
	nl.family = ret;
out:
	pthread_mutex_unlock(&nl.lock);
}

/* What this datapath relies on in the module. */
#define VHU_API_F_NEEDED	(VHU_API_F_DATAPATH | VHU_API_F_MEM_HOTPLUG | \
				 VHU_API_F_INFLIGHT | VHU_API_F_WRITE_CACHE)

static int xioctl(struct vu_dp *dp, unsigned long req, void *arg)
{
	int ret;

	do {
		ret = ioctl(dp->fd, req, arg);
	} while (ret < 0 && errno == EINTR);
	return ret < 0 ? -errno : 0;
}

/* /dev/vhu, or a copy of the one a client passed (cfg->device_fd). */
static int open_dev(const struct vu_export_cfg *cfg, struct vhu_api *api,
		    char *err, size_t errlen)
{
	int fd = cfg && cfg->has_device_fd ?
		 fcntl(cfg->device_fd, F_DUPFD_CLOEXEC, 0) :
		 open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);

	if (fd < 0) {
		int e = errno;

		snprintf(err, errlen, "%s: %s%s", VHU_DEVICE_PATH, strerror(e),
			 e == ENOENT ? " (vhu module not loaded)" : "");
		return -e;
	}
	memset(api, 0, sizeof(*api));
	if (ioctl(fd, VHU_GET_API, api) < 0) {
		int e = errno;

		snprintf(err, errlen, "VHU_GET_API: %s", strerror(e));
		close(fd);
		return -e;
	}
	if ((api->features & VHU_API_F_NEEDED) != VHU_API_F_NEEDED) {
		uint64_t miss = VHU_API_F_NEEDED & ~api->features;

		snprintf(err, errlen, "the loaded vhu module lacks%s%s%s%s (an older module?)",
			 miss & VHU_API_F_DATAPATH ? " the datapath" : "",
			 miss & VHU_API_F_MEM_HOTPLUG ? " memory hotplug" : "",
			 miss & VHU_API_F_INFLIGHT ? " inflight tracking" : "",
			 miss & VHU_API_F_WRITE_CACHE ? " the write cache switch" : "");
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

static int dpk_probe(char *err, size_t errlen)
{
	struct vhu_api api;
	int fd = open_dev(NULL, &api, err, errlen);

	if (fd < 0)
		return fd;
	close(fd);
	nl_prepare();
	return 0;
}

/* Write-through: the module submits every write O_DSYNC, syncs WRITE_ZEROES. */
static int dpk_set_write_cache(struct vu_dp *dp, bool write_cache)
{
	uint32_t mode = write_cache;
	int ret = xioctl(dp, VHU_SET_WRITE_CACHE, &mode);

	if (!ret)
		dp->write_cache = write_cache;
	return ret;
}

/*
 * Give the device the backend with lbs-byte blocks, and note what it
 * offers. No vring may be enabled (VHU_SET_BACKEND).
 */
static int set_backend(struct vu_dp *dp, unsigned int lbs, char *err, size_t errlen)
{
	const struct vu_export_cfg *c = dp->cfg;
	struct vhu_backend be;
	int ret;

	memset(&be, 0, sizeof(be));
	be.fd = c->backing_fd;
	be.flags = c->readonly ? VHU_BACKEND_F_READONLY : 0;
	be.config.blk_size = lbs;
	be.config.num_queues = c->queues;
	be.config.seg_max = vu_blk_seg_max(c);
	memcpy(be.config.serial, c->serial, strnlen(c->serial, VHU_BLK_ID_BYTES));
	ret = xioctl(dp, VHU_SET_BACKEND, &be);
	if (ret) {
		snprintf(err, errlen, "VHU_SET_BACKEND: %s", strerror(-ret));
		return ret;
	}
	memset(&dp->info, 0, sizeof(dp->info));
	ret = xioctl(dp, VHU_GET_DEV_INFO, &dp->info);
	if (ret)
		snprintf(err, errlen, "VHU_GET_DEV_INFO: %s", strerror(-ret));
	return ret;
}

/*
 * Name the device after the export's socket. Only a label: a module
 * without VHU_SET_NAME, or a path it refuses (not printable), leaves the
 * device unnamed, with a log line for the latter.
 */
static void set_name(struct vu_dp *dp)
{
	struct vhu_name n;
	int ret;

	if (!(dp->api_features & VHU_API_F_DEV_INFO))
		return;
	memset(&n, 0, sizeof(n));
	snprintf((char *)n.name, sizeof(n.name), "%s", dp->cfg->socket_path);
	ret = xioctl(dp, VHU_SET_NAME, &n);
	if (ret)
		vlog("%s: VHU_SET_NAME: %s (the device stays unnamed)",
		     dp->cfg->socket_path, strerror(-ret));
}

/*
 * --pin-memory: the module pins each memory region once (VHU_MEM_F_PIN),
 * charged to our RLIMIT_MEMLOCK, before any table or vring size.
 */
static int set_mem_flags(struct vu_dp *dp, char *err, size_t errlen)
{
	uint32_t flags = VHU_MEM_F_PIN;
	int ret;

	if (!dp->cfg->pin_memory)
		return 0;
	if (!(dp->api_features & VHU_API_F_PIN_MEMORY)) {
		snprintf(err, errlen, "--pin-memory: the loaded vhu.ko cannot pin memory");
		return -EOPNOTSUPP;
	}
	ret = xioctl(dp, VHU_SET_MEM_FLAGS, &flags);
	if (ret)
		snprintf(err, errlen, "VHU_SET_MEM_FLAGS: %s", strerror(-ret));
	return ret;
}

/* --busy-poll: only a module that polls (VHU_API_F_BUSY_POLL) is used. */
static int check_busy_poll(struct vu_dp *dp, char *err, size_t errlen)
{
	if (dp->cfg->busy_poll_us && !(dp->api_features & VHU_API_F_BUSY_POLL)) {
		snprintf(err, errlen, "--busy-poll: the loaded vhu.ko cannot busy-poll");
		return -EOPNOTSUPP;
	}
	return 0;
}

/*
 * Own the device, name it and give it the backend: the state right after
 * open (VHU_RESET_OWNER forgets the name too).
 */
static int setup(struct vu_dp *dp, char *err, size_t errlen)
{
	int ret;

	ret = xioctl(dp, VHU_SET_OWNER, NULL);
	if (ret) {
		snprintf(err, errlen, "VHU_SET_OWNER: %s", strerror(-ret));
		return ret;
	}
	set_name(dp);
	ret = check_busy_poll(dp, err, errlen);
	if (ret)
		return ret;
	ret = set_mem_flags(dp, err, errlen);
	if (ret)
		return ret;
	ret = set_backend(dp, dp->cfg->lbs, err, errlen);
	if (ret)
		return ret;
	/* The last frontend's mode, until the next one negotiates its own. */
	if (!dp->write_cache) {
		ret = dpk_set_write_cache(dp, false);
		if (ret)
			snprintf(err, errlen, "VHU_SET_WRITE_CACHE: %s", strerror(-ret));
	}
	return ret;
}

static int dpk_open(struct vu_dp **out, const struct vu_export_cfg *cfg,
		    char *err, size_t errlen)
{
	struct vhu_api api;
	struct vu_dp *dp;
	int ret;

	dp = calloc(1, sizeof(*dp));
	if (!dp) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	dp->cfg = cfg;
	dp->write_cache = true;
	dp->inflight.fd = -1;
	dp->fd = open_dev(cfg, &api, err, errlen);
	if (dp->fd < 0) {
		ret = dp->fd;
		free(dp);
		return ret;
	}
	dp->api_features = api.features;
	nl_prepare();
	if (cfg->queues > api.max_queues || cfg->queue_size > api.max_vring_num) {
		snprintf(err, errlen, "the vhu module supports at most %u queues of %u entries",
			 api.max_queues, api.max_vring_num);
		ret = -EINVAL;
		goto err;
	}
	ret = setup(dp, err, errlen);
	if (ret)
		goto err;
	*out = dp;
	return 0;
err:
	close(dp->fd);
	free(dp);
	return ret;
}

uint32_t vu_dpk_dev_id(const struct vu_dp *dp)
{
	return dp->info.dev_id;
}

static void dpk_close(struct vu_dp *dp)
{
	close(dp->fd);
	free(dp);
}

/* VHOST_F_LOG_ALL only from a module that logs (VHU_API_F_LOG). */
static uint64_t dpk_device_features(struct vu_dp *dp)
{
	uint64_t f = dp->info.features;

	if (!(dp->api_features & VHU_API_F_LOG))
		f &= ~(1ULL << VHOST_F_LOG_ALL);
	return f;
}

static void dpk_get_config(struct vu_dp *dp, struct virtio_blk_config *c)
{
	const struct vhu_blk_config *k = &dp->info.config;

	memset(c, 0, sizeof(*c));
	c->capacity = k->capacity;
	c->size_max = k->size_max;
	c->seg_max = k->seg_max;
	c->blk_size = k->blk_size;
	c->physical_block_exp = k->physical_block_exp;
	c->alignment_offset = k->alignment_offset;
	c->min_io_size = k->min_io_size;
	c->opt_io_size = k->opt_io_size;
	c->wce = dp->write_cache;
	c->num_queues = k->num_queues;
	c->max_discard_sectors = k->max_discard_sectors;
	c->max_discard_seg = k->max_discard_seg;
	c->discard_sector_alignment = k->discard_sector_alignment;
	c->max_write_zeroes_sectors = k->max_write_zeroes_sectors;
	c->max_write_zeroes_seg = k->max_write_zeroes_seg;
	c->write_zeroes_may_unmap = k->write_zeroes_may_unmap;
}

/*
 * The frontend is gone: VHU_RESET_OWNER stops the vrings (waiting for
 * their I/O) and drops memory table, eventfds and backend; then the
 * device is set up again for the next frontend.
 */
static void dpk_detach(struct vu_dp *dp)
{
	char err[128];
	int ret = xioctl(dp, VHU_RESET_OWNER, NULL);

	/* The module dropped the area; the server unmaps it next. */
	memset(&dp->inflight, 0, sizeof(dp->inflight));
	dp->inflight.fd = -1;

	if (!ret)
		ret = setup(dp, err, sizeof(err));
	else
		snprintf(err, sizeof(err), "VHU_RESET_OWNER: %s", strerror(-ret));
	if (ret)
		vlog("%s: kernel datapath reset failed: %s", dp->cfg->socket_path, err);
}

/*
 * A driver that uses another block size than the device has (it did not
 * accept VIRTIO_BLK_F_BLK_SIZE) gets the backend again with its size, as
 * no vring runs yet; vhu.ko refuses one below a block device's own.
 * While vrings run, vhu.ko takes a change of VHOST_F_LOG_ALL alone (the
 * block size is the same then) and refuses anything else with -EBUSY.
 */
static int dpk_set_features(struct vu_dp *dp, uint64_t features)
{
	unsigned int lbs = vu_blk_driver_lbs(dp->cfg, features);
	uint64_t f = features;
	char err[128];
	int ret;

	if (lbs != dp->info.config.blk_size) {
		ret = set_backend(dp, lbs, err, sizeof(err));
		if (ret) {
			vlog("%s: %u-byte blocks: %s", dp->cfg->socket_path, lbs, err);
			return ret;
		}
	}
	return xioctl(dp, VHU_SET_FEATURES, &f);
}

static void fill_region(struct vhu_mem_region *k, const struct vu_region *r)
{
	memset(k, 0, sizeof(*k));
	k->guest_phys_addr = r->gpa;
	k->memory_size = r->size;
	k->userspace_addr = r->hva;	/* our mapping: we are the owner */
}

static int dpk_set_mem_table(struct vu_dp *dp, const struct vu_mem *mem)
{
	struct vhu_memory *k;
	int ret;

	k = calloc(1, sizeof(*k) + mem->nregions * sizeof(k->regions[0]));
	if (!k)
		return -ENOMEM;
	k->nregions = mem->nregions;
	for (unsigned int i = 0; i < mem->nregions; i++)
		fill_region(&k->regions[i], &mem->r[i]);
	ret = xioctl(dp, VHU_SET_MEM_TABLE, k);
	free(k);
	return ret;
}

static int dpk_add_region(struct vu_dp *dp, const struct vu_region *r)
{
	struct vhu_mem_region k;

	fill_region(&k, r);
	return xioctl(dp, VHU_ADD_MEM_REGION, &k);
}

static int dpk_remove_region(struct vu_dp *dp, const struct vu_region *r)
{
	struct vhu_mem_region k;

	fill_region(&k, r);
	return xioctl(dp, VHU_DEL_MEM_REGION, &k);
}

/*
 * The module tracks requests in the inflight area itself (it is mapped in
 * our address space, which is the device's mm) and recovers from it when
 * a vring is enabled: resubmits what a previous backend left in flight and
 * resumes the avail ring where the area says, not where the frontend
 * guessed from the used index. Each vring gets its part when it starts;
 * here the old parts are detached first, as the server unmaps the old
 * area once this returns.
 */
static int dpk_set_inflight(struct vu_dp *dp, const struct vu_inflight *inf)
{
	for (uint32_t i = 0; i < dp->cfg->queues; i++) {
		struct vhu_vring_inflight f = { .index = i };
		int ret = xioctl(dp, VHU_SET_VRING_INFLIGHT, &f);

		if (ret)
			return ret;	/* -EBUSY: that vring runs */
	}
	dp->inflight = *inf;
	return 0;
}

/* Give the queue its part of the inflight area; *attached says if any. */
static int attach_inflight(struct vu_dp *dp, const struct vu_dp_queue *q,
			   bool *attached)
{
	const struct vu_inflight *inf = &dp->inflight;
	uint64_t qsize = vu_inflight_queue_size(inf->queue_size);
	struct vhu_vring_inflight f = { .index = q->index };

	/* An area for other ring sizes or fewer queues is not used. */
	if (inf->addr && q->index < inf->num_queues && q->num == inf->queue_size) {
		f.user_addr = (uintptr_t)inf->addr + q->index * qsize;
		f.size = qsize;
	}
	*attached = f.user_addr;
	return xioctl(dp, VHU_SET_VRING_INFLIGHT, &f);
}

static int vring_file(struct vu_dp *dp, unsigned long req, uint32_t index, int fd)
{
	struct vhu_vring_file f = { .index = index, .fd = fd };

	return xioctl(dp, req, &f);
}

static int dpk_start_queue(struct vu_dp *dp, const struct vu_dp_queue *q)
{
	struct vhu_vring_state num = { .index = q->index, .num = q->num };
	struct vhu_vring_state base = { .index = q->index, .num = q->base };
	struct vhu_vring_state en = { .index = q->index, .num = 1 };
	struct vhu_vring_state poll = { .index = q->index, .num = dp->cfg->busy_poll_us };
	struct vhu_vring_addr a = {
		.index = q->index,
		.flags = q->log_used ? VHU_VRING_F_LOG : 0,
		.desc_user_addr = q->desc_hva,
		.used_user_addr = q->used_hva,
		.avail_user_addr = q->avail_hva,
		.log_guest_addr = q->log_used ? q->log_used_gpa : 0,
	};
	bool area = false;
	int ret;

	if (q->kick_fd < 0)
		return -EOPNOTSUPP;	/* a polled ring (NOFD) needs a kick fd here */
	if (q->index >= VHU_MAX_QUEUES)
		return -EINVAL;
	ret = xioctl(dp, VHU_SET_VRING_NUM, &num);
	ret = ret ?: xioctl(dp, VHU_SET_VRING_BASE, &base);
	ret = ret ?: xioctl(dp, VHU_SET_VRING_ADDR, &a);
	if (!ret)
		dp->addr[q->index] = a;
	ret = ret ?: vring_file(dp, VHU_SET_VRING_KICK, q->index, q->kick_fd);
	ret = ret ?: vring_file(dp, VHU_SET_VRING_CALL, q->index, q->call_fd);
	ret = ret ?: vring_file(dp, VHU_SET_VRING_ERR, q->index, q->err_fd);
	ret = ret ?: attach_inflight(dp, q, &area);
	/* A reset turned it off; a module without it has it off (setup()). */
	if (!ret && poll.num)
		ret = xioctl(dp, VHU_SET_VRING_BUSY_POLL, &poll);
	if (ret)
		return ret;
	ret = xioctl(dp, VHU_SET_VRING_ENABLE, &en);
	/* Enabling recovers from the area first, the likeliest refusal. */
	if (area && (ret == -EINVAL || ret == -EFAULT))
		vlog("%s: queue %u: vhu.ko did not start it (%s); with an inflight "
		     "area that means the area is unreadable, too small or does not "
		     "match the used ring", dp->cfg->socket_path, q->index,
		     strerror(-ret));
	return ret;
}

static int dpk_stop_queue(struct vu_dp *dp, uint32_t index, uint32_t *base)
{
	struct vhu_vring_state s = { .index = index };
	int ret = xioctl(dp, VHU_GET_VRING_BASE, &s);

	if (!ret)
		*base = s.num;
	return ret;
}

/*
 * The dirty log the server mapped. vhu.ko writes the old one no more once
 * VHU_SET_LOG_BASE returned, so the server may unmap it right after; a
 * log the frontend shrinks under us only stops the vrings that write it
 * (a ring error), the daemon never touches it.
 */
static int dpk_set_log(struct vu_dp *dp, const struct vu_log *log)
{
	struct vhu_log l = {
		.user_addr = (uintptr_t)log->addr,
		.size = log->addr ? log->size : 0,
	};

	if (!(dp->api_features & VHU_API_F_LOG))
		return -EOPNOTSUPP;
	return xioctl(dp, VHU_SET_LOG_BASE, &l);
}

/*
 * A running queue's used ring logging: VHU_SET_VRING_ADDR with the rings
 * it runs on, which vhu.ko takes on an enabled vring.
 */
static int dpk_set_queue_log(struct vu_dp *dp, uint32_t index, bool log,
			     uint64_t used_gpa)
{
	struct vhu_vring_addr a;
	int ret;

	if (!(dp->api_features & VHU_API_F_LOG))
		return -EOPNOTSUPP;
	if (index >= VHU_MAX_QUEUES)
		return -EINVAL;
	a = dp->addr[index];
	a.index = index;
	a.flags = log ? VHU_VRING_F_LOG : 0;
	a.log_guest_addr = log ? used_gpa : 0;
	ret = xioctl(dp, VHU_SET_VRING_ADDR, &a);
	if (!ret)
		dp->addr[index] = a;
	return ret;
}

static int dpk_set_call(struct vu_dp *dp, uint32_t index, int fd)
{
	return vring_file(dp, VHU_SET_VRING_CALL, index, fd);
}

static int dpk_set_err(struct vu_dp *dp, uint32_t index, int fd)
{
	return vring_file(dp, VHU_SET_VRING_ERR, index, fd);
}

/* ---- the control socket's ops ---------------------------------------- */

struct stats_ctx {
	struct vu_queue_stats *out;
	unsigned int n;
	uint32_t dev_id;
	bool bad_version;
};

static int stats_cb(struct nl_msg *msg, void *arg)
{
	static const struct {
		int attr;
		size_t off;
	} ctrs[] = {
#define STAT(a, f) { VHU_STATS_A_##a, offsetof(struct vu_queue_stats, f) }
		STAT(REQS_IN, reqs_in), STAT(REQS_OUT, reqs_out),
		STAT(REQS_FLUSH, reqs_flush), STAT(REQS_GET_ID, reqs_get_id),
		STAT(REQS_DISCARD, reqs_discard),
		STAT(REQS_WRITE_ZEROES, reqs_write_zeroes),
		STAT(REQS_UNSUPP, reqs_unsupp), STAT(REQS_IOERR, reqs_ioerr),
		STAT(BYTES_READ, bytes_read), STAT(BYTES_WRITTEN, bytes_written),
		STAT(RING_ERRORS, ring_errors), STAT(INFLIGHT, inflight),
		STAT(KICKS, kicks), STAT(CALLS, calls),
		STAT(LAST_AVAIL_IDX, last_avail_idx),
#undef STAT
	};
	struct stats_ctx *ctx = arg;
	struct nlattr *tb[VHU_ATTR_MAX + 1], *st[VHU_STATS_A_MAX + 1];
	struct vu_queue_stats *s;
	uint32_t q;

	if (genlmsg_hdr(nlmsg_hdr(msg))->version != VHU_GENL_VERSION) {
		ctx->bad_version = true;
		return NL_SKIP;
	}
	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, VHU_ATTR_MAX, NULL) < 0 ||
	    !tb[VHU_ATTR_DEV_ID] || !tb[VHU_ATTR_QUEUE] || !tb[VHU_ATTR_STATS] ||
	    nla_get_u32(tb[VHU_ATTR_DEV_ID]) != ctx->dev_id)
		return NL_SKIP;
	q = nla_get_u32(tb[VHU_ATTR_QUEUE]);
	if (q >= ctx->n ||
	    nla_parse_nested(st, VHU_STATS_A_MAX, tb[VHU_ATTR_STATS], NULL) < 0)
		return NL_SKIP;
	s = &ctx->out[q];
	if (st[VHU_STATS_A_STATE])
		s->state = nla_get_u32(st[VHU_STATS_A_STATE]);
	for (size_t i = 0; i < sizeof(ctrs) / sizeof(ctrs[0]); i++)
		if (st[ctrs[i].attr])
			*(uint64_t *)((char *)s + ctrs[i].off) =
				nla_get_u64(st[ctrs[i].attr]);
	return NL_OK;
}

/*
 * VHU_CMD_GET_STATS restricted to this device. vhu.ko lists the vrings
 * that have a ring size; the others read as stopped, every counter 0.
 */
static int dpk_get_stats(struct vu_dp *dp, struct vu_queue_stats *out,
			 unsigned int n, char *err, size_t errlen)
{
	struct stats_ctx ctx = { .out = out, .n = n, .dev_id = dp->info.dev_id };
	struct nl_msg *msg;
	int ret;

	for (unsigned int i = 0; i < n; i++) {
		memset(&out[i], 0, sizeof(out[i]));
		out[i].queue = i;
		out[i].state = VHU_VRING_STOPPED;
	}
	pthread_mutex_lock(&nl.lock);
	if (!nl.sk) {
		ret = nl.family;
		snprintf(err, errlen, "no netlink socket to vhu.ko: %s",
			 nl.why[0] ? nl.why : "it was not opened before the daemon's sandbox");
		goto out;
	}
	msg = nlmsg_alloc();
	if (!msg || !genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, nl.family, 0,
				 NLM_F_DUMP, VHU_CMD_GET_STATS, VHU_GENL_VERSION) ||
	    nla_put_u32(msg, VHU_ATTR_DEV_ID, dp->info.dev_id) < 0) {
		nlmsg_free(msg);
		snprintf(err, errlen, "cannot build a netlink message");
		ret = -ENOMEM;
		goto out;
	}
	nl_socket_modify_cb(nl.sk, NL_CB_VALID, NL_CB_CUSTOM, stats_cb, &ctx);
	ret = nl_send_auto(nl.sk, msg);
	if (ret >= 0)
		ret = nl_recvmsgs_default(nl.sk);
	nlmsg_free(msg);
	if (ret < 0) {
		snprintf(err, errlen, "VHU_CMD_GET_STATS: %s%s", nl_geterror(ret),
			 ret == -NLE_PERM ? " (this vhu.ko needs CAP_NET_ADMIN for "
			 "it, which the daemon gave up)" : "");
		ret = ret == -NLE_PERM ? -EPERM : -EIO;
	} else if (ctx.bad_version) {
		snprintf(err, errlen, "the loaded vhu module speaks another netlink "
			 "version than %d", VHU_GENL_VERSION);
		ret = -EPROTO;
	} else {
		ret = n;
	}
out:
	pthread_mutex_unlock(&nl.lock);
	return ret;
}

/* VHU_SET_CAPACITY, then the config space the module now reports. */
static int dpk_set_capacity(struct vu_dp *dp, uint64_t bytes, char *err,
			    size_t errlen)
{
	uint64_t sectors = bytes >> 9;
	int ret;

	if (!(dp->api_features & VHU_API_F_CAPACITY)) {
		snprintf(err, errlen, "the loaded vhu module cannot change a "
			 "device's capacity (no VHU_SET_CAPACITY: an older module?)");
		return -EOPNOTSUPP;
	}
	ret = xioctl(dp, VHU_SET_CAPACITY, &sectors);
	if (ret) {
		snprintf(err, errlen, "VHU_SET_CAPACITY %llu sectors: %s",
			 (unsigned long long)sectors, strerror(-ret));
		return ret;
	}
	ret = xioctl(dp, VHU_GET_DEV_INFO, &dp->info);
	if (ret) {
		/* Only the config space's copy is stale: mend that one. */
		dp->info.config.capacity = sectors;
		vlog("%s: VHU_GET_DEV_INFO after a resize: %s", dp->cfg->socket_path,
		     strerror(-ret));
	}
	return 0;
}

const struct vu_dp_ops vu_dp_kernel_ops = {
	.name = "kernel",
	.probe = dpk_probe,
	.open = dpk_open,
	.close = dpk_close,
	.device_features = dpk_device_features,
	.get_config = dpk_get_config,
	.detach = dpk_detach,
	.set_features = dpk_set_features,
	.set_mem_table = dpk_set_mem_table,
	.add_region = dpk_add_region,
	.remove_region = dpk_remove_region,
	.set_inflight = dpk_set_inflight,
	.start_queue = dpk_start_queue,
	.stop_queue = dpk_stop_queue,
	.set_call = dpk_set_call,
	.set_err = dpk_set_err,
	.set_write_cache = dpk_set_write_cache,
	.get_stats = dpk_get_stats,
	.set_capacity = dpk_set_capacity,
	.set_log = dpk_set_log,
	.set_queue_log = dpk_set_queue_log,
};

