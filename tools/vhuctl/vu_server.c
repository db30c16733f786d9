// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the vhost-user protocol server -- the request table, the
 * device-level requests (features, owner, memory, config, status,
 * inflight) and the connection's lifecycle. Messages come in through
 * vu_msg.c; the vring requests are in vu_vring.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "blkcfg.h"
#include "util.h"
#include "vu_log.h"
#include "vu_msg.h"

/* ---- features and ownership ------------------------------------------ */

/*
 * Give the datapath the write cache mode the driver gets: write-back only
 * for a driver that set wce 1 and can flush (vu_blk_write_back()).
 */
static int apply_write_cache(struct vu_dev *dev, struct vu_msg *m)
{
	bool write_back = vu_blk_write_back(dev->acked_features, dev->write_cache);
	int ret = dev->ops->set_write_cache(dev->dp, write_back);

	if (ret)
		return FAIL(dev, m, ret, "datapath: write %s: %s",
			    write_back ? "back" : "through", strerror(-ret));
	return 0;
}

static int h_get_features(struct vu_dev *dev, struct vu_msg *m)
{
	return vu_reply_u64(dev, m, dev->features);
}

/*
 * New features apply to running queues too: a frontend may change
 * EVENT_IDX or INDIRECT_DESC under them, and they must not go on with the
 * old ones. They stop (their requests finish) and start again with the
 * new features -- or stay stopped when protocol features now keep them
 * disabled. Before the first SET_FEATURES no queue runs.
 */
static int h_set_features(struct vu_dev *dev, struct vu_msg *m)
{
	uint64_t f = m->p.u64;
	char why[512];
	bool log_only;
	int ret;

	if (f & ~dev->features)
		return FAIL(dev, m, -EINVAL, "features 0x%" PRIx64 " not offered",
			    f & ~dev->features);
	ret = vu_blk_check_features(dev->cfg, f, why, sizeof(why));
	if (ret)
		return FAIL(dev, m, ret, "%s", why);
	/*
	 * Dirty logging starts and ends while the rings run (QEMU at the
	 * start and end of a migration): a change of VHOST_F_LOG_ALL alone
	 * goes to the datapath without stopping them.
	 */
	log_only = dev->features_set && (f ^ dev->acked_features) == BIT(VU_F_LOG_ALL);
	if (f != dev->acked_features && !log_only) {
		ret = vu_vring_stop_all(dev);
		if (ret) {
			vu_vring_start_all(dev);
			return FAIL(dev, m, ret, "a running queue did not stop");
		}
	}
	ret = dev->ops->set_features(dev->dp, f & ~BIT(VU_F_PROTOCOL_FEATURES));
	if (ret) {
		vu_vring_start_all(dev);
		return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
	}
	if (log_only)
		vlog("%s: dirty logging %s", dev->name,
		     f & BIT(VU_F_LOG_ALL) ? "on" : "off");
	dev->acked_features = f;
	dev->features_set = true;
	/* The virtio spec: CONFIG_WCE without FLUSH starts write-through. */
	if ((f & BIT(VIRTIO_BLK_F_CONFIG_WCE)) && !(f & BIT(VIRTIO_BLK_F_FLUSH)))
		dev->write_cache = false;
	ret = apply_write_cache(dev, m);
	vu_vring_start_all(dev);
	return ret;
}

static int h_set_owner(struct vu_dev *dev, struct vu_msg *m)
{
	if (dev->owner)
		return FAIL(dev, m, -EBUSY, "the device already has an owner");
	dev->owner = true;
	return 0;
}

static void inflight_release(struct vu_inflight *inf)
{
	if (inf->addr) {
		vu_guard_remove(inf->addr);
		munmap(inf->addr, inf->size);
	}
	close_fd(&inf->fd);
	memset(inf, 0, sizeof(*inf));
	inf->fd = -1;
}

static void log_release(struct vu_log *log)
{
	if (log->addr) {
		vu_guard_remove(log->addr);
		munmap(log->addr, log->size);
	}
	memset(log, 0, sizeof(*log));
}

