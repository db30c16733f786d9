// SPDX-License-Identifier: GPL-2.0
/*
 * The export daemon in a child process (see exportd.h).
 */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "exportd.h"
#include "test_util.h"

struct vu_export_cfg *exportd_add(struct exportd *d, const char *sock,
				  const char *backing, uint64_t size,
				  unsigned int queues, const struct vu_dp_ops *ops)
{
	struct vu_export *ex = &d->ex[d->n++];
	struct vu_export_cfg *c = &ex->cfg;

	memset(ex, 0, sizeof(*ex));
	snprintf(c->socket_path, sizeof(c->socket_path), "%s", sock);
	snprintf(c->backing, sizeof(c->backing), "%s", backing);
	c->queues = queues;
	c->queue_size = 256;
	c->lbs = 512;
	c->backing_lbs = 512;
	c->size = size;
	c->backing_fd = -1;
	ex->ops = ops;
	make_file(backing, size);
	return c;
}

bool exportd_start(struct exportd *d, const char *log)
{
	d->log = log;
	fflush(stdout);
	d->pid = fork_logged(log);
	if (d->pid < 0)
		return false;
	if (!d->pid) {
		for (unsigned int i = 0; i < d->n; i++) {
			struct vu_export_cfg *c = &d->ex[i].cfg;

			c->backing_fd = open(c->backing, (c->readonly ? O_RDONLY : O_RDWR) |
					     (c->direct ? O_DIRECT : 0) | O_CLOEXEC);
		}
		/*
		 * Under the seccomp filter vhuctl export has by default: every
		 * session the tests drive also shows it lets serving through.
		 */
		vu_priv.sandbox = true;
		_exit(vu_daemon_run(d->ex, d->n));
	}
	for (unsigned int i = 0; i < d->n; i++)
		if (!wait_socket(d->ex[i].cfg.socket_path))
			return false;
	/* Its threads are up once it has listened for a moment. */
	usleep(50000);
	d->baseline_fds = fd_count(d->pid);
	return true;
}

bool exportd_alive(const struct exportd *d)
{
	return d->pid > 0 && waitpid(d->pid, NULL, WNOHANG) == 0;
}

int exportd_settle(const struct exportd *d)
{
	return settle_fds(d->pid, d->baseline_fds);
}

bool exportd_stop(struct exportd *d)
{
	int st;
	bool ok;

	if (d->pid <= 0)
		return false;
	ok = !stop_child(d->pid, 5000, &st) && WIFEXITED(st) && WEXITSTATUS(st) == 0;
	d->pid = -1;
	return ok;
}

void exportd_diag_log(const struct exportd *d)
{
	if (getenv("VHUCTL_TEST_LOG"))
		diag_file("daemon", d->log, INT_MAX);
}
