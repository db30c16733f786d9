/* SPDX-License-Identifier: GPL-2.0 */
/*
 * vhu: internal declarations shared by the module's files.
 */
#ifndef _VHU_H
#define _VHU_H

#include <linux/types.h>

#define VHU_VERSION "0.1.0"

int vhu_device_init(void);
void vhu_device_exit(void);

int vhu_genl_init(void);
void vhu_genl_exit(void);

u64 vhu_api_features(void);

#endif /* _VHU_H */
