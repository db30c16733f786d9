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
 * connection, and a clean SIGTERM. No guest: the frontend's memory is a
 * memfd in this process. Prints TAP; "1..0 # SKIP" without the module.
 */
#include <errno.h>
#include <fcntl.h>
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

#include "tap.h"
#include "test_util.h"
#include "vu_frontend.h"

#define DISK_SIZE (16u << 20)
#define QSIZE 128

static char dir[64], sock[128], img[128], logpath[128];
static const char *vhuctl;

static pid_t start_vhuctl(void)
{
	pid_t pid = fork();

	if (pid == 0) {
		int fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(vhuctl, vhuctl, "export", "--socket", sock, "--backing", img,
		      "--queues", "2", "--queue-size", "256", "--serial", "vhu-kernel-test",
		      "--datapath", "kernel", (char *)NULL);
		_exit(127);
	}
	return pid;
}

static int run_out(const char *cmd, char *out, size_t len)
{
	FILE *p = popen(cmd, "r");
	size_t n = 0;

	if (!p)
		return -1;
	n = fread(out, 1, len - 1, p);
	out[n] = '\0';
	return pclose(p);
}

/*
 * Put one VIRTIO_BLK_T_IN request for sector 1 on queue 0: header,
 * 512-byte buffer and status, as three descriptors in region 0.
 */
struct req_layout {
	uint64_t hdr, buf, status;	/* guest-physical */
	uint8_t *hdr_p, *buf_p, *status_p;
};

