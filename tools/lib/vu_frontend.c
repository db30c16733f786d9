// SPDX-License-Identifier: GPL-2.0
/*
 * A vhost-user frontend (see vu_frontend.h), shared by the host tests and
 * vhu-bench.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "util.h"
#include "vu_frontend.h"

#define TIMEOUT_MS 3000

/* ---- guest memory ---------------------------------------------------- */

int vf_guest_init(struct vf_guest *g)
{
	const struct vu_region_desc r[2] = {
		{ VF_GPA0, VF_REGION_SIZE, VF_UADDR0, 0 },
		{ VF_GPA1, VF_REGION_SIZE, VF_UADDR1, VF_REGION_SIZE },
	};

	return vf_guest_layout(g, r, 2);
}

int vf_guest_layout(struct vf_guest *g, const struct vu_region_desc *r,
		    unsigned int nr)
{
	memset(g, 0, sizeof(*g));
	g->fd = -1;
	if (nr > VF_MAX_REGIONS)
		return -1;
	for (unsigned int i = 0; i < nr; i++) {
		g->r[i] = r[i];
		if (r[i].mmap_offset + r[i].size > g->size)
			g->size = r[i].mmap_offset + r[i].size;
	}
	g->nr = nr;
	g->fd = memfd_create("vf-guest", MFD_CLOEXEC);
	if (g->fd < 0 || ftruncate(g->fd, g->size) < 0)
		return -1;
	g->base = mmap(NULL, g->size, PROT_READ | PROT_WRITE, MAP_SHARED, g->fd, 0);
	if (g->base == MAP_FAILED) {
		g->base = NULL;
		return -1;
	}
	return 0;
}

void vf_guest_fini(struct vf_guest *g)
{
	if (g->base)
		munmap(g->base, g->size);
	close_fd(&g->fd);
	g->base = NULL;
}

void vf_ring_addrs(int q, uint32_t num, struct vu_vring_addr *a)
{
	uint64_t base = VF_UADDR0 + 0x10000ull * (q + 1);

	(void)num;
	memset(a, 0, sizeof(*a));
	a->index = q;
	a->desc = base;
	a->avail = base + 0x8000;
	a->used = base + 0xc000;
}

void *vf_guest_ptr(struct vf_guest *g, uint64_t uaddr)
{
	for (unsigned int i = 0; i < g->nr; i++) {
		const struct vu_region_desc *r = &g->r[i];

		if (uaddr >= r->uaddr && uaddr - r->uaddr < r->size)
			return g->base + r->mmap_offset + (uaddr - r->uaddr);
	}
	return NULL;
}

/* The region holding len bytes at gpa, or NULL. */
static const struct vu_region_desc *gpa_region(const struct vf_guest *g,
					       uint64_t gpa, uint64_t len)
{
	for (unsigned int i = 0; i < g->nr; i++) {
		const struct vu_region_desc *r = &g->r[i];

		if (gpa >= r->gpa && gpa - r->gpa <= r->size &&
		    len <= r->size - (gpa - r->gpa))
			return r;
	}
	return NULL;
}

void *vf_gpa_ptr(struct vf_guest *g, uint64_t gpa, uint64_t len)
{
	const struct vu_region_desc *r = gpa_region(g, gpa, len);

	return r ? g->base + r->mmap_offset + (gpa - r->gpa) : NULL;
}

uint64_t vf_gpa_uaddr(const struct vf_guest *g, uint64_t gpa, uint64_t len)
{
	const struct vu_region_desc *r = gpa_region(g, gpa, len);

	return r ? r->uaddr + (gpa - r->gpa) : 0;
}

void vf_vr(struct vf_guest *g, int q, uint32_t num, bool fresh, struct vr *r)
{
	struct vu_vring_addr a;
	void *desc, *avail, *used;

	vf_ring_addrs(q, num, &a);
	desc = vf_guest_ptr(g, a.desc);
	avail = vf_guest_ptr(g, a.avail);
	used = vf_guest_ptr(g, a.used);
	if (fresh)
		vr_init(r, num, desc, avail, used);
	else
		vr_attach(r, num, desc, avail, used);
}

/* ---- socket ---------------------------------------------------------- */

