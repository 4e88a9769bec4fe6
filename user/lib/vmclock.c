// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * VMClock: open /dev/vmclockN, map its page, read the counters under the
 * seqcount, wait for changes with poll().
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <vmgen/vmclock-abi.h>

#include "vmgen/libvmgen.h"
#include "internal.h"

/* The fields this file reads, where the ABI header puts them. */
#define OFF_MAGIC	offsetof(struct vmclock_abi, magic)
#define OFF_SIZE	offsetof(struct vmclock_abi, size)
#define OFF_VERSION	offsetof(struct vmclock_abi, version)
#define OFF_SEQ		offsetof(struct vmclock_abi, seq_count)
#define OFF_MARKER	offsetof(struct vmclock_abi, disruption_marker)
#define OFF_FLAGS	offsetof(struct vmclock_abi, flags)
#define OFF_GEN		offsetof(struct vmclock_abi, vm_generation_counter)
#define GEN_END		(OFF_GEN + sizeof(uint64_t))
/* everything up to and including flags must be there */
#define MIN_LEN		(OFF_FLAGS + sizeof(uint64_t))

_Static_assert(OFF_SEQ == 0x0c && OFF_MARKER == 0x10 && OFF_FLAGS == 0x18 &&
	       OFF_GEN == 0x68 && sizeof(struct vmclock_abi) == 0x70,
	       "struct vmclock_abi layout");

/* The kernel's read() gives up after 100 ms of an odd or moving seq_count. */
#define SEQ_TIMEOUT_NS	(100 * 1000000LL)

struct vmgen_vmclock {
	int fd;
	int is_file;
	const unsigned char *map;	/* NULL: read through the kernel */
	size_t map_len;
};

static inline uint32_t load32_acquire(const unsigned char *p)
{
	return le32toh(__atomic_load_n((const uint32_t *)(const void *)p,
				       __ATOMIC_ACQUIRE));
}

static inline uint32_t load32(const unsigned char *p)
{
	return le32toh(__atomic_load_n((const uint32_t *)(const void *)p,
				       __ATOMIC_RELAXED));
}

static inline uint16_t load16(const unsigned char *p)
{
	return le16toh(__atomic_load_n((const uint16_t *)(const void *)p,
				       __ATOMIC_RELAXED));
}

static inline uint64_t load64(const unsigned char *p)
{
	return le64toh(__atomic_load_n((const uint64_t *)(const void *)p,
				       __ATOMIC_RELAXED));
}

/*
 * One attempt: 1 = consistent snapshot in *out (or error in *err),
 * 0 = seq_count odd or moved, try again.
 */
static int parse_once(const unsigned char *p, size_t len,
		      struct vmgen_vmclock_counters *out, int *err)
{
	uint32_t seq, magic, size;
	uint16_t version;
	uint64_t marker, flags, gen = 0;
	int gen_fits;

	seq = load32_acquire(p + OFF_SEQ);
	if (seq & 1)
		return 0;
	magic = load32(p + OFF_MAGIC);
	size = load32(p + OFF_SIZE);
	version = load16(p + OFF_VERSION);
	marker = load64(p + OFF_MARKER);
	flags = load64(p + OFF_FLAGS);
	gen_fits = len >= GEN_END && size >= GEN_END;
	if (gen_fits)
		gen = load64(p + OFF_GEN);
	/* order the field loads before the second seq_count load */
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	if (load32(p + OFF_SEQ) != seq)
		return 0;

	*err = 0;
	if (magic != VMCLOCK_MAGIC || version != 1 || size < MIN_LEN) {
		*err = EPROTO;
		return 1;
	}
	memset(out, 0, sizeof(*out));
	out->disruption_marker = marker;
	out->flags = flags;
	out->seq_count = seq;
	if (gen_fits && (flags & VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT)) {
		out->generation = gen;
		out->have |= VMGEN_HAVE_GENERATION;
	}
	if (flags & VMCLOCK_FLAG_NOTIFICATION_PRESENT)
		out->have |= VMGEN_HAVE_NOTIFICATION_FLAG;
	return 1;
}

