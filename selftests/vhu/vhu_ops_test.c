// SPDX-License-Identifier: GPL-2.0
/*
 * vhu selftests for running a device as a service: VHU_SET_CAPACITY on a
 * backing that grew or shrank, the device's name (VHU_SET_NAME) and its
 * description over netlink (VHU_CMD_GET_DEV), what a process without
 * CAP_NET_ADMIN may see (its own devices only), and the "events"
 * multicast group.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/capability.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>
#include <netlink/netlink.h>

#include "kselftest_harness.h"
#include "backend.h"
#include "fixture.h"
#include "guest.h"

#define EV_WAIT_MS	10000

/* ---- netlink helpers ---- */

/* One VHU_CMD_GET_DEV answer. */
struct dev_desc {
	bool found;
	uint32_t id, pid, blk_size, num_queues, num_vrings;
	uint64_t capacity, features, acked, caps;
	int readonly;		/* -1: absent */
	char name[VHU_NAME_BYTES];	/* "" when absent */
	char backing[PATH_MAX];		/* "" when absent */
};

/* What a dump or request gathered: the device @want, and how many came. */
struct dev_ctx {
	uint32_t want;
	int msgs;
	struct dev_desc d;
};

static int dev_cb(struct nl_msg *msg, void *arg)
{
	struct dev_ctx *ctx = arg;
	struct nlattr *tb[VHU_ATTR_MAX + 1];
	struct dev_desc *d = &ctx->d;

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, VHU_ATTR_MAX, NULL) ||
	    !tb[VHU_ATTR_DEV_ID])
		return NL_SKIP;
	ctx->msgs++;
	if (nla_get_u32(tb[VHU_ATTR_DEV_ID]) != ctx->want)
		return NL_OK;
	memset(d, 0, sizeof(*d));
	d->found = true;
	d->id = ctx->want;
	d->readonly = -1;
#define U32(a, f) do { if (tb[a]) d->f = nla_get_u32(tb[a]); } while (0)
#define U64(a, f) do { if (tb[a]) d->f = nla_get_u64(tb[a]); } while (0)
	U32(VHU_ATTR_OWNER_PID, pid);
	U32(VHU_ATTR_BLK_SIZE, blk_size);
	U32(VHU_ATTR_NUM_QUEUES, num_queues);
	U32(VHU_ATTR_NUM_VRINGS, num_vrings);
	U64(VHU_ATTR_CAPACITY, capacity);
	U64(VHU_ATTR_FEATURES, features);
	U64(VHU_ATTR_ACKED_FEATURES, acked);
	U64(VHU_ATTR_CAPS, caps);
#undef U32
#undef U64
	if (tb[VHU_ATTR_READONLY])
		d->readonly = nla_get_u8(tb[VHU_ATTR_READONLY]);
	if (tb[VHU_ATTR_NAME])
		snprintf(d->name, sizeof(d->name), "%s",
			 nla_get_string(tb[VHU_ATTR_NAME]));
	if (tb[VHU_ATTR_BACKING])
		snprintf(d->backing, sizeof(d->backing), "%s",
			 nla_get_string(tb[VHU_ATTR_BACKING]));
	return NL_OK;
}

static struct nl_sock *nl_open(int *family)
{
	struct nl_sock *sk = nl_socket_alloc();

