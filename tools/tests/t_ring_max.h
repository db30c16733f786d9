/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The vhuctl binary at its defaults on the largest ring (t_ring_max.c):
 * run by the host tests with the userspace datapath and by
 * vhuctl-kernel-test with vhu.ko's.
 */
#ifndef T_RING_MAX_H
#define T_RING_MAX_H

/* vhuctl: the binary; datapath: "user" or "kernel". Prints TAP. */
void t_ring_max(const char *vhuctl, const char *datapath);
/* The same with --user 65534 --group 65534 (root only, else skipped). */
void t_ring_max_dropped(const char *vhuctl, const char *datapath);

#endif
