// SPDX-License-Identifier: GPL-2.0
/*
 * One thread per queue. Each keeps iodepth requests in flight on its own
 * ring, over its own slice of the disk (so verify never races between
 * queues): slot i owns descriptors 3i..3i+2 (header, data, status). The
 * ring is driven as a guest driver does (tools/lib/vring.h): kicks and
 * calls suppressed with EVENT_IDX when negotiated, or --poll for no calls.
 *
 * Verify: every 512-byte sector written carries a tag (magic, its byte
 * offset, the seed) and a pattern derived from both; the write phase
 * writes each block of the slice once (in a permuted order for randwrite),
 * then the read phase reads every block back and checks it. --verify-only
 * runs just the read phase (check what an earlier run wrote).
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <linux/virtio_blk.h>

#include "bench.h"
#include "util.h"

#define MAGIC 0x76687562656e6368ull	/* "vhubench" */

volatile int vb_stop;

uint64_t vb_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

static void tag_fill(uint8_t *buf, uint64_t off, uint64_t len, uint64_t seed)
{
	for (uint64_t s = 0; s < len; s += 512) {
		uint64_t *w = (uint64_t *)(buf + s), x = ((off + s) * 0x9E3779B97F4A7C15ull) ^ seed;

		w[0] = MAGIC;
		w[1] = off + s;
		w[2] = seed;
		for (int k = 3; k < 64; k++)
			w[k] = x + k * 0xBF58476D1CE4E5B9ull;
	}
}

/* 0 if good, else writes what is wrong into msg. */
static int tag_check(const uint8_t *buf, uint64_t off, uint64_t len, uint64_t seed,
		     char *msg, size_t msglen)
{
	for (uint64_t s = 0; s < len; s += 512) {
		const uint64_t *w = (const uint64_t *)(buf + s);
		uint64_t x = ((off + s) * 0x9E3779B97F4A7C15ull) ^ seed;

		if (w[0] != MAGIC || w[1] != off + s || w[2] != seed) {
			snprintf(msg, msglen, "sector at byte %" PRIu64 ": bad tag (magic %#" PRIx64
				 ", offset %" PRIu64 ", seed %" PRIu64 ")", off + s, w[0], w[1], w[2]);
			return -1;
		}
		for (int k = 3; k < 64; k++)
			if (w[k] != x + k * 0xBF58476D1CE4E5B9ull) {
				snprintf(msg, msglen, "sector at byte %" PRIu64
					 ": pattern differs at byte %d", off + s, k * 8);
				return -1;
			}
	}
	return 0;
}

