// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl-fault-vm-test: a backing that fails or hangs under an export, on
 * both datapaths, buffered and O_DIRECT (in the VM rig; root).
 *
 * - EIO. A device-mapper device whose table is swapped under the running
 *   export (vhu_backing.sh fault): dm-error fails every read, dm-flakey
 *   fails every write and flush. A read completes IOERR; a write-through
 *   write completes IOERR; a FLUSH after write-back writes completes
 *   IOERR, and so does the write itself where nothing caches it
 *   (O_DIRECT). No request that failed completes OK.
 * - ENOSPC. A sparse file on a full tmpfs, mounted in a mount namespace
 *   of vhuctl's own: a write to a hole completes IOERR, write-back and
 *   write-through; overwriting what is allocated still works. This part
 *   runs on the host too (--host, from make check; a user namespace
 *   where this is not root).
 * - Neither kills the export: once the fault is gone, the same connection
 *   reads and writes again, every write acknowledged before (completed OK
 *   and flushed OK) reads back intact, through vhuctl and on the backing,
 *   and vhuctl stops cleanly.
 * - A hung backing (the dm device suspended) with a write and a flush in
 *   flight: within VHUCTL_STOP_BOUND_S seconds of SIGTERM (and a little
 *   for a slow VM) vhuctl has removed its socket and logged that it gave
 *   up on the export's I/O; once the device goes on it ends with status 3
 *   (resources abandoned), and the write acknowledged before is intact.
 *   Until then the kernel holds the process, as it holds any process
 *   with I/O in flight on a suspended device (SIGKILL included): the
 *   bound is the daemon's part of the shutdown, which ends no later.
 *
 * The frontend is this process (memfd guest memory, one ring); each case
 * starts vhuctl by its PID and stops it. Prints TAP; a datapath or a
 * backing that is not available here is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/vhu.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "tap.h"
#include "test_util.h"
#include "util.h"
#include "vm_drv.h"
#include "vu_frontend.h"

#define QSIZE		128
#define DISK_MB		16
#define REQ_HDR		0x80000		/* region 0: a header per slot */
#define REQ_STATUS	0x80800		/* and a status byte */
#define REQ_DATA	VF_GPA1		/* region 1: 64 KiB per slot */
#define DATA_MAX	(64u << 10)
#define REGION(n)	((uint64_t)(n) * (DATA_MAX / 512))	/* its sector */

/* SIGTERM to exit with I/O hung in the backing; the slow VM's margin. */
#define VHUCTL_STOP_BOUND_S	5
#define VM_MARGIN_MS		2000

static const char *vhuctl, *sock, *logpath;
static char script[PATH_MAX];
static struct vf_guest g;

/* ---- vhuctl and the backing stores --------------------------------------- */

static bool started(pid_t pid, const char *dp, const char *backing)
{
	if (pid > 0 && wait_socket(sock))
		return true;
	tap_diag("vhuctl export (%s, %s) does not listen", dp, backing);
	diag_file("vhuctl", logpath, 20);
	return false;
}

static pid_t start(const char *dp, const char *backing, bool direct)
{
	char *argv[] = { (char *)vhuctl, "export", "--socket", (char *)sock,
			 "--backing", (char *)backing, "--queues", "1",
			 "--datapath", (char *)dp, direct ? "--direct" : NULL, NULL };
	pid_t pid = spawn(argv, logpath);

	started(pid, dp, backing);
	return pid;
}

/*
 * vhuctl on a sparse file of DISK_MB on a tmpfs of FULL_MB mounted on
 * dir in a mount namespace of its own (and a user namespace where we
 * are not root, as the kernel datapath is not served there): the file
 * is at /proc/PID/root/dir/disk.img for us.
 */
#define FULL_MB		4
static const char full_sh[] =
	"mount -t tmpfs -o size=$5m vhu-full \"$1\" && truncate -s $6m \"$1/disk.img\" && "
	"exec \"$2\" export --socket \"$3\" --backing \"$1/disk.img\" --queues 1 "
	"--datapath \"$4\"";

