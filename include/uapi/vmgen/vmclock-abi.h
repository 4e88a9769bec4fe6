/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR BSD-2-Clause) */
/*
 * The VMClock shared page, as a hypervisor exposes it to a guest (ACPI
 * _HID AMZNC10C / _CID VMCLOCK, or DT compatible "amazon,vmclock") and as
 * /dev/vmclockN hands it to userspace via read() and mmap().
 *
 * This is vmgen's own rendering of the layout; the constant and field names
 * follow the Linux UAPI header <linux/vmclock-abi.h> so code can move between
 * the two. Include only one of them in a translation unit.
 *
 * All multi-byte fields are little-endian. Every field from disruption_marker
 * on is guarded by seq_count: read seq_count, and if it is odd (an update is
 * in progress) try again; otherwise read the fields, then read seq_count
 * again and start over if it changed.
 *
 * A field exists only if size >= offset of the field + its size. New fields
 * come with new flag bits; version is not expected to change.
 */
#ifndef _UAPI_VMGEN_VMCLOCK_ABI_H
#define _UAPI_VMGEN_VMCLOCK_ABI_H

#include <linux/types.h>

struct vmclock_abi {
	/* 0x00: static header, written once by the host */
	__le32 magic;
#define VMCLOCK_MAGIC				0x4b4c4356 /* "VCLK" */
	__le32 size;		/* bytes of the region holding this struct */
	__le16 version;		/* 1 */
	__u8 counter_id;	/* which hardware counter the clock is based on */
#define VMCLOCK_COUNTER_ARM_VCNT		0
#define VMCLOCK_COUNTER_X86_TSC			1
#define VMCLOCK_COUNTER_INVALID			0xff
	__u8 time_type;		/* timescale of time_sec/time_frac_sec */
#define VMCLOCK_TIME_UTC			0 /* since 1970-01-01T00:00:00Z */
#define VMCLOCK_TIME_TAI			1 /* since 1970-01-01T00:00:00Z */
#define VMCLOCK_TIME_MONOTONIC			2 /* undefined epoch */
#define VMCLOCK_TIME_INVALID_SMEARED		3 /* not usable */
#define VMCLOCK_TIME_INVALID_MAYBE_SMEARED	4 /* not usable */

	/* 0x0c: odd while the host is updating the fields below */
	__le32 seq_count;

	/*
	 * 0x10: changes whenever the counter may have been disrupted (live
	 * migration, snapshot restore): any clock state derived from the
	 * counter before the change must be thrown away.
	 */
	__le64 disruption_marker;

	/* 0x18 */
	__le64 flags;
#define VMCLOCK_FLAG_TAI_OFFSET_VALID		(1 << 0)
	/* a disruption (e.g. live migration) is expected within about a day */
#define VMCLOCK_FLAG_DISRUPTION_SOON		(1 << 1)
	/* ... within about an hour */
#define VMCLOCK_FLAG_DISRUPTION_IMMINENT	(1 << 2)
#define VMCLOCK_FLAG_PERIOD_ESTERROR_VALID	(1 << 3)
#define VMCLOCK_FLAG_PERIOD_MAXERROR_VALID	(1 << 4)
#define VMCLOCK_FLAG_TIME_ESTERROR_VALID	(1 << 5)
#define VMCLOCK_FLAG_TIME_MAXERROR_VALID	(1 << 6)
	/* the host guarantees time never goes backwards across disruptions */
#define VMCLOCK_FLAG_TIME_MONOTONIC		(1 << 7)
	/* vm_generation_counter below is maintained */
#define VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT	(1 << 8)
	/* the host raises a notification (ACPI Notify or interrupt) on change */
#define VMCLOCK_FLAG_NOTIFICATION_PRESENT	(1 << 9)

	/* 0x20 */
	__u8 pad[2];
	__u8 clock_status;
#define VMCLOCK_STATUS_UNKNOWN			0
#define VMCLOCK_STATUS_INITIALIZING		1
#define VMCLOCK_STATUS_SYNCHRONIZED		2
#define VMCLOCK_STATUS_FREERUNNING		3
#define VMCLOCK_STATUS_UNRELIABLE		4
	__u8 leap_second_smearing_hint;
#define VMCLOCK_SMEARING_STRICT			0
#define VMCLOCK_SMEARING_NOON_LINEAR		1
#define VMCLOCK_SMEARING_UTC_SLS		2
	__le16 tai_offset_sec;	/* signed: UTC minus TAI, e.g. -37 */
	__u8 leap_indicator;
#define VMCLOCK_LEAP_NONE			0x00 /* none near */
#define VMCLOCK_LEAP_PRE_POS			0x01 /* +1 s at end of month */
#define VMCLOCK_LEAP_PRE_NEG			0x02 /* -1 s at end of month */
#define VMCLOCK_LEAP_POS			0x03 /* during 23:59:60 */
#define VMCLOCK_LEAP_POST_POS			0x04 /* just after a +1 s */
#define VMCLOCK_LEAP_POST_NEG			0x05 /* just after a -1 s */
	__u8 counter_period_shift;

	/* 0x28: the counter reading at which time_sec/time_frac_sec held */
	__le64 counter_value;
	/* length of one counter tick, in units of 2^-(64 + shift) seconds */
	__le64 counter_period_frac_sec;
	__le64 counter_period_esterror_rate_frac_sec;
	__le64 counter_period_maxerror_rate_frac_sec;

	/* 0x48: the time at counter_value, in the time_type timescale */
	__le64 time_sec;
	__le64 time_frac_sec;		/* units of 2^-64 seconds */
	__le64 time_esterror_nanosec;
	__le64 time_maxerror_nanosec;

	/*
	 * 0x68: changes when the VM is restored from a snapshot or cloned,
	 * not on live migration. Valid if VM_GEN_COUNTER_PRESENT is set.
	 */
	__le64 vm_generation_counter;
};

#endif /* _UAPI_VMGEN_VMCLOCK_ABI_H */
