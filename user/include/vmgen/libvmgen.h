/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libvmgen: notice that this Linux guest was restored from a snapshot,
 * cloned, or live-migrated.
 *
 * Two devices carry the news:
 *   /dev/vmclockN  the VMClock page (Linux 7.0 ptp_vmclock, or vmgen_vmclock):
 *                  vm_generation_counter (restore/clone) and
 *                  disruption_marker (any clock disruption, migration too);
 *   /dev/vmgenid   vmgen_vmgenid: a 64-bit count of VM Generation ID changes.
 * Both can be poll()ed.  This library opens them, reads the counters the
 * way their ABI requires (the VMClock page through its seqcount), waits for
 * changes, and parses the kernel uevents vmgen's modules send.
 *
 * Conventions: functions returning int return 0 (or a documented positive
 * value) on success and -1 with errno set on failure.  Nothing here
 * allocates after the open functions, and nothing keeps global state, so
 * handles may be used from any thread (one thread per handle at a time).
 *
 * Link with pkg-config --libs vmgen.  Licence: LGPL-2.1-or-later, so
 * programs under any licence may link to it.
 */
#ifndef VMGEN_LIBVMGEN_H
#define VMGEN_LIBVMGEN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VMGEN_LIB_VERSION_MAJOR	0
#define VMGEN_LIB_VERSION_MINOR	1

#define VMGEN_VMCLOCK_DEFAULT_PATH	"/dev/vmclock0"
#define VMGEN_VMGENID_DEFAULT_PATH	"/dev/vmgenid"

/* ---- VMClock ---------------------------------------------------------- */

/* Bits of vmgen_vmclock_counters.have. */
/* vm_generation_counter is maintained (flag VM_GEN_COUNTER_PRESENT and the
 * page is large enough to hold it); otherwise generation reads 0. */
#define VMGEN_HAVE_GENERATION		(1u << 0)
/* the page says the host notifies (flag NOTIFICATION_PRESENT) */
#define VMGEN_HAVE_NOTIFICATION_FLAG	(1u << 1)

struct vmgen_vmclock_counters {
	uint64_t generation;		/* vm_generation_counter */
	uint64_t disruption_marker;
	uint64_t flags;			/* raw flags word of the page */
	uint32_t seq_count;		/* the even seq_count the values belong to */
	uint32_t have;			/* VMGEN_HAVE_* */
};

struct vmgen_vmclock;

/*
 * Open a VMClock device (path NULL: VMGEN_VMCLOCK_DEFAULT_PATH) and map its
 * page read-only.  A regular file holding a page is accepted too (for
 * tests); it can be read but never notifies.  Returns NULL with errno set.
 */
struct vmgen_vmclock *vmgen_vmclock_open(const char *path);
void vmgen_vmclock_close(struct vmgen_vmclock *vc);
/* The file descriptor, for the caller's own poll()/epoll loop. */
int vmgen_vmclock_fd(const struct vmgen_vmclock *vc);

/*
 * Read the counters from the mapped page under its seqcount (acquire
 * loads; retried while seq_count is odd or changes, for at most 100 ms,
 * then ETIMEDOUT).  EPROTO: bad magic or version.  When the device cannot
 * be mapped, the kernel's read() is used instead.
 */
int vmgen_vmclock_read(struct vmgen_vmclock *vc,
		       struct vmgen_vmclock_counters *out);

/* The same on a page already in memory (len = bytes readable at page). */
int vmgen_vmclock_parse(const void *page, size_t len,
			struct vmgen_vmclock_counters *out);

/*
 * 1 if poll() on the device reports changes, 0 if it cannot (POLLHUP: the
 * host does not notify; a driver without poll(); a regular file).  Resets
 * the poll state of this handle (see vmgen_vmclock_rearm()).
 */
int vmgen_vmclock_can_notify(struct vmgen_vmclock *vc);

/*
 * After poll() reported POLLIN on the fd: read the page once through the
 * kernel so the next poll() waits for the next change.
 */
int vmgen_vmclock_rearm(struct vmgen_vmclock *vc);

/*
 * Wait for the device to signal (timeout_ms < 0: forever).  Returns 1
 * when it signalled (already rearmed: now call vmgen_vmclock_read()), 0 on
 * timeout, -1 on error (EOPNOTSUPP: the device cannot notify).  The
 * device signals every seq_count change, clock updates too: compare the
 * counters, or use vmgen_vmclock_wait_change().
 */
int vmgen_vmclock_wait(struct vmgen_vmclock *vc, int timeout_ms);

/*
 * Wait until generation or disruption_marker differs from *last; then
 * store the new counters in *last and return 1.  0 on timeout, -1 on error.
 */