static uint64_t gcd(uint64_t a, uint64_t b)
{
	while (b) {
		uint64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

struct slot {
	uint64_t t0, blk;
	bool write;
};

struct ctx {
	struct vb_job *j;
	struct vr *r;
	uint8_t *cells, *data;
	uint64_t cells_gpa, data_gpa;
	struct slot slot[VB_MAX_DEPTH];
	uint64_t rnd, seq, stride;
	uint64_t issued, limit;		/* limit 0: until vb_stop */
	bool write;			/* this phase writes */
	bool random;
	bool verify;
};

static uint64_t next_blk(struct ctx *c)
{
	uint64_t n = c->j->nblk, i;

	if (c->limit)		/* verify: each block once */
		i = c->random ? (c->seq * c->stride + 7) % n : c->seq % n;
	else
		i = c->random ? xorshift(&c->rnd) % n : c->seq % n;
	c->seq++;
	return c->j->first_blk + i;
}

static void submit(struct ctx *c, unsigned int i)
{
	const struct vb_opts *o = c->j->o;
	struct virtio_blk_outhdr *h = (void *)(c->cells + 64 * i);
	uint8_t *status = c->cells + 64 * i + 16;
	struct slot *s = &c->slot[i];
	struct vr_buf b[3];

	s->blk = next_blk(c);
	s->write = c->write;
	h->type = s->write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN;
	h->ioprio = 0;
	h->sector = s->blk * (o->bs / 512);
	*status = 0xff;
	if (s->write && c->verify)
		tag_fill(c->data + i * o->bs, s->blk * o->bs, o->bs, o->seed);
	b[0] = (struct vr_buf){ c->cells_gpa + 64 * i, 16, false };
	b[1] = (struct vr_buf){ c->data_gpa + i * o->bs, o->bs, !s->write };
	b[2] = (struct vr_buf){ c->cells_gpa + 64 * i + 16, 1, true };
	vr_add_chain(c->r, 3 * i, b, 3);
	c->issued++;
	s->t0 = vb_now_ns();
	vr_push(c->r, 3 * i);
}

/* Publish what submit() pushed, with a kick if the device wants one. */
static int publish(struct vr *r)
{
	if (r->avail_idx == r->kicked_idx)
		return 0;
	vr_publish(r);
	return vr_kick_needed(r) ? vr_kick(r) : 0;
}

/* Wait for a call, unless something was used meanwhile (or --poll). */
static int wait_call(struct ctx *c)
{
	int ret;

	if (c->j->o->poll || vr_enable_calls(c->r))
		return 0;
	c->j->waits++;
	ret = vr_wait_call(c->r, 1000);
	return ret < 0 && ret != -EINTR ? ret : 0;
}

static bool more(struct ctx *c)
{
	return c->limit ? c->issued < c->limit : !vb_stop;
}

static void complete(struct ctx *c, unsigned int i, uint64_t now)
{
	const struct vb_opts *o = c->j->o;
	struct slot *s = &c->slot[i];
	uint8_t status = c->cells[64 * i + 16];

	vb_hist_add(&c->j->hist, now - s->t0);
	if (status != VIRTIO_BLK_S_OK) {
		c->j->errors++;
		return;
	}
	c->j->ios++;
	c->j->bytes += o->bs;
	if (c->verify && !s->write &&
	    tag_check(c->data + i * o->bs, s->blk * o->bs, o->bs, o->seed,
		      c->j->first_mismatch[0] ? (char[160]){ 0 } : c->j->first_mismatch,
		      160))
		c->j->mismatches++;
}

/* Run one phase: until limit requests or vb_stop, then drain. */
static int phase(struct ctx *c)
{
	unsigned int depth = c->j->o->iodepth, inflight = 0;
	uint64_t drain_start = 0;
	int ret;

	for (unsigned int i = 0; i < depth && more(c); i++, inflight++)
		submit(c, i);
	ret = publish(c->r);
	while (inflight && !ret) {
		uint64_t now = 0;
		uint32_t head, len;
		bool any = false;

		while (vr_get_used(c->r, &head, &len)) {
			unsigned int i = head / 3;

			if (head % 3 || i >= depth)
				return -EPROTO;
			if (!any)
				now = vb_now_ns();
			any = true;
			complete(c, i, now);
			if (more(c))
				submit(c, i);
			else
				inflight--;
		}
		ret = publish(c->r);
		if (any || ret)
			continue;
		if (!more(c)) {
			if (!drain_start)
				drain_start = vb_now_ns();
			else if (vb_now_ns() - drain_start > 10000000000ull)
				return -ETIMEDOUT;	/* the backend lost requests */
		}
		ret = wait_call(c);
	}
	return ret;
}

void *vb_job_run(void *arg)
{
	struct vb_job *j = arg;
	const struct vb_opts *o = j->o;
	struct ctx *c = calloc(1, sizeof(*c));

	if (!c) {
		j->failed = -ENOMEM;
		return NULL;
	}
	c->j = j;
	c->r = &j->d->ring[j->q];
	c->cells = j->d->qmem[j->q];
	c->cells_gpa = j->d->qmem_gpa[j->q];
	c->data = c->cells + ALIGN(64ull * o->iodepth, 4096);
	c->data_gpa = c->cells_gpa + ALIGN(64ull * o->iodepth, 4096);
	c->rnd = (o->seed + 1) * 0x9E3779B97F4A7C15ull + j->q + 1;
	c->random = o->rw == VB_RANDREAD || o->rw == VB_RANDWRITE;
	c->verify = o->verify || o->verify_only;
	/* A stride coprime with nblk walks every block once. */
	c->stride = 2654435761ull % j->nblk;
	while (!c->stride || gcd(c->stride, j->nblk) != 1)
		c->stride++;
	if (c->verify) {
		if (!o->verify_only) {
			c->write = true;
			c->limit = j->nblk;
			j->failed = phase(c);
		}
		if (!j->failed) {
			c->write = false;
			c->seq = 0;
			c->issued = 0;
			c->limit = j->nblk;
			j->failed = phase(c);
		}
	} else {
		c->write = o->rw == VB_RANDWRITE || o->rw == VB_WRITE;
		j->failed = phase(c);
	}
	free(c);
	return NULL;
}
