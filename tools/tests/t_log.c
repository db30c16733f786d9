// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the dirty log's arithmetic (vu_log.c): page granularity,
 * ranges across pages and bytes of the bitmap, the last page the log
 * covers and the first it does not, ranges that run to UINT64_MAX, and
 * the translation of the datapath's buffers back to guest-physical
 * addresses.
 */
#include <stdint.h>
#include <string.h>
#include <sys/uio.h>

#include "tap.h"
#include "vu_log.h"

#define LOG_BYTES 16	/* pages 0 .. 127 */

static uint8_t map[LOG_BYTES + 1];	/* one guard byte past the log */

static struct vu_log lg = { map, LOG_BYTES };

static void clear(void)
{
	memset(map, 0, sizeof(map));
}

/* The marked pages, as a count and the lowest and highest. */
static unsigned int marked(uint64_t *lo, uint64_t *hi)
{
	unsigned int n = 0;

	for (uint64_t p = 0; p < (LOG_BYTES + 1) * 8; p++) {
		if (!(map[p / 8] & (1u << (p % 8))))
			continue;
		if (!n++)
			*lo = p;
		*hi = p;
	}
	return n;
}

/* Exactly pages first..last are marked (and vu_log_test() agrees). */
static bool exactly(uint64_t first, uint64_t last)
{
	uint64_t lo = 0, hi = 0;
	unsigned int n = marked(&lo, &hi);

	if (n != last - first + 1 || lo != first || hi != last)
		return false;
	for (uint64_t p = first; p <= last; p++)
		if (!vu_log_test(&lg, p))
			return false;
	return !vu_log_test(&lg, first - 1) && !vu_log_test(&lg, last + 1);
}

static bool none(void)
{
	uint64_t lo, hi;

	return marked(&lo, &hi) == 0;
}

void t_log(void)
{
	clear();
	tap_ok(vu_log_write(&lg, 0x5000, 1) == 0 && exactly(5, 5) && map[0] == 0x20,
	       "log: one byte marks its page: bit p %% 8 of byte p / 8");
	clear();
	tap_ok(vu_log_write(&lg, 0x5000, 4096) == 0 && exactly(5, 5),
	       "log: a whole page marks that page only");
	clear();
	tap_ok(vu_log_write(&lg, 0x5fff, 2) == 0 && exactly(5, 6),
	       "log: two bytes across a page boundary mark both pages");
	clear();
	tap_ok(vu_log_write(&lg, 0x6800, 0x1000) == 0 && exactly(6, 7),
	       "log: an unaligned page-sized range marks two pages");
	clear();
	tap_ok(vu_log_write(&lg, 0x3000, 0x1e000) == 0 && exactly(3, 32) &&
	       map[0] == 0xf8 && map[1] == 0xff && map[2] == 0xff && map[3] == 0xff &&
	       map[4] == 0x01,
	       "log: a range across bitmap bytes marks partial and whole bytes");
	clear();
	tap_ok(vu_log_write(&lg, 0x5000, 0) == 0 && none(),
	       "log: an empty range marks nothing");
	clear();
	map[0] = 0x01;
	tap_ok(vu_log_write(&lg, 0x2000, 1) == 0 && map[0] == 0x05,
	       "log: marking keeps the bits already set (OR, never clear)");

	/* The end of the log: page 127 is its last. */
	clear();
	tap_ok(vu_log_write(&lg, 127 * 4096ull, 4096) == 0 && exactly(127, 127) &&
	       map[LOG_BYTES] == 0,
	       "log: the last page the log covers is marked, nothing past it");
	clear();
	tap_ok(vu_log_write(&lg, 128 * 4096ull, 1) == 1 && none(),
	       "log: the first page beyond the log is skipped and counted");
	clear();
	tap_ok(vu_log_write(&lg, 126 * 4096ull, 4 * 4096) == 2 && exactly(126, 127) &&
	       map[LOG_BYTES] == 0,
	       "log: a range running past the log: its covered pages marked, 2 skipped");
	clear();
	tap_ok(vu_log_write(&lg, 1ull << 40, 8192) == 2 && none(),
	       "log: a range far beyond the log: all skipped");

	/* Overflow. */
	clear();
	tap_ok(vu_log_write(&lg, UINT64_MAX, 1) == 1 && none(),
	       "log: the byte at UINT64_MAX: its page is beyond the log");
	clear();
	tap_ok(vu_log_write(&lg, UINT64_MAX - 4095, 8192) == 1 && none(),
	       "log: a range wrapping past UINT64_MAX ends there (1 page)");
	clear();
	tap_ok(vu_log_write(&lg, 0x1000, UINT64_MAX) == (UINT64_MAX >> 12) + 1 - 128 &&
	       exactly(1, 127),
	       "log: a range of UINT64_MAX bytes marks the log to its end, counts the rest");
	{
		struct vu_log big = { map, UINT64_MAX };

		clear();
		tap_ok(vu_log_write(&big, 0x9000, 1) == 0 && exactly(9, 9),
		       "log: a log size whose bit count overflows does not wrap");
	}
	{
		struct vu_log nolog = { NULL, 0 };

		tap_ok(vu_log_write(&nolog, 0, 4096) == 0 && !vu_log_test(&nolog, 0),
		       "log: without a log nothing is marked");
	}

	/* The datapath's buffers back to guest-physical addresses. */
	{
		/* Two regions of one buffer, with a gap between them. */
		static uint8_t buf[0x8000];
		uint8_t *mem0 = buf, *mem1 = buf + 0x5000;
		struct vu_mem_view v = { .nregions = 2 };
		struct iovec iov[2] = {
			{ mem0 + 0x3f00, 0x100 },	/* gpa 0x3f00 */
			{ mem1, 0x2000 },		/* gpa 0x10000 */
		};
		uint64_t gpa = 0;

		v.r[0] = (struct vu_region){ .gpa = 0, .size = 0x4000,
					     .hva = (uintptr_t)mem0 };
		v.r[1] = (struct vu_region){ .gpa = 0x10000, .size = 0x2000,
					     .hva = (uintptr_t)mem1 };
		tap_ok(vu_log_hva_to_gpa(&v, (uintptr_t)mem1 + 0x10, 0x10, &gpa) &&
		       gpa == 0x10010,
		       "log: a buffer translates back to its guest-physical address");
		tap_ok(!vu_log_hva_to_gpa(&v, (uintptr_t)mem0 + 0x3ff0, 0x20, &gpa) &&
		       !vu_log_hva_to_gpa(&v, (uintptr_t)mem1 + 0x2000, 1, &gpa),
		       "log: ... not one past its region's end");
		clear();
		tap_ok(vu_log_iov(&lg, &v, iov, 2, 0x100 + 0x1001) == 0 &&
		       map[0] == 0x08 && map[2] == 0x03,
		       "log: iovecs mark the pages of the bytes written: 3, 16 and 17");
		clear();
		iov[1].iov_base = map;	/* in no region */
		tap_ok(vu_log_iov(&lg, &v, iov, 2, 0x200) == 1 && exactly(3, 3),
		       "log: a piece outside the view is counted, not marked");
	}
}