	if (!sk)
		return NULL;
	if (genl_connect(sk)) {
		nl_socket_free(sk);
		return NULL;
	}
	*family = genl_ctrl_resolve(sk, VHU_GENL_NAME);
	if (*family < 0) {
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

/*
 * Send @cmd (a dump with @dump) for device @id (no VHU_ATTR_DEV_ID in a
 * dump with @all) and run @cb on the answers: 0 or a -NLE_* code.
 */
static int nl_query(uint8_t cmd, bool dump, bool all, uint32_t id,
		    nl_recvmsg_msg_cb_t cb, void *arg)
{
	struct nl_msg *msg = nlmsg_alloc();
	struct nl_sock *sk;
	int family, ret = -NLE_FAILURE;

	sk = nl_open(&family);
	if (!sk || !msg)
		goto out;
	if (!genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
			 dump ? NLM_F_DUMP : 0, cmd, VHU_GENL_VERSION) ||
	    (!all && nla_put_u32(msg, VHU_ATTR_DEV_ID, id)))
		goto out;
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, cb, arg);
	ret = nl_send_auto(sk, msg);
	if (ret >= 0)
		ret = nl_recvmsgs_default(sk);
	if (ret > 0)
		ret = 0;
out:
	nlmsg_free(msg);
	if (sk)
		nl_socket_free(sk);
	return ret;
}

/* VHU_CMD_GET_DEV for device @id, as a request or (@dump) a whole dump. */
static int get_dev(uint32_t id, bool dump, struct dev_ctx *ctx)
{
	memset(ctx, 0, sizeof(*ctx));
	ctx->want = id;
	return nl_query(VHU_CMD_GET_DEV, dump, dump, id, dev_cb, ctx);
}

static int count_cb(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[VHU_ATTR_MAX + 1];
	int *n = arg;

	if (!genlmsg_parse(nlmsg_hdr(msg), 0, tb, VHU_ATTR_MAX, NULL))
		(*n)++;
	return NL_OK;
}

/* Messages of a VHU_CMD_GET_STATS dump of device @id: >= 0 or -NLE_*. */
static int stats_msgs(uint32_t id)
{
	int n = 0, ret = nl_query(VHU_CMD_GET_STATS, true, false, id,
				  count_cb, &n);

	return ret ? ret : n;
}

static uint32_t dev_id(int fd)
{
	struct vhu_dev_info info;

	if (ioctl(fd, VHU_GET_DEV_INFO, &info))
		return UINT32_MAX;
	return info.dev_id;
}

/* One received notification. */
struct event {
	uint32_t type, dev, queue, pid;
	uint64_t capacity;
	bool has_queue, has_capacity;
};

struct ev_ctx {
	struct event ev[64];
	int n;
};

static int ev_cb(struct nl_msg *msg, void *arg)
{
	struct genlmsghdr *gh = nlmsg_data(nlmsg_hdr(msg));
	struct nlattr *tb[VHU_ATTR_MAX + 1];
	struct ev_ctx *ctx = arg;
	struct event *e;

	if (gh->cmd != VHU_CMD_EVENT ||
	    genlmsg_parse(nlmsg_hdr(msg), 0, tb, VHU_ATTR_MAX, NULL) ||
	    !tb[VHU_ATTR_EVENT] || !tb[VHU_ATTR_DEV_ID] ||
	    ctx->n == (int)(sizeof(ctx->ev) / sizeof(ctx->ev[0])))
		return NL_SKIP;
	e = &ctx->ev[ctx->n++];
	memset(e, 0, sizeof(*e));
	e->type = nla_get_u32(tb[VHU_ATTR_EVENT]);
	e->dev = nla_get_u32(tb[VHU_ATTR_DEV_ID]);
	if (tb[VHU_ATTR_OWNER_PID])
		e->pid = nla_get_u32(tb[VHU_ATTR_OWNER_PID]);
	e->has_queue = tb[VHU_ATTR_QUEUE];
	if (e->has_queue)
		e->queue = nla_get_u32(tb[VHU_ATTR_QUEUE]);
	e->has_capacity = tb[VHU_ATTR_CAPACITY];
	if (e->has_capacity)
		e->capacity = nla_get_u64(tb[VHU_ATTR_CAPACITY]);
	return NL_OK;
}

