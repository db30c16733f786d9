// SPDX-License-Identifier: GPL-2.0
/*
 * Fault containment and fd validation: what a hostile frontend hands over
 * is checked (notifier fds must be eventfds, memory fds regular files long
 * enough), and a frontend that shrinks its memory under the daemon's
 * mappings loses its own connection only.
 *
 * The guard in this process first (vu_guard.c: a registered mapping that
 * faults reads as zeroes, anything else stays fatal), then a daemon with
 * the userspace datapath and two exports, one of them hostile.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "t_proto.h"
#include "t_user.h"
#include "tap.h"
#include "util.h"
#include "vu_guard.h"
#include "vu_mem.h"

/* ---- the guard in this process ------------------------------------------ */

static void t_guard(void)
{
	struct vu_guard g;
	unsigned int before = vu_guard_count();
	long pg = sysconf(_SC_PAGESIZE);
	volatile uint8_t *p;
	int fd, st = -1;
	pid_t pid;

	fd = memfd_create("t_contain", MFD_CLOEXEC);
	if (!tap_ok(fd >= 0 && !ftruncate(fd, 4 * pg) && !vu_guard_init(&g),
		    "contain: guard set up"))
		return;
	p = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	tap_ok(p != MAP_FAILED && !vu_guard_add(&g, (void *)p, 4 * pg, false) &&
	       vu_guard_count() == before + 1, "contain: a mapping is registered");
	p[3 * pg] = 0x5a;
	tap_ok(!ftruncate(fd, pg) && p[3 * pg] == 0 && p[0] == 0,
	       "contain: a registered mapping cut short reads zeroes, no SIGBUS");
	p[3 * pg] = 1;
	tap_ok(vu_guard_faulted(&g) && eventfd_read(g.fd, &(eventfd_t){ 0 }) == 0,
	       "contain: the fault marks its guard and signals its eventfd");
	vu_guard_remove((void *)p);
	munmap((void *)p, 4 * pg);
	tap_ok(vu_guard_count() == before, "contain: a removed mapping is forgotten");

	/* The same outside every registered mapping: the process dies. */
	fflush(stdout);
	pid = fork();
	if (!pid) {
		if (ftruncate(fd, 4 * pg))
			_exit(2);
		p = mmap(NULL, 4 * pg, PROT_READ, MAP_SHARED, fd, 0);
		if (p == MAP_FAILED || ftruncate(fd, 0))
			_exit(2);
		_exit(p[pg]);
	}
	wait_pid_bounded(pid, 3000, &st);
	tap_ok(pid > 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGBUS,
	       "contain: a SIGBUS outside guest memory is still fatal (status 0x%x)", st);
	vu_guard_fini(&g);
	close(fd);
}

/* ---- the daemon: two exports, one hostile frontend ----------------------- */

static struct {
	struct tmp_dir dir;
	const char *sock_a, *sock_b, *img_b;
	struct exportd d;
} c;

/* SET_VRING_<req> for queue 0 with fd: refused, the connection kept. */
static bool refused_fd(struct vf *vf, uint32_t req, int fd)
{
	uint64_t v = 0;

	return vf_req_ack(vf, req, &v, sizeof(v), &fd, 1) > 0 && alive(vf);
}

