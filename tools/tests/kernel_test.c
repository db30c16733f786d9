// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl-kernel-test: the vhuctl binary with the kernel datapath, driven
 * by the test frontend, where vhu.ko is loaded (in the VM rig; root).
 *
 * It starts `vhuctl export --datapath kernel` by its PID, and checks the
 * protocol life cycle through the real /dev/vhu ioctls: realize, config
 * from VHU_GET_DEV_INFO, DRIVER_OK with memory slots, the module serving
 * a read the "guest" puts on the ring, stop (GET_VRING_BASE from the
 * module), restart, hot-unplug, `vhuctl stats`, disconnect and a new
 * connection (a daemon with --busy-poll), a frontend that shrinks its memory under the module, and a
 * clean SIGTERM; then t_ring_max.c's session on the
 * largest ring at vhuctl's defaults, as the host tests run it with the
 * userspace datapath, and the replays of Cloud Hypervisor, Firecracker
 * and crosvm (replay.h) on the kernel datapath. No guest: the
 * frontend's memory is a memfd in this process. Prints TAP;
 * "1..0 # SKIP" without the module.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/vhu.h>
#include <linux/virtio_blk.h>
#include <linux/virtio_ring.h>

#include "t_ring_max.h"
#include "replay.h"
#include "tap.h"
#include "test_util.h"
#include "util.h"
#include "vu_frontend.h"

#define DISK_SIZE (16u << 20)
#define QSIZE 128

static const char *vhuctl, *sock, *img, *logpath;

/* @busy_poll: with --busy-poll 50 (VHU_SET_VRING_BUSY_POLL on each vring). */
static pid_t start_vhuctl(bool busy_poll)
{
	return spawn((char *[]){ (char *)vhuctl, "export", "--socket", (char *)sock,
				 "--backing", (char *)img, "--queues", "2",
				 "--queue-size", "256", "--serial", "vhu-kernel-test",
				 "--datapath", "kernel",
				 busy_poll ? "--busy-poll" : NULL, "50", NULL }, logpath);
}

/*
 * `vhuctl stats --json` shows both strings; its output as a diagnostic
 * if not.
 */
static bool stats_show(const char *a, const char *b)
{
	static struct run r;

	run_prog(&r, vhuctl, (const char *const[]){ "stats", "--kernel", "--json", NULL }, 10000);
	if (r.status == 0 && strstr(r.out, a) && strstr(r.out, b))
		return true;
	tap_diag("stats (status %d): %s%s", r.status, r.out, r.err);
	return false;
}

/* The request's buffers at 512K in region 0 (guest-physical = offset). */
#define REQ_HDR		0x80000
#define REQ_BUF		0x81000
#define REQ_STATUS	0x82000

/*
 * One VIRTIO_BLK_T_IN request for sector 1 in the next avail entry of
 * queue 0's ring, as the device left it: header, 512-byte buffer and
 * status as descriptors 0, 1 and 2. Kicks go to kick_fd.
 */
static void post_read(struct vf_guest *g, struct vr *vr, int kick_fd)
{
	struct virtio_blk_outhdr *h = (void *)(g->base + REQ_HDR);
	const struct vr_buf b[] = {
		{ VF_GPA0 + REQ_HDR, sizeof(*h), false },
		{ VF_GPA0 + REQ_BUF, 512, true },
		{ VF_GPA0 + REQ_STATUS, 1, true },
	};

	*h = (struct virtio_blk_outhdr){ .type = VIRTIO_BLK_T_IN, .sector = 1 };
	memset(g->base + REQ_BUF, 0, 512);
	g->base[REQ_STATUS] = 0xff;
	vf_vr(g, 0, QSIZE, false, vr);
	vr->kick_fd = kick_fd;
	vr_add_chain(vr, 0, b, ARRAY_SIZE(b));
	vr_push(vr, 0);
	vr_publish(vr);
}

