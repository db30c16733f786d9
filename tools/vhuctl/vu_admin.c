// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: operations on a running export for the control socket -- its
 * counters, a new capacity (the backing, the datapath, and the frontend
 * told with VHOST_USER_BACKEND_CONFIG_CHANGE_MSG) and the datapath's
 * events. They run on the export's control thread, the one that serves
 * its frontend, so nothing here races with a vhost-user message.
 *
 * The config change message goes over the backend-request channel the
 * frontend gave with SET_BACKEND_REQ_FD. The frontend answers it (with
 * REPLY_ACK) only after it has read the new config space, and QEMU reads
 * it with a GET_CONFIG on the main channel while its answer waits: the
 * wait for the answer therefore keeps serving the frontend's messages.
 * Nothing on either channel is waited for past the message timeout, and
 * a frontend that does not answer in time loses its backend channel (a
 * late answer could not be told from the next one's).
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vhu.h>

#include "log.h"
#include "util.h"
#include "vu_admin.h"
#include "vu_server.h"

int vu_dev_stats(struct vu_dev *dev, struct vu_queue_stats *out,
		 unsigned int max, char *err, size_t errlen)
{
	unsigned int n = dev->cfg->queues < max ? dev->cfg->queues : max;

	if (errlen)
		err[0] = '\0';
	if (!dev->ops->get_stats) {
		snprintf(err, errlen, "the %s datapath keeps no counters", dev->ops->name);
		return -EOPNOTSUPP;
	}
	return dev->ops->get_stats(dev->dp, out, n, err, errlen);
}

const char *vu_queue_state_name(uint32_t state)
{
	switch (state) {
	case VHU_VRING_STOPPED:
		return "stopped";
	case VHU_VRING_RUNNING:
		return "running";
	case VHU_VRING_ERROR:
		return "error";
	}
	return "unknown";
}

void vu_dev_set_event_cb(struct vu_dev *dev, vu_dev_event_fn *fn, void *ctx)
{
	/* The kernel datapath's events come from vhu.ko's multicast group. */
	if (dev->ops->set_event_cb)
		dev->ops->set_event_cb(dev->dp, fn, ctx);
}

/* ---- resize ------------------------------------------------------------- */

/* The backing's size now, and whether it is a block device. */
static int backing_size(const struct vu_export_cfg *cfg, bool *blkdev,
			uint64_t *size, char *err, size_t errlen)
{
	struct stat st;
	off_t end;

	if (fstat(cfg->backing_fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", cfg->backing, strerror(errno));
		return -errno;
	}
	*blkdev = S_ISBLK(st.st_mode);
	if (S_ISREG(st.st_mode)) {
		*size = st.st_size;
		return 0;
	}
	if (!*blkdev) {
		snprintf(err, errlen, "%s is neither a regular file nor a block device",
			 cfg->backing);
		return -EINVAL;
	}
	/* The I/O is positional on both datapaths: the offset is free. */
	end = lseek(cfg->backing_fd, 0, SEEK_END);
	if (end < 0) {
		snprintf(err, errlen, "%s: cannot read its size: %s", cfg->backing,
			 strerror(errno));
		return -errno;
	}
	*size = end;
	return 0;
}

static int truncate_to(const struct vu_export_cfg *cfg, uint64_t size,
		       char *err, size_t errlen)
{
	if (!ftruncate(cfg->backing_fd, size))
		return 0;
	snprintf(err, errlen, "%s: cannot truncate it to %" PRIu64 " bytes: %s",
		 cfg->backing, size, strerror(errno));
	return -errno;
}

/* Read what is there, so that an answer to an earlier message is not taken for this one's. */
static void drain(int fd)
{
	char buf[256];

	while (recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

/* Poll fd for events until the deadline: 0 when ready, -ETIMEDOUT, -ESHUTDOWN. */
static int wait_fd(struct vu_dev *dev, int fd, short events, uint64_t deadline)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = fd, .events = events },
			{ .fd = dev->stop_fd, .events = POLLIN },
		};
		uint64_t now = vu_now_ms();
		int ret;

		if (now >= deadline)
			return -ETIMEDOUT;
		ret = poll(p, 2, deadline - now);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents)
			return -ESHUTDOWN;
		if (p[0].revents)
			return 0;
	}
}

