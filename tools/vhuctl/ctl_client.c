// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the control socket's client side (ctl_client.h).
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "ctl.h"
#include "ctl_client.h"
#include "export_opts.h"
#include "log.h"

/* How long a reply may take: the daemon answers within its own deadlines. */
#define CTL_REPLY_TIMEOUT_MS	15000

void ctl_client_init(struct ctl_client *c, const struct vhuctl_cmd *cmd)
{
	memset(c, 0, sizeof(*c));
	c->cmd = cmd;
	c->control = VU_CTL_DEFAULT_PATH;
	c->fd = -1;
}

int ctl_client_opt(struct ctl_client *c, int opt, const char *arg)
{
	if (opt == OPT_CONTROL) {
		c->control = arg;
		return -1;
	}
	if (opt == OPT_JSON) {
		c->json = true;
		return -1;
	}
	return -2;
}

static int ctl_connect(struct ctl_client *c)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };

	if (c->fd >= 0)
		return 0;
	if (strlen(c->control) >= sizeof(sa.sun_path)) {
		usage_error(c->cmd, "--control %s: too long", c->control);
		return EXIT_USAGE;
	}
	strcpy(sa.sun_path, c->control);
	c->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		verr("control socket %s: %s%s", c->control, strerror(errno),
		     errno == ENOENT || errno == ECONNREFUSED ?
		     " (is vhuctl daemon running? --control names its socket)" : "");
		if (c->fd >= 0)
			close(c->fd);
		c->fd = -1;
		return EXIT_FAIL;
	}
	return 0;
}

static int send_line(struct ctl_client *c, const char *line, const int *fds, unsigned int nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * VU_CTL_MAX_FDS)];
	} cbuf;
	size_t len = strlen(line), off = 0;
	char *msgbuf = malloc(len + 1);

	if (!msgbuf)
		return -1;
	memcpy(msgbuf, line, len);
	msgbuf[len++] = '\n';
	while (off < len) {
		struct iovec iov = { .iov_base = msgbuf + off, .iov_len = len - off };
		struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
		ssize_t n;

		if (!off && nfds) {
			struct cmsghdr *cm;

			memset(&cbuf, 0, sizeof(cbuf));
			msg.msg_control = cbuf.buf;
			msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			cm = CMSG_FIRSTHDR(&msg);
			cm->cmsg_level = SOL_SOCKET;
			cm->cmsg_type = SCM_RIGHTS;
			cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
		}
		n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(msgbuf);
			return -1;
		}
		off += n;
	}
	free(msgbuf);
	return 0;
}

/* One line into a JSON object, waiting up to ms (-1: for ever). */
static struct json_object *read_line(struct ctl_client *c, int ms)
{
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		struct pollfd p = { .fd = c->fd, .events = POLLIN };
		ssize_t n;

		if (nl) {
			struct json_object *o;

			*nl = '\0';
			o = json_tokener_parse(c->buf);
			c->len -= nl + 1 - c->buf;
			memmove(c->buf, nl + 1, c->len);
			if (!o || !json_object_is_type(o, json_type_object)) {
				json_object_put(o);
				verr("control socket %s: a reply that is no JSON object", c->control);
				return NULL;
			}
			return o;
		}
		if (c->len == sizeof(c->buf)) {
			verr("control socket %s: a reply line too long", c->control);
			return NULL;
		}
		n = poll(&p, 1, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			verr("control socket %s: no reply within %d s", c->control, ms / 1000);
			return NULL;
		}
		n = read(c->fd, c->buf + c->len, sizeof(c->buf) - c->len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n < 0 || c->len)
				verr("control socket %s: %s", c->control,
				     n < 0 ? strerror(errno) : "the daemon closed the connection");
			return NULL;
		}
		c->len += n;
	}
}

int ctl_call(struct ctl_client *c, const char *method, struct json_object *params,
	     const int *fds, unsigned int nfds, struct json_object **result)
{
	struct json_object *req = json_object_new_object(), *rep, *err, *v;
	int ret;

	*result = NULL;
	json_object_object_add(req, "jsonrpc", json_object_new_string("2.0"));
	json_object_object_add(req, "id", json_object_new_int(1));
	json_object_object_add(req, "method", json_object_new_string(method));
	json_object_object_add(req, "params", params ? params : json_object_new_object());
	ret = ctl_connect(c);
	if (!ret && send_line(c, json_object_to_json_string_ext(req, JSON_C_TO_STRING_PLAIN |
			      JSON_C_TO_STRING_NOSLASHESCAPE), fds, nfds)) {
		verr("control socket %s: %s", c->control, strerror(errno));
		ret = EXIT_FAIL;
	}
	json_object_put(req);
	if (ret)
		return ret;
	rep = read_line(c, CTL_REPLY_TIMEOUT_MS);
	if (!rep) {
		if (!c->len)
			verr("control socket %s: no reply", c->control);
		return EXIT_FAIL;
	}
	if (json_object_object_get_ex(rep, "error", &err)) {
		int code = (int)ctl_int(err, "code");

		if (c->json)
			ctl_print_json(rep);
		else if (code == VU_RPC_INVALID_PARAMS)
			usage_error(c->cmd, "%s", ctl_str(err, "message"));
		else
			verr("%s", ctl_str(err, "message"));
		json_object_put(rep);
		return code == VU_RPC_INVALID_PARAMS ? EXIT_USAGE : EXIT_FAIL;
	}
	if (!json_object_object_get_ex(rep, "result", &v)) {
		verr("control socket %s: a reply without a result", c->control);
		json_object_put(rep);
		return EXIT_FAIL;
	}
	*result = json_object_get(v);
	json_object_put(rep);
	return EXIT_OK;
}

struct json_object *ctl_next(struct ctl_client *c)
{
	return read_line(c, -1);
}

void ctl_client_close(struct ctl_client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

void ctl_print_json(struct json_object *o)
{
	printf("%s\n", json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
						       JSON_C_TO_STRING_NOSLASHESCAPE));
}

bool ctl_abs_socket(struct ctl_client *c, const char *path, char *out, size_t size)
{
	char dir[PATH_MAX], res[PATH_MAX];
	const char *slash = strrchr(path, '/');
	const char *base = slash ? slash + 1 : path;

	if (!slash)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == path)
		snprintf(dir, sizeof(dir), "/");
	else
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - path), path);
	if (!*base) {
		usage_error(c->cmd, "--socket '%s': no file name", path);
		return false;
	}
	if (!realpath(dir, res)) {
		/* A directory yet to make (vhuctl add makes /run/vhu): as given. */
		if (path[0] == '/' && errno == ENOENT) {
			snprintf(out, size, "%s", path);
			return strlen(path) < size;
		}
		verr("--socket %s: %s: %s", path, dir, strerror(errno));
		return false;
	}
	if ((size_t)snprintf(out, size, "%s%s%s", res, strcmp(res, "/") ? "/" : "", base) >= size) {
		usage_error(c->cmd, "--socket '%s': longer than %zu bytes as an absolute path",
			    path, size - 1);
		return false;
	}
	return true;
}

const char *ctl_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return "";
	return json_object_get_string(v);
}

long long ctl_int(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	return json_object_get_int64(v);
}

bool ctl_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !v)
		return false;
	return json_object_get_boolean(v);
}
