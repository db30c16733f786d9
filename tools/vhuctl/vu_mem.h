/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The frontend's memory as the daemon sees it: one mmap per region fd.
 */
#ifndef VU_MEM_H
#define VU_MEM_H

#include <stddef.h>
#include <stdint.h>

#include "vu_proto.h"

struct vu_region {
	uint64_t gpa;		/* guest-physical start */
	uint64_t size;
	uint64_t uaddr;		/* frontend's user virtual start */
	uint64_t mmap_offset;	/* where the region starts in the fd */
	int fd;			/* owned; the datapath may dup it */
	void *map;		/* our mapping of [0, mmap_offset + size) */
	size_t map_len;
	uint64_t hva;		/* our virtual address of gpa */
};

struct vu_mem {
	unsigned int nregions;
	struct vu_region r[VU_MAX_MEM_SLOTS];
};

/*
 * Check a region description on its own and against the table: non-zero
 * size, no 64-bit overflow of any of its ranges, no overlap with an
 * existing region in guest-physical or frontend-virtual space.
 * Returns 0 or -EINVAL with a reason in *why.
 */
int vu_mem_check(const struct vu_mem *mem, const struct vu_region_desc *d,
		 const char **why);

/* Map fd (consumed on success and failure) and append the region. */
int vu_mem_add(struct vu_mem *mem, const struct vu_region_desc *d, int fd,
	       const char **why);

/* Remove the region matching d (gpa, size and uaddr); -ENOENT if none. */
int vu_mem_remove(struct vu_mem *mem, const struct vu_region_desc *d);

/* Unmap and close everything. */
void vu_mem_clear(struct vu_mem *mem);

/*
 * Translate [addr, addr + len) to our address space; the range must lie
 * inside one region. 0 when it does not.
 */
uint64_t vu_mem_uva_to_hva(const struct vu_mem *mem, uint64_t uaddr,
			   uint64_t len);
uint64_t vu_mem_gpa_to_hva(const struct vu_mem *mem, uint64_t gpa,
			   uint64_t len);

#endif
