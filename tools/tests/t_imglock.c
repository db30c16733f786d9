// SPDX-License-Identifier: GPL-2.0
/*
 * Image locking: vhuctl export takes QEMU's locks on its backing, so two
 * writers of one image, vhuctl or QEMU, refuse each other, readers share
 * it, and --force-share opts out; and a backing must be a regular file or
 * a block device. Runs the vhuctl binary (VHUCTL), qemu-storage-daemon and
 * qemu-img where installed, and a loop device where this is root.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "imglock.h"
#include "tap.h"
#include "test_util.h"

#define MB (1 << 20)

static const char *vhuctl(void)
{
	return getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
}

/*
 * vhuctl export with args (NULL-terminated), its stderr into log: its pid
 * once it listens on sock, -1 if it exits or does not listen within 3 s.
 */
static pid_t start(const char *log, const char *sock, const char *const *args)
{
	char *argv[24] = { (char *)vhuctl(), "export", "--socket", (char *)sock,
			   "--datapath", "user", "--queues", "1" };
	struct stat st;
	int n = 8, status;
	pid_t pid;

	/* An --export word has its socket in it. */
	if (args[0] && !strcmp(args[0], "--export"))
		n = 2;
	while (*args && n < 23)
		argv[n++] = (char *)*args++;
	argv[n] = NULL;
	pid = spawn(argv, log);
	for (int i = 0; pid > 0 && i < 300; i++) {
		if (!stat(sock, &st))
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid)
			break;
		usleep(10000);
	}
	if (pid > 0 && waitpid(pid, &status, WNOHANG) == 0)
		stop_child(pid, 5000, &status);
	diag_file("vhuctl", log, 5);
	return -1;
}

#define START(log, sock, ...) start(log, sock, (const char *const[]){ __VA_ARGS__, NULL })

/* SIGTERM: true if it exited with status 0 within 5 s. */
static bool stop(pid_t pid)
{
	int st;

	return pid > 0 && !stop_child(pid, 5000, &st) && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

/*
 * vhuctl export with args fails (status 1) with one line holding needle:
 * at once, as --lock-wait 0 waits for nobody to let go.
 */
static bool refused(const char *what, const char *needle, const char *const *args)
{
	const char *argv[24] = { "export", "--datapath", "user", "--queues", "1",
				 "--lock-wait", "0" };
	struct run r;
	int n = 7;

	while (*args && n < 23)
		argv[n++] = *args++;
	argv[n] = NULL;
	run_prog(&r, vhuctl(), argv, 10000);
	if (!tap_ok(r.status == 1 && strstr(r.err, needle) && count_lines(r.err) == 1,
		    "imglock: %s", what)) {
		tap_diag("status %d, stderr: %s", r.status, r.err);
		return false;
	}
	return true;
}

#define REFUSED(what, needle, ...) \
	refused(what, needle, (const char *const[]){ __VA_ARGS__, NULL })

/*
 * The bytes of QEMU's lock area locked on path's inode, by anyone: bit i
 * for byte 100 + i, bit 4 + i for byte 200 + i. -1 if /proc/locks cannot
 * be read.
 */
static int locked_bytes(const char *path)
{
	char line[256], dev[64];
	unsigned long long ino, start, end;
	struct stat st;
	int mask = 0;
	FILE *f;

	if (stat(path, &st) || !(f = fopen("/proc/locks", "r")))
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char range_end[32];

		/* "1: OFDLCK ADVISORY  READ -1 fe:00:1234 100 101" */
		if (!strstr(line, "OFDLCK") ||
		    sscanf(line, "%*s %*s %*s %*s %*s %63s %llu %31s", dev, &start,
			   range_end) != 3)
			continue;
		if (!strchr(dev, ':') || !strrchr(dev, ':')[1])
			continue;
		ino = strtoull(strrchr(dev, ':') + 1, NULL, 10);
		if (ino != st.st_ino)
			continue;
		end = strcmp(range_end, "EOF") ? strtoull(range_end, NULL, 10) : ~0ULL;
		for (unsigned int i = 0; i < 4; i++) {
			unsigned long long held = IMG_LOCK_PERM_BASE + i;
			unsigned long long unshared = IMG_LOCK_SHARED_BASE + i;

			if (start <= held && held <= end)
				mask |= 1 << i;
			if (start <= unshared && unshared <= end)
				mask |= 1 << (4 + i);
		}
	}
	fclose(f);
	return mask;
}

