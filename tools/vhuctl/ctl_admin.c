// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the control socket's stats and resize, and the datapath's
 * events for its monitor (vu_admin.h), each run on the export's own
 * thread with the control socket's deadline.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "ctl.h"
#include "daemon.h"
#include "log.h"
#include "vu_admin.h"

struct stats_op {
	struct vu_export_op op;
	int n;
	char err[256];
	struct vu_queue_stats q[VHU_MAX_QUEUES];
};

static void stats_fn(struct vu_export *e, struct vu_export_op *op)
{
	struct stats_op *s = (struct stats_op *)op;

	s->n = vu_dev_stats(&e->dev, s->q, VHU_MAX_QUEUES, s->err, sizeof(s->err));
	op->ret = s->n < 0 ? s->n : 0;
}

#define Q_COUNTER(o, q, name) \
	json_object_object_add(o, #name, json_object_new_int64((int64_t)(q)->name))

static struct json_object *export_stats(struct vu_export *e)
{
	struct json_object *o = json_object_new_object(), *qs;
	struct stats_op *s = calloc(1, sizeof(*s));
	int ret = -ENOMEM;

	json_object_object_add(o, "socket", json_object_new_string(e->cfg.socket_path));
	json_object_object_add(o, "datapath", json_object_new_string(
		e->ops == &vu_dp_kernel_ops ? "kernel" : "user"));
	if (s) {
		s->op.fn = stats_fn;
		ret = vu_export_call(e, &s->op, VU_CTL_OP_TIMEOUT_MS);
	}
	if (ret) {
		json_object_object_add(o, "busy", json_object_new_boolean(true));
		return o;
	}
	if (s->op.ret) {
		json_object_object_add(o, "error", json_object_new_string(s->err));
		free(s);
		return o;
	}
	qs = json_object_new_array();
	for (int i = 0; i < s->n; i++) {
		struct vu_queue_stats *q = &s->q[i];
		struct json_object *j = json_object_new_object();

		json_object_object_add(j, "queue", json_object_new_int64(q->queue));
		json_object_object_add(j, "state",
				       json_object_new_string(vu_queue_state_name(q->state)));
		Q_COUNTER(j, q, reqs_in);
		Q_COUNTER(j, q, reqs_out);
		Q_COUNTER(j, q, reqs_flush);
		Q_COUNTER(j, q, reqs_get_id);
		Q_COUNTER(j, q, reqs_discard);
		Q_COUNTER(j, q, reqs_write_zeroes);
		Q_COUNTER(j, q, reqs_unsupp);
		Q_COUNTER(j, q, reqs_ioerr);
		Q_COUNTER(j, q, bytes_read);
		Q_COUNTER(j, q, bytes_written);
		Q_COUNTER(j, q, ring_errors);
		Q_COUNTER(j, q, inflight);
		Q_COUNTER(j, q, kicks);
		Q_COUNTER(j, q, calls);
		Q_COUNTER(j, q, last_avail_idx);
		json_object_array_add(qs, j);
	}
	json_object_object_add(o, "queues", qs);
	free(s);
	return o;
}

void vu_ctl_stats(struct vu_daemon *d, struct json_object *params, struct vu_ctl_reply *r)
{
	static const char *const keys[] = { "socket", NULL };
	struct json_object *arr;
	struct vu_export **all, *one;
	const char *socket = NULL;
	int n;

	if (!vu_ctl_params_only(params, keys, r))
		return;
	if (json_object_object_get_ex(params, "socket", NULL)) {
		socket = vu_ctl_param_string(params, "socket", r);
		if (!socket)
			return;
	}
	arr = json_object_new_array();
	if (socket) {
		one = vu_daemon_get(d, socket);
		if (!one) {
			json_object_put(arr);
			vu_ctl_fail(r, VU_RPC_FAILED, ENOENT, "no export on socket %s", socket);
			return;
		}
		json_object_array_add(arr, export_stats(one));
		vu_daemon_put(d, one);
	} else {
		n = vu_daemon_get_all(d, &all);
		for (int i = 0; i < n; i++) {
			json_object_array_add(arr, export_stats(all[i]));
			vu_daemon_put(d, all[i]);
		}
		if (n >= 0)
			free(all);
	}
	r->result = json_object_new_object();
	json_object_object_add(r->result, "exports", arr);
}

struct resize_op {
	struct vu_export_op op;
	uint64_t size, new_size;
	char err[256];
};

static void resize_fn(struct vu_export *e, struct vu_export_op *op)
{
	struct resize_op *s = (struct resize_op *)op;

	op->ret = vu_dev_resize(&e->dev, s->size, &s->new_size, s->err, sizeof(s->err));
}

void vu_ctl_resize(struct vu_daemon *d, struct json_object *params, struct vu_ctl_reply *r)
{
	static const char *const keys[] = { "socket", "size", NULL };
	struct json_object *v;
	struct resize_op *s;
	struct vu_export *e;
	const char *socket;
	int64_t size = 0;
	int ret;

	if (!vu_ctl_params_only(params, keys, r))
		return;
	socket = vu_ctl_param_string(params, "socket", r);
	if (!socket)
		return;
	if (json_object_object_get_ex(params, "size", &v)) {
		if (!json_object_is_type(v, json_type_int) || (size = json_object_get_int64(v)) <= 0) {
			vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
				    "parameter 'size': expected a positive number of bytes");
			return;
		}
	}
	e = vu_daemon_get(d, socket);
	if (!e) {
		vu_ctl_fail(r, VU_RPC_FAILED, ENOENT, "no export on socket %s", socket);
		return;
	}
	if (size % e->cfg.lbs) {
		vu_ctl_fail(r, VU_RPC_INVALID_PARAMS, 0,
			    "size %" PRId64 ": not a multiple of the %u-byte logical block size",
			    size, e->cfg.lbs);
		vu_daemon_put(d, e);
		return;
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		vu_ctl_fail(r, VU_RPC_FAILED, ENOMEM, "out of memory");
		vu_daemon_put(d, e);
		return;
	}
	s->op.fn = resize_fn;
	s->size = size;
	/* It may wait for the frontend's ack, as long as for one of its messages. */
	ret = vu_export_call(e, &s->op, VU_CTL_OP_TIMEOUT_MS + VU_MSG_TIMEOUT_MS);
	if (ret) {
		vu_ctl_fail(r, VU_RPC_FAILED, -ret, "socket %s: %s", socket, ret == -ETIMEDOUT ?
			    "busy: its thread did not get to the resize in time (a frontend's "
			    "message or the backing's I/O holds it up); it may still happen" :
			    "the export is gone");
	} else if (s->op.ret) {
		vu_ctl_fail(r, VU_RPC_FAILED, -s->op.ret, "socket %s: %s", socket, s->err);
		free(s);
	} else {
		r->result = json_object_new_object();
		json_object_object_add(r->result, "socket", json_object_new_string(socket));
		json_object_object_add(r->result, "size",
				       json_object_new_int64((int64_t)s->new_size));
		/* Resized, but the frontend was not (surely) told. */
		if (s->err[0]) {
			vlog("%s: resized to %" PRIu64 " bytes: %s", socket, s->new_size, s->err);
			json_object_object_add(r->result, "warning",
					       json_object_new_string(s->err));
		}
		vu_ctl_event_resize(socket, s->new_size);
		free(s);
	}
	vu_daemon_put(d, e);
}

static void on_event(void *ctx, enum vu_dev_event ev, uint32_t queue)
{
	struct vu_export *e = ctx;

	vu_ctl_event_queue(e->cfg.socket_path,
			   ev == VU_DEV_EV_RING_ERROR ? "ring-error" : "io-error", queue);
}

void vu_ctl_watch(struct vu_export *e)
{
	vu_dev_set_event_cb(&e->dev, on_event, e);
}
