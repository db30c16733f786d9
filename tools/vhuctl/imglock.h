/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Image locking, QEMU's way, so that vhuctl, QEMU, qemu-storage-daemon and
 * qemu-img see each other's use of an image (see imglock.c).
 */
#ifndef IMGLOCK_H
#define IMGLOCK_H

#include <stdbool.h>

/* QEMU's permissions on an image: bit i is locked at bytes 100 + i, 200 + i. */
enum {
	IMG_PERM_CONSISTENT_READ	= 1 << 0,
	IMG_PERM_WRITE			= 1 << 1,
	IMG_PERM_WRITE_UNCHANGED	= 1 << 2,
	IMG_PERM_RESIZE			= 1 << 3,
	IMG_PERM_ALL			= (1 << 4) - 1,
};

#define IMG_LOCK_PERM_BASE	100	/* + i: a user holds permission i */
#define IMG_LOCK_SHARED_BASE	200	/* + i: a user does not share it */

/*
 * What an export holds and shares: *perm and *shared, IMG_PERM_* masks.
 * force_share: it shares everything.
 */
void img_lock_perms(bool writable, bool force_share, unsigned int *perm,
		    unsigned int *shared);

/*
 * Take an export's locks on fd, the image at path, and check nobody else's
 * use conflicts with it: 0; 1 if another user's does (why is printed if
 * report); -1 after printing the error. fd keeps whatever it locked, and
 * closing it drops that. With force_share nothing is checked, and a file
 * system without locks is only logged.
 */
int img_lock(int fd, const char *path, bool writable, bool force_share,
	     bool report);

#endif
