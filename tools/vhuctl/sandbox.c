// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: the export daemon's seccomp filter.
 *
 * Once every export is set up (the datapaths opened, /dev/vhu devices
 * owned, backings opened, sockets listening, privileges dropped), the
 * daemon only serves: it accepts frontends, exchanges vhost-user messages
 * and their fds, maps the memory they share, starts and stops threads,
 * and either issues ioctls to its /dev/vhu devices (kernel datapath) or
 * runs io_uring rings over its backings (userspace datapath). It opens no
 * file, makes no socket, forks and executes nothing.
 *
 * A system call outside the list is not allowed to kill the daemon: that
 * would take every export down with the one frontend that led a thread
 * astray. It fails with EPERM instead, which the caller reports as any
 * other error (that request, or that connection, fails), and the SIGSYS
 * handler logs its number, so a call the list misses shows up in the log
 * rather than as a dead daemon. A caller that ignores the error gains
 * nothing from it: the call was not made.
 *
 * clone3() fails with ENOSYS, as its flags are in memory a filter cannot
 * read: the C library then falls back to clone(), whose flags it can,
 * and only threads (CLONE_THREAD) are allowed. No mapping may be
 * executable. ioctl() is allowed with vhu's ioctl type only, for the
 * kernel datapath.
 *
 * io_uring operations are not system calls: a ring, once set up, can do
 * whatever its opcodes do (open files, connect sockets) without the
 * filter seeing it, and io_uring_setup() must stay allowed as the
 * userspace datapath sets a ring up for every queue a frontend starts.
 * The filter therefore confines the kernel datapath much more than the
 * userspace one; there it still keeps out every system call above.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ucontext.h>
#include <unistd.h>

#include <linux/vhu.h>
#include <seccomp.h>

#include "sandbox.h"
#include "util.h"

/* Both datapaths: the protocol server, threads, memory, the log. */
static const char *const common[] = {
	"read", "readv", "write", "writev", "close", "poll", "ppoll",
	"accept4", "recvmsg", "sendmsg", "recvfrom", "sendto",
	"setsockopt", "getsockopt", "shutdown",
	"eventfd2", "dup", "dup3", "fcntl", "fstat", "newfstatat", "statx",
	"lseek", "memfd_create", "ftruncate",
	"brk", "munmap", "mremap", "madvise",
	"futex", "set_robust_list", "rseq", "sched_yield", "getpid", "gettid",
	"getrandom", "clock_gettime", "clock_nanosleep", "nanosleep",
	"gettimeofday", "restart_syscall",
	"rt_sigprocmask", "rt_sigreturn", "sigaltstack", "exit", "exit_group",
	/* Whether an fd is an eventfd: /proc/self/fd/N (vu_vring.c). */
	"readlink", "readlinkat",
	/* pthread_getattr_np() of the C library asks for the thread's CPUs. */
	"sched_getaffinity",
	/* At exit: the sockets the daemon bound. */
	"unlink", "unlinkat",
};

/* The userspace datapath: io_uring, and the synchronous I/O calls. */
static const char *const user[] = {
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"fsync", "fdatasync", "fallocate", "pread64", "pwrite64",
	"preadv", "pwritev", "preadv2", "pwritev2",
};

static unsigned long refused;
static bool installed;

static int allow(scmp_filter_ctx ctx, const char *name, unsigned int ncmp,
		 const struct scmp_arg_cmp *cmp);

#if defined(__SANITIZE_ADDRESS__)
static bool sandboxed;

/*
 * The ASan build of the tests (make -C tools check-san): LeakSanitizer's
 * check at exit stops the world with a ptrace()ing tracer, which the
 * filter refuses, and dies of it. A process under the filter skips that
 * check; leaks in the daemon's message handling are the fuzz target's to
 * find (tools/fuzz), which runs them without a filter.
 */
int __lsan_is_turned_off(void);
int __lsan_is_turned_off(void)
{
	return __atomic_load_n(&sandboxed, __ATOMIC_RELAXED);
}

/*
 * A sanitizer report goes to its own file (log_path), which the runtime
 * creates when it has something to say: the ASan build's filter lets it,
 * with the flags it creates it with and no other (a test's open() of a
 * file to read is still refused), and lets it make the pipe it tests
 * memory with before printing it.
 */
static int allow_san(scmp_filter_ctx ctx)
{
	static const int create[] = {
		O_WRONLY | O_CREAT | O_TRUNC, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
	};
	int ret = allow(ctx, "pipe2", 0, NULL);

	for (size_t i = 0; i < ARRAY_SIZE(create) && !ret; i++) {
		const struct scmp_arg_cmp open_cmp = SCMP_A1(SCMP_CMP_EQ, create[i], 0);
		const struct scmp_arg_cmp openat_cmp = SCMP_A2(SCMP_CMP_EQ, create[i], 0);

		ret = allow(ctx, "open", 1, &open_cmp);
		ret = ret ?: allow(ctx, "openat", 1, &openat_cmp);
	}
	return ret;
}
#else
static int allow_san(scmp_filter_ctx ctx)
{
	(void)ctx;
	return 0;
}
#endif

/* Async-signal-safe: a decimal number into buf, which has room. */
static size_t put_num(char *buf, long v)
{
	char tmp[24];
	size_t n = 0, len = 0;
	unsigned long u = v < 0 ? -(unsigned long)v : (unsigned long)v;

	do {
		tmp[n++] = '0' + u % 10;
		u /= 10;
	} while (u);
	if (v < 0)
		buf[len++] = '-';
	while (n)
		buf[len++] = tmp[--n];
	return len;
}

