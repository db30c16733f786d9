// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the vhost-user protocol server.
 *
 * A message is taken in three steps:
 *  1. recv_header(): the 12-byte header and any SCM_RIGHTS fds
 *     (MSG_CMSG_CLOEXEC, so no fd can leak into a child);
 *  2. validate(): version and flags, then the exact payload size and the
 *     exact number of fds the request type takes, from the table below;
 *  3. recv_payload(), then the request's handler from the same table.
 *
 * The stream stays in sync whenever the header is sane, so a bad request
 * is answered (REPLY_ACK with need_reply) when it can be; when it cannot
 * (no ack was negotiated, or the request has its own reply) the
 * connection is closed. Either way the daemon keeps running. Every fd a
 * message brought is either taken over by a handler (which sets its slot
 * to -1) or closed by the one cleanup path in vu_dev_handle().
 */
#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "log.h"
#include "util.h"
#include "vu_server.h"

enum size_kind {
	SZ_EXACT,	/* hdr.size == size */
	SZ_MEM_TABLE,	/* 8 + 32 * n, 1 <= n <= 8 */
	SZ_CONFIG,	/* 12 + n, n <= 256 */
};

enum fd_kind {
	FD_EXACT,	/* exactly fds */
	FD_UP_TO,	/* 0..fds */
	FD_BY_PAYLOAD,	/* decided by the handler from the payload */
};

struct vu_req_desc {
	const char *name;
	int (*handle)(struct vu_dev *dev, struct vu_msg *m);
	uint32_t size;
	uint8_t size_kind;
	uint8_t fd_kind;
	uint8_t fds;
	bool has_reply;		/* the request has its own reply payload */
	uint64_t need_pf;	/* protocol features that must be negotiated */
};

/* For requests no vhost-user-blk backend takes: a feature never offered. */
#define PF_NEVER	BIT(63)

static int send_reply(struct vu_dev *dev, const struct vu_msg *req,
		      const void *payload, uint32_t size, int fd)
{
	struct vu_hdr hdr = {
		.request = req->hdr.request,
		.flags = VU_VERSION | VU_FLAG_REPLY,
		.size = size,
	};
	struct iovec iov[2] = {
		{ .iov_base = &hdr, .iov_len = sizeof(hdr) },
		{ .iov_base = (void *)payload, .iov_len = size },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(int));
	}
	do {
		n = sendmsg(dev->conn_fd, &mh, MSG_NOSIGNAL);
	} while (n < 0 && errno == EINTR);
	if (n != (ssize_t)(sizeof(hdr) + size)) {
		vlog("%s: cannot send the %s reply: %s", dev->name,
		     vu_request_name(req->hdr.request),
		     n < 0 ? strerror(errno) : "short write");
		return -EIO;
	}
	return 0;
}

static int reply_u64(struct vu_dev *dev, const struct vu_msg *req, uint64_t v)
{
	return send_reply(dev, req, &v, sizeof(v), -1);
}

static bool reply_ack_on(const struct vu_dev *dev)
{
	return dev->acked_protocol_features & BIT(VU_PF_REPLY_ACK);
}

static bool protocol_features_on(const struct vu_dev *dev)
{
	return dev->acked_features & BIT(VU_F_PROTOCOL_FEATURES);
}

