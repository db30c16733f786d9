// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl-blk-vm-test: what an export offers a driver, on both datapaths,
 * with the vhuctl binary on real block devices (in the VM rig; root).
 *
 * - Durability. The backing is a null_blk device with a volatile write
 *   cache (vhu_backing.sh wcache): a power cycle loses every write no
 *   FLUSH or FUA made durable. Writes of a driver that did not negotiate
 *   VIRTIO_BLK_F_FLUSH, and of one that set wce 0, must survive a power
 *   cycle; write-back writes without a flush must not, the control that
 *   shows the test can fail. A WRITE_ZEROES of a driver without FLUSH must
 *   flush the device's cache before it completes (the block layer's
 *   trace). With the backing buffered and O_DIRECT.
 * - Block size. A driver without VIRTIO_BLK_F_BLK_SIZE on a 4096-byte
 *   export is served 512-byte blocks where the backing can (a buffered
 *   file, a 512-byte device with O_DIRECT), and refused at SET_FEATURES
 *   with a log line that says why where it cannot (a 4Kn device, a file
 *   whose O_DIRECT needs 4096-byte alignment; that file with 512-byte
 *   blocks is refused when the export starts).
 * - seg_max: 1022 for rings of 4096 entries, on both datapaths.
 *
 * The frontend is this process (memfd guest memory, one ring); each case
 * starts vhuctl by its PID and stops it with SIGTERM. Prints TAP; a
 * datapath or backing that is not available here is skipped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
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
#define REQ_HDR		0x80000		/* region 0 */
#define REQ_STATUS	0x80100
#define REQ_DATA	VF_GPA1		/* region 1 */
#define DATA_MAX	(64u << 10)

static const char *vhuctl, *sock, *logpath;
static char script[PATH_MAX];
static struct vf_guest g;

/* ---- vhuctl and the backing stores --------------------------------------- */

/* vhuctl export on backing with the datapath dp and more options. */
static pid_t start(const char *dp, const char *backing, const char *const *opts)
{
	char *argv[24] = { (char *)vhuctl, "export", "--socket", (char *)sock,
			   "--backing", (char *)backing, "--queues", "1",
			   "--datapath", (char *)dp };
	int n = 10;
	pid_t pid;

	for (; opts && *opts && n < (int)ARRAY_SIZE(argv) - 1; opts++)
		argv[n++] = (char *)*opts;
	pid = spawn(argv, logpath);
	if (pid > 0 && !wait_socket(sock)) {
		tap_diag("vhuctl export (%s, %s) does not listen", dp, backing);
		diag_file("vhuctl", logpath, 20);
	}
	return pid;
}

/* vhu_backing.sh cmd kind with arg: true, and its output's line in out. */
static bool backing(const char *cmd, const char *kind, const char *arg, char *out)
{
	return vm_backing(script, cmd, kind, arg, out);
}

/* The len bytes at off of path are want: read past any page cache. */
static bool holds(const char *path, uint64_t off, const void *want, size_t len)
{
	int fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	void *buf = NULL;
	bool ok;

	/* A file on a file system without O_DIRECT (tmpfs before 6.6). */
	if (fd < 0 && errno == EINVAL)
		fd = open(path, O_RDONLY | O_CLOEXEC);
	ok = fd >= 0 && !posix_memalign(&buf, 4096, len) &&
	     pread(fd, buf, len, off) == (ssize_t)len && !memcmp(buf, want, len);
	free(buf);
	if (fd >= 0)
		close(fd);
	return ok;
}

/* ---- the driver ------------------------------------------------------------ */

/*
 * Queue 0 with what is offered but drop (and DISCARD): as vm_drive().
 */
static int drive(struct vm_dev *d, uint64_t drop)
{
	return vm_drive(d, &g, sock, QSIZE, drop | BIT(VIRTIO_BLK_F_DISCARD));
}

static uint8_t *data(void)
{
	return g.base + VF_REGION_SIZE;		/* REQ_DATA */
}

/*
 * One request on queue 0: header, len bytes at REQ_DATA (device-writable
 * for IN), status. Its status, or -1 when it is not used within 10 s.
 */