static void t_bad_fds(void)
{
	struct vu_inflight_msg inf = { .num_queues = 1, .queue_size = QSIZE };
	struct vu_mem_reg_msg mr = { 0 };
	int pfd[2] = { -1, -1 }, sp[2] = { -1, -1 }, file, zero, shm, ev;
	struct vf vf;

	if (!tap_ok(!vf_connect(&vf, c.sock_a) && !vf_realize(&vf, 1, NULL),
		    "contain: frontend realized before the bad fds"))
		return;
	file = open(c.img_b, O_RDONLY | O_CLOEXEC);
	zero = open("/dev/zero", O_RDWR | O_CLOEXEC);
	shm = memfd_create("t_contain", MFD_CLOEXEC);
	ev = eventfd(0, EFD_CLOEXEC);
	if (!tap_ok(!pipe2(pfd, O_CLOEXEC) && file >= 0 && zero >= 0 && shm >= 0 &&
		    ev >= 0 && !socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) &&
		    !ftruncate(shm, VF_REGION_SIZE / 2), "contain: bad fds made"))
		goto out;

	tap_ok(refused_fd(&vf, VU_REQ_SET_VRING_CALL, pfd[1]),
	       "contain: a pipe as the call fd refused");
	tap_ok(refused_fd(&vf, VU_REQ_SET_VRING_KICK, file),
	       "contain: a regular file as the kick fd refused");
	tap_ok(refused_fd(&vf, VU_REQ_SET_VRING_ERR, sp[0]),
	       "contain: a socket as the err fd refused");
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_VRING_CALL, &(uint64_t){ 0 }, 8, &ev, 1) == 0,
	       "contain: an eventfd as the call fd still taken");
	tap_ok(file_count(c.d.log, "not an eventfd") == 3,
	       "contain: each refusal says the fd is not an eventfd");
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_BACKEND_REQ_FD, NULL, 0, &pfd[1], 1) > 0 &&
	       alive(&vf) && file_count(c.d.log, "not a socket") == 1,
	       "contain: a pipe as the backend request fd refused");

	mr.region = (struct vu_region_desc){ VF_GPA0, VF_REGION_SIZE, VF_UADDR0, 0 };
	tap_ok(vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &zero, 1) > 0 &&
	       alive(&vf), "contain: /dev/zero as guest memory refused");
	tap_ok(vf_req_ack(&vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &shm, 1) > 0 &&
	       alive(&vf), "contain: a memfd shorter than its region refused");
	{
		struct vu_mem_table_msg t = { .nregions = 1 };

		t.regions[0] = mr.region;
		tap_ok(vf_req_ack(&vf, VU_REQ_SET_MEM_TABLE, &t, 8 + 32, &shm, 1) > 0 &&
		       alive(&vf), "contain: SET_MEM_TABLE with a short memfd refused");
		tap_ok(vf_req_ack(&vf, VU_REQ_SET_MEM_TABLE, &t, 8 + 32, &zero, 1) > 0 &&
		       alive(&vf), "contain: SET_MEM_TABLE with /dev/zero refused");
	}
	tap_ok(file_count(c.d.log, "not a regular file") == 2,
	       "contain: the refusals say the fd is not a regular file");

	inf.mmap_size = VF_REGION_SIZE;
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_INFLIGHT_FD, &inf, sizeof(inf), &zero, 1) > 0 &&
	       alive(&vf), "contain: /dev/zero as the inflight area refused");
	tap_ok(vf_req_ack(&vf, VU_REQ_SET_INFLIGHT_FD, &inf, sizeof(inf), &shm, 1) > 0 &&
	       alive(&vf), "contain: an inflight memfd shorter than the area refused");
out:
	close_fd(&pfd[0]);
	close_fd(&pfd[1]);
	close_fd(&sp[0]);
	close_fd(&sp[1]);
	close_fd(&file);
	close_fd(&zero);
	close_fd(&shm);
	close_fd(&ev);
	vf_close(&vf);
}

/* Nothing open yet, for the cleanup path (dev_open() does the rest). */
static void dev_none(struct tdev *d, struct vf_guest *g)
{
	memset(d, 0, sizeof(*d));
	d->vf.sock = -1;
	d->vf.backend_fd = -1;
	d->inflight_fd = -1;
	for (unsigned int i = 0; i < NQ_MAX; i++)
		d->q[i].vr.kick_fd = d->q[i].vr.call_fd = d->q[i].err = -1;
	memset(g, 0, sizeof(*g));
	g->fd = -1;
}

/* A write of a pattern and its read back on d's queue 0, and the file. */
static bool io_works(struct tdev *d, int img, uint8_t seed)
{
	uint8_t *buf = gptr(d->g, data_gpa(0, 0)), want[4096], got[4096];

	for (size_t i = 0; i < sizeof(want); i++)
		want[i] = seed + i * 7;
	memcpy(buf, want, sizeof(want));
	if (one(d, 0, VIRTIO_BLK_T_OUT, 8, sizeof(want)) != VIRTIO_BLK_S_OK)
		return false;
	memset(buf, 0, sizeof(want));
	if (one(d, 0, VIRTIO_BLK_T_IN, 8, sizeof(want)) != VIRTIO_BLK_S_OK)
		return false;
	return !memcmp(buf, want, sizeof(want)) &&
	       pread(img, got, sizeof(got), 4096) == (ssize_t)sizeof(got) &&
	       !memcmp(got, want, sizeof(want));
}

/*
 * The data region cut off under the daemon: io_uring reads and writes
 * into it fail with EFAULT in the kernel, no signal; the requests
 * complete with IOERR and the connection stays.
 */
static void t_efault(int img_b)
{
	struct vf_guest g;
	struct tdev d;

	dev_none(&d, &g);
	if (!tap_ok(!vf_guest_init(&g) && !dev_open(&d, &g, c.sock_b, 1, true, false, true) &&
		    io_works(&d, img_b, 3), "contain: efault: device running"))
		goto out;
	if (!tap_ok(!ftruncate(g.fd, VF_REGION_SIZE), "contain: efault: data region cut off"))
		goto out;
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, 0, 4096) == VIRTIO_BLK_S_IOERR,
	       "contain: efault: a read into the lost pages completes with IOERR");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_OUT, 0, 4096) == VIRTIO_BLK_S_IOERR,
	       "contain: efault: a write from the lost pages completes with IOERR");
	tap_ok(alive(&d.vf) && exportd_alive(&c.d),
	       "contain: efault: connection and daemon alive");