static int send_msg(struct vu_dev *dev, int fd, const struct vu_hdr *h,
		    uint64_t deadline)
{
	const char *p = (const char *)h;
	size_t done = 0;

	while (done < sizeof(*h)) {
		ssize_t n = send(fd, p + done, sizeof(*h) - done,
				 MSG_DONTWAIT | MSG_NOSIGNAL);
		int ret;

		if (n > 0) {
			done += n;
			continue;
		}
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return errno == EPIPE ? -ECONNRESET : -errno;
		ret = wait_fd(dev, fd, POLLOUT, deadline);
		if (ret)
			return ret;
	}
	return 0;
}

/*
 * Wait for the answer on the backend channel, serving the frontend's
 * messages meanwhile. 0 for a success, -EREMOTEIO for a failure it
 * answered; else the channel or the connection is broken: -ETIMEDOUT,
 * -ECONNRESET (channel closed), -EPROTO (not an answer), -ESHUTDOWN,
 * -ENOTCONN (the connection failed; shut down for its thread to drop).
 */
static int wait_ack(struct vu_dev *dev, int fd, uint64_t deadline)
{
	struct {
		struct vu_hdr h;
		uint64_t v;
	} __attribute__((packed)) ack;
	size_t got = 0;

	while (got < sizeof(ack)) {
		struct pollfd p[3] = {
			{ .fd = fd, .events = POLLIN },
			{ .fd = dev->stop_fd, .events = POLLIN },
			{ .fd = dev->conn_fd, .events = POLLIN },
		};
		uint64_t now = vu_now_ms();
		ssize_t n;
		int ret;

		if (now >= deadline)
			return -ETIMEDOUT;
		ret = poll(p, 3, deadline - now);
		if (ret < 0 && errno != EINTR)
			return -errno;
		if (ret <= 0)
			continue;
		if (p[1].revents)
			return -ESHUTDOWN;
		if (p[2].revents) {
			ret = vu_dev_handle(dev);
			if (ret) {
				vlog("%s: the frontend's connection failed while its answer "
				     "to a config change was awaited: %s", dev->name,
				     strerror(-ret));
				shutdown(dev->conn_fd, SHUT_RDWR);
				return -ENOTCONN;
			}
			if (dev->backend_req_fd != fd)
				return -ECONNRESET;	/* it gave another channel */
			continue;
		}
		n = recv(fd, (char *)&ack + got, sizeof(ack) - got, MSG_DONTWAIT);
		if (n == 0)
			return -ECONNRESET;
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n > 0)
			got += n;
		if (got >= sizeof(ack.h) &&
		    (ack.h.request != VU_BACKEND_CONFIG_CHANGE_MSG ||
		     (ack.h.flags & ~VU_FLAG_NEED_REPLY) != (VU_VERSION | VU_FLAG_REPLY) ||
		     ack.h.size != sizeof(ack.v)))
			return -EPROTO;
	}
	return ack.v ? -EREMOTEIO : 0;
}

/*
 * Tell a connected frontend that the config space changed, if it can be
 * told. The capacity has changed whatever happens here: a failure is a
 * warning in err, and a broken channel is closed.
 */