/* What locked_bytes() shows for one export alone. */
static int export_bytes(bool writable, bool force_share)
{
	unsigned int perm, shared;

	img_lock_perms(writable, force_share, &perm, &shared);
	return perm | (~shared & IMG_PERM_ALL) << 4;
}

/* The first line cmd prints, into buf: false if it prints none. */
static bool first_line(const char *cmd, char *buf, size_t len)
{
	FILE *p = popen(cmd, "r");

	buf[0] = '\0';
	if (p) {
		if (!fgets(buf, len, p))
			buf[0] = '\0';
		pclose(p);
	}
	buf[strcspn(buf, "\n")] = '\0';
	return buf[0];
}

/* Where prog is in PATH, into path: false if it is not. */
static bool have_at(const char *prog, char *path, size_t len)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "command -v %s 2>/dev/null", prog);
	return first_line(cmd, path, len);
}

static bool have(const char *prog)
{
	char path[256];

	return have_at(prog, path, sizeof(path));
}

/* Two processes, and two exports of one daemon, on one image file. */
static void files(struct tmp_dir *d)
{
	const char *img = tmp_file(d, "disk.img"), *other = tmp_file(d, "other.img");
	const char *link = tmp_file(d, "link.img");
	const char *s1 = tmp_file(d, "1.sock"), *s2 = tmp_file(d, "2.sock");
	const char *s3 = tmp_file(d, "3.sock");
	const char *l1 = tmp_file(d, "1.log"), *l2 = tmp_file(d, "2.log");
	char word[300];
	struct stat st;
	pid_t a, b;

	make_file(img, MB);
	make_file(other, MB);
	if (symlink(img, link))
		tap_diag("symlink %s: %s", link, strerror(errno));

	/* A writer excludes every other export but one with --force-share. */
	a = START(l1, s1, "--backing", img);
	tap_ok(a > 0, "imglock: a writable export listens");
	tap_ok(locked_bytes(img) == export_bytes(true, false),
	       "imglock: it locks QEMU's bytes 100, 101 (holds consistent read, write) and 201, 203 (shares neither write nor resize): 0x%x",
	       locked_bytes(img));
	REFUSED("a second writable export in another process is refused",
		"(failed to get the \"write\" lock)", "--socket", s2, "--backing", img);
	REFUSED("a read-only export in another process is refused",
		"(failed to get the shared \"write\" lock)", "--socket", s2,
		"--backing", img, "--readonly");
	snprintf(word, sizeof(word), "backing %s: in use", img);
	REFUSED("the refusal names the backing", word, "--socket", s2, "--backing", img);
	REFUSED("... and --force-share", "--force-share overrides this", "--socket", s2,
		"--backing", img);
	snprintf(word, sizeof(word), "socket=%s,backing=%s", s3, img);
	REFUSED("a daemon with a locked backing among its exports is refused",
		"in use", "--socket", s2, "--backing", other, "--export", word);
	tap_ok(stat(s2, &st) && stat(s3, &st), "imglock: ... and leaves no socket behind");
	snprintf(word, sizeof(word), "socket=%s,backing=%s,readonly,force-share", s2, img);
	b = START(l2, s2, "--export", word);
	tap_ok(b > 0, "imglock: a read-only export with force-share (--export) listens beside the writer");
	tap_ok(stop(b), "imglock: ... and stops");
	b = START(l2, s2, "--backing", img, "--force-share");
	tap_ok(b > 0, "imglock: a writable export with --force-share listens beside the writer (a handover)");
	tap_ok(stop(b), "imglock: ... and stops");
	tap_ok(stop(a), "imglock: the writer stops");
	tap_ok(locked_bytes(img) == 0, "imglock: an export that exits leaves no lock behind");

	/* --force-share refuses nobody but still shows what it holds. */
	a = START(l1, s1, "--backing", img, "--force-share");
	tap_ok(a > 0 && locked_bytes(img) == export_bytes(true, true),
	       "imglock: a writable export with --force-share locks bytes 100, 101 only: 0x%x",
	       locked_bytes(img));
	REFUSED("an export without --force-share sees its write",
		"(failed to get the shared \"write\" lock)", "--socket", s2,
		"--backing", img);
	tap_ok(stop(a), "imglock: ... it stops");

	/* Readers share. */
	a = START(l1, s1, "--backing", img, "--readonly");
	tap_ok(a > 0 && locked_bytes(img) == export_bytes(false, false),
	       "imglock: a read-only export locks bytes 100, 201, 203: 0x%x",
	       locked_bytes(img));
	b = START(l2, s2, "--backing", link, "--readonly");
	tap_ok(b > 0, "imglock: a second read-only export in another process listens");
	REFUSED("a writable export beside two readers is refused",
		"(failed to get the \"write\" lock)", "--socket", s3, "--backing", img);
	tap_ok(stop(b) && stop(a), "imglock: both readers stop");

	/* Within one daemon. */
	a = START(l1, s1, "--backing", img, "--readonly", "--socket", s2,
		  "--backing", link, "--readonly");
	tap_ok(a > 0, "imglock: one daemon exports an image read-only twice");
	tap_ok(stop(a), "imglock: ... and stops");
	REFUSED("one daemon refuses the same image writable twice, through a symlink",
		"exported twice", "--socket", s1, "--backing", img, "--socket", s2,
		"--backing", link);
	REFUSED("... and writable once, read-only once", "exported twice",
		"--socket", s1, "--backing", img, "--readonly", "--socket", s2,
		"--backing", link);
	tap_ok(stat(s1, &st) && stat(s2, &st) && locked_bytes(img) == 0,
	       "imglock: refused exports leave no socket and no lock");
}