/* Everything a frontend set up: queues, memory, inflight, log, fds. */
static void release_session(struct vu_dev *dev)
{
	for (uint32_t i = 0; i < dev->cfg->queues; i++) {
		vu_vring_stop(dev, i);
		vu_vring_reset(&dev->q[i]);
	}
	/*
	 * Whether or not the frontend sent SET_OWNER: one that never did can
	 * still have handed the datapath memory regions or an inflight area,
	 * which are unmapped right below.
	 */
	dev->ops->detach(dev->dp);
	vu_mem_clear(&dev->mem);
	inflight_release(&dev->inflight);
	log_release(&dev->log);
	close_fd(&dev->backend_req_fd);
	dev->owner = false;
	dev->acked_features = 0;
	dev->features_set = false;
	dev->acked_protocol_features = 0;
	dev->status = 0;
}

/*
 * Deprecated by the specification, which warns that discarding the
 * connection's state here leads to bugs: every ring is disabled and
 * stopped, everything negotiated (features, protocol features and so
 * REPLY_ACK, memory, inflight area) stays, and SET_OWNER is taken again.
 */
static int h_reset_owner(struct vu_dev *dev, struct vu_msg *m)
{
	int ret = vu_vring_disable_all(dev);

	if (ret)
		return FAIL(dev, m, ret, "a running queue did not stop");
	dev->owner = false;
	return 0;
}

static int h_get_protocol_features(struct vu_dev *dev, struct vu_msg *m)
{
	return vu_reply_u64(dev, m, dev->protocol_features);
}

static int h_set_protocol_features(struct vu_dev *dev, struct vu_msg *m)
{
	uint64_t f = m->p.u64;

	if (f & ~dev->protocol_features)
		return FAIL(dev, m, -EINVAL, "protocol features 0x%" PRIx64 " not offered",
			    f & ~dev->protocol_features);
	dev->acked_protocol_features = f;
	return 0;
}

static int h_get_queue_num(struct vu_dev *dev, struct vu_msg *m)
{
	return vu_reply_u64(dev, m, dev->cfg->queues);
}

/* ---- memory ---------------------------------------------------------- */

static int h_get_max_mem_slots(struct vu_dev *dev, struct vu_msg *m)
{
	return vu_reply_u64(dev, m, VU_MAX_MEM_SLOTS);
}

static int h_set_mem_table(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_mem_table_msg *t = &m->p.mem;
	struct vu_mem *new, old;
	const char *why = "";
	int ret;

	if (t->nregions < 1 || t->nregions > VU_MAX_MEM_TABLE_REGIONS ||
	    m->hdr.size != VU_MEM_TABLE_HDR_SIZE + t->nregions * sizeof(t->regions[0]))
		return FAIL(dev, m, -EINVAL, "%u regions do not match payload size %u",
			    t->nregions, m->hdr.size);
	if ((uint32_t)m->nfds != t->nregions)
		return FAIL(dev, m, -EINVAL, "%u regions but %d fds", t->nregions, m->nfds);

	/* Build and map the new table before letting go of the old one. */
	new = calloc(1, sizeof(*new));
	if (!new)
		return FAIL(dev, m, -ENOMEM, "out of memory");
	new->guard = dev->mem.guard;
	for (uint32_t i = 0; i < t->nregions; i++) {
		ret = vu_mem_add(new, &t->regions[i], vu_take_fd(m, i), &why);
		if (ret) {
			vu_mem_clear(new);
			free(new);
			return FAIL(dev, m, ret, "region %u: %s", i, why);
		}
	}

	/* No queue may use the old mappings once they are gone. */
	ret = vu_vring_stop_all(dev);
	if (ret)
		why = "a running queue did not stop";
	else if ((ret = dev->ops->set_mem_table(dev->dp, new)))
		why = "the datapath refused it";
	if (ret) {
		vu_mem_clear(new);
		free(new);
		vu_vring_start_all(dev);
		return FAIL(dev, m, ret, "%s: %s", why, strerror(-ret));
	}
	old = dev->mem;
	dev->mem = *new;
	free(new);
	vu_mem_clear(&old);
	vu_vring_start_all(dev);
	return 0;
}

