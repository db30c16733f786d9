// SPDX-License-Identifier: GPL-2.0
/*
 * The TAP producer of the host tests (see tap.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "tap.h"

static int n_tests, n_failed;

static void result(bool cond, const char *todo, const char *fmt, va_list ap)
{
	n_tests++;
	printf("%sok %d - ", cond ? "" : "not ", n_tests);
	vprintf(fmt, ap);
	if (todo)
		printf(" # TODO %s", todo);
	putchar('\n');
	fflush(stdout);
}

bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	if (!cond)
		n_failed++;
	va_start(ap, fmt);
	result(cond, NULL, fmt, ap);
	va_end(ap);
	return cond;
}

bool tap_todo(bool cond, const char *todo, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	result(cond, todo, fmt, ap);
	va_end(ap);
	if (cond)
		tap_diag("the check above passes: \"%s\" may be fixed", todo);
	return cond;
}

void tap_diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

int tap_done(void)
{
	printf("1..%d\n", n_tests);
	if (n_failed)
		printf("# %d of %d tests failed\n", n_failed, n_tests);
	fflush(stdout);
	return n_failed || !n_tests;
}
