// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: the guest memory table.
 *
 * Guest-physical addresses found in descriptors are translated into
 * addresses of the owner's address space through a sorted table of
 * regions. The table is read under RCU and replaced as a whole: a request
 * takes a reference on the table it translated with, and a replacement
 * waits for the old table's references to drop before it returns, so once
 * VHU_SET_MEM_TABLE or VHU_DEL_MEM_REGION returns no request uses a removed
 * region any more.
 *
 * This file only builds, checks and installs tables. Whether a new table
 * still holds every enabled vring's rings is the vrings' business: the
 * ioctls build a table here, check it in vring.c, then install it here.
 */

#include <linux/err.h>
#include <linux/overflow.h>
#include <linux/slab.h>
#include <linux/sort.h>
#include <linux/uaccess.h>
#include <linux/wait_bit.h>

#include "vhu.h"

static struct vhu_mem_table *vhu_mem_alloc(u32 nregions)
{
	struct vhu_mem_table *t;

	t = kvzalloc(struct_size(t, regions, nregions),
		     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!t)
		return NULL;
	refcount_set(&t->refs, 1);
	t->nregions = nregions;
	return t;
}

static int vhu_mem_region_check(const struct vhu_mem_region *r)
{
	u64 end;

	if (r->reserved || !r->memory_size)
		return -EINVAL;
	if (check_add_overflow(r->guest_phys_addr, r->memory_size - 1, &end) ||
	    check_add_overflow(r->userspace_addr, r->memory_size - 1, &end))
		return -EINVAL;
	if (!access_ok(u64_to_user_ptr(r->userspace_addr), r->memory_size))
		return -EFAULT;
	return 0;
}

static int vhu_mem_cmp(const void *a, const void *b)
{
	const struct vhu_mem_region *ra = a, *rb = b;

	if (ra->guest_phys_addr < rb->guest_phys_addr)
		return -1;
	return ra->guest_phys_addr > rb->guest_phys_addr;
}

/* Sort the regions and refuse overlaps. */
static int vhu_mem_sort_check(struct vhu_mem_table *t)
{
	u32 i;

	sort(t->regions, t->nregions, sizeof(t->regions[0]), vhu_mem_cmp, NULL);
	for (i = 1; i < t->nregions; i++) {
		const struct vhu_mem_region *p = &t->regions[i - 1];

		if (p->guest_phys_addr + p->memory_size - 1 >=
		    t->regions[i].guest_phys_addr)
			return -EEXIST;
	}
	return 0;
}

/* Free a table and drop its regions' pins. Context: process context. */
static void vhu_mem_free(struct vhu_mem_table *t)
{
	u32 i;

	if (t->pins) {
		for (i = 0; i < t->nregions; i++)
			vhu_pin_put(t->pins[i]);
		kvfree(t->pins);
	}
	kvfree(t);
}

/**
 * vhu_mem_put() - drop a reference on a memory table
 * @t: the table, may be NULL
 *
 * The last reference frees the table, and unpins the pages of regions
 * no other table holds (VHU_MEM_F_PIN).
 *
 * Context: process context.
 */
void vhu_mem_put(struct vhu_mem_table *t)
{
	int old;

	if (!t)
		return;
	if (__refcount_dec_and_test(&t->refs, &old)) {
		vhu_mem_free(t);
		return;
	}
	/*
	 * vhu_mem_replace() may wait for the count to drop to 1, the
	 * device's reference: only the put that dropped it there wakes it
	 * (one wake-up per table replaced, not one per request).
	 */
	if (old != 2)
		return;
	/*
	 * The drop before the waiter's check of the count. @t may be gone
	 * once it is dropped: wake_up_var() only hashes the address.
	 */
	smp_mb__after_atomic();
	wake_up_var(t);
}

/**
 * vhu_mem_get() - take a reference on the current memory table
 * @dev: the device
 *
 * Context: any context.
 * Return: the table, or NULL if there is none.
 */
struct vhu_mem_table *vhu_mem_get(struct vhu_dev *dev)
{
	struct vhu_mem_table *t;

	rcu_read_lock();
	t = rcu_dereference(dev->mem);
	if (t)
		refcount_inc(&t->refs);
	rcu_read_unlock();
	return t;
}

