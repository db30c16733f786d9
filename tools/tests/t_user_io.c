// SPDX-License-Identifier: GPL-2.0
/*
 * The userspace datapath's requests: random I/O with and without
 * EVENT_IDX and indirect descriptors, every request type and malformed
 * request, a read-only export, O_DIRECT, 4096-byte blocks with and
 * without BLK_SIZE, and the order of magnitude of the rate.
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "t_user.h"
#include "tap.h"
#include "util.h"

/* Random writes then reads, SLOTS in flight per queue, on nq queues. */
void t_random_io(struct vf_guest *g, unsigned int nq, bool event_idx,
		 bool indirect)
{
	const char *what = event_idx ? (indirect ? "event_idx+indirect" : "event_idx")
				     : (indirect ? "indirect" : "plain");
	bool ok = true, st_ok = true, data_ok = true, len_ok = true;
	uint64_t sector[NQ_MAX][SLOTS];
	uint32_t len[NQ_MAX][SLOTS];
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, nq, event_idx, indirect, true);

	if (!tap_ok(ret == 0, "user %uq %s: driver ok (%d)", nq, what, ret)) {
		dev_close(&d);
		return;
	}
	for (int round = 0; round < 4 && ok; round++) {
		bool write = round % 2 == 0;

		for (unsigned int qi = 0; qi < nq; qi++) {
			for (int s = 0; s < SLOTS; s++) {
				/* Distinct 8K areas per request: no overlap in flight. */
				unsigned int area = (qi * SLOTS + s) * 7 + round * 3;

				sector[qi][s] = (area % (DISK_SIZE / SLOT_DATA)) * 16 +
						(rand() % 8);
				len[qi][s] = 512 * (1 + rand() % 8);
				if (write) {
					uint8_t *p = gptr(g, data_gpa(qi, s));

					for (uint32_t i = 0; i < len[qi][s]; i++)
						p[i] = rand();
				}
				post_req(&d, qi, s, write ? VIRTIO_BLK_T_OUT : VIRTIO_BLK_T_IN,
					 sector[qi][s], len[qi][s]);
			}
			kick(&d, qi);
		}
		for (unsigned int qi = 0; qi < nq; qi++) {
			ok &= wait_used(&d, qi);
			for (int s = 0; s < SLOTS && ok; s++) {
				st_ok &= *status(&d, qi, s) == VIRTIO_BLK_S_OK;
				data_ok &= file_matches(sector[qi][s] * 512,
							gptr(g, data_gpa(qi, s)),
							len[qi][s]);
				len_ok &= used_len(&d, qi, s) ==
					  (write ? 1 : len[qi][s] + 1);
			}
		}
	}
	tap_ok(ok, "user %uq %s: every request completed with a call", nq, what);
	tap_ok(st_ok, "user %uq %s: every status OK", nq, what);
	tap_ok(data_ok, "user %uq %s: data matches the backing file", nq, what);
	tap_ok(len_ok, "user %uq %s: used lengths count written bytes", nq, what);
	if (event_idx) {
		struct vr *vr = &d.q[0].vr;

		tap_ok(*vr_avail_event(vr) == vr->avail_idx,
		       "user %uq %s: avail_event asks for the next kick", nq, what);
	}
	dev_close(&d);
}

