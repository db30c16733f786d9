// SPDX-License-Identifier: GPL-2.0
/*
 * `vhuctl export` at its defaults (no --queue-size) with one datapath,
 * driven on a ring of VHU_MAX_VRING_NUM entries through what only a real
 * datapath shows: a memory table of 32 regions with the data in the last
 * one, a read completed before the ring has a call fd, features changed
 * under the running ring, and the rings' region removed and added back
 * resized while a read waits. The host tests run it with the userspace
 * datapath, vhuctl-kernel-test with vhu.ko's (in the VM); the daemon is
 * stopped by its PID with a bounded wait.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vhu.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "t_ring_max.h"
#include "tap.h"
#include "test_util.h"
#include "util.h"
#include "vu_frontend.h"

#define NUM		VHU_MAX_VRING_NUM
#define DISK		(16u << 20)

/*
 * Guest memory, one memfd. Region 0 (gpa 0, 2M, later re-added as 4M):
 * the ring, then each slot's request header (status byte at + 16).
 * Regions 1..31 (gpa 4G on, 64K each, in a row): data; slot s reads
 * into the last one.
 */
#define MEM_SIZE	(8u << 20)
#define UA		0x7f3400000000ull
#define RING_REGION	(2u << 20)
#define AVAIL_OFF	0x80000		/* desc: 16 * NUM bytes from 0 */
#define USED_OFF	0x91000
#define HDR_OFF		0x100000
#define NDATA		(VU_MAX_MEM_SLOTS - 1)
#define DATA_GPA	0x100000000ull
#define DATA_UA		(UA + (16u << 20))
#define DATA_OFF	(4u << 20)
#define DATA_REGION	0x10000
#define BUF		4096
#define LAST_DATA_GPA	(DATA_GPA + (NDATA - 1) * DATA_REGION)

struct rm {
	const char *dp;
	struct vf vf;
	int memfd;
	uint8_t *mem;
	struct vr vr;
	int kick, call, err;
	uint64_t features;
	struct {
		uint32_t nregions, padding;
		struct vu_region_desc regions[VU_MAX_MEM_SLOTS];
	} table;
};

static uint8_t *hdr_of(struct rm *r, int s)
{
	return r->mem + HDR_OFF + s * 32;
}

static uint8_t *buf_of(struct rm *r, int s)
{
	return r->mem + DATA_OFF + (NDATA - 1) * DATA_REGION + s * BUF;
}

/* A 4K read of sector 8 * (s + 1) in slot s (descriptors 4s..4s+2), kicked. */
static void post_read(struct rm *r, int s)
{
	struct virtio_blk_outhdr *h = (void *)hdr_of(r, s);
	const struct vr_buf b[] = {
		{ HDR_OFF + s * 32, sizeof(*h), false },
		{ LAST_DATA_GPA + s * BUF, BUF, true },
		{ HDR_OFF + s * 32 + 16, 1, true },
	};

	*h = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 8 * (s + 1) };
	hdr_of(r, s)[16] = 0xaa;
	memset(buf_of(r, s), 0, BUF);
	vr_add_chain(&r->vr, 4 * s, b, ARRAY_SIZE(b));
	vr_push(&r->vr, 4 * s);
	vr_publish(&r->vr);
	vr_kick(&r->vr);
}

/* Slot s's read was used, with status OK and the sector's contents. */
static bool served(struct rm *r, int s, int ms)
{
	uint16_t want = r->vr.avail_idx;
	char pat[32];

	for (int i = 0; i < ms && vr_used_idx(&r->vr) != want; i++)
		usleep(1000);
	snprintf(pat, sizeof(pat), "vhu-sector-%d", 8 * (s + 1));
	return vr_used_idx(&r->vr) == want && hdr_of(r, s)[16] == VIRTIO_BLK_S_OK &&
	       !memcmp(buf_of(r, s), pat, strlen(pat));
}

/* A call within ms: 1; none: 0. */
static int called(struct rm *r, int ms)
{
	return vr_wait_call(&r->vr, ms) == 1;
}