int vf_connect(struct vf *vf, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	int err = ETIMEDOUT;

	memset(vf, 0, sizeof(*vf));
	vf->backend_fd = -1;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	for (int i = 0; i < 300; i++) {
		vf->sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (vf->sock < 0)
			return -errno;
		if (!connect(vf->sock, (struct sockaddr *)&sa, sizeof(sa)))
			return 0;
		err = errno;
		close(vf->sock);
		vf->sock = -1;
		usleep(10000);
	}
	return -err;
}

void vf_close(struct vf *vf)
{
	close_fd(&vf->sock);
	close_fd(&vf->backend_fd);
}

int vf_backend_recv(struct vf *vf, struct vu_hdr *h, void *p, uint32_t max,
		    int timeout_ms)
{
	struct pollfd pfd = { .fd = vf->backend_fd, .events = POLLIN };
	ssize_t n;
	int r;

	if (vf->backend_fd < 0)
		return -EBADF;
	r = poll(&pfd, 1, timeout_ms);
	if (r < 0)
		return -errno;
	if (!r)
		return -ETIMEDOUT;
	n = recv(vf->backend_fd, h, sizeof(*h), MSG_WAITALL);
	if (n == 0)
		return -ECONNRESET;
	if (n != sizeof(*h))
		return n < 0 ? -errno : -EPROTO;
	if (h->size > max)
		return -EPROTO;
	if (h->size && recv(vf->backend_fd, p, h->size, MSG_WAITALL) != h->size)
		return -EPROTO;
	return 0;
}

int vf_backend_reply(struct vf *vf, const struct vu_hdr *req, uint64_t v)
{
	struct {
		struct vu_hdr h;
		uint64_t v;
	} __attribute__((packed)) r = {
		{ req->request, VU_VERSION | VU_FLAG_REPLY, sizeof(v) }, v
	};

	if (send(vf->backend_fd, &r, sizeof(r), MSG_NOSIGNAL) != sizeof(r))
		return -EIO;
	return 0;
}

int vf_send_raw(struct vf *vf, uint32_t req, uint32_t flags, const void *p,
		uint32_t size, const int *fds, int nfds)
{
	struct vu_hdr h = { .request = req, .flags = flags, .size = size };
	struct iovec iov[2] = {
		{ .iov_base = &h, .iov_len = sizeof(h) },
		{ .iov_base = (void *)p, .iov_len = size },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * VF_MAX_FDS)];
		struct cmsghdr align;
	} u;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = size ? 2 : 1 };
	ssize_t n;

	if (nfds < 0 || nfds > VF_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	n = sendmsg(vf->sock, &mh, MSG_NOSIGNAL);
	if (n < 0)
		return -errno;
	return n == (ssize_t)(sizeof(h) + size) ? 0 : -EIO;
}

int vf_send(struct vf *vf, uint32_t req, bool need_reply, const void *p,
	    uint32_t size, const int *fds, int nfds)
{
	return vf_send_raw(vf, req, VU_VERSION | vf->hdr_flags |
			   (need_reply ? VU_FLAG_NEED_REPLY : 0), p, size, fds, nfds);
}

static int wait_readable(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r = poll(&pfd, 1, TIMEOUT_MS);

	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

int vf_recv(struct vf *vf, struct vu_hdr *h, void *p, uint32_t max, int *fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int) * 8)];
		struct cmsghdr align;
	} u;
	struct iovec iov = { .iov_base = h, .iov_len = sizeof(*h) };
	struct msghdr mh = {
		.msg_iov = &iov, .msg_iovlen = 1,
		.msg_control = u.buf, .msg_controllen = sizeof(u.buf),
	};
	struct cmsghdr *c;
	ssize_t n;
	int ret;

	if (fd)
		*fd = -1;
	ret = wait_readable(vf->sock);
	if (ret)
		return ret;
	n = recvmsg(vf->sock, &mh, MSG_CMSG_CLOEXEC | MSG_WAITALL);
	if (n < 0)
		return -errno;
	if (n == 0)
		return -ECONNRESET;
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		int cnt = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

		for (int i = 0; i < cnt; i++) {
			int f;

			memcpy(&f, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (fd && *fd < 0)
				*fd = f;
			else
				close(f);
		}
	}
	if (n != sizeof(*h) || h->size > max)
		return -EPROTO;
	if (h->size) {
		ret = wait_readable(vf->sock);
		if (ret)
			return ret;
		n = recv(vf->sock, p, h->size, MSG_WAITALL);
		if (n != h->size)
			return n == 0 ? -ECONNRESET : -EPROTO;
	}
	return 0;
}

