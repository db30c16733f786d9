// SPDX-License-Identifier: GPL-2.0
/*
 * Who may reach an export of the vhuctl binary: the socket file's mode
 * and group whatever the umask, the peer allowlist (SO_PEERCRED), sockets
 * inherited with --fd or from a service manager (LISTEN_FDS), and the
 * option errors. The checks that need a second user (uid and gid 65534,
 * "nobody") need root and are skipped without it. Every daemon is stopped
 * by its PID with a bounded wait.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tap.h"
#include "test_util.h"
#include "util.h"
#include "vu_frontend.h"

#define NOBODY 65534

static const char *vhuctl(void)
{
	return getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
}

/*
 * vhuctl export args (NULL-terminated) under umask um, with fds[0..n) as
 * fds 3.. and, if listen_env, LISTEN_PID/LISTEN_FDS (and LISTEN_FDNAMES
 * if names) for them; its output into log.
 */
static pid_t start(const char *log, mode_t um, const int *fds, int n, bool listen_env,
		   const char *names, const char *const *args)
{
	char *argv[32] = { (char *)vhuctl(), "export" };
	int argc = 2;
	pid_t pid;

	for (; *args && argc < 31; args++)
		argv[argc++] = (char *)*args;
	/* Empty before it starts: serving() must not read the last daemon's. */
	truncate(log, 0);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
		int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
		int high[8];
		char num[16];

		for (int i = 0; i < n; i++)
			high[i] = fcntl(fds[i], F_DUPFD_CLOEXEC, 100);
		dup2(null, 0);
		dup2(out, 1);
		dup2(out, 2);
		for (int i = 0; i < n; i++)
			dup2(high[i], 3 + i);
		if (listen_env) {
			snprintf(num, sizeof(num), "%d", (int)getpid());
			setenv("LISTEN_PID", num, 1);
			snprintf(num, sizeof(num), "%d", n);
			setenv("LISTEN_FDS", num, 1);
			if (names)
				setenv("LISTEN_FDNAMES", names, 1);
		}
		umask(um);
		execv(argv[0], argv);
		_exit(127);
	}
	return pid;
}

#define START(log, ...) start(log, 022, NULL, 0, false, NULL, \
			      (const char *const[]){ __VA_ARGS__, NULL })

/* Up to 5 s for n "serving" lines in log (true), or for the daemon to exit. */
static bool serving(pid_t pid, const char *log, int n)
{
	for (int i = 0; i < 500; i++) {
		if (file_count(log, ": serving ") >= n)
			return true;
		if (waitpid(pid, NULL, WNOHANG) != 0)
			return false;
		usleep(10000);
	}
	return false;
}

/* SIGTERM: true if it exited with status 0 (within 5 s, else killed). */
static bool stop(pid_t pid)
{
	int st;

	return pid > 0 && !stop_child(pid, 5000, &st) && WIFEXITED(st) && !WEXITSTATUS(st);
}

/* Connect once and ask GET_FEATURES: 0 served, 1 cannot connect, 2 closed. */
static int try_export(const char *sock)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct vf vf = {
		.sock = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), .backend_fd = -1,
	};
	uint64_t f;
	int ret;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", sock);
	if (vf.sock < 0 || connect(vf.sock, (struct sockaddr *)&sa, sizeof(sa))) {
		vf_close(&vf);
		return 1;
	}
	ret = vf_get_u64(&vf, VU_REQ_GET_FEATURES, &f) ? 2 : 0;
	vf_close(&vf);
	return ret;
}

/* try_export() as uid and gid 65534, in group sup if not 0 (root only). */
static int try_export_as(const char *sock, gid_t sup)
{
	int st = -1;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		if (setgroups(!!sup, &sup) || setresgid(NOBODY, NOBODY, NOBODY) ||
		    setresuid(NOBODY, NOBODY, NOBODY))
			_exit(3);
		_exit(try_export(sock));
	}
	if (pid < 0 || wait_pid_bounded(pid, 10000, &st)) {
		if (pid > 0)
			stop_child(pid, 1000, &st);
		return -1;
	}
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The same without supplementary groups. */
static int try_export_as_nobody(const char *sock)
{
	return try_export_as(sock, 0);
}

/* A listening AF_UNIX stream socket bound to path, or -1. */
static int listener(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd >= 0 && (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 4))) {
		close(fd);
		return -1;
	}
	return fd;
}

