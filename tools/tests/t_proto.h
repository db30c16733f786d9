/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the protocol tests share (t_proto*.c, t_real_qemu.c): the export
 * daemon with the recording test datapath (test_dp.c, TEST CODE), its
 * exports, and helpers to drive it with the test frontend.
 */
#ifndef T_PROTO_H
#define T_PROTO_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "exportd.h"
#include "test_util.h"
#include "vu_frontend.h"

#define DISK_SIZE (8u << 20)
#define QSIZE 256

/*
 * The daemon with the recording datapath: export 0 on sock0 (2 queues),
 * export 1 on sock1 (read-only, 1 queue), export 2 on sock2 (2 queues, a
 * datapath that logs dirty pages: tdp_log_ops).
 */
struct proto {
	struct tmp_dir dir;
	const char *sock0, *sock1, *sock2;
	struct exportd d;
};

extern struct proto proto;

/* The connection still answers (a GET_FEATURES round trip). */
bool alive(struct vf *vf);
/* fd count once every earlier message is fully handled (a round trip). */
int fds_now(struct vf *vf);
/* vf_connect(), with a diagnostic when it fails. */
bool connect_ok(struct vf *vf, const char *path);
/* Where the datapath's log stands: events from here on are new. */
uint32_t log_mark(void);
/* Wait for the daemon to have logged an op (it runs asynchronously). */
int wait_op(uint32_t op, uint32_t from);
/* Queue q's ring, to set what the recording datapath reads of it. */
struct vr ring(struct vf_guest *g, int q);
long ms_since(const struct timespec *t0);

/* The test groups, in the order t_proto() runs them. */
void t_qemu_lifecycle(struct vf_guest *g, int *inflight_fd);	/* t_proto_qemu.c */
void t_bad_live(struct vf_guest *g, int *inflight_fd);		/* t_proto_bad.c */
void t_bad_fatal(void);
void t_isolation(void);
void t_no_owner(struct vf_guest *g);				/* t_proto_owner.c */
void t_misaligned_rings(struct vf_guest *g);			/* t_proto_align.c */
void t_set_mem_table(struct vf_guest *g);			/* t_proto_crosvm.c */
void t_spec(struct vf_guest *g);				/* t_proto_spec.c */
void t_blk_features(void);					/* t_proto_blk.c */
void t_blk_size_refused(void);
void t_proto_log(struct vf_guest *g);				/* t_proto_log.c */
void t_real_qemu(void);						/* t_real_qemu.c */

#endif
