// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the export daemon's privileges.
 *
 * The daemon needs privileges only to set up: to open /dev/vhu (the
 * module wants CAP_SYS_ADMIN at open, and nothing after), the backings
 * and the sockets' directories. With --user/--group it then becomes that
 * user, with that group and no supplementary groups, before any frontend
 * is served; a frontend that finds a way to run code in the daemon gets
 * that user's rights, no capability, and (sandbox.c) a short list of
 * system calls.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "priv.h"
#include "sandbox.h"

struct vu_priv vu_priv;


/* A decimal id, all digits: 0 and *out, or -1. */
static int parse_id(const char *s, unsigned long *out)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*out = strtoul(s, &end, 10);
	return errno || *end || *out >= (unsigned long)(uid_t)-1 ? -1 : 0;
}

int vu_lookup_user(const char *s, uid_t *uid, gid_t *gid, bool *has_gid)
{
	struct passwd *pw;
	unsigned long v;

	if (!parse_id(s, &v)) {
		*uid = v;
		pw = getpwuid(v);
	} else {
		pw = getpwnam(s);
		if (!pw)
			return -1;
		*uid = pw->pw_uid;
	}
	*has_gid = pw;
	if (pw)
		*gid = pw->pw_gid;
	return 0;
}

int vu_lookup_group(const char *s, gid_t *gid)
{
	struct group *gr;
	unsigned long v;

	if (!parse_id(s, &v)) {
		*gid = v;
		return 0;
	}
	gr = getgrnam(s);
	if (!gr)
		return -1;
	*gid = gr->gr_gid;
	return 0;
}

int vu_check_listen_fd(int fd, char *err, size_t errlen)
{
	int domain = 0, type = 0, listening = 0;
	socklen_t len = sizeof(int);
	struct stat st;

	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "fd %d: %s", fd, strerror(errno));
		return -1;
	}
	if (!S_ISSOCK(st.st_mode) ||
	    getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0 ||
	    domain != AF_UNIX || type != SOCK_STREAM || !listening) {
		snprintf(err, errlen, "fd %d is not a listening AF_UNIX SOCK_STREAM socket",
			 fd);
		return -1;
	}
	return 0;
}

int vu_listen_fds(char (*names)[VU_FDNAME_MAX], int max, char *err, size_t errlen)
{
	const char *pid = getenv("LISTEN_PID");
	const char *fds = getenv("LISTEN_FDS");
	const char *fdnames = getenv("LISTEN_FDNAMES");
	unsigned long p, n = 0;
	int ret = 0;

	if (!pid || !fds || parse_id(pid, &p) || p != (unsigned long)getpid())
		goto out;	/* not for us (or none) */
	if (parse_id(fds, &n) || n > (unsigned long)max) {
		snprintf(err, errlen, "LISTEN_FDS='%s': expected at most %d sockets", fds, max);
		ret = -1;
		goto out;
	}
	for (unsigned long i = 0; i < n; i++) {
		const char *end;
		size_t len;

		names[i][0] = '\0';
		if (fcntl(3 + i, F_SETFD, FD_CLOEXEC) < 0) {
			snprintf(err, errlen, "LISTEN_FDS: fd %lu: %s", 3 + i, strerror(errno));
			ret = -1;
			goto out;
		}
		if (!fdnames)
			continue;
		end = strchrnul(fdnames, ':');
		len = end - fdnames;
		if (len >= VU_FDNAME_MAX)
			len = VU_FDNAME_MAX - 1;
		memcpy(names[i], fdnames, len);
		names[i][len] = '\0';
		fdnames = *end ? end + 1 : end;
	}
	ret = n;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return ret;
}

/* Is gid one of the peer's supplementary groups (SO_PEERGROUPS)? */
static bool in_peer_groups(int fd, gid_t gid)
{
	gid_t some[64], *groups = some;
	socklen_t len = sizeof(some);
	bool found = false;
	int ret;

	ret = getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len);
	if (ret < 0 && errno == ERANGE) {
		/* Not copied: len says how much room all of them need. */
		groups = malloc(len);
		ret = groups ? getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) : -1;
	}
	for (size_t i = 0; !ret && i < len / sizeof(gid_t); i++)
		found |= groups[i] == gid;
	if (groups != some)
		free(groups);
	return found;
}

bool vu_peer_allowed(int fd, const char *what)
{
	const struct vu_priv *p = &vu_priv;
	struct ucred uc;
	socklen_t len = sizeof(uc);

	if (!p->nuids && !p->ngids)
		return true;
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &uc, &len) < 0) {
		vlog("%s: refused a frontend: no peer credentials: %s", what,
		     strerror(errno));
		return false;
	}
	for (unsigned int i = 0; i < p->nuids; i++)
		if (uc.uid == p->uids[i])
			return true;
	for (unsigned int i = 0; i < p->ngids; i++)
		if (uc.gid == p->gids[i] || in_peer_groups(fd, p->gids[i]))
			return true;
	vlog("%s: refused a frontend (pid %d, uid %u, gid %u): not in --allow-uid/--allow-gid",
	     what, (int)uc.pid, (unsigned int)uc.uid, (unsigned int)uc.gid);
	return false;
}

static int drop(uid_t uid, gid_t gid)
{
	uid_t r, e, s;

	/* Not root: only the user and group it already is are possible. */
	if (geteuid() && uid == geteuid() && gid == getegid())
		return 0;
	if (setgroups(0, NULL) < 0) {
		verr("cannot drop the supplementary groups: %s", strerror(errno));
		return -1;
	}
	if (setresgid(gid, gid, gid) < 0) {
		verr("cannot become group %u: %s", (unsigned int)gid, strerror(errno));
		return -1;
	}
	if (setresuid(uid, uid, uid) < 0) {
		verr("cannot become user %u: %s", (unsigned int)uid, strerror(errno));
		return -1;
	}
	/* Root stays root only when asked to; nobody else may get it back. */
	if (getresuid(&r, &e, &s) || r != uid || e != uid || s != uid ||
	    (uid && setuid(0) == 0)) {
		verr("the switch to user %u did not stick", (unsigned int)uid);
		return -1;
	}
	return 0;
}

int vu_priv_enter(const struct vu_export *ex, unsigned int n)
{
	const struct vu_priv *p = &vu_priv;
	unsigned int dps = 0;
	char err[256];

	if (p->has_user || p->has_group) {
		uid_t uid = p->has_user ? p->uid : geteuid();
		gid_t gid = p->has_group ? p->gid : getegid();

		if (drop(uid, gid))
			return -1;
		vlog("running as user %u, group %u", (unsigned int)uid, (unsigned int)gid);
	}
	if (!p->sandbox)
		return 0;
	if (p->all_datapaths)
		dps = VU_SANDBOX_KERNEL | VU_SANDBOX_USER;
	for (unsigned int i = 0; i < n; i++) {
		if (ex[i].ops == &vu_dp_kernel_ops)
			dps |= VU_SANDBOX_KERNEL;
		else if (ex[i].ops == &vu_dp_user_ops)
			dps |= VU_SANDBOX_USER;
		else
			dps |= VU_SANDBOX_KERNEL | VU_SANDBOX_USER;
	}
	if (vu_sandbox_install(dps, err, sizeof(err))) {
		verr("sandbox: %s", err);
		return -1;
	}
	return 0;
}