VMGEN_EXPORT int vmgen_vmclock_parse(const void *page, size_t len,
				     struct vmgen_vmclock_counters *out)
{
	const unsigned char *p = page;
	int64_t deadline = 0;
	unsigned int i;
	int err;

	if (!page || !out || len < MIN_LEN ||
	    ((uintptr_t)page & 7) != 0) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0;; i++) {
		if (parse_once(p, len, out, &err)) {
			if (err) {
				errno = err;
				return -1;
			}
			return 0;
		}
		if ((i & 63) == 63) {
			int64_t now = vmgen_lib_now_ns();

			if (!deadline)
				deadline = now + SEQ_TIMEOUT_NS;
			else if (now >= deadline)
				break;
			sched_yield();
		}
	}
	errno = ETIMEDOUT;
	return -1;
}

VMGEN_EXPORT struct vmgen_vmclock *vmgen_vmclock_open(const char *path)
{
	struct vmgen_vmclock *vc;
	struct stat st;
	long pagesz = sysconf(_SC_PAGESIZE);
	void *m;
	int e;

	if (!path)
		path = VMGEN_VMCLOCK_DEFAULT_PATH;
	vc = calloc(1, sizeof(*vc));
	if (!vc)
		return NULL;
	vc->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (vc->fd < 0)
		goto fail;
	if (fstat(vc->fd, &st) < 0)
		goto fail;
	if (pagesz <= 0)
		pagesz = 4096;
	if (S_ISREG(st.st_mode)) {
		vc->is_file = 1;
		if ((size_t)st.st_size < MIN_LEN) {
			errno = EPROTO;
			goto fail;
		}
		/* never map past the end of the file: SIGBUS */
		vc->map_len = (size_t)st.st_size < (size_t)pagesz ?
			      (size_t)st.st_size : (size_t)pagesz;
	} else if (S_ISCHR(st.st_mode)) {
		vc->map_len = (size_t)pagesz;
	} else {
		errno = ENODEV;
		goto fail;
	}
	m = mmap(NULL, vc->map_len, PROT_READ, MAP_SHARED, vc->fd, 0);
	if (m == MAP_FAILED) {
		if (vc->is_file)
			goto fail;
		/* a driver without mmap(): fall back to its read() */
		vc->map = NULL;
		vc->map_len = 0;
	} else {
		vc->map = m;
	}
	return vc;
fail:
	e = errno;
	if (vc->fd >= 0)
		close(vc->fd);
	free(vc);
	errno = e;
	return NULL;
}

VMGEN_EXPORT void vmgen_vmclock_close(struct vmgen_vmclock *vc)
{
	int e = errno;

	if (!vc)
		return;
	if (vc->map)
		munmap((void *)vc->map, vc->map_len);
	if (vc->fd >= 0)
		close(vc->fd);
	free(vc);
	errno = e;
}

VMGEN_EXPORT int vmgen_vmclock_fd(const struct vmgen_vmclock *vc)
{
	return vc ? vc->fd : -1;
}

/* read() the raw page: the kernel copies it under the seqcount for us. */
static int read_via_kernel(struct vmgen_vmclock *vc,
			   struct vmgen_vmclock_counters *out)
{
	/* aligned for the 64-bit loads in parse_once() */
	union {
		unsigned char b[sizeof(struct vmclock_abi)];
		uint64_t align;
	} buf;
	int64_t deadline = vmgen_lib_now_ns() + SEQ_TIMEOUT_NS;
	ssize_t n;
	int err;

