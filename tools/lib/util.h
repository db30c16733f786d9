/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by everything under tools/: macros and static
 * inlines only, so any program can include it without linking anything.
 * The names and meanings are the Linux kernel's.
 */
#ifndef VHU_UTIL_H
#define VHU_UTIL_H

#include <stdint.h>
#include <unistd.h>

#define BIT(n)		(1ull << (n))
#define ARRAY_SIZE(a)	(sizeof(a) / sizeof((a)[0]))
/* x rounded up to a multiple of a, a power of 2. */
#define ALIGN(x, a)	(((x) + (a) - 1) & ~((uint64_t)(a) - 1))

/*
 * One load or store of memory another party changes concurrently (a
 * guest's rings): never torn, repeated or merged by the compiler. No
 * ordering; use __atomic acquire/release or a fence for that.
 */
#define READ_ONCE(x)		__atomic_load_n(&(x), __ATOMIC_RELAXED)
#define WRITE_ONCE(x, v)	__atomic_store_n(&(x), (v), __ATOMIC_RELAXED)

/* Close *fd if it is open and mark it closed (-1). */
static inline void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

#endif