/* A handler's failure: logged once here, with the request's name. */
#define FAIL(dev, m, err, fmt, ...)					\
	({								\
		vlog("%s: %s refused: " fmt, (dev)->name,		\
		     vu_request_name((m)->hdr.request), ##__VA_ARGS__);	\
		(err);							\
	})

/* Take the message's i-th fd over. */
static int take_fd(struct vu_msg *m, int i)
{
	int fd = m->fds[i];

	m->fds[i] = -1;
	return fd;
}

/* ---- queues ---------------------------------------------------------- */

static int queue_index(struct vu_dev *dev, struct vu_msg *m, uint64_t index)
{
	if (index >= dev->cfg->queues)
		return FAIL(dev, m, -EINVAL, "queue %" PRIu64 " out of range (%u queues)",
			    index, dev->cfg->queues);
	return (int)index;
}

/* Ring sizes in bytes for a split ring of num entries (with event idx). */
static uint64_t desc_bytes(uint32_t num) { return 16ull * num; }
static uint64_t avail_bytes(uint32_t num) { return 6 + 2ull * num; }
static uint64_t used_bytes(uint32_t num) { return 6 + 8ull * num; }

static int translate_queue(struct vu_dev *dev, uint32_t i,
			   struct vu_dp_queue *out)
{
	struct vu_queue *q = &dev->q[i];

	memset(out, 0, sizeof(*out));
	out->index = i;
	out->num = q->num;
	out->base = q->base;
	out->desc_uaddr = q->addr.desc;
	out->avail_uaddr = q->addr.avail;
	out->used_uaddr = q->addr.used;
	out->desc_hva = vu_mem_uva_to_hva(&dev->mem, q->addr.desc, desc_bytes(q->num));
	out->avail_hva = vu_mem_uva_to_hva(&dev->mem, q->addr.avail, avail_bytes(q->num));
	out->used_hva = vu_mem_uva_to_hva(&dev->mem, q->addr.used, used_bytes(q->num));
	out->kick_fd = q->kick_fd;
	out->call_fd = q->call_fd;
	out->err_fd = q->err_fd;
	if (!out->desc_hva || !out->avail_hva || !out->used_hva)
		return -EFAULT;
	return 0;
}

/* Hand a queue to the datapath once it has all it needs and may run. */
static int maybe_start(struct vu_dev *dev, struct vu_msg *m, uint32_t i)
{
	struct vu_queue *q = &dev->q[i];
	struct vu_dp_queue dq;
	int ret;

	if (q->running || !q->kick_set || !q->have_num || !q->have_addr)
		return 0;
	if (protocol_features_on(dev) && !q->enabled)
		return 0;
	if (translate_queue(dev, i, &dq))
		return FAIL(dev, m, -EFAULT, "queue %u rings are outside guest memory", i);
	ret = dev->ops->start_queue(dev->dp, &dq);
	if (ret)
		return FAIL(dev, m, ret, "datapath cannot start queue %u: %s", i,
			    strerror(-ret));
	q->running = true;
	return 0;
}

/* Stop a running queue, waiting for its in-flight requests. */
static int stop_queue(struct vu_dev *dev, uint32_t i)
{
	struct vu_queue *q = &dev->q[i];
	uint32_t base = q->base;
	int ret;

	if (!q->running)
		return 0;
	ret = dev->ops->stop_queue(dev->dp, i, &base);
	q->running = false;
	if (ret) {
		vlog("%s: datapath failed to stop queue %u: %s", dev->name, i,
		     strerror(-ret));
		return ret;
	}
	q->base = base;
	return 0;
}

static void queue_reset(struct vu_queue *q)
{
	close_fd(&q->kick_fd);
	close_fd(&q->call_fd);
	close_fd(&q->err_fd);
	memset(q, 0, sizeof(*q));
	q->kick_fd = q->call_fd = q->err_fd = -1;
}

/* Restart running queues around a change of the memory table. */
static void stop_all(struct vu_dev *dev, bool *was)
{
	for (uint32_t i = 0; i < dev->cfg->queues; i++) {
		was[i] = dev->q[i].running;
		stop_queue(dev, i);
	}
}

static int restart(struct vu_dev *dev, struct vu_msg *m, const bool *was)
{
	int ret = 0;

	for (uint32_t i = 0; i < dev->cfg->queues; i++)
		if (was[i] && !ret)
			ret = maybe_start(dev, m, i);
	return ret;
}

/* ---- handlers -------------------------------------------------------- */

static int h_get_features(struct vu_dev *dev, struct vu_msg *m)
{
	return reply_u64(dev, m, dev->features);
}

static int h_set_features(struct vu_dev *dev, struct vu_msg *m)
{
	uint64_t f = m->p.u64;
	int ret;

	if (f & ~dev->features)
		return FAIL(dev, m, -EINVAL, "features 0x%" PRIx64 " not offered",
			    f & ~dev->features);
	ret = dev->ops->set_features(dev->dp, f & ~BIT(VU_F_PROTOCOL_FEATURES));
	if (ret)
		return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
	dev->acked_features = f;
	return 0;
}

static int h_set_owner(struct vu_dev *dev, struct vu_msg *m)
{
	if (dev->owner)
		return FAIL(dev, m, -EBUSY, "the device already has an owner");
	dev->owner = true;
	return 0;
}

static void release_session(struct vu_dev *dev);

static int h_reset_owner(struct vu_dev *dev, struct vu_msg *m)
{
	(void)m;
	release_session(dev);
	return 0;
}

static int h_get_protocol_features(struct vu_dev *dev, struct vu_msg *m)
{
	return reply_u64(dev, m, dev->protocol_features);
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
	return reply_u64(dev, m, dev->cfg->queues);
}

static int h_get_max_mem_slots(struct vu_dev *dev, struct vu_msg *m)
{
	return reply_u64(dev, m, VU_MAX_MEM_SLOTS);
}

static int h_set_mem_table(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_mem_table_msg *t = &m->p.mem;
	struct vu_mem *new, old;
	bool was[VHU_MAX_QUEUES];
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
	for (uint32_t i = 0; i < t->nregions; i++) {
		ret = vu_mem_add(new, &t->regions[i], take_fd(m, i), &why);
		if (ret) {
			vu_mem_clear(new);
			free(new);
			return FAIL(dev, m, ret, "region %u: %s", i, why);
		}
	}

	stop_all(dev, was);
	ret = dev->ops->set_mem_table(dev->dp, new);
	if (ret) {
		vu_mem_clear(new);
		free(new);
		restart(dev, m, was);
		return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
	}
	old = dev->mem;
	dev->mem = *new;
	free(new);
	vu_mem_clear(&old);
	return restart(dev, m, was);
}

static int h_add_mem_reg(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_region_desc *d = &m->p.mem_reg.region;
	const char *why = "";
	int ret;

	ret = vu_mem_add(&dev->mem, d, take_fd(m, 0), &why);
	if (ret)
		return FAIL(dev, m, ret, "%s", why);
	ret = dev->ops->add_region(dev->dp, &dev->mem.r[dev->mem.nregions - 1]);
	if (ret) {
		vu_mem_remove(&dev->mem, d);
		return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
	}
	return 0;
}

static bool ring_in_region(const struct vu_queue *q, const struct vu_region *r)
{
	uint64_t a[3] = { q->addr.desc, q->addr.avail, q->addr.used };

	for (int i = 0; i < 3; i++)
		if (a[i] >= r->uaddr && a[i] - r->uaddr < r->size)
			return true;
	return false;
}

static int h_rem_mem_reg(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_region_desc *d = &m->p.mem_reg.region;
	struct vu_region *r = vu_mem_find(&dev->mem, d);
	int ret;

	if (!r)
		return FAIL(dev, m, -ENOENT, "no region at gpa 0x%" PRIx64 " size 0x%" PRIx64,
			    d->gpa, d->size);
	for (uint32_t i = 0; i < dev->cfg->queues; i++)
		if (dev->q[i].running && ring_in_region(&dev->q[i], r))
			return FAIL(dev, m, -EBUSY, "queue %u's rings are in the region", i);
	ret = dev->ops->remove_region(dev->dp, r);
	if (ret)
		return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
	vu_mem_remove(&dev->mem, d);
	return 0;
}

static int h_set_vring_num(struct vu_dev *dev, struct vu_msg *m)
{
	int i = queue_index(dev, m, m->p.state.index);
	uint32_t num = m->p.state.num;

	if (i < 0)
		return i;
	if (!num || (num & (num - 1)) || num > dev->cfg->queue_size)
		return FAIL(dev, m, -EINVAL, "ring size %u (a power of 2 up to %u)",
			    num, dev->cfg->queue_size);
	if (dev->q[i].running)
		return FAIL(dev, m, -EBUSY, "queue %d is running", i);
	dev->q[i].num = num;
	dev->q[i].have_num = true;
	return 0;
}

static int h_set_vring_addr(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_vring_addr *a = &m->p.addr;
	int i = queue_index(dev, m, a->index);
	struct vu_queue *q;
	uint32_t num;

	if (i < 0)
		return i;
	q = &dev->q[i];
	if (a->flags & VU_VRING_F_LOG)
		return FAIL(dev, m, -EINVAL, "dirty logging was not negotiated");
	if (a->flags)
		return FAIL(dev, m, -EINVAL, "unknown flags 0x%x", a->flags);
	if (!q->have_num)
		return FAIL(dev, m, -EINVAL, "queue %d has no size yet", i);
	if ((a->desc & 15) || (a->avail & 1) || (a->used & 3))
		return FAIL(dev, m, -EINVAL, "misaligned ring address");
	num = q->num;
	if (!vu_mem_uva_to_hva(&dev->mem, a->desc, desc_bytes(num)) ||
	    !vu_mem_uva_to_hva(&dev->mem, a->avail, avail_bytes(num)) ||
	    !vu_mem_uva_to_hva(&dev->mem, a->used, used_bytes(num)))
		return FAIL(dev, m, -EFAULT, "queue %d ring outside every memory region", i);
	if (q->running) {
		int ret = stop_queue(dev, i);

		if (ret)
			return ret;
	}
	q->addr = *a;
	q->have_addr = true;
	return maybe_start(dev, m, i);
}

static int h_set_vring_base(struct vu_dev *dev, struct vu_msg *m)
{
	int i = queue_index(dev, m, m->p.state.index);

	if (i < 0)
		return i;
	if (m->p.state.num > 0xffff)
		return FAIL(dev, m, -EINVAL, "base %u is not a 16-bit ring index",
			    m->p.state.num);
	if (dev->q[i].running)
		return FAIL(dev, m, -EBUSY, "queue %d is running", i);
	dev->q[i].base = m->p.state.num;
	return 0;
}

static int h_get_vring_base(struct vu_dev *dev, struct vu_msg *m)
{
	int i = queue_index(dev, m, m->p.state.index);
	struct vu_vring_state st;
	struct vu_queue *q;

	if (i < 0)
		return i;
	q = &dev->q[i];
	/* The ring stops here; in-flight requests finish before the reply. */
	stop_queue(dev, i);
	q->kick_set = false;
	close_fd(&q->kick_fd);
	st.index = i;
	st.num = q->base;
	return send_reply(dev, m, &st, sizeof(st), -1);
}

/* The u64 of SET_VRING_KICK/CALL/ERR: index, NOFD, and the fd it implies. */
static int vring_fd_msg(struct vu_dev *dev, struct vu_msg *m, int *fd)
{
	uint64_t v = m->p.u64;
	bool nofd = v & VU_VRING_NOFD;
	int i;

	*fd = -1;
	if (v & ~(VU_VRING_IDX_MASK | VU_VRING_NOFD))
		return FAIL(dev, m, -EINVAL, "unknown bits in 0x%" PRIx64, v);
	if (m->nfds != (nofd ? 0 : 1))
		return FAIL(dev, m, -EINVAL, "%d fds with the no-fd flag %s", m->nfds,
			    nofd ? "set" : "clear");
	i = queue_index(dev, m, v & VU_VRING_IDX_MASK);
	if (i < 0)
		return i;
	if (!nofd)
		*fd = take_fd(m, 0);
	return i;
}

static int h_set_vring_kick(struct vu_dev *dev, struct vu_msg *m)
{
	int fd, i = vring_fd_msg(dev, m, &fd);
	struct vu_queue *q;
	int ret;

	if (i < 0)
		return i;
	q = &dev->q[i];
	if (q->running) {
		ret = stop_queue(dev, i);
		if (ret) {
			close_fd(&fd);
			return ret;
		}
	}
	close_fd(&q->kick_fd);
	q->kick_fd = fd;
	q->kick_set = true;
	/* Without protocol features a kick fd also enables the ring. */
	if (!protocol_features_on(dev))
		q->enabled = true;
	return maybe_start(dev, m, i);
}

/* SET_VRING_CALL/ERR: hand the fd to a running ring, then keep it. */
static int set_vring_notify_fd(struct vu_dev *dev, struct vu_msg *m, bool call)
{
	int fd, *slot, i = vring_fd_msg(dev, m, &fd);
	struct vu_queue *q;

	if (i < 0)
		return i;
	q = &dev->q[i];
	slot = call ? &q->call_fd : &q->err_fd;
	if (q->running) {
		int ret = call ? dev->ops->set_call(dev->dp, i, fd) :
				 dev->ops->set_err(dev->dp, i, fd);

		if (ret) {
			close_fd(&fd);
			return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
		}
	}
	close_fd(slot);
	*slot = fd;
	return 0;
}

static int h_set_vring_call(struct vu_dev *dev, struct vu_msg *m)
{
	return set_vring_notify_fd(dev, m, true);
}

static int h_set_vring_err(struct vu_dev *dev, struct vu_msg *m)
{
	return set_vring_notify_fd(dev, m, false);
}

static int h_set_vring_enable(struct vu_dev *dev, struct vu_msg *m)
{
	int i = queue_index(dev, m, m->p.state.index);
	struct vu_queue *q;

	if (i < 0)
		return i;
	if (!protocol_features_on(dev))
		return FAIL(dev, m, -EINVAL, "protocol features were not negotiated");
	if (m->p.state.num > 1)
		return FAIL(dev, m, -EINVAL, "enable value %u", m->p.state.num);
	q = &dev->q[i];
	q->enabled = m->p.state.num;
	if (!q->enabled)
		return stop_queue(dev, i);
	return maybe_start(dev, m, i);
}

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
	return send_reply(dev, m, c, VU_CONFIG_HDR_SIZE + c->size, -1);
}