/**
 * vhu_mem_present() - whether the device has a memory table
 * @dev: the device
 *
 * Context: process context, holds @dev->mutex.
 * Return: true if a table (maybe empty) was set.
 */
bool vhu_mem_present(struct vhu_dev *dev)
{
	lockdep_assert_held(&dev->mutex);
	return rcu_access_pointer(dev->mem);
}

/**
 * vhu_mem_replace() - install a new memory table
 * @dev: the device
 * @t: the new table, or NULL to drop the current one
 *
 * @killable: stop waiting on a fatal signal
 *
 * Returns once no request uses the old table any more (the owner may
 * unmap its regions then), and frees it. Requests hold the old table for
 * as long as the backend takes: with @killable a fatal signal ends the
 * wait, the new table stays installed, and the last request frees the
 * old one.
 *
 * Context: process context, holds @dev->mutex; may sleep until requests
 * using the old table completed.
 * Return: 0, or -EINTR if killed while requests still used the old table.
 */
int vhu_mem_replace(struct vhu_dev *dev, struct vhu_mem_table *t, bool killable)
{
	struct vhu_mem_table *old;
	int ret = 0;

	lockdep_assert_held(&dev->mutex);

	old = rcu_replace_pointer(dev->mem, t, lockdep_is_held(&dev->mutex));
	if (!old)
		return 0;
	/* Readers that found @old have taken their reference by now. */
	synchronize_rcu();
	/* The device's reference is ours: wait until it is the last one. */
	if (killable) {
		if (wait_var_event_killable(old, refcount_read(&old->refs) == 1))
			ret = -EINTR;
	} else {
		wait_var_event(old, refcount_read(&old->refs) == 1);
	}
	vhu_mem_put(old);
	return ret;
}

/**
 * vhu_mem_table_free() - free a table that was never installed
 * @t: the table
 *
 * Context: process context.
 */
void vhu_mem_table_free(struct vhu_mem_table *t)
{
	vhu_mem_free(t);
}

static struct vhu_mem_table *vhu_mem_current(struct vhu_dev *dev)
{
	return rcu_dereference_protected(dev->mem,
					 lockdep_is_held(&dev->mutex));
}

/**
 * vhu_mem_covers() - whether an owner address range lies in one region
 * @t: the table, may be NULL (then nothing is covered)
 * @uaddr: the first byte, in the owner's address space
 * @len: bytes, not zero
 *
 * For the vrings, which the kernel reads by owner address (as vhost's
 * memory_access_ok()). A linear search: it runs when a vring is enabled
 * and when the table changes, never per request.
 *
 * Context: any context; @t referenced or protected by the caller.
 * Return: true if one region holds all of it.
 */
bool vhu_mem_covers(const struct vhu_mem_table *t, const void __user *uaddr,
		    u64 len)
{
	unsigned long addr = (unsigned long)uaddr;
	u32 i;

	for (i = 0; t && i < t->nregions; i++) {
		const struct vhu_mem_region *r = &t->regions[i];
		u64 off = addr - r->userspace_addr;

		if (addr >= r->userspace_addr && off < r->memory_size &&
		    len <= r->memory_size - off)
			return true;
	}
	return false;
}

/**
 * vhu_mem_table_from_user() - the table of VHU_SET_MEM_TABLE
 * @argp: struct vhu_memory followed by its regions
 *
 * Context: process context.
 * Return: a new table, sorted and checked but not installed, or an
 * ERR_PTR(): -EFAULT, -EINVAL for a bad or overlapping region, too many
 * regions or non-zero padding, -ENOMEM.
 */
struct vhu_mem_table *vhu_mem_table_from_user(const void __user *argp)
{
	struct vhu_memory hdr;
	struct vhu_mem_table *t;
	u32 i;
	int ret;

	if (copy_from_user(&hdr, argp, sizeof(hdr)))
		return ERR_PTR(-EFAULT);
	if (hdr.padding || hdr.nregions > VHU_MAX_MEM_REGIONS)
		return ERR_PTR(-EINVAL);

	t = vhu_mem_alloc(hdr.nregions);
	if (!t)
		return ERR_PTR(-ENOMEM);
	if (copy_from_user(t->regions, argp + sizeof(hdr),
			   array_size(hdr.nregions, sizeof(t->regions[0])))) {
		ret = -EFAULT;
		goto free_table;
	}
	for (i = 0; i < t->nregions; i++) {
		ret = vhu_mem_region_check(&t->regions[i]);
		if (ret)
			goto free_table;
	}
	if (vhu_mem_sort_check(t)) {
		ret = -EINVAL;
		goto free_table;
	}
	return t;

free_table:
	kvfree(t);
	return ERR_PTR(ret);
}

