/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cgroup v2 and worker-thread helpers of the vhu selftests: a cgroup of
 * the test's own to run the owner in, its files, and the threads that
 * work for a device (vhu-ID-Q for a vring, vhu-ID-blk for the device).
 */
#ifndef VHU_SELFTEST_CGROUP_H
#define VHU_SELFTEST_CGROUP_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/types.h>

#define CG_ROOT		"/sys/fs/cgroup"

/* Write @val to @dir/@file: 0 or -errno. */
static inline int cg_write(const char *dir, const char *file, const char *val)
{
	char path[PATH_MAX + 64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, val, strlen(val));
	close(fd);
	return n < 0 ? -errno : 0;
}

/* The number in @dir/@file, or 0. */
static inline unsigned long long cg_read(const char *dir, const char *file)
{
	unsigned long long v = 0;
	char path[PATH_MAX + 64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%llu", &v) != 1)
		v = 0;
	fclose(f);
	return v;
}

/* The value of @key in the flat-keyed @dir/@file (cpu.stat), or 0. */
static inline unsigned long long cg_stat(const char *dir, const char *file,
					 const char *key)
{
	unsigned long long v = 0, x;
	char path[PATH_MAX + 64], k[64];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return 0;
	while (fscanf(f, "%63s %llu", k, &x) == 2)
		if (!strcmp(k, key))
			v = x;
	fclose(f);
	return v;
}

/*
 * Move this process into a new cgroup in @dir, with the controllers of
 * @ctl ("+memory +io") enabled for it: 0, -ENODEV if there is no cgroup2
 * hierarchy with them to be had (cgroup2 is mounted on CG_ROOT if nothing
 * is), or -errno.
 */
static inline int cg_enter(char *dir, size_t len, const char *ctl)
{
	char path[PATH_MAX];
	int ret;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", CG_ROOT);
	if (access(path, F_OK) && mount("cgroup2", CG_ROOT, "cgroup2", 0, NULL))
		return -ENODEV;
	if (cg_write(CG_ROOT, "cgroup.subtree_control", ctl))
		return -ENODEV;
	snprintf(dir, len, "%s/vhu-selftest-%d", CG_ROOT, getpid());
	if (mkdir(dir, 0755))
		return -errno;
	ret = cg_write(dir, "cgroup.procs", "0");
	if (ret)
		rmdir(dir);
	return ret;
}

/* Back to the root cgroup, and remove @dir. */
static inline void cg_leave(const char *dir)
{
	cg_write(CG_ROOT, "cgroup.procs", "0");
	rmdir(dir);
}

/*
 * Is thread @tid in cgroup @dir (a path under CG_ROOT)? 1, 0, or -errno;
 * the cgroup it is in goes to @in.
 */
static inline int cg_has_thread(const char *dir, pid_t tid, char *in, size_t len)
{
	char path[80], line[PATH_MAX];
	FILE *f;
	int ret = 0;

	snprintf(path, sizeof(path), "/proc/%d/task/%d/cgroup", tid, tid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	snprintf(in, len, "?");
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = 0;
		/* cgroup v2: "0::/PATH". */
		if (strncmp(line, "0::", 3))
			continue;
		snprintf(in, len, "%s", line + 3);
		ret = !strcmp(dir + strlen(CG_ROOT), line + 3);
	}
	fclose(f);
	return ret;
}

/*
 * The threads working for device @id (comm "vhu-ID-..."), wherever they
 * are (threads of the owner, or kernel threads): up to @max of their ids
 * in @tid, and how many there are.
 */
static inline int vhu_worker_tids(uint32_t id, pid_t *tid, int max)
{
	char prefix[32], path[600], comm[32];
	struct dirent *p, *t;
	DIR *pd, *td;
	FILE *f;
	int n = 0;

	snprintf(prefix, sizeof(prefix), "vhu-%u-", id);
	pd = opendir("/proc");
	if (!pd)
		return 0;
	while ((p = readdir(pd))) {
		if (p->d_name[0] < '1' || p->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/task", p->d_name);
		td = opendir(path);
		if (!td)
			continue;
		while ((t = readdir(td))) {
			if (t->d_name[0] < '1' || t->d_name[0] > '9')
				continue;
			snprintf(path, sizeof(path), "/proc/%s/task/%s/comm",
				 p->d_name, t->d_name);
			f = fopen(path, "re");
			if (!f)
				continue;
			if (fgets(comm, sizeof(comm), f) &&
			    !strncmp(comm, prefix, strlen(prefix))) {
				if (n < max)
					tid[n] = atoi(t->d_name);
				n++;
			}
			fclose(f);
		}
		closedir(td);
	}
	closedir(pd);
	return n;
}

/* The thread id of vring @q's worker of device @id, or -1. */
static inline pid_t vhu_worker_tid(uint32_t id, unsigned int q)
{
	char want[32], path[64], comm[32];
	pid_t tid[2 * 64 + 1], found = -1;
	int i, n;
	FILE *f;

	n = vhu_worker_tids(id, tid, sizeof(tid) / sizeof(tid[0]));
	if (n > (int)(sizeof(tid) / sizeof(tid[0])))
		n = sizeof(tid) / sizeof(tid[0]);
	snprintf(want, sizeof(want), "vhu-%u-%u\n", id, q);
	for (i = 0; i < n && found < 0; i++) {
		snprintf(path, sizeof(path), "/proc/%d/comm", tid[i]);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strcmp(comm, want))
			found = tid[i];
		fclose(f);
	}
	return found;
}

#endif