static int h_set_config(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_config_msg *c = &m->p.config;
	int ret = config_check(dev, m);
	bool write_cache;

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
	write_cache = c->data[0];
	ret = dev->ops->set_write_cache(dev->dp, write_cache);
	if (ret)
		return FAIL(dev, m, ret, "datapath: %s", strerror(-ret));
	dev->write_cache = write_cache;
	return 0;
}

static int h_set_backend_req_fd(struct vu_dev *dev, struct vu_msg *m)
{
	close_fd(&dev->backend_req_fd);
	dev->backend_req_fd = take_fd(m, 0);
	return 0;
}

static int h_get_status(struct vu_dev *dev, struct vu_msg *m)
{
	return reply_u64(dev, m, dev->status);
}

static int h_set_status(struct vu_dev *dev, struct vu_msg *m)
{
	if (m->p.u64 > 0xff)
		return FAIL(dev, m, -EINVAL, "status 0x%" PRIx64, m->p.u64);
	dev->status = m->p.u64;
	return 0;
}

static void inflight_release(struct vu_inflight *inf)
{
	if (inf->addr)
		munmap(inf->addr, inf->size);
	close_fd(&inf->fd);
	memset(inf, 0, sizeof(*inf));
	inf->fd = -1;
}

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
	ret = send_reply(dev, m, in, sizeof(*in), fd);
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
	int fd, ret = inflight_check(dev, m);

	if (ret)
		return ret;
	need = vu_inflight_queue_size(in->queue_size) * in->num_queues;
	fd = take_fd(m, 0);
	if (in->mmap_size < need || in->mmap_offset & 4095 ||
	    in->mmap_offset > UINT64_MAX - in->mmap_size) {
		close(fd);
		return FAIL(dev, m, -EINVAL, "inflight area of %" PRIu64 " bytes at %" PRIu64
			    " (needs %" PRIu64 ")", in->mmap_size, in->mmap_offset, need);
	}
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < in->mmap_offset + in->mmap_size) {
		close(fd);
		return FAIL(dev, m, -EINVAL, "inflight fd smaller than the area");
	}
	addr = mmap(NULL, in->mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		    in->mmap_offset);
	if (addr == MAP_FAILED) {
		ret = -errno;
		close(fd);
		return FAIL(dev, m, ret, "mmap: %s", strerror(-ret));
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
		.name = "SET_LOG_BASE", .need_pf = BIT(VU_PF_LOG_SHMFD),
	},
	[VU_REQ_SET_LOG_FD] = {
		.name = "SET_LOG_FD", .need_pf = BIT(VU_PF_LOG_SHMFD),
	},
	[VU_REQ_SET_VRING_NUM] = {
		.name = "SET_VRING_NUM", .handle = h_set_vring_num,
		.size = sizeof(struct vu_vring_state),
	},
	[VU_REQ_SET_VRING_ADDR] = {
		.name = "SET_VRING_ADDR", .handle = h_set_vring_addr,
		.size = sizeof(struct vu_vring_addr),
	},
	[VU_REQ_SET_VRING_BASE] = {
		.name = "SET_VRING_BASE", .handle = h_set_vring_base,
		.size = sizeof(struct vu_vring_state),
	},
	[VU_REQ_GET_VRING_BASE] = {
		.name = "GET_VRING_BASE", .handle = h_get_vring_base,
		.size = sizeof(struct vu_vring_state), .has_reply = true,
	},
	[VU_REQ_SET_VRING_KICK] = {
		.name = "SET_VRING_KICK", .handle = h_set_vring_kick,
		.size = sizeof(uint64_t), .fd_kind = FD_BY_PAYLOAD,
	},
	[VU_REQ_SET_VRING_CALL] = {
		.name = "SET_VRING_CALL", .handle = h_set_vring_call,
		.size = sizeof(uint64_t), .fd_kind = FD_BY_PAYLOAD,
	},
	[VU_REQ_SET_VRING_ERR] = {
		.name = "SET_VRING_ERR", .handle = h_set_vring_err,
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
		.name = "SET_VRING_ENABLE", .handle = h_set_vring_enable,
		.size = sizeof(struct vu_vring_state),
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
	[VU_REQ_GET_CONFIG] = {
		.name = "GET_CONFIG", .handle = h_get_config,
		.size_kind = SZ_CONFIG, .has_reply = true,
		.need_pf = BIT(VU_PF_CONFIG),
	},
	[VU_REQ_SET_CONFIG] = {
		.name = "SET_CONFIG", .handle = h_set_config,
		.size_kind = SZ_CONFIG, .need_pf = BIT(VU_PF_CONFIG),
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

const char *vu_request_name(uint32_t req)
{
	static __thread char buf[32];

	if (req < VU_REQ_MAX && requests[req].name)
		return requests[req].name;
	snprintf(buf, sizeof(buf), "request %u", req);
	return buf;
}

/* ---- intake ---------------------------------------------------------- */

static void close_msg_fds(struct vu_msg *m)
{
	for (int i = 0; i < m->nfds; i++)
		close_fd(&m->fds[i]);
	m->nfds = 0;
}

static ssize_t read_full(int fd, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(fd, (char *)buf + done, len - done, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -ECONNRESET;
		done += n;
	}
	return done;
}

/*
 * Step 1: the header and its fds. Returns 0, -ECONNRESET on hang-up,
 * -EMSGSIZE when fds were truncated (the fds received are kept so the
 * cleanup path closes them; the header is still valid), or -errno.
 */
static int recv_header(int sock, struct vu_msg *m)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * VU_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = &m->hdr, .iov_len = sizeof(m->hdr) };
	struct msghdr mh = {
		.msg_iov = &iov,
		.msg_iovlen = 1,
		.msg_control = u.buf,
		.msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int ret = 0;

	m->nfds = 0;
	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;

	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int cnt;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (int i = 0; i < cnt; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (m->nfds < VU_MAX_FDS)
				m->fds[m->nfds++] = fd;
			else
				close(fd);
		}
	}
	if (mh.msg_flags & MSG_CTRUNC)
		ret = -EMSGSIZE;

	if ((size_t)n < sizeof(m->hdr)) {
		ssize_t r = read_full(sock, (char *)&m->hdr + n, sizeof(m->hdr) - n);

		if (r < 0)
			return r;
	}
	return ret;
}