void t_types(struct vf_guest *g)
{
	char id[VIRTIO_BLK_ID_BYTES + 1] = { 0 };
	uint8_t *data = gptr(g, data_gpa(0, 0));
	uint8_t zero[SLOT_DATA] = { 0 };
	struct tdev d;
	struct vr_buf sg[4];
	int ret = dev_open(&d, g, user.sock_rw, 1, true, false, true);

	if (!tap_ok(ret == 0, "user types: driver ok (%d)", ret)) {
		dev_close(&d);
		return;
	}
	tap_ok(one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK, "user: FLUSH ok");
	ret = one(&d, 0, VIRTIO_BLK_T_GET_ID, 0, VIRTIO_BLK_ID_BYTES);
	memcpy(id, data, VIRTIO_BLK_ID_BYTES);
	tap_ok(ret == VIRTIO_BLK_S_OK && !strcmp(id, SERIAL) &&
	       used_len(&d, 0, 0) == VIRTIO_BLK_ID_BYTES + 1, "user: GET_ID returns the serial");

	/* Fill 8K, then discard/zero parts of it. */
	memset(data, 0x5a, SLOT_DATA);
	ret = one(&d, 0, VIRTIO_BLK_T_OUT, 2048, SLOT_DATA);
	{
		struct virtio_blk_discard_write_zeroes *seg = gptr(g, hdr_gpa(0, 1));

		*seg = (struct virtio_blk_discard_write_zeroes){ 2048, 8, 0 };
		hdr(&d, 0, 0)->type = VIRTIO_BLK_T_WRITE_ZEROES;
		hdr(&d, 0, 0)->sector = 0;
		sg[0] = (struct vr_buf){ hdr_gpa(0, 0), 16, false };
		sg[1] = (struct vr_buf){ hdr_gpa(0, 1), 16, false };
		sg[2] = (struct vr_buf){ hdr_gpa(0, 0) + 16, 1, true };
		tap_ok(chain(&d, sg, 3) == VIRTIO_BLK_S_OK && file_matches(2048 * 512, zero, 4096),
		       "user: WRITE_ZEROES zeroes the range");
		hdr(&d, 0, 0)->type = VIRTIO_BLK_T_DISCARD;
		*seg = (struct virtio_blk_discard_write_zeroes){ 2056, 8, 0 };
		tap_ok(chain(&d, sg, 3) == VIRTIO_BLK_S_OK, "user: DISCARD ok");
		seg->flags = 0x80;
		tap_ok(chain(&d, sg, 3) == VIRTIO_BLK_S_UNSUPP,
		       "user: DISCARD with unknown flags: UNSUPP");
		*seg = (struct virtio_blk_discard_write_zeroes){ DISK_SIZE / 512 - 4, 8, 0 };
		tap_ok(chain(&d, sg, 3) == VIRTIO_BLK_S_IOERR, "user: DISCARD past the end: IOERR");
	}
	tap_ok(one(&d, 0, 77, 0, 0) == VIRTIO_BLK_S_UNSUPP, "user: unknown type: UNSUPP");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, DISK_SIZE / 512 - 1, 1024) == VIRTIO_BLK_S_IOERR,
	       "user: read past the end: IOERR");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, ~0ull >> 1, 512) == VIRTIO_BLK_S_IOERR,
	       "user: read at a huge sector: IOERR");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_OUT, 0, 100) == VIRTIO_BLK_S_IOERR,
	       "user: write of a partial sector: IOERR");

	/* Header split over two descriptors (gathered). */
	memset(data, 0x33, 512);
	hdr(&d, 0, 0)->type = VIRTIO_BLK_T_OUT;
	hdr(&d, 0, 0)->sector = 100;
	sg[0] = (struct vr_buf){ hdr_gpa(0, 0), 5, false };
	sg[1] = (struct vr_buf){ hdr_gpa(0, 0) + 5, 11, false };
	sg[2] = (struct vr_buf){ data_gpa(0, 0), 512, false };
	sg[3] = (struct vr_buf){ hdr_gpa(0, 0) + 16, 1, true };
	tap_ok(chain(&d, sg, 4) == VIRTIO_BLK_S_OK && file_matches(100 * 512, data, 512),
	       "user: a header split over descriptors is gathered");

	/* Read whose data buffer is device-readable: wrong direction. */
	hdr(&d, 0, 0)->type = VIRTIO_BLK_T_IN;
	sg[0] = (struct vr_buf){ hdr_gpa(0, 0), 16, false };
	sg[1] = (struct vr_buf){ data_gpa(0, 0), 512, false };
	sg[2] = (struct vr_buf){ hdr_gpa(0, 0) + 16, 1, true };
	tap_ok(chain(&d, sg, 3) == VIRTIO_BLK_S_IOERR,
	       "user: read into a readable buffer: IOERR");

	/* A buffer outside guest memory fails the request only. */
	sg[1] = (struct vr_buf){ 0x200000000ull, 512, true };
	tap_ok(chain(&d, sg, 3) == VIRTIO_BLK_S_IOERR, "user: buffer outside memory: IOERR");

	/* No status byte at all: completed with nothing written. */
	sg[1] = (struct vr_buf){ data_gpa(0, 0), 512, false };
	tap_ok(chain(&d, sg, 2) >= 0 && used_len(&d, 0, 0) == 0,
	       "user: a chain without a status byte completes with length 0");

	/* Write cache off (WCE 0): writes still work (RWF_DSYNC). */
	{
		struct vu_config_msg c = { .offset = offsetof(struct virtio_blk_config, wce),
					   .size = 1, .flags = 0, .data = { 0 } };

		ret = vf_req_ack(&d.vf, VU_REQ_SET_CONFIG, &c, VU_CONFIG_HDR_SIZE + 1, NULL, 0);
		tap_ok(ret == 0 && one(&d, 0, VIRTIO_BLK_T_OUT, 8, 512) == VIRTIO_BLK_S_OK,
		       "user: write-through mode writes");
	}
	dev_close(&d);
}