/*
 * --lock-wait: an export whose backing another user has waits for it to
 * be let go, as after a restart its killed predecessor's I/O may still
 * hold it; and gives up with the refusal when the time is up.
 */
static void lock_wait(struct tmp_dir *d)
{
	const char *img = tmp_file(d, "wait.img");
	const char *s1 = tmp_file(d, "w1.sock"), *s2 = tmp_file(d, "w2.sock");
	const char *l1 = tmp_file(d, "w1.log"), *l2 = tmp_file(d, "w2.log");
	char *argv[] = { (char *)vhuctl(), "export", "--socket", (char *)s2,
			 "--backing", (char *)img, "--datapath", "user", "--queues", "1",
			 NULL };
	const char *args[] = { "export", "--datapath", "user", "--queues", "1",
			       "--lock-wait", "1", "--socket", s2, "--backing", img, NULL };
	struct timespec t0, t1;
	struct stat st;
	struct run r;
	pid_t a, b;
	long ms;

	make_file(img, MB);
	a = START(l1, s1, "--backing", img);
	tap_ok(a > 0, "imglock: lock-wait: a writer listens");

	clock_gettime(CLOCK_MONOTONIC, &t0);
	run_prog(&r, vhuctl(), args, 10000);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (!tap_ok(r.status == 1 && strstr(r.err, "waiting up to 1 s") &&
		    strstr(r.err, "(failed to get the \"write\" lock)") && ms >= 1000,
		    "imglock: lock-wait: a second writer with --lock-wait 1 waits, then is refused (%ld ms)",
		    ms))
		tap_diag("status %d, stderr: %s", r.status, r.err);

	/* The default wait (5 s): the first writer goes within it. */
	b = spawn(argv, l2);
	usleep(1000 * 1000);
	tap_ok(b > 0 && stat(s2, &st) && file_count(l2, "waiting up to 5 s") == 1,
	       "imglock: lock-wait: a second writer waits (5 s by default) and does not listen yet");
	tap_ok(stop(a), "imglock: lock-wait: the first writer stops");
	if (!tap_ok(b > 0 && wait_socket(s2) && file_count(l2, "let go after") == 1,
		    "imglock: lock-wait: ... and the second one then listens, saying so"))
		diag_file("vhuctl", l2, 5);
	tap_ok(stop(b), "imglock: lock-wait: ... and stops");
}

/* A backing must be a regular file or a block device. */
static void types(struct tmp_dir *d)
{
	const char *fifo = tmp_file(d, "fifo"), *usock = tmp_file(d, "unix.sock");
	const char *sock = tmp_file(d, "t.sock");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char needle[256];
	int fd;

	if (mkfifo(fifo, 0600))
		tap_diag("mkfifo %s: %s", fifo, strerror(errno));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", usock);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		tap_diag("bind %s: %s", usock, strerror(errno));

	snprintf(needle, sizeof(needle), "backing %s: a directory, not a regular file or block device",
		 d->path);
	REFUSED("a directory is refused, writable", needle, "--socket", sock, "--backing", d->path);
	REFUSED("a directory is refused, read-only", needle, "--socket", sock,
		"--backing", d->path, "--readonly");
	snprintf(needle, sizeof(needle), "backing %s: a FIFO, not a regular file or block device", fifo);
	REFUSED("a FIFO is refused read-only (without waiting for a writer)", needle,
		"--socket", sock, "--backing", fifo, "--readonly");
	REFUSED("a FIFO is refused writable", needle, "--socket", sock, "--backing", fifo);
	REFUSED("a character device is refused",
		"backing /dev/null: a character device, not a regular file or block device",
		"--socket", sock, "--backing", "/dev/null");
	snprintf(needle, sizeof(needle), "backing %s: a socket, not a regular file or block device", usock);
	REFUSED("a socket is refused", needle, "--socket", sock, "--backing", usock);
	if (fd >= 0)
		close(fd);
}

