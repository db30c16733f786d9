/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A listening UNIX socket file (sockfile.c).
 */
#ifndef SOCKFILE_H
#define SOCKFILE_H

#include <stdbool.h>

#include "priv.h"

/*
 * Bind and listen on path (non-blocking, close-on-exec): mode o->mode
 * (0600 if 0) whatever the umask, group o's, owner vu_priv's user. A
 * socket file left behind by a dead process is replaced; one in use is
 * refused; a missing last directory is made. The fd, or -1 after the
 * error; *created says whether path is ours to unlink (false on error).
 */
int vu_socket_create(const char *path, const struct vu_sock_opts *o, bool *created);

#endif
