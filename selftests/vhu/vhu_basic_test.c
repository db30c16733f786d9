// SPDX-License-Identifier: GPL-2.0
/*
 * vhu basic selftests: module load and unload, /dev/vhu open and close,
 * the ioctl ABI edges, the generic netlink family, and who may open.
 *
 * Runs as root with vhu.ko loaded. VHU_KO names the module file for the
 * load/unload test (skipped without it). Exits 4 (skip) without /dev/vhu.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>
#include <linux/capability.h>
#include <linux/vhu.h>

#include <netlink/genl/ctrl.h>
#include <netlink/genl/family.h>
#include <netlink/genl/genl.h>

#include "kselftest_harness.h"

/*
 * The generic netlink family "vhu", looked up by name: its id, or a
 * negative error. A lookup by name makes the kernel load the module that
 * provides the family (MODULE_ALIAS_GENL_FAMILY) when it is installed.
 */
static int vhu_genl_family(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int id;

	if (!sk)
		return -ENOMEM;
	if (genl_connect(sk)) {
		nl_socket_free(sk);
		return -ENOTCONN;
	}
	id = genl_ctrl_resolve(sk, VHU_GENL_NAME);
	nl_socket_free(sk);
	return id;
}

/*
 * Is "vhu" among the registered families? A dump of them all
 * (CTRL_CMD_GETFAMILY with NLM_F_DUMP), searched here: unlike a lookup by
 * name, it never loads a module. 1 or 0, or a negative error.
 */
static int vhu_genl_listed(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	struct nl_cache *families = NULL;
	struct genl_family *f;
	int ret;

	if (!sk)
		return -ENOMEM;
	ret = genl_connect(sk);
	if (!ret)
		ret = genl_ctrl_alloc_cache(sk, &families);
	nl_socket_free(sk);
	if (ret)
		return ret < 0 ? ret : -EIO;
	f = genl_ctrl_search_by_name(families, VHU_GENL_NAME);
	if (f)
		genl_family_put(f);
	nl_cache_free(families);
	return !!f;
}

TEST(open_close)
{
	int fds[8], i, round;

	for (round = 0; round < 50; round++) {
		for (i = 0; i < 8; i++) {
			fds[i] = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
			ASSERT_LE(0, fds[i]) TH_LOG("open: %s", strerror(errno));
		}
		for (i = 0; i < 8; i++)
			ASSERT_EQ(0, close(fds[i]));
	}
}

/* /dev/vhu has the fixed minor that its autoload alias names. */
TEST(fixed_minor)
{
	struct stat st;

	ASSERT_EQ(0, stat(VHU_DEVICE_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(10U, major(st.st_rdev));
	EXPECT_EQ((unsigned int)VHU_DEVICE_MINOR, minor(st.st_rdev));
}

/*
 * The module names its node and its device number, so that devtmpfs makes
 * /dev/vhu at boot and opening it loads the module.
 */
TEST(module_aliases)
{
	const char *ko = getenv("VHU_KO");
	char cmd[PATH_MAX + 64], line[256], want[32];
	bool devname = false, chardev = false;
	FILE *p;

	if (!ko || access(ko, R_OK))
		SKIP(return, "VHU_KO does not name the module file");
	snprintf(cmd, sizeof(cmd), "modinfo -F alias '%s'", ko);
	snprintf(want, sizeof(want), "char-major-10-%d", VHU_DEVICE_MINOR);
	p = popen(cmd, "r");
	ASSERT_NE(NULL, p);
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = 0;
		devname |= !strcmp(line, "devname:" VHU_DEVICE_NAME);
		chardev |= !strcmp(line, want);
	}
	EXPECT_EQ(0, pclose(p));
	EXPECT_TRUE(devname);
	EXPECT_TRUE(chardev);
}

TEST(unknown_ioctl_is_enotty)
{
	unsigned int cmds[] = {
		_IO(VHU_IOCTL_TYPE, 0xff),
		_IOW(VHU_IOCTL_TYPE, 0x7f, __u64),
		_IOR(VHU_IOCTL_TYPE, 0x80, __u32),	/* GET_API, wrong size */
		_IO(0xAF, 0x01),			/* VHOST_SET_OWNER */
		0x5401,					/* TCGETS */
	};
	unsigned long long buf[16] = { 0 };
	unsigned int i;
	int fd;

	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, ioctl(fd, cmds[i], buf)) TH_LOG("cmd %#x", cmds[i]);
		EXPECT_EQ(ENOTTY, errno) TH_LOG("cmd %#x", cmds[i]);
	}
	close(fd);
}

