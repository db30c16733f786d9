// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace datapath's rings: call suppression, malformed rings (the
 * queue fails alone), and idle queues that must sleep.
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/virtio_ring.h>

#include "t_user.h"
#include "tap.h"
#include "util.h"

static bool spin_used(struct tdev *d, int qi)
{
	for (int i = 0; i < 3000; i++) {
		if (vr_used_idx(&d->q[qi].vr) == d->q[qi].vr.avail_idx)
			return true;
		usleep(1000);
	}
	return false;
}

static bool call_pending(struct tdev *d, int qi, int ms)
{
	return vr_wait_call(&d->q[qi].vr, ms) == 1;
}

/* Call suppression: NO_INTERRUPT without EVENT_IDX, used_event with it. */
void t_notify(struct vf_guest *g, bool event_idx)
{
	const char *what = event_idx ? "used_event" : "NO_INTERRUPT";
	struct vr *vr;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 1, event_idx, false, true);

	if (!tap_ok(ret == 0, "user notify %s: driver ok", what)) {
		dev_close(&d);
		return;
	}
	vr = &d.q[0].vr;
	/* The first used update always calls (as vhost): get past it. */
	one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0);
	call_pending(&d, 0, 0);
	if (event_idx)
		*vr_used_event(vr) = vr->avail_idx + 10;
	else
		vr->avail->flags = VRING_AVAIL_F_NO_INTERRUPT;
	post_req(&d, 0, 0, VIRTIO_BLK_T_IN, 0, 512);
	kick(&d, 0);
	tap_ok(spin_used(&d, 0) && !call_pending(&d, 0, 200),
	       "user notify %s: no call when the driver does not want one", what);
	vr->avail->flags = 0;
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK,
	       "user notify %s: a call once the driver asks again", what);
	if (!event_idx)
		tap_ok(vr->used->flags == 0, "user notify: idle queue asks for kicks");
	dev_close(&d);
}

/*
 * Malformed rings. Each spoils the read post_req() put in slot 0 (an
 * indirect chain) before the kick; the queue must fail alone: the err
 * eventfd fires, the daemon stays up, and GET_VRING_BASE stops at the bad
 * avail entry, base.
 */
struct bad_ring {
	const char *what;
	void (*spoil)(struct tdev *d);
	uint32_t base;
};

static struct vring_desc *table(struct tdev *d)
{
	return gptr(d->g, tbl_gpa(0, 0));
}

/* The last descriptor of the indirect table links back to its first. */
static void indirect_loop(struct tdev *d)
{
	table(d)[2].flags |= VRING_DESC_F_NEXT;
	table(d)[2].next = 0;
}

/* The avail index moves further ahead than the ring has entries. */
static void avail_index_jump(struct tdev *d)
{
	d->q[0].vr.avail->idx += QSIZE + 1;
}

/* The avail entry names a head past the descriptor table. */
static void head_out_of_range(struct tdev *d)
{
	d->q[0].vr.avail->ring[0] = QSIZE + 3;
}

/* A descriptor of the indirect table is itself indirect. */
static void nested_indirect(struct tdev *d)
{
	table(d)[1].flags |= VRING_DESC_F_INDIRECT;
}

/* The indirect table's length is not a whole number of descriptors. */
static void indirect_length(struct tdev *d)
{
	d->q[0].vr.desc[0].len = 20;
}

/* A second read, slot 1 (direct), whose chain loops back to its head. */
static void descriptor_loop(struct tdev *d)
{
	struct vring_desc *desc = d->q[0].vr.desc;

	d->indirect = false;
	post_req(d, 0, 1, VIRTIO_BLK_T_IN, 0, 512);
	desc[8 + 2].flags |= VRING_DESC_F_NEXT;
	desc[8 + 2].next = 8;
}

/* The indirect table lies outside guest memory. */
static void indirect_table_outside_memory(struct tdev *d)
{
	d->q[0].vr.desc[0].addr = 0x300000000ull;
}

