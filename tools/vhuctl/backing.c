// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: opening an export's backing, as its client does (backing.h):
 * vhuctl export before it serves, vhuctl add before it hands the fd to
 * a running daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/fs.h>

#include "backing.h"
#include "imglock.h"
#include "log.h"
#include "vu_server.h"

/*
 * The file offset alignment O_DIRECT needs on fd, a regular file: what
 * statx() says, or, where the file system does not say, 512 if a 512-byte
 * read at offset 512 works and else 4096 (the next size an export takes).
 */
static unsigned int dio_align(int fd, uint64_t size)
{
	struct statx stx;
	void *buf;
	ssize_t n;

	if (!statx(fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &stx) &&
	    (stx.stx_mask & STATX_DIOALIGN) && stx.stx_dio_offset_align)
		return stx.stx_dio_offset_align < 512 ? 512 : stx.stx_dio_offset_align;
	if (size < 1024 || posix_memalign(&buf, 4096, 512))
		return 512;
	n = pread(fd, buf, 512, 512);
	free(buf);
	return n < 0 && errno == EINVAL ? 4096 : 512;
}

/* What a file that cannot be a backing is, for the error. */
static const char *file_type(mode_t mode)
{
	if (S_ISDIR(mode))
		return "a directory";
	if (S_ISCHR(mode))
		return "a character device";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	return "of an unknown type";
}

/* One image: the same inode, or the same block device through any node. */
static bool same_image(const struct stat *a, const struct stat *b)
{
	if (S_ISBLK(a->st_mode) && S_ISBLK(b->st_mode))
		return a->st_rdev == b->st_rdev;
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

/*
 * Open c's backing file or block device (those of prev[0..nprev) are
 * open), check it and lock it (imglock.c). Its type is checked first:
 * opening a FIFO would wait for a writer, and a character device may act on
 * open. A writable block device is opened O_EXCL unless --force-share: the
 * kernel then refuses one that is mounted, part of another device (RAID,
 * device-mapper) or opened O_EXCL by anyone else, which no lock shows.
 * 0; 1 if another user has it (printed if report); -1 after the error.
 */
static int try_backing(struct vu_export_cfg *c, struct vu_export_cfg *const *prev,
		       unsigned int nprev, bool report)
{
	int flags = (c->readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC;
	struct stat st, fst;
	uint64_t size;
	int fd, ret;

	if (stat(c->backing, &st) < 0) {
		verr("backing %s: %s", c->backing, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
		verr("backing %s: %s, not a regular file or block device",
		     c->backing, file_type(st.st_mode));
		return -1;
	}
	for (unsigned int j = 0; j < nprev; j++) {
		struct stat sj;

		if (!fstat(prev[j]->backing_fd, &sj) && same_image(&st, &sj) &&
		    !(c->readonly && prev[j]->readonly)) {
			verr("backing %s is exported twice and not read-only in both",
			     c->backing);
			return -1;
		}
	}
	if (c->direct)
		flags |= O_DIRECT;
	/* Not to wait for a writer should it have become a FIFO since. */
	if (S_ISREG(st.st_mode))
		flags |= O_NONBLOCK;
	if (S_ISBLK(st.st_mode) && !c->readonly && !c->force_share)
		flags |= O_EXCL;
	fd = open(c->backing, flags);
	if (fd < 0 && errno == EBUSY && (flags & O_EXCL)) {
		if (report)
			verr("backing %s: in use: the device is mounted, part of another device or opened exclusively (O_EXCL) by another program; --force-share overrides this",
			     c->backing);
		return 1;
	}
	if (fd < 0) {
		verr("backing %s: %s%s", c->backing, strerror(errno),
		     errno == EINVAL && c->direct ? " (O_DIRECT unsupported here?)" :
		     (errno == EACCES || errno == EROFS || errno == EPERM) && !c->readonly ?
		     " (to export it read-only, give --readonly)" : "");
		return -1;
	}
	if (fstat(fd, &fst) < 0)
		goto err_errno;
	if ((st.st_mode ^ fst.st_mode) & S_IFMT || !same_image(&st, &fst)) {
		verr("backing %s: replaced while it was being opened", c->backing);
		goto err;
	}
	if ((flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0)
		goto err_errno;
	c->backing_lbs = 512;
	if (S_ISREG(st.st_mode)) {
		size = fst.st_size;
		if (c->direct)
			c->backing_lbs = dio_align(fd, size);
		if (c->backing_lbs > c->lbs) {
			verr("backing %s: O_DIRECT on it needs %u-byte alignment, more than the %u-byte logical block size",
			     c->backing, c->backing_lbs, c->lbs);
			goto err;
		}
	} else {
		int ssz = 0;

		if (ioctl(fd, BLKGETSIZE64, &size) < 0)
			goto err_errno;
		if (ioctl(fd, BLKSSZGET, &ssz) == 0 && ssz > 512)
			c->backing_lbs = ssz;
		if (c->backing_lbs > c->lbs) {
			verr("backing %s: its logical block size %u is larger than %u",
			     c->backing, c->backing_lbs, c->lbs);
			goto err;
		}
	}
	if (size < c->lbs) {
		verr("backing %s: %s", c->backing,
		     size ? "smaller than one logical block" : "is empty");
		goto err;
	}
	if (size % c->lbs) {
		verr("backing %s: size %" PRIu64 " is not a multiple of the %u-byte logical block size",
		     c->backing, size, c->lbs);
		goto err;
	}
	ret = img_lock(fd, c->backing, !c->readonly, c->force_share, report);
	if (ret) {
		close(fd);
		return ret;
	}
	c->backing_fd = fd;
	c->size = size;
	return 0;
err_errno:
	verr("backing %s: %s", c->backing, strerror(errno));
err:
	close(fd);
	return -1;
}

/*
 * --lock-wait: how long to wait for a backing's other user to let it go.
 * The user in the way is often this daemon's own predecessor, killed and
 * restarted: its backing stays open, and so locked, until the kernel has
 * finished the I/O it had in flight (an io_uring ring is torn down after
 * its process is gone; vhu.ko gives requests VHU_EXIT_WAIT_MS).
 */
#define LOCK_POLL_MS		50

int vu_open_backing(struct vu_export_cfg *c, struct vu_export_cfg *const *prev,
		    unsigned int nprev, unsigned int lock_wait_ms)
{
	const char *path = c->backing;
	uint64_t t0 = vu_now_ms(), waited = 0;
	int ret;

	while ((ret = try_backing(c, prev, nprev, waited >= lock_wait_ms)) > 0) {
		if (waited >= lock_wait_ms)
			return -1;
		if (!waited)
			vlog("backing %s: in use; waiting up to %u s for it to be let go (--lock-wait)",
			     path, lock_wait_ms / 1000);
		usleep(LOCK_POLL_MS * 1000);
		waited = vu_now_ms() - t0;
		if (waited > lock_wait_ms)
			waited = lock_wait_ms;
	}
	if (!ret && waited)
		vlog("backing %s: let go after %" PRIu64 " ms", path, waited);
	return ret;
}

