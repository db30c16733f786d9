// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: mapping the frontend's memory regions and translating addresses
 * (vu_mem.h).
 *
 * Each region's fd is mapped from file offset 0 for mmap_offset + size
 * bytes (so a hugetlbfs offset need not be page aligned for us), and the
 * region starts mmap_offset bytes into that mapping.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"
#include "vu_mem.h"

/* end = start + len - 1 without overflow; false if it overflows. */
static bool last_byte(uint64_t start, uint64_t len, uint64_t *last)
{
	if (!len || start > UINT64_MAX - (len - 1))
		return false;
	*last = start + (len - 1);
	return true;
}

static bool overlap(uint64_t a, uint64_t alen, uint64_t b, uint64_t blen)
{
	return a <= b + (blen - 1) && b <= a + (alen - 1);
}

int vu_mem_check(const struct vu_mem *mem, const struct vu_region_desc *d,
		 const char **why)
{
	uint64_t last;

	if (!d->size) {
		*why = "zero-sized region";
		return -EINVAL;
	}
	if (!last_byte(d->gpa, d->size, &last) ||
	    !last_byte(d->uaddr, d->size, &last) ||
	    !last_byte(d->mmap_offset, d->size, &last) ||
	    d->mmap_offset + d->size > (uint64_t)SIZE_MAX / 2) {
		*why = "region range overflows";
		return -EINVAL;
	}
	for (unsigned int i = 0; i < mem->nregions; i++) {
		const struct vu_region *r = &mem->r[i];

		if (overlap(d->gpa, d->size, r->gpa, r->size)) {
			*why = "region overlaps another in guest-physical space";
			return -EINVAL;
		}
		if (overlap(d->uaddr, d->size, r->uaddr, r->size)) {
			*why = "region overlaps another in frontend address space";
			return -EINVAL;
		}
	}
	if (mem->nregions >= VU_MAX_MEM_SLOTS) {
		*why = "too many memory regions";
		return -ENOSPC;
	}
	return 0;
}

int vu_mem_add(struct vu_mem *mem, const struct vu_region_desc *d, int fd,
	       const char **why)
{
	struct vu_region *r;
	struct stat st;
	size_t len;
	void *map;
	bool sealed;
	int ret;

	ret = vu_mem_check(mem, d, why);
	if (ret)
		goto err;
	if (fstat(fd, &st) < 0) {
		*why = "cannot stat region fd";
		ret = -errno;
		goto err;
	}
	/* Anything else mappable (a device) is no guest memory. */
	if (!S_ISREG(st.st_mode)) {
		*why = "region fd is not a regular file (memfd, shared memory "
		       "or hugetlbfs file)";
		ret = -EINVAL;
		goto err;
	}
	len = d->mmap_offset + d->size;
	if ((uint64_t)st.st_size < len) {
		*why = "region extends past the end of its fd";
		ret = -EINVAL;
		goto err;
	}
	/* Without F_SEAL_SHRINK it may shrink under us: the guard contains that. */
	ret = fcntl(fd, F_GET_SEALS);
	sealed = ret > 0 && (ret & F_SEAL_SHRINK);
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		   fd, 0);
	if (map == MAP_FAILED) {
		*why = "cannot mmap region fd";
		ret = -errno;
		goto err;
	}
	ret = vu_guard_add(mem->guard, map, len, sealed);
	if (ret) {
		*why = "the daemon maps too many regions";
		munmap(map, len);
		goto err;
	}
	r = &mem->r[mem->nregions++];
	r->gpa = d->gpa;
	r->size = d->size;
	r->uaddr = d->uaddr;
	r->mmap_offset = d->mmap_offset;
	r->fd = fd;
	r->map = map;
	r->map_len = len;
	r->hva = (uint64_t)(uintptr_t)map + d->mmap_offset;
	r->sealed = sealed;
	r->guard = mem->guard;
	return 0;
err:
	close(fd);
	return ret;
}

/* Index of the region with this gpa, size and uaddr in r[n], or -1. */
static int region_index(const struct vu_region *r, unsigned int n,
			uint64_t gpa, uint64_t size, uint64_t uaddr)
{
	for (unsigned int i = 0; i < n; i++)
		if (r[i].gpa == gpa && r[i].size == size && r[i].uaddr == uaddr)
			return i;
	return -1;
}

/* Take r[i] out of r[n]. */
static void region_drop(struct vu_region *r, unsigned int *n, unsigned int i)
{
	memmove(&r[i], &r[i + 1], (*n - i - 1) * sizeof(*r));
	(*n)--;
}