/*
 * Step 2: is this a request we take, in this size, with these fds?
 * Returns 0 or a negative errno (logged).
 */
static int validate(struct vu_dev *dev, const struct vu_msg *m,
		    const struct vu_req_desc *d)
{
	uint32_t size = m->hdr.size;

	if (!d || !d->name)
		return FAIL(dev, m, -EOPNOTSUPP, "unknown request");
	if (d->need_pf & ~dev->acked_protocol_features)
		return FAIL(dev, m, -EOPNOTSUPP, "its protocol feature was not negotiated");
	if (!d->handle)
		return FAIL(dev, m, -EOPNOTSUPP, "not supported");

	switch (d->size_kind) {
	case SZ_EXACT:
		if (size != d->size)
			return FAIL(dev, m, -EINVAL, "payload of %u bytes, expected %u",
				    size, d->size);
		break;
	case SZ_MEM_TABLE:
		if (size < VU_MEM_TABLE_HDR_SIZE + sizeof(struct vu_region_desc) ||
		    size > sizeof(struct vu_mem_table_msg) ||
		    (size - VU_MEM_TABLE_HDR_SIZE) % sizeof(struct vu_region_desc))
			return FAIL(dev, m, -EINVAL, "payload of %u bytes", size);
		break;
	case SZ_CONFIG:
		if (size < VU_CONFIG_HDR_SIZE ||
		    size > VU_CONFIG_HDR_SIZE + VU_MAX_CONFIG_SIZE)
			return FAIL(dev, m, -EINVAL, "payload of %u bytes", size);
		break;
	}

	switch (d->fd_kind) {
	case FD_EXACT:
		if (m->nfds != d->fds)
			return FAIL(dev, m, -EINVAL, "%d fds attached, expected %u",
				    m->nfds, d->fds);
		break;
	case FD_UP_TO:
		if (m->nfds > d->fds)
			return FAIL(dev, m, -EINVAL, "%d fds attached, at most %u",
				    m->nfds, d->fds);
		break;
	case FD_BY_PAYLOAD:
		break;
	}
	return 0;
}

