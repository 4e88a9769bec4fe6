/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * Names of what vmgen_vmclock adds beside the upstream /dev/vmclockN ABI
 * (read(), mmap(), poll(); see <vmgen/vmclock-abi.h> for the page itself).
 * See docs/vmclock.md for the behaviour behind each name.
 */
#ifndef _UAPI_VMGEN_VMCLOCK_H
#define _UAPI_VMGEN_VMCLOCK_H

/* Device node and its sysfs directory; N is the device index. */
#define VMGEN_VMCLOCK_DEV_PREFIX		"/dev/vmclock"
#define VMGEN_VMCLOCK_SYSFS_PREFIX		"/sys/class/misc/vmclock"

/*
 * Read-only sysfs attributes of /sys/class/misc/vmclockN/. Those marked
 * "pollable" get sysfs_notify() when they change: poll() for POLLPRI|POLLERR,
 * then lseek(fd, 0, SEEK_SET) and read again.
 */
/* decimal u64; fails with ENODATA if the host does not maintain it (pollable) */
#define VMGEN_VMCLOCK_ATTR_VM_GENERATION_COUNTER	"vm_generation_counter"
/* decimal u64; ENODATA if the page is too short to hold it (pollable) */
#define VMGEN_VMCLOCK_ATTR_DISRUPTION_MARKER		"disruption_marker"
/* "1" if poll() on the device reports changes, "0" if it returns POLLHUP */
#define VMGEN_VMCLOCK_ATTR_NOTIFICATIONS		"notifications"
/* how changes are noticed: one of the VMGEN_VMCLOCK_NOTIFY_MODE_* below */
#define VMGEN_VMCLOCK_ATTR_NOTIFY_MODE			"notify_mode"
/* decimal count of notifications received, timer-detected ones included (pollable) */
#define VMGEN_VMCLOCK_ATTR_EVENTS			"events"
/* CLOCK_MONOTONIC time in ns of the last notification, 0 if none (pollable) */
#define VMGEN_VMCLOCK_ATTR_LAST_NOTIFY_NS		"last_notify_ns"

/* Values of notify_mode. */
#define VMGEN_VMCLOCK_NOTIFY_MODE_ACPI		"acpi"	/* ACPI Notify on the device */
#define VMGEN_VMCLOCK_NOTIFY_MODE_IRQ		"irq"	/* device tree interrupt */
#define VMGEN_VMCLOCK_NOTIFY_MODE_TIMER		"timer"	/* seq_count polled, see watch_ms */
#define VMGEN_VMCLOCK_NOTIFY_MODE_NONE		"none"	/* poll() returns POLLHUP */

/*
 * Keys of the KOBJ_CHANGE uevent sent on the misc device when the
 * generation counter or the disruption marker changes. Values are decimal.
 */
/* vm_generation_counter; only present if the host maintains it */
#define VMGEN_VMCLOCK_UEVENT_GENERATION		"VMCLOCK_GENERATION"
/* disruption_marker */
#define VMGEN_VMCLOCK_UEVENT_DISRUPTION_MARKER	"VMCLOCK_DISRUPTION_MARKER"
/* last_notify_ns at the time the uevent was sent */
#define VMGEN_VMCLOCK_UEVENT_NOTIFY_NS		"VMCLOCK_NOTIFY_NS"

/* Module parameters, under /sys/module/vmgen_vmclock/parameters/. */
/* uint ms, 0 = off: poll seq_count when the host cannot notify */
#define VMGEN_VMCLOCK_PARAM_WATCH_MS		"watch_ms"
/* bool: bind even where the kernel's own ptp_vmclock notifies (7.0+) */
#define VMGEN_VMCLOCK_PARAM_FORCE_BIND		"force_bind"

#endif /* _UAPI_VMGEN_VMCLOCK_H */
