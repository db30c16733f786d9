// SPDX-License-Identifier: GPL-2.0
/*
 * vhu: guest memory pinned once per region (VHU_MEM_F_PIN).
 *
 * Without pinning, every read or write pins the pages of its guest
 * buffers in the block layer (gup) and unpins them at completion: a large
 * part of the instructions of a small I/O. With VHU_MEM_F_PIN, each region
 * of the memory table is pinned whole when it enters the table, as
 * io_uring's registered buffers are, and requests build bio_vecs from the
 * pinned pages instead (vhu_mem_translate_bvec()).
 *
 * A region's pin is shared by every table that holds the region (a table
 * replacing another keeps the regions both have), counted by @refs: the
 * last table to drop it unpins the pages, and a table lives until its last
 * request completed (mem.c), so no I/O ever uses an unpinned page.
 *
 * The pages are charged to the owner's locked memory (RLIMIT_MEMLOCK,
 * mm->locked_vm, as VFIO's type1 IOMMU driver charges its pins) when they
 * are pinned, and uncharged from the same mm when they are unpinned.
 */

#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>

#include "vhu.h"

/* Pages pinned (or unpinned) per step: the work between two resched points. */
#define VHU_PIN_CHUNK	512

static void vhu_pin_unpin(struct vhu_mem_pin *p, unsigned long n)
{
	unsigned long i, k;

	for (i = 0; i < n; i += k) {
		k = min_t(unsigned long, n - i, VHU_PIN_CHUNK);
		/* Guest I/O may have written any of them. */
		unpin_user_pages_dirty_lock(p->pages + i, k, true);
		cond_resched();
	}
}

/**
 * vhu_pin_region() - pin every page of a region
 * @r: the region, checked (vhu_mem_region_check())
 *
 * Charges the pages to the owner's RLIMIT_MEMLOCK first, then pins them
 * for writing with FOLL_LONGTERM, VHU_PIN_CHUNK pages at a time, so that
 * a large region is interruptible by a fatal signal.
 *
 * Context: process context, the owner's task (an ioctl): current->mm is
 * the mm the region's addresses belong to.
 * Return: the pin, with one reference, or an ERR_PTR(): -ENOMEM over
 * RLIMIT_MEMLOCK or out of memory, -EINTR on a fatal signal, or what
 * pin_user_pages_fast() returned (-EFAULT for an address that is not
 * mapped writable).
 */
struct vhu_mem_pin *vhu_pin_region(const struct vhu_mem_region *r)
{
	unsigned long start = r->userspace_addr & PAGE_MASK;
	unsigned long end = PAGE_ALIGN(r->userspace_addr + r->memory_size);
	unsigned long npages = (end - start) >> PAGE_SHIFT;
	struct mm_struct *mm = current->mm;
	struct vhu_mem_pin *p;
	unsigned long done = 0;
	int ret;

	/* An end that wrapped (a region in the last page of the space). */
	if (!end || end <= start)
		return ERR_PTR(-EFAULT);
	ret = account_locked_vm(mm, npages, true);
	if (ret)
		return ERR_PTR(ret);
	ret = -ENOMEM;
	p = kvzalloc(struct_size(p, pages, npages),
		     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!p)
		goto err_unaccount;
	refcount_set(&p->refs, 1);
	p->npages = npages;
	p->first_off = offset_in_page(r->userspace_addr);

	while (done < npages) {
		int k = min_t(unsigned long, npages - done, VHU_PIN_CHUNK);

		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			goto err_unpin;
		}
		ret = pin_user_pages_fast(start + (done << PAGE_SHIFT), k,
					  FOLL_WRITE | FOLL_LONGTERM,
					  p->pages + done);
		if (ret <= 0) {
			ret = ret ?: -EFAULT;
			goto err_unpin;
		}
		done += ret;
		cond_resched();
	}
	mmgrab(mm);
	p->mm = mm;
	return p;

err_unpin:
	vhu_pin_unpin(p, done);
	kvfree(p);
err_unaccount:
	account_locked_vm(mm, npages, false);
	return ERR_PTR(ret);
}

/**
 * vhu_pin_put() - drop a table's reference on a region's pin
 * @p: the pin, may be NULL
 *
 * The last reference unpins the pages (VHU_PIN_CHUNK at a time) and
 * uncharges them from the mm that was charged.
 *
 * Context: process context.
 */
void vhu_pin_put(struct vhu_mem_pin *p)
{
	might_sleep();
	if (!p || !refcount_dec_and_test(&p->refs))
		return;
	vhu_pin_unpin(p, p->npages);
	account_locked_vm(p->mm, p->npages, false);
	mmdrop(p->mm);
	kvfree(p);
}
