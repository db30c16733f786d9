// SPDX-License-Identifier: GPL-2.0
/*
 * The protocol tests with the real QEMU 7.2 frontend against export 0:
 * realize only (QEMU paused), then a guest kernel whose virtio_blk sets
 * DRIVER_OK, and a VM stop. Skipped where QEMU, a guest kernel, busybox
 * or qboot is missing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t_proto.h"
#include "tap.h"
#include "test_dp.h"

static bool find_guest_kernel(char *kernel, size_t klen, char *rel, size_t rlen)
{
	/*
	 * Debian 12's 6.1 (what QEMU 7.2 ships with), whatever its ABI
	 * number, else the newest kernel installed. Newer guests under
	 * multi-threaded TCG crash now and then while patching their own
	 * text, which is QEMU's problem, not the backend's.
	 */
	static const char *const pick[] = {
		"ls /boot 2>/dev/null | sed -n 's/^vmlinuz-\\(6\\.1\\.[0-9-]*-amd64\\)$/\\1/p' | sort -V | tail -n 1",
		"ls /boot 2>/dev/null | sed -n 's/^vmlinuz-//p' | sort -V | tail -n 1",
	};
	char mods[256];

	for (size_t i = 0; i < sizeof(pick) / sizeof(pick[0]); i++) {
		FILE *p = popen(pick[i], "r");

		if (!p)
			return false;
		if (!fgets(rel, rlen, p))
			rel[0] = '\0';
		pclose(p);
		rel[strcspn(rel, "\n")] = '\0';
		snprintf(kernel, klen, "/boot/vmlinuz-%s", rel);
		snprintf(mods, sizeof(mods), "/lib/modules/%s", rel);
		if (rel[0] && !access(kernel, R_OK) && !access(mods, R_OK))
			return true;
	}
	return false;
}

#define QBOOT "/usr/share/qemu/qboot.rom"

void t_real_qemu(void)
{
	const char *top = getenv("VHU_TOP");
	const char *qlog = tmp_file(&proto.dir, "qemu.log");
	const char *glog = tmp_file(&proto.dir, "guest.log");
	const char *init = tmp_file(&proto.dir, "init");
	const char *initrd = tmp_file(&proto.dir, "initrd");
	char kernel[256], rel[128], serial[200], chardev[200], mk[800];
	int st, i, nstart;
	uint32_t m;
	pid_t pid;

	if (system("command -v qemu-system-x86_64 >/dev/null 2>&1")) {
		tap_ok(true, "# SKIP real qemu: qemu-system-x86_64 not installed");
		return;
	}
	/* mkinitramfs' own, next to the initrd */
	tmp_file(&proto.dir, "initrd.stamp");
	snprintf(chardev, sizeof(chardev), "socket,id=vu0,path=%s", proto.sock0);

	/* 1. Device realize only: QEMU stays paused (-S). */
	{
		char *argv[] = {
			"qemu-system-x86_64", "-machine", "q35", "-accel", "tcg",
			"-m", "256M", "-smp", "2",
			"-object", "memory-backend-memfd,id=mem,size=256M,share=on",
			"-numa", "node,memdev=mem", "-chardev", chardev,
			"-device", "vhost-user-blk-pci,chardev=vu0,num-queues=2",
			"-S", "-display", "none", "-nodefaults", "-monitor", "none", NULL,
		};

		m = log_mark();
		pid = spawn(argv, qlog);
		i = -1;
		for (int t = 0; t < 1000 && i < 0; t++) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				pid = -1;
				break;
			}
			i = tdp_find(TDP_GET_CONFIG, m);	/* realize's last step */
			usleep(10000);
		}
		usleep(500000);
		if (!tap_ok(pid > 0 && i >= 0 && waitpid(pid, &st, WNOHANG) == 0,
			    "real qemu: QEMU 7.2 realizes vhost-user-blk-pci (2 queues) against the daemon"))
			diag_file("qemu", qlog, 20);
		if (pid > 0)
			stop_child(pid, 20000, &st);
		tap_ok(pid > 0 && wait_op(TDP_DETACH, m) >= 0,
		       "real qemu: the daemon releases the device when QEMU quits");
	}

	/* 2. A guest kernel loads virtio_blk: DRIVER_OK, then VM stop. */
	/*
	 * qboot boots -kernel directly; SeaBIOS would drive the disk itself
	 * and wait forever for a read the recording datapath never completes.
	 */
	if (!top || !find_guest_kernel(kernel, sizeof(kernel), rel, sizeof(rel)) ||
	    access("/bin/busybox", X_OK) || access(QBOOT, R_OK)) {
		tap_ok(true, "# SKIP real qemu guest: no guest kernel, busybox, qboot or VHU_TOP");
		return;
	}
	{
		FILE *f = fopen(init, "w");

		if (f) {
			fputs("#!/bin/sh\n/bin/busybox mount -t devtmpfs dev /dev\n"
			      "for m in $(/bin/busybox cat /modules/order); do\n"
			      "  /bin/busybox insmod /modules/$m\ndone\n"
			      "/bin/busybox sleep 600\n", f);
			fclose(f);
		}
	}
	snprintf(mk, sizeof(mk), "'%s/tools/testing/vm/mkinitramfs' '%s' '%s' '%s' "
		 "virtio_pci virtio_blk >/dev/null 2>&1", top, rel, initrd, init);
	if (system(mk)) {
		tap_ok(true, "# SKIP real qemu guest: mkinitramfs failed");
		return;
	}
	{
		char *argv[] = {
			"qemu-system-x86_64", "-machine", "q35", "-bios", QBOOT,
			"-accel", "tcg,thread=multi", "-cpu", "max", "-m", "256M", "-smp", "2",
			"-object", "memory-backend-memfd,id=mem,size=256M,share=on",
			"-numa", "node,memdev=mem", "-chardev", chardev,
			"-device", "vhost-user-blk-pci,chardev=vu0,num-queues=2",
			"-kernel", kernel, "-initrd", (char *)initrd,
			"-append", "console=ttyS0 panic=-1 loglevel=4",
			"-display", "none", "-nodefaults", "-no-reboot",
			"-serial", serial, NULL,
		};
		int secs = 180;	/* TCG: KVM cannot boot a stock kernel everywhere */

		snprintf(serial, sizeof(serial), "file:%s", glog);
		m = log_mark();
		pid = spawn(argv, qlog);
		for (int t = 0; t < secs * 10 && tdp_count(TDP_START, m) < 2; t++) {
			if (waitpid(pid, &st, WNOHANG) == pid) {
				pid = -1;
				break;
			}
			usleep(100000);
		}
		nstart = tdp_count(TDP_START, m);
		i = tdp_find(TDP_ADD_REGION, m);
		if (!tap_ok(nstart >= 2 && i >= 0 && tdp_find(TDP_INFLIGHT, m) >= 0,
			    "real qemu guest: virtio_blk's DRIVER_OK starts both queues "
			    "(memory slots, inflight fd, translated rings)")) {
			diag_file("qemu", qlog, 20);
			diag_file("guest", glog, 60);
		}
		if (pid > 0) {
			uint32_t stop_from = log_mark();

			stop_child(pid, 20000, &st);
			tap_ok(st == 0 && tdp_count(TDP_STOP, stop_from) >= 2,
			       "real qemu guest: VM stop gets every queue's base (GET_VRING_BASE) "
			       "and QEMU exits cleanly");
		} else {
			tap_ok(false, "real qemu guest: QEMU kept running");
		}
		wait_op(TDP_DETACH, m);
	}
	exportd_settle(&proto.d);
}