static int h_add_mem_reg(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_region_desc *d = &m->p.mem_reg.region;
	const char *why = "";
	int ret;

	ret = vu_mem_add(&dev->mem, d, vu_take_fd(m, 0), &why);
	if (ret)
		return FAIL(dev, m, ret, "%s", why);
	ret = dev->ops->add_region(dev->dp, &dev->mem.r[dev->mem.nregions - 1]);
	if (ret) {
		vu_mem_remove(&dev->mem, d);
		return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
	}
	/* Queues stopped by a REM_MEM_REG of their rings' region run again. */
	vu_vring_start_all(dev);
	return 0;
}

static int h_rem_mem_reg(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_region_desc *d = &m->p.mem_reg.region;
	struct vu_region *r = vu_mem_find(&dev->mem, d);
	int ret;

	if (!r)
		return FAIL(dev, m, -ENOENT, "no region at gpa 0x%" PRIx64 " size 0x%" PRIx64,
			    d->gpa, d->size);
	/*
	 * QEMU resizes a region as a REM_MEM_REG and an ADD_MEM_REG: queues
	 * whose rings are in the region stop, and the ADD_MEM_REG (or a
	 * memory table) that holds their rings again starts them.
	 */
	for (uint32_t i = 0; i < dev->cfg->queues; i++) {
		if (!dev->q[i].running || !vu_vring_in_region(&dev->q[i], r))
			continue;
		ret = vu_vring_stop(dev, i);
		if (ret) {
			vu_vring_start_all(dev);
			return FAIL(dev, m, ret, "queue %u's rings are in the region "
				    "and it did not stop", i);
		}
		vlog("%s: queue %u stopped until a region holds its rings again",
		     dev->name, i);
	}
	ret = dev->ops->remove_region(dev->dp, r);
	if (ret) {
		vu_vring_start_all(dev);
		return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
	}
	vu_mem_remove(&dev->mem, d);
	return 0;
}

/* ---- config space, status, backend channel --------------------------- */

static int config_check(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_config_msg *c = &m->p.config;

	if (m->hdr.size != VU_CONFIG_HDR_SIZE + c->size)
		return FAIL(dev, m, -EINVAL, "config size %u in a %u-byte payload",
			    c->size, m->hdr.size);
	if (c->offset > VU_MAX_CONFIG_SIZE || c->size > VU_MAX_CONFIG_SIZE - c->offset)
		return FAIL(dev, m, -EINVAL, "config range %u+%u", c->offset, c->size);
	return 0;
}

_Static_assert(sizeof(struct virtio_blk_config) <= VU_MAX_CONFIG_SIZE,
	       "the config space must fit a GET_CONFIG reply");

static int h_get_config(struct vu_dev *dev, struct vu_msg *m)
{
	struct vu_config_msg *c = &m->p.config;
	uint8_t space[VU_MAX_CONFIG_SIZE] = { 0 };
	int ret = config_check(dev, m);

	if (ret)
		return ret;
	dev->ops->get_config(dev->dp, &dev->config);
	dev->config.wce = dev->write_cache;
	memcpy(space, &dev->config, sizeof(dev->config));
	memcpy(c->data, space + c->offset, c->size);
	return vu_send_reply(dev, m, c, VU_CONFIG_HDR_SIZE + c->size, -1);
}

static int h_set_config(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_config_msg *c = &m->p.config;
	int ret = config_check(dev, m);
	bool old = dev->write_cache;

	if (ret)
		return ret;
	if (c->flags > 1)
		return FAIL(dev, m, -EINVAL, "flags 0x%x", c->flags);
	if (c->offset != offsetof(struct virtio_blk_config, wce) || c->size != 1)
		return FAIL(dev, m, -EPERM, "only the write cache byte is writable");
	if (!(dev->acked_features & BIT(VIRTIO_BLK_F_CONFIG_WCE)))
		return FAIL(dev, m, -EPERM, "CONFIG_WCE was not negotiated");
	if (c->data[0] > 1)
		return FAIL(dev, m, -EINVAL, "write cache mode %u", c->data[0]);
	dev->write_cache = c->data[0];
	ret = apply_write_cache(dev, m);
	if (ret)
		dev->write_cache = old;
	return ret;
}