int vu_dev_handle(struct vu_dev *dev)
{
	const struct vu_req_desc *d = NULL;
	struct vu_msg *m;
	int ret, vret;
	bool ack;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;

	/* Step 1. */
	ret = recv_header(dev->conn_fd, m);
	if (ret == -ECONNRESET || (ret < 0 && ret != -EMSGSIZE))
		goto out;

	/* A header we cannot trust leaves the stream unusable. */
	if ((m->hdr.flags & VU_FLAG_VERSION_MASK) != VU_VERSION ||
	    (m->hdr.flags & ~VU_FLAG_KNOWN) || (m->hdr.flags & VU_FLAG_REPLY)) {
		vlog("%s: bad header flags 0x%x on %s", dev->name, m->hdr.flags,
		     vu_request_name(m->hdr.request));
		ret = -EPROTO;
		goto out;
	}
	if (m->hdr.size > VU_MAX_PAYLOAD) {
		vlog("%s: %s payload of %u bytes is too large", dev->name,
		     vu_request_name(m->hdr.request), m->hdr.size);
		ret = -EPROTO;
		goto out;
	}

	/* Step 2. */
	if (m->hdr.request < VU_REQ_MAX)
		d = &requests[m->hdr.request];
	if (ret == -EMSGSIZE)
		vret = FAIL(dev, m, -EINVAL, "more than %d fds attached", VU_MAX_FDS);
	else
		vret = validate(dev, m, d);

	/* Step 3: the payload, read even for a refused request. */
	if (m->hdr.size) {
		ssize_t r = read_full(dev->conn_fd, &m->p, m->hdr.size);

		if (r < 0) {
			ret = (int)r;
			goto out;
		}
	}
	/* Decided before the handler: RESET_OWNER forgets REPLY_ACK. */
	ack = (m->hdr.flags & VU_FLAG_NEED_REPLY) && reply_ack_on(dev);
	ret = vret ? vret : d->handle(dev, m);
	if (ret) {
		/* Connection-level failures (a reply could not be sent). */
		if (ret == -EIO)
			goto out;
		if (d && d->name && d->has_reply) {
			/* The frontend waits for a reply we cannot give. */
			ret = -EPROTO;
			goto out;
		}
		if (!ack) {
			vlog("%s: no way to report the failure; closing the connection",
			     dev->name);
			ret = -EPROTO;
			goto out;
		}
		ret = reply_u64(dev, m, 1);
		goto out;
	}
	if (ack && !d->has_reply)
		ret = reply_u64(dev, m, 0);
out:
	close_msg_fds(m);
	free(m);
	return ret;
}

