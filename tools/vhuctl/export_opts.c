// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: an export's options (export_opts.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "export_opts.h"
#include "util.h"

int vu_parse_uint(const char *opt, const char *s, unsigned int min,
		  unsigned int max, unsigned int *out, char *err, size_t errlen)
{
	char *end;
	unsigned long v;

	errno = 0;
	/* Decimal only: "010" is ten, not eight. */
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
		snprintf(err, errlen, "%s '%s': expected a number from %u to %u",
			    opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

/* --socket-mode: octal read and write bits (execute means nothing on a socket). */
static int parse_mode(const char *opt, const char *s, mode_t *out, char *err,
		      size_t errlen)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 8);
	if (errno || end == s || *end || *s == '-' || *s == '+' || v & ~0666ul) {
		snprintf(err, errlen, "%s '%s': expected an octal mode of read and write bits "
			    "(at most 0666)", opt, s);
		return -1;
	}
	if (!(v & 0600)) {
		snprintf(err, errlen, "%s '%s': the owner needs read and write", opt, s);
		return -1;
	}
	*out = v;
	return 0;
}

/* Apply one option to a group; 0, or -1 after printing the error. */
int vu_export_apply(struct vu_export_group *g, int opt, const char *name,
		    const char *arg, char *err, size_t errlen)
{
	struct vu_export_cfg *c = &g->cfg;
	unsigned int v;

	switch (opt) {
	case OPT_SOCKET:
		if (!*arg || strlen(arg) >= sizeof(c->socket_path)) {
			snprintf(err, errlen, "--socket '%s': empty or longer than %zu bytes",
				    arg, sizeof(c->socket_path) - 1);
			return -1;
		}
		strcpy(c->socket_path, arg);
		break;
	case OPT_BACKING:
		if (!*arg || strlen(arg) >= sizeof(c->backing)) {
			snprintf(err, errlen, "--backing '%s': empty or too long", arg);
			return -1;
		}
		strcpy(c->backing, arg);
		break;
	case OPT_READONLY:
		c->readonly = true;
		break;
	case OPT_DIRECT:
		c->direct = true;
		break;
	case OPT_FORCE_SHARE:
		c->force_share = true;
		break;
	case OPT_PIN_MEMORY:
		c->pin_memory = true;
		break;
	case OPT_BUSY_POLL:
		if (vu_parse_uint(name, arg, 0, VHU_MAX_BUSY_POLL_US, &v, err, errlen))
			return -1;
		c->busy_poll_us = v;
		break;
	case OPT_QUEUES:
		if (vu_parse_uint(name, arg, 1, VHU_MAX_QUEUES, &v, err, errlen))
			return -1;
		c->queues = v;
		break;
	case OPT_QUEUE_SIZE:
		if (vu_parse_uint(name, arg, 2, VHU_MAX_VRING_NUM, &v, err, errlen))
			return -1;
		if (v & (v - 1)) {
			snprintf(err, errlen, "%s %u: not a power of 2", name, v);
			return -1;
		}
		c->queue_size = v;
		break;
	case OPT_SERIAL:
		if (strlen(arg) > 20) {
			snprintf(err, errlen, "%s '%s': longer than 20 bytes", name, arg);
			return -1;
		}
		for (const char *p = arg; *p; p++)
			if (*p < 0x20 || *p > 0x7e) {
				snprintf(err, errlen, "%s: only printable ASCII", name);
				return -1;
			}
		strcpy(c->serial, arg);
		break;
	case OPT_LBS:
		if (vu_parse_uint(name, arg, 512, 4096, &v, err, errlen))
			return -1;
		if (v != 512 && v != 4096) {
			snprintf(err, errlen, "%s %u: must be 512 or 4096", name, v);
			return -1;
		}
		c->lbs = v;
		break;
	case OPT_HANDSHAKE_TIMEOUT:
		/* Seconds from connecting to SET_OWNER; 0: no limit. */
		if (vu_parse_uint(name, arg, 0, 3600, &v, err, errlen))
			return -1;
		c->handshake_timeout_ms = v ? v * 1000 : VU_HANDSHAKE_NONE;
		break;
	case OPT_DATAPATH:
		if (!strcmp(arg, "auto"))
			c->mode = VU_DP_AUTO;
		else if (!strcmp(arg, "kernel"))
			c->mode = VU_DP_KERNEL;
		else if (!strcmp(arg, "user"))
			c->mode = VU_DP_USER;
		else {
			snprintf(err, errlen, "%s '%s': expected auto, kernel or user",
				    name, arg);
			return -1;
		}
		break;
	case OPT_SOCKET_MODE:
		if (parse_mode(name, arg, &g->sock.mode, err, errlen))
			return -1;
		break;
	case OPT_SOCKET_GROUP:
		if (vu_lookup_group(arg, &g->sock.gid)) {
			snprintf(err, errlen, "%s '%s': no such group", name, arg);
			return -1;
		}
		g->sock.has_gid = true;
		break;
	case OPT_FD:
		if (*arg >= '0' && *arg <= '9') {
			if (vu_parse_uint(name, arg, 0, INT_MAX, &v, err, errlen))
				return -1;
			g->sock.fd = v;
			g->sock.has_fd = true;
		} else if (!*arg || strlen(arg) >= sizeof(g->fd_name) || strchr(arg, ':')) {
			snprintf(err, errlen, "%s '%s': expected a number or a socket's name", name, arg);
			return -1;
		} else {
			strcpy(g->fd_name, arg);
		}
		break;
	}
	g->set |= 1u << opt;
	return 0;
}

