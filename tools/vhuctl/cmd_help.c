// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl help [COMMAND]
 */
#include <stdio.h>

#include "vhuctl.h"

static int help_run(int argc, char **argv)
{
	if (argc >= 2) {
		const struct vhuctl_cmd *c = vhuctl_find_cmd(argv[1]);

		if (!c) {
			fprintf(stderr, "vhuctl help: unknown command '%s'\n", argv[1]);
			return EXIT_USAGE;
		}
		cmd_help_text(c);
		return EXIT_OK;
	}

	printf("usage: vhuctl COMMAND [OPTIONS]\n\ncommands:\n");
	for (int i = 0; vhuctl_cmds[i]; i++)
		printf("  %-10s %s\n", vhuctl_cmds[i]->name,
		       vhuctl_cmds[i]->summary);
	printf("\n'vhuctl help COMMAND' shows a command's options; see vhuctl(8).\n");
	return EXIT_OK;
}

const struct vhuctl_cmd cmd_help = {
	.name = "help",
	.summary = "show the commands or one command's usage",
	.usage = "[COMMAND]",
	.run = help_run,
};
