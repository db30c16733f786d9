// SPDX-License-Identifier: GPL-2.0
/*
 * die-at.so: an LD_PRELOAD shim for e2e-blk --handshake-kills, to SIGKILL
 * the daemon at a chosen point of a frontend's handshake, which a script
 * polling the daemon's log cannot hit: QEMU sets a device up again within
 * a few milliseconds of connecting.
 *
 * VHU_DIE_AT=REQ[:N] kills the process (SIGKILL, as a crash would) when a
 * recvmsg() has just read the header of the Nth (default 1st) vhost-user
 * message with request code REQ, on any of its connections: the message
 * is then received and not handled, and its frontend waits for a reply
 * that never comes. Nothing else changes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static ssize_t (*real_recvmsg)(int, struct msghdr *, int);
static uint32_t die_req;
static long die_n;
static long seen;	/* messages with die_req so far */

__attribute__((constructor)) static void die_at_init(void)
{
	const char *s = getenv("VHU_DIE_AT");
	char *end;

	real_recvmsg = (ssize_t (*)(int, struct msghdr *, int))dlsym(RTLD_NEXT, "recvmsg");
	if (!s || !*s)
		return;
	die_req = strtoul(s, &end, 0);
	die_n = *end == ':' ? strtol(end + 1, NULL, 0) : 1;
	if (die_n < 1)
		die_n = 1;
}

ssize_t recvmsg(int fd, struct msghdr *mh, int flags)
{
	ssize_t n = real_recvmsg(fd, mh, flags);
	uint32_t req;

	/* A header: request, flags, size (12 bytes) at the start of iov[0]. */
	if (die_req && n >= 12 && mh->msg_iovlen >= 1 && mh->msg_iov[0].iov_len >= 12) {
		memcpy(&req, mh->msg_iov[0].iov_base, sizeof(req));
		if (req == die_req && __atomic_add_fetch(&seen, 1, __ATOMIC_RELAXED) == die_n)
			raise(SIGKILL);
	}
	return n;
}
