// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer harness for vhuctl's vhost-user intake: the daemon's own
 * message intake (vu_dev_handle()) and every request handler, on the
 * userspace datapath over a small temporary backing file.
 *
 * An input is a sequence of records, each one message a hostile frontend
 * sends over a socketpair with fds attached (SCM_RIGHTS), or one thing its
 * guest does. After each message the harness runs vu_dev_handle() in
 * this process until the daemon's end has nothing left to read, reads
 * (and closes) whatever the daemon answered, and on a closed connection
 * does what the daemon does (vu_dev_disconnect()) and connects again on
 * a fresh socketpair, so one input can span several frontends. The
 * daemon's end is non-blocking: a message cut short reads as a frontend
 * that stalled until the daemon's receive timeout (EAGAIN).
 *
 * A record (all little-endian):
 *
 *   u8  request            the header's request (any value)
 *   u8  ctl                CTL_* below
 *   u16 len                payload bytes (fewer if the input ends)
 *   u8  nfds               fds to attach (at most MAX_SEND_FDS)
 *   u8  fd[nfds]           each: kind in bits 0-2 (FD_*), argument above
 *   u8  payload[len]
 *
 * Every input starts from a fresh datapath and device and must leave no
 * fd, mapping, thread or allocation behind: the harness checks the first
 * two itself (abort()), libFuzzer's leak detection the last.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "datapath.h"
#include "vu_fuzz.h"
#include "vu_server.h"

/* Harness-side copies of what an input made, closed when it ends. */
#define MAX_HELD	512
/* Connections one input may open (each closed one is replaced). */
#define MAX_CONNS	16

static struct {
	struct vu_export_cfg cfg;
	struct vu_dp *dp;
	bool log;
	FILE *err;			/* the harness's own messages */
} g;

struct run {
	struct vu_dev dev;
	int front;			/* the frontend's end, -1 when none */
	int conns;
	int held[MAX_HELD];		/* our copies of fds we sent */
	int nheld;
	int last_memfd;			/* for FD_DUP and guest writes */
	int last_eventfd;		/* for kicks */
};

/*
 * ---- mappings: the daemon's code is built with mmap and munmap renamed
 * to these (the Makefile's FUZZ_MAP) ----
 */
void *vu_fuzz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off);
int vu_fuzz_munmap(void *addr, size_t len);
static long live_maps;

void *vu_fuzz_mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off)
{
	void *p = mmap(addr, len, prot, flags, fd, off);

	if (p != MAP_FAILED)
		__atomic_fetch_add(&live_maps, 1, __ATOMIC_RELAXED);
	return p;
}

int vu_fuzz_munmap(void *addr, size_t len)
{
	int ret = munmap(addr, len);

	if (!ret)
		__atomic_fetch_sub(&live_maps, 1, __ATOMIC_RELAXED);
	return ret;
}

/* ---- fds -------------------------------------------------------------- */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	if (!d)
		abort();
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n - 1;	/* the directory's own fd */
}

static void hold(struct run *r, int fd)
{
	if (fd < 0)
		return;
	if (r->nheld == MAX_HELD) {
		close(fd);
		return;
	}
	r->held[r->nheld++] = fd;
}

