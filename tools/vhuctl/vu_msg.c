// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: taking vhost-user messages in and answering them.
 *
 * A message is taken in three steps:
 *  1. recv_header(): the 12-byte header and any SCM_RIGHTS fds
 *     (MSG_CMSG_CLOEXEC, so no fd can leak into a child);
 *  2. validate(): version and flags, then the exact payload size and the
 *     exact number of fds the request type takes, from the request table
 *     (vu_server.c);
 *  3. the payload, then the request's handler from the same table.
 *
 * The connection is non-blocking and a message has a deadline as a whole
 * (dev->msg_timeout_ms from its first byte, header, payload and fds
 * together), as does a reply: a frontend that trickles a message in or
 * never reads its replies is cut off then, however it paces its bytes,
 * and a stopping daemon (dev->stop_fd) waits for neither.
 *
 * The stream stays in sync whenever the header is sane, so a bad request
 * is answered (REPLY_ACK with need_reply) when it can be. When it cannot
 * (no ack was negotiated or asked for, or the request has its own reply),
 * the request table says what the refusal costs: GET_CONFIG gets the
 * specification's zero-length reply, a refused SET_CONFIG (a guest's
 * config write) changes nothing, a vring request breaks that ring alone
 * (vu_vring.c), and anything else closes the connection. Either way the
 * daemon keeps running. Every fd a message brought is either taken over
 * by a handler (which sets its slot to -1) or closed by the one cleanup
 * path in vu_dev_handle().
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "util.h"
#include "vu_msg.h"

/* ---- waiting for the frontend ----------------------------------------- */

uint64_t vu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void start_deadline(struct vu_dev *dev)
{
	dev->deadline_ms = vu_now_ms() + dev->msg_timeout_ms;
}

/*
 * Wait until the connection is ready for events (POLLIN or POLLOUT): 0,
 * -ETIMEDOUT once the message's deadline has passed, -ESHUTDOWN when the
 * daemon stops, or -errno.
 */
static int wait_conn(struct vu_dev *dev, short events)
{
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = dev->conn_fd, .events = events },
			{ .fd = dev->stop_fd, .events = POLLIN },
		};
		uint64_t now = vu_now_ms();
		int n;

		if (now >= dev->deadline_ms)
			return -ETIMEDOUT;
		n = poll(p, 2, (int)(dev->deadline_ms - now));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (p[1].revents)
			return -ESHUTDOWN;
		/* An error or hang-up shows in the recv or send that follows. */
		if (p[0].revents)
			return 0;
	}
}

/* ---- replies --------------------------------------------------------- */

int vu_send_reply(struct vu_dev *dev, const struct vu_msg *req,
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
	start_deadline(dev);
	for (;;) {
		int ret;

		n = sendmsg(dev->conn_fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN) {
			ret = -errno;
		} else {
			/* The fd went with the first byte sent. */
			if (n > 0) {
				mh.msg_control = NULL;
				mh.msg_controllen = 0;
			}
			while (n > 0 && mh.msg_iovlen) {
				size_t step = (size_t)n < mh.msg_iov->iov_len ?
					      (size_t)n : mh.msg_iov->iov_len;

				mh.msg_iov->iov_base = (char *)mh.msg_iov->iov_base + step;
				mh.msg_iov->iov_len -= step;
				n -= step;
				if (!mh.msg_iov->iov_len) {
					mh.msg_iov++;
					mh.msg_iovlen--;
				}
			}
			if (!mh.msg_iovlen)
				return 0;
			ret = wait_conn(dev, POLLOUT);
			if (!ret)
				continue;
		}
		if (ret == -ESHUTDOWN)
			return ret;
		vlog("%s: cannot send the %s reply: %s", dev->name,
		     vu_request_name(req->hdr.request),
		     ret == -ETIMEDOUT ? "the frontend does not read its replies" :
		     strerror(-ret));
		return -EIO;
	}
}