static void notify_config(struct vu_dev *dev, char *err, size_t errlen)
{
	const uint64_t need = BIT(VU_PF_BACKEND_REQ) | BIT(VU_PF_CONFIG);
	bool reply = dev->acked_protocol_features & BIT(VU_PF_REPLY_ACK);
	struct vu_hdr h = {
		.request = VU_BACKEND_CONFIG_CHANGE_MSG,
		.flags = VU_VERSION | (reply ? VU_FLAG_NEED_REPLY : 0),
	};
	uint64_t deadline = vu_now_ms() + dev->msg_timeout_ms;
	int fd = dev->backend_req_fd;
	int ret;

	if (dev->conn_fd < 0)
		return;
	if ((dev->acked_protocol_features & need) != need || fd < 0) {
		snprintf(err, errlen, "the frontend was not told: it did not negotiate "
			 "BACKEND_REQ and CONFIG, or gave no backend channel");
		return;
	}
	drain(fd);
	ret = send_msg(dev, fd, &h, deadline);
	if (!ret && reply)
		ret = wait_ack(dev, fd, deadline);
	switch (ret) {
	case 0:
		return;
	case -EREMOTEIO:
		snprintf(err, errlen, "the frontend answered the config change "
			 "message with a failure");
		break;
	case -ETIMEDOUT:
		snprintf(err, errlen, "the frontend did not take or answer the config "
			 "change message within %u ms; its backend channel is closed",
			 dev->msg_timeout_ms);
		break;
	case -ESHUTDOWN:
		snprintf(err, errlen, "the daemon stops: the frontend was not told");
		return;
	case -ENOTCONN:
		snprintf(err, errlen, "the frontend's connection failed before it "
			 "answered the config change message");
		return;
	case -EPROTO:
		snprintf(err, errlen, "the frontend sent something else than an answer "
			 "on its backend channel, which is closed");
		break;
	default:
		snprintf(err, errlen, "the config change message could not be sent: %s",
			 strerror(-ret));
		break;
	}
	vlog("%s: resize: %s", dev->name, err);
	/* An answer that comes later could not be told from the next one's. */
	if (ret != -EREMOTEIO && dev->backend_req_fd == fd)
		close_fd(&dev->backend_req_fd);
}

int vu_dev_resize(struct vu_dev *dev, uint64_t size, uint64_t *new_size,
		  char *err, size_t errlen)
{
	/*
	 * The export's configuration belongs to its control thread, which
	 * this is; the server only reads it, hence the const in vu_dev.
	 */
	struct vu_export_cfg *cfg = (struct vu_export_cfg *)dev->cfg;
	uint64_t old = cfg->size, cur = 0, want;
	bool blkdev;
	int ret;

	if (errlen)
		err[0] = '\0';
	if (!dev->ops->set_capacity) {
		snprintf(err, errlen, "the %s datapath cannot change its capacity",
			 dev->ops->name);
		return -EOPNOTSUPP;
	}
	ret = backing_size(cfg, &blkdev, &cur, err, errlen);
	if (ret)
		return ret;
	want = size ? size : cur;
	if (size && blkdev) {
		snprintf(err, errlen, "%s is a block device: its size cannot be set, "
			 "only read again (a resize without a size)", cfg->backing);
		return -EINVAL;
	}
	if (size && cfg->readonly) {
		snprintf(err, errlen, "the export is read-only: its backing %s is not "
			 "truncated (a resize without a size reads its size again)",
			 cfg->backing);
		return -EROFS;
	}
	if (!want || want % cfg->lbs || want > INT64_MAX) {
		snprintf(err, errlen, "%s%" PRIu64 " bytes is not a nonzero multiple of the "
			 "export's %u-byte logical block size", size ? "" : "the backing's size, ",
			 want, cfg->lbs);
		return -EINVAL;
	}
	if (want == old && want == cur) {
		*new_size = old;
		return 0;
	}

	/*
	 * The backing holds every sector of the capacity at every moment: a
	 * file grows before the datapath takes the larger capacity, and
	 * shrinks after it took the smaller one. A step that fails undoes
	 * the one before.
	 */
	if (want > cur) {
		ret = truncate_to(cfg, want, err, errlen);
		if (ret)
			return ret;
	}
	ret = dev->ops->set_capacity(dev->dp, want, err, errlen);
	if (ret) {
		if (want > cur && truncate_to(cfg, cur, err, errlen))
			vlog("%s: resize: %s", dev->name, err);
		return ret;
	}
	if (want < cur) {
		ret = truncate_to(cfg, want, err, errlen);
		if (ret) {
			char e[128];

			if (dev->ops->set_capacity(dev->dp, old, e, sizeof(e)))
				vlog("%s: resize: back to %" PRIu64 " bytes: %s",
				     dev->name, old, e);
			return ret;
		}
	}
	cfg->size = want;
	*new_size = want;
	vlog("%s: resized from %" PRIu64 " to %" PRIu64 " bytes", dev->name, old, want);
	notify_config(dev, err, errlen);
	return 0;
}