static pid_t start_full(const char *dp, const char *dir)
{
	char full[8], disk[8];
	char *argv[] = { "unshare", geteuid() ? "-Urm" : "-m", "--", "sh", "-c",
			 (char *)full_sh, "sh", (char *)dir, (char *)vhuctl, (char *)sock,
			 (char *)dp, full, disk, NULL };
	pid_t pid;

	snprintf(full, sizeof(full), "%d", FULL_MB);
	snprintf(disk, sizeof(disk), "%d", DISK_MB);
	pid = spawn(argv, logpath);
	started(pid, dp, "a file on a tmpfs of its own");
	return pid;
}

/* The tmpfs of start_full(): our path to its name in it. */
static const char *in_full(pid_t pid, const char *dir, const char *name)
{
	static char p[PATH_MAX];

	snprintf(p, sizeof(p), "/proc/%d/root%s/%s", (int)pid, dir, name);
	return p;
}

/* Use up the room left on it: true once a write failed with ENOSPC. */
static bool fill_up(pid_t pid, const char *dir)
{
	int fd = open(in_full(pid, dir, "fill"), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		      0600);
	static uint8_t zero[DATA_MAX];
	bool full = false;

	while (fd >= 0 && !full) {
		ssize_t n = write(fd, zero, sizeof(zero));

		if (n < 0)
			full = errno == ENOSPC;
		if (n <= 0)
			break;
	}
	if (fd >= 0)
		close(fd);
	return full;
}

static bool backing(const char *cmd, const char *kind, const char *arg, char *out)
{
	return vm_backing(script, cmd, kind, arg, out);
}

static bool fault(const char *mode)
{
	return backing("fault", "dm", mode, NULL);
}

