// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzing libvmgen's VMClock page reader.  The input is the page: it goes
 * to vmgen_vmclock_parse() in a heap buffer of exactly its size (so that
 * AddressSanitizer sees any read past it), and to vmgen_vmclock_open() as
 * a regular file (a memfd, opened by its /proc/self/fd path: the way
 * tests hand the library a fake page), then vmgen_vmclock_read().
 *
 * Invariants: every result matches a model of the ABI written here from
 * vmclock-abi.h: short page EINVAL (parse) or EPROTO (open); seq_count
 * odd ETIMEDOUT, in bounded time; bad magic, version or size EPROTO;
 * otherwise the counters as the page holds them, the generation only when
 * flagged and inside both the page's size and the bytes given.  A handle
 * on a file never notifies.
 *
 * A page with an odd seq_count costs the reader its 100 ms of retries, so
 * only a few of them (the 1st, 2nd, 4th, 8th ... up to ODD_CHECKS) are
 * read as they are; the others get seq_count's low bit cleared (nothing
 * but seq_count decides what an odd page gives).
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vmgen/libvmgen.h>
#include <vmgen/vmclock-abi.h>

#include "fuzz.h"

#define ODD_CHECKS	6
/* 20 times the reader's own bound */
#define SLOW_NS		(2 * 1000000000LL)

#define OFF(f)		offsetof(struct vmclock_abi, f)
#define MIN_LEN		(OFF(flags) + 8)
#define GEN_END		(OFF(vm_generation_counter) + 8)

static unsigned long odd_seen, odd_checked;

static uint64_t get(const uint8_t *p, size_t off, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v |= (uint64_t)p[off + i] << (8 * i);
	return v;
}

static int64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* What reading len bytes of page p must give: 0 and *w, or an errno. */
static int model(const uint8_t *p, size_t len, int short_err,
		 struct vmgen_vmclock_counters *w)
{
	uint64_t flags;
	uint32_t size;

	memset(w, 0, sizeof(*w));
	if (len < MIN_LEN)
		return short_err;
	if (get(p, OFF(seq_count), 4) & 1)
		return ETIMEDOUT;
	size = (uint32_t)get(p, OFF(size), 4);
	if (get(p, OFF(magic), 4) != VMCLOCK_MAGIC ||
	    get(p, OFF(version), 2) != 1 || size < MIN_LEN)
		return EPROTO;
	flags = get(p, OFF(flags), 8);
	w->flags = flags;
	w->disruption_marker = get(p, OFF(disruption_marker), 8);
	w->seq_count = (uint32_t)get(p, OFF(seq_count), 4);
	if ((flags & VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT) && len >= GEN_END &&
	    size >= GEN_END) {
		w->generation = get(p, OFF(vm_generation_counter), 8);
		w->have |= VMGEN_HAVE_GENERATION;
	}
	if (flags & VMCLOCK_FLAG_NOTIFICATION_PRESENT)
		w->have |= VMGEN_HAVE_NOTIFICATION_FLAG;
	return 0;
}

static void check_result(int r, int err, int want,
			 const struct vmgen_vmclock_counters *got,
			 const struct vmgen_vmclock_counters *w, int64_t ns)
{
	if (want) {
		FUZZ_CHECK(r == -1);
		if (err != want)
			fprintf(stderr, "errno %s, the model says %s\n",
				strerror(err), strerror(want));
		FUZZ_CHECK(err == want);
	} else {
		FUZZ_CHECK(r == 0);
		FUZZ_CHECK(!(got->have & ~(VMGEN_HAVE_GENERATION |
					   VMGEN_HAVE_NOTIFICATION_FLAG)));
		FUZZ_CHECK(got->have == w->have &&
			   got->generation == w->generation &&
			   got->disruption_marker == w->disruption_marker &&
			   got->flags == w->flags &&
			   got->seq_count == w->seq_count);
	}
	/* bounded: never the hang an odd seq_count could make */
	FUZZ_CHECK(ns < SLOW_NS);
}

static void check_parse(const uint8_t *page, size_t len)
{
	struct vmgen_vmclock_counters got, w;
	int want = model(page, len, EINVAL, &w), r, err;
	int64_t t0 = mono_ns();

	memset(&got, 0xa5, sizeof(got));
	errno = 0;
	r = vmgen_vmclock_parse(page, len, &got);
	err = errno;
	check_result(r, err, want, &got, &w, mono_ns() - t0);

	/* misaligned: refused before a byte is read */
	if (len > 1) {
		errno = 0;
		FUZZ_CHECK(vmgen_vmclock_parse(page + 1, len - 1, &got) == -1 &&
			   errno == EINVAL);
	}
}

