/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The protocol server's own header, shared by vu_msg.c (message intake,
 * validation, replies), vu_server.c (the request table, the device-level
 * requests, the connection's lifecycle) and vu_vring.c (the vring
 * requests). Datapaths never include it.
 */
#ifndef VU_MSG_H
#define VU_MSG_H

#include <stdbool.h>
#include <stdint.h>

#include "log.h"
#include "vu_server.h"

enum size_kind {
	SZ_EXACT,	/* hdr.size == size */
	SZ_MEM_TABLE,	/* 8 + 32 * n, 1 <= n <= VU_MAX_MEM_TABLE_REGIONS */
	SZ_CONFIG,	/* 12 + n, n <= 256 */
};

enum fd_kind {
	FD_EXACT,	/* exactly fds */
	FD_UP_TO,	/* 0..fds */
	FD_BY_PAYLOAD,	/* decided by the handler from the payload */
};

/*
 * What refusing a request costs when the refusal cannot be acked (the
 * frontend did not ask for a reply, or REPLY_ACK was not negotiated).
 */
enum refusal_kind {
	REFUSE_CLOSE,	/* the connection is closed: the frontend is out of step */
	REFUSE_RING,	/* the ring the message names is broken (err eventfd) */
	REFUSE_IGNORE,	/* logged only: nothing changed (a guest's config write) */
	REFUSE_EMPTY,	/* a reply of its own, with a zero-length payload */
};

/*
 * One request type: its handler and the message it takes. A handler
 * returns 0, or a negative errno once FAIL() said why.
 */
struct vu_req_desc {
	const char *name;
	int (*handle)(struct vu_dev *dev, struct vu_msg *m);
	uint32_t size;
	uint8_t size_kind;
	uint8_t fd_kind;
	uint8_t fds;
	uint8_t refusal;	/* enum refusal_kind */
	bool has_reply;		/* the request has its own reply payload */
	bool reply_needs_pf;	/* ... only once need_pf is negotiated */
	uint64_t need_pf;	/* protocol features that must be negotiated */
};

/* vu_server.c: the table's entry for a request, NULL for an unknown one. */
const struct vu_req_desc *vu_request(uint32_t req);
/* Its name for log lines ("request N" for an unknown one). */
const char *vu_request_name(uint32_t req);

/*
 * A handler's failure: logged once here, with the request's name; a
 * frontend that repeats refused requests gets a few lines per interval
 * (rl_refused).
 */
#define FAIL(dev, m, err, fmt, ...)					\
	({								\
		vlog_rl(&(dev)->rl_refused, "%s: %s refused: " fmt, (dev)->name, \
		     vu_request_name((m)->hdr.request), ##__VA_ARGS__);	\
		(err);							\
	})

/* Take the message's i-th fd over. */
static inline int vu_take_fd(struct vu_msg *m, int i)
{
	int fd = m->fds[i];

	m->fds[i] = -1;
	return fd;
}

/*
 * vu_msg.c: the reply to req, with fd attached unless -1; -EIO (logged)
 * when it cannot be sent, which ends the connection.
 */
int vu_send_reply(struct vu_dev *dev, const struct vu_msg *req,
		  const void *payload, uint32_t size, int fd);
int vu_reply_u64(struct vu_dev *dev, const struct vu_msg *req, uint64_t v);

/* vu_vring.c: the vring requests. */
int vu_vring_set_num(struct vu_dev *dev, struct vu_msg *m);
int vu_vring_set_addr(struct vu_dev *dev, struct vu_msg *m);
int vu_vring_set_base(struct vu_dev *dev, struct vu_msg *m);
int vu_vring_get_base(struct vu_dev *dev, struct vu_msg *m);
int vu_vring_set_kick(struct vu_dev *dev, struct vu_msg *m);
int vu_vring_set_call(struct vu_dev *dev, struct vu_msg *m);
int vu_vring_set_err(struct vu_dev *dev, struct vu_msg *m);
int vu_vring_set_enable(struct vu_dev *dev, struct vu_msg *m);

/*
 * Stop a running queue, waiting for its in-flight requests. On failure
 * (logged) the queue stays running: the datapath may still use it.
 */
int vu_vring_stop(struct vu_dev *dev, uint32_t i);
/* Forget a stopped queue's state and close its fds. */
void vu_vring_reset(struct vu_queue *q);
/* Stop every running queue: 0, or the last failure. */
int vu_vring_stop_all(struct vu_dev *dev);
/*
 * Start every queue that may run and does not: after a change of the
 * features or of the memory table. A queue whose rings are outside guest
 * memory waits for the region that holds them; one the datapath refuses
 * is broken.
 */
void vu_vring_start_all(struct vu_dev *dev);
/* Disable and stop every queue for the frontend (RESET_OWNER). */
int vu_vring_disable_all(struct vu_dev *dev);
/* Does any of the queue's rings start in region r? */
bool vu_vring_in_region(const struct vu_queue *q, const struct vu_region *r);
/*
 * Break queue i (why: for the log): stopped, its err eventfd signalled,
 * and not started again until GET_VRING_BASE. 0, or the stop's failure.
 */
int vu_vring_break(struct vu_dev *dev, uint32_t i, const char *why);
/*
 * A vring request was refused and the frontend cannot be told: break the
 * queue it names. 0, or -EPROTO when the message names no queue (or the
 * queue did not stop), which leaves closing the connection.
 */
int vu_vring_refused(struct vu_dev *dev, const struct vu_msg *m);

#endif