/* ---- connection lifecycle -------------------------------------------- */

/* Everything a frontend set up: queues, memory, inflight, fds. */
static void release_session(struct vu_dev *dev)
{
	for (uint32_t i = 0; i < dev->cfg->queues; i++) {
		stop_queue(dev, i);
		queue_reset(&dev->q[i]);
	}
	if (dev->owner)
		dev->ops->detach(dev->dp);
	vu_mem_clear(&dev->mem);
	inflight_release(&dev->inflight);
	close_fd(&dev->backend_req_fd);
	dev->owner = false;
	dev->acked_features = 0;
	dev->acked_protocol_features = 0;
	dev->status = 0;
}

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
	dev->backend_req_fd = -1;
	dev->inflight.fd = -1;
	for (uint32_t i = 0; i < VHU_MAX_QUEUES; i++)
		dev->q[i].kick_fd = dev->q[i].call_fd = dev->q[i].err_fd = -1;
	dev->features = ops->device_features(dp) | BIT(VU_F_PROTOCOL_FEATURES);
	dev->protocol_features = VU_PROTOCOL_FEATURES;
	dev->write_cache = true;
}

void vu_dev_connect(struct vu_dev *dev, int fd)
{
	dev->conn_fd = fd;
}

void vu_dev_disconnect(struct vu_dev *dev)
{
	release_session(dev);
	close_fd(&dev->conn_fd);
}
