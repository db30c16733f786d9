// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the virtio-blk face of an export -- feature bits and config space.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <linux/virtio_blk.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#include "blkcfg.h"
#include "util.h"

uint64_t vu_blk_features(const struct vu_export_cfg *cfg)
{
	uint64_t f = BIT(VIRTIO_F_VERSION_1) | BIT(VIRTIO_RING_F_INDIRECT_DESC) |
		     BIT(VIRTIO_RING_F_EVENT_IDX) | BIT(VIRTIO_BLK_F_SEG_MAX) |
		     BIT(VIRTIO_BLK_F_BLK_SIZE) | BIT(VIRTIO_BLK_F_TOPOLOGY) |
		     BIT(VIRTIO_BLK_F_FLUSH) | BIT(VIRTIO_BLK_F_CONFIG_WCE) |
		     BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES);

	if (cfg->queues > 1)
		f |= BIT(VIRTIO_BLK_F_MQ);
	if (cfg->readonly) {
		f |= BIT(VIRTIO_BLK_F_RO);
		f &= ~(BIT(VIRTIO_BLK_F_DISCARD) | BIT(VIRTIO_BLK_F_WRITE_ZEROES));
	}
	return f;
}

uint32_t vu_blk_seg_max(const struct vu_export_cfg *cfg)
{
	uint32_t n = cfg->queue_size > 2 ? cfg->queue_size - 2 : 1;

	return n < VHU_MAX_SEG ? n : VHU_MAX_SEG;
}

unsigned int vu_blk_driver_lbs(const struct vu_export_cfg *cfg, uint64_t features)
{
	return features & BIT(VIRTIO_BLK_F_BLK_SIZE) ? cfg->lbs : 512;
}

int vu_blk_check_features(const struct vu_export_cfg *cfg, uint64_t features,
			  char *why, size_t len)
{
	unsigned int lbs = vu_blk_driver_lbs(cfg, features);

	if (lbs >= cfg->backing_lbs)
		return 0;
	snprintf(why, len,
		 "the driver did not accept VIRTIO_BLK_F_BLK_SIZE, so it uses %u-byte blocks, "
		 "which %s cannot serve (its smallest block is %u bytes%s); such a driver "
		 "needs an export with --logical-block-size %u on a backing that serves "
		 "%u-byte blocks", lbs, cfg->backing, cfg->backing_lbs,
		 cfg->direct ? ", opened O_DIRECT" : "", lbs, lbs);
	return -EINVAL;
}

void vu_blk_config(const struct vu_export_cfg *cfg, unsigned int lbs,
		   bool write_cache, struct virtio_blk_config *c)
{
	uint32_t lbs_sectors = lbs / 512;

	memset(c, 0, sizeof(*c));
	c->capacity = cfg->size / 512;
	c->seg_max = vu_blk_seg_max(cfg);
	c->blk_size = lbs;
	c->physical_block_exp = 0;
	c->alignment_offset = 0;
	c->min_io_size = 1;
	c->opt_io_size = 0;
	c->wce = write_cache;
	c->num_queues = cfg->queues;
	c->max_discard_sectors = 0x3fffff & ~(lbs_sectors - 1);
	c->max_discard_seg = 1;
	c->discard_sector_alignment = lbs_sectors;
	c->max_write_zeroes_sectors = 0x3fffff & ~(lbs_sectors - 1);
	c->max_write_zeroes_seg = 1;
	c->write_zeroes_may_unmap = 0;
}

bool vu_blk_write_back(uint64_t features, bool write_cache)
{
	return write_cache && (features & BIT(VIRTIO_BLK_F_FLUSH));
}
