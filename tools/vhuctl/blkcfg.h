/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio-blk face of an export: the feature bits and config space
 * the userspace datapath offers (vhu.ko reports its own through
 * VHU_GET_DEV_INFO, from what the kernel datapath asks of it here).
 */
#ifndef BLKCFG_H
#define BLKCFG_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "datapath.h"

uint64_t vu_blk_features(const struct vu_export_cfg *cfg);
/*
 * The seg_max both datapaths offer: what a ring of the largest size takes
 * (queue_size - 2), at most VHU_MAX_SEG, the most either accepts.
 */
uint32_t vu_blk_seg_max(const struct vu_export_cfg *cfg);
/* write_cache: the wce the driver set (true: write-back). */
void vu_blk_config(const struct vu_export_cfg *cfg, bool write_cache,
		   struct virtio_blk_config *out);

#endif
