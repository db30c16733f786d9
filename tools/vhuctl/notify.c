// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: readiness for a service manager (sd_notify(3)'s protocol).
 *
 * Under systemd's Type=notify, NOTIFY_SOCKET names a datagram socket to
 * which the daemon sends "READY=1" once every export listens, and
 * "STOPPING=1" when it begins to stop. The socket is opened and connected
 * while the daemon is set up: the seccomp filter that follows allows no
 * socket() or connect(), only sending on it. libsystemd's sd_notify()
 * opens a new socket for every message, so it is not used.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "notify.h"

static int notify_fd = -1;

int vu_notify_open(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t len;
	size_t n;
	int fd;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	/* A path, or an abstract name written with a leading '@'. */
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path)) {
		verr("NOTIFY_SOCKET '%s': not a socket path or abstract name", path);
		return -1;
	}
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/');
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, len) < 0) {
		verr("NOTIFY_SOCKET %s: %s", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	/* Not for anything this process starts. */
	unsetenv("NOTIFY_SOCKET");
	notify_fd = fd;
	return 0;
}

void vu_notify(const char *msg)
{
	if (notify_fd >= 0 && send(notify_fd, msg, strlen(msg), MSG_NOSIGNAL) < 0)
		vlog("NOTIFY_SOCKET: cannot send '%s': %s", msg, strerror(errno));
}

void vu_notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
