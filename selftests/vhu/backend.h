/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Backing stores for the vhu datapath selftests: made by vhu_backing.sh
 * (a file, a loop, null_blk, NBD or brd device, null_blk with a volatile
 * write cache), filled with a pattern
 * whose copy (the shadow) every check compares with; the device set up on
 * one (VHU_SET_BACKEND); and random I/O through a guest checked against
 * the shadow.
 */
#ifndef VHU_SELFTEST_BACKEND_H
#define VHU_SELFTEST_BACKEND_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "guest.h"

#define DISK_MB		16
#define DISK_BYTES	((uint64_t)DISK_MB << 20)
#define DISK_SECTORS	(DISK_BYTES >> 9)
#define TIMEOUT_MS	20000
#define SERIAL		"vhu-selftest-serial!"	/* exactly 20 bytes */

enum backing {
	B_FILE, B_FILE_DIRECT, B_LOOP, B_NULLBLK, B_NBD, B_BRD, B_DM, B_FSDM,
	B_WCACHE, B_WCACHE_BUFFERED,	/* volatile write cache, see backend_cycle() */
};

struct backend {
	enum backing kind;
	char path[PATH_MAX];
	int fd;
	int id;
	uint8_t *shadow;	/* what the backing store must hold */
};

/* xorshift64, seeded per process by backend_up(): rand() is too slow under TCG. */
uint64_t prng(void);
void prng_fill(void *buf, size_t len);

/* Is vhu.ko loaded? */
bool vhu_present(void);

/* vhu_backing.sh's name for @kind. */
const char *backing_name(enum backing kind);
/*
 * Create a backing store of @kind (opened read-only with @ro) and fill it
 * and the shadow with a pattern (a wcache store stays zeroes, see
 * backend.c): 0, -ENODEV when vhu_backing.sh cannot make one here, or
 * another -errno.
 */
int backend_up(struct backend *b, enum backing kind, bool ro);
/* Close and remove what backend_up() made (also after it failed). */
void backend_down(struct backend *b);
/* Compare the backing store with the shadow: 0, -EILSEQ, or -errno. */
int backend_verify(struct backend *b);
/*
 * Power a wcache backing store off and on, and open it again: what the
 * device did not make durable (a FLUSH or FUA) is lost. Nothing else may
 * have it open. 0 or -errno.
 */
int backend_cycle(struct backend *b);
/*
 * B_DM: hold every I/O to the device from now on (@stall), as a hung disk
 * does, or let it go on: 0 or -EIO.
 */
int backend_stall(struct backend *b, bool stall);
/* B_FSDM: delay the I/O to the file's data blocks by @ms: 0 or -EIO. */
int backend_delay(struct backend *b, unsigned int ms);

/* VHU_SET_BACKEND on @b with @flags and @nq queues: 0 or -errno. */
int set_backend(struct guest *g, struct backend *b, uint32_t flags,
		unsigned int nq);
/* The same with logical blocks of @blk_size bytes (0: the default). */
int set_backend_blk(struct guest *g, struct backend *b, uint32_t flags,
		    unsigned int nq, uint32_t blk_size);

/*
 * @total random reads and writes over the whole disk, on every queue of
 * @g, the writes noted in the shadow and the reads compared with it; with
 * @mem_swap the memory table is replaced while each batch is in flight.
 * 0 or -errno, the reason printed.
 */
int random_io(struct guest *g, struct backend *b, int total, bool mem_swap);

#endif
