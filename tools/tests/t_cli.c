// SPDX-License-Identifier: GPL-2.0
/*
 * The vhuctl binary's command line: exit statuses and one-line errors.
 * Run with VHUCTL=path/to/vhuctl (the Makefile sets it).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tap.h"
#include "test_util.h"

/* Run vhuctl with args (NULL-terminated), 10 s at most. */
static void run(struct run *r, const char *const *args)
{
	const char *bin = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";

	run_prog(r, bin, args, 10000);
}

#define RUN(r, ...) run(r, (const char *const[]){ __VA_ARGS__, NULL })

static void expect_error(const char *what, int status, const char *needle,
			 const char *const *args)
{
	struct run r;

	run(&r, args);
	if (!tap_ok(r.status == status && strstr(r.err, needle) && count_lines(r.err) == 1,
		    "cli: %s", what))
		tap_diag("status %d, stderr: %s", r.status, r.err);
}

#define ERR(what, status, needle, ...) \
	expect_error(what, status, needle, (const char *const[]){ __VA_ARGS__, NULL })

/* --queues 010 is ten queues, not eight. */
static void queues_decimal(struct tmp_dir *dir, const char *img)
{
	const char *sock = tmp_file(dir, "q.sock"), *log = tmp_file(dir, "q.log");
	const char *bin = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
	char *argv[] = { (char *)bin, "export", "--socket", (char *)sock, "--backing",
			 (char *)img, "--datapath", "user", "--queues", "010", NULL };
	pid_t pid = spawn(argv, log);
	int st;

	tap_ok(pid > 0 && wait_socket(sock) && file_count(log, "10 queues, user datapath") == 1,
	       "cli: --queues 010 is decimal: 10 queues");
	if (pid > 0)
		stop_child(pid, 5000, &st);
}

/* A socket in a missing directory: made if its parent is there. */
static void socket_dir(struct tmp_dir *dir, const char *img)
{
	const char *bin = getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
	const char *log = tmp_file(dir, "d.log");
	char sub[160], sock[200], deep[200];
	struct stat st;
	struct run r;
	pid_t pid;
	int st_;

	snprintf(sub, sizeof(sub), "%s/run", dir->path);
	snprintf(sock, sizeof(sock), "%s/d.sock", sub);
	snprintf(deep, sizeof(deep), "%s/a/b/d.sock", dir->path);
	pid = spawn((char *[]){ (char *)bin, "export", "--socket", sock, "--backing",
				(char *)img, "--datapath", "user", NULL }, log);
	tap_ok(pid > 0 && wait_socket(sock) && !stat(sub, &st) && (st.st_mode & 0777) == 0755 &&
	       file_count(log, "created the directory") == 1,
	       "cli: the socket's missing directory is made (0755), and logged");
	if (pid > 0)
		stop_child(pid, 5000, &st_);
	tap_ok(stat(sock, &st) && !rmdir(sub), "cli: ... the socket goes at exit, the directory stays");
	run_prog(&r, bin, (const char *const[]){ "export", "--socket", deep, "--backing", img,
						 "--datapath", "user", NULL }, 10000);
	tap_ok(r.status == 1 && strstr(r.err, "No such file or directory") &&
	       stat(deep, &st) && errno == ENOENT,
	       "cli: a socket two missing directories deep is refused, nothing made");
}

/*
 * A backing its user may only read, exported without --readonly: the
 * error says to give --readonly (run as user nobody, where this is root).
 */
static void readonly_hint(struct tmp_dir *dir)
{
	const char *ro = tmp_file(dir, "ro.img");
	struct run r;

	if (geteuid() != 0 || access("/usr/bin/setpriv", X_OK)) {
		tap_ok(true, "# SKIP cli: read-only backing hint: needs root and setpriv");
		return;
	}
	/* A checkout in a directory only root may enter (/root) cannot do it. */
	run_prog(&r, "/usr/bin/setpriv", (const char *const[]){
		"--reuid=65534", "--regid=65534", "--clear-groups",
		getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl", "--version",
		NULL }, 10000);
	if (r.status != 0) {
		tap_ok(true, "# SKIP cli: read-only backing hint: user nobody cannot run vhuctl here");
		return;
	}
	make_file(ro, 1 << 20);
	if (chmod(dir->path, 0711) || chmod(ro, 0444)) {
		tap_ok(false, "cli: read-only backing: chmod");
		return;
	}
	run_prog(&r, "/usr/bin/setpriv", (const char *const[]){
		"--reuid=65534", "--regid=65534", "--clear-groups",
		getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl", "export",
		"--socket", "/nonexistent/ro.sock", "--backing", ro, "--datapath", "user",
		NULL }, 10000);
	if (!tap_ok(r.status == 1 && strstr(r.err, "Permission denied (to export it read-only, give --readonly)"),
		    "cli: a backing only readable says to give --readonly"))
		tap_diag("status %d, stderr: %s", r.status, r.err);
	chmod(dir->path, 0700);
}

