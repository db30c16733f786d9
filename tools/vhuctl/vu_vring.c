// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the vring requests of the protocol server (SET_VRING_NUM ..
 * SET_VRING_ENABLE, GET_VRING_BASE) and each queue's state.
 *
 * A queue is handed to the datapath, translated into the daemon's address
 * space, once it has a size, ring addresses and a kick fd and is enabled
 * (ring_enabled()); GET_VRING_BASE and disabling stop it, waiting for its
 * requests. Requests that change what a running queue uses (features, the
 * memory holding its rings) stop it and start it again afterwards.
 *
 * A refusal the frontend cannot be told of (it asked for no reply) breaks
 * the ring it concerns instead of the connection: the queue stays stopped,
 * its err eventfd is signalled, and GET_VRING_BASE resets it.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "util.h"
#include "vu_msg.h"

static bool protocol_features_on(const struct vu_dev *dev)
{
	return dev->acked_features & BIT(VU_F_PROTOCOL_FEATURES);
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
	out->desc_hva = vu_mem_uva_to_hva(&dev->mem, q->addr.desc, desc_bytes(q->num));
	out->avail_hva = vu_mem_uva_to_hva(&dev->mem, q->addr.avail, avail_bytes(q->num));
	out->used_hva = vu_mem_uva_to_hva(&dev->mem, q->addr.used, used_bytes(q->num));
	out->kick_fd = q->kick_fd;
	out->call_fd = q->call_fd;
	out->err_fd = q->err_fd;
	out->log_used = q->addr.flags & VU_VRING_F_LOG;
	out->log_used_gpa = out->log_used ? q->addr.log : 0;
	if (!out->desc_hva || !out->avail_hva || !out->used_hva)
		return -EFAULT;
	/*
	 * SET_VRING_ADDR checked the frontend's addresses, but a region need
	 * not start at an aligned one: ours must be aligned too, as the
	 * datapath reads the rings' fields in place.
	 */
	if ((out->desc_hva & 15) || (out->avail_hva & 1) || (out->used_hva & 3))
		return -EFAULT;
	return 0;
}

/*
 * Whether queue i is enabled. Before SET_FEATURES no ring is: the
 * features decide. Then, as the vhost-user specification says, a ring
 * starts enabled when VHOST_USER_F_PROTOCOL_FEATURES was not negotiated
 * and disabled until SET_VRING_ENABLE(1) when it was; the order of
 * SET_VRING_KICK and SET_FEATURES does not matter.
 */
static bool ring_enabled(const struct vu_dev *dev, const struct vu_queue *q)
{
	if (!dev->features_set)
		return false;
	return protocol_features_on(dev) ? q->enabled : true;
}

/* Has the queue all it needs, and may it run? */
static bool ready(const struct vu_dev *dev, const struct vu_queue *q)
{
	return q->kick_set && q->have_num && q->have_addr && ring_enabled(dev, q);
}

/* Hand a queue to the datapath once it has all it needs and may run. */
static int maybe_start(struct vu_dev *dev, struct vu_msg *m, uint32_t i)
{
	struct vu_queue *q = &dev->q[i];
	struct vu_dp_queue dq;
	int ret;

	if (q->running || !ready(dev, q))
		return 0;
	if (q->broken)
		return FAIL(dev, m, -EINVAL, "queue %u is broken until GET_VRING_BASE", i);
	if (translate_queue(dev, i, &dq))
		return FAIL(dev, m, -EFAULT, "queue %u rings are outside guest memory "
			    "or misaligned in it", i);
	ret = dev->ops->start_queue(dev->dp, &dq);
	if (ret)
		return FAIL(dev, m, ret, "datapath cannot start queue %u: %s", i,
			    strerror(-ret));
	q->running = true;
	return 0;
}

int vu_vring_stop(struct vu_dev *dev, uint32_t i)
{
	struct vu_queue *q = &dev->q[i];
	uint32_t base = q->base;
	int ret;

	if (!q->running)
		return 0;
	ret = dev->ops->stop_queue(dev->dp, i, &base);
	if (ret) {
		/* The datapath may still run it: it stays running here. */
		vlog("%s: datapath failed to stop queue %u: %s", dev->name, i,
		     strerror(-ret));
		return ret;
	}
	q->running = false;
	q->base = base;
	return 0;
}

void vu_vring_reset(struct vu_queue *q)
{
	close_fd(&q->kick_fd);
	close_fd(&q->call_fd);
	close_fd(&q->err_fd);
	memset(q, 0, sizeof(*q));
	q->kick_fd = q->call_fd = q->err_fd = -1;
}

int vu_vring_stop_all(struct vu_dev *dev)
{
	int ret = 0;

	for (uint32_t i = 0; i < dev->cfg->queues; i++)
		ret = vu_vring_stop(dev, i) ?: ret;
	return ret;
}