TEST(get_api)
{
	struct vhu_api api;
	unsigned int i;
	int fd;

	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	memset(&api, 0xa5, sizeof(api));
	ASSERT_EQ(0, ioctl(fd, VHU_GET_API, &api));
	EXPECT_EQ(0U, api.features & ~VHU_API_F_ALL);
	EXPECT_NE(0U, api.features & VHU_API_F_GENL);
	for (i = 0; i < sizeof(api.reserved) / sizeof(api.reserved[0]); i++)
		EXPECT_EQ(0U, api.reserved[i]);
	errno = 0;
	EXPECT_EQ(-1, ioctl(fd, VHU_GET_API, NULL));
	EXPECT_EQ(EFAULT, errno);
	close(fd);
}

struct version_reply {
	int parsed;
	char version[64];
	__u64 features;
	__u64 virtio_features;
	__u32 max_mem_regions;
};

static int version_cb(struct nl_msg *msg, void *arg)
{
	struct version_reply *r = arg;
	struct nlattr *tb[VHU_ATTR_MAX + 1];

	if (genlmsg_parse(nlmsg_hdr(msg), 0, tb, VHU_ATTR_MAX, NULL))
		return NL_SKIP;
	if (!tb[VHU_ATTR_VERSION] || !tb[VHU_ATTR_API_FEATURES] ||
	    !tb[VHU_ATTR_VIRTIO_FEATURES] || !tb[VHU_ATTR_MAX_MEM_REGIONS])
		return NL_SKIP;
	snprintf(r->version, sizeof(r->version), "%s",
		 nla_get_string(tb[VHU_ATTR_VERSION]));
	r->features = nla_get_u64(tb[VHU_ATTR_API_FEATURES]);
	r->virtio_features = nla_get_u64(tb[VHU_ATTR_VIRTIO_FEATURES]);
	r->max_mem_regions = nla_get_u32(tb[VHU_ATTR_MAX_MEM_REGIONS]);
	r->parsed = 1;
	return NL_OK;
}

TEST(genl_version)
{
	struct version_reply r = { 0 };
	struct nl_sock *sk;
	struct nl_msg *msg;
	struct vhu_api api;
	int family, fd;

	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	ASSERT_EQ(0, ioctl(fd, VHU_GET_API, &api));
	close(fd);

	sk = nl_socket_alloc();
	ASSERT_NE(NULL, sk);
	ASSERT_EQ(0, genl_connect(sk));
	family = genl_ctrl_resolve(sk, VHU_GENL_NAME);
	ASSERT_LT(0, family) TH_LOG("family %s not found", VHU_GENL_NAME);

	msg = nlmsg_alloc();
	ASSERT_NE(NULL, msg);
	ASSERT_NE(NULL, genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
				    0, VHU_CMD_GET_VERSION, VHU_GENL_VERSION));
	ASSERT_LE(0, nl_send_auto(sk, msg));
	nlmsg_free(msg);
	ASSERT_EQ(0, nl_socket_modify_cb(sk, NL_CB_VALID, NL_CB_CUSTOM,
					 version_cb, &r));
	ASSERT_LE(0, nl_recvmsgs_default(sk));
	ASSERT_EQ(0, nl_wait_for_ack(sk));
	ASSERT_TRUE(r.parsed);
	EXPECT_LT(0, (int)strlen(r.version));
	EXPECT_EQ(api.features, r.features);
	EXPECT_EQ(api.virtio_features, r.virtio_features);
	EXPECT_EQ(api.max_mem_regions, r.max_mem_regions);
	TH_LOG("module version %s, API features %#llx", r.version,
	       (unsigned long long)r.features);

	/* A command the family does not have is refused, not ignored. */
	msg = nlmsg_alloc();
	ASSERT_NE(NULL, msg);
	ASSERT_NE(NULL, genlmsg_put(msg, NL_AUTO_PORT, NL_AUTO_SEQ, family, 0,
				    NLM_F_ACK, VHU_CMD_MAX + 10,
				    VHU_GENL_VERSION));
	ASSERT_LE(0, nl_send_auto(sk, msg));
	nlmsg_free(msg);
	EXPECT_GT(0, nl_wait_for_ack(sk));
	nl_socket_free(sk);
}