int vu_reply_u64(struct vu_dev *dev, const struct vu_msg *req, uint64_t v)
{
	return vu_send_reply(dev, req, &v, sizeof(v), -1);
}

static bool reply_ack_on(const struct vu_dev *dev)
{
	return dev->acked_protocol_features & BIT(VU_PF_REPLY_ACK);
}

/* ---- intake ---------------------------------------------------------- */

static void close_msg_fds(struct vu_msg *m)
{
	for (int i = 0; i < m->nfds; i++)
		close_fd(&m->fds[i]);
	m->nfds = 0;
}

/* The rest of the message, by its deadline. */
static ssize_t read_full(struct vu_dev *dev, void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = recv(dev->conn_fd, (char *)buf + done, len - done,
				 MSG_DONTWAIT);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			int ret = wait_conn(dev, POLLIN);

			if (ret)
				return ret;
			continue;
		}
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
 * cleanup path closes them; the header is still valid), -EAGAIN when
 * nothing came after all, or -errno.
 */
static int recv_header(struct vu_dev *dev, struct vu_msg *m)
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
		n = recvmsg(dev->conn_fd, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
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
		ssize_t r = read_full(dev, (char *)&m->hdr + n, sizeof(m->hdr) - n);

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

/*
 * A refused request (logged): acked when the frontend asked for a reply
 * and REPLY_ACK is on, else what the request's refusal kind says. 0 keeps
 * the connection.
 */
static int refuse(struct vu_dev *dev, struct vu_msg *m,
		  const struct vu_req_desc *d, bool ack)
{
	uint8_t kind = d ? d->refusal : REFUSE_CLOSE;

	/* The specification's error reply (GET_CONFIG). */
	if (kind == REFUSE_EMPTY)
		return vu_send_reply(dev, m, NULL, 0, -1);
	/* Else the frontend waits for a reply we cannot give. */
	if (d && d->has_reply &&
	    !(d->reply_needs_pf && (d->need_pf & ~dev->acked_protocol_features)))
		return -EPROTO;
	if (ack)
		return vu_reply_u64(dev, m, 1);
	if (kind == REFUSE_IGNORE)
		return 0;
	if (kind == REFUSE_RING && !vu_vring_refused(dev, m))
		return 0;
	vlog("%s: no way to report the failure; closing the connection", dev->name);
	return -EPROTO;
}

int vu_dev_handle(struct vu_dev *dev)
{
	const struct vu_req_desc *d = NULL;
	struct vu_msg *m;
	int ret, vret;
	bool ack_before, ack;

	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;

	/* Step 1: the message's time starts with its first byte. */
	start_deadline(dev);
	ret = recv_header(dev, m);
	if (ret == -EAGAIN) {
		ret = 0;
		goto out;
	}
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
		d = vu_request(m->hdr.request);
	if (ret == -EMSGSIZE)
		vret = FAIL(dev, m, -EINVAL, "more than %d fds attached", VU_MAX_FDS);
	else
		vret = validate(dev, m, d);

	/* Step 3: the payload, read even for a refused request. */
	if (m->hdr.size) {
		ssize_t r = read_full(dev, &m->p, m->hdr.size);

		if (r < 0) {
			ret = (int)r;
			goto out;
		}
	}
	/*
	 * Acked when REPLY_ACK was on before the request or is after it: a
	 * SET_PROTOCOL_FEATURES that turns it on (or off) is acked too.
	 */
	ack_before = reply_ack_on(dev);
	ret = vret ? vret : d->handle(dev, m);
	ack = (m->hdr.flags & VU_FLAG_NEED_REPLY) && (ack_before || reply_ack_on(dev));
	/* Connection-level failures (a reply could not be sent). */
	if (ret == -EIO || ret == -ESHUTDOWN)
		goto out;
	if (ret)
		ret = refuse(dev, m, d, ack);
	else if (ack && !d->has_reply)
		ret = vu_reply_u64(dev, m, 0);
out:
	close_msg_fds(m);
	free(m);
	return ret;
}