void vu_vring_start_all(struct vu_dev *dev)
{
	for (uint32_t i = 0; i < dev->cfg->queues; i++) {
		struct vu_queue *q = &dev->q[i];
		struct vu_dp_queue dq;
		int ret;

		if (q->running || q->broken || !ready(dev, q))
			continue;
		if (translate_queue(dev, i, &dq)) {
			vlog("%s: queue %u waits for a memory region that holds its rings",
			     dev->name, i);
			continue;
		}
		ret = dev->ops->start_queue(dev->dp, &dq);
		if (ret) {
			char why[80];

			snprintf(why, sizeof(why), "the datapath cannot restart it: %s",
				 strerror(-ret));
			vu_vring_break(dev, i, why);
			continue;
		}
		q->running = true;
	}
}

bool vu_vring_in_region(const struct vu_queue *q, const struct vu_region *r)
{
	uint64_t a[3] = { q->addr.desc, q->addr.avail, q->addr.used };

	for (int i = 0; i < 3; i++)
		if (a[i] >= r->uaddr && a[i] - r->uaddr < r->size)
			return true;
	return false;
}

int vu_vring_break(struct vu_dev *dev, uint32_t i, const char *why)
{
	struct vu_queue *q = &dev->q[i];
	int ret = vu_vring_stop(dev, i);

	if (!q->broken)
		vlog("%s: queue %u is broken (%s); it stays stopped until GET_VRING_BASE",
		     dev->name, i, why);
	q->broken = true;
	vu_signal_fd(q->err_fd);
	return ret;
}

int vu_vring_refused(struct vu_dev *dev, const struct vu_msg *m)
{
	const struct vu_req_desc *d = vu_request(m->hdr.request);
	uint64_t index;

	/* A malformed message names no ring. */
	if (!d || m->hdr.size != d->size)
		return -EPROTO;
	switch (m->hdr.request) {
	case VU_REQ_SET_VRING_ADDR:
		index = m->p.addr.index;
		break;
	case VU_REQ_SET_VRING_KICK:
	case VU_REQ_SET_VRING_CALL:
	case VU_REQ_SET_VRING_ERR:
		index = m->p.u64 & VU_VRING_IDX_MASK;
		break;
	default:
		index = m->p.state.index;
		break;
	}
	if (index >= dev->cfg->queues)
		return -EPROTO;
	return vu_vring_break(dev, index, "a request for it was refused and "
			      "the frontend asked for no reply") ? -EPROTO : 0;
}

/*
 * Stop queue i for the frontend (GET_VRING_BASE, RESET_OWNER): it runs
 * again only with a new kick fd, and it is no longer broken.
 */
static int stop_for_frontend(struct vu_dev *dev, uint32_t i)
{
	struct vu_queue *q = &dev->q[i];
	int ret = vu_vring_stop(dev, i);

	if (ret)
		return ret;
	q->kick_set = false;
	q->broken = false;
	close_fd(&q->kick_fd);
	return 0;
}

int vu_vring_disable_all(struct vu_dev *dev)
{
	int ret = 0;

	for (uint32_t i = 0; i < dev->cfg->queues; i++) {
		ret = stop_for_frontend(dev, i) ?: ret;
		dev->q[i].enabled = false;
	}
	return ret;
}

/* ---- requests -------------------------------------------------------- */

int vu_vring_set_num(struct vu_dev *dev, struct vu_msg *m)
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

static bool same_rings(const struct vu_vring_addr *a, const struct vu_vring_addr *b)
{
	return a->desc == b->desc && a->avail == b->avail && a->used == b->used;
}

/* Does b log the used ring differently from a? */
static bool log_changed(const struct vu_vring_addr *a, const struct vu_vring_addr *b)
{
	bool la = a->flags & VU_VRING_F_LOG, lb = b->flags & VU_VRING_F_LOG;

	return la != lb || (lb && a->log != b->log);
}

/*
 * SET_VRING_ADDR. On a running queue whose rings stay where they are, a
 * change of VHOST_VRING_F_LOG or of the log address alone goes to the
 * datapath without stopping it; anything else stops the queue and
 * starts it again at the new addresses.
 */