bool vf_is_closed(struct vf *vf)
{
	char c;

	if (wait_readable(vf->sock))
		return false;
	return recv(vf->sock, &c, 1, MSG_DONTWAIT) == 0;
}

/* A reply must echo the request, carry flags exactly 0x5 and the size. */
int vf_recv_reply(struct vf *vf, uint32_t req, void *p, uint32_t size, int *fd)
{
	struct vu_hdr h;
	int ret = vf_recv(vf, &h, p, size, fd);

	if (ret)
		return ret;
	if (h.request != req || h.flags != (VU_VERSION | VU_FLAG_REPLY) ||
	    h.size != size) {
		if (fd && *fd >= 0)
			close(*fd);
		return -EPROTO;
	}
	return 0;
}

int vf_get_u64(struct vf *vf, uint32_t req, uint64_t *v)
{
	int ret = vf_send(vf, req, false, NULL, 0, NULL, 0);

	return ret ? ret : vf_recv_reply(vf, req, v, sizeof(*v), NULL);
}

/* The REPLY_ACK reply to req: 0, the non-zero ack, or -errno. */
static int recv_ack(struct vf *vf, uint32_t req)
{
	uint64_t ack;
	int ret = vf_recv_reply(vf, req, &ack, sizeof(ack), NULL);

	if (ret)
		return ret;
	return ack ? (int)(ack & 0x7fffffff) | 1 : 0;
}

int vf_req_ack(struct vf *vf, uint32_t req, const void *p, uint32_t size,
	       const int *fds, int nfds)
{
	int ret = vf_send(vf, req, true, p, size, fds, nfds);

	return ret ? ret : recv_ack(vf, req);
}

int vf_u64_ack(struct vf *vf, uint32_t req, uint64_t v)
{
	return vf_req_ack(vf, req, &v, sizeof(v), NULL, 0);
}

int vf_state_ack(struct vf *vf, uint32_t req, uint32_t index, uint32_t num)
{
	struct vu_vring_state s = { index, num };

	return vf_req_ack(vf, req, &s, sizeof(s), NULL, 0);
}

int vf_req_sync(struct vf *vf, uint32_t req, const void *p, uint32_t size,
		const int *fds, int nfds)
{
	uint64_t f;
	int ret = vf_send(vf, req, false, p, size, fds, nfds);

	return ret ? ret : vf_get_u64(vf, VU_REQ_GET_FEATURES, &f);
}

int vf_get_vring_base(struct vf *vf, uint32_t index, uint32_t *base)
{
	struct vu_vring_state s = { index, 0 };
	int ret = vf_send(vf, VU_REQ_GET_VRING_BASE, false, &s, sizeof(s), NULL, 0);

	if (!ret)
		ret = vf_recv_reply(vf, VU_REQ_GET_VRING_BASE, &s, sizeof(s), NULL);
	if (!ret && s.index != index)
		ret = -EPROTO;
	if (!ret)
		*base = s.num;
	return ret;
}

int vf_request(struct vf *vf, uint32_t req, const void *p, uint32_t size,
	       const int *fds, int nfds)
{
	if (vf->pf & BIT(VU_PF_REPLY_ACK))
		return vf_req_ack(vf, req, p, size, fds, nfds);
	return vf_send(vf, req, false, p, size, fds, nfds);
}

int vf_vring_fd(struct vf *vf, uint32_t req, uint32_t q, int fd)
{
	uint64_t v = q;

	return vf_request(vf, req, &v, sizeof(v), &fd, 1);
}

/* Send a fresh eventfd with a vring fd request (KICK/CALL/ERR). */
static int vring_eventfd(struct vf *vf, uint32_t req, uint32_t q)
{
	uint64_t v = q;
	int fd = eventfd(0, EFD_CLOEXEC), ret;

	if (fd < 0)
		return -errno;
	ret = vf_req_ack(vf, req, &v, sizeof(v), &fd, 1);
	close(fd);
	return ret;
}

/* ---- QEMU 7.2 sequences ---------------------------------------------- */

#define WANT_PF (BIT(VU_PF_MQ) | BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_BACKEND_REQ) | \
		 BIT(VU_PF_CONFIG) | BIT(VU_PF_INFLIGHT_SHMFD) |		\
		 BIT(VU_PF_CONFIGURE_MEM_SLOTS) | BIT(VU_PF_STATUS))

