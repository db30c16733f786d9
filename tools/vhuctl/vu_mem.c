// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: mapping the frontend's memory regions and translating addresses.
 *
 * Each region's fd is mapped from file offset 0 for mmap_offset + size
 * bytes (so a hugetlbfs offset need not be page aligned for us), and the
 * region starts mmap_offset bytes into that mapping.
 */
#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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
	int ret;

	ret = vu_mem_check(mem, d, why);
	if (ret)
		goto err;
	if (fstat(fd, &st) < 0) {
		*why = "cannot stat region fd";
		ret = -errno;
		goto err;
	}
	len = d->mmap_offset + d->size;
	if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < len) {
		*why = "region extends past the end of its fd";
		ret = -EINVAL;
		goto err;
	}
	map = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
		   fd, 0);
	if (map == MAP_FAILED) {
		*why = "cannot mmap region fd";
		ret = -errno;
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
	return 0;
err:
	close(fd);
	return ret;
}

static void region_release(struct vu_region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

int vu_mem_remove(struct vu_mem *mem, const struct vu_region_desc *d)
{
	for (unsigned int i = 0; i < mem->nregions; i++) {
		struct vu_region *r = &mem->r[i];

		if (r->gpa != d->gpa || r->size != d->size ||
		    r->uaddr != d->uaddr)
			continue;
		region_release(r);
		memmove(r, r + 1, (mem->nregions - i - 1) * sizeof(*r));
		mem->nregions--;
		return 0;
	}
	return -ENOENT;
}

void vu_mem_clear(struct vu_mem *mem)
{
	for (unsigned int i = 0; i < mem->nregions; i++)
		region_release(&mem->r[i]);
	mem->nregions = 0;
}

static uint64_t translate(const struct vu_mem *mem, uint64_t addr,
			  uint64_t len, bool by_uaddr)
{
	uint64_t last;

	if (!last_byte(addr, len, &last))
		return 0;
	for (unsigned int i = 0; i < mem->nregions; i++) {
		const struct vu_region *r = &mem->r[i];
		uint64_t start = by_uaddr ? r->uaddr : r->gpa;

		if (addr >= start && last <= start + (r->size - 1))
			return r->hva + (addr - start);
	}
	return 0;
}

uint64_t vu_mem_uva_to_hva(const struct vu_mem *mem, uint64_t uaddr,
			   uint64_t len)
{
	return translate(mem, uaddr, len, true);
}

uint64_t vu_mem_gpa_to_hva(const struct vu_mem *mem, uint64_t gpa,
			   uint64_t len)
{
	return translate(mem, gpa, len, false);
}