/* The backend's end of a channel to the frontend: a socket, nothing else. */
static int h_set_backend_req_fd(struct vu_dev *dev, struct vu_msg *m)
{
	struct stat st;

	if (fstat(m->fds[0], &st) < 0 || !S_ISSOCK(st.st_mode))
		return FAIL(dev, m, -EINVAL, "the backend request fd is not a socket");
	close_fd(&dev->backend_req_fd);
	dev->backend_req_fd = vu_take_fd(m, 0);
	return 0;
}

static int h_get_status(struct vu_dev *dev, struct vu_msg *m)
{
	return vu_reply_u64(dev, m, dev->status);
}

static int h_set_status(struct vu_dev *dev, struct vu_msg *m)
{
	if (m->p.u64 > 0xff)
		return FAIL(dev, m, -EINVAL, "status 0x%" PRIx64, m->p.u64);
	dev->status = m->p.u64;
	return 0;
}

/* ---- inflight area --------------------------------------------------- */

static int inflight_check(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_inflight_msg *in = &m->p.inflight;

	if (!in->num_queues || in->num_queues > dev->cfg->queues)
		return FAIL(dev, m, -EINVAL, "%u queues (the export has %u)",
			    in->num_queues, dev->cfg->queues);
	if (!in->queue_size || (in->queue_size & (in->queue_size - 1)) ||
	    in->queue_size > dev->cfg->queue_size)
		return FAIL(dev, m, -EINVAL, "queue size %u", in->queue_size);
	return 0;
}

static int h_get_inflight_fd(struct vu_dev *dev, struct vu_msg *m)
{
	struct vu_inflight_msg *in = &m->p.inflight;
	uint64_t size;
	int fd, ret = inflight_check(dev, m);

	if (ret)
		return ret;
	size = vu_inflight_queue_size(in->queue_size) * in->num_queues;
	fd = memfd_create("vhu-inflight", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return FAIL(dev, m, -errno, "memfd_create: %s", strerror(errno));
	if (ftruncate(fd, size) < 0) {
		ret = -errno;
		close(fd);
		return FAIL(dev, m, ret, "ftruncate: %s", strerror(-ret));
	}
	/* A fresh memfd reads as zeroes: no request is in flight. */
	fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
	in->mmap_size = size;
	in->mmap_offset = 0;
	in->padding = 0;
	ret = vu_send_reply(dev, m, in, sizeof(*in), fd);
	close(fd);
	return ret;
}

static int h_set_inflight_fd(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_inflight_msg *in = &m->p.inflight;
	struct vu_inflight inf = { .fd = -1 };
	struct stat st;
	uint64_t need;
	void *addr;
	int fd, seals, ret = inflight_check(dev, m);

	if (ret)
		return ret;
	need = vu_inflight_queue_size(in->queue_size) * in->num_queues;
	fd = vu_take_fd(m, 0);
	if (in->mmap_size < need || in->mmap_offset & 4095 ||
	    in->mmap_offset > UINT64_MAX - in->mmap_size) {
		close(fd);
		return FAIL(dev, m, -EINVAL, "inflight area of %" PRIu64 " bytes at %" PRIu64
			    " (needs %" PRIu64 ")", in->mmap_size, in->mmap_offset, need);
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return FAIL(dev, m, -EINVAL, "inflight fd is not a regular file (memfd "
			    "or shared memory)");
	}
	if ((uint64_t)st.st_size < in->mmap_offset + in->mmap_size) {
		close(fd);
		return FAIL(dev, m, -EINVAL, "inflight fd smaller than the area");
	}
	seals = fcntl(fd, F_GET_SEALS);
	addr = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    in->mmap_offset);
	if (addr == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return FAIL(dev, m, ret, "mmap: %s", strerror(-ret));
	}
	/* It may shrink under us like guest memory: the same guard. */
	if (vu_guard_add(&dev->guard, addr, in->mmap_size,
			 seals > 0 && (seals & F_SEAL_SHRINK))) {
		munmap(addr, in->mmap_size);
		close(fd);
		return FAIL(dev, m, -ENOSPC, "the daemon maps too many areas");
	}
	inf.fd = fd;
	inf.addr = addr;
	inf.size = in->mmap_size;
	inf.num_queues = in->num_queues;
	inf.queue_size = in->queue_size;
	ret = dev->ops->set_inflight(dev->dp, &inf);
	if (ret) {
		inflight_release(&inf);
		return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
	}
	inflight_release(&dev->inflight);
	dev->inflight = inf;
	return 0;
}

