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

#endif /* _VMGEN_COMPAT_H */