static void expect_usage(const char *what, const char *needle, const char *const *args)
{
	struct run r;

	run_prog(&r, vhuctl(), args, 10000);
	if (!tap_ok(r.status == 2 && strstr(r.err, needle) && count_lines(r.err) == 1,
		    "priv: %s", what))
		tap_diag("status %d, stderr: %s", r.status, r.err);
}

#define USAGE(what, needle, ...) \
	expect_usage(what, needle, (const char *const[]){ "export", __VA_ARGS__, NULL })

static void diag_log_on_failure(bool ok, const char *log)
{
	if (!ok || getenv("VHUCTL_TEST_LOG"))
		diag_file("vhuctl", log, 30);
}

/* The socket file, the umask and a second user. */
static void t_socket_mode(struct tmp_dir *dir, const char *img, const char *log)
{
	const char *sock = tmp_file(dir, "mode.sock");
	bool root = !geteuid();
	char gid[16];
	mode_t mode;
	struct stat st;
	bool ok;
	pid_t pid;

	pid = start(log, 0, NULL, 0, false, NULL, (const char *const[]){
		"--socket", sock, "--backing", img, "--datapath", "user", NULL });
	ok = serving(pid, log, 1) && !stat(sock, &st);
	mode = ok ? st.st_mode & 0777 : 0;
	ok = tap_ok(ok && mode == 0600, "priv: under umask 000 the socket is 0600 (mode %04o)",
		    (unsigned int)mode) && ok;
	ok = tap_ok(try_export(sock) == 0, "priv: its owner is served") && ok;
	if (root)
		ok = tap_ok(try_export_as_nobody(sock) == 1,
			    "priv: under umask 000 user nobody cannot connect") && ok;
	else
		tap_ok(true, "# SKIP priv: user nobody cannot connect: needs root");
	ok = tap_ok(stop(pid) && stat(sock, &st), "priv: SIGTERM: status 0, socket removed") && ok;
	diag_log_on_failure(ok, log);

	/* A group that may connect: nobody's, or our own without root. */
	snprintf(gid, sizeof(gid), "%u", root ? NOBODY : (unsigned int)getgid());
	pid = start(log, 0, NULL, 0, false, NULL, (const char *const[]){
		"--socket", sock, "--backing", img, "--datapath", "user",
		"--socket-mode", "0660", "--socket-group", gid, NULL });
	ok = serving(pid, log, 1);
	ok = tap_ok(ok && !stat(sock, &st) && (st.st_mode & 0777) == 0660 &&
		    st.st_gid == (gid_t)atoi(gid),
		    "priv: --socket-mode 0660 --socket-group %s: the socket has them", gid) && ok;
	if (root)
		ok = tap_ok(try_export_as_nobody(sock) == 0,
			    "priv: a member of the socket's group is served") && ok;
	else
		tap_ok(true, "# SKIP priv: a member of the socket's group is served: needs root");
	ok = tap_ok(file_count(log, "any local user") == 0,
		    "priv: no warning for a socket closed to others") && ok;
	ok = tap_ok(stop(pid), "priv: SIGTERM: status 0") && ok;
	diag_log_on_failure(ok, log);

	pid = START(log, "--socket", sock, "--backing", img, "--datapath", "user",
		    "--socket-mode", "0666");
	ok = serving(pid, log, 1);
	ok = tap_ok(ok && !stat(sock, &st) && (st.st_mode & 0777) == 0666 &&
		    file_count(log, "any local user can connect") == 1,
		    "priv: --socket-mode 0666 is taken, with a warning in the log") && ok;
	ok = tap_ok(stop(pid), "priv: SIGTERM: status 0") && ok;
	diag_log_on_failure(ok, log);
}

