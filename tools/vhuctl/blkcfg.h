/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The virtio-blk face of an export: the feature bits and config space
 * the userspace datapath offers (vhu.ko reports its own through
 * VHU_GET_DEV_INFO, from what the kernel datapath asks of it here).
 */
#ifndef BLKCFG_H
#define BLKCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <linux/virtio_blk.h>

#include "datapath.h"

uint64_t vu_blk_features(const struct vu_export_cfg *cfg);
/*
 * The seg_max both datapaths offer: what a ring of the largest size takes
 * (queue_size - 2), at most VHU_MAX_SEG, the most either accepts.
 */
uint32_t vu_blk_seg_max(const struct vu_export_cfg *cfg);
/*
 * The config space for a driver that uses lbs-byte blocks (see
 * vu_blk_driver_lbs()); write_cache: the wce it set (true: write-back).
 */
void vu_blk_config(const struct vu_export_cfg *cfg, unsigned int lbs,
		   bool write_cache, struct virtio_blk_config *out);
/*
 * The logical block size a driver with these features uses: the export's
 * if it accepted VIRTIO_BLK_F_BLK_SIZE, else 512, the sector every
 * virtio-blk request counts in. The datapath serves requests of it.
 */
unsigned int vu_blk_driver_lbs(const struct vu_export_cfg *cfg, uint64_t features);
/*
 * Can the export serve a driver with these features? 0, or -EINVAL with
 * the reason in why: a driver without VIRTIO_BLK_F_BLK_SIZE on a 4096-byte
 * export whose backing serves no smaller block.
 */
int vu_blk_check_features(const struct vu_export_cfg *cfg, uint64_t features,
			  char *why, size_t len);
/*
 * The write cache a datapath runs with for a driver that acknowledged
 * features and set wce write_cache: write-back (true) only when it set
 * wce 1 and negotiated VIRTIO_BLK_F_FLUSH. A driver without FLUSH never
 * flushes, and the virtio spec lets it take a write that completed as
 * durable: for it every write is written through.
 */
bool vu_blk_write_back(uint64_t features, bool write_cache);

#endif
