// SPDX-License-Identifier: GPL-2.0
/* vhu datapath tests on files, read-only device, ABI, stats; see datapath.inc. */
#define VHU_SET_FILES 1
#include "datapath.inc"
