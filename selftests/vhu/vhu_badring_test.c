// SPDX-License-Identifier: GPL-2.0
/* vhu datapath tests with malicious rings; see datapath.inc. */
#define VHU_SET_BAD 1
#include "datapath.inc"
