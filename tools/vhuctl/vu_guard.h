/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Containing faults in a frontend's shared memory (the guard).
 *
 * The daemon maps every frontend's guest memory, inflight area and dirty
 * log from fds the frontend handed over. A frontend that shrinks such a file (a
 * memfd without F_SEAL_SHRINK, a /dev/shm or hugetlbfs file) after it
 * was mapped turns every later access to the lost pages into SIGBUS,
 * which by default kills the daemon and every export with it.
 *
 * Each mapping is registered here with the guard of the connection it
 * belongs to. A SIGBUS inside a registered mapping replaces that mapping
 * with anonymous memory (so the faulting thread goes on, reading zeroes),
 * marks its guard faulted and signals the guard's eventfd; the export's
 * threads see the flag, take no more requests and drop that frontend.
 * A SIGBUS anywhere else is fatal as before.
 *
 * The server unmaps a mapping only after vu_guard_remove(), and only once
 * no thread can touch it (as for any guest mapping), so the handler never
 * replaces memory that is being unmapped.
 */
#ifndef VU_GUARD_H
#define VU_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* One connection's view of faults in the memory it shares. */
struct vu_guard {
	int fd;			/* eventfd the handler signals; -1: none */
	int faulted;		/* set by the handler (atomic) */
	uintptr_t fault_addr;	/* the first fault's address (atomic) */
	bool fault_sealed;	/* the faulting mapping's fd had F_SEAL_SHRINK */
};

/*
 * Install the SIGBUS handler (once per process): 0 or -errno. The daemon
 * calls it before its seccomp filter goes on (sandbox.h); the first
 * vu_guard_init() does otherwise.
 */
int vu_guard_setup(void);
/* Install the SIGBUS handler if need be, and make g's eventfd. */
int vu_guard_init(struct vu_guard *g);
/* Close g's eventfd; every mapping of g must be removed already. */
void vu_guard_fini(struct vu_guard *g);

/*
 * Register [addr, addr + len), mapped from an fd that is sealed against
 * shrinking or not, as g's: 0, or -ENOSPC when the daemon's table of
 * mappings is full. A NULL g registers nothing.
 */
int vu_guard_add(struct vu_guard *g, void *addr, size_t len, bool sealed);
/* Forget the mapping at addr, before it is unmapped. */
void vu_guard_remove(void *addr);

/* Has a fault in g's memory happened (any thread, any time)? */
bool vu_guard_faulted(const struct vu_guard *g);

/* The number of mappings registered (for the tests). */
unsigned int vu_guard_count(void);

#endif
