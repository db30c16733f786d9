// SPDX-License-Identifier: GPL-2.0
/*
 * The control socket's operations on an export (vu_admin.h) on the
 * userspace datapath: its counters after known I/O, ring errors and I/O
 * errors (and their events), and resizing its backing file while a
 * frontend runs -- the capacity requests are checked against, the config
 * space, and VHOST_USER_BACKEND_CONFIG_CHANGE_MSG on the backend channel
 * with and without REPLY_ACK, from a frontend that answers, one that
 * answers with a GET_CONFIG first (as QEMU does) and one that never
 * answers.
 *
 * The export runs in this process: a thread plays the export's control
 * thread (accepting the frontend, serving its messages, and running the
 * operations this thread hands it), so the operations run where the
 * daemon runs them. t_admin_kernel() runs the same on the kernel
 * datapath (root, vhu.ko loaded: the VM), where the counters are the
 * module's and events come from elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <linux/capability.h>
#include <linux/loop.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <linux/virtio_config.h>

#include "t_user.h"
#include "tap.h"
#include "util.h"
#include "vu_admin.h"
#include "vu_server.h"

/* Modules before it let no owner read its counters without CAP_NET_ADMIN. */
#ifndef VHU_API_F_DEV_INFO
#define VHU_API_F_DEV_INFO	0
#endif

#define ADM_SIZE	(1u << 20)
#define ADM_QUEUES	2
#define ADM_TIMEOUT_MS	1000	/* the export's message timeout */

enum adm_op { OP_STATS, OP_STATS_NO_ADMIN, OP_RESIZE, OP_RESIZE_RO };

static struct adm {
	const struct vu_dp_ops *ops;
	bool user;			/* the userspace datapath: it reports events */
	bool resize;			/* the resize tests run */
	uint64_t api;			/* the loaded vhu.ko's VHU_API_F_* */
	int logged_resizes;		/* "resized from 1M to 2M" lines expected */
	int loop_fd;			/* the loop device over img, or -1 */
	char loop_path[32];
	struct tmp_dir dir;
	const char *sock, *img;
	struct vu_export_cfg cfg;
	struct vu_dp *dp;
	struct vu_dev dev;
	int listen_fd, stop_fd, cmd_fd, done_fd;
	int saved_stderr;		/* the export's log goes to log */
	const char *log;
	pthread_t thread;
	/* the operation handed to the thread, and its result */
	enum adm_op op;
	uint64_t size, new_size;
	int ret;
	char err[256];
	struct vu_queue_stats st[ADM_QUEUES];
	unsigned int events[2];		/* by enum vu_dev_event */
} A;

static void on_event(void *ctx, enum vu_dev_event ev, uint32_t queue)
{
	(void)ctx;
	(void)queue;
	__atomic_add_fetch(&A.events[ev], 1, __ATOMIC_RELAXED);
}

static unsigned int events(enum vu_dev_event ev)
{
	return __atomic_load_n(&A.events[ev], __ATOMIC_RELAXED);
}

/* This thread's CAP_NET_ADMIN, in its effective set or not. */
static bool net_admin(bool on)
{
	struct __user_cap_header_struct h = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct c[2];

	if (syscall(SYS_capget, &h, c))
		return false;
	if (on)
		c[0].effective |= 1u << CAP_NET_ADMIN;
	else
		c[0].effective &= ~(1u << CAP_NET_ADMIN);
	return !syscall(SYS_capset, &h, c);
}

static void run_op(void)
{
	switch (A.op) {
	case OP_STATS:
		A.ret = vu_dev_stats(&A.dev, A.st, ADM_QUEUES, A.err, sizeof(A.err));
		break;
	case OP_STATS_NO_ADMIN:
		/* As the daemon once it gave up its privileges. */
		A.ret = -EINVAL;
		snprintf(A.err, sizeof(A.err), "cannot drop CAP_NET_ADMIN");
		if (net_admin(false)) {
			A.ret = vu_dev_stats(&A.dev, A.st, ADM_QUEUES, A.err, sizeof(A.err));
			if (!net_admin(true))
				A.ret = -EPERM;
		}
		break;
	case OP_RESIZE:
	case OP_RESIZE_RO:
		A.cfg.readonly = A.op == OP_RESIZE_RO;
		A.new_size = 0;
		A.ret = vu_dev_resize(&A.dev, A.size, &A.new_size, A.err, sizeof(A.err));
		A.cfg.readonly = false;
		break;
	}
}