/* --allow-uid and --allow-gid: other peers are closed at accept. */
static void t_allow(struct tmp_dir *dir, const char *img, const char *log)
{
	const char *sock = tmp_file(dir, "allow.sock");
	char other[16], uid[16], gid[16];
	bool ok;
	pid_t pid;

	snprintf(other, sizeof(other), "%u", (unsigned int)getuid() + 1);
	snprintf(uid, sizeof(uid), "%u", (unsigned int)getuid());
	snprintf(gid, sizeof(gid), "%u", (unsigned int)getgid());

	pid = START(log, "--socket", sock, "--backing", img, "--datapath", "user",
		    "--allow-uid", other);
	ok = serving(pid, log, 1);
	ok = tap_ok(ok && try_export(sock) == 2,
		    "priv: --allow-uid of another user: we are closed at accept") && ok;
	ok = tap_ok(file_count(log, "refused a frontend") == 1 &&
		    file_count(log, "not in --allow-uid/--allow-gid") == 1,
		    "priv: the refusal is logged with the peer's credentials") && ok;
	ok = tap_ok(stop(pid), "priv: SIGTERM: status 0") && ok;
	diag_log_on_failure(ok, log);

	pid = START(log, "--socket", sock, "--backing", img, "--datapath", "user",
		    "--allow-uid", other, "--allow-gid", gid);
	ok = serving(pid, log, 1);
	ok = tap_ok(ok && try_export(sock) == 0,
		    "priv: --allow-gid of our group lets us in") && ok;
	ok = tap_ok(stop(pid), "priv: SIGTERM: status 0") && ok;
	diag_log_on_failure(ok, log);

	if (geteuid()) {
		tap_ok(true, "# SKIP priv: --allow-uid 0 keeps out nobody: needs root");
		return;
	}
	pid = START(log, "--socket", sock, "--backing", img, "--datapath", "user",
		    "--socket-mode", "0666", "--allow-uid", "0", "--allow-uid", other);
	ok = serving(pid, log, 1);
	ok = tap_ok(ok && try_export_as_nobody(sock) == 2 && try_export(sock) == 0 &&
		    file_count(log, "uid 65534, gid 65534): not in") == 1,
		    "priv: a world-writable socket with --allow-uid 0: nobody connects but is "
		    "closed at accept, root is served") && ok;
	ok = tap_ok(stop(pid), "priv: SIGTERM: status 0") && ok;
	diag_log_on_failure(ok, log);

	/* A supplementary group (SO_PEERGROUPS), as a frontend in group kvm has it. */
	pid = START(log, "--socket", sock, "--backing", img, "--datapath", "user",
		    "--socket-mode", "0666", "--allow-gid", "4242");
	ok = serving(pid, log, 1);
	ok = tap_ok(ok && try_export_as(sock, 4242) == 0 && try_export_as_nobody(sock) == 2,
		    "priv: --allow-gid lets in a peer with it as a supplementary group, "
		    "not one without") && ok;
	ok = tap_ok(stop(pid), "priv: SIGTERM: status 0") && ok;
	diag_log_on_failure(ok, log);
}

/* --fd and LISTEN_FDS: sockets the daemon did not make and does not remove. */
static void t_inherit(struct tmp_dir *dir, const char *img, const char *log)
{
	const char *a = tmp_file(dir, "a.sock"), *b = tmp_file(dir, "b.sock");
	int fds[2] = { listener(a), listener(b) }, pair[2] = { -1, -1 };
	char word_a[256], word_b[256];
	struct stat st;
	struct run r;
	bool ok;
	pid_t pid;

	if (!tap_ok(fds[0] >= 0 && fds[1] >= 0, "priv: listening sockets to pass"))
		goto out;

	pid = start(log, 022, fds, 1, false, NULL, (const char *const[]){
		"--fd", "3", "--backing", img, "--datapath", "user", NULL });
	ok = serving(pid, log, 1);
	ok = tap_ok(ok && try_export(a) == 0 && file_count(log, "a.sock: serving") == 1,
		    "priv: --fd 3: the export serves on the inherited socket, named by its path")
	     && ok;
	ok = tap_ok(stop(pid) && !stat(a, &st),
		    "priv: SIGTERM: status 0, the inherited socket is left in place") && ok;
	diag_log_on_failure(ok, log);

	snprintf(word_a, sizeof(word_a), "socket=%s,backing=%s,readonly,datapath=user", a, img);
	snprintf(word_b, sizeof(word_b), "fd=disk-b,backing=%s,readonly,datapath=user", img);
	pid = start(log, 022, fds, 2, true, "disk-a-unused:disk-b", (const char *const[]){
		"--export", word_a, "--export", word_b, NULL });
	ok = serving(pid, log, 2);
	ok = tap_ok(ok && try_export(a) == 0 && try_export(b) == 0,
		    "priv: LISTEN_FDS: one socket found by its path, one by its name "
		    "(LISTEN_FDNAMES), both served") && ok;
	ok = tap_ok(stop(pid) && !stat(a, &st) && !stat(b, &st),
		    "priv: SIGTERM: status 0, both passed sockets left in place") && ok;
	diag_log_on_failure(ok, log);

	pid = start(log, 022, fds, 2, true, NULL, (const char *const[]){
		"--socket", a, "--backing", img, "--datapath", "user", NULL });
	ok = !serving(pid, log, 1) && !stop(pid) && file_count(log, "is no export's --socket") == 1;
	tap_ok(ok, "priv: LISTEN_FDS: a passed socket no export takes is an error");
	diag_log_on_failure(ok, log);

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair)) {
		tap_ok(false, "priv: a socket pair");
		goto out;
	}
	pid = start(log, 022, pair, 1, false, NULL, (const char *const[]){
		"--fd", "3", "--backing", img, "--datapath", "user", NULL });
	ok = !serving(pid, log, 1) && !stop(pid) &&
	     file_count(log, "is not a listening AF_UNIX SOCK_STREAM socket") == 1;
	tap_ok(ok, "priv: --fd of a socket that does not listen is an error");
	diag_log_on_failure(ok, log);
	run_prog(&r, vhuctl(), (const char *const[]){ "export", "--fd", "250", "--backing",
						    img, NULL }, 10000);
	tap_ok(r.status == 1 && strstr(r.err, "fd 250") && count_lines(r.err) == 1,
	       "priv: --fd of a closed fd is an error");