/* qemu-storage-daemon's export on path, writable or not: see start(). */
static pid_t qsd_start(const char *log, const char *sock, const char *path, bool writable)
{
	char blockdev[300], export[300];
	char *argv[] = { "qemu-storage-daemon", "--blockdev", blockdev, "--export", export, NULL };
	struct stat st;
	int status;
	pid_t pid;

	snprintf(blockdev, sizeof(blockdev), "driver=file,node-name=disk,filename=%s%s",
		 path, writable ? "" : ",read-only=on");
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=e0,node-name=disk,addr.type=unix,addr.path=%s,writable=%s",
		 sock, writable ? "on" : "off");
	pid = spawn(argv, log);
	for (int i = 0; pid > 0 && i < 500; i++) {
		if (!stat(sock, &st))
			return pid;
		if (waitpid(pid, &status, WNOHANG) == pid)
			return -1;
		usleep(10000);
	}
	if (pid > 0)
		stop_child(pid, 5000, &status);
	return -1;
}

/* Run prog with args (NULL-terminated) for at most 10 s. */
static void run_tool(struct run *r, const char *prog, const char *const *args)
{
	char path[256];

	have_at(prog, path, sizeof(path));
	run_prog(r, path, args, 10000);
}

#define TOOL(r, prog, ...) run_tool(r, prog, (const char *const[]){ __VA_ARGS__, NULL })

/* vhuctl and qemu-storage-daemon see each other. */
static void qsd(struct tmp_dir *d)
{
	const char *img = tmp_file(d, "q.img"), *qs = tmp_file(d, "q.sock");
	const char *vs = tmp_file(d, "v.sock"), *ql = tmp_file(d, "q.log");
	const char *vl = tmp_file(d, "v.log");
	char blockdev[300], export[300];
	struct run r;
	pid_t q, v;

	if (!have("qemu-storage-daemon")) {
		tap_ok(true, "# SKIP imglock: qemu-storage-daemon not installed");
		return;
	}
	make_file(img, MB);
	snprintf(blockdev, sizeof(blockdev), "driver=file,node-name=disk,filename=%s", img);
	snprintf(export, sizeof(export),
		 "type=vhost-user-blk,id=e0,node-name=disk,addr.type=unix,addr.path=%s,writable=on", qs);

	for (int ro = 0; ro < 2; ro++) {
		v = START(vl, vs, "--backing", img, ro ? "--readonly" : NULL);
		TOOL(&r, "qemu-storage-daemon", "--blockdev", blockdev, "--export", export);
		if (!tap_ok(v > 0 && r.status > 0 && r.status < 128 &&
			    strstr(r.err, "Failed to get \"write\" lock"),
			    "imglock: qemu-storage-daemon's writable export is refused while vhuctl exports the image %s",
			    ro ? "read-only" : "writable"))
			tap_diag("status %d, stderr: %s", r.status, r.err);
		tap_ok(stop(v), "imglock: ... vhuctl stops");
	}

	q = qsd_start(ql, qs, img, true);
	tap_ok(q > 0, "imglock: qemu-storage-daemon exports the image writable");
	REFUSED("vhuctl's writable export is refused while qemu-storage-daemon writes the image",
		"(failed to get the shared \"write\" lock)", "--socket", vs, "--backing", img);
	REFUSED("... and its read-only export", "(failed to get the shared \"write\" lock)",
		"--socket", vs, "--backing", img, "--readonly");
	v = START(vl, vs, "--backing", img, "--readonly", "--force-share");
	tap_ok(v > 0 && stop(v), "imglock: ... but one with --force-share listens");
	tap_ok(q > 0 && !stop_child(q, 5000, &(int){ 0 }), "imglock: qemu-storage-daemon stops");
	tap_ok(locked_bytes(img) == 0, "imglock: no lock is left");
}