/* The export's control thread, as the daemon's. */
static void *serve(void *arg)
{
	(void)arg;
	for (;;) {
		struct pollfd p[4] = {
			{ .fd = A.stop_fd, .events = POLLIN },
			{ .fd = A.listen_fd, .events = POLLIN },
			{ .fd = A.dev.conn_fd, .events = POLLIN },
			{ .fd = A.cmd_fd, .events = POLLIN },
		};
		eventfd_t v;

		if (poll(p, 4, -1) < 0)
			continue;
		if (p[0].revents)
			break;
		/* A frontend that left is let go before the next one is taken. */
		if (p[2].revents && vu_dev_handle(&A.dev))
			vu_dev_disconnect(&A.dev);
		if (p[1].revents) {
			int fd = accept4(A.listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

			if (fd >= 0 && (A.dev.conn_fd >= 0 || vu_dev_connect(&A.dev, fd)))
				close(fd);
		}
		if (p[3].revents) {
			eventfd_read(A.cmd_fd, &v);
			run_op();
			eventfd_write(A.done_fd, 1);
		}
	}
	if (A.dev.conn_fd >= 0)
		vu_dev_disconnect(&A.dev);
	return NULL;
}

/* A loop device over the image, as the backing (root). */
static bool loop_setup(void)
{
	int ctl, n, img;
	bool ok;

	/* Without udev, nothing loads the module on the first open. */
	if (access("/dev/loop-control", F_OK)) {
		struct run r;

		run_prog(&r, "/sbin/modprobe", (const char *const[]){ "loop", NULL }, 10000);
	}
	ctl = open("/dev/loop-control", O_RDWR | O_CLOEXEC);
	n = ctl < 0 ? -1 : ioctl(ctl, LOOP_CTL_GET_FREE);
	close_fd(&ctl);
	img = open(A.img, O_RDWR | O_CLOEXEC);
	snprintf(A.loop_path, sizeof(A.loop_path), "/dev/loop%d", n);
	A.loop_fd = n < 0 ? -1 : open(A.loop_path, O_RDWR | O_CLOEXEC);
	ok = img >= 0 && A.loop_fd >= 0 && !ioctl(A.loop_fd, LOOP_SET_FD, img);
	close_fd(&img);
	if (!ok) {
		tap_diag("admin: a loop device: %s", strerror(errno));
		close_fd(&A.loop_fd);
	}
	return ok;
}

static bool adm_start(const struct vu_dp_ops *ops, bool resize, bool loop)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char err[256] = "";

	memset(&A, 0, sizeof(A));
	A.ops = ops;
	A.user = ops == &vu_dp_user_ops;
	A.resize = resize;
	A.listen_fd = A.stop_fd = A.cmd_fd = A.done_fd = A.saved_stderr = -1;
	A.loop_fd = -1;
	A.cfg.backing_fd = -1;
	if (!tmp_dir_make(&A.dir, "vhuctl-admin"))
		return false;
	A.sock = tmp_file(&A.dir, "a.sock");
	A.img = tmp_file(&A.dir, "a.img");
	A.log = tmp_file(&A.dir, "log");
	if (make_file(A.img, ADM_SIZE) || (loop && !loop_setup()))
		return false;
	/* The export's log lines (vlog() writes to stderr) into its log file. */
	fflush(stderr);
	A.saved_stderr = dup(STDERR_FILENO);
	{
		int fd = open(A.log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

		if (fd < 0 || A.saved_stderr < 0 || dup2(fd, STDERR_FILENO) < 0) {
			close_fd(&fd);
			return false;
		}
		close(fd);
	}
	snprintf(A.cfg.socket_path, sizeof(A.cfg.socket_path), "%s", A.sock);
	snprintf(A.cfg.backing, sizeof(A.cfg.backing), "%s", loop ? A.loop_path : A.img);
	snprintf(A.cfg.serial, sizeof(A.cfg.serial), "%s", SERIAL);
	A.cfg.queues = ADM_QUEUES;
	A.cfg.queue_size = QSIZE;
	A.cfg.lbs = A.cfg.backing_lbs = 512;
	A.cfg.mode = A.user ? VU_DP_USER : VU_DP_KERNEL;
	A.cfg.size = ADM_SIZE;
	A.cfg.backing_fd = open(A.cfg.backing, O_RDWR | O_CLOEXEC);
	if (A.cfg.backing_fd < 0 || ops->open(&A.dp, &A.cfg, err, sizeof(err))) {
		tap_diag("admin: %s", err);
		A.dp = NULL;
		return false;
	}
	vu_dev_init(&A.dev, A.cfg.socket_path, &A.cfg, ops, A.dp);
	A.stop_fd = eventfd(0, EFD_CLOEXEC);
	A.cmd_fd = eventfd(0, EFD_CLOEXEC);
	A.done_fd = eventfd(0, EFD_CLOEXEC);
	A.dev.stop_fd = A.stop_fd;
	A.dev.msg_timeout_ms = ADM_TIMEOUT_MS;
	vu_dev_set_event_cb(&A.dev, on_event, NULL);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", A.sock);
	A.listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (A.listen_fd < 0 || A.stop_fd < 0 || A.cmd_fd < 0 || A.done_fd < 0 ||
	    bind(A.listen_fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    listen(A.listen_fd, 4))
		return false;
	return !pthread_create(&A.thread, NULL, serve, NULL);
}

static void adm_stop(bool started)
{
	if (started) {
		eventfd_write(A.stop_fd, 1);
		pthread_join(A.thread, NULL);
	}
	if (A.dp)
		A.ops->close(A.dp);
	close_fd(&A.cfg.backing_fd);
	close_fd(&A.listen_fd);
	close_fd(&A.stop_fd);
	close_fd(&A.cmd_fd);
	close_fd(&A.done_fd);
	if (A.saved_stderr >= 0) {
		fflush(stderr);
		dup2(A.saved_stderr, STDERR_FILENO);
		close_fd(&A.saved_stderr);
		if (started)
			tap_ok(file_count(A.log, "resized from 1048576 to 2097152 bytes") ==
			       A.logged_resizes &&
			       file_count(A.log, "ring error: descriptor loop") ==
			       (A.user && A.loop_fd < 0),
			       "admin: the export logged its resizes and the ring error");
		if (getenv("VHUCTL_TEST_LOG"))
			diag_file("admin log", A.log, 100);
	}
	if (A.loop_fd >= 0 && ioctl(A.loop_fd, LOOP_CLR_FD, 0))
		tap_diag("admin: %s: LOOP_CLR_FD: %s", A.loop_path, strerror(errno));
	close_fd(&A.loop_fd);
	tap_ok(tmp_dir_remove(&A.dir), "admin: nothing left behind");
}

/* Hand the thread an operation; adm_wait() for its result. */
static void adm_post(enum adm_op op, uint64_t size)
{
	A.op = op;
	A.size = size;
	eventfd_write(A.cmd_fd, 1);
}

/* The operation's result within ms: false if it took longer. */
static bool adm_wait(int ms)
{
	struct pollfd p = { .fd = A.done_fd, .events = POLLIN };
	eventfd_t v;

	if (poll(&p, 1, ms) != 1)
		return false;
	eventfd_read(A.done_fd, &v);
	return true;
}

static bool adm_stats(void)
{
	adm_post(OP_STATS, 0);
	return adm_wait(3000) && A.ret == ADM_QUEUES;
}

/*
 * The counters until ok() holds, for at most 3 s: what a queue thread
 * does after a signal the test waited for (a ring error's err eventfd)
 * shows in them a moment later.
 */
static bool stats_until(bool (*ok)(void))
{
	uint64_t end;
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	end = ts.tv_sec * 1000ull + ts.tv_nsec / 1000000 + 3000;
	for (;;) {
		if (adm_stats() && ok())
			return true;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (ts.tv_sec * 1000ull + ts.tv_nsec / 1000000 >= end)
			return false;
		usleep(5000);
	}
}

static unsigned int ring0;

static bool ring_error_counted(void)
{
	return A.st[0].ring_errors == 1 && A.st[0].state == VHU_VRING_ERROR &&
	       A.st[0].reqs_in == 1 && A.st[0].inflight == 0 &&
	       A.st[0].last_avail_idx == 1 &&
	       (!A.user || events(VU_DEV_EV_RING_ERROR) == ring0 + 1);
}

static bool detached(void)
{
	return A.st[0].state == VHU_VRING_STOPPED && !A.st[0].ring_errors &&
	       !A.st[0].reqs_in && !A.st[0].kicks;
}

static int adm_resize(uint64_t size)
{
	adm_post(OP_RESIZE, size);
	return adm_wait(3000) ? A.ret : -ETIMEDOUT;
}

static uint64_t file_size(void)
{
	struct stat st;

	return fstat(A.cfg.backing_fd, &st) ? 0 : (uint64_t)st.st_size;
}

/* The capacity in the config space, as the frontend reads it. */
static uint64_t config_capacity(struct tdev *d)
{
	uint64_t cap = ~0ull;

	if (vf_get_config(&d->vf, 0, sizeof(cap), &cap))
		return ~0ull;
	return cap;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ull + ts.tv_nsec / 1000000;
}

/* ---- counters ------------------------------------------------------------ */

static void t_counters(struct vf_guest *g)
{
	const struct vu_queue_stats *s = &A.st[0];
	unsigned int io0 = events(VU_DEV_EV_IO_ERROR);
	struct tdev d;
	bool ok;

	if (!tap_ok(dev_open(&d, g, A.sock, ADM_QUEUES, true, false, true) == 0,
		    "admin counters: driver ok")) {
		dev_close(&d);
		return;
	}
	ok = one(&d, 0, VIRTIO_BLK_T_OUT, 8, 4096) == VIRTIO_BLK_S_OK &&
	     one(&d, 0, VIRTIO_BLK_T_IN, 8, 4096) == VIRTIO_BLK_S_OK &&
	     one(&d, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK &&
	     one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK &&
	     one(&d, 0, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES) == VIRTIO_BLK_S_OK &&
	     one(&d, 0, 99, 0, 0) == VIRTIO_BLK_S_UNSUPP;
	tap_ok(ok, "admin counters: known I/O served");
	ok = adm_stats();
	tap_ok(ok, "admin counters: vu_dev_stats() fills every queue (%d: %s)", A.ret, A.err);
	tap_ok(s->queue == 0 && s->state == VHU_VRING_RUNNING &&
	       !strcmp(vu_queue_state_name(s->state), "running"),
	       "admin counters: queue 0 is running");
	tap_ok(s->reqs_out == 1 && s->reqs_in == 2 && s->reqs_flush == 1 &&
	       s->reqs_get_id == 1 && s->reqs_unsupp == 1 && s->reqs_ioerr == 0 &&
	       s->reqs_discard == 0 && s->reqs_write_zeroes == 0,
	       "admin counters: requests by type (in %llu out %llu flush %llu id %llu "
	       "unsupp %llu ioerr %llu)", (unsigned long long)s->reqs_in,
	       (unsigned long long)s->reqs_out, (unsigned long long)s->reqs_flush,
	       (unsigned long long)s->reqs_get_id, (unsigned long long)s->reqs_unsupp,
	       (unsigned long long)s->reqs_ioerr);
	tap_ok(s->bytes_written == 4096 && s->bytes_read == 4096 + 512,
	       "admin counters: bytes read %llu, written %llu",
	       (unsigned long long)s->bytes_read, (unsigned long long)s->bytes_written);
	tap_ok(s->kicks > 0 && s->kicks <= 6 && s->calls > 0 && s->calls <= 6,
	       "admin counters: kicks %llu, calls %llu", (unsigned long long)s->kicks,
	       (unsigned long long)s->calls);
	tap_ok(s->inflight == 0 && s->last_avail_idx == 6 && s->ring_errors == 0,
	       "admin counters: at rest nothing in flight, the avail index at 6 (%llu)",
	       (unsigned long long)s->last_avail_idx);
	tap_ok(A.st[1].queue == 1 && A.st[1].state == VHU_VRING_RUNNING &&
	       !A.st[1].reqs_in && !A.st[1].kicks && !A.st[1].last_avail_idx,
	       "admin counters: queue 1 is running and idle");

	/* A read past the end fails; two I/O errors, one event (rate limit). */
	ok = one(&d, 0, VIRTIO_BLK_T_IN, ADM_SIZE / 512, 512) == VIRTIO_BLK_S_IOERR &&
	     one(&d, 0, VIRTIO_BLK_T_IN, ADM_SIZE / 512 - 1, 1024) == VIRTIO_BLK_S_IOERR;
	ok = ok && adm_stats() && s->reqs_ioerr == 2 && s->reqs_in == 4 &&
	     s->bytes_read == 4096 + 512;
	tap_ok(ok,
	       "admin counters: two failed reads, counted as IOERR (%llu)",
	       (unsigned long long)s->reqs_ioerr);
	if (A.user)
		tap_ok(events(VU_DEV_EV_IO_ERROR) == io0 + 1,
		       "admin counters: one io-error event for both (%u)",
		       events(VU_DEV_EV_IO_ERROR) - io0);
	dev_close(&d);
}

static void t_ring_error(struct vf_guest *g)
{
	struct vring_desc *desc;
	struct pollfd p;
	struct tdev d;
	bool ok;

	ring0 = events(VU_DEV_EV_RING_ERROR);
	if (!tap_ok(dev_open(&d, g, A.sock, 1, true, false, true) == 0,
		    "admin ring error: driver ok")) {
		dev_close(&d);
		return;
	}
	/* Slot 0 is served; slot 1's chain loops back to its head. */
	desc = d.q[0].vr.desc;
	post_req(&d, 0, 0, VIRTIO_BLK_T_IN, 0, 512);
	post_req(&d, 0, 1, VIRTIO_BLK_T_IN, 0, 512);
	desc[8 + 2].flags |= VRING_DESC_F_NEXT;
	desc[8 + 2].next = 8;
	kick(&d, 0);
	p = (struct pollfd){ .fd = d.q[0].err, .events = POLLIN };
	tap_ok(poll(&p, 1, 3000) == 1, "admin ring error: the err eventfd fires");
	ok = stats_until(ring_error_counted) &&
	     !strcmp(vu_queue_state_name(A.st[0].state), "error");
	tap_ok(ok,
	       "admin ring error: counted, one event, the queue in state error at avail 1 "
	       "(state %u, ring errors %llu, in %llu, avail %llu)", A.st[0].state,
	       (unsigned long long)A.st[0].ring_errors, (unsigned long long)A.st[0].reqs_in,
	       (unsigned long long)A.st[0].last_avail_idx);
	dev_close(&d);
	/* The frontend gone, its queues have no counters (as vhu.ko's reset). */
	tap_ok(stats_until(detached),
	       "admin ring error: after the frontend left, queue 0 reads stopped, 0");
}

/*
 * The kernel datapath's counters for a daemon without CAP_NET_ADMIN: a
 * module that lets an owner read its own device's (VHU_API_F_DEV_INFO
 * came with that) gives them; an older one refuses, and the error says
 * why.
 */
static void t_unprivileged(struct vf_guest *g)
{
	struct tdev d;
	bool ok;

	if (!tap_ok(dev_open(&d, g, A.sock, 1, true, false, true) == 0,
		    "admin unprivileged: driver ok")) {
		dev_close(&d);
		return;
	}
	ok = one(&d, 0, VIRTIO_BLK_T_IN, 0, 4096) == VIRTIO_BLK_S_OK;
	adm_post(OP_STATS_NO_ADMIN, 0);
	ok = ok && adm_wait(3000);
	if (A.api & VHU_API_F_DEV_INFO)
		tap_ok(ok && A.ret == ADM_QUEUES && A.st[0].reqs_in == 1 &&
		       A.st[0].bytes_read == 4096 && A.st[0].state == VHU_VRING_RUNNING,
		       "admin unprivileged: the owner reads its device's counters without "
		       "CAP_NET_ADMIN (%d: %s)", A.ret, A.err);
	else
		tap_ok(ok && A.ret == -EPERM && strstr(A.err, "CAP_NET_ADMIN"),
		       "admin unprivileged: this vhu.ko wants CAP_NET_ADMIN, and the error "
		       "says so (%s)", A.err);
	dev_close(&d);
}

/* ---- resize -------------------------------------------------------------- */

/*
 * The backend's message on d's channel: a config change, with the flags
 * want (0x9 with REPLY_ACK, 0x1 without). Answered with ack unless ack
 * is negative; with get_config, a GET_CONFIG first (as QEMU does) whose
 * capacity goes to *cap.
 */
static bool take_change(struct vf *vf, uint32_t want, int ack, uint64_t *cap)
{
	struct vu_hdr h;
	uint8_t buf[64];

	if (vf_backend_recv(vf, &h, buf, sizeof(buf), 3000) ||
	    h.request != VU_BACKEND_CONFIG_CHANGE_MSG || h.flags != want || h.size)
		return false;
	if (cap) {
		*cap = ~0ull;
		if (vf_get_config(vf, 0, sizeof(*cap), cap))
			return false;
	}
	return ack < 0 || !vf_backend_reply(vf, &h, ack);
}

static void t_resize(struct vf_guest *g)
{
	const uint64_t big = 2 * ADM_SIZE;
	uint64_t cap = 0, t0;
	struct vu_hdr h;
	struct tdev d;
	uint8_t buf[64];
	bool ok;

	if (!tap_ok(dev_open(&d, g, A.sock, 1, true, false, true) == 0,
		    "admin resize: driver ok")) {
		dev_close(&d);
		return;
	}
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, ADM_SIZE / 512, 512) == VIRTIO_BLK_S_IOERR &&
	       config_capacity(&d) == ADM_SIZE / 512,
	       "admin resize: before, a read past the end fails");

	/* Grow: the frontend reads the config space before it answers. */
	adm_post(OP_RESIZE, big);
	ok = take_change(&d.vf, VU_VERSION | VU_FLAG_NEED_REPLY, 0, &cap);
	tap_ok(ok && cap == big / 512, "admin resize: grow: CONFIG_CHANGE_MSG with NEED_REPLY, "
	       "GET_CONFIG served while the answer is awaited (capacity %llu)",
	       (unsigned long long)cap);
	ok = adm_wait(3000) && A.ret == 0 && A.new_size == big && !A.err[0];
	tap_ok(ok,
	       "admin resize: grow: done, answered (%d, %llu, %s)", A.ret,
	       (unsigned long long)A.new_size, A.err);
	tap_ok(file_size() == big && A.cfg.size == big && config_capacity(&d) == big / 512,
	       "admin resize: grow: the file, the export and the config space have it");
	ok = one(&d, 0, VIRTIO_BLK_T_OUT, ADM_SIZE / 512, 4096) == VIRTIO_BLK_S_OK &&
	     one(&d, 0, VIRTIO_BLK_T_IN, big / 512 - 8, 4096) == VIRTIO_BLK_S_OK &&
	     one(&d, 0, VIRTIO_BLK_T_IN, big / 512, 512) == VIRTIO_BLK_S_IOERR;
	tap_ok(ok, "admin resize: grow: past the old end works, past the new one fails");

	/* Shrink; a frontend that answers with a failure is reported. */
	adm_post(OP_RESIZE, ADM_SIZE);
	ok = take_change(&d.vf, VU_VERSION | VU_FLAG_NEED_REPLY, 1, NULL);
	ok = ok && adm_wait(3000) && A.ret == 0 && A.new_size == ADM_SIZE &&
	     strstr(A.err, "failure");
	tap_ok(ok,
	       "admin resize: shrink: done, the frontend's failure is a warning (%s)", A.err);
	tap_ok(file_size() == ADM_SIZE && config_capacity(&d) == ADM_SIZE / 512 &&
	       one(&d, 0, VIRTIO_BLK_T_IN, ADM_SIZE / 512, 512) == VIRTIO_BLK_S_IOERR,
	       "admin resize: shrink: the file and the capacity are back");

	/* Bad sizes change nothing and send nothing. */
	ok = adm_resize(1000) == -EINVAL && strstr(A.err, "multiple") &&
	     adm_resize(ADM_SIZE + 512 + 1) == -EINVAL;
	adm_post(OP_RESIZE_RO, big);
	ok = ok && adm_wait(3000) && A.ret == -EROFS && strstr(A.err, "read-only");
	tap_ok(ok && file_size() == ADM_SIZE && A.cfg.size == ADM_SIZE &&
	       config_capacity(&d) == ADM_SIZE / 512 &&
	       vf_backend_recv(&d.vf, &h, buf, sizeof(buf), 100) == -ETIMEDOUT,
	       "admin resize: bad sizes refused, nothing changed, nothing sent (%s)", A.err);

	/* Size 0: the file's own size, grown by someone else. */
	ok = !truncate(A.img, big + 4096);
	adm_post(OP_RESIZE, 0);
	ok = ok && take_change(&d.vf, VU_VERSION | VU_FLAG_NEED_REPLY, 0, NULL);
	ok = ok && adm_wait(3000) && A.ret == 0 && A.new_size == big + 4096 &&
	     config_capacity(&d) == (big + 4096) / 512;
	tap_ok(ok,
	       "admin resize: size 0 reads the backing's size again (%llu)",
	       (unsigned long long)A.new_size);
	tap_ok(adm_resize(0) == 0 && A.new_size == big + 4096 &&
	       vf_backend_recv(&d.vf, &h, buf, sizeof(buf), 100) == -ETIMEDOUT,
	       "admin resize: unchanged, nothing sent");
	ok = !truncate(A.img, big + 1000);
	tap_ok(ok && adm_resize(0) == -EINVAL && A.cfg.size == big + 4096 &&
	       config_capacity(&d) == (big + 4096) / 512,
	       "admin resize: a backing that is no whole number of blocks is refused (%s)",
	       A.err);

	/* A frontend that never answers: bounded, and it loses the channel. */
	t0 = now_ms();
	adm_post(OP_RESIZE, ADM_SIZE);
	ok = take_change(&d.vf, VU_VERSION | VU_FLAG_NEED_REPLY, -1, NULL);
	ok = ok && adm_wait(ADM_TIMEOUT_MS + 2000) && A.ret == 0 &&
	     A.new_size == ADM_SIZE && strstr(A.err, "within");
	t0 = now_ms() - t0;
	tap_ok(ok, "admin resize: no answer: done after the message timeout (%s)", A.err);
	tap_ok(t0 >= ADM_TIMEOUT_MS && t0 < ADM_TIMEOUT_MS + 2000,
	       "admin resize: no answer: it waited the message timeout, no more (%llu ms)",
	       (unsigned long long)t0);
	tap_ok(vf_backend_recv(&d.vf, &h, buf, sizeof(buf), 3000) == -ECONNRESET &&
	       config_capacity(&d) == ADM_SIZE / 512,
	       "admin resize: no answer: its backend channel is closed, the connection serves");
	tap_ok(adm_resize(big) == 0 && strstr(A.err, "not told") &&
	       config_capacity(&d) == big / 512,
	       "admin resize: without a channel it resizes and says the frontend was not told");
	dev_close(&d);
}

/* A frontend that negotiated BACKEND_REQ and CONFIG, not REPLY_ACK. */
static void t_resize_no_ack(void)
{
	uint64_t f, pf, cap = 0;
	struct vf vf;
	int sv[2] = { -1, -1 };
	bool ok;

	ok = !vf_connect(&vf, A.sock) && !vf_get_u64(&vf, VU_REQ_GET_FEATURES, &f) &&
	     !vf_get_u64(&vf, VU_REQ_GET_PROTOCOL_FEATURES, &pf);
	vf.pf = BIT(VU_PF_BACKEND_REQ) | BIT(VU_PF_CONFIG);
	ok = ok && !vf_send(&vf, VU_REQ_SET_PROTOCOL_FEATURES, false, &vf.pf, 8, NULL, 0) &&
	     !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) &&
	     !vf_send(&vf, VU_REQ_SET_BACKEND_REQ_FD, false, NULL, 0, &sv[1], 1) &&
	     !vf_send(&vf, VU_REQ_SET_OWNER, false, NULL, 0, NULL, 0) &&
	     !vf_get_u64(&vf, VU_REQ_GET_FEATURES, &f);
	close_fd(&sv[1]);
	vf.backend_fd = sv[0];
	if (!tap_ok(ok, "admin resize without REPLY_ACK: realize")) {
		vf_close(&vf);
		return;
	}
	tap_ok(adm_resize(ADM_SIZE) == 0 && !A.err[0] &&
	       take_change(&vf, VU_VERSION, -1, &cap) && cap == ADM_SIZE / 512,
	       "admin resize without REPLY_ACK: the message asks for no answer, "
	       "no wait (%s)", A.err);
	vf_close(&vf);
}

