// SPDX-License-Identifier: GPL-2.0
/*
 * vhu_genl_event_parse() (tools/vhuctl/genl.h) on messages built here as
 * vhu.ko builds its "events" notifications, and on malformed ones it
 * must refuse: another command, a missing attribute, a truncated message.
 * Needs no module; prints TAP.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include <netlink/genl/genl.h>
#include <netlink/msg.h>

#include <linux/vhu.h>

#include "../vhuctl/genl.h"
#include "tap.h"

/* Fields < 0 (or UINT64_MAX for the capacity) are left out. */
struct ev_spec {
	uint8_t cmd;
	int64_t event, dev, pid, queue;
	uint64_t capacity;
};

static struct nl_msg *build(const struct ev_spec *s)
{
	struct nl_msg *msg = nlmsg_alloc();

	if (!msg || !genlmsg_put(msg, 0, 0, 42, 0, 0, s->cmd, VHU_GENL_VERSION))
		return NULL;
	if ((s->event >= 0 && nla_put_u32(msg, VHU_ATTR_EVENT, s->event)) ||
	    (s->dev >= 0 && nla_put_u32(msg, VHU_ATTR_DEV_ID, s->dev)) ||
	    (s->pid >= 0 && nla_put_u32(msg, VHU_ATTR_OWNER_PID, s->pid)) ||
	    (s->queue >= 0 && nla_put_u32(msg, VHU_ATTR_QUEUE, s->queue)) ||
	    (s->capacity != UINT64_MAX &&
	     nla_put_u64(msg, VHU_ATTR_CAPACITY, s->capacity))) {
		nlmsg_free(msg);
		return NULL;
	}
	return msg;
}

/* Parse what @s builds, cut to @len bytes (0: whole). */
static int parse(const struct ev_spec *s, size_t cut, struct vhu_genl_event *ev)
{
	struct nl_msg *msg = build(s);
	struct nlmsghdr *nlh;
	size_t len;
	int ret;

	if (!msg)
		return -1000;
	nlh = nlmsg_hdr(msg);
	len = cut ? cut : nlh->nlmsg_len;
	ret = vhu_genl_event_parse(nlh, len, ev);
	nlmsg_free(msg);
	return ret;
}

int main(void)
{
	const uint64_t none = UINT64_MAX;
	struct vhu_genl_event ev;
	struct ev_spec s;
	int ret;

	s = (struct ev_spec){ VHU_CMD_EVENT, VHU_EVENT_CAPACITY, 3, 1234, -1,
			      64ULL << 30 };
	ret = parse(&s, 0, &ev);
	tap_ok(ret == 0 && ev.type == VHU_EVENT_CAPACITY && ev.dev_id == 3 &&
	       ev.owner_pid == 1234 && ev.queue == VHU_GENL_NO_QUEUE &&
	       ev.size == 64ULL << 30,
	       "genl: a capacity event: type, device, owner, no queue, size");

	s = (struct ev_spec){ VHU_CMD_EVENT, VHU_EVENT_IO_ERROR, 7, 0, 5, none };
	ret = parse(&s, 0, &ev);
	tap_ok(ret == 0 && ev.type == VHU_EVENT_IO_ERROR && ev.dev_id == 7 &&
	       ev.queue == 5 && ev.size == 0 && ev.owner_pid == 0,
	       "genl: an I/O error event carries its queue");

	s = (struct ev_spec){ VHU_CMD_EVENT, 99, 1, -1, -1, none };
	ret = parse(&s, 0, &ev);
	tap_ok(ret == 0 && ev.type == 99,
	       "genl: an event type of a newer module is passed on, not refused");

	s = (struct ev_spec){ VHU_CMD_GET_DEV, VHU_EVENT_RESET, 1, 1, -1, none };
	tap_ok(parse(&s, 0, &ev) == -EINVAL, "genl: another command is refused");

	s = (struct ev_spec){ VHU_CMD_EVENT, -1, 1, 1, -1, none };
	tap_ok(parse(&s, 0, &ev) == -EINVAL, "genl: no event type is refused");

	s = (struct ev_spec){ VHU_CMD_EVENT, VHU_EVENT_RESET, -1, 1, -1, none };
	tap_ok(parse(&s, 0, &ev) == -EINVAL, "genl: no device id is refused");

	s = (struct ev_spec){ VHU_CMD_EVENT, VHU_EVENT_RESET, 1, 1, -1, none };
	tap_ok(parse(&s, NLMSG_HDRLEN - 1, &ev) == -EINVAL &&
	       parse(&s, NLMSG_HDRLEN + 2, &ev) == -EINVAL,
	       "genl: a truncated message is refused");
	return tap_done();
}
