/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dirty log's arithmetic (struct vu_log, datapath.h): one bit per
 * VU_LOG_PAGE of guest-physical memory, page p being bit p % 8 of byte
 * p / 8, as the vhost-user specification, libvhost-user and
 * drivers/vhost lay it out. Bits are only ever set, with an atomic OR
 * per byte: the frontend clears them concurrently as it syncs.
 */
#ifndef VU_LOG_H
#define VU_LOG_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "datapath.h"
#include "vu_mem.h"

/*
 * The largest log SET_LOG_BASE takes: 1 GiB of bitmap covers 32 TiB of
 * guest-physical address space.
 */
#define VU_LOG_MAX_SIZE		(1ull << 30)

/*
 * Mark the pages of [gpa, gpa + len) dirty. Pages beyond the log are
 * skipped (a range running past UINT64_MAX ends there); returns how many
 * were, 0 when the log covered the whole range. Nothing for len 0 or no
 * log.
 */
uint64_t vu_log_write(const struct vu_log *log, uint64_t gpa, uint64_t len);

/* Is page p marked? False beyond the log. */
bool vu_log_test(const struct vu_log *log, uint64_t page);

/*
 * The guest-physical address of [hva, hva + len) in view v, which must
 * hold all of it in one region: true and *gpa, else false.
 */
bool vu_log_hva_to_gpa(const struct vu_mem_view *v, uint64_t hva,
		       uint64_t len, uint64_t *gpa);

/*
 * Mark the first len bytes of iovecs that v translated (vu_mem_view_iov():
 * each one inside one region). Returns the pages skipped, as
 * vu_log_write(), plus one for each piece not found in v.
 */
uint64_t vu_log_iov(const struct vu_log *log, const struct vu_mem_view *v,
		    const struct iovec *iov, unsigned int n, uint64_t len);

#endif