static void region_release(struct vu_region *r)
{
	if (r->map) {
		vu_guard_remove(r->map);
		munmap(r->map, r->map_len);
	}
	close_fd(&r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

struct vu_region *vu_mem_find(struct vu_mem *mem,
			      const struct vu_region_desc *d)
{
	int i = region_index(mem->r, mem->nregions, d->gpa, d->size, d->uaddr);

	return i < 0 ? NULL : &mem->r[i];
}

int vu_mem_remove(struct vu_mem *mem, const struct vu_region_desc *d)
{
	struct vu_region *r = vu_mem_find(mem, d);

	if (!r)
		return -ENOENT;
	region_release(r);
	region_drop(mem->r, &mem->nregions, r - mem->r);
	return 0;
}

void vu_mem_clear(struct vu_mem *mem)
{
	for (unsigned int i = 0; i < mem->nregions; i++)
		region_release(&mem->r[i]);
	mem->nregions = 0;
}

/* ---- translation, for the table and a view alike ------------------------ */

/* The region of r[n] that holds all of [addr, addr + len), or NULL. */
static const struct vu_region *lookup(const struct vu_region *r,
				      unsigned int n, uint64_t addr,
				      uint64_t len, bool by_uaddr)
{
	uint64_t last;

	if (!last_byte(addr, len, &last))
		return NULL;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t start = by_uaddr ? r[i].uaddr : r[i].gpa;

		if (addr >= start && last <= start + (r[i].size - 1))
			return &r[i];
	}
	return NULL;
}

static uint64_t to_hva(const struct vu_region *r, unsigned int n,
		       uint64_t addr, uint64_t len, bool by_uaddr)
{
	const struct vu_region *reg = lookup(r, n, addr, len, by_uaddr);

	if (!reg)
		return 0;
	return reg->hva + (addr - (by_uaddr ? reg->uaddr : reg->gpa));
}

uint64_t vu_mem_uva_to_hva(const struct vu_mem *mem, uint64_t uaddr,
			   uint64_t len)
{
	return to_hva(mem->r, mem->nregions, uaddr, len, true);
}

uint64_t vu_mem_gpa_to_hva(const struct vu_mem *mem, uint64_t gpa,
			   uint64_t len)
{
	return to_hva(mem->r, mem->nregions, gpa, len, false);
}

/* ---- a datapath's view ------------------------------------------------ */

/* A copy of a table region that owns nothing. */
static void view_region(struct vu_region *dst, const struct vu_region *src)
{
	*dst = *src;
	dst->fd = -1;
	dst->map = NULL;
	dst->map_len = 0;
}

void vu_mem_view_init(struct vu_mem_view *v, const struct vu_mem *mem)
{
	memset(v, 0, sizeof(*v));
	for (unsigned int i = 0; i < mem->nregions; i++)
		view_region(&v->r[i], &mem->r[i]);
	v->nregions = mem->nregions;
	v->guard = mem->guard;
}

int vu_mem_view_add(struct vu_mem_view *v, const struct vu_region *r)
{
	if (v->nregions >= VU_MAX_MEM_SLOTS)
		return -ENOSPC;
	view_region(&v->r[v->nregions++], r);
	v->guard = r->guard;
	return 0;
}

void vu_mem_view_remove(struct vu_mem_view *v, const struct vu_region *r)
{
	int i = region_index(v->r, v->nregions, r->gpa, r->size, r->uaddr);

	if (i >= 0)
		region_drop(v->r, &v->nregions, i);
}

int vu_mem_view_iov(const struct vu_mem_view *v, uint64_t gpa, uint64_t len,
		    struct iovec *iov, unsigned int max)
{
	unsigned int n = 0;
	uint64_t last;

	if (len && !last_byte(gpa, len, &last))
		return -1;
	while (len) {
		/* The region holding the next byte, and as much of it as fits. */
		const struct vu_region *r = lookup(v->r, v->nregions, gpa, 1, false);
		uint64_t off, chunk;

		if (!r || n == max)
			return -1;
		off = gpa - r->gpa;
		chunk = r->size - off < len ? r->size - off : len;
		iov[n].iov_base = (void *)(uintptr_t)(r->hva + off);
		iov[n].iov_len = chunk;
		n++;
		gpa += chunk;
		len -= chunk;
	}
	return n;
}

void *vu_mem_view_ptr(const struct vu_mem_view *v, uint64_t gpa, uint64_t len)
{
	return (void *)(uintptr_t)to_hva(v->r, v->nregions, gpa, len, false);
}
