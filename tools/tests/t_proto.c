// SPDX-License-Identifier: GPL-2.0
/*
 * Protocol tests: the export daemon (daemon.c + vu_server.c, as in vhuctl)
 * runs in a child process with the recording test datapath (test_dp.c,
 * TEST CODE) and the test frontend (vu_frontend.c) drives it through each
 * lifecycle sequence (t_proto_qemu.c, t_proto_crosvm.c, t_real_qemu.c),
 * the virtio-blk feature negotiation (t_proto_blk.c) and a catalogue of
 * bad messages (t_proto_bad.c), checking replies, what
 * reached the datapath, that the daemon stays up and that it leaks no
 * fds. The child is stopped by its PID with a bounded wait.
 */
#include <string.h>
#include <unistd.h>

#include "t_proto.h"
#include "tap.h"
#include "test_dp.h"
#include "util.h"

struct proto proto;

bool alive(struct vf *vf)
{
	uint64_t f;

	return vf_get_u64(vf, VU_REQ_GET_FEATURES, &f) == 0;
}

int fds_now(struct vf *vf)
{
	return alive(vf) ? fd_count(proto.d.pid) : -1;
}

bool connect_ok(struct vf *vf, const char *path)
{
	int ret = vf_connect(vf, path);

	if (ret)
		tap_diag("connect %s: %s", path, strerror(-ret));
	return ret == 0;
}

uint32_t log_mark(void)
{
	return tdp_log->n;
}

int wait_op(uint32_t op, uint32_t from)
{
	int i = -1;

	for (int t = 0; t < 200 && (i = tdp_find(op, from)) < 0; t++)
		usleep(10000);
	return i;
}

struct vr ring(struct vf_guest *g, int q)
{
	struct vr r;

	vf_vr(g, q, QSIZE, false, &r);
	return r;
}

long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

void t_proto(void)
{
	struct tmp_dir *dir = &proto.dir;
	struct exportd *d = &proto.d;
	int inflight_fd = -1, connects;
	struct vf_guest g;
	uint32_t m;
	struct vf vf;

	if (!tmp_dir_make(dir, "vhuctl-proto") || tdp_log_init() || vf_guest_init(&g)) {
		tap_ok(false, "proto: set up");
		return;
	}
	proto.sock0 = tmp_file(dir, "blk0.sock");
	proto.sock1 = tmp_file(dir, "blk1.sock");
	proto.sock2 = tmp_file(dir, "blk2.sock");
	exportd_add(d, proto.sock0, tmp_file(dir, "disk0.img"), DISK_SIZE, 2, &tdp_ops);
	exportd_add(d, proto.sock1, tmp_file(dir, "disk1.img"), DISK_SIZE, 1,
		    &tdp_ops)->readonly = true;
	exportd_add(d, proto.sock2, tmp_file(dir, "disk2.img"), DISK_SIZE, 2, &tdp_log_ops);
	if (!tap_ok(exportd_start(d, tmp_file(dir, "daemon.log")),
		    "daemon: listening on three sockets"))
		goto out;
	tap_ok(tdp_count(TDP_OPEN, 0) == 3, "daemon: one datapath per export");

	t_qemu_lifecycle(&g, &inflight_fd);
	t_bad_live(&g, &inflight_fd);
	t_bad_fatal();
	t_isolation();
	t_no_owner(&g);
	t_misaligned_rings(&g);
	t_set_mem_table(&g);
	t_spec(&g);
	t_blk_features();
	t_blk_size_refused();
	t_proto_log(&g);
	t_real_qemu();
	tap_ok(exportd_settle(d) == d->baseline_fds,
	       "daemon: no fd leaked across all sessions");

	/* Shutdown with a frontend connected. */
	connect_ok(&vf, proto.sock0);
	vf_realize(&vf, 2, NULL);
	m = log_mark();
	tap_ok(exportd_stop(d), "daemon: SIGTERM ends it with status 0");
	tap_ok(tdp_find(TDP_DETACH, m) >= 0 && tdp_count(TDP_CLOSE, m) == 3,
	       "daemon: shutdown releases the connection and the three datapaths");
	tap_ok(access(proto.sock0, F_OK) && access(proto.sock1, F_OK) &&
	       access(proto.sock2, F_OK), "daemon: the three sockets unlinked");
	tap_ok(vf_is_closed(&vf), "daemon: the frontend sees the connection closed");
	vf_close(&vf);
	connects = file_count(d->log, "frontend connected");
	tap_ok(connects >= 10, "daemon: logs one line per connection (%d)", connects);

out:
	exportd_stop(d);
	exportd_diag_log(d);
	close_fd(&inflight_fd);
	vf_guest_fini(&g);
	tap_ok(tmp_dir_remove(dir), "proto: no files left behind");
}