/* A member of the "events" group: 0 or a -NLE_* code. */
static int ev_open(struct nl_sock **skp, struct ev_ctx *ctx)
{
	struct nl_sock *sk = nl_socket_alloc();
	int grp, ret;

	*skp = NULL;
	if (!sk)
		return -NLE_NOMEM;
	ret = genl_connect(sk);
	if (ret)
		goto err;
	grp = genl_ctrl_resolve_grp(sk, VHU_GENL_NAME, VHU_MCGRP_EVENTS);
	if (grp < 0) {
		ret = grp;
		goto err;
	}
	nl_socket_disable_seq_check(sk);
	nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM, ev_cb, ctx);
	ret = nl_socket_add_membership(sk, grp);
	if (ret)
		goto err;
	*skp = sk;
	return 0;
err:
	nl_socket_free(sk);
	return ret;
}

/*
 * Wait at most @ms for an event of @type about @dev (queue @queue unless
 * it is -1); the events before it are consumed. Return: its index in
 * @ctx->ev, or -1.
 */
static int ev_wait(struct nl_sock *sk, struct ev_ctx *ctx, uint32_t type,
		   uint32_t dev, int queue, int ms)
{
	struct pollfd p = { .fd = nl_socket_get_fd(sk), .events = POLLIN };
	int i, from = 0;

	for (;;) {
		for (i = from; i < ctx->n; i++)
			if (ctx->ev[i].type == type && ctx->ev[i].dev == dev &&
			    (queue < 0 || (ctx->ev[i].has_queue &&
					   ctx->ev[i].queue == (uint32_t)queue)))
				return i;
		from = ctx->n;
		if (poll(&p, 1, ms) != 1)
			return -1;
		if (nl_recvmsgs_default(sk) < 0)
			return -1;
	}
}

/* The events received within @ms: stops at the first quiet @ms. */
static void ev_drain(struct nl_sock *sk, int ms)
{
	struct pollfd p = { .fd = nl_socket_get_fd(sk), .events = POLLIN };

	while (poll(&p, 1, ms) == 1)
		if (nl_recvmsgs_default(sk) < 0)
			break;
}

/* ---- a device on a temporary file, without a guest ---- */

struct raw {
	int vhu;
	int file;
	char path[64];
};

static int raw_up(struct raw *r, uint64_t bytes, uint32_t blk_size)
{
	struct vhu_backend be = { .config.blk_size = blk_size };

	r->vhu = -1;
	strcpy(r->path, "/tmp/vhu-ops-XXXXXX");
	r->file = mkstemp(r->path);
	if (r->file < 0)
		return -errno;
	if (ftruncate(r->file, bytes))
		return -errno;
	r->vhu = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	if (r->vhu < 0)
		return -errno;
	if (ioctl(r->vhu, VHU_SET_OWNER))
		return -errno;
	be.fd = r->file;
	if (ioctl(r->vhu, VHU_SET_BACKEND, &be))
		return -errno;
	return 0;
}

static void raw_down(struct raw *r)
{
	if (r->vhu >= 0)
		close(r->vhu);
	if (r->file >= 0) {
		close(r->file);
		unlink(r->path);
	}
}

static int set_capacity(int fd, uint64_t sectors)
{
	return ioctl(fd, VHU_SET_CAPACITY, &sectors) ? -errno : 0;
}

static int set_name(int fd, const struct vhu_name *n)
{
	return ioctl(fd, VHU_SET_NAME, n) ? -errno : 0;
}

/* Run @fn in a child; its exit status, or 255. */
static int in_child(int (*fn)(void *), void *arg)
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn(arg));
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 255;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* Drop every capability, staying uid 0: 0 or -1. */
static int drop_caps(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { 0 };

	return syscall(SYS_capset, &hdr, data) ? -1 : 0;
}

/* ---- VHU_SET_CAPACITY ---- */

TEST(capacity_api_bit)
{
	struct vhu_api api;
	int fd;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH);
	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, VHU_GET_API, &api));
	EXPECT_TRUE(api.features & VHU_API_F_CAPACITY);
	EXPECT_TRUE(api.features & VHU_API_F_DEV_INFO);
	EXPECT_TRUE(api.features & VHU_API_F_EVENTS);
	EXPECT_EQ(VHU_API_F_ALL, api.features);
	close(fd);
}