/* vhu.ko recorded @used requests in the area, the last with @counter. */
static void check_area(int fd, uint16_t used, uint64_t counter, const char *when)
{
	off_t size = lseek(fd, 0, SEEK_END);
	uint8_t *p = size > 0 ? mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0) : MAP_FAILED;
	const struct vhu_inflight_queue *h = (const void *)p;
	const struct vhu_inflight_desc *d = h->desc;

	if (p == MAP_FAILED) {
		tap_ok(false, "kernel: inflight area readable %s", when);
		return;
	}
	tap_ok(h->version == 1 && h->desc_num == QSIZE && h->used_idx == used &&
	       d[0].counter == counter && !d[0].inflight,
	       "kernel: vhu.ko tracks requests in the inflight area %s "
	       "(version %u, used_idx %u, counter %llu)", when, h->version, h->used_idx,
	       (unsigned long long)d[0].counter);
	munmap(p, size);
}

/*
 * Kick, wait up to 5 s for the device to use the read post_read() put on
 * the ring, check its status (in *status) and data.
 */
static bool read_served(struct vf_guest *g, struct vr *vr, uint8_t *status)
{
	uint32_t head = ~0u, len;
	bool used = false;

	if (!vr_kick(vr))
		for (int i = 0; i < 500 && !(used = vr_get_used(vr, &head, &len)); i++)
			usleep(10000);
	*status = g->base[REQ_STATUS];
	return used && head == 0 && *status == VIRTIO_BLK_S_OK &&
	       !memcmp(g->base + REQ_BUF, "vhu-sector-1", 12);
}

