// SPDX-License-Identifier: GPL-2.0
/* vhu inflight-area and write cache tests; see inflight.inc. */
#define VHU_SET_INFLIGHT 1
#include "datapath.inc"