FIXTURE(cap) {
	struct guest g;
	struct backend b;
};

FIXTURE_SETUP(cap)
{
	const struct guest_cfg cfg = { .kind = B_FILE, .nq = 1 };

	guest_up(_metadata, &self->g, &self->b, &cfg);
}

FIXTURE_TEARDOWN(cap)
{
	guest_down(&self->g, &self->b);
}

/*
 * The backing file grows: a read beyond the old end fails until the
 * capacity follows, then succeeds; shrinking fails it again.
 */
TEST_F(cap, grow_and_shrink)
{
	static uint8_t buf[4096];
	struct vhu_dev_info info;
	struct g_stats s;

	ASSERT_EQ(0, ftruncate(self->b.fd, 2 * DISK_BYTES));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  g_do(&self->g, 0, VIRTIO_BLK_T_IN, DISK_SECTORS, buf,
		       sizeof(buf), NULL));
	ASSERT_EQ(0, set_capacity(self->g.vhu, 2 * DISK_SECTORS));
	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_GET_DEV_INFO, &info));
	EXPECT_EQ(2 * DISK_SECTORS, info.config.capacity);
	memset(buf, 0xaa, sizeof(buf));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  g_do(&self->g, 0, VIRTIO_BLK_T_IN, DISK_SECTORS, buf,
		       sizeof(buf), NULL));
	EXPECT_EQ(0, buf[0]);
	EXPECT_EQ(0, buf[sizeof(buf) - 1]);
	/* The last block of the new capacity, and a write there. */
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  g_do(&self->g, 0, VIRTIO_BLK_T_OUT, 2 * DISK_SECTORS - 8, buf,
		       sizeof(buf), NULL));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  g_do(&self->g, 0, VIRTIO_BLK_T_IN, 2 * DISK_SECTORS, buf,
		       sizeof(buf), NULL));

	/* Shrink back: the old end fails again, what is left still works. */
	ASSERT_EQ(0, set_capacity(self->g.vhu, DISK_SECTORS));
	EXPECT_EQ(VIRTIO_BLK_S_IOERR,
		  g_do(&self->g, 0, VIRTIO_BLK_T_IN, DISK_SECTORS, buf,
		       sizeof(buf), NULL));
	EXPECT_EQ(VIRTIO_BLK_S_OK,
		  g_do(&self->g, 0, VIRTIO_BLK_T_IN, DISK_SECTORS - 8, buf,
		       sizeof(buf), NULL));
	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	EXPECT_EQ(3, s.reqs_ioerr);
	/* The file shrinks below the capacity: only a smaller one is taken. */
	ASSERT_EQ(0, ftruncate(self->b.fd, DISK_BYTES / 2));
	EXPECT_EQ(-EINVAL, set_capacity(self->g.vhu, DISK_SECTORS));
	EXPECT_EQ(0, set_capacity(self->g.vhu, DISK_SECTORS / 2));
}

TEST(capacity_invalid)
{
	struct vhu_dev_info info;
	struct raw r;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH);
	ASSERT_EQ(0, raw_up(&r, 1 << 20, 4096));
	EXPECT_EQ(-EINVAL, set_capacity(r.vhu, 0));
	/* Not a multiple of the 4096-byte logical block. */
	EXPECT_EQ(-EINVAL, set_capacity(r.vhu, 1));
	EXPECT_EQ(-EINVAL, set_capacity(r.vhu, 7));
	EXPECT_EQ(-EINVAL, set_capacity(r.vhu, 2048 - 4));
	/* Beyond the backing, and values whose byte count overflows. */
	EXPECT_EQ(-EINVAL, set_capacity(r.vhu, 2048 + 8));
	EXPECT_EQ(-EINVAL, set_capacity(r.vhu, 1ULL << 55));
	EXPECT_EQ(-EINVAL, set_capacity(r.vhu, UINT64_MAX & ~7ULL));
	EXPECT_EQ(-EFAULT, ioctl(r.vhu, VHU_SET_CAPACITY, NULL) ? -errno : 0);
	ASSERT_EQ(0, ioctl(r.vhu, VHU_GET_DEV_INFO, &info));
	EXPECT_EQ(2048, info.config.capacity);
	EXPECT_EQ(0, set_capacity(r.vhu, 8));
	EXPECT_EQ(0, set_capacity(r.vhu, 2048));
	raw_down(&r);
}

