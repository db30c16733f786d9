// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: log lines (log.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "log.h"

static void vline(const char *prefix, const char *fmt, va_list ap)
{
	/* One line at a time: exports log from their own threads. */
	flockfile(stderr);
	fputs(prefix, stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

void vlog(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("vhuctl: ", fmt, ap);
	va_end(ap);
}

void verr(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vline("vhuctl: error: ", fmt, ap);
	va_end(ap);
}
