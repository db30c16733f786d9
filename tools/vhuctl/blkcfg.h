/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio-blk face of an export when vhuctl serves it itself: the
 * feature bits and config space the userspace datapath offers (vhu.ko
 * reports its own through VHU_GET_DEV_INFO).
 */
#ifndef BLKCFG_H
#define BLKCFG_H

#include <stdbool.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "datapath.h"

uint64_t vu_blk_features(const struct vu_export_cfg *cfg);
/* write_cache: the wce the driver set (true: write-back). */
void vu_blk_config(const struct vu_export_cfg *cfg, bool write_cache,
		   struct virtio_blk_config *out);

#endif