static void check_file(const uint8_t *page, size_t len)
{
	struct vmgen_vmclock_counters got, w, last;
	struct vmgen_vmclock *vc;
	long pagesz = sysconf(_SC_PAGESIZE);
	size_t maplen;
	char path[64];
	int fd, want, r, err;
	int64_t t0;

	fd = memfd_create("vmclock-fuzz", MFD_CLOEXEC);
	FUZZ_CHECK(fd >= 0);
	FUZZ_CHECK(len == 0 || write(fd, page, len) == (ssize_t)len);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	errno = 0;
	vc = vmgen_vmclock_open(path);
	err = errno;
	close(fd);
	if (len < MIN_LEN) {
		FUZZ_CHECK(vc == NULL && err == EPROTO);
		return;
	}
	FUZZ_CHECK(vc != NULL);
	FUZZ_CHECK(vmgen_vmclock_fd(vc) >= 0);
	/* the library maps one page at most, and no more than the file */
	maplen = len < (size_t)pagesz ? len : (size_t)pagesz;
	want = model(page, maplen, EPROTO, &w);
	memset(&got, 0xa5, sizeof(got));
	t0 = mono_ns();
	errno = 0;
	r = vmgen_vmclock_read(vc, &got);
	err = errno;
	check_result(r, err, want, &got, &w, mono_ns() - t0);

	/* a file: no notifications, and waiting says so at once */
	FUZZ_CHECK(vmgen_vmclock_can_notify(vc) == 0);
	FUZZ_CHECK(vmgen_vmclock_rearm(vc) == 0);
	errno = 0;
	FUZZ_CHECK(vmgen_vmclock_wait(vc, 1000) == -1 && errno == EOPNOTSUPP);
	if (!want) {
		/* unchanged counters, no wait: a timeout, at once */
		last = got;
		FUZZ_CHECK(vmgen_vmclock_wait_change(vc, &last, 0) == 0);
	}
	vmgen_vmclock_close(vc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *page = malloc(size ? size : 1);

	FUZZ_CHECK(page);
	if (size)
		memcpy(page, data, size);
	if (size >= OFF(seq_count) + 4 && (page[OFF(seq_count)] & 1)) {
		odd_seen++;
		/* powers of two, and only so many */
		if ((odd_seen & (odd_seen - 1)) || odd_checked >= ODD_CHECKS)
			page[OFF(seq_count)] &= (uint8_t)~1u;
		else
			odd_checked++;
	}
	check_parse(page, size);
	check_file(page, size);
	free(page);
	return 0;
}

/* A valid page, the way fakedev vmclock-init makes one. */
static void page_init(uint8_t *p, size_t len)
{
	struct vmclock_abi *a = (struct vmclock_abi *)(void *)p;

	memset(p, 0, len);
	a->magic = htole32(VMCLOCK_MAGIC);
	a->size = htole32((uint32_t)len);
	a->version = htole16(1);
	a->seq_count = htole32(2);
	a->disruption_marker = htole64(7);
	a->flags = htole64(VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT |
			   VMCLOCK_FLAG_NOTIFICATION_PRESENT);
	a->vm_generation_counter = htole64(9);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static union {
		uint8_t b[4096];
		uint64_t align;
	} u;
	struct vmgen_vmclock_counters c;
	int64_t t0;

	(void)argc;
	(void)argv;
	/*
	 * Known answers first: a model that agreed with a wrong reader
	 * would prove nothing.
	 */
	page_init(u.b, sizeof(u.b));
	FUZZ_CHECK(vmgen_vmclock_parse(u.b, sizeof(u.b), &c) == 0 &&
		   c.generation == 9 && c.disruption_marker == 7 &&
		   c.seq_count == 2 &&
		   c.have == (VMGEN_HAVE_GENERATION |
			      VMGEN_HAVE_NOTIFICATION_FLAG));
	check_parse(u.b, sizeof(u.b));
	check_file(u.b, sizeof(u.b));
	u.b[OFF(seq_count)] = 3;
	t0 = mono_ns();
	errno = 0;
	FUZZ_CHECK(vmgen_vmclock_parse(u.b, sizeof(u.b), &c) == -1 &&
		   errno == ETIMEDOUT && mono_ns() - t0 < SLOW_NS);
	check_file(u.b, sizeof(u.b));
	page_init(u.b, sizeof(u.b));
	u.b[OFF(version)] = 2;
	errno = 0;
	FUZZ_CHECK(vmgen_vmclock_parse(u.b, sizeof(u.b), &c) == -1 &&
		   errno == EPROTO);
	page_init(u.b, GEN_END - 1);
	FUZZ_CHECK(vmgen_vmclock_parse(u.b, GEN_END - 1, &c) == 0 &&
		   !(c.have & VMGEN_HAVE_GENERATION) && c.generation == 0);
	check_file(u.b, MIN_LEN - 1);
	return 0;
}
