/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * Userspace names of vmgen's VMGenID module (vmgen_vmgenid.ko).
 *
 * The module turns VM Generation ID changes (snapshot restore, clone) into
 * a 64-bit generation counter and a uevent. The 16-byte ID itself is never
 * exposed: only the counter is. See docs/vmgenid.md.
 */
#ifndef _UAPI_VMGEN_VMGENID_H
#define _UAPI_VMGEN_VMGENID_H

/*
 * Misc device: /dev/vmgenid (mode 0444), and its sysfs directory.
 *
 * read() returns the current generation as one native-endian 64-bit
 * integer (a buffer shorter than 8 bytes fails with EINVAL) and marks it
 * seen for this open file. poll() reports POLLIN | POLLRDNORM while the
 * generation differs from the one last seen on this open file; open()
 * counts the generation current at that moment as seen, so poll() waits
 * for the next change. read() never blocks.
 */
#define VMGENID_DEVICE_NAME		"vmgenid"
#define VMGENID_DEVICE_PATH		"/dev/vmgenid"
#define VMGENID_SYSFS_DIR		"/sys/class/misc/vmgenid"

/* Size of what read() returns: the generation, native-endian. */
#define VMGENID_READ_SIZE		8

/*
 * sysfs attributes in VMGENID_SYSFS_DIR, each one value and a newline.
 */
/* Changes seen since the module loaded, decimal; starts at 0. Pollable. */
#define VMGENID_ATTR_GENERATION		"generation"
/* CLOCK_MONOTONIC ns of the latest change's notification; 0 before any. */
#define VMGENID_ATTR_LAST_NOTIFY_NS	"last_notify_ns"
/* VMGENID_MODE_OBSERVER or VMGENID_MODE_DRIVER. */
#define VMGENID_ATTR_MODE		"mode"
/* VMGENID_RNG_RESEED_IMMEDIATE or VMGENID_RNG_RESEED_MIX_ONLY. */
#define VMGENID_ATTR_RNG_RESEED		"rng_reseed"
/* Driver mode only: notifications that carried no new ID, decimal. */
#define VMGENID_ATTR_SPURIOUS		"spurious"

/* Values of VMGENID_ATTR_MODE. */
/* The kernel's own vmgenid driver owns the device; the module observes it. */
#define VMGENID_MODE_OBSERVER		"observer"
/* The kernel has no vmgenid driver; the module binds the device itself. */
#define VMGENID_MODE_DRIVER		"driver"

/* Values of VMGENID_ATTR_RNG_RESEED. */
/* The kernel reseeds its CRNG from the new ID before the change is reported. */
#define VMGENID_RNG_RESEED_IMMEDIATE	"immediate"
/*
 * The new ID is mixed into the input pool before the change is reported,
 * but the CRNG picks it up only at its next scheduled reseed: userspace
 * should force one (ioctl RNDRESEEDCRNG on /dev/urandom, needs
 * CAP_SYS_ADMIN) when it sees the change.
 */
#define VMGENID_RNG_RESEED_MIX_ONLY	"mix-only"

/*
 * Keys of the KOBJ_CHANGE uevent sent on the misc device (SUBSYSTEM=misc,
 * DEVNAME=vmgenid) after a change. Changes that arrive faster than uevents
 * are sent coalesce into one uevent carrying the latest values; the
 * generation still counts every change.
 */
/* Always "1". */
#define VMGENID_UEVENT_NEW		"NEW_VMGENID"
/* The generation after the latest change, decimal. */
#define VMGENID_UEVENT_GENERATION	"VMGENID_GENERATION"
/* As VMGENID_ATTR_LAST_NOTIFY_NS, decimal. */
#define VMGENID_UEVENT_NOTIFY_NS	"VMGENID_NOTIFY_NS"

#endif /* _UAPI_VMGEN_VMGENID_H */
