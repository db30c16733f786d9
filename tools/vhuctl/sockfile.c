// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: making a listening socket file (sockfile.h), for the daemon's
 * own sockets and for a client that hands one to a running daemon.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "priv.h"
#include "sockfile.h"

/*
 * The socket file: mode 0600 (or --socket-mode) whatever the umask, its
 * group --socket-group, its owner --user. It is bound with a umask that
 * lets only the daemon's user in, then given its group, then its mode, so
 * no one else can connect in between. No other thread
 * of the process makes files meanwhile (the umask is the process's).
 */
static int bind_private(int fd, const struct sockaddr_un *sa, const struct vu_sock_opts *o)
{
	const char *path = sa->sun_path;
	mode_t mode = o->mode ? o->mode : 0600, old;
	uid_t uid = vu_priv.has_user ? vu_priv.uid : (uid_t)-1;
	gid_t gid = o->has_gid ? o->gid : (gid_t)-1;
	int ret;

	old = umask(0177);
	ret = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	umask(old);
	if (ret < 0) {
		verr("cannot bind %s: %s", path, strerror(errno));
		return -1;
	}
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) &&
	    fchownat(AT_FDCWD, path, uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
		verr("cannot give %s to user %d, group %d: %s", path, (int)uid,
		     (int)gid, strerror(errno));
		return 1;
	}
	if (mode != 0600 && fchmodat(AT_FDCWD, path, mode, 0) < 0) {
		verr("cannot set the mode of %s to %04o: %s", path, (unsigned int)mode,
		     strerror(errno));
		return 1;
	}
	if ((mode & 0002) && !vu_priv.nuids && !vu_priv.ngids)
		vlog("%s: any local user can connect (mode %04o, no --allow-uid/--allow-gid)",
		     path, (unsigned int)mode);
	return 0;
}

/*
 * The socket's directory, made when it is missing but its own parent is
 * there (/run/vhu on a fresh host): mode 0755, given to --user so that the
 * daemon can remove its socket at exit. A deeper path is left to bind()
 * to refuse, as it is more likely a typo than a wish. The directory stays
 * after the daemon, as a service manager's runtime directory would.
 */
static int make_socket_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct stat st;

	if (!slash || slash == path)
		return 0;
	snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (!stat(dir, &st) || errno != ENOENT || mkdir(dir, 0755) < 0)
		return 0;
	vlog("created the directory %s for the socket", dir);
	if (vu_priv.has_user && chown(dir, vu_priv.uid, (gid_t)-1) < 0) {
		verr("cannot give %s to user %d: %s", dir, (int)vu_priv.uid, strerror(errno));
		return -1;
	}
	return 0;
}

int vu_socket_create(const char *path, const struct vu_sock_opts *o, bool *created)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, ret;

	*created = false;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		verr("socket path %s is too long", path);
		return -1;
	}
	strcpy(sa.sun_path, path);

	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			verr("%s exists and is not a socket", path);
			return -1;
		}
		/* A socket file: in use, or left behind by a dead daemon? */
		fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			close(fd);
			verr("socket %s is in use by another process", path);
			return -1;
		}
		if (fd >= 0)
			close(fd);
		unlink(path);
	} else if (make_socket_dir(path)) {
		return -1;
	}

	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0) {
		verr("socket: %s", strerror(errno));
		return -1;
	}
	ret = bind_private(fd, &sa, o);
	if (ret >= 0)
		*created = true;
	if (ret) {
		close(fd);
		if (*created)
			unlink(path);
		*created = false;
		return -1;
	}
	if (listen(fd, 4) < 0) {
		verr("cannot listen on %s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		*created = false;
		return -1;
	}
	return fd;
}

