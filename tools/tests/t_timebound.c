// SPDX-License-Identifier: GPL-2.0
/*
 * Time limits and signals: what a frontend can make the daemon wait for.
 * A message has a deadline as a whole however its bytes are paced, a
 * frontend that never sends SET_OWNER loses the export after the
 * handshake timeout, refused connections do not flood the log, SIGHUP
 * does not end the daemon, and SIGINT/SIGTERM end it within 5 s whatever
 * the frontends do -- a peer stalled mid-message, one that never reads
 * its replies, a call fd nobody reads, I/O that never finishes (the
 * recording datapath told to take 30 s to stop a queue) -- with the
 * sockets unlinked either way. Each daemon runs in a child process
 * stopped by its PID with a bounded wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "t_user.h"
#include "tap.h"
#include "test_dp.h"
#include "util.h"

/* What the tests allow for the daemon's documented 5 s. */
#define BOUND_MS	5000

static long ms_from(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* Has the daemon closed sock within ms? Anything it sends is dropped. */
static bool closed_within(int sock, int ms)
{
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		long left = ms - ms_from(&t0);
		char buf[256];
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			return false;
		n = recv(sock, buf, sizeof(buf), MSG_DONTWAIT);
		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
			return true;
	}
}

/*
 * Send sig to the daemon and reap it within wait_ms (then it is killed):
 * its exit status (-1 when killed or signalled) and how long it took.
 */