static long rss_kib(pid_t pid)
{
	char path[64], line[128];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static bool make_disk(const char *path)
{
	int fd = make_file(path, DISK) ? -1 : open(path, O_WRONLY | O_CLOEXEC);
	bool ok = fd >= 0;

	for (int s = 0; ok && s < 8; s++) {
		char pat[BUF] = { 0 };

		snprintf(pat, sizeof(pat), "vhu-sector-%d", 8 * (s + 1));
		ok = pwrite(fd, pat, BUF, 8 * (s + 1) * 512) == BUF;
	}
	if (fd >= 0)
		close(fd);
	return ok;
}

static int eventfd_nb(void)
{
	return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
}

/* Negotiate, then the 32-region table: 0 or the step that failed. */
static int set_up(struct rm *r)
{
	uint64_t f, pf;
	int fds[VU_MAX_MEM_SLOTS];

	if (vf_get_u64(&r->vf, VU_REQ_GET_FEATURES, &f) ||
	    vf_req_sync(&r->vf, VU_REQ_SET_OWNER, NULL, 0, NULL, 0) ||
	    vf_get_u64(&r->vf, VU_REQ_GET_PROTOCOL_FEATURES, &pf))
		return 1;
	r->vf.pf = pf & (BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG) |
			 BIT(VU_PF_CONFIGURE_MEM_SLOTS));
	if (vf_req_sync(&r->vf, VU_REQ_SET_PROTOCOL_FEATURES, &r->vf.pf, 8, NULL, 0) ||
	    r->vf.pf != (BIT(VU_PF_REPLY_ACK) | BIT(VU_PF_CONFIG) |
			 BIT(VU_PF_CONFIGURE_MEM_SLOTS)))
		return 2;
	r->features = f & (BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_EVENT_IDX) |
			   BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_BLK_SIZE) |
			   BIT(VIRTIO_BLK_F_SEG_MAX) | BIT(VU_F_PROTOCOL_FEATURES));
	if (vf_u64_ack(&r->vf, VU_REQ_SET_FEATURES, r->features))
		return 3;
	r->table.nregions = VU_MAX_MEM_SLOTS;
	r->table.regions[0] = (struct vu_region_desc){ 0, RING_REGION, UA, 0 };
	for (int i = 0; i < NDATA; i++)
		r->table.regions[i + 1] = (struct vu_region_desc){
			DATA_GPA + i * DATA_REGION, DATA_REGION,
			DATA_UA + i * DATA_REGION, DATA_OFF + i * DATA_REGION };
	for (int i = 0; i < VU_MAX_MEM_SLOTS; i++)
		fds[i] = r->memfd;
	if (vf_req_ack(&r->vf, VU_REQ_SET_MEM_TABLE, &r->table,
		       VU_MEM_TABLE_HDR_SIZE + sizeof(r->table.regions), fds,
		       VU_MAX_MEM_SLOTS))
		return 4;
	return 0;
}

/* The ring, without a call fd, enabled: 0 or the step that failed. */
static int ring_up(struct rm *r)
{
	struct vu_vring_addr a = { .index = 0, .desc = UA, .avail = UA + AVAIL_OFF,
				   .used = UA + USED_OFF };

	vr_init(&r->vr, NUM, r->mem, r->mem + AVAIL_OFF, r->mem + USED_OFF);
	r->vr.event_idx = true;
	r->vr.kick_fd = r->kick;
	if (vf_state_ack(&r->vf, VU_REQ_SET_VRING_NUM, 0, NUM))
		return 5;
	if (vf_state_ack(&r->vf, VU_REQ_SET_VRING_BASE, 0, 0) ||
	    vf_req_ack(&r->vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) ||
	    vf_vring_fd(&r->vf, VU_REQ_SET_VRING_ERR, 0, r->err) ||
	    vf_vring_fd(&r->vf, VU_REQ_SET_VRING_KICK, 0, r->kick) ||
	    vf_state_ack(&r->vf, VU_REQ_SET_VRING_ENABLE, 0, 1))
		return 6;
	return 0;
}

