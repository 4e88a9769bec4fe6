/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Compatibility layer for vmgen's modules, force-included before every
 * source file. Each block keys on a VMGEN_HAVE_* define that compat/probes.mk
 * sets after probing the kernel tree, so driver sources stay plain current
 * kernel code.
 */
#ifndef _VMGEN_COMPAT_H
#define _VMGEN_COMPAT_H

#include <linux/version.h>

/* --- vmgen_vmclock { --- */

/* Before 6.3, vma->vm_flags was written directly. */
#ifndef VMGEN_HAVE_VM_FLAGS_CLEAR
#define vm_flags_clear(vma, flags) ((vma)->vm_flags &= ~(flags))
#endif

/* memremap() of a page shared with the host in an encrypted guest. */
#ifdef VMGEN_HAVE_MEMREMAP_DEC
#define VMGEN_MEMREMAP_DEC MEMREMAP_DEC
#else
#define VMGEN_MEMREMAP_DEC 0
#endif

/*
 * 1 if this kernel's own ptp_vmclock is built and knows host notifications
 * (7.0+): then vmgen_vmclock stays out of its way unless force_bind=1.
 */
#if defined(VMGEN_HAVE_KERNEL_VMCLOCK_NOTIFY) && \
	IS_ENABLED(CONFIG_PTP_1588_CLOCK_VMCLOCK)
#define VMGEN_KERNEL_VMCLOCK_NOTIFIES 1
#else
#define VMGEN_KERNEL_VMCLOCK_NOTIFIES 0
#endif

/* --- } vmgen_vmclock --- */

/* --- vmgen_vmgenid { --- */

/*
 * The kernel's vmfork notifier chain is usable only when CONFIG_VMGENID is
 * enabled (it is built with the vmgenid driver). The header probe alone is
 * not enough: 6.1's random.h declares it either way, with empty stubs when
 * the driver is off.
 */
#if defined(VMGEN_HAVE_VMFORK_NOTIFIER_DECL) && IS_ENABLED(CONFIG_VMGENID)
#define VMGEN_HAVE_VMFORK_NOTIFIER 1
#endif

/* --- } vmgen_vmgenid --- */

#endif /* _VMGEN_COMPAT_H */