static int req(struct vm_dev *d, uint32_t type, uint64_t sector, uint32_t len)
{
	struct virtio_blk_outhdr *h = (void *)(g.base + REQ_HDR);
	struct vr_buf b[3];
	uint32_t head, used;
	int n = 0;

	*h = (struct virtio_blk_outhdr){ .type = type, .sector = sector };
	g.base[REQ_STATUS] = 0xff;
	b[n++] = (struct vr_buf){ VF_GPA0 + REQ_HDR, sizeof(*h), false };
	if (len)
		b[n++] = (struct vr_buf){ REQ_DATA, len, type == VIRTIO_BLK_T_IN };
	b[n++] = (struct vr_buf){ VF_GPA0 + REQ_STATUS, 1, true };
	vr_add_chain(&d->vr, 0, b, n);
	vr_push(&d->vr, 0);
	vr_publish(&d->vr);
	if (vr_kick(&d->vr))
		return -1;
	for (int i = 0; i < 1000; i++) {
		if (vr_get_used(&d->vr, &head, &used))
			return g.base[REQ_STATUS];
		usleep(10000);
	}
	return -1;
}

/* ---- durability ------------------------------------------------------------ */

/*
 * null_blk writes a block it already stores past its write cache, so
 * every case writes where nothing was written yet (zeroes), each in a
 * 64 KiB region of its own; region 0 is the block size tests'.
 */
static unsigned int next_region = 1;

enum wc_case { WC_NO_FLUSH, WC_WCE0, WC_UNFLUSHED };

static const char *const wc_what[] = {
	[WC_NO_FLUSH] = "a driver without FLUSH: its writes survive a power cycle",
	[WC_WCE0] = "wce 0: writes survive a power cycle",
	[WC_UNFLUSHED] = "control: unflushed write-back writes are lost in a power cycle",
};

/*
 * One case on the wcache device *dev (its path may change with the power
 * cycle): a driver writes new data through vhuctl into a fresh region,
 * vhuctl stops, the device is power-cycled, and the region must hold the
 * new data, or its zeroes for the control.
 */
static void durability(const char *dp, bool direct, enum wc_case c, char *dev)
{
	static uint8_t new[DATA_MAX], zero[DATA_MAX];
	const char *const opts[] = { direct ? "--direct" : NULL, NULL };
	uint64_t drop = 0, sector = next_region++ * (DATA_MAX / 512);
	int ret, st = -1;
	struct vm_dev d;
	bool ok;
	pid_t pid;

	if (c == WC_NO_FLUSH)
		drop = BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_CONFIG_WCE);
	for (size_t i = 0; i < DATA_MAX; i++)
		new[i] = rand();
	pid = start(dp, dev, opts);
	ret = drive(&d, drop);
	if (!ret && c == WC_WCE0)
		ret = vm_set_wce(&d, 0);
	if (!ret) {
		memcpy(data(), new, DATA_MAX);
		st = req(&d, VIRTIO_BLK_T_OUT, sector, DATA_MAX);
	}
	vm_undrive(&d);
	ok = vm_stop(pid);
	ok &= backing("cycle", "wcache", dev, dev);
	tap_ok(ok && ret == 0 && st == VIRTIO_BLK_S_OK &&
	       holds(dev, sector * 512, c == WC_UNFLUSHED ? zero : new, DATA_MAX),
	       "%s datapath%s: %s (setup %d, status %d)", dp, direct ? ", O_DIRECT" : "",
	       wc_what[c], ret, st);
}

#define TRACING		"/sys/kernel/debug/tracing"
#define RQ_ISSUE	TRACING "/events/block/block_rq_issue"

static bool write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	bool ok = fd >= 0 && write(fd, s, strlen(s)) == (ssize_t)strlen(s);

	if (fd >= 0)
		close(fd);
	return ok;
}

/* Trace the requests issued to the block device at path from now on. */
static bool trace_start(const char *path)
{
	struct stat st;
	char filter[64];

	if (stat(path, &st))
		return false;
	snprintf(filter, sizeof(filter), "dev == %u",
		 (major(st.st_rdev) << 20) | minor(st.st_rdev));
	return write_file(RQ_ISSUE "/filter", filter) && write_file(RQ_ISSUE "/enable", "1") &&
	       write_file(TRACING "/trace", "");
}