/* /proc/pid/status's line "key:", its value without leading blanks, in out. */
static bool status_field(pid_t pid, const char *key, char *out, size_t size)
{
	char path[64], line[256];
	size_t klen = strlen(key);
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && !found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, key, klen) || line[klen] != ':')
			continue;
		snprintf(out, size, "%s", line + klen + 1 + strspn(line + klen + 1, " \t"));
		out[strcspn(out, "\n")] = '\0';
		found = true;
	}
	if (f)
		fclose(f);
	return found;
}

static bool status_is(pid_t pid, const char *key, const char *want)
{
	char v[128];

	if (!status_field(pid, key, v, sizeof(v)))
		return false;
	if (!strcmp(v, want))
		return true;
	tap_diag("/proc/%d/status: %s: '%s', expected '%s'", (int)pid, key, v, want);
	return false;
}

/* The daemon serves under its seccomp filter. */
static void check_sandboxed(const char *what, pid_t pid)
{
	tap_ok(status_is(pid, "Seccomp", "2") && status_is(pid, "NoNewPrivs", "1"),
	       "max ring %s: the daemon serves under its seccomp filter "
	       "(Seccomp: 2, NoNewPrivs: 1)", what);
}

/* The same, as uid and gid 65534 without supplementary groups or capabilities. */
static void check_dropped(const char *what, pid_t pid)
{
	check_sandboxed(what, pid);
	tap_ok(status_is(pid, "Uid", "65534\t65534\t65534\t65534") &&
	       status_is(pid, "Gid", "65534\t65534\t65534\t65534") &&
	       status_is(pid, "Groups", "") &&
	       status_is(pid, "CapEff", "0000000000000000") &&
	       status_is(pid, "CapPrm", "0000000000000000"),
	       "max ring %s: the daemon serves as uid/gid 65534, no groups, no capabilities",
	       what);
}

static void run(struct rm *r, pid_t pid, void (*check)(const char *what, pid_t pid))
{
	const char *dp = r->dp;
	struct vu_mem_reg_msg mr = { 0 };
	uint32_t base = 0;
	long rss;
	int ret;

	ret = set_up(r);
	rss = rss_kib(pid);
	ret = ret ?: ring_up(r);
	if (!tap_ok(ret == 0, "max ring %s: SET_VRING_NUM(%u) and 32 memory regions "
		    "taken at the defaults (step %d)", dp, NUM, ret))
		return;
	tap_diag("max ring %s: the daemon's RSS grew by %ld KiB as the ring started",
		 dp, rss_kib(pid) - rss);
	check(dp, pid);

	/* A frontend that sends the call fd last, or reconnects. */
	post_read(r, 0);
	tap_ok(served(r, 0, 5000), "max ring %s: a read is served before the ring has a call fd",
	       dp);
	ret = vf_vring_fd(&r->vf, VU_REQ_SET_VRING_CALL, 0, r->call);
	r->vr.call_fd = r->call;
	tap_ok(ret == 0 && called(r, 2000),
	       "max ring %s: SET_VRING_CALL signals the new call fd: that completion is not lost",
	       dp);

	/* EVENT_IDX off under the running ring (each check with no call pending). */
	ret = vf_u64_ack(&r->vf, VU_REQ_SET_FEATURES,
			 r->features & ~BIT(VIRTIO_RING_F_EVENT_IDX));
	r->vr.event_idx = false;
	post_read(r, 1);
	tap_ok(ret == 0 && served(r, 1, 5000) && called(r, 2000),
	       "max ring %s: SET_FEATURES without EVENT_IDX while the ring runs is taken", dp);
	*vr_used_event(&r->vr) = vr_used_idx(&r->vr) + 0x4000;
	called(r, 0);
	post_read(r, 2);
	tap_ok(served(r, 2, 5000) && called(r, 2000),
	       "max ring %s: the ring calls without looking at used_event any more", dp);
	r->vr.avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	called(r, 0);
	post_read(r, 3);
	tap_ok(served(r, 3, 5000) && !called(r, 300),
	       "max ring %s: and honours VRING_AVAIL_F_NO_INTERRUPT instead", dp);
	r->vr.avail->flags = 0;
	called(r, 0);

	/* A resize of the rings' region: QEMU's REM_MEM_REG, then ADD_MEM_REG. */
	mr.region = r->table.regions[0];
	ret = vf_req_ack(&r->vf, VU_REQ_REM_MEM_REG, &mr, sizeof(mr), NULL, 0);
	post_read(r, 4);
	usleep(200000);
	tap_ok(ret == 0 && vr_used_idx(&r->vr) == 4,
	       "max ring %s: REM_MEM_REG of the rings' region stops the ring (nothing served)",
	       dp);
	mr.region.size = 2 * RING_REGION;
	ret = vf_req_ack(&r->vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &r->memfd, 1);
	tap_ok(ret == 0 && served(r, 4, 5000) && called(r, 2000),
	       "max ring %s: ADD_MEM_REG of it, resized, restarts the ring: "
	       "the read posted meanwhile is served", dp);
	ret = vf_get_vring_base(&r->vf, 0, &base);
	tap_ok(ret == 0 && base == 5, "max ring %s: GET_VRING_BASE %u: each read served once",
	       dp, base);
}

