// SPDX-License-Identifier: GPL-2.0
/*
 * Unit tests of the region table: validation and address translation.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "tap.h"
#include "vu_mem.h"

#define MB (1024ull * 1024)

static int memfd(size_t size)
{
	int fd = memfd_create("t_mem", MFD_CLOEXEC);

	if (fd >= 0 && ftruncate(fd, size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int add(struct vu_mem *m, uint64_t gpa, uint64_t size, uint64_t uaddr,
	       uint64_t off)
{
	struct vu_region_desc d = { gpa, size, uaddr, off };
	const char *why;

	return vu_mem_add(m, &d, memfd(2 * MB), &why);
}

void t_mem(void)
{
	struct vu_mem m = { 0 };
	struct vu_region_desc d;
	const char *why;
	uint64_t h;
	int fd;

	tap_ok(add(&m, 0, MB, 0x7f0000000000, 0) == 0, "mem: add a region");
	tap_ok(add(&m, MB, MB, 0x7f0000100000, MB) == 0,
	       "mem: add a second region at a file offset");
	tap_ok(m.nregions == 2, "mem: two regions");

	tap_ok(add(&m, MB / 2, 4096, 0x10000, 0) == -EINVAL,
	       "mem: overlap in guest-physical space refused");
	tap_ok(add(&m, 4 * MB, 4096, 0x7f00000ff000, 0) == -EINVAL,
	       "mem: overlap in frontend address space refused");
	tap_ok(add(&m, 8 * MB, 0, 0x1000, 0) == -EINVAL, "mem: zero size refused");
	tap_ok(add(&m, UINT64_MAX - 4095, 8192, 0x1000, 0) == -EINVAL,
	       "mem: guest-physical overflow refused");
	tap_ok(add(&m, 8 * MB, 8192, UINT64_MAX - 4095, 0) == -EINVAL,
	       "mem: frontend address overflow refused");
	tap_ok(add(&m, 8 * MB, 8192, 0x1000, UINT64_MAX - 4095) == -EINVAL,
	       "mem: mmap offset overflow refused");
	tap_ok(add(&m, 8 * MB, 2 * MB, 0x1000, MB) == -EINVAL,
	       "mem: region past the end of its fd refused");
	tap_ok(m.nregions == 2, "mem: refused regions left the table alone");

	h = vu_mem_uva_to_hva(&m, 0x7f0000100000 + 16, 64);
	tap_ok(h == m.r[1].hva + 16, "mem: frontend address translates");
	tap_ok(vu_mem_gpa_to_hva(&m, MB + 16, 64) == h,
	       "mem: guest-physical address translates to the same place");
	tap_ok(vu_mem_uva_to_hva(&m, 0x7f00000ffff0, 32) == 0,
	       "mem: a range across two regions does not translate");
	tap_ok(vu_mem_uva_to_hva(&m, 0x1000, 1) == 0,
	       "mem: an address outside every region does not translate");
	tap_ok(vu_mem_gpa_to_hva(&m, 2 * MB - 8, 8) == m.r[1].hva + MB - 8,
	       "mem: the last bytes of a region translate");

	/* A datapath's view: the same translations, across adjacent regions. */
	{
		struct vu_mem_view v;
		struct iovec iov[2];

		vu_mem_view_init(&v, &m);
		tap_ok(v.nregions == 2 && v.r[0].fd == -1 && !v.r[1].map &&
		       vu_mem_view_ptr(&v, MB + 16, 64) == (void *)(uintptr_t)h,
		       "mem: a datapath's view owns nothing and translates like the table");
		tap_ok(vu_mem_view_iov(&v, MB - 16, 32, iov, 2) == 2 &&
		       iov[0].iov_base == (void *)(uintptr_t)(m.r[0].hva + MB - 16) &&
		       iov[0].iov_len == 16 &&
		       iov[1].iov_base == (void *)(uintptr_t)m.r[1].hva && iov[1].iov_len == 16,
		       "mem: a range across adjacent regions is two iovecs");
		tap_ok(vu_mem_view_iov(&v, MB - 16, 32, iov, 1) == -1 &&
		       !vu_mem_view_ptr(&v, MB - 16, 32),
		       "mem: ... and neither one iovec nor one pointer");
		tap_ok(vu_mem_view_iov(&v, 2 * MB - 16, 32, iov, 2) == -1 &&
		       vu_mem_view_iov(&v, UINT64_MAX - 15, 32, iov, 2) == -1,
		       "mem: a range past the last region or wrapping does not translate");
		vu_mem_view_remove(&v, &m.r[0]);
		tap_ok(v.nregions == 1 && v.r[0].gpa == MB && !vu_mem_view_ptr(&v, 0, 1) &&
		       vu_mem_view_add(&v, &m.r[0]) == 0 && vu_mem_view_ptr(&v, 0, 1),
		       "mem: a region leaves and rejoins the view");
	}

	/* Both regions map the same fd range? No: region 1 is at offset 1M. */
	memset((void *)(uintptr_t)m.r[0].hva, 0xaa, 16);
	*(volatile uint8_t *)(uintptr_t)m.r[1].hva = 0x55;
	tap_ok(*(uint8_t *)(uintptr_t)m.r[1].hva == 0x55 &&
	       *(uint8_t *)(uintptr_t)m.r[0].hva == 0xaa,
	       "mem: regions are mapped read-write");

	d = (struct vu_region_desc){ MB, MB, 0x7f0000100000, MB };
	tap_ok(vu_mem_remove(&m, &d) == 0 && m.nregions == 1, "mem: remove a region");
	tap_ok(vu_mem_remove(&m, &d) == -ENOENT, "mem: removing it again fails");
	tap_ok(vu_mem_check(&m, &d, &why) == 0, "mem: its range is free again");
	vu_mem_clear(&m);
	tap_ok(m.nregions == 0, "mem: clear empties the table");

	fd = memfd(MB);
	d = (struct vu_region_desc){ 0, MB, 0x1000, 0 };
	tap_ok(vu_mem_add(&m, &d, fd, &why) == 0 && fcntl(fd, F_GETFD) >= 0,
	       "mem: the table owns the region fd");
	vu_mem_clear(&m);
	tap_ok(fcntl(fd, F_GETFD) < 0, "mem: clear closes the region fd");
}