/* ---- dirty log ------------------------------------------------------- */

/*
 * SET_LOG_BASE with LOG_SHMFD: map the log from the message's fd and hand
 * it to the datapath, which stops writing the old one before it returns.
 * The reply echoes the payload (rust-vmm frontends read it as such; QEMU
 * reads any). A refusal cannot be told in that reply (QEMU 7.2 checks
 * nothing else, and a frontend that went on migrating without the log
 * would lose the pages we write), so it closes the connection.
 *
 * The frontend may shrink the fd afterwards: the mapping is registered
 * with the connection's guard like guest memory, so a write to a page
 * that went away drops the connection instead of killing the daemon.
 */
static int h_set_log_base(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_log_msg *l = &m->p.log;
	uint64_t size = l->mmap_size, off = l->mmap_offset;
	struct vu_log log, old;
	struct stat st;
	void *addr;
	int fd = m->fds[0], seals, ret;

	if (!size)
		return FAIL(dev, m, -EINVAL, "an empty log");
	if (size > VU_LOG_MAX_SIZE)
		return FAIL(dev, m, -EINVAL, "a log of %" PRIu64 " bytes (at most %llu: "
			    "32 TiB of guest memory)", size, VU_LOG_MAX_SIZE);
	if (off % (uint64_t)sysconf(_SC_PAGESIZE))
		return FAIL(dev, m, -EINVAL, "log offset %" PRIu64 " is not page aligned", off);
	if (off > UINT64_MAX - size)
		return FAIL(dev, m, -EINVAL, "log offset %" PRIu64 " + size %" PRIu64
			    " overflows", off, size);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return FAIL(dev, m, -EINVAL, "the log fd is not a regular file (memfd "
			    "or shared memory)");
	if ((uint64_t)st.st_size < off + size)
		return FAIL(dev, m, -EINVAL, "a log of %" PRIu64 " bytes at %" PRIu64
			    " extends past the end of its fd (%" PRIu64 " bytes)",
			    size, off, (uint64_t)st.st_size);
	seals = fcntl(fd, F_GET_SEALS);
	addr = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		    fd, (off_t)off);
	if (addr == MAP_FAILED) {
		ret = -errno;
		return FAIL(dev, m, ret, "mmap of the log: %s", strerror(-ret));
	}
	if (vu_guard_add(&dev->guard, addr, size, seals > 0 && (seals & F_SEAL_SHRINK))) {
		munmap(addr, size);
		return FAIL(dev, m, -ENOSPC, "the daemon maps too many areas");
	}
	log.addr = addr;
	log.size = size;
	ret = dev->ops->set_log(dev->dp, &log);
	if (ret) {
		log_release(&log);
		return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
	}
	old = dev->log;
	dev->log = log;
	log_release(&old);
	return vu_send_reply(dev, m, l, sizeof(*l), -1);
}

/*
 * SET_LOG_FD: an eventfd to tell the frontend the log changed. Nothing
 * here needs it (QEMU never sends it); the fd is closed with the message.
 */
static int h_set_log_fd(struct vu_dev *dev, struct vu_msg *m)
{
	(void)dev;
	(void)m;
	return 0;
}

/* ---- the request table ----------------------------------------------- */

/* For requests no vhost-user-blk backend takes: a feature never offered. */
#define PF_NEVER	BIT(63)