int vmgen_vmclock_wait_change(struct vmgen_vmclock *vc,
			      struct vmgen_vmclock_counters *last,
			      int timeout_ms);

/* ---- VMGenID (vmgen_vmgenid) ------------------------------------------ */

struct vmgen_vmgenid;

/* path NULL: VMGEN_VMGENID_DEFAULT_PATH.  A regular file holding 8 bytes
 * is accepted (tests); it never notifies. */
struct vmgen_vmgenid *vmgen_vmgenid_open(const char *path);
void vmgen_vmgenid_close(struct vmgen_vmgenid *vg);
int vmgen_vmgenid_fd(const struct vmgen_vmgenid *vg);
/* The generation: how many ID changes the module has seen.  Reading also
 * rearms poll() for this handle. */
int vmgen_vmgenid_read(struct vmgen_vmgenid *vg, uint64_t *generation);
/* 1 changed since this handle last read (call vmgen_vmgenid_read()),
 * 0 timeout, -1 error (EOPNOTSUPP: cannot notify, e.g. a regular file). */
int vmgen_vmgenid_wait(struct vmgen_vmgenid *vg, int timeout_ms);

/* ---- uevents ---------------------------------------------------------- */

/* Bits of vmgen_uevent.have: which keys were present and valid. */
#define VMGEN_UEVENT_HAVE_SEQNUM		(1u << 0)
#define VMGEN_UEVENT_HAVE_VMCLOCK_GENERATION	(1u << 1)
#define VMGEN_UEVENT_HAVE_VMCLOCK_MARKER	(1u << 2)
#define VMGEN_UEVENT_HAVE_VMCLOCK_NOTIFY_NS	(1u << 3)
#define VMGEN_UEVENT_HAVE_NEW_VMGENID		(1u << 4)
#define VMGEN_UEVENT_HAVE_VMGENID_GENERATION	(1u << 5)
#define VMGEN_UEVENT_HAVE_VMGENID_NOTIFY_NS	(1u << 6)

/* vmgen_uevent.device */
#define VMGEN_UEVENT_DEVICE_OTHER	0
#define VMGEN_UEVENT_DEVICE_VMCLOCK	1	/* misc device vmclockN */
#define VMGEN_UEVENT_DEVICE_VMGENID	2	/* misc device vmgenid */

struct vmgen_uevent {
	char action[32];	/* "change", "add", ... */
	char devpath[256];	/* "/devices/.../misc/vmgenid" */
	char subsystem[32];	/* "misc" ("" if absent) */
	char devname[64];	/* "vmgenid", "vmclock0" ("" if absent) */
	int device;		/* VMGEN_UEVENT_DEVICE_* */
	unsigned int have;	/* VMGEN_UEVENT_HAVE_* */
	uint64_t seqnum;
	uint64_t vmclock_generation;
	uint64_t vmclock_disruption_marker;
	uint64_t vmclock_notify_ns;
	uint64_t vmgenid_generation;
	uint64_t vmgenid_notify_ns;
};

/*
 * Parse one NETLINK_KOBJECT_UEVENT message from the kernel:
 * "ACTION@DEVPATH\0KEY=VALUE\0...".  Never reads outside buf[0..len).
 * Returns 0, or -1 with errno:
 *   EINVAL	 NULL argument;
 *   EPROTONOSUPPORT  a udev ("libudev") message, not a kernel one;
 *   EBADMSG	 malformed: bad or missing header, a field without '=',
 *		 ACTION/DEVPATH contradicting the header, a vmgen key twice or
 *		 with a value that is not a decimal u64, a field or the header
 *		 not NUL-terminated inside len;
 *   ENAMETOOLONG  action, devpath, subsystem or devname longer than the
 *		 struct holds.
 * On failure *ev is zeroed.  Unknown keys are ignored.
 */
int vmgen_uevent_parse(const void *buf, size_t len, struct vmgen_uevent *ev);

/*
 * A socket receiving kernel uevents (NETLINK_KOBJECT_UEVENT, group 1),
 * non-blocking and close-on-exec.  Returns the fd or -1.
 */
int vmgen_uevent_open(void);

/*
 * Receive one message from fd and parse it.  Messages not sent by the
 * kernel (netlink port id != 0, or credentials of another uid than 0) are
 * dropped.  Returns 1 for a vmgen device's uevent (ev filled), 0 for
 * anything else or nothing pending (EAGAIN), -1 on a socket error.
 */
int vmgen_uevent_receive(int fd, struct vmgen_uevent *ev);

/* ---- misc ------------------------------------------------------------- */

/* The library version, e.g. "0.1.0". */
const char *vmgen_version(void);

#ifdef __cplusplus
}
#endif

#endif /* VMGEN_LIBVMGEN_H */
