/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The frontend's memory as the daemon sees it, all in one place: the
 * protocol server's table (struct vu_mem: one mmap per region fd, owned),
 * a datapath's view of it (struct vu_mem_view: the same regions, owning
 * nothing) and the translation of frontend-virtual and guest-physical
 * addresses into the daemon's own, which both share.
 */
#ifndef VU_MEM_H
#define VU_MEM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vu_guard.h"
#include "vu_proto.h"

struct vu_region {
	uint64_t gpa;		/* guest-physical start */
	uint64_t size;
	uint64_t uaddr;		/* frontend's user virtual start */
	uint64_t mmap_offset;	/* where the region starts in the fd */
	int fd;			/* owned by the table; -1 in a view */
	void *map;		/* our mapping of [0, mmap_offset + size) */
	size_t map_len;
	uint64_t hva;		/* our virtual address of gpa */
	bool sealed;		/* the fd has F_SEAL_SHRINK: it cannot shrink */
	const struct vu_guard *guard;	/* the table's, which guards the mapping */
};

struct vu_mem {
	unsigned int nregions;
	struct vu_region r[VU_MAX_MEM_SLOTS];
	struct vu_guard *guard;	/* the mappings' guard, or NULL */
};

/*
 * Check a region description on its own and against the table: non-zero
 * size, no 64-bit overflow of any of its ranges, no overlap with an
 * existing region in guest-physical or frontend-virtual space.
 * Returns 0 or -EINVAL with a reason in *why.
 */
int vu_mem_check(const struct vu_mem *mem, const struct vu_region_desc *d,
		 const char **why);

/*
 * Map fd (consumed on success and failure) and append the region. The fd
 * must be a regular file (memfd, shared memory or hugetlbfs file) at
 * least mmap_offset + size bytes long; its mapping is registered with the
 * table's guard.
 */
int vu_mem_add(struct vu_mem *mem, const struct vu_region_desc *d, int fd,
	       const char **why);

/* The region matching d (gpa, size and uaddr), or NULL. */
struct vu_region *vu_mem_find(struct vu_mem *mem,
			      const struct vu_region_desc *d);

/* Remove the region matching d; -ENOENT if none. */
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

/*
 * What a datapath translates guest addresses with while its threads run:
 * a copy of the table's regions (fd -1, map NULL: it owns nothing), which
 * the datapath replaces as a whole and never changes in place. The server
 * unmaps a region only once no thread can use it: after the datapath
 * dropped it from its view, or with every queue stopped.
 */
struct vu_mem_view {
	unsigned int nregions;
	struct vu_region r[VU_MAX_MEM_SLOTS];
	const struct vu_guard *guard;	/* the table's: is its memory faulted? */
};

void vu_mem_view_init(struct vu_mem_view *v, const struct vu_mem *mem);
/* Add a region of the table; -ENOSPC when the view is full. */
int vu_mem_view_add(struct vu_mem_view *v, const struct vu_region *r);
/* Drop a region of the table (nothing if the view lacks it). */
void vu_mem_view_remove(struct vu_mem_view *v, const struct vu_region *r);

/*
 * Translate [gpa, gpa + len) into iovecs (a range may span adjacent
 * regions). Returns the number of iovecs used, or -1 when any byte is
 * outside every region or more than max iovecs would be needed.
 */
int vu_mem_view_iov(const struct vu_mem_view *v, uint64_t gpa, uint64_t len,
		    struct iovec *iov, unsigned int max);
/* One range inside one region, or NULL. */
void *vu_mem_view_ptr(const struct vu_mem_view *v, uint64_t gpa,
		      uint64_t len);

#endif