TEST(capacity_no_backend)
{
	uint64_t sectors = 8;
	int fd;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH);
	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_CAPACITY, &sectors));
	EXPECT_EQ(EPERM, errno);
	ASSERT_EQ(0, ioctl(fd, VHU_SET_OWNER));
	EXPECT_EQ(-1, ioctl(fd, VHU_SET_CAPACITY, &sectors));
	EXPECT_EQ(ENODEV, errno);
	close(fd);
}

/* ---- VHU_SET_NAME and VHU_CMD_GET_DEV ---- */

TEST(dev_info)
{
	struct vhu_name n = { .name = "/run/vhu/disk0.sock" };
	char real[PATH_MAX];
	struct dev_ctx ctx;
	uint64_t features;
	struct raw r;
	uint32_t id;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH);
	ASSERT_EQ(0, raw_up(&r, 1 << 20, 0));
	id = dev_id(r.vhu);
	ASSERT_EQ(0, set_name(r.vhu, &n));
	ASSERT_EQ(0, ioctl(r.vhu, VHU_GET_FEATURES, &features));
	ASSERT_EQ(0, ioctl(r.vhu, VHU_SET_FEATURES, &features));
	ASSERT_NE(NULL, realpath(r.path, real));

	ASSERT_EQ(0, get_dev(id, false, &ctx));
	ASSERT_TRUE(ctx.d.found);
	EXPECT_EQ(1, ctx.msgs);
	EXPECT_EQ((uint32_t)getpid(), ctx.d.pid);
	EXPECT_STREQ("/run/vhu/disk0.sock", ctx.d.name);
	EXPECT_STREQ(real, ctx.d.backing);
	EXPECT_EQ(1 << 20, ctx.d.capacity);
	EXPECT_EQ(512, ctx.d.blk_size);
	EXPECT_EQ(0, ctx.d.readonly);
	EXPECT_EQ(features, ctx.d.features);
	EXPECT_EQ(features, ctx.d.acked);
	EXPECT_TRUE(ctx.d.caps & VHU_CAP_WRITE);
	EXPECT_EQ(1, ctx.d.num_queues);
	EXPECT_EQ(0, ctx.d.num_vrings);

	/* The dump has it too, with the same answer. */
	ASSERT_EQ(0, get_dev(id, true, &ctx));
	ASSERT_TRUE(ctx.d.found);
	EXPECT_LE(1, ctx.msgs);
	EXPECT_STREQ("/run/vhu/disk0.sock", ctx.d.name);
	EXPECT_EQ(1 << 20, ctx.d.capacity);

	/* A new capacity shows. */
	ASSERT_EQ(0, set_capacity(r.vhu, 1024));
	ASSERT_EQ(0, get_dev(id, false, &ctx));
	EXPECT_EQ(1024 * 512, ctx.d.capacity);

	/* An empty name clears it. */
	memset(&n, 0, sizeof(n));
	ASSERT_EQ(0, set_name(r.vhu, &n));
	ASSERT_EQ(0, get_dev(id, false, &ctx));
	EXPECT_STREQ("", ctx.d.name);

	/* The reset forgets the name, the backend and the owner. */
	strcpy((char *)n.name, "x");
	ASSERT_EQ(0, set_name(r.vhu, &n));
	ASSERT_EQ(0, ioctl(r.vhu, VHU_RESET_OWNER));
	ASSERT_EQ(0, get_dev(id, false, &ctx));
	EXPECT_STREQ("", ctx.d.name);
	EXPECT_STREQ("", ctx.d.backing);
	EXPECT_EQ(0, ctx.d.pid);
	EXPECT_EQ(-1, ctx.d.readonly);
	raw_down(&r);

	/* Gone with the close. */
	EXPECT_EQ(-NLE_OBJ_NOTFOUND, get_dev(id, false, &ctx));
	ASSERT_EQ(0, get_dev(id, true, &ctx));
	EXPECT_FALSE(ctx.d.found);
}