/* One that did not negotiate BACKEND_REQ: resized, told nothing. */
static void t_resize_no_channel(void)
{
	uint64_t f, pf;
	struct vf vf;
	bool ok;

	ok = !vf_connect(&vf, A.sock) && !vf_get_u64(&vf, VU_REQ_GET_FEATURES, &f) &&
	     !vf_get_u64(&vf, VU_REQ_GET_PROTOCOL_FEATURES, &pf);
	vf.pf = BIT(VU_PF_CONFIG) | BIT(VU_PF_REPLY_ACK);
	ok = ok && !vf_send(&vf, VU_REQ_SET_PROTOCOL_FEATURES, false, &vf.pf, 8, NULL, 0) &&
	     !vf_req_ack(&vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0);
	tap_ok(ok && adm_resize(2 * ADM_SIZE) == 0 && strstr(A.err, "not told") &&
	       A.new_size == 2 * ADM_SIZE && file_size() == 2 * ADM_SIZE,
	       "admin resize without BACKEND_REQ: resized, the frontend not told (%s)", A.err);
	vf_close(&vf);
}

/*
 * A block device (a loop device) cannot be set, only read again: once
 * the loop device grew, a resize without a size finds its new size.
 */
static void t_blkdev(struct vf_guest *g)
{
	uint64_t cap = 0;
	struct tdev d;
	bool ok;

	if (!tap_ok(dev_open(&d, g, A.sock, 1, true, false, true) == 0,
		    "admin block device: driver ok")) {
		dev_close(&d);
		return;
	}
	tap_ok(adm_resize(2 * ADM_SIZE) == -EINVAL && strstr(A.err, "block device") &&
	       A.cfg.size == ADM_SIZE && config_capacity(&d) == ADM_SIZE / 512,
	       "admin block device: a size is refused, nothing changed (%s)", A.err);
	ok = !truncate(A.img, 2 * ADM_SIZE) && !ioctl(A.loop_fd, LOOP_SET_CAPACITY, 0);
	if (!A.resize) {
		tap_ok(ok && adm_resize(0) == -EOPNOTSUPP && strstr(A.err, "VHU_SET_CAPACITY") &&
		       config_capacity(&d) == ADM_SIZE / 512,
		       "admin block device: a module without VHU_SET_CAPACITY is named (%s)",
		       A.err);
		dev_close(&d);
		return;
	}
	adm_post(OP_RESIZE, 0);
	ok = ok && take_change(&d.vf, VU_VERSION | VU_FLAG_NEED_REPLY, 0, &cap) &&
	     adm_wait(3000) && A.ret == 0 && A.new_size == 2 * ADM_SIZE;
	tap_ok(ok && cap == 2 * ADM_SIZE / 512 &&
	       one(&d, 0, VIRTIO_BLK_T_IN, ADM_SIZE / 512, 4096) == VIRTIO_BLK_S_OK,
	       "admin block device: its new size read again, the frontend told, "
	       "past the old end works (%d: %s)", A.ret, A.err);
	dev_close(&d);
}

