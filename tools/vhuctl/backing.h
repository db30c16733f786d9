/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An export's backing, opened by whoever asks for the export (backing.c).
 */
#ifndef BACKING_H
#define BACKING_H

#include "datapath.h"

/* --lock-wait's default, in ms. */
#define LOCK_WAIT_DEFAULT_MS	5000

/*
 * Open c->backing as c's options say, check it and take its image lock,
 * waiting up to lock_wait_ms for another user to let it go; prev[0..nprev)
 * are the exports opened before (the same image twice only read-only).
 * Sets c->backing_fd, c->size and c->backing_lbs: 0, or -1 after the error.
 */
int vu_open_backing(struct vu_export_cfg *c, struct vu_export_cfg *const *prev,
		    unsigned int nprev, unsigned int lock_wait_ms);

#endif