/*
 * A backing path of nearly PATH_MAX bytes: the request answers with it,
 * and the dump still lists the device, whether its buffer holds the
 * path or not.
 */
TEST(dev_info_long_path)
{
	char seg[201];
	struct vhu_backend be = { 0 };
	struct dev_ctx ctx;
	int dir, next, file, fd, i;
	uint32_t id;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH);
	memset(seg, 'd', sizeof(seg) - 1);
	seg[sizeof(seg) - 1] = 0;
	dir = open("/tmp", O_DIRECTORY | O_RDONLY);
	ASSERT_LE(0, dir);
	ASSERT_EQ(0, mkdirat(dir, "vhu-ops-long", 0700));
	next = openat(dir, "vhu-ops-long", O_DIRECTORY | O_RDONLY);
	close(dir);
	dir = next;
	/* 19 levels of 201 bytes: a path of about 3840 bytes. */
	for (i = 0; i < 19; i++) {
		ASSERT_EQ(0, mkdirat(dir, seg, 0700));
		next = openat(dir, seg, O_DIRECTORY | O_RDONLY);
		ASSERT_LE(0, next);
		close(dir);
		dir = next;
	}
	file = openat(dir, "disk", O_RDWR | O_CREAT, 0600);
	ASSERT_LE(0, file);
	ASSERT_EQ(0, ftruncate(file, 1 << 20));
	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, VHU_SET_OWNER));
	be.fd = file;
	ASSERT_EQ(0, ioctl(fd, VHU_SET_BACKEND, &be));
	id = dev_id(fd);

	ASSERT_EQ(0, get_dev(id, false, &ctx));
	EXPECT_LT(3800, strlen(ctx.d.backing));
	EXPECT_EQ(0, strcmp(ctx.d.backing + strlen(ctx.d.backing) - 5, "/disk"));
	ASSERT_EQ(0, get_dev(id, true, &ctx));
	EXPECT_TRUE(ctx.d.found);
	EXPECT_EQ(1 << 20, ctx.d.capacity);
	TH_LOG("the dump %s the path", ctx.d.backing[0] ? "had" : "left out");

	close(fd);
	close(file);
	ASSERT_EQ(0, unlinkat(dir, "disk", 0));
	/* Back up, removing each level. */
	for (i = 0; i < 19; i++) {
		next = openat(dir, "..", O_DIRECTORY | O_RDONLY);
		ASSERT_LE(0, next);
		close(dir);
		dir = next;
		ASSERT_EQ(0, unlinkat(dir, seg, AT_REMOVEDIR));
	}
	close(dir);
	EXPECT_EQ(0, rmdir("/tmp/vhu-ops-long"));
}