static void post_read(struct vf_guest *g, struct req_layout *r, uint16_t slot)
{
	struct vu_vring_addr a;
	struct vring_desc *d;
	struct vring_avail *av;
	struct virtio_blk_outhdr *h;

	vf_ring_addrs(0, QSIZE, &a);
	d = vf_guest_ptr(g, a.desc);
	av = vf_guest_ptr(g, a.avail);
	/* Request buffers at 512K in region 0 (guest-physical = offset). */
	r->hdr = VF_GPA0 + 0x80000;
	r->buf = VF_GPA0 + 0x81000;
	r->status = VF_GPA0 + 0x82000;
	r->hdr_p = g->base + 0x80000;
	r->buf_p = g->base + 0x81000;
	r->status_p = g->base + 0x82000;
	h = (void *)r->hdr_p;
	h->type = VIRTIO_BLK_T_IN;
	h->ioprio = 0;
	h->sector = 1;
	memset(r->buf_p, 0, 512);
	*r->status_p = 0xff;
	d[0] = (struct vring_desc){ r->hdr, sizeof(*h), VRING_DESC_F_NEXT, 1 };
	d[1] = (struct vring_desc){ r->buf, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2 };
	d[2] = (struct vring_desc){ r->status, 1, VRING_DESC_F_WRITE, 0 };
	av->ring[slot % QSIZE] = 0;
	__atomic_store_n(&av->idx, (uint16_t)(slot + 1), __ATOMIC_RELEASE);
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

static int kick(int efd)
{
	uint64_t one = 1;

	return write(efd, &one, 8) == 8 ? 0 : -1;
}

/* Kick, wait up to 5 s for the read posted by post_read(), check it. */
static bool kick_and_wait(int efd, const struct req_layout *r)
{
	kick(efd);
	for (int i = 0; i < 500 && *(volatile uint8_t *)r->status_p == 0xff; i++)
		usleep(10000);
	return *r->status_p == VIRTIO_BLK_S_OK && !memcmp(r->buf_p, "vhu-sector-1", 12);
}

int main(void)
{
	struct vf_guest g;
	struct vf vf;
	struct req_layout r;
	struct virtio_blk_config cfg;
	uint32_t bases[2];
	int inflight_fd = -1, st, kick_fd, ret, i;
	char out[8192], cmd[300];
	pid_t pid;

	setvbuf(stdout, NULL, _IOLBF, 0);
	vhuctl = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
	if (access("/dev/vhu", R_OK | W_OK)) {
		printf("1..0 # SKIP /dev/vhu not usable (vhu.ko not loaded, or not root)\n");
		return 0;
	}
	snprintf(dir, sizeof(dir), "/tmp/vhuctl-ktest.XXXXXX");
	if (!mkdtemp(dir) || vf_guest_init(&g))
		return 1;
	snprintf(sock, sizeof(sock), "%s/vhu.sock", dir);
	snprintf(img, sizeof(img), "%s/disk.img", dir);
	snprintf(logpath, sizeof(logpath), "%s/vhuctl.log", dir);
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

	pid = start_vhuctl();
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
	post_read(&g, &r, 0);
	tap_ok(ret == 0 && kick_and_wait(kick_fd, &r),
	       "kernel: vhu.ko serves a read posted on the ring (status %u)", *r.status_p);

	snprintf(cmd, sizeof(cmd), "%s stats --json", vhuctl);
	ret = run_out(cmd, out, sizeof(out));
	tap_ok(ret == 0 && strstr(out, "\"reqs_in\":1") && strstr(out, "\"state\":\"running\""),
	       "kernel: vhuctl stats --json shows the running vring and the read");
	if (ret || !strstr(out, "\"reqs_in\":1"))
		tap_diag("stats: %s", out);
	snprintf(cmd, sizeof(cmd), "%s version --json", vhuctl);
	ret = run_out(cmd, out, sizeof(out));
	tap_ok(ret == 0 && strstr(out, "\"loaded\":true"), "kernel: vhuctl version sees the module");

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
	pid = start_vhuctl();
	ret = vf_connect(&vf, sock);
	ret = ret ?: vf_realize(&vf, 2, NULL);
	ret = ret ?: vf_driver_ok(&vf, &g, 2, QSIZE, &inflight_fd, true);
	tap_ok(ret == 0, "kernel: a new daemon after SIGKILL takes the same inflight area (step %d)",
	       ret);
	post_read(&g, &r, 1);
	{
		uint64_t v = 0;

		/* Our kick fd again: the new daemon got vf's own. */
		ret = vf_req_ack(&vf, VU_REQ_SET_VRING_KICK, &v, 8, &kick_fd, 1);
	}
	tap_ok(ret == 0 && kick_and_wait(kick_fd, &r),
	       "kernel: the new daemon's vhu.ko serves the next read (status %u)", *r.status_p);
	snprintf(cmd, sizeof(cmd), "%s stats --json", vhuctl);
	ret = run_out(cmd, out, sizeof(out));
	tap_ok(ret == 0 && strstr(out, "\"reqs_in\":1,") && strstr(out, "\"last_avail_idx\":2"),
	       "kernel: the new device ran that read only, resuming at avail index 2");
	if (ret || !strstr(out, "\"reqs_in\":1,"))
		tap_diag("stats: %s", out);
	check_area(inflight_fd, 2, 2, "after the hand-over");

	/* An area that contradicts the used ring: refused, and the log says so. */
	{
		off_t size = lseek(inflight_fd, 0, SEEK_END);
		uint8_t *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED,
				  inflight_fd, 0);
		struct vhu_inflight_queue *h = (void *)p;
		bool said = false;
		FILE *f;

		ret = p == MAP_FAILED ? -1 : vf_stop(&vf, 2, bases);
		if (p != MAP_FAILED) {
			h->used_idx += 200;
			ret = ret ?: vf_driver_ok(&vf, &g, 2, QSIZE, &inflight_fd, false);
			h->used_idx -= 200;
			munmap(p, size);
		}
		f = fopen(logpath, "r");
		while (f && fgets(out, sizeof(out), f))
			said |= !!strstr(out, "does not match the used ring");
		if (f)
			fclose(f);
		tap_ok(ret == -10 && said,
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

	kill(pid, SIGTERM);
	ret = wait_pid_bounded(pid, 10000, &st);
	if (ret) {
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	}
	tap_ok(!ret && WIFEXITED(st) && WEXITSTATUS(st) == 0 && access(sock, F_OK),
	       "kernel: SIGTERM: exit status 0, socket removed");
	{
		FILE *f = fopen(logpath, "r");
		char line[300];

		while (f && fgets(line, sizeof(line), f))
			tap_diag("vhuctl: %.*s", (int)strcspn(line, "\n"), line);
		if (f)
			fclose(f);
	}
	if (inflight_fd >= 0)
		close(inflight_fd);
	close(kick_fd);
	vf_guest_fini(&g);
	unlink(logpath);
	unlink(img);
	tap_ok(rmdir(dir) == 0, "kernel: no files left behind");
	return tap_done();
}