static const struct vu_req_desc requests[VU_REQ_MAX] = {
	[VU_REQ_GET_FEATURES] = {
		.name = "GET_FEATURES", .handle = h_get_features,
		.has_reply = true,
	},
	[VU_REQ_SET_FEATURES] = {
		.name = "SET_FEATURES", .handle = h_set_features,
		.size = sizeof(uint64_t),
	},
	[VU_REQ_SET_OWNER] = { .name = "SET_OWNER", .handle = h_set_owner },
	[VU_REQ_RESET_OWNER] = {
		.name = "RESET_OWNER", .handle = h_reset_owner,
	},
	[VU_REQ_SET_MEM_TABLE] = {
		.name = "SET_MEM_TABLE", .handle = h_set_mem_table,
		.size_kind = SZ_MEM_TABLE, .fd_kind = FD_BY_PAYLOAD,
	},
	[VU_REQ_SET_LOG_BASE] = {
		.name = "SET_LOG_BASE", .handle = h_set_log_base,
		.size = sizeof(struct vu_log_msg), .fds = 1, .has_reply = true,
		.reply_needs_pf = true, .need_pf = BIT(VU_PF_LOG_SHMFD),
	},
	[VU_REQ_SET_LOG_FD] = {
		.name = "SET_LOG_FD", .handle = h_set_log_fd, .fds = 1,
		.need_pf = BIT(VU_PF_LOG_SHMFD),
	},
	[VU_REQ_SET_VRING_NUM] = {
		.name = "SET_VRING_NUM", .handle = vu_vring_set_num,
		.size = sizeof(struct vu_vring_state), .refusal = REFUSE_RING,
	},
	[VU_REQ_SET_VRING_ADDR] = {
		.name = "SET_VRING_ADDR", .handle = vu_vring_set_addr,
		.size = sizeof(struct vu_vring_addr), .refusal = REFUSE_RING,
	},
	[VU_REQ_SET_VRING_BASE] = {
		.name = "SET_VRING_BASE", .handle = vu_vring_set_base,
		.size = sizeof(struct vu_vring_state), .refusal = REFUSE_RING,
	},
	[VU_REQ_GET_VRING_BASE] = {
		.name = "GET_VRING_BASE", .handle = vu_vring_get_base,
		.size = sizeof(struct vu_vring_state), .has_reply = true,
	},
	[VU_REQ_SET_VRING_KICK] = {
		.name = "SET_VRING_KICK", .handle = vu_vring_set_kick,
		.size = sizeof(uint64_t), .fd_kind = FD_BY_PAYLOAD,
		.refusal = REFUSE_RING,
	},
	[VU_REQ_SET_VRING_CALL] = {
		.name = "SET_VRING_CALL", .handle = vu_vring_set_call,
		.size = sizeof(uint64_t), .fd_kind = FD_BY_PAYLOAD,
	},
	[VU_REQ_SET_VRING_ERR] = {
		.name = "SET_VRING_ERR", .handle = vu_vring_set_err,
		.size = sizeof(uint64_t), .fd_kind = FD_BY_PAYLOAD,
	},
	[VU_REQ_GET_PROTOCOL_FEATURES] = {
		.name = "GET_PROTOCOL_FEATURES",
		.handle = h_get_protocol_features, .has_reply = true,
	},
	[VU_REQ_SET_PROTOCOL_FEATURES] = {
		.name = "SET_PROTOCOL_FEATURES",
		.handle = h_set_protocol_features, .size = sizeof(uint64_t),
	},
	[VU_REQ_GET_QUEUE_NUM] = {
		.name = "GET_QUEUE_NUM", .handle = h_get_queue_num,
		.has_reply = true, .need_pf = BIT(VU_PF_MQ),
	},
	[VU_REQ_SET_VRING_ENABLE] = {
		.name = "SET_VRING_ENABLE", .handle = vu_vring_set_enable,
		.size = sizeof(struct vu_vring_state), .refusal = REFUSE_RING,
	},
	[VU_REQ_SEND_RARP] = {
		.name = "SEND_RARP", .need_pf = BIT(VU_PF_RARP),
	},
	[VU_REQ_NET_SET_MTU] = {
		.name = "NET_SET_MTU", .need_pf = BIT(VU_PF_NET_MTU),
	},
	[VU_REQ_SET_BACKEND_REQ_FD] = {
		.name = "SET_BACKEND_REQ_FD", .handle = h_set_backend_req_fd,
		.fds = 1, .need_pf = BIT(VU_PF_BACKEND_REQ),
	},
	[VU_REQ_IOTLB_MSG] = { .name = "IOTLB_MSG", .need_pf = PF_NEVER },
	[VU_REQ_SET_VRING_ENDIAN] = {
		.name = "SET_VRING_ENDIAN", .need_pf = BIT(VU_PF_CROSS_ENDIAN),
	},
	/*
	 * Config space accesses can come from the guest (some frontends
	 * forward every one): a refused one never costs the connection.
	 */
	[VU_REQ_GET_CONFIG] = {
		.name = "GET_CONFIG", .handle = h_get_config,
		.size_kind = SZ_CONFIG, .has_reply = true,
		.refusal = REFUSE_EMPTY, .need_pf = BIT(VU_PF_CONFIG),
	},
	[VU_REQ_SET_CONFIG] = {
		.name = "SET_CONFIG", .handle = h_set_config,
		.size_kind = SZ_CONFIG, .refusal = REFUSE_IGNORE,
		.need_pf = BIT(VU_PF_CONFIG),
	},
	[VU_REQ_CREATE_CRYPTO_SESSION] = {
		.name = "CREATE_CRYPTO_SESSION",
		.need_pf = BIT(VU_PF_CRYPTO_SESSION),
	},
	[VU_REQ_CLOSE_CRYPTO_SESSION] = {
		.name = "CLOSE_CRYPTO_SESSION",
		.need_pf = BIT(VU_PF_CRYPTO_SESSION),
	},
	[VU_REQ_POSTCOPY_ADVISE] = {
		.name = "POSTCOPY_ADVISE", .need_pf = BIT(VU_PF_PAGEFAULT),
	},
	[VU_REQ_POSTCOPY_LISTEN] = {
		.name = "POSTCOPY_LISTEN", .need_pf = BIT(VU_PF_PAGEFAULT),
	},
	[VU_REQ_POSTCOPY_END] = {
		.name = "POSTCOPY_END", .need_pf = BIT(VU_PF_PAGEFAULT),
	},
	[VU_REQ_GET_INFLIGHT_FD] = {
		.name = "GET_INFLIGHT_FD", .handle = h_get_inflight_fd,
		.size = sizeof(struct vu_inflight_msg), .has_reply = true,
		.need_pf = BIT(VU_PF_INFLIGHT_SHMFD),
	},
	[VU_REQ_SET_INFLIGHT_FD] = {
		.name = "SET_INFLIGHT_FD", .handle = h_set_inflight_fd,
		.size = sizeof(struct vu_inflight_msg), .fds = 1,
		.need_pf = BIT(VU_PF_INFLIGHT_SHMFD),
	},
	[VU_REQ_GPU_SET_SOCKET] = {
		.name = "GPU_SET_SOCKET", .need_pf = PF_NEVER,
	},
	[VU_REQ_RESET_DEVICE] = {
		.name = "RESET_DEVICE", .need_pf = BIT(VU_PF_RESET_DEVICE),
	},
	[VU_REQ_VRING_KICK] = {
		.name = "VRING_KICK",
		.need_pf = BIT(VU_PF_INBAND_NOTIFICATIONS),
	},
	[VU_REQ_GET_MAX_MEM_SLOTS] = {
		.name = "GET_MAX_MEM_SLOTS", .handle = h_get_max_mem_slots,
		.has_reply = true, .need_pf = BIT(VU_PF_CONFIGURE_MEM_SLOTS),
	},
	[VU_REQ_ADD_MEM_REG] = {
		.name = "ADD_MEM_REG", .handle = h_add_mem_reg,
		.size = sizeof(struct vu_mem_reg_msg), .fds = 1,
		.need_pf = BIT(VU_PF_CONFIGURE_MEM_SLOTS),
	},
	/* QEMU before 8.0 attached the region's fd to REM_MEM_REG too. */
	[VU_REQ_REM_MEM_REG] = {
		.name = "REM_MEM_REG", .handle = h_rem_mem_reg,
		.size = sizeof(struct vu_mem_reg_msg), .fd_kind = FD_UP_TO,
		.fds = 1, .need_pf = BIT(VU_PF_CONFIGURE_MEM_SLOTS),
	},
	[VU_REQ_SET_STATUS] = {
		.name = "SET_STATUS", .handle = h_set_status,
		.size = sizeof(uint64_t), .need_pf = BIT(VU_PF_STATUS),
	},
	[VU_REQ_GET_STATUS] = {
		.name = "GET_STATUS", .handle = h_get_status, .has_reply = true,
		.need_pf = BIT(VU_PF_STATUS),
	},
};