TEST(name_invalid)
{
	struct vhu_name n;
	struct dev_ctx ctx;
	int fd;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH);
	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	memset(&n, 0, sizeof(n));
	strcpy((char *)n.name, "ok");
	/* An owner is needed. */
	EXPECT_EQ(-EPERM, set_name(fd, &n));
	ASSERT_EQ(0, ioctl(fd, VHU_SET_OWNER));
	ASSERT_EQ(0, set_name(fd, &n));

	/* Not terminated. */
	memset(n.name, 'a', sizeof(n.name));
	EXPECT_EQ(-EINVAL, set_name(fd, &n));
	/* The longest name that is. */
	n.name[VHU_NAME_BYTES - 1] = 0;
	EXPECT_EQ(0, set_name(fd, &n));
	/* Not printable. */
	memset(&n, 0, sizeof(n));
	strcpy((char *)n.name, "a\nb");
	EXPECT_EQ(-EINVAL, set_name(fd, &n));
	n.name[1] = 0x7f;
	EXPECT_EQ(-EINVAL, set_name(fd, &n));
	/* Not padded. */
	memset(&n, 0, sizeof(n));
	strcpy((char *)n.name, "a");
	n.name[10] = 'b';
	EXPECT_EQ(-EINVAL, set_name(fd, &n));
	/* Reserved. */
	memset(&n, 0, sizeof(n));
	n.reserved[1] = 1;
	EXPECT_EQ(-EINVAL, set_name(fd, &n));
	EXPECT_EQ(-EFAULT, ioctl(fd, VHU_SET_NAME, NULL) ? -errno : 0);

	/* The refused ones left the last good name. */
	ASSERT_EQ(0, get_dev(dev_id(fd), false, &ctx));
	EXPECT_EQ(VHU_NAME_BYTES - 1, strlen(ctx.d.name));
	close(fd);
}

/* ---- without CAP_NET_ADMIN ---- */

/*
 * Child: own a device, drop every capability, then read: its own device
 * is there (request, dumps), @arg's (the parent's) is not, and the events
 * group refuses it. Exit 0 if so, else the number of the failed check.
 */
static int unprivileged_reader(void *arg)
{
	uint32_t other = *(uint32_t *)arg, mine;
	struct vhu_vring_state num = { .index = 0, .num = 8 };
	struct nl_sock *sk;
	struct ev_ctx ev;
	struct dev_ctx ctx;
	struct raw r;

	if (raw_up(&r, 1 << 20, 0))
		return 100;
	if (ioctl(r.vhu, VHU_SET_VRING_NUM, &num))
		return 101;
	mine = dev_id(r.vhu);
	if (drop_caps())
		return 102;
	if (get_dev(mine, false, &ctx) || !ctx.d.found ||
	    ctx.d.pid != (uint32_t)getpid())
		return 1;
	if (get_dev(other, false, &ctx) != -NLE_PERM)
		return 2;
	if (get_dev(other, true, &ctx) || ctx.d.found)
		return 3;
	if (get_dev(mine, true, &ctx) || !ctx.d.found || ctx.msgs != 1)
		return 4;
	if (stats_msgs(mine) != 1)
		return 5;
	if (stats_msgs(other) != 0)
		return 6;
	if (ev_open(&sk, &ev) != -NLE_PERM)
		return 7;
	raw_down(&r);
	return 0;
}

TEST(own_devices_without_cap)
{
	struct vhu_vring_state num = { .index = 0, .num = 8 };
	struct raw r;
	uint32_t id;

	if (!vhu_present())
		SKIP(return, "no " VHU_DEVICE_PATH);
	ASSERT_EQ(0, raw_up(&r, 1 << 20, 0));
	ASSERT_EQ(0, ioctl(r.vhu, VHU_SET_VRING_NUM, &num));
	id = dev_id(r.vhu);
	EXPECT_EQ(0, in_child(unprivileged_reader, &id));
	/* With the capability, the parent sees its device as before. */
	EXPECT_EQ(1, stats_msgs(id));
	raw_down(&r);
}

/* ---- the "events" group ---- */

FIXTURE(ev) {
	struct guest g;
	struct backend b;
	struct nl_sock *sk;
	struct ev_ctx ctx;
	uint32_t id;
};

FIXTURE_SETUP(ev)
{
	const struct guest_cfg cfg = { .kind = B_FILE, .nq = 2 };

	self->sk = NULL;
	if (!guest_up(_metadata, &self->g, &self->b, &cfg))
		return;
	self->id = dev_id(self->g.vhu);
	memset(&self->ctx, 0, sizeof(self->ctx));
	ASSERT_EQ(0, ev_open(&self->sk, &self->ctx));
}

FIXTURE_TEARDOWN(ev)
{
	if (self->sk)
		nl_socket_free(self->sk);
	guest_down(&self->g, &self->b);
}