	for (;;) {
		memset(&buf, 0, sizeof(buf));
		n = pread(vc->fd, buf.b, sizeof(buf.b), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if ((size_t)n < MIN_LEN) {
			errno = EPROTO;
			return -1;
		}
		if (parse_once(buf.b, (size_t)n, out, &err)) {
			if (err) {
				errno = err;
				return -1;
			}
			return 0;
		}
		/* only a regular file can hand us a torn copy */
		if (vmgen_lib_now_ns() >= deadline) {
			errno = ETIMEDOUT;
			return -1;
		}
		sched_yield();
	}
}

VMGEN_EXPORT int vmgen_vmclock_read(struct vmgen_vmclock *vc,
				    struct vmgen_vmclock_counters *out)
{
	if (!vc || !out) {
		errno = EINVAL;
		return -1;
	}
	if (vc->map)
		return vmgen_vmclock_parse(vc->map, vc->map_len, out);
	return read_via_kernel(vc, out);
}

VMGEN_EXPORT int vmgen_vmclock_rearm(struct vmgen_vmclock *vc)
{
	unsigned char buf[sizeof(struct vmclock_abi)];
	ssize_t n;

	if (!vc) {
		errno = EINVAL;
		return -1;
	}
	if (vc->is_file)
		return 0;
	do
		n = pread(vc->fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : 0;
}

VMGEN_EXPORT int vmgen_vmclock_can_notify(struct vmgen_vmclock *vc)
{
	struct pollfd p;
	int r;

	if (!vc) {
		errno = EINVAL;
		return -1;
	}
	if (vc->is_file)
		return 0;
	if (vmgen_vmclock_rearm(vc) < 0)
		return -1;
	p.fd = vc->fd;
	p.events = POLLIN;
	p.revents = 0;
	do
		r = poll(&p, 1, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -1;
	/*
	 * POLLHUP: the host does not notify.  POLLOUT: the driver has no
	 * poll() at all (the default mask), as before Linux 7.0.
	 */
	if (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLOUT | POLLWRNORM))
		return 0;
	return 1;
}

VMGEN_EXPORT int vmgen_vmclock_wait(struct vmgen_vmclock *vc, int timeout_ms)
{
	struct pollfd p;
	int r;

	if (!vc) {
		errno = EINVAL;
		return -1;
	}
	if (vc->is_file) {
		errno = EOPNOTSUPP;
		return -1;
	}
	p.fd = vc->fd;
	p.events = POLLIN;
	p.revents = 0;
	r = poll(&p, 1, timeout_ms);
	if (r < 0)
		return -1;
	if (r == 0)
		return 0;
	if (p.revents & (POLLHUP | POLLOUT)) {
		errno = EOPNOTSUPP;
		return -1;
	}
	if (p.revents & (POLLERR | POLLNVAL)) {
		errno = EIO;
		return -1;
	}
	if (vmgen_vmclock_rearm(vc) < 0)
		return -1;
	return 1;
}

VMGEN_EXPORT int vmgen_vmclock_wait_change(struct vmgen_vmclock *vc,
					   struct vmgen_vmclock_counters *last,
					   int timeout_ms)
{
	struct vmgen_vmclock_counters now;
	int64_t deadline = 0;
	int r, left = timeout_ms;

	if (!vc || !last) {
		errno = EINVAL;
		return -1;
	}
	if (timeout_ms >= 0)
		deadline = vmgen_lib_now_ns() + (int64_t)timeout_ms * 1000000;
	for (;;) {
		if (vmgen_vmclock_read(vc, &now) < 0)
			return -1;
		if (now.generation != last->generation ||
		    now.disruption_marker != last->disruption_marker) {
			*last = now;
			return 1;
		}
		if (timeout_ms >= 0) {
			int64_t rest = deadline - vmgen_lib_now_ns();

			if (rest <= 0)
				return 0;
			left = (int)((rest + 999999) / 1000000);
		}
		r = vmgen_vmclock_wait(vc, left);
		if (r <= 0)
			return r;
	}
}

#ifndef VMGEN_VERSION		/* set by the Makefile from ../VERSION */
#define VMGEN_VERSION "unknown"
#endif

VMGEN_EXPORT const char *vmgen_version(void)
{
	return VMGEN_VERSION;
}