/* Region n of path, read past any page cache where it can, is want. */
static bool holds(const char *path, unsigned int n, const void *want)
{
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	void *buf = NULL;
	bool ok;

	/* A file on a file system without O_DIRECT (tmpfs before 6.6). */
	if (fd < 0 && errno == EINVAL)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	ok = fd >= 0 && !posix_memalign(&buf, 4096, DATA_MAX) &&
	     pread(fd, buf, DATA_MAX, REGION(n) * 512) == DATA_MAX &&
	     !memcmp(buf, want, DATA_MAX);
	free(buf);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* Write want to region n of the device at path, past vhuctl. */
static bool put(const char *path, unsigned int n, const void *want)
{
	int fd = open(path, O_WRONLY | O_DIRECT | O_CLOEXEC);
	void *buf = NULL;
	bool ok;

	ok = fd >= 0 && !posix_memalign(&buf, 4096, DATA_MAX);
	if (ok) {
		memcpy(buf, want, DATA_MAX);
		ok = pwrite(fd, buf, DATA_MAX, REGION(n) * 512) == DATA_MAX &&
		     !fdatasync(fd);
	}
	free(buf);
	if (fd >= 0)
		close(fd);
	return ok;
}

static void fill(uint8_t *p)
{
	for (size_t i = 0; i < DATA_MAX; i++)
		p[i] = rand();
}

/* ---- the driver ------------------------------------------------------------ */

static uint8_t *data(unsigned int slot)
{
	return g.base + VF_REGION_SIZE + slot * DATA_MAX;	/* REQ_DATA */
}

/* Put a request in slot (data in data(slot) for OUT and IN): 0 or -1. */
static int submit(struct vm_dev *d, unsigned int slot, uint32_t type, uint64_t sector)
{
	struct virtio_blk_outhdr *h = (void *)(g.base + REQ_HDR + slot * sizeof(*h));
	uint32_t len = type == VIRTIO_BLK_T_IN || type == VIRTIO_BLK_T_OUT ? DATA_MAX : 0;
	struct vr_buf b[3];
	int n = 0;

	*h = (struct virtio_blk_outhdr){ .type = type, .sector = sector };
	g.base[REQ_STATUS + slot] = 0xff;
	b[n++] = (struct vr_buf){ VF_GPA0 + REQ_HDR + slot * sizeof(*h), sizeof(*h), false };
	if (len)
		b[n++] = (struct vr_buf){ REQ_DATA + slot * DATA_MAX, len,
					  type == VIRTIO_BLK_T_IN };
	b[n++] = (struct vr_buf){ VF_GPA0 + REQ_STATUS + slot, 1, true };
	vr_add_chain(&d->vr, slot * 3, b, n);
	vr_push(&d->vr, slot * 3);
	vr_publish(&d->vr);
	return vr_kick(&d->vr) ? -1 : 0;
}

/* The next used request within ms: its status, and its slot; -1 if none. */
static int used(struct vm_dev *d, int ms, unsigned int *slot)
{
	uint32_t head, len;

	for (int i = 0; i <= ms / 10; i++) {
		if (vr_get_used(&d->vr, &head, &len)) {
			*slot = head / 3;
			return g.base[REQ_STATUS + *slot];
		}
		if (i < ms / 10)
			usleep(10000);
	}
	return -1;
}

/* One request in slot 0: its status, or -1 when it is not used within 10 s. */
static int req(struct vm_dev *d, uint32_t type, uint64_t sector)
{
	unsigned int slot;

	if (submit(d, 0, type, sector))
		return -1;
	return used(d, 10000, &slot);
}

/* Write p to region n: the status. */
static int wr(struct vm_dev *d, unsigned int n, const uint8_t *p)
{
	memcpy(data(0), p, DATA_MAX);
	return req(d, VIRTIO_BLK_T_OUT, REGION(n));
}

/* Read region n: OK if it is want, else its status or 0x100 (other data). */
static int rd(struct vm_dev *d, unsigned int n, const uint8_t *want)
{
	int st;

	memset(data(0), 0x5a, DATA_MAX);
	st = req(d, VIRTIO_BLK_T_IN, REGION(n));
	return st == VIRTIO_BLK_S_OK && memcmp(data(0), want, DATA_MAX) ? 0x100 : st;
}

/* A write-through write of p to region n (wce 0 around it): its status. */
static int wr_through(struct vm_dev *d, unsigned int n, const uint8_t *p)
{
	int st;

	if (vm_set_wce(d, 0))
		return -2;
	st = wr(d, n, p);
	return vm_set_wce(d, 1) ? -2 : st;
}

#define OK	VIRTIO_BLK_S_OK
#define IOERR	VIRTIO_BLK_S_IOERR

/* ---- EIO ------------------------------------------------------------------- */

/*
 * Regions of the dm device: A written and flushed through vhuctl before
 * the faults, B written past vhuctl (never in its page cache), C and D
 * written during the write fault, E after it.
 */
enum { RA = 1, RB, RC, RD, RE };

static void eio(const char *dp, bool direct, const char *dev)
{
	static uint8_t a[DATA_MAX], b[DATA_MAX], c[DATA_MAX], e[DATA_MAX];
	const char *how = direct ? "O_DIRECT" : "buffered";
	int ret, sa = -1, sfa = -1, sr = -1, sw = -1, sf = -1, swt = -1, sf2 = -1;
	int sid = -1, s[6] = { -1, -1, -1, -1, -1, -1 };
	bool faulted = false;
	struct vm_dev d;
	pid_t pid;

	fill(a);
	fill(b);
	fill(c);
	fill(e);
	ret = put(dev, RB, b) ? 0 : -10;
	pid = start(dp, dev, direct);
	if (!ret)
		ret = vm_drive(&d, &g, sock, QSIZE, 0);
	if (!ret) {
		sa = wr(&d, RA, a);
		sfa = req(&d, VIRTIO_BLK_T_FLUSH, 0);
	}
	tap_ok(!ret && sa == OK && sfa == OK,
	       "%s, %s, EIO: a write and a flush before the faults (setup %d, status %d, %d)",
	       dp, how, ret, sa, sfa);
	if (!ret && fault("read")) {
		faulted = true;
		sr = rd(&d, RB, b);
		sid = req(&d, VIRTIO_BLK_T_GET_ID, 0);
	}
	tap_ok(sr == IOERR && sid == OK,
	       "%s, %s: a read of a failing device completes IOERR (%d), the queue "
	       "goes on (GET_ID %d)", dp, how, sr, sid);
	if (!ret && fault("write")) {
		faulted = true;
		sw = wr(&d, RC, c);
		sf = req(&d, VIRTIO_BLK_T_FLUSH, 0);
		swt = wr_through(&d, RD, c);
		sf2 = req(&d, VIRTIO_BLK_T_FLUSH, 0);
	}
	/* A buffered write-back write is only in the page cache: OK is right. */
	tap_ok((sw == IOERR || (!direct && sw == OK)) && sf == IOERR && sf2 == IOERR,
	       "%s, %s: on a device failing writes, a write-back write completes %s "
	       "(%d), and each FLUSH IOERR (%d, %d)", dp, how,
	       direct ? "IOERR" : "OK or IOERR", sw, sf, sf2);
	tap_ok(swt == IOERR, "%s, %s: on a device failing writes, a write-through "
	       "write completes IOERR (%d)", dp, how, swt);
	if (faulted && fault("none")) {
		s[0] = req(&d, VIRTIO_BLK_T_FLUSH, 0);
		s[1] = rd(&d, RA, a);
		s[2] = rd(&d, RB, b);
		s[3] = wr(&d, RE, e);
		s[4] = req(&d, VIRTIO_BLK_T_FLUSH, 0);
		s[5] = rd(&d, RE, e);
	}
	tap_ok(!s[0] && !s[1] && !s[2] && !s[3] && !s[4] && !s[5],
	       "%s, %s: the device back, the same queue flushes (%d), reads what was "
	       "acknowledged (%d, %d), writes, flushes and reads (%d, %d, %d)",
	       dp, how, s[0], s[1], s[2], s[3], s[4], s[5]);
	if (!ret)
		vm_undrive(&d);
	if (faulted)
		fault("none");
	tap_ok(vm_stop(pid), "%s, %s: vhuctl lived through the faults and stops cleanly",
	       dp, how);
	tap_ok(holds(dev, RA, a) && holds(dev, RB, b) && holds(dev, RE, e),
	       "%s, %s: every acknowledged write is on the device", dp, how);
}

/* ---- ENOSPC ---------------------------------------------------------------- */

static void enospc(const char *dp, const char *dir)
{
	static uint8_t a[DATA_MAX], a2[DATA_MAX], c[DATA_MAX];
	int ret, sa = -1, sfa = -1, sw = -1, swt = -1, so = -1, sfo = -1;
	int s[4] = { -1, -1, -1, -1 };
	bool full = false, kept = false;
	struct vm_dev d;
	pid_t pid;

	fill(a);
	fill(a2);
	fill(c);
	pid = start_full(dp, dir);
	ret = vm_drive(&d, &g, sock, QSIZE, 0);
	if (ret) {
		int st = -1;

		vm_undrive(&d);
		stop_child(pid, 10000, &st);
		/* No unshare(1) (127), or namespaces it may not make here. */
		if ((WIFEXITED(st) && WEXITSTATUS(st) == 127) ||
		    file_count(logpath, "unshare: ") > 0) {
			tap_ok(true, "# SKIP %s, ENOSPC: no mount namespace of its own for "
			       "vhuctl here", dp);
			return;
		}
		pid = -1;
	}
	if (!ret) {
		sa = wr(&d, RA, a);
		sfa = req(&d, VIRTIO_BLK_T_FLUSH, 0);
	}
	if (!ret && sa == OK && fill_up(pid, dir)) {
		full = true;
		sw = wr(&d, RC, c);
		swt = wr_through(&d, RD, c);
		so = wr(&d, RA, a2);
		sfo = req(&d, VIRTIO_BLK_T_FLUSH, 0);
	}
	tap_ok(!ret && sa == OK && sfa == OK && full && sw == IOERR && swt == IOERR,
	       "%s, a file on a full file system: a write to a hole completes IOERR, "
	       "write-back (%d) and write-through (%d) (setup %d, %d, %d)", dp, sw, swt,
	       ret, sa, sfa);
	tap_ok(so == OK && sfo == OK, "%s, a full file system: a write where the file "
	       "has its blocks still works (%d, flush %d)", dp, so, sfo);
	if (full && !unlink(in_full(pid, dir, "fill"))) {
		s[0] = wr(&d, RC, c);
		s[1] = req(&d, VIRTIO_BLK_T_FLUSH, 0);
		s[2] = rd(&d, RC, c);
		s[3] = rd(&d, RA, a2);
	}
	tap_ok(!s[0] && !s[1] && !s[2] && !s[3],
	       "%s, the room back: the same queue writes, flushes and reads (%d, %d, %d), "
	       "the acknowledged write reads back (%d)", dp, s[0], s[1], s[2], s[3]);
	/* The file goes with vhuctl's mount namespace: look at it first. */
	if (!ret) {
		kept = holds(in_full(pid, dir, "disk.img"), RA, a2) &&
		       holds(in_full(pid, dir, "disk.img"), RC, c);
		vm_undrive(&d);
	}
	tap_ok(vm_stop(pid), "%s, ENOSPC: vhuctl lived through it and stops cleanly", dp);
	tap_ok(kept, "%s, ENOSPC: every acknowledged write is in the file", dp);
}

/* ---- a hung backing -------------------------------------------------------- */

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void hang(const char *dp, bool direct, const char *dev)
{
	static uint8_t a[DATA_MAX], c[DATA_MAX];
	const char *how = direct ? "O_DIRECT" : "buffered";
	const long bound = VHUCTL_STOP_BOUND_S * 1000 + VM_MARGIN_MS;
	int ret, sa = -1, sfa = -1, early = -1, st = -1, exited;
	bool stalled = false;
	unsigned int slot;
	long t0, t = -1;
	struct vm_dev d;
	pid_t pid;

	fill(a);
	fill(c);
	pid = start(dp, dev, direct);
	ret = vm_drive(&d, &g, sock, QSIZE, 0);
	if (!ret) {
		sa = wr(&d, RA, a);
		sfa = req(&d, VIRTIO_BLK_T_FLUSH, 0);
	}
	if (!ret && sa == OK && sfa == OK && backing("stall", "dm", "", NULL)) {
		stalled = true;
		/* A write-through write and a flush, both held by the device. */
		vm_set_wce(&d, 0);
		memcpy(data(1), c, DATA_MAX);
		submit(&d, 1, VIRTIO_BLK_T_OUT, REGION(RC));
		submit(&d, 2, VIRTIO_BLK_T_FLUSH, 0);
		early = used(&d, 300, &slot);
	}
	tap_ok(stalled && early == -1,
	       "%s, %s: a write-through write and a flush wait on a hung device "
	       "(setup %d, status %d, %d, completed early %d)", dp, how, ret, sa, sfa, early);
	/*
	 * The daemon's part of the shutdown: the socket gone and the hung
	 * I/O given up on (or the whole process ended), within the bound.
	 */
	t0 = now_ms();
	exited = 0;
	if (pid > 0 && !kill(pid, SIGTERM)) {
		for (;;) {
			exited = waitpid(pid, &st, WNOHANG) == pid;
			if (exited || (access(sock, F_OK) &&
				       file_count(logpath, "shutdown: gave up") > 0)) {
				t = now_ms() - t0;
				break;
			}
			if (now_ms() - t0 > bound)
				break;
			usleep(10000);
		}
	}
	tap_ok(t >= 0 && t <= bound,
	       "%s, %s: on a hung device, within %d s of SIGTERM vhuctl removed its "
	       "socket and gave up on the I/O (%ld ms; %d s and %d ms for a slow VM)",
	       dp, how, VHUCTL_STOP_BOUND_S, t, VHUCTL_STOP_BOUND_S, VM_MARGIN_MS);
	if (stalled)
		backing("unstall", "dm", "", NULL);
	if (!exited && pid > 0) {
		long t1 = now_ms();

		exited = !wait_pid_bounded(pid, 30000, &st);
		tap_diag("vhuctl ended %ld ms after SIGTERM, %ld ms after the device went on",
			 now_ms() - t0, now_ms() - t1);
		if (!exited)
			stop_child(pid, 0, &st);
	}
	tap_ok(exited && WIFEXITED(st) && WEXITSTATUS(st) == (stalled ? 3 : 0),
	       "%s, %s: it then ends by itself, with status 3 for the abandoned I/O "
	       "(status %#x)", dp, how, st);
	if (!ret)
		vm_undrive(&d);
	tap_ok(holds(dev, RA, a), "%s, %s: the write acknowledged before the hang is "
	       "on the device", dp, how);
}

int main(int argc, char **argv)
{
	const char *top = getenv("VHU_TOP") ? getenv("VHU_TOP") : "../..";
	static const char *const dps[] = { "kernel", "user" };
	bool host = argc > 1 && !strcmp(argv[1], "--host");
	char dm[PATH_MAX] = "", mb[16];
	const char *full;
	struct tmp_dir dir;

	setvbuf(stdout, NULL, _IOLBF, 0);
	vhuctl = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
	snprintf(script, sizeof(script), "%s/selftests/vhu/vhu_backing.sh", top);
	if (!host && geteuid()) {
		printf("1..0 # SKIP needs root (device-mapper, vhu.ko)\n");
		return 0;
	}
	/* vhuctl's end is what the hang case looks at, not ours. */
	signal(SIGPIPE, SIG_IGN);
	if (!tmp_dir_make(&dir, "vhuctl-faultvm") || vf_guest_init(&g))
		return 1;
	sock = tmp_file(&dir, "fault.sock");
	logpath = tmp_file(&dir, "vhuctl.log");
	full = tmp_file(&dir, "full");		/* a directory: removed below */
	snprintf(mb, sizeof(mb), "%d", DISK_MB);
	srand(getpid());

	if (mkdir(full, 0700))
		tap_diag("mkdir %s: %s", full, strerror(errno));
	if (!host)
		backing("up", "dm", mb, dm);
	for (size_t i = 0; i < ARRAY_SIZE(dps); i++) {
		const char *dp = dps[i];

		if (!strcmp(dp, "kernel") && access(VHU_DEVICE_PATH, R_OK | W_OK)) {
			tap_ok(true, "# SKIP kernel datapath: %s not usable", VHU_DEVICE_PATH);
			continue;
		}
		for (int direct = 0; dm[0] && direct < 2; direct++)
			eio(dp, direct, dm);
		enospc(dp, full);
		for (int direct = 0; dm[0] && direct < 2; direct++)
			hang(dp, direct, dm);
	}
	if (!host)
		tap_ok(dm[0], "the dm device is there (\"%s\")", dm);
	if (dm[0])
		backing("down", "dm", dm, NULL);
	rmdir(full);
	diag_file("vhuctl (last run)", logpath, 40);
	vf_guest_fini(&g);
	tap_ok(tmp_dir_remove(&dir), "no files left behind");
	return tap_done();
}
