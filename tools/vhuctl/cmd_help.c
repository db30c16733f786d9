// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl help [COMMAND]
 */
#include <stdio.h>
#include <string.h>

#include "vhuctl.h"

static int help_run(int argc, char **argv)
{
	if (argc >= 2) {
		for (int i = 0; vhuctl_cmds[i]; i++) {
			const struct vhuctl_cmd *c = vhuctl_cmds[i];

			if (!strcmp(c->name, argv[1])) {
				printf("usage: vhuctl %s %s\n\n%s\n", c->name,
				       c->usage, c->summary);
				return EXIT_OK;
			}
		}
		fprintf(stderr, "vhuctl help: unknown command '%s'\n", argv[1]);
		return EXIT_USAGE;
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