int vf_realize(struct vf *vf, unsigned int nq, uint64_t *features)
{
	struct vu_config_msg cfg = { .offset = 0, .size = 57 };
	uint64_t f, pf, qn, slots;
	int sv[2], ret;

	if (vf_get_u64(vf, VU_REQ_GET_FEATURES, &f) || !(f & BIT(30)))
		return -1;
	if (vf_get_u64(vf, VU_REQ_GET_PROTOCOL_FEATURES, &pf) ||
	    (pf & WANT_PF) != WANT_PF)
		return -2;
	/* As QEMU: every protocol feature it knows that is offered. */
	vf->pf = pf & (WANT_PF | BIT(VU_PF_LOG_SHMFD));
	if (vf_send(vf, VU_REQ_SET_PROTOCOL_FEATURES, false, &vf->pf, 8, NULL, 0))
		return -3;
	if (vf_get_u64(vf, VU_REQ_GET_QUEUE_NUM, &qn) || qn < nq)
		return -4;
	if (vf_get_u64(vf, VU_REQ_GET_MAX_MEM_SLOTS, &slots) || slots < 2)
		return -5;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv))
		return -6;
	ret = vf_req_ack(vf, VU_REQ_SET_BACKEND_REQ_FD, NULL, 0, &sv[1], 1);
	close(sv[1]);
	close_fd(&vf->backend_fd);
	vf->backend_fd = sv[0];
	if (ret)
		return -7;
	if (vf_req_ack(vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0))
		return -8;
	if (vf_get_u64(vf, VU_REQ_GET_FEATURES, &f))
		return -9;
	for (unsigned int q = 0; q < nq; q++)
		if (vring_eventfd(vf, VU_REQ_SET_VRING_CALL, q) ||
		    vring_eventfd(vf, VU_REQ_SET_VRING_ERR, q))
			return -10;
	if (vf_send(vf, VU_REQ_GET_CONFIG, false, &cfg, VU_CONFIG_HDR_SIZE + 57,
		    NULL, 0) ||
	    vf_recv_reply(vf, VU_REQ_GET_CONFIG, &cfg, VU_CONFIG_HDR_SIZE + 57, NULL))
		return -11;
	/* What a driver acks: QEMU adds VHOST_F_LOG_ALL only to migrate. */
	if (features)
		*features = f & ~BIT(VU_F_LOG_ALL);
	return 0;
}

int vf_get_config(struct vf *vf, uint32_t off, uint32_t size, void *out)
{
	return vf_config_get(vf, off, size, 0, out);
}

int vf_config_get(struct vf *vf, uint32_t off, uint32_t size, uint32_t flags,
		  void *out)
{
	struct vu_config_msg c = { .offset = off, .size = size, .flags = flags };
	struct vu_hdr h;
	int ret;

	if (size > sizeof(c.data))
		return -EINVAL;
	ret = vf_send(vf, VU_REQ_GET_CONFIG, false, &c, VU_CONFIG_HDR_SIZE + size, NULL, 0);
	if (!ret)
		ret = vf_recv(vf, &h, &c, sizeof(c), NULL);
	if (ret)
		return ret;
	if (h.request != VU_REQ_GET_CONFIG || h.flags != 0x5)
		return -EPROTO;
	if (!h.size || (h.size == VU_CONFIG_HDR_SIZE && !c.size))
		return -EREMOTEIO;
	if (h.size != VU_CONFIG_HDR_SIZE + size || c.offset != off || c.size != size)
		return -EPROTO;
	memcpy(out, c.data, size);
	return 0;
}

int vf_get_inflight(struct vf *vf, unsigned int nq, uint32_t num,
		    struct vu_inflight_msg *inf, int *fd)
{
	int ret;

	*inf = (struct vu_inflight_msg){ .num_queues = nq, .queue_size = num };
	ret = vf_send(vf, VU_REQ_GET_INFLIGHT_FD, false, inf, sizeof(*inf), NULL, 0);
	ret = ret ?: vf_recv_reply(vf, VU_REQ_GET_INFLIGHT_FD, inf, sizeof(*inf), fd);
	if (!ret && *fd < 0)
		ret = -EPROTO;
	return ret;
}