void t_readonly(struct vf_guest *g)
{
	struct tdev d;
	uint64_t f = 0;
	int ret = dev_open(&d, g, user.sock_ro, 1, true, false, true);

	vf_get_u64(&d.vf, VU_REQ_GET_FEATURES, &f);
	if (!tap_ok(ret == 0 && (f & BIT(VIRTIO_BLK_F_RO)), "user ro: driver ok, RO offered")) {
		dev_close(&d);
		return;
	}
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, 0, 4096) == VIRTIO_BLK_S_OK, "user ro: reads");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_OUT, 0, 4096) == VIRTIO_BLK_S_IOERR,
	       "user ro: a write fails with IOERR");
	tap_ok(one(&d, 0, VIRTIO_BLK_T_FLUSH, 0, 0) == VIRTIO_BLK_S_OK, "user ro: flush ok");
	dev_close(&d);
}

/* --direct: O_DIRECT on the guest's own (aligned) buffers. */
void t_direct(struct vf_guest *g)
{
	uint8_t *data = gptr(g, data_gpa(0, 0));
	uint8_t back[SLOT_DATA];
	struct tdev d;
	int fd, ret = dev_open(&d, g, user.sock_dio, 1, true, true, true);

	if (!tap_ok(ret == 0, "user direct: driver ok")) {
		dev_close(&d);
		return;
	}
	for (int i = 0; i < SLOT_DATA; i++)
		data[i] = rand();
	memcpy(back, data, SLOT_DATA);
	tap_ok(one(&d, 0, VIRTIO_BLK_T_OUT, 64, SLOT_DATA) == VIRTIO_BLK_S_OK,
	       "user direct: aligned write");
	memset(data, 0, SLOT_DATA);
	tap_ok(one(&d, 0, VIRTIO_BLK_T_IN, 64, SLOT_DATA) == VIRTIO_BLK_S_OK &&
	       !memcmp(data, back, SLOT_DATA), "user direct: read back");
	fd = open(user.img_dio, O_RDONLY | O_CLOEXEC);
	tap_ok(fd >= 0 && pread(fd, data, SLOT_DATA, 64 * 512) == SLOT_DATA &&
	       !memcmp(data, back, SLOT_DATA), "user direct: the data is in the file");
	{
		/* A guest buffer O_DIRECT cannot take: bounced. */
		uint8_t *odd = gptr(g, data_gpa(0, 1) + 100);
		struct vr_buf sg[3] = {
			{ hdr_gpa(0, 0), 16, false },
			{ data_gpa(0, 1) + 100, 1024, false },
			{ hdr_gpa(0, 0) + 16, 1, true },
		};

		memset(odd, 0x6b, 1024);
		hdr(&d, 0, 0)->type = VIRTIO_BLK_T_OUT;
		hdr(&d, 0, 0)->sector = 200;
		tap_ok(chain(&d, sg, 3) == VIRTIO_BLK_S_OK && fd >= 0 &&
		       pread(fd, back, 1024, 200 * 512) == 1024 && !memcmp(back, odd, 1024),
		       "user direct: a misaligned buffer is bounced (write)");
		memset(odd, 0, 1024);
		hdr(&d, 0, 0)->type = VIRTIO_BLK_T_IN;
		sg[1].write = true;
		tap_ok(chain(&d, sg, 3) == VIRTIO_BLK_S_OK && !memcmp(back, odd, 1024),
		       "user direct: a misaligned buffer is bounced (read)");
	}
	if (fd >= 0)
		close(fd);
	dev_close(&d);
}

