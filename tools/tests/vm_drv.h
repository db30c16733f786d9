/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the VM tests of the vhuctl binary on real backings share
 * (blk_vm_test.c, fault_vm_test.c): this process as the driver of queue 0
 * of a vhuctl export through the test frontend, vhuctl stopped by its
 * PID, and the backing stores of selftests/vhu/vhu_backing.sh.
 */
#ifndef VM_DRV_H
#define VM_DRV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "vring.h"
#include "vu_frontend.h"

struct vm_dev {
	struct vf vf;
	struct vr vr;
	int kick, call;
};

/*
 * Connect to sock, realize, acknowledge what is offered but drop, add
 * g's two regions and start queue 0 with qsize entries. 0; the
 * SET_FEATURES ack when the export refused the features (> 0); or the
 * negative step that failed. vm_undrive() in every case.
 */
int vm_drive(struct vm_dev *d, struct vf_guest *g, const char *sock, uint32_t qsize,
	     uint64_t drop);
void vm_undrive(struct vm_dev *d);
/* SET_CONFIG of the wce byte: the ack. */
int vm_set_wce(struct vm_dev *d, uint8_t wce);
/* SIGTERM: it exits with status 0 within 10 s. */
bool vm_stop(pid_t pid);
/*
 * The vhu_backing.sh at script, with cmd kind, this process's ID and
 * arg: true, and its output's line in out (when not NULL).
 */
bool vm_backing(const char *script, const char *cmd, const char *kind, const char *arg,
		char *out);

#endif