const struct vu_req_desc *vu_request(uint32_t req)
{
	return req < VU_REQ_MAX && requests[req].name ? &requests[req] : NULL;
}

const char *vu_request_name(uint32_t req)
{
	static __thread char buf[32];

	if (vu_request(req))
		return requests[req].name;
	snprintf(buf, sizeof(buf), "request %u", req);
	return buf;
}

/* ---- connection lifecycle -------------------------------------------- */

void vu_dev_init(struct vu_dev *dev, const char *name,
		 const struct vu_export_cfg *cfg, const struct vu_dp_ops *ops,
		 struct vu_dp *dp)
{
	memset(dev, 0, sizeof(*dev));
	dev->name = name;
	dev->cfg = cfg;
	dev->ops = ops;
	dev->dp = dp;
	dev->conn_fd = -1;
	dev->guard.fd = -1;
	dev->mem.guard = &dev->guard;
	dev->stop_fd = -1;
	dev->msg_timeout_ms = VU_MSG_TIMEOUT_MS;
	vlog_ratelimit_init(&dev->rl_refused, "refused requests",
			    VLOG_RL_INTERVAL_MS, VLOG_RL_BURST);
	dev->backend_req_fd = -1;
	dev->inflight.fd = -1;
	for (uint32_t i = 0; i < VHU_MAX_QUEUES; i++)
		dev->q[i].kick_fd = dev->q[i].call_fd = dev->q[i].err_fd = -1;
	dev->features = ops->device_features(dp) | BIT(VU_F_PROTOCOL_FEATURES);
	dev->protocol_features = VU_PROTOCOL_FEATURES;
	/* Dirty logging only where the datapath can log. */
	if (ops->set_log && ops->set_queue_log)
		dev->protocol_features |= BIT(VU_PF_LOG_SHMFD);
	else
		dev->features &= ~BIT(VU_F_LOG_ALL);
	dev->write_cache = true;
}