out:
	close_fd(&fds[0]);
	close_fd(&fds[1]);
	close_fd(&pair[0]);
	close_fd(&pair[1]);
}

static void t_priv_options(const char *img)
{
	/* Each as the one option of export --socket /tmp/x --backing img. */
	static const struct {
		const char *what, *needle, *opt, *val;
	} bad[] = {
		{ "--socket-mode with execute bits", "at most 0666", "--socket-mode", "0755" },
		{ "--socket-mode not octal", "octal", "--socket-mode", "rw-rw----" },
		{ "--socket-mode the owner cannot use", "the owner", "--socket-mode", "0066" },
		{ "--socket-group of no group", "no such group", "--socket-group",
		  "vhu-no-such-group" },
		{ "--user of no user", "no such user", "--user", "vhu-no-such-user" },
		{ "--allow-uid of no user", "no such user", "--allow-uid", "vhu-no-such-user" },
		{ "--allow-gid of no group", "no such group", "--allow-gid",
		  "vhu-no-such-group" },
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++)
		USAGE(bad[i].what, bad[i].needle, "--socket", "/tmp/x", "--backing", img,
		      bad[i].opt, bad[i].val);
	USAGE("--fd with --socket-mode", "not an inherited one", "--fd", "3",
	      "--backing", img, "--socket-mode", "0660");
	USAGE("--fd with a bad name", "a number or a socket's name", "--fd", "a:b",
	      "--backing", img);
	USAGE("no --socket nor --fd", "needs both", "--backing", img);
}

/* --no-sandbox: the daemon serves without a seccomp filter. */
static void t_no_sandbox(struct tmp_dir *dir, const char *img, const char *log)
{
	const char *sock = tmp_file(dir, "nosb.sock");
	char path[64], line[128];
	bool ok, seen = false;
	pid_t pid;
	FILE *f;

	pid = START(log, "--socket", sock, "--backing", img, "--datapath", "user",
		    "--no-sandbox");
	ok = serving(pid, log, 1) && try_export(sock) == 0;
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		seen |= !strcmp(line, "Seccomp:\t0\n");
	if (f)
		fclose(f);
	ok = tap_ok(ok && seen, "priv: --no-sandbox: served without a seccomp filter") && ok;
	ok = tap_ok(stop(pid), "priv: SIGTERM: status 0") && ok;
	diag_log_on_failure(ok, log);
}

void t_priv(void)
{
	struct tmp_dir dir;
	const char *img, *log;

	if (!tmp_dir_make(&dir, "vhuctl-priv")) {
		tap_ok(false, "priv: temporary directory");
		return;
	}
	img = tmp_file(&dir, "disk.img");
	log = tmp_file(&dir, "vhuctl.log");
	if (!tap_ok(!make_file(img, 1 << 20), "priv: a backing file"))
		goto out;
	/* Root's nobody needs to reach the socket inside. */
	if (!geteuid())
		chmod(dir.path, 0711);
	t_socket_mode(&dir, img, log);
	t_allow(&dir, img, log);
	t_inherit(&dir, img, log);
	t_priv_options(img);
	t_no_sandbox(&dir, img, log);
out:
	tap_ok(tmp_dir_remove(&dir), "priv: no files left behind");
}
