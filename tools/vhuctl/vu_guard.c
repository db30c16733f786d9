// SPDX-License-Identifier: GPL-2.0
/*
 * vhuctl: containing faults in a frontend's shared memory (vu_guard.h).
 *
 * The table of mappings is a fixed array, so the SIGBUS handler can search
 * it without locks or allocation: a slot is in use while its owner is
 * set, which vu_guard_add() does last (release) and vu_guard_remove()
 * undoes first. Adding and removing take a mutex between themselves; the
 * handler only reads. The handler itself calls only async-signal-safe
 * functions (mmap(), write(), sigaction(), raise() are system calls).
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"
#include "vu_guard.h"

/*
 * Every export's regions twice over (a memory table is mapped before the
 * one it replaces goes), its inflight area and its dirty log (twice while
 * a new one replaces it), for the most exports one daemon serves, with
 * room to spare.
 */
#define GUARD_SLOTS 8192

struct guard_slot {
	uintptr_t start;
	size_t len;
	bool sealed;
	struct vu_guard *owner;	/* NULL: free */
};

static struct guard_slot slots[GUARD_SLOTS];
static unsigned int slots_used;	/* high-water mark the handler searches */
static pthread_mutex_t slots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t handler_once = PTHREAD_ONCE_INIT;
static int handler_err;

/* Fatal after all: the default action, at once or when the access retries. */
static void fatal(int sig, const siginfo_t *si)
{
	struct sigaction sa = { .sa_handler = SIG_DFL };

	sigemptyset(&sa.sa_mask);
	sigaction(sig, &sa, NULL);
	if (si->si_code <= 0)	/* sent by kill() or raise(): no retry */
		raise(sig);
}

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	unsigned int n = __atomic_load_n(&slots_used, __ATOMIC_ACQUIRE);
	int saved = errno;

	(void)uc;
	if (si->si_code <= 0) {
		fatal(sig, si);
		return;
	}
	for (unsigned int i = 0; i < n; i++) {
		struct guard_slot *s = &slots[i];
		struct vu_guard *g = __atomic_load_n(&s->owner, __ATOMIC_ACQUIRE);
		uint64_t one = 1;
		void *p;

		if (!g || a < s->start || a - s->start >= s->len)
			continue;
		/* The pages went away: zeroes in their place, for this thread. */
		p = mmap((void *)s->start, s->len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			break;
		if (!__atomic_exchange_n(&g->faulted, 1, __ATOMIC_ACQ_REL)) {
			__atomic_store_n(&g->fault_addr, a, __ATOMIC_RELAXED);
			__atomic_store_n(&g->fault_sealed, s->sealed, __ATOMIC_RELAXED);
		}
		if (g->fd >= 0 && write(g->fd, &one, sizeof(one)) < 0) {
			/* The counter is already set: the export will look. */
		}
		errno = saved;
		return;
	}
	fatal(sig, si);
	errno = saved;
}

static void install_handler(void)
{
	struct sigaction sa = { .sa_sigaction = on_sigbus, .sa_flags = SA_SIGINFO };

	sigemptyset(&sa.sa_mask);
	handler_err = sigaction(SIGBUS, &sa, NULL) ? -errno : 0;
}

int vu_guard_setup(void)
{
	pthread_once(&handler_once, install_handler);
	return handler_err;
}

int vu_guard_init(struct vu_guard *g)
{
	int ret;

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	ret = vu_guard_setup();
	if (ret)
		return ret;
	g->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return g->fd < 0 ? -errno : 0;
}

void vu_guard_fini(struct vu_guard *g)
{
	close_fd(&g->fd);
	g->faulted = 0;
	g->fault_addr = 0;
	g->fault_sealed = false;
}

int vu_guard_add(struct vu_guard *g, void *addr, size_t len, bool sealed)
{
	int ret = -ENOSPC;

	if (!g)
		return 0;
	pthread_mutex_lock(&slots_lock);
	for (unsigned int i = 0; i < GUARD_SLOTS; i++) {
		struct guard_slot *s = &slots[i];

		if (s->owner)
			continue;
		s->start = (uintptr_t)addr;
		s->len = len;
		s->sealed = sealed;
		__atomic_store_n(&s->owner, g, __ATOMIC_RELEASE);
		if (i >= slots_used)
			__atomic_store_n(&slots_used, i + 1, __ATOMIC_RELEASE);
		ret = 0;
		break;
	}
	pthread_mutex_unlock(&slots_lock);
	return ret;
}

void vu_guard_remove(void *addr)
{
	pthread_mutex_lock(&slots_lock);
	for (unsigned int i = 0; i < slots_used; i++) {
		struct guard_slot *s = &slots[i];

		if (s->owner && s->start == (uintptr_t)addr) {
			__atomic_store_n(&s->owner, NULL, __ATOMIC_RELEASE);
			break;
		}
	}
	pthread_mutex_unlock(&slots_lock);
}

bool vu_guard_faulted(const struct vu_guard *g)
{
	return g && __atomic_load_n(&g->faulted, __ATOMIC_ACQUIRE);
}

unsigned int vu_guard_count(void)
{
	unsigned int n = 0;

	pthread_mutex_lock(&slots_lock);
	for (unsigned int i = 0; i < slots_used; i++)
		n += !!slots[i].owner;
	pthread_mutex_unlock(&slots_lock);
	return n;
}