/* ---- the rust-vmm frontends' requests -------------------------------- */

int vf_call(struct vf *vf, uint32_t req, const void *p, uint32_t size,
	    const int *fds, int nfds)
{
	int ret = vf_send(vf, req, false, p, size, fds, nfds);

	if (ret || !(vf->hdr_flags & VU_FLAG_NEED_REPLY) ||
	    !(vf->pf & BIT(VU_PF_REPLY_ACK)))
		return ret;
	return recv_ack(vf, req);
}

int vf_set_mem_table(struct vf *vf, const struct vf_guest *g)
{
	struct {
		uint32_t nregions, padding;
		struct vu_region_desc r[VF_MAX_REGIONS];
	} t = { .nregions = g->nr };
	int fds[VF_MAX_REGIONS];

	for (unsigned int i = 0; i < g->nr; i++) {
		t.r[i] = g->r[i];
		fds[i] = g->fd;
	}
	return vf_call(vf, VU_REQ_SET_MEM_TABLE, &t,
		       VU_MEM_TABLE_HDR_SIZE + g->nr * sizeof(t.r[0]), fds, g->nr);
}

int vf_driver_ok(struct vf *vf, struct vf_guest *g, unsigned int nq,
		 uint32_t num, int *inflight_fd, bool add_regions)
{
	struct vu_inflight_msg inf = { .num_queues = nq, .queue_size = num };
	uint64_t f, st;

	if (vf_get_u64(vf, VU_REQ_GET_FEATURES, &f))
		return -1;
	/* QEMU sets VHOST_F_LOG_ALL only to migrate. */
	f &= ~(BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES) | BIT(VU_F_LOG_ALL));
	if (vf_u64_ack(vf, VU_REQ_SET_FEATURES, f))
		return -2;
	if (vf_u64_ack(vf, VU_REQ_SET_STATUS, 0xb) ||
	    vf_get_u64(vf, VU_REQ_GET_STATUS, &st) || st != 0xb)
		return -3;
	if (*inflight_fd < 0) {
		if (vf_get_inflight(vf, nq, num, &inf, inflight_fd))
			return -4;
	} else {
		/* Reconnect: the same buffer, sized as the backend said. */
		inf.mmap_size = lseek(*inflight_fd, 0, SEEK_END);
	}
	if (vf_req_ack(vf, VU_REQ_SET_INFLIGHT_FD, &inf, sizeof(inf), inflight_fd, 1))
		return -5;
	for (unsigned int q = 0; q < nq; q++)
		if (vring_eventfd(vf, VU_REQ_SET_VRING_CALL, q))
			return -6;
	if (vf_u64_ack(vf, VU_REQ_SET_FEATURES, f))
		return -7;
	for (int i = 0; add_regions && i < 2; i++) {
		struct vu_mem_reg_msg mr = { 0, g->r[i] };

		if (vf_req_ack(vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1))
			return -8;
	}
	for (unsigned int q = 0; q < nq; q++) {
		struct vu_vring_addr a;
		struct vr r;

		/* The ring goes on where the device left it. */
		vf_ring_addrs(q, num, &a);
		vf_vr(g, q, num, false, &r);
		if (vf_state_ack(vf, VU_REQ_SET_VRING_NUM, q, num) ||
		    vf_state_ack(vf, VU_REQ_SET_VRING_BASE, q, vr_used_idx(&r)) ||
		    vf_req_ack(vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) ||
		    vring_eventfd(vf, VU_REQ_SET_VRING_KICK, q))
			return -9;
	}
	for (unsigned int q = 0; q < nq; q++)
		if (vf_state_ack(vf, VU_REQ_SET_VRING_ENABLE, q, 1))
			return -10;
	if (vf_u64_ack(vf, VU_REQ_SET_STATUS, 0xf))
		return -11;
	return 0;
}

int vf_stop(struct vf *vf, unsigned int nq, uint32_t *bases)
{
	if (vf_u64_ack(vf, VU_REQ_SET_STATUS, 0))
		return -1;
	for (unsigned int q = 0; q < nq; q++)
		if (vf_state_ack(vf, VU_REQ_SET_VRING_ENABLE, q, 0))
			return -2;
	for (unsigned int q = 0; q < nq; q++)
		if (vf_get_vring_base(vf, q, &bases[q]))
			return -3;
	return 0;
}