static void on_sigsys(int sig, siginfo_t *si, void *ctx)
{
	static const char pre[] = "vhuctl: sandbox: refused system call ";
	static const char post[] = " (EPERM)\n";
	ucontext_t *uc = ctx;
	int saved = errno;
	char buf[96];
	size_t n = 0;

	(void)sig;
#if defined(__x86_64__)
	uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
	uc->uc_mcontext.regs[0] = -EPERM;
#else
	(void)uc;
#endif
	__atomic_add_fetch(&refused, 1, __ATOMIC_RELAXED);
	memcpy(buf, pre, sizeof(pre) - 1);
	n = sizeof(pre) - 1;
	n += put_num(buf + n, si->si_syscall);
	memcpy(buf + n, post, sizeof(post) - 1);
	n += sizeof(post) - 1;
	n = write(STDERR_FILENO, buf, n);
	errno = saved;
}

bool vu_sandbox_installed(void)
{
	return __atomic_load_n(&installed, __ATOMIC_RELAXED);
}

unsigned long vu_sandbox_refused(void)
{
	return __atomic_load_n(&refused, __ATOMIC_RELAXED);
}

/* Allow the call name (with cmp, if any); a name this architecture lacks is skipped. */
static int allow(scmp_filter_ctx ctx, const char *name, unsigned int ncmp,
		 const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);

	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, ncmp, cmp);
}

static int allow_list(scmp_filter_ctx ctx, const char *const *names, size_t n)
{
	int ret = 0;

	for (size_t i = 0; i < n && !ret; i++)
		ret = allow(ctx, names[i], 0, NULL);
	return ret;
}

static int build(scmp_filter_ctx ctx, unsigned int datapaths)
{
	const struct scmp_arg_cmp no_exec = SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	const struct scmp_arg_cmp thread = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD,
						   CLONE_THREAD);
	const struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)getpid(), 0);
	/* The C library's own signals for cancellation and set*id(), at the first thread. */
	const struct scmp_arg_cmp libc_sig[] = {
		SCMP_A0(SCMP_CMP_EQ, 32, 0), SCMP_A0(SCMP_CMP_EQ, 33, 0),
	};
	const struct scmp_arg_cmp bus = SCMP_A0(SCMP_CMP_EQ, SIGBUS, 0);
	const struct scmp_arg_cmp vhu = SCMP_A1(SCMP_CMP_MASKED_EQ, 0xff00,
						(scmp_datum_t)VHU_IOCTL_TYPE << 8);
	int ret;

	ret = allow_list(ctx, common, ARRAY_SIZE(common));
	ret = ret ?: allow(ctx, "mmap", 1, &no_exec);
	ret = ret ?: allow(ctx, "mprotect", 1, &no_exec);
	ret = ret ?: allow(ctx, "clone", 1, &thread);
	ret = ret ?: allow(ctx, "tgkill", 1, &self);
	ret = ret ?: allow(ctx, "rt_sigaction", 1, &libc_sig[0]);
	ret = ret ?: allow(ctx, "rt_sigaction", 1, &libc_sig[1]);
	/* The SIGBUS guard (vu_guard.h) restores the default for a fatal one. */
	ret = ret ?: allow(ctx, "rt_sigaction", 1, &bus);
	ret = ret ?: seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS),
				      seccomp_syscall_resolve_name("clone3"), 0);
	if (!ret && (datapaths & VU_SANDBOX_KERNEL))
		ret = allow(ctx, "ioctl", 1, &vhu);
	if (!ret && (datapaths & VU_SANDBOX_USER))
		ret = allow_list(ctx, user, ARRAY_SIZE(user));
	return ret ?: allow_san(ctx);
}

int vu_sandbox_install(unsigned int datapaths, char *err, size_t errlen)
{
#if defined(__x86_64__) || defined(__aarch64__)
	const uint32_t deny = SCMP_ACT_TRAP;
	struct sigaction sa;
#else
	const uint32_t deny = SCMP_ACT_ERRNO(EPERM);
#endif
	scmp_filter_ctx ctx;
	int ret;

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)) {
		ret = -errno;
		snprintf(err, errlen, "PR_SET_NO_NEW_PRIVS: %s", strerror(-ret));
		return ret;
	}
#if defined(__x86_64__) || defined(__aarch64__)
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGSYS, &sa, NULL)) {
		ret = -errno;
		snprintf(err, errlen, "SIGSYS handler: %s", strerror(-ret));
		return ret;
	}
#endif
	ctx = seccomp_init(deny);
	if (!ctx) {
		snprintf(err, errlen, "seccomp_init failed");
		return -ENOMEM;
	}
	ret = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, deny);
	ret = ret ?: seccomp_attr_set(ctx, SCMP_FLTATR_CTL_TSYNC, 1);
	ret = ret ?: build(ctx, datapaths);
	if (ret) {
		snprintf(err, errlen, "building the seccomp filter: %s", strerror(-ret));
		goto out;
	}
	ret = seccomp_load(ctx);
	if (ret)
		snprintf(err, errlen, "loading the seccomp filter: %s", strerror(-ret));
	else
		__atomic_store_n(&installed, true, __ATOMIC_RELAXED);
#if defined(__SANITIZE_ADDRESS__)
	if (!ret)
		__atomic_store_n(&sandboxed, true, __ATOMIC_RELAXED);
#endif
out:
	seccomp_release(ctx);
	return ret;
}