static const struct bad_ring bad_rings[] = {
	{ "indirect loop", indirect_loop, 0 },
	{ "avail index jump", avail_index_jump, 0 },
	{ "head out of range", head_out_of_range, 0 },
	{ "nested indirect", nested_indirect, 0 },
	{ "indirect length", indirect_length, 0 },
	{ "descriptor loop", descriptor_loop, 1 },	/* slot 0's read is served */
	{ "indirect table outside memory", indirect_table_outside_memory, 0 },
};

static void t_bad_ring(struct vf_guest *g, const struct bad_ring *b)
{
	uint32_t base = ~0u;
	struct pollfd p;
	struct tdev d;
	uint64_t f;
	int ret = dev_open(&d, g, user.sock_rw, 1, true, true, true);

	if (ret) {
		tap_ok(false, "user bad ring %s: driver ok (%d)", b->what, ret);
		dev_close(&d);
		return;
	}
	post_req(&d, 0, 0, VIRTIO_BLK_T_IN, 0, 512);
	b->spoil(&d);
	kick(&d, 0);
	p = (struct pollfd){ .fd = d.q[0].err, .events = POLLIN };
	tap_ok(poll(&p, 1, 3000) == 1, "user bad ring %s: the err eventfd fires", b->what);
	ret = vf_get_u64(&d.vf, VU_REQ_GET_FEATURES, &f);
	tap_ok(ret == 0 && exportd_alive(&user.d), "user bad ring %s: the daemon stays up",
	       b->what);
	ret = vf_stop(&d.vf, 1, &base);
	tap_ok(ret == 0 && base == b->base,
	       "user bad ring %s: the base stops at the bad entry (%u)", b->what, base);
	dev_close(&d);
}

void t_bad_rings(struct vf_guest *g)
{
	for (size_t i = 0; i < ARRAY_SIZE(bad_rings); i++)
		t_bad_ring(g, &bad_rings[i]);
}

/*
 * One write of nseg 512-byte segments at sector, in an indirect table at
 * LONG_TBL (region 0, past the slots) with npad zero-length descriptors
 * before the status; the segments at LONG_DATA (queues 1 and 2's data,
 * unused here). Its status, or -1 if it was not used.
 */
#define LONG_TBL	0x80000
#define LONG_DATA	(VF_GPA1 + 0x40000)

static int long_write(struct tdev *d, unsigned int nseg, unsigned int npad,
		      uint64_t sector)
{
	static struct vr_buf b[2048];
	struct tq *q = &d->q[0];
	unsigned int n = 0, i;

	if (nseg + npad + 2 > ARRAY_SIZE(b))
		return -1;
	hdr(d, 0, 0)->type = VIRTIO_BLK_T_OUT;
	hdr(d, 0, 0)->ioprio = 0;
	hdr(d, 0, 0)->sector = sector;
	*status(d, 0, 0) = 0xaa;
	b[n++] = (struct vr_buf){ hdr_gpa(0, 0), 16, false };
	for (i = 0; i < nseg; i++)
		b[n++] = (struct vr_buf){ LONG_DATA + i * 512, 512, false };
	for (i = 0; i < npad; i++)
		b[n++] = (struct vr_buf){ LONG_DATA, 0, false };
	b[n++] = (struct vr_buf){ hdr_gpa(0, 0) + 16, 1, true };
	vr_fill_chain(gptr(d->g, LONG_TBL), 0, b, n);
	vr_add_indirect(&q->vr, 0, LONG_TBL, n);
	q->len[0] = ~0u;
	vr_push(&q->vr, 0);
	vr_publish(&q->vr);
	kick(d, 0);
	return wait_used(d, 0) ? *status(d, 0, 0) : -1;
}

/* The backing file holds len bytes of buf at off. */
static bool backing_holds(uint64_t off, const void *buf, size_t len)
{
	static uint8_t back[(VHU_MAX_SEG + 1) * 512];

	return len <= sizeof(back) && pread(user.img_fd, back, len, off) == (ssize_t)len &&
	       !memcmp(back, buf, len);
}

/*
 * seg_max on an export whose rings may hold 4096 entries: not 4094 but
 * VHU_MAX_SEG, what both datapaths take. A request of seg_max segments
 * is an indirect table longer than the ring and is served; one segment
 * more fails that request only (IOERR), the queue keeps going.
 */
