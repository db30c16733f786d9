// SPDX-License-Identifier: GPL-2.0
/*
 * Image locking as QEMU does it, so that an image vhuctl exports is seen as
 * in use by QEMU, qemu-storage-daemon and qemu-img, and theirs by vhuctl.
 *
 * QEMU describes each user of an image by the permissions it holds
 * (consistent read, write, write unchanged, resize: bits 0 to 3) and those
 * it shares with other users. The image file carries them as open file
 * description (OFD) read locks, one byte each: a user locks byte 100 + i
 * for each permission i it holds, and byte 200 + i for each it does not
 * share. Read locks never conflict, so taking them always works; then the
 * user checks, with F_OFD_GETLK for a write lock (which any other open
 * file description's read lock blocks), that nobody else has locked
 * 200 + i for a permission i it wants, nor 100 + i for a permission it
 * does not share. It locks before it checks, so of two users that start at
 * once at least one sees the other. Closing the file drops the locks.
 *
 * OFD locks belong to the open file, not the process: two exports of one
 * image in the same daemon see each other as two processes would, and a
 * file the kernel datapath still holds stays locked until vhu.ko lets it
 * go.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "imglock.h"
#include "log.h"

#define IMG_PERM_BITS	4

/* QEMU's names for the permissions, which its lock errors use. */
static const char *const perm_name[IMG_PERM_BITS] = {
	"consistent read", "write", "write unchanged", "resize",
};
/* "another user ... lets nobody else <want> it" */
static const char *const perm_want[IMG_PERM_BITS] = {
	"read", "write", "write (unchanged)", "resize",
};
/* "another user <holds> it" */
static const char *const perm_held[IMG_PERM_BITS] = {
	"reads", "writes", "writes (unchanged)", "resizes",
};

/*
 * An export holds what a qemu-storage-daemon export holds: consistent
 * read, and write when writable. That one shares everything, so two of
 * them write one image together; an export here shares only consistent
 * reads and unchanging writes, as QEMU's disk devices do without
 * share-rw=on, and not resizing either (they share it because they tell
 * the guest of a new size; an export keeps the size it started with).
 * So a writer has the image to itself but for readers that let others
 * write, read-only exports share it, and a QEMU that writes the image is
 * refused while an export has it, or refuses an export while it has it.
 */
void img_lock_perms(bool writable, bool force_share, unsigned int *perm,
		    unsigned int *shared)
{
	*perm = IMG_PERM_CONSISTENT_READ | (writable ? IMG_PERM_WRITE : 0);
	*shared = force_share ? IMG_PERM_ALL :
		  IMG_PERM_CONSISTENT_READ | IMG_PERM_WRITE_UNCHANGED;
}

static int lock_byte(int fd, int byte)
{
	struct flock fl = {
		.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1,
	};

	return fcntl(fd, F_OFD_SETLK, &fl);
}

/* 1 if another open file description has locked byte, 0 if not, -1. */
static int byte_locked(int fd, int byte)
{
	struct flock fl = {
		.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = byte, .l_len = 1,
	};

	if (fcntl(fd, F_OFD_GETLK, &fl))
		return -1;
	return fl.l_type != F_UNLCK;
}

static int no_locks(const char *path, bool force_share, int err)
{
	if (force_share) {
		vlog("backing %s: not locked (%s): other programs cannot see that it is exported",
		     path, strerror(err));
		return 0;
	}
	verr("backing %s: cannot lock it (%s), so other users of it cannot be ruled out; --force-share exports it unlocked",
	     path, strerror(err));
	return -1;
}

/*
 * Nobody else has locked byte base + i for a bit i of mask: 0; 1 if
 * someone has (printed if report); -1 after printing the error.
 */
static int check_bytes(int fd, const char *path, int base, unsigned int mask,
		       bool report)
{
	for (int i = 0; i < IMG_PERM_BITS; i++) {
		int r;

		if (!(mask & (1u << i)))
			continue;
		r = byte_locked(fd, base + i);
		if (r < 0)
			return no_locks(path, false, errno);
		if (!r)
			continue;
		if (!report)
			return 1;
		if (base == IMG_LOCK_SHARED_BASE)
			verr("backing %s: in use: another user (a vhuctl export, QEMU) lets nobody else %s it (failed to get the \"%s\" lock); --force-share overrides this",
			     path, perm_want[i], perm_name[i]);
		else
			verr("backing %s: in use: another user (a vhuctl export, QEMU) %s it (failed to get the shared \"%s\" lock); --force-share overrides this",
			     path, perm_held[i], perm_name[i]);
		return 1;
	}
	return 0;
}

int img_lock(int fd, const char *path, bool writable, bool force_share,
	     bool report)
{
	unsigned int perm, shared;
	int i, r;

	img_lock_perms(writable, force_share, &perm, &shared);
	for (i = 0; i < IMG_PERM_BITS; i++) {
		int bytes[2] = {
			perm & (1u << i) ? IMG_LOCK_PERM_BASE + i : -1,
			shared & (1u << i) ? -1 : IMG_LOCK_SHARED_BASE + i,
		};

		for (int k = 0; k < 2; k++) {
			if (bytes[k] < 0 || !lock_byte(fd, bytes[k]))
				continue;
			/* A write lock on the byte: not QEMU's, but someone's. */
			if ((errno == EAGAIN || errno == EACCES) && !force_share) {
				if (report)
					verr("backing %s: in use: another process holds a write lock on byte %d; --force-share overrides this",
					     path, bytes[k]);
				return 1;
			}
			if (errno != EAGAIN && errno != EACCES)
				return no_locks(path, force_share, errno);
		}
	}
	if (force_share)
		return 0;
	r = check_bytes(fd, path, IMG_LOCK_SHARED_BASE, perm, report);
	return r ?: check_bytes(fd, path, IMG_LOCK_PERM_BASE, ~shared & IMG_PERM_ALL,
				report);
}