/**
 * vhu_mem_table_add() - the current table plus the region of
 *	VHU_ADD_MEM_REGION
 * @dev: the device
 * @argp: struct vhu_mem_region
 *
 * Context: process context, holds @dev->mutex.
 * Return: a new table, sorted and checked but not installed, or an
 * ERR_PTR(): -EFAULT, -EINVAL or -EFAULT for a bad region, -EEXIST if it
 * overlaps one in the table, -ENOSPC if the table is full, -ENOMEM.
 */
struct vhu_mem_table *vhu_mem_table_add(struct vhu_dev *dev,
					const void __user *argp)
{
	struct vhu_mem_table *old, *t;
	struct vhu_mem_region r;
	u32 n;
	int ret;

	lockdep_assert_held(&dev->mutex);

	if (copy_from_user(&r, argp, sizeof(r)))
		return ERR_PTR(-EFAULT);
	ret = vhu_mem_region_check(&r);
	if (ret)
		return ERR_PTR(ret);

	old = vhu_mem_current(dev);
	n = old ? old->nregions : 0;
	if (n >= VHU_MAX_MEM_REGIONS)
		return ERR_PTR(-ENOSPC);
	t = vhu_mem_alloc(n + 1);
	if (!t)
		return ERR_PTR(-ENOMEM);
	if (n)
		memcpy(t->regions, old->regions, n * sizeof(r));
	t->regions[n] = r;
	if (vhu_mem_sort_check(t)) {
		kvfree(t);
		return ERR_PTR(-EEXIST);
	}
	return t;
}

/**
 * vhu_mem_table_del() - the current table without the region of
 *	VHU_DEL_MEM_REGION
 * @dev: the device
 * @argp: struct vhu_mem_region, matched exactly
 *
 * Context: process context, holds @dev->mutex.
 * Return: a new table, not installed, or an ERR_PTR(): -EFAULT, -EINVAL
 * for non-zero padding, -ENOENT if no region matches, -ENOMEM.
 */
struct vhu_mem_table *vhu_mem_table_del(struct vhu_dev *dev,
					const void __user *argp)
{
	struct vhu_mem_table *old, *t;
	struct vhu_mem_region r;
	u32 i, j;

	lockdep_assert_held(&dev->mutex);

	if (copy_from_user(&r, argp, sizeof(r)))
		return ERR_PTR(-EFAULT);
	if (r.reserved)
		return ERR_PTR(-EINVAL);

	old = vhu_mem_current(dev);
	if (!old)
		return ERR_PTR(-ENOENT);
	for (i = 0; i < old->nregions; i++) {
		const struct vhu_mem_region *o = &old->regions[i];

		if (o->guest_phys_addr == r.guest_phys_addr &&
		    o->memory_size == r.memory_size &&
		    o->userspace_addr == r.userspace_addr)
			break;
	}
	if (i == old->nregions)
		return ERR_PTR(-ENOENT);

	t = vhu_mem_alloc(old->nregions - 1);
	if (!t)
		return ERR_PTR(-ENOMEM);
	/* What is left is sorted and disjoint already. */
	for (j = 0; j < old->nregions; j++)
		if (j != i)
			t->regions[j < i ? j : j - 1] = old->regions[j];
	return t;
}

/* The region holding @gpa, or NULL. Context: @t referenced by the caller. */
static const struct vhu_mem_region *vhu_mem_find(const struct vhu_mem_table *t,
						 u64 gpa)
{
	u32 lo = 0, hi = t->nregions;

	while (lo < hi) {
		u32 mid = lo + (hi - lo) / 2;
		const struct vhu_mem_region *m = &t->regions[mid];

		if (gpa < m->guest_phys_addr)
			hi = mid;
		else if (gpa - m->guest_phys_addr >= m->memory_size)
			lo = mid + 1;
		else
			return m;
	}
	return NULL;
}