int vu_dev_connect(struct vu_dev *dev, int fd)
{
	int ret = vu_guard_init(&dev->guard);

	if (ret) {
		vlog("%s: cannot guard the frontend's memory: %s", dev->name,
		     strerror(-ret));
		vu_guard_fini(&dev->guard);
		return ret;
	}
	dev->conn_fd = fd;
	return 0;
}

void vu_dev_disconnect(struct vu_dev *dev)
{
	release_session(dev);
	close_fd(&dev->conn_fd);
	/* Its memory is unmapped: the next frontend starts unfaulted. */
	vu_guard_fini(&dev->guard);
}

int vu_dev_fault_fd(const struct vu_dev *dev)
{
	return dev->conn_fd >= 0 ? dev->guard.fd : -1;
}

int vu_dev_fault(struct vu_dev *dev)
{
	uintptr_t addr;

	if (!vu_guard_faulted(&dev->guard))
		return 0;
	addr = __atomic_load_n(&dev->guard.fault_addr, __ATOMIC_RELAXED);
	vlog("%s: access to the frontend's memory at %p faulted (%s); its queues "
	     "stop and the connection is dropped", dev->name, (void *)addr,
	     __atomic_load_n(&dev->guard.fault_sealed, __ATOMIC_RELAXED) ?
	     "the pages could not be backed" :
	     "the frontend shrank an unsealed memory fd under a mapping");
	return -EFAULT;
}
