/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The export daemon's control socket (ctl.c): JSON-RPC 2.0, one message
 * per line, on a UNIX stream socket; fds come with SCM_RIGHTS. The
 * protocol is in Documentation/vhuctl.rst, "Control socket".
 */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct vu_ctl;
struct vu_daemon;
struct vu_export;
struct json_object;

/* The default path of the control socket. */
#define VU_CTL_DEFAULT_PATH	"/run/vhu/control.sock"

/* The longest request line, newline excluded. */
#define VU_CTL_LINE_MAX		65536
/* The most fds one request may carry. */
#define VU_CTL_MAX_FDS		4

/* JSON-RPC 2.0's error codes, and the one for a failed operation. */
#define VU_RPC_PARSE_ERROR	-32700
#define VU_RPC_INVALID_REQUEST	-32600
#define VU_RPC_NO_METHOD	-32601
#define VU_RPC_INVALID_PARAMS	-32602
#define VU_RPC_FAILED		-32000

/*
 * How long an operation waits for the export's own thread (list, stats,
 * resize): a busy export is reported as such after it.
 */
#define VU_CTL_OP_TIMEOUT_MS	2000

/*
 * Make the control socket at path (mode 0600, given to the daemon's
 * --user), before the privileges are dropped: NULL after a log line.
 */
struct vu_ctl *vu_ctl_open(struct vu_daemon *d, const char *path);
/* The listening fd, for the main loop; vu_ctl_accept() when readable. */
int vu_ctl_fd(const struct vu_ctl *c);
void vu_ctl_accept(struct vu_ctl *c);
/* Stop taking clients and tell the connections to end; unlink. NULL ok. */
void vu_ctl_stop(struct vu_ctl *c);
/*
 * Wait (bounded) for the connections to end, then free c: false if one
 * is still busy (it may hold an export: leave them to the exit). NULL ok.
 */
bool vu_ctl_close(struct vu_ctl *c);

/* The events of the monitor: from any thread, never blocking. */
void vu_ctl_event_add(const char *socket);
void vu_ctl_event_remove(const char *socket);
void vu_ctl_event_connect(const char *socket, pid_t pid);
void vu_ctl_event_disconnect(const char *socket, const char *reason);
void vu_ctl_event_resize(const char *socket, uint64_t size);
/* "ring-error" or "io-error" on a queue. */
void vu_ctl_event_queue(const char *socket, const char *event, uint32_t queue);

/*
 * A method's outcome: 0 with *result set, or a JSON-RPC error code with
 * the message in err and, if not 0, the errno for error.data.
 */
struct vu_ctl_reply {
	struct json_object *result;
	int code;
	int err_no;
	char err[512];
};

/*
 * params has only members named in keys (NULL-terminated): else false
 * with -32602 in r.
 */
bool vu_ctl_params_only(struct json_object *params, const char *const *keys,
			struct vu_ctl_reply *r);
/* params' string member key, required: NULL with -32602 in r if not. */
const char *vu_ctl_param_string(struct json_object *params, const char *key,
				struct vu_ctl_reply *r);
/* Set r to the error code with a message. */
void vu_ctl_fail(struct vu_ctl_reply *r, int code, int err_no, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* ctl_admin.c: the methods on an export's counters and capacity. */
void vu_ctl_stats(struct vu_daemon *d, struct json_object *params, struct vu_ctl_reply *r);
void vu_ctl_resize(struct vu_daemon *d, struct json_object *params, struct vu_ctl_reply *r);
/* An export starts: its datapath's events reach the monitor. */
void vu_ctl_watch(struct vu_export *e);

#endif