int vu_vring_set_addr(struct vu_dev *dev, struct vu_msg *m)
{
	const struct vu_vring_addr *a = &m->p.addr;
	int i = queue_index(dev, m, a->index);
	struct vu_queue *q;
	uint32_t num;

	if (i < 0)
		return i;
	q = &dev->q[i];
	if ((a->flags & VU_VRING_F_LOG) && !(dev->protocol_features & BIT(VU_PF_LOG_SHMFD)))
		return FAIL(dev, m, -EINVAL, "dirty logging is not offered (datapath %s)",
			    dev->ops->name);
	if (a->flags & ~VU_VRING_F_LOG)
		return FAIL(dev, m, -EINVAL, "unknown flags 0x%x", a->flags);
	if (!q->have_num)
		return FAIL(dev, m, -EINVAL, "queue %d has no size yet", i);
	/* Its used ring's pages in the log: page numbers must not wrap. */
	if ((a->flags & VU_VRING_F_LOG) && a->log > UINT64_MAX - used_bytes(q->num))
		return FAIL(dev, m, -EINVAL, "used ring log address 0x%" PRIx64
			    " overflows", a->log);
	if ((a->desc & 15) || (a->avail & 1) || (a->used & 3))
		return FAIL(dev, m, -EINVAL, "misaligned ring address");
	num = q->num;
	if (!vu_mem_uva_to_hva(&dev->mem, a->desc, desc_bytes(num)) ||
	    !vu_mem_uva_to_hva(&dev->mem, a->avail, avail_bytes(num)) ||
	    !vu_mem_uva_to_hva(&dev->mem, a->used, used_bytes(num)))
		return FAIL(dev, m, -EFAULT, "queue %d ring outside every memory region", i);
	if (q->running && same_rings(&q->addr, a) && log_changed(&q->addr, a)) {
		/* Logging of the used ring starts or ends (QEMU, migrating). */
		bool log = a->flags & VU_VRING_F_LOG;
		int ret = dev->ops->set_queue_log(dev->dp, i, log, log ? a->log : 0);

		if (ret)
			return FAIL(dev, m, ret, "datapath: queue %d used ring log: %s", i,
				    strerror(-ret));
		q->addr = *a;
		return 0;
	}
	if (q->running) {
		int ret = vu_vring_stop(dev, i);

		if (ret)
			return ret;
	}
	q->addr = *a;
	q->have_addr = true;
	return maybe_start(dev, m, i);
}

int vu_vring_set_base(struct vu_dev *dev, struct vu_msg *m)
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

int vu_vring_get_base(struct vu_dev *dev, struct vu_msg *m)
{
	int i = queue_index(dev, m, m->p.state.index);
	struct vu_vring_state st;
	struct vu_queue *q;
	int ret;

	if (i < 0)
		return i;
	q = &dev->q[i];
	/* The ring stops here; in-flight requests finish before the reply. */
	ret = stop_for_frontend(dev, i);
	if (ret)
		return FAIL(dev, m, ret, "queue %d did not stop", i);
	st.index = i;
	st.num = q->base;
	return vu_send_reply(dev, m, &st, sizeof(st), -1);
}

/*
 * Is fd an eventfd? Kick, call and err fds must be: a pipe as the call fd
 * blocks the queue thread once it is full, a regular file as the kick fd
 * polls readable for ever. 0, or why not in why.
 */
static int check_eventfd(int fd, char *why, size_t len)
{
	char path[32], link[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	n = readlink(path, link, sizeof(link) - 1);
	if (n < 0) {
		int err = errno;

		snprintf(why, len, "cannot tell what it is (%s: %s)", path,
			 strerror(err));
		return -err;
	}
	link[n] = '\0';
	if (strcmp(link, "anon_inode:[eventfd]")) {
		snprintf(why, len, "it is %s, not an eventfd", link);
		return -EINVAL;
	}
	return 0;
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
	if (!nofd) {
		char why[128];
		int ret = check_eventfd(m->fds[0], why, sizeof(why));

		if (ret)
			return FAIL(dev, m, ret, "queue %d: %s", i, why);
		*fd = vu_take_fd(m, 0);
	}
	return i;
}

int vu_vring_set_kick(struct vu_dev *dev, struct vu_msg *m)
{
	int fd, i = vring_fd_msg(dev, m, &fd);
	struct vu_queue *q;
	int ret;

	if (i < 0)
		return i;
	q = &dev->q[i];
	if (q->running) {
		ret = vu_vring_stop(dev, i);
		if (ret) {
			close_fd(&fd);
			return ret;
		}
	}
	close_fd(&q->kick_fd);
	q->kick_fd = fd;
	q->kick_set = true;
	return maybe_start(dev, m, i);
}

/*
 * SET_VRING_CALL/ERR: hand the fd to a running ring, then keep it.
 *
 * A new call fd is signalled once: a request the ring completed before
 * it was set (a frontend that sends SET_VRING_KICK first, or reconnects)
 * was signalled to no one, and the driver would wait for it forever. A
 * spurious call only makes the driver look at the used ring. A new err
 * fd of a broken ring is signalled too.
 */
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
	if (call || q->broken)
		vu_signal_fd(fd);
	return 0;
}

int vu_vring_set_call(struct vu_dev *dev, struct vu_msg *m)
{
	return set_vring_notify_fd(dev, m, true);
}

int vu_vring_set_err(struct vu_dev *dev, struct vu_msg *m)
{
	return set_vring_notify_fd(dev, m, false);
}

int vu_vring_set_enable(struct vu_dev *dev, struct vu_msg *m)
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
		return vu_vring_stop(dev, i);
	return maybe_start(dev, m, i);
}