/* Run fn in a child; return the child's exit status (or 255 on a signal). */
static int in_child(int (*fn)(void))
{
	int status;
	pid_t pid = fork();

	if (pid == 0)
		_exit(fn());
	if (pid < 0 || waitpid(pid, &status, 0) != pid)
		return 255;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

/* Child: drop to nobody and try to open. Exit 0 if refused with EACCES. */
static int open_as_nobody(void)
{
	int fd;

	if (setgroups(0, NULL) || setresgid(65534, 65534, 65534) ||
	    setresuid(65534, 65534, 65534))
		return 2;
	fd = open(VHU_DEVICE_PATH, O_RDWR);
	if (fd >= 0)
		return 1;
	return errno == EACCES ? 0 : 3;
}

/*
 * Child: stay uid 0 but drop every capability, and make the node
 * world-accessible through a copy of it, so only the module's own check
 * stands. Exit 0 if refused with EPERM.
 */
static int open_without_cap(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2] = { 0 };
	struct stat st;
	char node[] = "/dev/shm/vhu-node-XXXXXX";
	int fd, tmp;

	if (stat(VHU_DEVICE_PATH, &st))
		return 2;
	tmp = mkstemp(node);
	if (tmp < 0)
		return 2;
	close(tmp);
	unlink(node);
	if (mknod(node, S_IFCHR | 0666, st.st_rdev))
		return 2;
	if (syscall(SYS_capset, &hdr, data)) {
		unlink(node);
		return 2;
	}
	fd = open(node, O_RDWR);
	unlink(node);
	if (fd >= 0)
		return 1;
	return errno == EPERM ? 0 : 3;
}

TEST(non_root_refused)
{
	struct stat st;

	ASSERT_EQ(0, stat(VHU_DEVICE_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0600U, st.st_mode & 07777);
	EXPECT_EQ(0U, st.st_uid);
	EXPECT_EQ(0, in_child(open_as_nobody));
	EXPECT_EQ(0, in_child(open_without_cap));
}

static int delete_vhu(void)
{
	return syscall(SYS_delete_module, "vhu", O_NONBLOCK);
}

static int load_vhu(const char *ko)
{
	int fd = open(ko, O_RDONLY | O_CLOEXEC);
	int ret;

	if (fd < 0)
		return -1;
	ret = syscall(SYS_finit_module, fd, "", 0);
	close(fd);
	return ret;
}

TEST(load_unload)
{
	const char *ko = getenv("VHU_KO");
	int fd, round;

	if (!ko || access(ko, R_OK))
		SKIP(return, "VHU_KO does not name the module file");

	/* An open device pins the module. */
	fd = open(VHU_DEVICE_PATH, O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, fd);
	errno = 0;
	EXPECT_EQ(-1, delete_vhu());
	EXPECT_TRUE(errno == EWOULDBLOCK || errno == EBUSY)
		TH_LOG("delete_module with an open device: %s", strerror(errno));
	close(fd);

	for (round = 0; round < 3; round++) {
		ASSERT_EQ(0, delete_vhu()) TH_LOG("unload: %s", strerror(errno));
		EXPECT_EQ(-1, access(VHU_DEVICE_PATH, F_OK));
		/* Where vhu.ko is installed, a lookup by name would load it. */
		EXPECT_EQ(0, vhu_genl_listed());

		ASSERT_EQ(0, load_vhu(ko)) TH_LOG("load: %s", strerror(errno));
		EXPECT_EQ(0, access(VHU_DEVICE_PATH, F_OK));
		EXPECT_LT(0, vhu_genl_family());
		EXPECT_EQ(1, vhu_genl_listed());
	}
	/* A second load of the same module is refused. */
	errno = 0;
	EXPECT_EQ(-1, load_vhu(ko));
	EXPECT_EQ(EEXIST, errno);
}

int main(int argc, char **argv)
{
	if (access(VHU_DEVICE_PATH, F_OK))
		ksft_exit_skip("%s is absent: vhu.ko is not loaded\n",
			       VHU_DEVICE_PATH);
	return test_harness_run(argc, argv);
}