static int memfd(uint64_t size)
{
	int fd = memfd_create("vu-fuzz", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * The fd one spec byte asks for, in *out (the caller sends, then closes
 * it); anything the harness keeps goes to r->held. -1 if it cannot be
 * made (the message goes without it).
 */
static int make_fd(struct run *r, uint8_t spec)
{
	unsigned int arg = spec >> 3;
	int fd = -1, p[2];

	switch (spec & 7) {
	case FD_MEMFD:
		fd = memfd((uint64_t)arg * FUZZ_MEM_UNIT);
		if (fd >= 0) {
			r->last_memfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			hold(r, r->last_memfd);
		}
		break;
	case FD_EVENTFD:
		fd = eventfd(0, EFD_CLOEXEC | (arg & 1 ? EFD_NONBLOCK : 0));
		if (fd >= 0) {
			r->last_eventfd = fcntl(fd, F_DUPFD_CLOEXEC, 3);
			hold(r, r->last_eventfd);
		}
		break;
	case FD_PIPE_READ:
	case FD_PIPE_WRITE:
		if (pipe2(p, O_CLOEXEC | (arg & 2 ? O_NONBLOCK : 0)) < 0)
			break;
		fd = p[(spec & 7) == FD_PIPE_WRITE];
		/* The other end: kept open, or closed at once (a hang-up). */
		if (arg & 1)
			close(p[(spec & 7) != FD_PIPE_WRITE]);
		else
			hold(r, p[(spec & 7) != FD_PIPE_WRITE]);
		break;
	case FD_DEVNULL:
		fd = open("/dev/null", O_RDWR | O_CLOEXEC);
		break;
	case FD_SOCKET:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
			break;
		fd = p[0];
		hold(r, p[1]);
		break;
	case FD_ODD:
		if (arg & 1) {
			fd = open("/", O_PATH | O_CLOEXEC);
		} else {
			/* A memfd the daemon may only read. */
			int m = memfd((uint64_t)(arg >> 1) * FUZZ_MEM_UNIT);
			char path[64];

			if (m < 0)
				break;
			snprintf(path, sizeof(path), "/proc/self/fd/%d", m);
			fd = open(path, O_RDONLY | O_CLOEXEC);
			close(m);
		}
		break;
	case FD_DUP:
		if (r->last_memfd >= 0)
			fd = fcntl(r->last_memfd, F_DUPFD_CLOEXEC, 3);
		else
			fd = memfd(FUZZ_MEM_DEFAULT);
		break;
	}
	return fd;
}

/* ---- the connection ----------------------------------------------------- */

static void connect_new(struct run *r)
{
	int sv[2];

	if (r->conns++ >= MAX_CONNS ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) {
		r->front = -1;
		return;
	}
	/* A stalled frontend: the daemon's message deadline, at once. */
	fcntl(sv[1], F_SETFL, O_NONBLOCK);
	r->front = sv[0];
	vu_dev_connect(&r->dev, sv[1]);
}

/* Read and drop whatever the daemon sent, closing the fds it attached. */
static void drain_replies(struct run *r)
{
	char buf[8192];

	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int) * 8)];
			struct cmsghdr align;
		} u;
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = {
			.msg_iov = &iov, .msg_iovlen = 1,
			.msg_control = u.b, .msg_controllen = sizeof(u.b),
		};
		ssize_t n = recvmsg(r->front, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (n <= 0)
			return;
		if (g.log && n >= (ssize_t)sizeof(struct vu_hdr)) {
			struct vu_hdr h;

			memcpy(&h, buf, sizeof(h));
			fprintf(g.err, "reply: request %u flags 0x%x size %u%s\n", h.request,
				h.flags, h.size, n >= 20 ? "" : " (or several)");
			if (h.size == 8 && n >= 20) {
				uint64_t v;

				memcpy(&v, buf + sizeof(h), 8);
				fprintf(g.err, "  0x%llx\n", (unsigned long long)v);
			}
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int); i++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				close(fd);
			}
		}
	}
}

/* The daemon's export thread: serve_one() while there is input. */
static void serve(struct run *r, bool hung_up)
{
	while (r->dev.conn_fd >= 0) {
		int avail = 0;
		int ret;

		if (!hung_up && (ioctl(r->dev.conn_fd, FIONREAD, &avail) < 0 || !avail))
			return;
		ret = vu_dev_handle(&r->dev);
		if (r->front >= 0)
			drain_replies(r);
		if (ret) {
			vu_dev_disconnect(&r->dev);
			if (r->front >= 0)
				close(r->front);
			connect_new(r);
			return;
		}
	}
}

static void send_msg(struct run *r, const uint8_t *spec, unsigned int nfds,
		     const struct vu_hdr *hdr, const uint8_t *p, size_t len,
		     bool split)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * MAX_SEND_FDS)];
		struct cmsghdr align;
	} u;
	int fds[MAX_SEND_FDS];
	unsigned int n = 0;
	struct iovec iov[2];
	struct msghdr mh = { .msg_iov = iov };
	size_t total = (hdr ? sizeof(*hdr) : 0) + len;
	size_t first = split && total > 1 ? total / 2 : total;
	uint8_t buf[sizeof(*hdr) + FUZZ_MAX_LEN];

	if (!total || total > sizeof(buf))
		return;
	if (hdr)
		memcpy(buf, hdr, sizeof(*hdr));
	memcpy(buf + (hdr ? sizeof(*hdr) : 0), p, len);

	for (unsigned int i = 0; i < nfds; i++) {
		int fd = make_fd(r, spec[i]);

		if (fd >= 0)
			fds[n++] = fd;
	}
	iov[0].iov_base = buf;
	iov[0].iov_len = first;
	mh.msg_iovlen = 1;
	if (n) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * n);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * n);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
	}
	if (sendmsg(r->front, &mh, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)first &&
	    first < total)
		send(r->front, buf + first, total - first, MSG_NOSIGNAL | MSG_DONTWAIT);
	for (unsigned int i = 0; i < n; i++)
		close(fds[i]);
}

/*
 * The guest: len bytes written at offset into the last memfd sent (the
 * payload's first 4 bytes are the offset), then a kick of the last
 * eventfd sent, as a driver posting a request would.
 */
static void guest(struct run *r, const uint8_t *p, size_t len)
{
	uint32_t off;

	if (len >= 4 && r->last_memfd >= 0) {
		memcpy(&off, p, 4);
		if (pwrite(r->last_memfd, p + 4, len - 4, off % FUZZ_MEM_MAX) < 0)
			return;
	}
	if (r->last_eventfd >= 0)
		eventfd_write(r->last_eventfd, 1);
}

