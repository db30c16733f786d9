// SPDX-License-Identifier: GPL-2.0
/*
 * The driver side of the VM tests of the vhuctl binary (vm_drv.h).
 */
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/virtio_blk.h>

#include "tap.h"
#include "test_util.h"
#include "util.h"
#include "vm_drv.h"

int vm_drive(struct vm_dev *d, struct vf_guest *g, const char *sock, uint32_t qsize,
	     uint64_t drop)
{
	struct vu_vring_addr a;
	uint64_t f = 0, v = 0;
	int ret;

	d->kick = d->call = -1;
	if (vf_connect(&d->vf, sock) || vf_realize(&d->vf, 1, &f))
		return -1;
	ret = vf_u64_ack(&d->vf, VU_REQ_SET_FEATURES, f & ~drop);
	if (ret)
		return ret;
	for (int i = 0; i < 2; i++) {
		struct vu_mem_reg_msg mr = { 0, g->r[i] };

		if (vf_req_ack(&d->vf, VU_REQ_ADD_MEM_REG, &mr, sizeof(mr), &g->fd, 1))
			return -2;
	}
	d->kick = eventfd(0, EFD_CLOEXEC);
	d->call = eventfd(0, EFD_CLOEXEC);
	vf_ring_addrs(0, qsize, &a);
	vf_vr(g, 0, qsize, true, &d->vr);
	d->vr.kick_fd = d->kick;
	if (vf_state_ack(&d->vf, VU_REQ_SET_VRING_NUM, 0, qsize) ||
	    vf_state_ack(&d->vf, VU_REQ_SET_VRING_BASE, 0, 0) ||
	    vf_req_ack(&d->vf, VU_REQ_SET_VRING_ADDR, &a, sizeof(a), NULL, 0) ||
	    vf_req_ack(&d->vf, VU_REQ_SET_VRING_CALL, &v, 8, &d->call, 1) ||
	    vf_req_ack(&d->vf, VU_REQ_SET_VRING_KICK, &v, 8, &d->kick, 1) ||
	    vf_state_ack(&d->vf, VU_REQ_SET_VRING_ENABLE, 0, 1))
		return -3;
	return 0;
}

void vm_undrive(struct vm_dev *d)
{
	vf_close(&d->vf);
	close_fd(&d->kick);
	close_fd(&d->call);
}

int vm_set_wce(struct vm_dev *d, uint8_t wce)
{
	struct vu_config_msg c = {
		.offset = offsetof(struct virtio_blk_config, wce), .size = 1,
		.data = { wce },
	};

	return vf_req_ack(&d->vf, VU_REQ_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 1, NULL, 0);
}

bool vm_stop(pid_t pid)
{
	int st;

	return pid > 0 && !stop_child(pid, 10000, &st) && WIFEXITED(st) &&
	       WEXITSTATUS(st) == 0;
}

bool vm_backing(const char *script, const char *cmd, const char *kind, const char *arg,
		char *out)
{
	char line[PATH_MAX * 2 + 64], buf[PATH_MAX] = "";
	FILE *p;

	snprintf(line, sizeof(line), "%s %s %s %d %s 2>&1", script, cmd, kind,
		 (int)getpid(), arg);
	p = popen(line, "r");
	if (!p)
		return false;
	if (!fgets(buf, sizeof(buf), p))
		buf[0] = 0;
	buf[strcspn(buf, "\n")] = 0;
	if (pclose(p)) {
		tap_diag("vhu_backing.sh %s %s %s: %s", cmd, kind, arg, buf);
		return false;
	}
	if (out)
		strcpy(out, buf);
	return true;
}