const struct vu_export_key vu_export_keys[] = {
	{ "socket", OPT_SOCKET, true },
	{ "backing", OPT_BACKING, true },
	{ "readonly", OPT_READONLY, false },
	{ "queues", OPT_QUEUES, true },
	{ "queue-size", OPT_QUEUE_SIZE, true },
	{ "direct", OPT_DIRECT, false },
	{ "serial", OPT_SERIAL, true },
	{ "logical-block-size", OPT_LBS, true },
	{ "datapath", OPT_DATAPATH, true },
	{ "handshake-timeout", OPT_HANDSHAKE_TIMEOUT, true },
	{ "force-share", OPT_FORCE_SHARE, false },
	{ "pin-memory", OPT_PIN_MEMORY, false },
	{ "busy-poll", OPT_BUSY_POLL, true },
	{ "socket-mode", OPT_SOCKET_MODE, true },
	{ "socket-group", OPT_SOCKET_GROUP, true },
	{ "fd", OPT_FD, true },
	{ NULL, 0, false }
};

const struct vu_export_key *vu_export_key(const char *key)
{
	for (const struct vu_export_key *k = vu_export_keys; k->key; k++)
		if (!strcmp(k->key, key))
			return k;
	return NULL;
}

int vu_export_check_datapath(const struct vu_export_cfg *c, bool kernel,
			     char *err, size_t errlen)
{
	/* The daemon's queue threads wait in io_uring, which has no such knob. */
	if (c->busy_poll_us && !kernel) {
		snprintf(err, errlen, "--busy-poll %u: only the kernel datapath polls, "
			 "and this export has the userspace one%s", c->busy_poll_us,
			 c->mode == VU_DP_USER ? " (--datapath user)" : "");
		return -1;
	}
	return 0;
}

/* --export socket=...,backing=...: one complete group. */
int vu_export_word(struct vu_export_group *g, const char *word, char *err,
		   size_t errlen)
{
	char *dup = strdup(word), *save = NULL, *tok;
	int ret = 0;

	if (!dup) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (tok = strtok_r(dup, ",", &save); tok && !ret;
	     tok = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(tok, '=');
		const struct vu_export_key *k;

		if (eq)
			*eq = '\0';
		k = vu_export_key(tok);
		if (!k) {
			snprintf(err, errlen, "--export: unknown key '%s'", tok);
			ret = -1;
		} else if (k->has_arg != !!eq) {
			snprintf(err, errlen, "--export: key '%s' %s", tok,
				    k->has_arg ? "needs a value" : "takes no value");
			ret = -1;
		} else if (g->set & (1u << k->opt)) {
			snprintf(err, errlen, "--export: key '%s' given twice", tok);
			ret = -1;
		} else {
			ret = vu_export_apply(g, k->opt, tok, eq ? eq + 1 : NULL, err, errlen);
		}
	}
	free(dup);
	return ret;
}

/*
 * QEMU's vhost-user-blk asks for one queue per vCPU unless told otherwise,
 * and refuses a backend that offers fewer: offer one per host CPU, up to
 * 16 (each queue is a worker thread, also when the guest leaves it idle).
 */
#define EXPORT_DEFAULT_QUEUES_MAX	16

void vu_export_defaults(struct vu_export_group *g)
{
	/* Read once: the control socket's exports come after the sandbox. */
	static long ncpu;

	if (!__atomic_load_n(&ncpu, __ATOMIC_RELAXED))
		__atomic_store_n(&ncpu, sysconf(_SC_NPROCESSORS_ONLN) ?: -1, __ATOMIC_RELAXED);

	memset(g, 0, sizeof(*g));
	g->cfg.queues = ncpu < 1 ? 1 : ncpu > EXPORT_DEFAULT_QUEUES_MAX ?
			EXPORT_DEFAULT_QUEUES_MAX : ncpu;
	/* Any ring a frontend asks for: crosvm's are this large by default. */
	g->cfg.queue_size = VHU_MAX_VRING_NUM;
	g->cfg.lbs = 512;
	g->cfg.mode = VU_DP_AUTO;
	g->cfg.backing_fd = -1;
}