void t_cli(void)
{
	bool module = access("/sys/module/vhu", F_OK) == 0;
	const char *img, *empty, *odd, *sock;
	struct tmp_dir dir;
	char twice[600];
	struct stat st;
	struct run r;

	if (!tmp_dir_make(&dir, "vhuctl-cli")) {
		tap_ok(false, "cli: temporary directory");
		return;
	}
	img = tmp_file(&dir, "disk.img");
	empty = tmp_file(&dir, "empty.img");
	odd = tmp_file(&dir, "odd.img");
	sock = tmp_file(&dir, "vhu.sock");
	make_file(img, 1 << 20);
	make_file(empty, 0);
	make_file(odd, 1000);

	RUN(&r, "help");
	tap_ok(r.status == 0 && strstr(r.out, "export") && strstr(r.out, "version"),
	       "cli: help lists the commands");
	RUN(&r, "--version");
	tap_ok(r.status == 0 && strstr(r.out, "vhuctl "), "cli: --version");
	ERR("unknown command", 2, "unknown command", "frobnicate");

	RUN(&r, "version");
	if (module)
		tap_ok(r.status == 0 && strstr(r.out, "vhu module"),
		       "cli: version shows the loaded module");
	else
		tap_ok(r.status == 0 && strstr(r.out, "vhuctl ") &&
		       strstr(r.out, "vhu module not loaded") && !r.err[0],
		       "cli: version without the module says so, and exits 0");
	RUN(&r, "version", "--json");
	tap_ok(!strncmp(r.out, "{\"vhuctl\":{\"version\":", 21) &&
	       strstr(r.out, module ? "\"loaded\":true" : "\"loaded\":false") &&
	       count_lines(r.out) == 1, "cli: version --json is one JSON object");
	ERR("version rejects an unknown option", 2, "unknown option", "version", "--bogus");

	if (!module) {
		ERR("stats without the module", 1, "", "stats", "--kernel");
		RUN(&r, "stats", "--kernel", "--json");
		tap_ok(r.status == 1 && count_lines(r.err) == 1, "cli: stats --json without the module fails");
	}
	ERR("stats --dev needs a number", 2, "--dev", "stats", "--dev", "x");
	ERR("export without exports", 2, "no export given", "export");
	ERR("export unknown option", 2, "unknown option", "export", "--bogus");
	ERR("export option without value", 2, "needs a value", "export", "--socket");
	ERR("an option taken as another's value is named", 2,
	    "option '--socket' needs a value: it took the option '--backing' as one",
	    "export", "--socket", "--backing", img);
	ERR("an unknown short option is unknown, not missing a value", 2,
	    "unknown option '-x'", "export", "-x");
	ERR("a flag given twice says it began another export", 2,
	    "began where --readonly was given a second time", "export", "--socket", sock,
	    "--backing", img, "--readonly", "--readonly");
	ERR("--export key that takes no value", 2, "key 'readonly' takes no value",
	    "export", "--export", "socket=/tmp/x,backing=/tmp/y,readonly=1");
	for (int i = 0; i < 3; i++) {
		const char *cmd = (const char *[]){ "export", "stats", "version" }[i];

		RUN(&r, cmd, "-h");
		tap_ok(r.status == 0 && strstr(r.out, "usage: vhuctl ") &&
		       strstr(r.out, "options:\n") && strstr(r.out, "--help"),
		       "cli: %s -h shows its usage and options", cmd);
	}
	RUN(&r, "help", "export");
	tap_ok(r.status == 0 && strstr(r.out, "--lock-wait SEC") &&
	       strstr(r.out, "  --backing FILE ") && strstr(r.out, "the regular file"),
	       "cli: help export describes each option");
	ERR("export without --backing", 2, "needs both", "export", "--socket", sock);
	ERR("export --queues 0", 2, "--queues", "export", "--socket", sock,
	    "--backing", img, "--queues", "0");
	ERR("export --queues 65", 2, "--queues", "export", "--socket", sock,
	    "--backing", img, "--queues", "65");
	ERR("export --queue-size not a power of 2", 2, "power of 2", "export",
	    "--socket", sock, "--backing", img, "--queue-size", "100");
	ERR("export --logical-block-size 1024", 2, "512 or 4096", "export",
	    "--socket", sock, "--backing", img, "--logical-block-size", "1024");
	ERR("export --datapath bogus", 2, "auto, kernel or user", "export",
	    "--socket", sock, "--backing", img, "--datapath", "bogus");
	ERR("export --busy-poll over the bound", 2,
	    "--busy-poll '1001': expected a number from 0 to 1000", "export", "--socket", sock,
	    "--backing", img, "--busy-poll", "1001");
	ERR("export --busy-poll not a number", 2, "--busy-poll '-5': expected a number",
	    "export", "--socket", sock, "--backing", img, "--busy-poll", "-5");
	ERR("--export busy-poll without a value", 2, "key 'busy-poll' needs a value",
	    "export", "--export", "socket=/tmp/x,backing=/tmp/y,busy-poll");
	ERR("export --busy-poll on the userspace datapath", 1,
	    "--busy-poll 50: only the kernel datapath polls, and this export has the "
	    "userspace one (--datapath user)", "export", "--socket", sock, "--backing", img,
	    "--datapath", "user", "--busy-poll", "50");
	snprintf(twice, sizeof(twice), "socket=%s,backing=%s,datapath=user,busy-poll=1000",
		 sock, img);
	ERR("--export busy-poll on the userspace datapath", 1,
	    "only the kernel datapath polls", "export", "--export", twice);
	ERR("export --serial too long", 2, "20 bytes", "export", "--socket", sock,
	    "--backing", img, "--serial", "0123456789abcdefghijk");
	ERR("export the same socket twice", 2, "given twice", "export",
	    "--socket", sock, "--backing", img, "--socket", sock, "--backing", img);
	ERR("--export unknown key", 2, "unknown key", "export", "--export",
	    "socket=/tmp/x,backing=/tmp/y,colour=blue");
	ERR("--export key without value", 2, "needs a value", "export", "--export",
	    "socket,backing=/tmp/y");
	ERR("missing backing", 1, "No such file", "export", "--socket", sock,
	    "--backing", "/nonexistent/disk.img", "--datapath", "user");
	ERR("empty backing", 1, "is empty", "export", "--socket", sock,
	    "--backing", empty, "--datapath", "user");
	ERR("backing not a multiple of the block size", 1, "not a multiple",
	    "export", "--socket", sock, "--backing", odd);
	ERR("backing a directory", 1, "not a regular file", "export", "--socket",
	    sock, "--backing", dir.path, "--readonly");
	snprintf(twice, sizeof(twice), "socket=%s,backing=%s", tmp_file(&dir, "other.sock"),
		 img);
	ERR("the same backing writable twice", 1, "exported twice", "export",
	    "--socket", sock, "--backing", img, "--export", twice);
	snprintf(twice, sizeof(twice), "%s/./%s", dir.path, strrchr(sock, '/') + 1);
	ERR("the same socket in two spellings", 2, "is given twice (also as", "export",
	    "--socket", sock, "--backing", img, "--socket", twice, "--backing", img,
	    "--readonly");
	queues_decimal(&dir, img);
	socket_dir(&dir, img);
	readonly_hint(&dir);
	if (!module && access("/dev/vhu", F_OK) != 0) {
		ERR("--datapath kernel without the module", 1, "vhu module not loaded",
		    "export", "--socket", sock, "--backing", img, "--datapath", "kernel");
	}
	tap_ok(stat(sock, &st) != 0, "cli: failed exports leave no socket behind");

	tap_ok(tmp_dir_remove(&dir), "cli: no files left behind");
}