/* Stop tracing: how many of the requests flushed the cache (F), or -1. */
static int trace_flushes(void)
{
	FILE *f = fopen(TRACING "/trace", "r");
	char line[512], dev[32], rwbs[16];
	int n = 0;

	write_file(RQ_ISSUE "/enable", "0");
	write_file(RQ_ISSUE "/filter", "0");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p = strstr(line, "block_rq_issue: ");

		if (p && sscanf(p + 16, "%31s %15s", dev, rwbs) == 2 && strchr(rwbs, 'F'))
			n++;
	}
	fclose(f);
	return n;
}

/*
 * WRITE_ZEROES of a driver without FLUSH is durable when it completes: a
 * cache flush reaches the device before it does. (No power cycle here:
 * null_blk writes the zeroes of a block it stores past its cache.)
 */
static void zeroes_flushed(const char *dp, bool direct, const char *dev)
{
	const char *const opts[] = { direct ? "--direct" : NULL, NULL };
	struct virtio_blk_discard_write_zeroes seg = {
		.sector = next_region++ * (DATA_MAX / 512), .num_sectors = DATA_MAX / 512,
	};
	int ret, st = -1, flushes = -1;
	struct vm_dev d;
	pid_t pid;

	pid = start(dp, dev, opts);
	ret = drive(&d, BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_CONFIG_WCE));
	if (!ret && trace_start(dev)) {
		memcpy(data(), &seg, sizeof(seg));
		st = req(&d, VIRTIO_BLK_T_WRITE_ZEROES, 0, sizeof(seg));
		flushes = trace_flushes();
	}
	vm_undrive(&d);
	tap_ok(vm_stop(pid) && ret == 0 && st == VIRTIO_BLK_S_OK && flushes > 0,
	       "%s datapath%s: a driver without FLUSH: WRITE_ZEROES flushes the device's "
	       "cache before it completes (setup %d, status %d, %d flushes)", dp,
	       direct ? ", O_DIRECT" : "", ret, st, flushes);
}

/* ---- block size and seg_max ------------------------------------------------ */

/*
 * A driver without BLK_SIZE on a 4096-byte export of backing (with opts
 * after --logical-block-size 4096): blk_size 512, a 512-byte write at
 * sector 1 is served and lands there, in the file or on the device.
 */
static void small_blocks(const char *dp, const char *backing, const char *opt,
			 const char *what)
{
	const char *const opts[] = { "--logical-block-size", "4096", "--queue-size", "4096",
				     opt, NULL };
	struct virtio_blk_config cfg = { 0 };
	struct vm_dev d;
	int ret, st = -1;
	pid_t pid;

	pid = start(dp, backing, opts);
	ret = drive(&d, BIT(VIRTIO_BLK_F_BLK_SIZE));
	if (!ret)
		ret = vf_get_config(&d.vf, 0, sizeof(cfg), &cfg);
	if (!ret) {
		memset(data(), 0xa7, 512);
		st = req(&d, VIRTIO_BLK_T_OUT, 1, 512);
	}
	tap_ok(ret == 0 && cfg.blk_size == 512 && st == VIRTIO_BLK_S_OK &&
	       holds(backing, 512, data(), 512),
	       "%s datapath, %s, no BLK_SIZE: 512-byte blocks served (blk_size %u, status %d)",
	       dp, what, cfg.blk_size, st);
	if (!opt)
		tap_ok(cfg.seg_max == VHU_MAX_SEG,
		       "%s datapath: seg_max %u for rings of 4096 entries (want %u)", dp,
		       cfg.seg_max, VHU_MAX_SEG);
	vm_undrive(&d);
	tap_ok(vm_stop(pid), "%s datapath, %s: vhuctl stops cleanly", dp, what);
}

/*
 * A driver without BLK_SIZE on a 4096-byte export of a backing that
 * serves no smaller block: SET_FEATURES refused, logged with the reason.
 * With BLK_SIZE: a 4096-byte write is served.
 */
