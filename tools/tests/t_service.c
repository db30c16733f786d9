// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl under a service manager: readiness on NOTIFY_SOCKET (Type=notify),
 * exports from a --config file, and the systemd unit that runs it checked
 * by systemd-analyze.
 */
#include <errno.h>
#include <poll.h>
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

static const char *vhuctl(void)
{
	return getenv("VHUCTL") ? getenv("VHUCTL") : "../vhuctl/vhuctl";
}

/* One datagram from fd into buf within ms: its length, or -1. */
static ssize_t recv_within(int fd, char *buf, size_t len, int ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	ssize_t n;

	if (poll(&p, 1, ms) != 1)
		return -1;
	n = recv(fd, buf, len - 1, 0);
	if (n >= 0)
		buf[n] = '\0';
	return n;
}

/*
 * A datagram socket bound at path, then argv spawned with NOTIFY_SOCKET
 * naming it (output into log): the socket, *pid set; -1 if it cannot be
 * made (nothing spawned).
 */
static int spawn_notified(const char *path, char *const argv[], const char *log, pid_t *pid)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		close(fd);
		return -1;
	}
	setenv("NOTIFY_SOCKET", path, 1);
	*pid = spawn(argv, log);
	unsetenv("NOTIFY_SOCKET");
	return fd;
}

/* READY=1 once it listens, STOPPING=1 on SIGTERM. */
static void notify(struct tmp_dir *d, const char *img)
{
	const char *ns = tmp_file(d, "notify"), *sock = tmp_file(d, "n.sock");
	const char *log = tmp_file(d, "n.log");
	char *argv[] = { (char *)vhuctl(), "export", "--socket", (char *)sock, "--backing",
			 (char *)img, "--datapath", "user", NULL };
	char buf[256] = "";
	struct stat st;
	int fd, status;
	pid_t pid;

	fd = spawn_notified(ns, argv, log, &pid);
	if (!tap_ok(fd >= 0, "service: a notify socket"))
		return;
	if (!tap_ok(pid > 0 && recv_within(fd, buf, sizeof(buf), 5000) > 0 &&
		    !strcmp(buf, "READY=1\nSTATUS=serving 1 export") && !stat(sock, &st),
		    "service: READY=1 on NOTIFY_SOCKET once the export listens"))
		tap_diag("received: %s", buf);
	if (pid > 0)
		kill(pid, SIGTERM);
	buf[0] = '\0';
	if (!tap_ok(pid > 0 && recv_within(fd, buf, sizeof(buf), 5000) > 0 &&
		    !strcmp(buf, "STOPPING=1"), "service: STOPPING=1 on SIGTERM"))
		tap_diag("received: %s", buf);
	tap_ok(pid > 0 && !wait_pid_bounded(pid, 5000, &status) && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0, "service: ... then exits 0");
	close(fd);
}

/* Exports and daemon options from --config; bad lines named. */
static void config(struct tmp_dir *d, const char *img)
{
	const char *conf = tmp_file(d, "vm1.conf"), *log = tmp_file(d, "c.log");
	const char *s1 = tmp_file(d, "c1.sock"), *s2 = tmp_file(d, "c2.sock");
	char *argv[] = { (char *)vhuctl(), "export", "--config", (char *)conf, NULL };
	struct run r;
	FILE *f;
	pid_t pid;
	int st;

	f = fopen(conf, "w");
	if (!f) {
		tap_ok(false, "service: config file");
		return;
	}
	fprintf(f, "# two exports\n\nexport socket=%s,backing=%s,readonly,datapath=user\n"
		"  socket %s\nbacking=%s\nreadonly\ndatapath user\nqueues 3\nlock-wait 0\n",
		s1, img, s2, img);
	fclose(f);
	pid = spawn(argv, log);
	tap_ok(pid > 0 && wait_socket(s1) && wait_socket(s2) &&
	       file_count(log, "read-only, 3 queues, user datapath") == 1,
	       "service: --config serves the exports of its lines");
	if (pid > 0)
		stop_child(pid, 5000, &st);

	f = fopen(conf, "w");
	if (f) {
		fprintf(f, "socket %s\nbacking %s\nqueues 0\n", s1, img);
		fclose(f);
	}
	run_prog(&r, vhuctl(), (const char *const[]){ "export", "--config", conf, NULL }, 10000);
	if (!tap_ok(r.status == 2 && strstr(r.err, "vm1.conf:3: --queues '0'") &&
		    count_lines(r.err) == 1, "service: a bad line is named by file and line"))
		tap_diag("status %d, stderr: %s", r.status, r.err);
	f = fopen(conf, "w");
	if (f) {
		fprintf(f, "config /etc/passwd\n");
		fclose(f);
	}
	run_prog(&r, vhuctl(), (const char *const[]){ "export", "--config", conf, NULL }, 10000);
	tap_ok(r.status == 2 && strstr(r.err, "vm1.conf:1: unknown option 'config'"),
	       "service: --config does not nest");
}

