/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The export daemon's privileges (priv.c): who may connect, the socket
 * file's mode and group, sockets inherited from a service manager, and
 * what the daemon keeps once it is set up (user, group, seccomp filter).
 */
#ifndef PRIV_H
#define PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* One export's listening socket. Zeroed: bound by the daemon, mode 0600. */
struct vu_sock_opts {
	mode_t mode;		/* of the socket file; 0: 0600 */
	bool has_gid;
	gid_t gid;		/* the socket file's group */
	bool has_fd;
	int fd;			/* an inherited listening socket: not bound, not unlinked */
};

#define VU_PRIV_MAX_IDS 32

/* The whole daemon's. Zeroed: any peer, no drop, no filter. */
struct vu_priv {
	/* Peers allowed (SO_PEERCRED): none listed lets in any that can connect. */
	unsigned int nuids, ngids;
	uid_t uids[VU_PRIV_MAX_IDS];
	gid_t gids[VU_PRIV_MAX_IDS];
	/* Set up, then become this user and group (no supplementary groups). */
	bool has_user, has_group;
	uid_t uid;
	gid_t gid;
	bool sandbox;		/* the seccomp filter (sandbox.c) */
	/* The filter lets both datapaths run (exports added at runtime). */
	bool all_datapaths;
};

extern struct vu_priv vu_priv;

/*
 * A user or group as a name or a number: 0, or -1. For a user with an
 * entry in the user database, *gid is its primary group and *has_gid true.
 */
int vu_lookup_user(const char *s, uid_t *uid, gid_t *gid, bool *has_gid);
int vu_lookup_group(const char *s, gid_t *gid);

/* fd is a listening AF_UNIX SOCK_STREAM socket: 0, or -1 with err set. */
int vu_check_listen_fd(int fd, char *err, size_t errlen);

#define VU_FDNAME_MAX 256
/*
 * The sockets a service manager passed to this process (LISTEN_PID,
 * LISTEN_FDS, LISTEN_FDNAMES as sd_listen_fds(3) has them): their number
 * n, fds 3 to 3 + n - 1 (made close-on-exec), names[i] the name of fd
 * 3 + i or "". At most max; -1 with err set when the variables are bad.
 * The variables are removed either way.
 */
int vu_listen_fds(char (*names)[VU_FDNAME_MAX], int max, char *err, size_t errlen);

/* May the peer on the accepted fd connect? If not, a log line says why. */
bool vu_peer_allowed(int fd, const char *what);

struct vu_export;
/*
 * Everything is set up: drop to vu_priv's user and group, then install
 * the seccomp filter for the exports' datapaths. 0, or -1 after a log line.
 */
int vu_priv_enter(const struct vu_export *ex, unsigned int n);

#endif