static void refused(const char *dp, const char *backing, const char *opt, const char *what)
{
	const char *const opts[] = { "--logical-block-size", "4096", opt, NULL };
	struct vm_dev d;
	int ret, st = -1;
	pid_t pid;

	pid = start(dp, backing, opts);
	ret = drive(&d, BIT(VIRTIO_BLK_F_BLK_SIZE));
	vm_undrive(&d);
	tap_ok(ret > 0 && file_count(logpath, "SET_FEATURES refused: the driver did not "
				     "accept VIRTIO_BLK_F_BLK_SIZE") == 1,
	       "%s datapath, %s, no BLK_SIZE: refused at SET_FEATURES, the log says why (%d)",
	       dp, what, ret);
	ret = drive(&d, 0);
	if (!ret) {
		memset(data(), 0x4b, 4096);
		st = req(&d, VIRTIO_BLK_T_OUT, 8, 4096);
	}
	vm_undrive(&d);
	tap_ok(ret == 0 && st == VIRTIO_BLK_S_OK && vm_stop(pid),
	       "%s datapath, %s, with BLK_SIZE: served (%d, status %d)", dp, what, ret, st);
}

int main(void)
{
	const char *top = getenv("VHU_TOP") ? getenv("VHU_TOP") : "../..";
	static const char *const dps[] = { "kernel", "user" };
	char wc[PATH_MAX] = "", k4[PATH_MAX] = "", f4[PATH_MAX] = "", mb[16];
	const char *img;
	struct tmp_dir dir;
	struct run r;

	setvbuf(stdout, NULL, _IOLBF, 0);
	vhuctl = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
	snprintf(script, sizeof(script), "%s/selftests/vhu/vhu_backing.sh", top);
	if (geteuid()) {
		printf("1..0 # SKIP needs root (block devices, vhu.ko)\n");
		return 0;
	}
	if (!tmp_dir_make(&dir, "vhuctl-blkvm") || vf_guest_init(&g))
		return 1;
	sock = tmp_file(&dir, "blk.sock");
	logpath = tmp_file(&dir, "vhuctl.log");
	img = tmp_file(&dir, "4k.img");
	make_file(img, DISK_MB << 20);
	snprintf(mb, sizeof(mb), "%d", DISK_MB);
	srand(getpid());

	backing("up", "wcache", mb, wc);
	backing("up", "4kn", mb, k4);
	backing("up", "file4k", mb, f4);

	if (f4[0]) {
		run_prog(&r, vhuctl, (const char *const[]){ "export", "--socket", sock,
			 "--backing", f4, "--direct", NULL }, 10000);
		tap_ok(r.status == 1 && strstr(r.err, "O_DIRECT on it needs 4096-byte alignment"),
		       "a file whose O_DIRECT needs 4096-byte alignment is refused with "
		       "512-byte blocks (status %d)", r.status);
	} else {
		tap_ok(true, "# SKIP no file on a 4Kn device here");
	}

	for (size_t i = 0; i < ARRAY_SIZE(dps); i++) {
		const char *dp = dps[i];

		if (!strcmp(dp, "kernel") && access(VHU_DEVICE_PATH, R_OK | W_OK)) {
			tap_ok(true, "# SKIP kernel datapath: %s not usable", VHU_DEVICE_PATH);
			continue;
		}
		for (int direct = 0; wc[0] && direct < 2; direct++) {
			for (int c = WC_NO_FLUSH; c <= WC_UNFLUSHED; c++)
				durability(dp, direct, c, wc);
			zeroes_flushed(dp, direct, wc);
		}
		if (!wc[0])
			tap_ok(true, "# SKIP %s datapath: no null_blk write cache here", dp);

		small_blocks(dp, img, NULL, "a buffered file");
		if (wc[0])
			small_blocks(dp, wc, "--direct", "a 512-byte device, O_DIRECT");
		if (k4[0]) {
			refused(dp, k4, "--direct", "a 4Kn device, O_DIRECT");
			refused(dp, k4, NULL, "a 4Kn device, buffered");
		}
		if (f4[0])
			refused(dp, f4, "--direct", "a file on a 4Kn device, O_DIRECT");
	}

	if (wc[0])
		backing("down", "wcache", wc, NULL);
	if (k4[0])
		backing("down", "4kn", k4, NULL);
	if (f4[0])
		backing("down", "file4k", f4, NULL);
	diag_file("vhuctl (last run)", logpath, 40);
	vf_guest_fini(&g);
	tap_ok(tmp_dir_remove(&dir), "no files left behind");
	return tap_done();
}