/* ---- one input ----------------------------------------------------------- */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[] = "/tmp/vu-fuzz-backing.XXXXXX";
	char err[256];
	int fd;

	(void)argc;
	(void)argv;
	/* As vu_daemon_run(): a frontend that went away is no signal. */
	signal(SIGPIPE, SIG_IGN);
	/*
	 * The daemon logs every refusal: formatted as always (ASan and UBSan
	 * see its arguments), then dropped unless asked for. libFuzzer and
	 * the sanitizers write to fd 2 themselves.
	 */
	g.err = stderr;
	g.log = getenv("VU_FUZZ_LOG");
	if (!g.log) {
		FILE *null = fopen("/dev/null", "we");

		if (!null) {
			perror("vu-fuzz: /dev/null");
			exit(1);
		}
		stderr = null;
	}
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0 || ftruncate(fd, FUZZ_DISK) < 0) {
		fprintf(g.err, "vu-fuzz: backing file: %s\n", strerror(errno));
		exit(1);
	}
	unlink(path);
	snprintf(g.cfg.socket_path, sizeof(g.cfg.socket_path), "fuzz");
	snprintf(g.cfg.backing, sizeof(g.cfg.backing), "fuzz-backing");
	snprintf(g.cfg.serial, sizeof(g.cfg.serial), "vu-fuzz");
	g.cfg.queues = FUZZ_QUEUES;
	g.cfg.queue_size = FUZZ_QUEUE_SIZE;
	g.cfg.lbs = 512;
	g.cfg.backing_lbs = 512;
	g.cfg.mode = VU_DP_USER;
	g.cfg.backing_fd = fd;
	g.cfg.size = FUZZ_DISK;
	/* The export outlives its frontends, as in the daemon. */
	if (vu_dp_user_ops.open(&g.dp, &g.cfg, err, sizeof(err))) {
		fprintf(g.err, "vu-fuzz: %s\n", err);
		exit(1);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct run r;
	int fds_before = count_fds();
	size_t pos = 0;

	memset(&r, 0, sizeof(r));
	r.last_memfd = r.last_eventfd = -1;
	/*
	 * The datapath as a fresh daemon has it: what a frontend leaves
	 * behind on purpose (the write cache mode) is reset too.
	 */
	vu_dp_user_ops.detach(g.dp);
	vu_dp_user_ops.set_write_cache(g.dp, true);
	vu_dev_init(&r.dev, g.cfg.socket_path, &g.cfg, &vu_dp_user_ops, g.dp);
	/*
	 * A message the input leaves unfinished is all there will be: the
	 * daemon's per-message deadline passes at once instead of after
	 * VU_MSG_TIMEOUT_MS, so one input runs in well under libFuzzer's
	 * timeout.
	 */
	r.dev.msg_timeout_ms = 0;
	connect_new(&r);

	while (r.front >= 0 && size - pos >= REC_HDR) {
		const uint8_t *rec = data + pos;
		uint8_t ctl = rec[1];
		size_t len = rec[2] | rec[3] << 8;
		unsigned int nfds = rec[4];
		const uint8_t *spec = rec + REC_HDR;
		struct vu_hdr hdr;

		pos += REC_HDR;
		if (nfds > MAX_SEND_FDS || nfds > size - pos)
			break;
		pos += nfds;
		if (len > size - pos)
			len = size - pos;
		if (len > FUZZ_MAX_LEN)
			len = FUZZ_MAX_LEN;

		if (ctl & CTL_GUEST) {
			guest(&r, data + pos, len);
		} else {
			hdr.request = rec[0];
			hdr.flags = VU_VERSION | (ctl & CTL_NEED_REPLY ? VU_FLAG_NEED_REPLY : 0) |
				    (ctl & CTL_BAD_FLAGS ? (uint32_t)ctl << 24 | VU_FLAG_REPLY : 0);
			hdr.size = len;
			send_msg(&r, spec, nfds, ctl & CTL_RAW ? NULL : &hdr, data + pos, len,
				 ctl & CTL_SPLIT);
		}
		pos += len;
		if (ctl & CTL_HANGUP) {
			close(r.front);
			r.front = -1;
			serve(&r, true);
		} else {
			serve(&r, false);
		}
	}

	/* The frontend goes away; the export is shut down. */
	vu_dev_disconnect(&r.dev);
	if (r.front >= 0)
		close(r.front);
	vu_dp_user_ops.detach(g.dp);
	for (int i = 0; i < r.nheld; i++)
		close(r.held[i]);

	if (live_maps) {
		fprintf(g.err, "vu-fuzz: %ld mappings left behind\n", live_maps);
		abort();
	}
	if (count_fds() != fds_before) {
		fprintf(g.err, "vu-fuzz: %d fds open, %d before the input\n",
			count_fds(), fds_before);
		abort();
	}
	return 0;
}