static int signal_stop(struct exportd *d, int sig, int wait_ms, long *took)
{
	struct timespec t0;
	int st = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kill(d->pid, sig);
	if (wait_pid_bounded(d->pid, wait_ms, &st)) {
		kill(d->pid, SIGKILL);
		waitpid(d->pid, &st, 0);
		st = -1;
	}
	*took = ms_from(&t0);
	d->pid = -1;
	return st >= 0 && WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static int raw_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/* A blocking eventfd one signal away from full: the next write waits. */
static int full_eventfd_after(uint64_t have)
{
	int fd = eventfd(0, EFD_CLOEXEC);
	uint64_t v = 0xfffffffffffffffeull - have;

	if (fd >= 0 && write(fd, &v, sizeof(v)) != sizeof(v))
		close_fd(&fd);
	return fd;
}

/* A GET_CONFIG sent one byte every 250 ms: cut off after 10 s in all. */
static void t_slow_message(const char *sock)
{
	struct {
		struct vu_hdr h;
		struct vu_config_msg c;
	} __attribute__((packed)) m = {
		{ VU_REQ_GET_CONFIG, VU_VERSION, VU_CONFIG_HDR_SIZE + 57 },
		{ .offset = 0, .size = 57 },
	};
	const uint8_t *b = (const uint8_t *)&m;
	size_t len = sizeof(m.h) + VU_CONFIG_HDR_SIZE + 57, sent = 0;
	struct timespec t0;
	bool closed = false;
	long took;
	struct vf vf;

	if (!tap_ok(vf_connect(&vf, sock) == 0 && vf_realize(&vf, 1, NULL) == 0,
		    "time: realize before a slow message")) {
		vf_close(&vf);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (sent < len && !closed) {
		if (send(vf.sock, b + sent, 1, MSG_NOSIGNAL) != 1)
			break;
		sent++;
		closed = closed_within(vf.sock, 250);
	}
	took = ms_from(&t0);
	tap_ok(closed || sent < len, "time: a message sent a byte every 250 ms is cut off "
	       "before its end (%zu of %zu bytes sent)", sent, len);
	tap_ok(took >= 9000 && took <= 10000 + BOUND_MS,
	       "time: ... after its 10 s as a whole (%ld ms)", took);
	vf_close(&vf);
}

/* The handshake: connect and send nothing, or no SET_OWNER. */
static void t_handshake(const char *sock)
{
	uint64_t f;
	struct timespec t0;
	struct vf a, b;
	bool ok;
	long took;

	ok = vf_connect(&a, sock) == 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok = ok && closed_within(a.sock, 1000 + BOUND_MS);
	took = ms_from(&t0);
	tap_ok(ok && took >= 800, "handshake: a frontend that sends nothing is closed "
	       "after the 1 s handshake timeout (%ld ms)", took);
	vf_close(&a);

	ok = vf_connect(&a, sock) == 0 && vf_get_u64(&a, VU_REQ_GET_FEATURES, &f) == 0;
	tap_ok(ok && closed_within(a.sock, 1000 + BOUND_MS),
	       "handshake: one that never sends SET_OWNER is closed too");
	vf_close(&a);

	/* Then the export is free for the next frontend, which may idle. */
	ok = vf_connect(&b, sock) == 0 && vf_realize(&b, 1, NULL) == 0;
	tap_ok(ok && !closed_within(b.sock, 1500) && vf_get_u64(&b, VU_REQ_GET_FEATURES, &f) == 0,
	       "handshake: a frontend past SET_OWNER idles longer than the timeout "
	       "and keeps the export");
	vf_close(&b);
}

/* A frontend holds sock; n more connect and are refused. */
static int refuse_many(const char *sock, int n, struct vf *holder)
{
	int refused = 0;

	if (vf_connect(holder, sock) || vf_realize(holder, 1, NULL))
		return -1;
	for (int i = 0; i < n; i++) {
		int fd = raw_connect(sock);

		if (fd < 0)
			continue;
		refused += closed_within(fd, 3000);
		close(fd);
	}
	return refused;
}

/*
 * Pipeline GET_FEATURES without reading a reply until nothing more goes
 * in: the daemon is then blocked sending a reply nobody reads.
 */
static bool fill_replies(struct vf *vf)
{
	struct vu_hdr h = { VU_REQ_GET_FEATURES, VU_VERSION, 0 };
	int stuck = 0;

	for (int i = 0; i < 1000000 && stuck < 5; i++) {
		struct pollfd p = { .fd = vf->sock, .events = POLLOUT };

		if (send(vf->sock, &h, sizeof(h), MSG_NOSIGNAL | MSG_DONTWAIT) == sizeof(h)) {
			stuck = 0;
			continue;
		}
		if (errno != EAGAIN)
			return false;
		stuck += poll(&p, 1, 100) == 0;
	}
	return stuck >= 5;
}

/* Daemon A: the recording datapath, three exports, frontends misbehaving. */
static void t_daemon_a(struct tmp_dir *dir)
{
	const char *s0 = tmp_file(dir, "a0.sock"), *s1 = tmp_file(dir, "a1.sock"),
		   *s2 = tmp_file(dir, "a2.sock");
	struct exportd d = { 0 };
	struct vf stall, deaf, holder;
	struct vu_hdr sf = { VU_REQ_SET_FEATURES, VU_VERSION, 8 };
	int refused, lines, st;
	uint64_t f;
	long took;
	bool ok;

	exportd_add(&d, s0, tmp_file(dir, "a0.img"), DISK_SIZE, 1, &tdp_ops);
	exportd_add(&d, s1, tmp_file(dir, "a1.img"), DISK_SIZE, 1,
		    &tdp_ops)->handshake_timeout_ms = 1000;
	exportd_add(&d, s2, tmp_file(dir, "a2.img"), DISK_SIZE, 1, &tdp_ops);
	if (!tap_ok(exportd_start(&d, tmp_file(dir, "a.log")), "time: daemon A listening"))
		goto out;

	t_handshake(s1);
	t_slow_message(s0);

	/* Refused connections: a few lines, then a count. */
	refused = refuse_many(s2, 300, &holder);
	lines = file_count(d.log, "refused a second frontend");
	tap_ok(refused == 300 && lines >= 1 && lines <= 20,
	       "log: 300 refused connections make %d lines (%d refused)", lines, refused);

	/* Everything that could hold up a shutdown, all at once. */
	ok = vf_connect(&stall, s0) == 0 && vf_get_u64(&stall, VU_REQ_GET_FEATURES, &f) == 0 &&
	     send(stall.sock, &sf, sizeof(sf), MSG_NOSIGNAL) == sizeof(sf);
	tap_ok(ok, "time: export 0's frontend stalls in the middle of a message");
	ok = vf_connect(&deaf, s1) == 0 && vf_realize(&deaf, 1, NULL) == 0 &&
	     fcntl(deaf.sock, F_SETFL, O_NONBLOCK) == 0 && fill_replies(&deaf);
	tap_ok(ok, "time: export 1's frontend sends requests and reads no reply");

	st = signal_stop(&d, SIGTERM, 2 * BOUND_MS, &took);
	tap_ok(st == 0 && took <= BOUND_MS,
	       "signals: SIGTERM ends it with status 0 in %ld ms (bound %d) despite "
	       "both", took, BOUND_MS);
	tap_ok(access(s0, F_OK) && access(s1, F_OK) && access(s2, F_OK),
	       "signals: every socket unlinked");
	tap_ok(file_count(d.log, "refused frontends: suppressed") == 1,
	       "log: the suppressed lines are counted in one line");
	vf_close(&stall);
	vf_close(&deaf);
	vf_close(&holder);
out:
	exportd_stop(&d);
	exportd_diag_log(&d);
}

/* SIGHUP, as when the session that started the daemon closes. */
static void t_sighup(struct tmp_dir *dir)
{
	const char *sock = tmp_file(dir, "e.sock");
	struct exportd d = { 0 };
	struct vf vf;
	uint64_t f;
	long took;
	bool ok;

	exportd_add(&d, sock, tmp_file(dir, "e.img"), DISK_SIZE, 1, &tdp_ops);
	if (!tap_ok(exportd_start(&d, tmp_file(dir, "e.log")), "time: daemon E listening"))
		goto out;
	ok = vf_connect(&vf, sock) == 0 && vf_realize(&vf, 1, NULL) == 0;
	kill(d.pid, SIGHUP);
	for (int t = 0; t < 200 && exportd_alive(&d) &&
	     file_count(d.log, "SIGHUP received and ignored") != 1; t++)
		usleep(10000);
	ok = ok && vf_get_u64(&vf, VU_REQ_GET_FEATURES, &f) == 0;
	tap_ok(ok && exportd_alive(&d) && file_count(d.log, "SIGHUP received and ignored") == 1,
	       "signals: SIGHUP is logged and ignored; the daemon keeps serving");
	vf_close(&vf);
	tap_ok(d.pid > 0 && signal_stop(&d, SIGTERM, 2 * BOUND_MS, &took) == 0 &&
	       access(sock, F_OK) != 0,
	       "signals: after it, SIGTERM still ends it with status 0, socket unlinked");
out:
	exportd_stop(&d);
	exportd_diag_log(&d);
}

/*
 * Daemon B: the userspace datapath; a request completes on a queue whose
 * call fd is full, then SIGINT.
 */
static void t_daemon_b(struct tmp_dir *dir, struct vf_guest *g)
{
	const char *sock = tmp_file(dir, "b.sock");
	struct exportd d = { 0 };
	uint64_t one = 0;
	struct tdev t;
	int call_fd = -1, fresh, st;
	long took;
	bool ok;

	memset(&t, 0, sizeof(t));
	t.inflight_fd = -1;
	exportd_add(&d, sock, tmp_file(dir, "b.img"), DISK_SIZE, 1, &vu_dp_user_ops);
	if (!tap_ok(exportd_start(&d, tmp_file(dir, "b.log")), "time: daemon B listening"))
		goto out;
	ok = dev_open(&t, g, sock, 1, false, false, true) == 0;
	call_fd = eventfd(0, EFD_CLOEXEC);
	/* The daemon signals a new call fd once: then it is full. */
	ok = ok && call_fd >= 0 && vf_vring_fd(&t.vf, VU_REQ_SET_VRING_CALL, 0, call_fd) == 0;
	one = 0xfffffffffffffffdull;
	ok = ok && write(call_fd, &one, sizeof(one)) == sizeof(one);
	if (ok) {
		struct timespec t0;

		post_req(&t, 0, 0, VIRTIO_BLK_T_IN, 0, 512);
		kick(&t, 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		while (vr_used_idx(&t.q[0].vr) != 1 && ms_from(&t0) < 3000)
			usleep(1000);
		ok = vr_used_idx(&t.q[0].vr) == 1;
	}
	tap_ok(ok, "time: a request completes on a queue whose call fd is full");
	/* The queue's signalling must not hold its lock for the protocol. */
	fresh = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	tap_ok(ok && fresh >= 0 && vf_vring_fd(&t.vf, VU_REQ_SET_VRING_CALL, 0, fresh) == 0,
	       "time: ... and its next SET_VRING_CALL is still acked");
	close_fd(&fresh);
	st = signal_stop(&d, SIGINT, 2 * BOUND_MS, &took);
	tap_ok(st == 0 && took <= BOUND_MS,
	       "signals: SIGINT ends it with status 0 in %ld ms (bound %d)", took, BOUND_MS);
	tap_ok(access(sock, F_OK) != 0, "signals: its socket unlinked");
out:
	dev_close(&t);
	close_fd(&call_fd);
	exportd_stop(&d);
	exportd_diag_log(&d);
}

/* Daemon C: queues whose in-flight I/O does not finish for 30 s. */
static void t_daemon_c(struct tmp_dir *dir)
{
	const char *sock = tmp_file(dir, "c.sock");
	struct exportd d = { 0 };
	struct vf_guest g;
	struct vf vf;
	uint64_t one = 1, f;
	int st, inflight_fd = -1, call_fd = -1;
	long took;
	bool ok;

	if (vf_guest_init(&g)) {
		tap_ok(false, "time: guest memory for daemon C");
		return;
	}
	exportd_add(&d, sock, tmp_file(dir, "c.img"), DISK_SIZE, 2, &tdp_ops);
	if (!tap_ok(exportd_start(&d, tmp_file(dir, "c.log")), "time: daemon C listening"))
		goto out;
	ok = vf_connect(&vf, sock) == 0 && vf_realize(&vf, 2, NULL) == 0 &&
	     vf_driver_ok(&vf, &g, 2, 256, &inflight_fd, true) == 0;
	tap_ok(ok, "time: two queues running on a backing that hangs");
	/* A new call fd is signalled at once: this one cannot take it. */
	call_fd = full_eventfd_after(0);
	ok = ok && call_fd >= 0 && vf_send(&vf, VU_REQ_SET_VRING_CALL, false, &one,
					  sizeof(one), &call_fd, 1) == 0;
	tap_ok(ok && vf_get_u64(&vf, VU_REQ_GET_FEATURES, &f) == 0,
	       "time: SET_VRING_CALL with a call fd whose counter is full: the export "
	       "still answers");
	tdp_log->stop_delay_ms = 30000;
	st = signal_stop(&d, SIGTERM, 2 * BOUND_MS, &took);
	tdp_log->stop_delay_ms = 0;
	tap_ok(st == VU_EXIT_ABANDONED && took <= BOUND_MS,
	       "signals: SIGTERM with I/O that never finishes exits %d in %ld ms "
	       "(bound %d)", st, took, BOUND_MS);
	tap_ok(file_count(d.log, "abandoned") == 1, "signals: ... and logs what it abandoned");
	tap_ok(access(sock, F_OK) != 0, "signals: its socket unlinked all the same");
	vf_close(&vf);
out:
	close_fd(&call_fd);
	close_fd(&inflight_fd);
	exportd_stop(&d);
	exportd_diag_log(&d);
	vf_guest_fini(&g);
}

/* vhuctl export --handshake-timeout, from the command line. */
static void t_cli_handshake(struct tmp_dir *dir)
{
	const char *bin = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
	char sock[128], img[128], log[128], word[400];
	struct run r;
	pid_t pid;
	int fd, st = -1;
	bool ok;

	/* Daemon E's files, done with (tmp_dir_remove() unlinks them). */
	snprintf(sock, sizeof(sock), "%s/e.sock", dir->path);
	snprintf(img, sizeof(img), "%s/e.img", dir->path);
	snprintf(log, sizeof(log), "%s/e.log", dir->path);
	make_file(img, DISK_SIZE);
	run_prog(&r, bin, (const char *const[]){ "export", "--socket", sock, "--backing",
		 img, "--handshake-timeout", "3601", NULL }, 10000);
	tap_ok(r.status == 2 && strstr(r.err, "--handshake-timeout '3601': expected a "
				       "number from 0 to 3600"),
	       "cli: --handshake-timeout beyond an hour is a usage error");
	snprintf(word, sizeof(word), "socket=%s,backing=%s,handshake-timeout", sock, img);
	run_prog(&r, bin, (const char *const[]){ "export", "--export", word, NULL }, 10000);
	tap_ok(r.status == 2 && strstr(r.err, "key 'handshake-timeout' needs a value"),
	       "cli: the --export key handshake-timeout needs a value");

	snprintf(word, sizeof(word), "socket=%s,backing=%s,handshake-timeout=1,datapath=user",
		 sock, img);
	pid = spawn((char *const[]){ (char *)bin, "export", "--export", word, NULL }, log);
	ok = pid > 0 && wait_socket(sock);
	fd = ok ? raw_connect(sock) : -1;
	tap_ok(fd >= 0 && closed_within(fd, 1000 + BOUND_MS) &&
	       file_count(log, "no SET_OWNER within 1000 ms") == 1,
	       "cli: handshake-timeout=1 closes a frontend that sends nothing");
	close_fd(&fd);
	if (pid > 0 && stop_child(pid, 2 * BOUND_MS, &st))
		st = -1;
	tap_ok(st >= 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && access(sock, F_OK),
	       "cli: vhuctl export then ends on SIGTERM with status 0, socket unlinked");
	if (getenv("VHUCTL_TEST_LOG"))
		diag_file("vhuctl", log, 50);
}

void t_timebound(void)
{
	struct tmp_dir dir;
	struct vf_guest g;

	if (!tmp_dir_make(&dir, "vhuctl-time") || (!tdp_log && tdp_log_init()) ||
	    vf_guest_init(&g)) {
		tap_ok(false, "time: set up");
		return;
	}
	t_sighup(&dir);
	t_daemon_a(&dir);
	t_daemon_b(&dir, &g);
	t_daemon_c(&dir);
	t_cli_handshake(&dir);
	vf_guest_fini(&g);
	tap_ok(tmp_dir_remove(&dir), "time: no files left behind");
}
