// SPDX-License-Identifier: GPL-2.0
/* vhu datapath tests on block-device backends; see datapath.inc. */
#define VHU_SET_BLKDEV 1
#include "datapath.inc"
