/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The input format of the vhost-user fuzz target (vu_fuzz.c), shared with
 * the program that writes its seed corpus (vu_seeds.c).
 */
#ifndef VU_FUZZ_H
#define VU_FUZZ_H

#include "vu_proto.h"

/* Record header: request, ctl, len (u16), nfds; then the fd specs. */
#define REC_HDR		5
#define MAX_SEND_FDS	(VU_MAX_FDS + 4)	/* a few more than the daemon takes */
/* Largest payload of one record: past the daemon's limit, to be refused. */
#define FUZZ_MAX_LEN	(VU_MAX_PAYLOAD + 64)

/* ctl bits. */
#define CTL_NEED_REPLY	0x01	/* VU_FLAG_NEED_REPLY in the header */
#define CTL_RAW		0x02	/* no header: the payload is all that is sent */
#define CTL_SPLIT	0x04	/* sent in two writes, the fds with the first */
#define CTL_HANGUP	0x08	/* the frontend closes the socket after it */
#define CTL_GUEST	0x10	/* not a message: the guest writes and kicks */
#define CTL_BAD_FLAGS	0x80	/* the REPLY flag and ctl in the top byte */

/* An fd spec: kind in bits 0-2, argument in bits 3-7. */
enum fuzz_fd {
	FD_MEMFD,	/* memfd of arg * FUZZ_MEM_UNIT bytes */
	FD_EVENTFD,	/* eventfd; arg bit 0: non-blocking */
	FD_PIPE_READ,	/* arg bit 0: other end closed, bit 1: non-blocking */
	FD_PIPE_WRITE,
	FD_DEVNULL,
	FD_SOCKET,	/* one end of a socketpair */
	FD_ODD,		/* arg bit 0: an O_PATH fd, else a read-only memfd */
	FD_DUP,		/* the last memfd again (as QEMU shares one) */
};
#define FD_SPEC(kind, arg)	((uint8_t)((kind) | (arg) << 3))

#define FUZZ_MEM_UNIT		(64u << 10)
#define FUZZ_MEM_MAX		(32 * FUZZ_MEM_UNIT)
#define FUZZ_MEM_DEFAULT	(16 * FUZZ_MEM_UNIT)

/* The export the harness serves. */
#define FUZZ_QUEUES		2
#define FUZZ_QUEUE_SIZE		256
#define FUZZ_DISK		(1u << 20)

#endif
