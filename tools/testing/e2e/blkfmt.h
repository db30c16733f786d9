/* SPDX-License-Identifier: GPL-2.0 */
/*
 * blkfmt.h: the self-identifying 4 KiB block of the e2e guests' checkers
 * (soak-writer, mig-io), one format for both. A block is a header (magic,
 * device, block number, generation), a payload derived from the header,
 * and an FNV-1a checksum of everything before it in the last 8 bytes; so
 * a block read back names itself, and a torn or misplaced one shows.
 */
#ifndef VHU_E2E_BLKFMT_H
#define VHU_E2E_BLKFMT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define BLK		4096u

struct blk_hdr {
	uint64_t magic;
	uint64_t dev;
	uint64_t block;
	uint64_t gen;
};

enum blk_state {
	BLK_ZERO,	/* all zeros: never written */
	BLK_OK,		/* a block of this magic, device and number */
	BLK_TORN,	/* anything else */
};

static inline uint64_t blk_fnv1a(const void *p, size_t n)
{
	const unsigned char *c = p;
	uint64_t h = 0xcbf29ce484222325ull;

	while (n--) {
		h ^= *c++;
		h *= 0x100000001b3ull;
	}
	return h;
}

static inline uint64_t blk_xorshift(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Block @block (absolute) of device @dev at generation @gen, into @b. */
static inline void blk_fill(void *b, uint64_t magic, uint64_t dev, uint64_t block,
			    uint64_t gen)
{
	struct blk_hdr h = { magic, dev, block, gen };
	uint64_t s = (block * 0x9e3779b97f4a7c15ull) ^ (gen << 20) ^ dev ^ 1;
	unsigned char *p = b;
	uint64_t sum;
	size_t i;

	memcpy(p, &h, sizeof(h));
	for (i = sizeof(h); i + 8 <= BLK - 8; i += 8) {
		uint64_t v = blk_xorshift(&s);

		memcpy(p + i, &v, 8);
	}
	sum = blk_fnv1a(p, BLK - 8);
	memcpy(p + BLK - 8, &sum, 8);
}

/*
 * What @b holds, for block @block of device @dev: BLK_OK when it is exactly
 * what blk_fill() writes there for the generation in its header; @h gets
 * the header as read (zeros for BLK_ZERO).
 */
static inline enum blk_state blk_check(const void *b, uint64_t magic, uint64_t dev,
				       uint64_t block, struct blk_hdr *h)
{
	static __thread unsigned char want[BLK];
	uint64_t sum;

	memcpy(h, b, sizeof(*h));
	memcpy(&sum, (const unsigned char *)b + BLK - 8, 8);
	memset(want, 0, BLK);
	if (!memcmp(b, want, BLK))
		return BLK_ZERO;
	if (h->magic != magic || h->dev != dev || h->block != block ||
	    sum != blk_fnv1a(b, BLK - 8))
		return BLK_TORN;
	/* The payload is a function of the header. */
	blk_fill(want, magic, dev, block, h->gen);
	return memcmp(b, want, BLK) ? BLK_TORN : BLK_OK;
}

#endif