/*
 * A unit as make install writes it (NAME.service from NAME.service.in),
 * ExecStart the vhuctl under test: systemd-analyze verify finds nothing.
 */
static void unit(struct tmp_dir *d, const char *name)
{
	const char *top = getenv("VHU_TOP") ? getenv("VHU_TOP") : "../..";
	char in[512], line[512], bindir[400], file[128];
	const char *path, *slash;
	FILE *src, *dst;
	struct run r;

	if (access("/usr/bin/systemd-analyze", X_OK)) {
		tap_ok(true, "# SKIP service: no systemd-analyze");
		return;
	}
	slash = strrchr(vhuctl(), '/');
	if (!slash || !realpath(vhuctl(), bindir)) {
		tap_ok(false, "service: the path of vhuctl");
		return;
	}
	*strrchr(bindir, '/') = '\0';
	/* An instance of a template unit: its name with "vm1". */
	snprintf(file, sizeof(file), "%s%s.service", name,
		 name[strlen(name) - 1] == '@' ? "vm1" : "");
	path = tmp_file(d, file);
	snprintf(in, sizeof(in), "%s/tools/systemd/%s.service.in", top, name);
	src = fopen(in, "r");
	dst = fopen(path, "w");
	while (src && dst && fgets(line, sizeof(line), src)) {
		char *p = line, *at;

		while ((at = strchr(p, '@'))) {
			fwrite(p, 1, at - p, dst);
			if (!strncmp(at, "@SBINDIR@", 9)) {
				fputs(bindir, dst);
				p = at + 9;
			} else if (!strncmp(at, "@SYSCONFDIR@", 12)) {
				fputs("/etc", dst);
				p = at + 12;
			} else {
				fputc('@', dst);
				p = at + 1;
			}
		}
		fputs(p, dst);
	}
	if (src)
		fclose(src);
	if (dst)
		fclose(dst);
	run_prog(&r, "/usr/bin/systemd-analyze",
		 (const char *const[]){ "verify", "--man=no", path, NULL }, 30000);
	if (!tap_ok(src && dst && r.status == 0 && !r.err[0],
		    "service: systemd-analyze verify finds nothing in %s.service", name))
		tap_diag("status %d, stderr: %s", r.status, r.err);
}

/*
 * vhu.service's ExecStart as written, with the config file make install
 * puts in /etc/vhu (comments only): the daemon starts with no export and
 * is ready once its control socket listens. Only the control socket's
 * path is this test's own.
 */
