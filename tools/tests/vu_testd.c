// SPDX-License-Identifier: GPL-2.0
/*
 * TEST CODE: vu_testd SOCKET BACKING QUEUES -- the export daemon with the
 * recording test datapath (no I/O), for poking the protocol layer with a
 * real frontend by hand. Prints the datapath log on exit.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "daemon.h"
#include "test_dp.h"

int main(int argc, char **argv)
{
	static struct vu_export ex;
	struct stat st;
	int ret;

	if (argc != 4 || tdp_log_init())
		return 2;
	strcpy(ex.cfg.socket_path, argv[1]);
	strcpy(ex.cfg.backing, argv[2]);
	ex.cfg.queues = atoi(argv[3]);
	ex.cfg.queue_size = 256;
	ex.cfg.lbs = 512;
	ex.cfg.backing_lbs = 512;
	ex.cfg.backing_fd = open(argv[2], O_RDWR | O_CLOEXEC);
	if (ex.cfg.backing_fd < 0 || fstat(ex.cfg.backing_fd, &st))
		return 1;
	ex.cfg.size = st.st_size;
	ex.ops = &tdp_ops;
	ret = vu_daemon_run(&ex, 1);
	for (uint32_t i = 0; i < tdp_log->n; i++) {
		struct tdp_event *e = &tdp_log->ev[i];

		fprintf(stderr, "tdp: op %u index %u a 0x%llx b 0x%llx c 0x%llx\n",
			e->op, e->index, (unsigned long long)e->a,
			(unsigned long long)e->b, (unsigned long long)e->c);
	}
	return ret;
}