/*
 * A 4096-byte export over a buffered file. A driver that did not accept
 * VIRTIO_BLK_F_BLK_SIZE (Firecracker's) uses 512-byte blocks: it is served
 * them and blk_size says 512. One that accepted it gets 4096-byte blocks.
 */
void t_blk_size(struct vf_guest *g)
{
	uint8_t *data = gptr(g, data_gpa(0, 0)), back[512];
	int fd = open(user.img_4k, O_RDONLY | O_CLOEXEC);
	uint32_t blk = 0;
	struct tdev d;
	int ret = dev_open_without(&d, g, user.sock_4k, BIT(VIRTIO_BLK_F_BLK_SIZE));

	if (!tap_ok(ret == 0 && fd >= 0, "user 4k: driver without BLK_SIZE ok (%d)", ret))
		goto out;
	ret = vf_get_config(&d.vf, offsetof(struct virtio_blk_config, blk_size), 4, &blk);
	tap_ok(ret == 0 && blk == 512,
	       "user 4k: blk_size is 512 for a driver without BLK_SIZE (%u)", blk);
	memset(data, 0x3c, 512);
	ret = one(&d, 0, VIRTIO_BLK_T_OUT, 1, 512);
	tap_ok(ret == VIRTIO_BLK_S_OK && pread(fd, back, 512, 512) == 512 &&
	       !memcmp(back, data, 512),
	       "user 4k: without BLK_SIZE a 512-byte write at sector 1 is served (%d)", ret);
	memset(data, 0, 512);
	ret = one(&d, 0, VIRTIO_BLK_T_IN, 1, 512);
	tap_ok(ret == VIRTIO_BLK_S_OK && !memcmp(back, data, 512),
	       "user 4k: and read back (%d)", ret);
	dev_close(&d);

	ret = dev_open(&d, g, user.sock_4k, 1, true, false, true);
	tap_ok(ret == 0 &&
	       vf_get_config(&d.vf, offsetof(struct virtio_blk_config, blk_size), 4, &blk) == 0 &&
	       blk == 4096 && one(&d, 0, VIRTIO_BLK_T_OUT, 1, 512) == VIRTIO_BLK_S_IOERR &&
	       one(&d, 0, VIRTIO_BLK_T_OUT, 8, 4096) == VIRTIO_BLK_S_OK,
	       "user 4k: with BLK_SIZE: blk_size 4096, 4096-byte blocks only");
out:
	if (fd >= 0)
		close(fd);
	dev_close(&d);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Not a benchmark (tools/bench is): an order of magnitude for the log,
 * 4 KiB random reads in batches of SLOTS per queue for about a second.
 */
void t_rate(struct vf_guest *g, unsigned int nq)
{
	double t0, t;
	uint64_t n = 0;
	bool ok = true;
	struct tdev d;
	int ret = dev_open(&d, g, user.sock_rw, nq, true, false, true);

	if (!tap_ok(ret == 0, "user rate %uq: driver ok", nq)) {
		dev_close(&d);
		return;
	}
	t0 = now_s();
	do {
		for (unsigned int qi = 0; qi < nq; qi++) {
			for (int s = 0; s < SLOTS; s++)
				post_req(&d, qi, s, VIRTIO_BLK_T_IN,
					 (rand() % (DISK_SIZE / 4096)) * 8, 4096);
			kick(&d, qi);
		}
		for (unsigned int qi = 0; qi < nq; qi++)
			ok &= wait_used(&d, qi);
		n += nq * SLOTS;
		t = now_s() - t0;
	} while (ok && t < 1.0);
	tap_ok(ok, "user rate %uq: %.0f 4K reads/s (batches of %d per queue, page cache)",
	       nq, n / t, SLOTS);
	dev_close(&d);
}