static void service_start(struct tmp_dir *d)
{
	const char *top = getenv("VHU_TOP") ? getenv("VHU_TOP") : "../..";
	const char *ns = tmp_file(d, "svc-notify"), *ctl = tmp_file(d, "control.sock");
	const char *log = tmp_file(d, "svc.log");
	char in[512], conf[512], line[512], *argv[16], *tok, *save;
	char buf[256] = "";
	bool exec_ok = false;
	int fd, status, n = 0;
	struct run r;
	FILE *f;
	pid_t pid;

	run_prog(&r, vhuctl(), (const char *const[]){ "help", "daemon", NULL }, 10000);
	if (r.status) {
		tap_ok(true, "# SKIP service: this vhuctl has no daemon command");
		return;
	}
	snprintf(in, sizeof(in), "%s/tools/systemd/vhu.service.in", top);
	snprintf(conf, sizeof(conf), "%s/tools/systemd/vhu.conf", top);
	f = fopen(in, "r");
	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "ExecStart=@SBINDIR@/vhuctl ", 27)) {
			exec_ok = true;
			break;
		}
	if (f)
		fclose(f);
	argv[n++] = (char *)vhuctl();
	/* The words after vhuctl; the unit's paths become the test's. */
	for (tok = exec_ok ? strtok_r(line + 27, " \n", &save) : NULL; tok && n < 14;
	     tok = strtok_r(NULL, " \n", &save)) {
		if (!strcmp(tok, "/run/vhu/control.sock"))
			tok = (char *)ctl;
		else if (!strcmp(tok, "@SYSCONFDIR@/vhu/vhu.conf"))
			tok = conf;
		argv[n++] = tok;
	}
	argv[n] = NULL;
	if (!tap_ok(exec_ok && n >= 6, "service: vhu.service's ExecStart"))
		return;
	fd = spawn_notified(ns, argv, log, &pid);
	if (!tap_ok(fd >= 0, "service: a notify socket for vhu.service's daemon"))
		return;
	if (!tap_ok(pid > 0 && recv_within(fd, buf, sizeof(buf), 5000) > 0 &&
		    !strncmp(buf, "READY=1\n", 8) && wait_socket(ctl),
		    "service: vhu.service's daemon with the installed vhu.conf: READY=1, "
		    "no export, its control socket listens"))
		tap_diag("received: %s", buf);
	tap_ok(pid > 0 && !stop_child(pid, 5000, &status) && WIFEXITED(status) &&
	       WEXITSTATUS(status) == 0, "service: ... and it exits 0 on SIGTERM");
	close(fd);
}

/* bash completion: commands, and a command's options from its --help. */
static void completion(void)
{
	const char *top = getenv("VHU_TOP") ? getenv("VHU_TOP") : "../..";
	char script[1400], bindir[400];
	struct run r;

	if (!realpath(vhuctl(), bindir)) {
		tap_ok(false, "service: the path of vhuctl");
		return;
	}
	*strrchr(bindir, '/') = '\0';
	snprintf(script, sizeof(script),
		 "PATH=%s:$PATH; . %s/tools/completion/vhuctl.bash; "
		 "t() { COMP_WORDS=(\"$@\"); COMP_CWORD=$(($# - 1)); _vhuctl; "
		 "echo \"${COMPREPLY[*]}\"; }; "
		 "t vhuctl ex; t vhuctl export --lo; t vhuctl export --datapath k; t vhuctl stats --; "
		 "t vhuctl re; t vhuctl help mo; t vhuctl add --contr",
		 bindir, top);
	run_prog(&r, "/bin/bash", (const char *const[]){ "-c", script, NULL }, 10000);
	if (!tap_ok(r.status == 0 &&
		    !strcmp(r.out, "export\n--logical-block-size --lock-wait\nkernel\n"
				   "--socket --kernel --dev --control --json --help\n"
				   "remove resize\nmonitor\n--control\n"),
		    "service: bash completion completes commands, options and values"))
		tap_diag("status %d, out: %s err: %s", r.status, r.out, r.err);
}

void t_service(void)
{
	struct tmp_dir d;
	const char *img;

	if (!tmp_dir_make(&d, "vhuctl-service")) {
		tap_ok(false, "service: temporary directory");
		return;
	}
	img = tmp_file(&d, "disk.img");
	make_file(img, 1 << 20);
	notify(&d, img);
	config(&d, img);
	unit(&d, "vhu-export@");
	unit(&d, "vhu");
	service_start(&d);
	completion();
	tap_ok(tmp_dir_remove(&d), "service: no files left behind");
}