/**
 * vhu_mem_translate() - guest-physical range to owner addresses
 * @t: the table, referenced by the caller
 * @gpa: guest-physical address
 * @len: length in bytes
 * @iov: where to put the pieces
 * @max: room in @iov
 *
 * The range may span adjacent regions; every byte must be in one.
 *
 * Context: any context.
 * Return: the number of iovecs used (0 when @len is 0), -EFAULT if a byte
 * is outside every region, -E2BIG if @max iovecs do not suffice.
 */
int vhu_mem_translate(struct vhu_mem_table *t, u64 gpa, u32 len,
		      struct iovec *iov, unsigned int max)
{
	unsigned int n = 0;

	while (len) {
		const struct vhu_mem_region *r = vhu_mem_find(t, gpa);
		u64 off, chunk;

		if (!r)
			return -EFAULT;
		if (n == max)
			return -E2BIG;

		off = gpa - r->guest_phys_addr;
		chunk = min_t(u64, len, r->memory_size - off);
		iov[n].iov_base = u64_to_user_ptr(r->userspace_addr + off);
		iov[n].iov_len = chunk;
		n++;
		len -= chunk;
		gpa += chunk;
		if (len && !gpa)	/* wrapped around */
			return -EFAULT;
	}
	return n;
}

/**
 * vhu_mem_translate_bvec_search() - vhu_mem_translate_bvec() past its hint
 * @t: a pinned table (@t->pins set), referenced by the caller
 * @hint: set to the region of the last byte translated
 * @gpa: guest-physical address
 * @len: length in bytes
 * @bv: where to put the pieces, one per page touched
 * @max: room in @bv
 *
 * The range need not be in one region: each piece's region is searched.
 *
 * Context: any context.
 * Return: as vhu_mem_translate_bvec().
 */
int vhu_mem_translate_bvec_search(struct vhu_mem_table *t, u32 *hint, u64 gpa,
				  u64 len, struct bio_vec *bv, unsigned int max)
{
	unsigned int n = 0;

	while (len) {
		const struct vhu_mem_region *r = vhu_mem_find(t, gpa);
		u64 off, chunk;
		int ret;

		if (!r)
			return -EFAULT;
		*hint = r - t->regions;
		off = gpa - r->guest_phys_addr;
		chunk = min_t(u64, len, r->memory_size - off);
		len -= chunk;
		gpa += chunk;
		if (len && !gpa)	/* wrapped around */
			return -EFAULT;
		ret = vhu_mem_pin_bvec(t->pins[*hint], off, chunk, bv + n,
				       max - n);
		if (ret < 0)
			return ret;
		n += ret;
	}
	return n;
}

/**
 * vhu_mem_pin_table() - pin the regions of a new table (VHU_MEM_F_PIN)
 * @dev: the device
 * @t: the table, sorted and checked but not installed
 *
 * Nothing to do unless VHU_SET_MEM_FLAGS asked for VHU_MEM_F_PIN. A region
 * the current table holds too (the same three addresses and sizes) shares
 * its pin; the others are pinned (vhu_pin_region()). On failure the pins
 * taken so far stay with @t, which the caller frees.
 *
 * Context: process context in the owner's task (an ioctl), holds
 * @dev->mutex.
 * Return: 0, or the error of vhu_pin_region().
 */
int vhu_mem_pin_table(struct vhu_dev *dev, struct vhu_mem_table *t)
{
	struct vhu_mem_table *old = vhu_mem_current(dev);
	u32 i, j;

	lockdep_assert_held(&dev->mutex);

	if (!(dev->mem_flags & VHU_MEM_F_PIN) || !t->nregions)
		return 0;
	t->pins = kvcalloc(t->nregions, sizeof(*t->pins),
			   GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!t->pins)
		return -ENOMEM;
	for (i = 0; i < t->nregions; i++) {
		const struct vhu_mem_region *r = &t->regions[i];
		struct vhu_mem_pin *p = NULL;

		for (j = 0; old && old->pins && j < old->nregions; j++) {
			const struct vhu_mem_region *o = &old->regions[j];

			if (o->guest_phys_addr == r->guest_phys_addr &&
			    o->memory_size == r->memory_size &&
			    o->userspace_addr == r->userspace_addr) {
				p = old->pins[j];
				refcount_inc(&p->refs);
				break;
			}
		}
		if (!p)
			p = vhu_pin_region(r);
		if (IS_ERR(p))
			return PTR_ERR(p);
		t->pins[i] = p;
	}
	return 0;
}
