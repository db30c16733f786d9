/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An export's options (vhuctl export, vhuctl add, the control socket's
 * "add"): one table of names and one parser, so that every way of giving
 * an export takes the same options and says the same about a bad one.
 */
#ifndef EXPORT_OPTS_H
#define EXPORT_OPTS_H

#include <stdbool.h>
#include <stddef.h>

#include "datapath.h"
#include "priv.h"

enum {
	OPT_SOCKET = 1, OPT_BACKING, OPT_READONLY, OPT_QUEUES, OPT_QUEUE_SIZE, OPT_DIRECT,
	OPT_SERIAL, OPT_LBS, OPT_DATAPATH, OPT_SOCKET_MODE, OPT_SOCKET_GROUP, OPT_FD,
	OPT_HANDSHAKE_TIMEOUT, OPT_FORCE_SHARE, OPT_PIN_MEMORY, OPT_BUSY_POLL, OPT_EXPORT,
	/* The daemon's, not an export's: anywhere on the command line. */
	OPT_ALLOW_UID, OPT_ALLOW_GID, OPT_USER, OPT_GROUP, OPT_NO_SANDBOX, OPT_LOCK_WAIT,
	OPT_CONFIG, OPT_CONTROL,
	/* The control socket's clients. */
	OPT_JSON, OPT_SIZE, OPT_KERNEL,
};

/* getopt_long()'s entries of an export's options (all but --fd and --export). */
#define VU_EXPORT_LONG_OPTIONS						\
	{ "socket", required_argument, NULL, OPT_SOCKET },		\
	{ "backing", required_argument, NULL, OPT_BACKING },		\
	{ "readonly", no_argument, NULL, OPT_READONLY },		\
	{ "queues", required_argument, NULL, OPT_QUEUES },		\
	{ "queue-size", required_argument, NULL, OPT_QUEUE_SIZE },	\
	{ "direct", no_argument, NULL, OPT_DIRECT },			\
	{ "serial", required_argument, NULL, OPT_SERIAL },		\
	{ "logical-block-size", required_argument, NULL, OPT_LBS },	\
	{ "datapath", required_argument, NULL, OPT_DATAPATH },		\
	{ "socket-mode", required_argument, NULL, OPT_SOCKET_MODE },	\
	{ "socket-group", required_argument, NULL, OPT_SOCKET_GROUP },	\
	{ "handshake-timeout", required_argument, NULL, OPT_HANDSHAKE_TIMEOUT }, \
	{ "force-share", no_argument, NULL, OPT_FORCE_SHARE },		\
	{ "pin-memory", no_argument, NULL, OPT_PIN_MEMORY },		\
	{ "busy-poll", required_argument, NULL, OPT_BUSY_POLL }

/* The lines of help COMMAND for VU_EXPORT_LONG_OPTIONS. */
#define VU_EXPORT_HELP							\
	"  --socket PATH          the vhost-user UNIX socket to listen on\n" \
	"  --backing FILE         the regular file or block device to serve\n" \
	"  --readonly             serve it read-only (VIRTIO_BLK_F_RO)\n" \
	"  --queues N             request queues offered, 1 to 64 (default: CPUs, at most 16)\n" \
	"  --queue-size N         the largest ring a frontend may ask for, a power of 2\n" \
	"  --direct               open the backing O_DIRECT (no host page cache)\n" \
	"  --serial S             the disk's serial (GET_ID), at most 20 bytes\n" \
	"  --logical-block-size 512|4096\n" \
	"                         the block size the guest sees\n" \
	"  --datapath auto|kernel|user\n" \
	"                         vhu.ko, or io_uring in the daemon (auto: vhu.ko if usable)\n" \
	"  --handshake-timeout SEC\n" \
	"                         seconds from a connection to SET_OWNER (default 30, 0: none)\n" \
	"  --force-share          refuse no other user of the backing (image locks)\n" \
	"  --pin-memory           kernel datapath: pin guest memory once, charged to\n" \
	"                         RLIMIT_MEMLOCK, instead of per I/O\n" \
	"  --busy-poll USEC       kernel datapath: poll each ring this long before\n" \
	"                         sleeping, 0 to 1000 (default 0: off)\n" \
	"  --socket-mode MODE     the socket's mode, octal (default 0600)\n" \
	"  --socket-group GROUP   the socket's group\n"

/* One export as its options gave it, and which were given. */
struct vu_export_group {
	struct vu_export_cfg cfg;
	struct vu_sock_opts sock;
	char fd_name[VU_FDNAME_MAX];	/* --fd NAME: from LISTEN_FDNAMES */
	unsigned int set;	/* 1 << OPT_* */
	char begun_by[40];	/* the option that, given again, began it */
};

/* An export's option by its name without "--" ("queue-size"). */
struct vu_export_key {
	const char *key;
	int opt;
	bool has_arg;
};
extern const struct vu_export_key vu_export_keys[];
const struct vu_export_key *vu_export_key(const char *key);

/* An export's defaults: queues by CPU count, the largest rings, 512-byte blocks. */
void vu_export_defaults(struct vu_export_group *g);

/*
 * Apply one option (name as given, "--queues" or "queues") to g: 0, or -1
 * with the one-line error in err.
 */
int vu_export_apply(struct vu_export_group *g, int opt, const char *name,
		    const char *arg, char *err, size_t errlen);

/* "socket=...,backing=...,readonly": one whole export; 0, or -1 and err. */
int vu_export_word(struct vu_export_group *g, const char *word, char *err,
		   size_t errlen);

/*
 * What the datapath chosen for an export (@kernel: vhu.ko) cannot do of
 * what its options ask: 0, or -1 with the one-line error in err.
 */
int vu_export_check_datapath(const struct vu_export_cfg *c, bool kernel,
			     char *err, size_t errlen);

/* A decimal number from min to max ("010" is ten): 0, or -1 and err. */
int vu_parse_uint(const char *opt, const char *s, unsigned int min,
		  unsigned int max, unsigned int *out, char *err, size_t errlen);

#endif