/* vhuctl and qemu-img see each other. */
static void qemu_img(struct tmp_dir *d)
{
	const char *img = tmp_file(d, "i.img"), *out = tmp_file(d, "out.img");
	const char *vs = tmp_file(d, "i.sock"), *vl = tmp_file(d, "i.log");
	struct stat st;
	struct run r;
	pid_t v;

	if (!have("qemu-img")) {
		tap_ok(true, "# SKIP imglock: qemu-img not installed (Debian: qemu-utils)");
		return;
	}
	make_file(img, MB);
	v = START(vl, vs, "--backing", img);
	TOOL(&r, "qemu-img", "convert", "-f", "raw", "-O", "raw", img, out);
	if (!tap_ok(v > 0 && r.status == 1 && strstr(r.err, "Failed to get shared \"write\" lock"),
		    "imglock: qemu-img convert from the image vhuctl writes is refused"))
		tap_diag("status %d, stderr: %s", r.status, r.err);
	TOOL(&r, "qemu-img", "convert", "-U", "-f", "raw", "-O", "raw", img, out);
	if (!tap_ok(r.status == 0, "imglock: ... and works with -U (force share)"))
		tap_diag("status %d, stderr: %s", r.status, r.err);
	TOOL(&r, "qemu-img", "resize", "-f", "raw", img, "2M");
	if (!tap_ok(r.status == 1 && strstr(r.err, "Failed to get \"write\" lock") &&
		    !stat(img, &st) && st.st_size == MB,
		    "imglock: qemu-img resize is refused and the image keeps its size"))
		tap_diag("status %d, stderr: %s", r.status, r.err);
	tap_ok(stop(v), "imglock: ... vhuctl stops");

	v = START(vl, vs, "--backing", img, "--readonly");
	TOOL(&r, "qemu-img", "convert", "-f", "raw", "-O", "raw", img, out);
	if (!tap_ok(v > 0 && r.status == 0,
		    "imglock: qemu-img convert from an image vhuctl exports read-only works"))
		tap_diag("status %d, stderr: %s", r.status, r.err);
	TOOL(&r, "qemu-img", "resize", "-f", "raw", img, "2M");
	if (!tap_ok(r.status == 1 && strstr(r.err, "Failed to get \"write\" lock"),
		    "imglock: ... qemu-img resize is refused"))
		tap_diag("status %d, stderr: %s", r.status, r.err);
	tap_ok(stop(v), "imglock: ... vhuctl stops");
}

/* QEMU's own disk device (virtio-blk, share-rw off) on the image, paused. */
static void qemu_disk_argv(char **argv, char *drive, size_t len, const char *img)
{
	static char *const args[] = {
		"qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-nodefaults",
		"-display", "none", "-monitor", "none", "-S", "-drive", NULL,
		"-device", "virtio-blk-pci,drive=d0", NULL,
	};

	snprintf(drive, len, "file=%s,format=raw,if=none,id=d0", img);
	memcpy(argv, args, sizeof(args));
	argv[12] = drive;
}

/* vhuctl and a QEMU guest's disk see each other. */
static void qemu_guest(struct tmp_dir *d)
{
	const char *img = tmp_file(d, "g.img"), *log = tmp_file(d, "qemu.log");
	const char *vs = tmp_file(d, "g.sock"), *vl = tmp_file(d, "g.log");
	char *argv[16], drive[300], qemu[256];
	struct run r;
	int st;
	pid_t v, q;

	if (!have_at("qemu-system-x86_64", qemu, sizeof(qemu))) {
		tap_ok(true, "# SKIP imglock: qemu-system-x86_64 not installed");
		return;
	}
	make_file(img, MB);
	qemu_disk_argv(argv, drive, sizeof(drive), img);
	for (int fs = 0; fs < 2; fs++) {
		v = START(vl, vs, "--backing", img, fs ? "--force-share" : NULL);
		run_prog(&r, qemu, (const char *const *)argv + 1, 20000);
		if (!tap_ok(v > 0 && r.status == 1 &&
			    strstr(r.err, fs ? "Failed to get shared \"write\" lock" :
					       "Failed to get \"write\" lock"),
			    "imglock: a QEMU guest's disk on the image is refused while vhuctl writes it%s",
			    fs ? " with --force-share" : ""))
			tap_diag("status %d, stderr: %s", r.status, r.err);
		tap_ok(stop(v), "imglock: ... vhuctl stops");
	}

	/* Its locks taken, paused QEMU keeps them. */
	q = spawn(argv, log);
	for (int i = 0; q > 0 && i < 1000 && !(locked_bytes(img) & IMG_PERM_WRITE); i++) {
		if (waitpid(q, &st, WNOHANG) == q) {
			q = -1;
			break;
		}
		usleep(10000);
	}
	tap_ok(q > 0 && (locked_bytes(img) & IMG_PERM_WRITE),
	       "imglock: a QEMU guest's disk writes the image");
	REFUSED("vhuctl's writable export is refused beside it",
		"(failed to get the \"write\" lock)", "--socket", vs, "--backing", img);
	REFUSED("... and its read-only export", "(failed to get the shared \"write\" lock)",
		"--socket", vs, "--backing", img, "--readonly");
	if (q > 0)
		stop_child(q, 10000, &st);
	else
		diag_file("qemu", log, 5);
}

