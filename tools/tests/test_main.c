// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl host unit tests: one TAP stream for `make -C tools check`.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "tap.h"

static int n_tests, n_failed;

bool tap_ok(bool cond, const char *fmt, ...)
{
	va_list ap;

	n_tests++;
	if (!cond)
		n_failed++;
	printf("%sok %d - ", cond ? "" : "not ", n_tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
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

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	t_mem();
	t_cli();
	t_proto();
	return tap_done();
}