static void run(const struct vu_dp_ops *ops, bool resize, bool loop, uint64_t api)
{
	struct vf_guest g;
	bool started;

	if (vf_guest_init(&g)) {
		tap_ok(false, "admin: guest memory");
		return;
	}
	started = adm_start(ops, resize, loop);
	A.api = api;
	if (tap_ok(started, "admin: the export serves in-process (%s datapath%s)",
		   ops->name, loop ? ", a loop device" : "")) {
		if (loop) {
			A.logged_resizes = resize;
			t_blkdev(&g);
		} else {
			A.logged_resizes = resize ? 3 : 0;
			t_counters(&g);
			t_ring_error(&g);
			if (!A.user)
				t_unprivileged(&g);
			if (resize) {
				t_resize(&g);
				t_resize_no_ack();
				t_resize_no_channel();
			}
		}
	}
	adm_stop(started);
	vf_guest_fini(&g);
}

void t_admin(void)
{
	run(&vu_dp_user_ops, true, false, 0);
}

void t_admin_kernel(void)
{
	struct vhu_api api = { 0 };
	int fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	bool resize;

	if (fd < 0 || ioctl(fd, VHU_GET_API, &api)) {
		tap_ok(false, "admin kernel: %s: %s", VHU_DEVICE_PATH, strerror(errno));
		close_fd(&fd);
		return;
	}
	close(fd);
	resize = api.features & VHU_API_F_CAPACITY;
	if (!resize)
		tap_diag("admin kernel: the loaded vhu.ko has no VHU_SET_CAPACITY: "
			 "resize not tested on the kernel datapath");
	run(&vu_dp_kernel_ops, resize, false, api.features);
	run(&vu_dp_user_ops, true, true, api.features);
	run(&vu_dp_kernel_ops, resize, true, api.features);
}
