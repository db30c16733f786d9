/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A userspace virtio-blk "guest" for the vhu selftests: guest memory in a
 * memfd mapped as two regions that are adjacent in guest-physical space
 * but not in our address space (so buffers can straddle them), split
 * rings in that memory, and kick/call/err eventfds, driving /dev/vhu
 * directly without a daemon.
 */
#ifndef VHU_SELFTEST_GUEST_H
#define VHU_SELFTEST_GUEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stddef.h>
#include <linux/virtio_ring.h>
#include <linux/virtio_blk.h>
#include <linux/vhu.h>

#include "vring.h"

#define G_MEM_SIZE	(64UL << 20)
#define G_REGION_SPLIT	(32UL << 20)	/* gpa offset where region 1 starts */
#define G_GPA_BASE	0x100000000ULL
#define G_MAX_QUEUES	4
#define G_QUEUE_SPAN	(15UL << 20)	/* guest memory per queue; queue 2 straddles the regions */
#define G_NUM		128		/* ring size */
#define G_DESC_PER_SLOT	4
#define G_SLOTS		(G_NUM / G_DESC_PER_SLOT)
#define G_MAX_DATA	(64U << 10)
#define G_SLOT_SIZE	(4096 + G_MAX_DATA)

struct g_vq {
	unsigned int index;
	unsigned int num;	/* ring size, G_NUM if 0 (set before g_setup_vrings()) */
	uint64_t base;		/* gpa of this queue's memory */
	struct vr vr;		/* the ring, with the kick and call eventfds */
	int err;		/* the err eventfd */
	bool busy[G_SLOTS];
	uint8_t status[G_SLOTS];	/* harvested status */
	uint32_t used_len[G_SLOTS];	/* harvested used length */
	bool done[G_SLOTS];
};

struct guest {
	int vhu;
	int memfd;
	uint8_t *map[2];	/* region 0 and 1 in our address space */
	void *reserve;
	size_t reserve_len;
	unsigned int nq;
	bool event_idx;
	bool indirect;
	uint32_t mem_flags;	/* VHU_MEM_F_*, set before the memory table if any */
	uint64_t features;
	struct g_vq vq[G_MAX_QUEUES];
};

/* Guest memory. */
int g_mem_init(struct guest *g);
void g_mem_fini(struct guest *g);
void *g_ptr(struct guest *g, uint64_t gpa);	/* within one region only */
uint64_t g_uaddr(struct guest *g, uint64_t gpa);
void g_write(struct guest *g, uint64_t gpa, const void *src, size_t len);
void g_read(struct guest *g, uint64_t gpa, void *dst, size_t len);
int g_set_mem_table(struct guest *g);

/* Device setup: owner, features, memory, vrings, enable. */
int g_open(struct guest *g);
/* Close the device and the eventfds (guest memory stays: g_mem_fini()). */
void g_close(struct guest *g);
/* Was virtio feature @bit negotiated? */
bool g_offered(const struct guest *g, unsigned int bit);
int g_setup_vrings(struct guest *g);
int g_enable(struct guest *g, unsigned int q, bool on);

/* Slots: one request each. */
uint64_t g_slot_gpa(struct guest *g, unsigned int q, unsigned int slot);
uint64_t g_slot_data(struct guest *g, unsigned int q, unsigned int slot);
#define G_SLOT_STATUS	32	/* status byte offset in a slot */
int g_slot_alloc(struct guest *g, unsigned int q);

/* Build a request in @slot and make it available (does not kick). */
int g_submit(struct guest *g, unsigned int q, unsigned int slot,
	     uint32_t type, uint64_t sector, uint32_t len, const void *out);
/* The same with the data buffer at guest address @data. */
int g_submit_at(struct guest *g, unsigned int q, unsigned int slot,
		uint32_t type, uint64_t sector, uint32_t len, const void *out,
		uint64_t data);
/* Make descriptor head @head available as is. */
void g_publish(struct guest *g, unsigned int q, uint16_t head);
/* Kick if the device asked for it (or always with @force). */
void g_kick(struct guest *g, unsigned int q, bool force);
/* Harvest used entries; wait for @n of them in total, at most @ms. */
int g_wait(struct guest *g, unsigned int q, unsigned int n, int ms);
/* Wait for the err eventfd, at most @ms. Return: 1 signalled, 0 not. */
int g_wait_err(struct guest *g, unsigned int q, int ms);

/* The counters of one vring, from the VHU_CMD_GET_STATS netlink dump. */
struct g_stats {
	int state;		/* enum vhu_vring_status */
	uint64_t reqs_in, reqs_out, reqs_flush, reqs_get_id, reqs_discard;
	uint64_t reqs_write_zeroes, reqs_unsupp, reqs_ioerr;
	uint64_t bytes_read, bytes_written, ring_errors, inflight;
	uint64_t kicks, calls, last_avail_idx, log_skipped;
	uint64_t polls, poll_hits, poll_ns;
	int msgs;		/* messages for the device */
};

/* Dump the stats of @dev_id (of every device if @all) and pick vring @q. */
int g_stats_dump(uint32_t dev_id, bool all, unsigned int q, struct g_stats *s);
/* The stats of @g's vring @q: 0 or -errno. */
int g_stats(struct guest *g, unsigned int q, struct g_stats *s);

/* One synchronous request on @q; returns the status or -errno. */
int g_do(struct guest *g, unsigned int q, uint32_t type, uint64_t sector,
	 void *buf, uint32_t len, uint32_t *used_len);

#endif