out:
	dev_close(&d);
	vf_guest_fini(&g);
}

/*
 * Frontend A shrinks its memfd to nothing after its memory table and
 * kicks: the daemon's queue thread faults on A's rings. A's connection is
 * dropped with one log line; B, in the same daemon, goes on.
 */
static void t_shrink(int img_b)
{
	struct vf_guest ga, gb, ga2;
	struct tdev a, b, a2;
	bool ok;

	dev_none(&a, &ga);
	dev_none(&b, &gb);
	dev_none(&a2, &ga2);
	ok = !vf_guest_init(&ga) && !vf_guest_init(&gb) && !vf_guest_init(&ga2) &&
	     !dev_open(&a, &ga, c.sock_a, 1, true, false, true) &&
	     !dev_open(&b, &gb, c.sock_b, 1, true, false, true);
	if (!tap_ok(ok && one(&a, 0, VIRTIO_BLK_T_IN, 0, 4096) == VIRTIO_BLK_S_OK &&
		    io_works(&b, img_b, 1), "contain: shrink: both exports do I/O"))
		goto out;

	/* Posted while A's memory is whole; the kick comes after the shrink. */
	post_req(&a, 0, 0, VIRTIO_BLK_T_IN, 0, 4096);
	if (!tap_ok(!ftruncate(ga.fd, 0), "contain: shrink: A's memfd shrunk to 0"))
		goto out;
	kick(&a, 0);
	tap_ok(vf_is_closed(&a.vf), "contain: shrink: A's connection is dropped");
	tap_ok(alive(&b.vf) && io_works(&b, img_b, 2),
	       "contain: shrink: B still completes I/O correctly");
	/* B's connection answering is what shows it: a dying daemon closes it. */
	tap_ok(alive(&b.vf) && exportd_alive(&c.d), "contain: shrink: the daemon lives");
	tap_ok(file_count(c.d.log, "faulted") == 1 &&
	       file_count(c.d.log, "shrank an unsealed memory fd") == 1,
	       "contain: shrink: one log line says why A was dropped");
	tap_ok(file_count(c.d.log, "ring error") == 0,
	       "contain: shrink: no misleading ring error");

	/* The export takes the next frontend afresh. */
	tap_ok(!dev_open(&a2, &ga2, c.sock_a, 1, true, false, true) &&
	       one(&a2, 0, VIRTIO_BLK_T_IN, 0, 4096) == VIRTIO_BLK_S_OK,
	       "contain: shrink: A's export serves a new frontend");
out:
	dev_close(&a2);
	dev_close(&a);
	dev_close(&b);
	vf_guest_fini(&ga);
	vf_guest_fini(&gb);
	vf_guest_fini(&ga2);
}

void t_contain(void)
{
	int img_b = -1;

	t_guard();

	if (!tmp_dir_make(&c.dir, "vhuctl-contain")) {
		tap_ok(false, "contain: set up");
		return;
	}
	c.sock_a = tmp_file(&c.dir, "a.sock");
	c.sock_b = tmp_file(&c.dir, "b.sock");
	c.img_b = tmp_file(&c.dir, "b.img");
	exportd_add(&c.d, c.sock_a, tmp_file(&c.dir, "a.img"), DISK_SIZE, 1,
		    &vu_dp_user_ops);
	exportd_add(&c.d, c.sock_b, c.img_b, DISK_SIZE, 1, &vu_dp_user_ops);
	img_b = open(c.img_b, O_RDONLY | O_CLOEXEC);
	if (!tap_ok(img_b >= 0 && exportd_start(&c.d, tmp_file(&c.dir, "daemon.log")),
		    "contain: daemon with two exports listening"))
		goto out;

	t_bad_fds();
	t_efault(img_b);
	t_shrink(img_b);

	tap_ok(exportd_settle(&c.d) == c.d.baseline_fds,
	       "contain: the daemon's fds are back to the baseline (%d)", c.d.baseline_fds);
	tap_ok(exportd_stop(&c.d), "contain: SIGTERM ends the daemon cleanly");
out:
	exportd_stop(&c.d);
	exportd_diag_log(&c.d);
	close_fd(&img_b);
	tap_ok(tmp_dir_remove(&c.dir), "contain: no files left behind");
}