void t_seg_max(struct vf_guest *g)
{
	static uint8_t pat[(VHU_MAX_SEG + 1) * 512], old[(VHU_MAX_SEG + 1) * 512];
	struct virtio_blk_config cfg;
	struct pollfd p;
	struct tdev d;
	bool got_old;
	int ret = dev_open(&d, g, user.sock_rw, 1, true, true, true);

	if (!tap_ok(ret == 0, "user seg_max: driver ok")) {
		dev_close(&d);
		return;
	}
	ret = vf_get_config(&d.vf, 0, sizeof(cfg), &cfg);
	tap_ok(ret == 0 && cfg.seg_max == VHU_MAX_SEG,
	       "user seg_max: %u for rings of up to 4096 entries (want %u)",
	       cfg.seg_max, VHU_MAX_SEG);
	for (size_t i = 0; i < sizeof(pat); i++)
		pat[i] = rand();
	memcpy(gptr(g, LONG_DATA), pat, sizeof(pat));

	ret = long_write(&d, VHU_MAX_SEG, 0, 64);
	tap_ok(ret == VIRTIO_BLK_S_OK && backing_holds(64 * 512, pat, VHU_MAX_SEG * 512),
	       "user seg_max: %u segments (a %u-descriptor table) written (status %d)",
	       VHU_MAX_SEG, VHU_MAX_SEG + 2, ret);

	got_old = pread(user.img_fd, old, sizeof(old), 4096 * 512) == sizeof(old);
	ret = long_write(&d, VHU_MAX_SEG + 1, 0, 4096);
	p = (struct pollfd){ .fd = d.q[0].err, .events = POLLIN };
	tap_ok(ret == VIRTIO_BLK_S_IOERR && poll(&p, 1, 0) == 0 && got_old &&
	       backing_holds(4096 * 512, old, sizeof(old)),
	       "user seg_max: one segment more is IOERR, the backing untouched (status %d)",
	       ret);
	ret = long_write(&d, 16, 2000 - 18, 8192);
	tap_ok(ret == VIRTIO_BLK_S_OK && backing_holds(8192 * 512, pat, 16 * 512),
	       "user seg_max: 2000 descriptors, most of them empty, are 16 segments (status %d)",
	       ret);
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, 0, 512) == VIRTIO_BLK_S_OK && poll(&p, 1, 0) == 0,
	       "user seg_max: the queue goes on, no ring error");
	dev_close(&d);
}

/* The daemon's CPU time (user + system) in clock ticks, or -1. */
static long daemon_cpu_ticks(void)
{
	char path[64], buf[1024], *p;
	unsigned long ut, st;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)user.d.pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	p = fgets(buf, sizeof(buf), f);
	fclose(f);
	p = p ? strrchr(buf, ')') : NULL;
	/* After "pid (comm)": state is field 3, utime 14, stime 15. */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			 &ut, &st) != 2)
		return -1;
	return (long)(ut + st);
}

/*
 * Queues that run but get no requests must sleep. Frontends pass
 * non-blocking kick eventfds (QEMU's are), on which a naive io_uring read
 * completes at once with -EAGAIN: re-armed, that spins a CPU per queue.
 * This counts the daemon's own CPU time, not wall time, so a loaded
 * machine cannot make it fail.
 */
void t_idle(struct vf_guest *g)
{
	long hz = sysconf(_SC_CLK_TCK), before, after;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, 4, true, false, true);

	if (!tap_ok(ret == 0 && one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK,
		    "user idle: 4 queues running")) {
		dev_close(&d);
		return;
	}
	before = daemon_cpu_ticks();
	usleep(1000000);
	after = daemon_cpu_ticks();
	tap_ok(before >= 0 && after >= 0 && after - before <= hz / 10,
	       "user idle: 4 idle queues used %ld ms of CPU in 1 s (at most 100)",
	       (after - before) * 1000 / (hz ? hz : 100));
	tap_ok(one(&d, 3, VIRTIO_BLK_T_IN, 0, 4096) == VIRTIO_BLK_S_OK,
	       "user idle: a kick after the idle time is served");
	dev_close(&d);
}