static void ring_max(const char *vhuctl, const char *datapath, const char *what,
		     const char *const *extra, void (*check)(const char *what, pid_t pid))
{
	struct rm r = { .dp = what, .memfd = -1, .kick = -1, .call = -1, .err = -1 };
	char *argv[24] = { (char *)vhuctl, "export", "--queues", "1", "--datapath",
			   (char *)datapath };
	unsigned int argc = 6;
	const char *sock, *img, *log;
	struct tmp_dir dir;
	pid_t pid = -1;
	int st;

	if (!tmp_dir_make(&dir, "vhuctl-ringmax")) {
		tap_ok(false, "max ring %s: temporary directory", datapath);
		return;
	}
	sock = tmp_file(&dir, "vhu.sock");
	img = tmp_file(&dir, "disk.img");
	log = tmp_file(&dir, "vhuctl.log");
	r.memfd = memfd_create("ring-max", MFD_CLOEXEC);
	if (r.memfd < 0 || ftruncate(r.memfd, MEM_SIZE) ||
	    (r.mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, r.memfd,
			  0)) == MAP_FAILED || !make_disk(img)) {
		r.mem = NULL;
		tap_ok(false, "max ring %s: guest memory and disk", datapath);
		goto out;
	}
	r.kick = eventfd_nb();
	r.call = eventfd_nb();
	r.err = eventfd_nb();
	argv[argc++] = "--socket";
	argv[argc++] = (char *)sock;
	argv[argc++] = "--backing";
	argv[argc++] = (char *)img;
	for (; extra && *extra && argc < ARRAY_SIZE(argv) - 1; extra++)
		argv[argc++] = (char *)*extra;
	pid = spawn(argv, log);
	if (tap_ok(pid > 0 && vf_connect(&r.vf, sock) == 0,
		   "max ring %s: vhuctl export listens", what))
		run(&r, pid, check);
	vf_close(&r.vf);
	if (pid > 0) {
		tap_ok(!stop_child(pid, 10000, &st) && WIFEXITED(st) && !WEXITSTATUS(st),
		       "max ring %s: SIGTERM ends the daemon with status 0", what);
		if (getenv("VHUCTL_TEST_LOG") || file_count(log, "refused") > 0)
			diag_file("vhuctl", log, 50);
	}
out:
	if (r.mem)
		munmap(r.mem, MEM_SIZE);
	close_fd(&r.memfd);
	close_fd(&r.kick);
	close_fd(&r.call);
	close_fd(&r.err);
	tap_ok(tmp_dir_remove(&dir), "max ring %s: no files left behind", what);
}

void t_ring_max(const char *vhuctl, const char *datapath)
{
	ring_max(vhuctl, datapath, datapath, NULL, check_sandboxed);
}

void t_ring_max_dropped(const char *vhuctl, const char *datapath)
{
	static const char *const extra[] = { "--user", "65534", "--group", "65534", NULL };
	char what[64];

	snprintf(what, sizeof(what), "%s as uid 65534", datapath);
	if (geteuid()) {
		tap_ok(true, "# SKIP max ring %s: needs root to drop privileges", what);
		return;
	}
	ring_max(vhuctl, datapath, what, extra, check_dropped);
}
