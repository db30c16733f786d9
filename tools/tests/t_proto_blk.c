// SPDX-License-Identifier: GPL-2.0
/*
 * The protocol tests of what the driver's virtio-blk features change: on
 * export 0, the write cache mode the datapath gets (write-back only for a
 * driver that negotiated FLUSH and set wce 1); on an export of its own,
 * a driver without BLK_SIZE that the backing cannot serve.
 */
#include <stddef.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>

#include "t_proto.h"
#include "tap.h"
#include "test_dp.h"
#include "util.h"

/* The mode the datapath got from the server since mark m, or -1. */
static int mode_since(uint32_t m)
{
	int i = tdp_find(TDP_WRITE_CACHE, m);

	return i < 0 ? -1 : (int)tdp_log->ev[i].a;
}

/* SET_FEATURES f: the write cache mode the datapath got, or -1. */
static int features_mode(struct vf *vf, uint64_t f)
{
	uint32_t m = log_mark();

	return vf_u64_ack(vf, VU_REQ_SET_FEATURES, f) ? -1 : mode_since(m);
}

/* SET_CONFIG of wce: the write cache mode the datapath got, or -1. */
static int wce_mode(struct vf *vf, uint8_t wce)
{
	struct vu_config_msg c = {
		.offset = offsetof(struct virtio_blk_config, wce), .size = 1,
		.data = { wce },
	};
	uint32_t m = log_mark();

	return vf_req_ack(vf, VU_REQ_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 1, NULL, 0) ?
	       -1 : mode_since(m);
}

static int read_wce(struct vf *vf)
{
	uint8_t wce = 0xff;

	return vf_get_config(vf, offsetof(struct virtio_blk_config, wce), 1, &wce) ? -1 : wce;
}

void t_blk_features(void)
{
	const uint64_t flush = BIT(VIRTIO_BLK_F_FLUSH), wce = BIT(VIRTIO_BLK_F_CONFIG_WCE);
	uint64_t all = 0;
	struct vf vf;
	int ret;

	if (!tap_ok(connect_ok(&vf, proto.sock0) && vf_realize(&vf, 2, &all) == 0,
		    "blk features: realize"))
		goto out;

	ret = features_mode(&vf, all);
	ret = ret < 0 ? ret : wce_mode(&vf, 1);
	tap_ok(ret == 1, "blk features: FLUSH and wce 1: the datapath writes back (%d)", ret);
	/* Firecracker asks for neither FLUSH nor CONFIG_WCE by default. */
	ret = features_mode(&vf, all & ~(flush | wce));
	tap_ok(ret == 0, "blk features: no FLUSH: the datapath writes through (%d)", ret);
	ret = features_mode(&vf, all & ~flush);
	tap_ok(ret == 0 && read_wce(&vf) == 0,
	       "blk features: CONFIG_WCE without FLUSH: write-through, wce reads 0 (%d)", ret);
	ret = wce_mode(&vf, 1);
	tap_ok(ret == 0 && read_wce(&vf) == 1,
	       "blk features: wce 1 without FLUSH still writes through (%d)", ret);
	ret = features_mode(&vf, all);
	tap_ok(ret == 1, "blk features: FLUSH again, wce 1: write-back (%d)", ret);
	ret = wce_mode(&vf, 0);
	tap_ok(ret == 0 && read_wce(&vf) == 0, "blk features: wce 0 writes through (%d)", ret);
	tap_ok(wce_mode(&vf, 1) == 1 && read_wce(&vf) == 1, "blk features: wce 1 writes back");
out:
	vf_close(&vf);
	exportd_settle(&proto.d);
}

/*
 * An export of 4096-byte blocks on a backing that serves no smaller one
 * (a 4Kn disk opened O_DIRECT: the backing_lbs the export command would
 * find there). A driver without BLK_SIZE would use 512-byte blocks: its
 * SET_FEATURES is refused with a log line that says why, before the
 * datapath sees it. With BLK_SIZE it is served.
 */
void t_blk_size_refused(void)
{
	const char *sock = tmp_file(&proto.dir, "4kn.sock");
	const char *log = tmp_file(&proto.dir, "4kn.log");
	struct exportd d = { .pid = -1 };
	struct vu_export_cfg *c;
	uint64_t f = 0;
	struct vf vf;
	uint32_t m;
	int ret;

	c = exportd_add(&d, sock, tmp_file(&proto.dir, "4kn.img"), DISK_SIZE, 1, &tdp_ops);
	c->lbs = 4096;
	c->backing_lbs = 4096;
	c->direct = true;
	if (!tap_ok(exportd_start(&d, log) && connect_ok(&vf, sock) &&
		    vf_realize(&vf, 1, &f) == 0, "blk size: a 4Kn export, realize"))
		goto out;
	m = log_mark();
	ret = vf_u64_ack(&vf, VU_REQ_SET_FEATURES, f & ~BIT(VIRTIO_BLK_F_BLK_SIZE));
	tap_ok(ret > 0 && tdp_find(TDP_FEATURES, m) < 0 &&
	       file_count(log, "SET_FEATURES refused: the driver did not accept "
			  "VIRTIO_BLK_F_BLK_SIZE, so it uses 512-byte blocks") == 1 &&
	       file_count(log, "--logical-block-size 512") == 1,
	       "blk size: without BLK_SIZE SET_FEATURES is refused, the log says why (%d)", ret);
	ret = vf_u64_ack(&vf, VU_REQ_SET_FEATURES, f);
	tap_ok(ret == 0 && tdp_find(TDP_FEATURES, m) >= 0,
	       "blk size: with BLK_SIZE it is accepted (%d)", ret);
	vf_close(&vf);
out:
	tap_ok(exportd_stop(&d), "blk size: the export's daemon stops cleanly");
	exportd_diag_log(&d);
}