TEST_F(ev, capacity_io_error_reset_release)
{
	static uint8_t buf[4096];
	struct event *e;
	int i;

	ASSERT_EQ(0, ftruncate(self->b.fd, 2 * DISK_BYTES));
	ASSERT_EQ(0, set_capacity(self->g.vhu, 2 * DISK_SECTORS));
	i = ev_wait(self->sk, &self->ctx, VHU_EVENT_CAPACITY, self->id, -1,
		    EV_WAIT_MS);
	ASSERT_LE(0, i);
	e = &self->ctx.ev[i];
	EXPECT_TRUE(e->has_capacity);
	EXPECT_EQ(2 * DISK_BYTES, e->capacity);
	EXPECT_EQ((uint32_t)getpid(), e->pid);

	ASSERT_EQ(VIRTIO_BLK_S_IOERR,
		  g_do(&self->g, 1, VIRTIO_BLK_T_IN, 2 * DISK_SECTORS, buf,
		       sizeof(buf), NULL));
	EXPECT_LE(0, ev_wait(self->sk, &self->ctx, VHU_EVENT_IO_ERROR,
			     self->id, 1, EV_WAIT_MS));

	ASSERT_EQ(0, ioctl(self->g.vhu, VHU_RESET_OWNER));
	i = ev_wait(self->sk, &self->ctx, VHU_EVENT_RESET, self->id, -1,
		    EV_WAIT_MS);
	ASSERT_LE(0, i);
	EXPECT_EQ((uint32_t)getpid(), self->ctx.ev[i].pid);

	g_close(&self->g);
	EXPECT_LE(0, ev_wait(self->sk, &self->ctx, VHU_EVENT_RELEASE, self->id,
			     -1, EV_WAIT_MS));
}

TEST_F(ev, ring_error)
{
	g_publish(&self->g, 1, G_NUM + 1);	/* a head out of range */
	g_kick(&self->g, 1, true);
	ASSERT_EQ(1, g_wait_err(&self->g, 1, EV_WAIT_MS));
	EXPECT_LE(0, ev_wait(self->sk, &self->ctx, VHU_EVENT_RING_ERROR,
			     self->id, 1, EV_WAIT_MS));
}

/*
 * A burst of I/O errors: each is counted, but at most
 * VHU_EVENT_IO_ERROR_BURST notifications come within
 * VHU_EVENT_IO_ERROR_INTERVAL_MS.
 */
TEST_F(ev, io_error_rate_limited)
{
	static uint8_t buf[4096];
	struct timespec t0, t1;
	struct g_stats s;
	int i, n = 0;
	long ms;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 4 * VHU_EVENT_IO_ERROR_BURST; i++)
		ASSERT_EQ(VIRTIO_BLK_S_IOERR,
			  g_do(&self->g, 0, VIRTIO_BLK_T_IN, DISK_SECTORS, buf,
			       sizeof(buf), NULL));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	/* The notifications are sent before the requests complete. */
	ev_drain(self->sk, 0);
	for (i = 0; i < self->ctx.n; i++)
		n += self->ctx.ev[i].type == VHU_EVENT_IO_ERROR &&
		     self->ctx.ev[i].dev == self->id;
	ASSERT_EQ(0, g_stats(&self->g, 0, &s));
	EXPECT_EQ(4 * VHU_EVENT_IO_ERROR_BURST, s.reqs_ioerr);
	EXPECT_LE(1, n);
	/* Each interval the burst took lets VHU_EVENT_IO_ERROR_BURST more. */
	EXPECT_GE(VHU_EVENT_IO_ERROR_BURST *
		  (1 + ms / VHU_EVENT_IO_ERROR_INTERVAL_MS), n);
	TH_LOG("%d notifications for %d I/O errors in %ld ms", n,
	       4 * VHU_EVENT_IO_ERROR_BURST, ms);
}

TEST_HARNESS_MAIN
