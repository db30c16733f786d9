// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the dirty log's arithmetic (vu_log.h).
 */
#include "vu_log.h"

uint64_t vu_log_write(const struct vu_log *log, uint64_t gpa, uint64_t len)
{
	uint8_t *map = log->addr;
	uint64_t first, last, pages, covered, end;

	if (!len || !map)
		return 0;
	first = gpa / VU_LOG_PAGE;
	/* The last byte, without wrapping past UINT64_MAX. */
	last = (len - 1 > UINT64_MAX - gpa ? UINT64_MAX : gpa + (len - 1)) / VU_LOG_PAGE;
	pages = last - first + 1;
	/* Pages 0 .. covered - 1 have a bit. */
	covered = log->size > UINT64_MAX / 8 ? UINT64_MAX : log->size * 8;
	if (first >= covered)
		return pages;
	end = last < covered ? last : covered - 1;
	for (uint64_t byte = first / 8; byte <= end / 8; byte++) {
		uint64_t lo = byte * 8 > first ? byte * 8 : first;
		uint64_t hi = byte * 8 + 7 < end ? byte * 8 + 7 : end;
		/* Bits lo % 8 .. hi % 8 of this byte. */
		uint8_t mask = (uint8_t)((0xffu >> (7 - (hi - lo))) << (lo % 8));

		/* Release: the bytes written before are seen with the bit. */
		__atomic_fetch_or(&map[byte], mask, __ATOMIC_RELEASE);
	}
	return pages - (end - first + 1);
}

bool vu_log_test(const struct vu_log *log, uint64_t page)
{
	const uint8_t *map = log->addr;

	if (!map || page / 8 >= log->size)
		return false;
	return __atomic_load_n(&map[page / 8], __ATOMIC_RELAXED) & (1u << (page % 8));
}

bool vu_log_hva_to_gpa(const struct vu_mem_view *v, uint64_t hva,
		       uint64_t len, uint64_t *gpa)
{
	for (unsigned int i = 0; i < v->nregions; i++) {
		const struct vu_region *r = &v->r[i];

		if (hva >= r->hva && hva - r->hva < r->size &&
		    len <= r->size - (hva - r->hva)) {
			*gpa = r->gpa + (hva - r->hva);
			return true;
		}
	}
	return false;
}

uint64_t vu_log_iov(const struct vu_log *log, const struct vu_mem_view *v,
		    const struct iovec *iov, unsigned int n, uint64_t len)
{
	uint64_t skipped = 0;

	for (unsigned int i = 0; i < n && len; i++) {
		uint64_t k = iov[i].iov_len < len ? iov[i].iov_len : len;
		uint64_t gpa;

		if (!k)
			continue;
		if (vu_log_hva_to_gpa(v, (uint64_t)(uintptr_t)iov[i].iov_base, k, &gpa))
			skipped += vu_log_write(log, gpa, k);
		else
			skipped++;
		len -= k;
	}
	return skipped;
}
