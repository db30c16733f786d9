// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl host unit tests: one TAP stream for `make -C tools check`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "t_ring_max.h"
#include "tap.h"

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "--admin-kernel")) {
		t_admin_kernel();
		t_control_kernel();
		return tap_done();
	}
	t_mem();
	t_log();
	t_cli();
	t_imglock();
	t_proto();
	t_user();
	t_admin();
	t_contain();
	t_timebound();
	t_ring_max(getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl", "user");
	t_ring_max_dropped(getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl", "user");
	t_priv();
	t_sandbox();
	t_service();
	t_control();
	t_replay();
	t_bench();
	return tap_done();
}
