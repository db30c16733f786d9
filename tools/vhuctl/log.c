// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: log lines and small output helpers.
 */
#include <stdarg.h>
#include <stdio.h>

#include "vhuctl.h"

bool vlog_quiet;

void vlog(const char *fmt, ...)
{
	va_list ap;

	if (vlog_quiet)
		return;
	/* One line at a time: exports log from their own threads. */
	flockfile(stderr);
	fputs("vhuctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void verr(const char *fmt, ...)
{
	va_list ap;

	flockfile(stderr);
	fputs("vhuctl: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}