int main(void)
{
	struct virtio_blk_config cfg;
	struct tmp_dir dir;
	struct vf_guest g;
	uint32_t bases[2];
	uint8_t status;
	struct vf vf;
	struct vr vr;
	int inflight_fd = -1, st, kick_fd, ret;
	pid_t pid;
	bool ok;

	setvbuf(stdout, NULL, _IOLBF, 0);
	vhuctl = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
	if (access("/dev/vhu", R_OK | W_OK)) {
		printf("1..0 # SKIP /dev/vhu not usable (vhu.ko not loaded, or not root)\n");
		return 0;
	}
	if (!tmp_dir_make(&dir, "vhuctl-ktest") || vf_guest_init(&g))
		return 1;
	sock = tmp_file(&dir, "vhu.sock");
	img = tmp_file(&dir, "disk.img");
	logpath = tmp_file(&dir, "vhuctl.log");
	make_file(img, DISK_SIZE);
	{
		/* Sector 1 holds a known pattern. */
		int fd = open(img, O_WRONLY);
		char pat[512];

		memset(pat, 0x5a, sizeof(pat));
		memcpy(pat, "vhu-sector-1", 12);
		if (fd < 0 || pwrite(fd, pat, 512, 512) != 512)
			return 1;
		close(fd);
	}

	pid = start_vhuctl(false);
	tap_ok((vf_connect(&vf, sock) == 0), "kernel: vhuctl export --datapath kernel listens");
	ret = vf_realize(&vf, 2, NULL);
	tap_ok(ret == 0, "kernel: QEMU 7.2 realize sequence (step %d)", ret);
	{
		struct vu_config_msg c = { .offset = 0, .size = sizeof(cfg) };
		struct vu_hdr h;

		ret = vf_send(&vf, VU_REQ_GET_CONFIG, false, &c, 12 + sizeof(cfg), NULL, 0);
		ret = ret ?: vf_recv(&vf, &h, &c, sizeof(c), NULL);
		memcpy(&cfg, c.data, sizeof(cfg));
		tap_ok(ret == 0 && h.flags == 0x5 && cfg.capacity == DISK_SIZE / 512 &&
		       cfg.num_queues == 2 && cfg.blk_size == 512,
		       "kernel: GET_CONFIG from VHU_GET_DEV_INFO (capacity %llu, %u queues)",
		       (unsigned long long)cfg.capacity, cfg.num_queues);
	}
	ret = vf_driver_ok(&vf, &g, 2, QSIZE, &inflight_fd, true);
	tap_ok(ret == 0, "kernel: DRIVER_OK sequence through the ioctls (step %d)", ret);

	/* The queue's kick fd was sent by vf_driver_ok; send our own to kick. */
	kick_fd = eventfd(0, EFD_CLOEXEC);
	{
		uint64_t v = 0;

		ret = vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &v, 8, &kick_fd, 1);
	}
	post_read(&g, &vr, kick_fd);
	ok = read_served(&g, &vr, &status) && ret == 0;
	tap_ok(ok, "kernel: vhu.ko serves a read posted on the ring (status %u)", status);

	tap_ok(stats_show("\"reqs_in\":1", "\"state\":\"running\""),
	       "kernel: vhuctl stats --json shows the running vring and the read");
	{
		char name[PATH_MAX + 16], backing[PATH_MAX + 16];

		/* Plain temporary paths: nothing in them JSON would escape. */
		snprintf(name, sizeof(name), "\"name\":\"%s\"", sock);
		snprintf(backing, sizeof(backing), "\"backing\":\"%s\"", img);
		tap_ok(stats_show(name, backing),
		       "kernel: vhuctl stats --json names the device after its socket, with its backing");
	}
	{
		static struct run r;

		run_prog(&r, vhuctl, (const char *const[]){ "version", "--json", NULL }, 10000);
		tap_ok(r.status == 0 && strstr(r.out, "\"loaded\":true"),
		       "kernel: vhuctl version sees the module");
	}

	ret = vf_stop(&vf, 2, bases);
	tap_ok(ret == 0 && bases[0] == 1 && bases[1] == 0,
	       "kernel: stop; GET_VRING_BASE from the module (%u, %u)", bases[0], bases[1]);

	/* Restart at the saved base (used idx is 1 now). */
	ret = vf_driver_ok(&vf, &g, 2, QSIZE, &inflight_fd, false);
	tap_ok(ret == 0, "kernel: restart after stop (step %d)", ret);
	{
		struct vu_mem_reg_msg mr = { 0, g.r[1] };

		tap_ok(vf_req_ack(&vf, VU_REQ_REM_MEM_REG, &mr, sizeof(mr), NULL, 0) == 0 &&
		       vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g.fd, 1) == 0,
		       "kernel: hot-unplug and replug a region while running");
	}
	{
		struct vu_config_msg c = {
			.offset = offsetof(struct virtio_blk_config, wce), .size = 1,
		};
		uint8_t wce = 1;

		c.data[0] = 0;
		ret = vf_req_ack(&vf, VU_REQ_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 1, NULL, 0);
		tap_ok(ret == 0 && vf_get_config(&vf, c.offset, 1, &wce) == 0 && wce == 0,
		       "kernel: SET_CONFIG turns the write cache off (vhu.ko writes through)");
		c.data[0] = 1;
		tap_ok(vf_req_ack(&vf, VU_REQ_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 1, NULL, 0) == 0,
		       "kernel: and back on");
	}
	check_area(inflight_fd, 1, 1, "after the first read");

	/*
	 * The daemon is killed; the module finished the device's I/O when
	 * its fd closed. A new daemon takes over through the same inflight
	 * area, as QEMU reconnects: nothing is done twice, nothing is lost.
	 */
	kill(pid, SIGKILL);
	waitpid(pid, &st, 0);
	vf_close(&vf);
	/* The new daemon busy-polls: the same reads, kicked or polled. */
	pid = start_vhuctl(true);
	ret = vf_connect(&vf, sock);
	ret = ret ?: vf_realize(&vf, 2, NULL);
	ret = ret ?: vf_driver_ok(&vf, &g, 2, QSIZE, &inflight_fd, true);
	tap_ok(ret == 0, "kernel: a new daemon after SIGKILL takes the same inflight area (step %d)",
	       ret);
	{
		uint64_t v = 0;

		/*
		 * Our kick fd again: the new daemon got vf's own. Before the
		 * read: a new kick fd restarts the running ring, and with it
		 * the ring's counters, which a read served before the restart
		 * (a pass or a poll of the worker may take it unkicked) would
		 * then be missing from.
		 */
		ret = vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &v, 8, &kick_fd, 1);
	}
	post_read(&g, &vr, kick_fd);
	ok = read_served(&g, &vr, &status) && ret == 0;
	tap_ok(ok, "kernel: the new daemon's vhu.ko serves the next read, with --busy-poll 50 "
	       "(status %u)", status);
	tap_ok(stats_show("\"reqs_in\":1,", "\"last_avail_idx\":2"),
	       "kernel: the new device ran that read only, resuming at avail index 2");
	check_area(inflight_fd, 2, 2, "after the hand-over");

	/* An area that contradicts the used ring: refused, and the log says so. */
	{
		off_t size = lseek(inflight_fd, 0, SEEK_END);
		uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
				  inflight_fd, 0);
		struct vhu_inflight_queue *h = (void *)p;

		ret = p == MAP_FAILED ? -1 : vf_stop(&vf, 2, bases);
		if (p != MAP_FAILED) {
			h->used_idx += 200;
			ret = ret ?: vf_driver_ok(&vf, &g, 2, QSIZE, &inflight_fd, false);
			h->used_idx -= 200;
			munmap(p, size);
		}
		tap_ok(ret == -10 && file_count(logpath, "does not match the used ring") > 0,
		       "kernel: a start on an inconsistent inflight area is refused and logged (step %d)",
		       ret);
	}
	vf_close(&vf);
	usleep(200000);

	/*
	 * A new frontend after the disconnect (device reset by RESET_OWNER):
	 * new guest memory, so a new inflight area too.
	 */
	memset(g.base, 0, VF_MEM_SIZE);
	close(inflight_fd);
	inflight_fd = -1;
	tap_ok((vf_connect(&vf, sock) == 0) && vf_realize(&vf, 2, NULL) == 0 &&
	       vf_driver_ok(&vf, &g, 2, QSIZE, &inflight_fd, true) == 0,
	       "kernel: a new connection after the disconnect sets the device up again");
	vf_close(&vf);

	/*
	 * A frontend that shrinks its memfd under a posted read, then kicks:
	 * vhu.ko reaches guest memory with uaccess through the daemon's
	 * mappings, so the lost pages are -EFAULT in the module (the vring
	 * stops with a ring error), never a SIGBUS in the daemon, which
	 * serves the next frontend.
	 */
	{
		static struct run r;
		struct vf_guest h;
		int hfd = -1;
		uint64_t v = 0;

		ok = !vf_guest_init(&h) && !vf_connect(&vf, sock) &&
		     !vf_realize(&vf, 2, NULL) &&
		     !vf_driver_ok(&vf, &h, 2, QSIZE, &hfd, true) &&
		     !vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &v, 8, &kick_fd, 1);
		if (ok) {
			post_read(&h, &vr, kick_fd);
			/* From here on h's memory is not ours to touch either. */
			ok = !ftruncate(h.fd, 0) && !eventfd_write(kick_fd, 1);
		}
		for (int i = 0; ok && i < 50; i++) {
			run_prog(&r, vhuctl, (const char *const[]){ "stats", "--kernel", "--json", NULL },
				 10000);
			if (strstr(r.out, "\"ring_errors\":1"))
				break;
			usleep(100000);
		}
		tap_ok(ok && strstr(r.out, "\"ring_errors\":1"),
		       "kernel: a frontend's memfd shrunk under a posted read: vhu.ko "
		       "stops the vring with a ring error");
		tap_ok(vf_get_u64(&vf, VU_REQ_GET_FEATURES, &v) == 0 &&
		       waitpid(pid, &st, WNOHANG) == 0,
		       "kernel: the daemon lives and the shrinking frontend's connection answers");
		vf_close(&vf);
		close_fd(&hfd);
		vf_guest_fini(&h);
		usleep(200000);
		ret = vf_connect(&vf, sock);
		ret = ret ?: vf_realize(&vf, 2, NULL);
		ret = ret ?: vf_driver_ok(&vf, &g, 2, QSIZE, &inflight_fd, true);
		v = 0;
		ret = ret ?: vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &v, 8, &kick_fd, 1);
		post_read(&g, &vr, kick_fd);
		ok = read_served(&g, &vr, &status) && ret == 0;
		tap_ok(ok, "kernel: the next frontend's read is served (status %u, step %d)",
		       status, ret);
		vf_close(&vf);
	}

	kill(pid, SIGTERM);
	ret = wait_pid_bounded(pid, 10000, &st);
	if (ret) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	tap_ok(!ret && WIFEXITED(st) && WEXITSTATUS(st) == 0 && access(sock, F_OK),
	       "kernel: SIGTERM: exit status 0, socket removed");
	diag_file("vhuctl", logpath, INT_MAX);
	if (inflight_fd >= 0)
		close(inflight_fd);
	close(kick_fd);
	vf_guest_fini(&g);
	tap_ok(tmp_dir_remove(&dir), "kernel: no files left behind");
	t_ring_max(vhuctl, "kernel");
	t_ring_max_dropped(vhuctl, "kernel");
	replay_run("kernel");
	return tap_done();
}