/* A loop device: the same locks on the device node, and O_EXCL. */
static void blockdev(struct tmp_dir *d)
{
	const char *file = tmp_file(d, "loop.img"), *s1 = tmp_file(d, "b1.sock");
	const char *s2 = tmp_file(d, "b2.sock"), *l1 = tmp_file(d, "b1.log");
	char cmd[300], dev[64];
	int holder;
	pid_t a;

	if (geteuid() || !have("losetup") || access("/dev/loop-control", W_OK)) {
		tap_ok(true, "# SKIP imglock: block devices need root, losetup and loop devices");
		return;
	}
	make_file(file, 4 * MB);
	snprintf(cmd, sizeof(cmd), "losetup -f --show '%s' 2>/dev/null", file);
	if (!first_line(cmd, dev, sizeof(dev)) || strncmp(dev, "/dev/loop", 9)) {
		tap_ok(true, "# SKIP imglock: no loop device could be set up");
		return;
	}

	a = START(l1, s1, "--backing", dev);
	tap_ok(a > 0 && locked_bytes(dev) == export_bytes(true, false),
	       "imglock: a writable export of %s locks the device node like a file: 0x%x",
	       dev, locked_bytes(dev));
	holder = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);
	tap_ok(holder < 0 && errno == EBUSY,
	       "imglock: ... and holds the device exclusively (O_EXCL)");
	if (holder >= 0)
		close(holder);
	REFUSED("a read-only export of the device is refused by the lock",
		"(failed to get the shared \"write\" lock)", "--socket", s2,
		"--backing", dev, "--readonly");
	tap_ok(stop(a), "imglock: ... the writer stops");

	holder = open(dev, O_RDONLY | O_EXCL | O_CLOEXEC);
	REFUSED("a writable export of a device another program holds exclusively is refused",
		"opened exclusively (O_EXCL) by another program", "--socket", s1,
		"--backing", dev);
	a = START(l1, s1, "--backing", dev, "--readonly");
	tap_ok(holder >= 0 && a > 0 && stop(a),
	       "imglock: ... a read-only one is not (no O_EXCL)");
	a = START(l1, s1, "--backing", dev, "--force-share");
	tap_ok(a > 0 && stop(a), "imglock: ... nor one with --force-share");
	if (holder >= 0)
		close(holder);

	snprintf(cmd, sizeof(cmd), "losetup -d '%s'", dev);
	tap_ok(!system(cmd), "imglock: %s detached", dev);
}

void t_imglock(void)
{
	struct tmp_dir a, b, c;

	if (!tmp_dir_make(&a, "vhuctl-lock")) {
		tap_ok(false, "imglock: temporary directory");
		return;
	}
	if (!tmp_dir_make(&b, "vhuctl-lock")) {
		tap_ok(false, "imglock: temporary directory");
		tmp_dir_remove(&a);
		return;
	}
	if (!tmp_dir_make(&c, "vhuctl-lock")) {
		tap_ok(false, "imglock: temporary directory");
		tmp_dir_remove(&a);
		tmp_dir_remove(&b);
		return;
	}
	files(&a);
	qemu_guest(&a);
	lock_wait(&c);
	types(&b);
	qsd(&b);
	qemu_img(&b);
	blockdev(&b);
	tap_ok(tmp_dir_remove(&a) && tmp_dir_remove(&b) && tmp_dir_remove(&c),
	       "imglock: no files left behind");
}
