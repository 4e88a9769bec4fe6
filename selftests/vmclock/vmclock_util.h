/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the VMClock selftests: the page layout (written down
 * here independently of any driver header, so the tests check the ABI rather
 * than echo it), seqcount reads of a mapping, host requests sent from a
 * helper thread while the test thread blocks in poll(), and a few harness
 * macros. Include it after kselftest_harness.h.
 */
#ifndef VMGEN_VMCLOCK_UTIL_H
#define VMGEN_VMCLOCK_UTIL_H

#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rigctl.h"

#define VMCLOCK_DEV_ENV "VMCLOCK_DEV"
#define VMCLOCK_DEV_DEFAULT "/dev/vmclock0"

#define VMCLOCK_MAGIC 0x4b4c4356U /* "VCLK" */
#define VMCLOCK_SIZE 0x1000U

#define VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT (1ULL << 8)
#define VMCLOCK_FLAG_NOTIFICATION_PRESENT (1ULL << 9)

/* struct vmclock_abi, all fields little-endian. */
struct vmclock_page {
	uint32_t magic;
	uint32_t size;
	uint16_t version;
	uint8_t counter_id;
	uint8_t time_type;
	uint32_t seq_count;
	uint64_t disruption_marker;
	uint64_t flags;
	uint8_t pad[2];
	uint8_t clock_status;
	uint8_t leap_second_smearing_hint;
	int16_t tai_offset_sec;
	uint8_t leap_indicator;
	uint8_t counter_period_shift;
	uint64_t counter_value;
	uint64_t counter_period_frac_sec;
	uint64_t counter_period_esterror_rate_frac_sec;
	uint64_t counter_period_maxerror_rate_frac_sec;
	uint64_t time_sec;
	uint64_t time_frac_sec;
	uint64_t time_esterror_nanosec;
	uint64_t time_maxerror_nanosec;
	uint64_t vm_generation_counter;
};

#define VMCLOCK_PAGE_LEN 112

_Static_assert(sizeof(struct vmclock_page) == VMCLOCK_PAGE_LEN, "page size");
_Static_assert(offsetof(struct vmclock_page, seq_count) == 0x0c, "seq_count");
_Static_assert(offsetof(struct vmclock_page, disruption_marker) == 0x10, "marker");
_Static_assert(offsetof(struct vmclock_page, clock_status) == 0x22, "clock_status");
_Static_assert(offsetof(struct vmclock_page, counter_value) == 0x28, "counter_value");
_Static_assert(offsetof(struct vmclock_page, time_sec) == 0x48, "time_sec");
_Static_assert(offsetof(struct vmclock_page, time_frac_sec) == 0x50, "time_frac_sec");
_Static_assert(offsetof(struct vmclock_page, vm_generation_counter) == 0x68, "gen");

/* Native-endian views of the fields the tests look at. */
static inline uint32_t page_magic(const struct vmclock_page *p) { return le32toh(p->magic); }
static inline uint32_t page_region_size(const struct vmclock_page *p) { return le32toh(p->size); }
static inline uint16_t page_version(const struct vmclock_page *p) { return le16toh(p->version); }
static inline uint32_t page_seq(const struct vmclock_page *p) { return le32toh(p->seq_count); }
static inline uint64_t page_flags(const struct vmclock_page *p) { return le64toh(p->flags); }
static inline uint64_t page_marker(const struct vmclock_page *p) { return le64toh(p->disruption_marker); }
static inline uint64_t page_gen(const struct vmclock_page *p) { return le64toh(p->vm_generation_counter); }

static inline const char *vmclock_dev_path(void)
{
	const char *path = getenv(VMCLOCK_DEV_ENV);

	return path && *path ? path : VMCLOCK_DEV_DEFAULT;
}

/* "vmclock0" for /dev/vmclock0: the misc device's name in sysfs. */
static inline void vmclock_dev_name(char *name, size_t len)
{
	char copy[256];

	snprintf(copy, sizeof(copy), "%s", vmclock_dev_path());
	snprintf(name, len, "%s", basename(copy));
}

static inline long page_bytes(void)
{
	return sysconf(_SC_PAGESIZE);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* The whole 112-byte structure through the driver's read(); returns pread's result. */
static inline ssize_t vmclock_pread(int fd, struct vmclock_page *page)
{
	return pread(fd, page, sizeof(*page), 0);
}

static inline uint32_t map_seq(const void *map)
{
	const uint32_t *seq = (const uint32_t *)((const char *)map +
						 offsetof(struct vmclock_page, seq_count));

	return le32toh(__atomic_load_n(seq, __ATOMIC_ACQUIRE));
}

/*
 * Consistent copy of the structure from a mapping, the way Firecracker's
 * guest tool and aws-lc read it: even seq, copy, same seq again. Every field
 * is 8-byte aligned within the struct, so each word is one load and a torn
 * value can only come from a broken seqcount. Returns 0, or -1 when no
 * consistent copy was seen in max_tries attempts.
 */
static inline int vmclock_map_snapshot(const void *map, struct vmclock_page *out,
				       long max_tries)
{
	const uint64_t *words = map;
	uint64_t copy[VMCLOCK_PAGE_LEN / 8];
	uint32_t seq;
	long tries;
	size_t i;

	for (tries = 0; tries < max_tries; tries++) {
		seq = map_seq(map);
		if (seq & 1)
			continue;
		for (i = 0; i < VMCLOCK_PAGE_LEN / 8; i++)
			copy[i] = __atomic_load_n(&words[i], __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (map_seq(map) == seq) {
			memcpy(out, copy, sizeof(*out));
			return 0;
		}
	}
	return -1;
}

/*
 * A host request running on its own thread, so that the test thread can be
 * blocked in poll() when the host's notification arrives.
 */
struct rig_request {
	pthread_t thread;
	unsigned int delay_ms;
	char words[256];
	char reply[512];
	int status;
};

static inline void *rig_request_main(void *arg)
{
	struct rig_request *req = arg;

	if (req->delay_ms)
		sleep_ms(req->delay_ms);
	req->status = rigctl(req->reply, sizeof(req->reply), "%s", req->words);
	return NULL;
}

static inline int rig_request_start(struct rig_request *req, unsigned int delay_ms,
				    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Returns 0 when the thread started. */
static inline int rig_request_start(struct rig_request *req, unsigned int delay_ms,
				    const char *fmt, ...)
{
	va_list ap;

	memset(req, 0, sizeof(*req));
	req->delay_ms = delay_ms;
	va_start(ap, fmt);
	vsnprintf(req->words, sizeof(req->words), fmt, ap);
	va_end(ap);
	return pthread_create(&req->thread, NULL, rig_request_main, req);
}

/* Waits for the request; returns rigctl()'s result, reply in req->reply. */
static inline int rig_request_finish(struct rig_request *req)
{
	pthread_join(req->thread, NULL);
	return req->status;
}

static inline int poll_one(int fd, short events, int timeout_ms, short *revents)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int ret;

	ret = poll(&pfd, 1, timeout_ms);
	*revents = ret > 0 ? pfd.revents : 0;
	return ret;
}

static inline const char *open_mode_name(int flags)
{
	switch (flags & O_ACCMODE) {
	case O_RDONLY:
		return "O_RDONLY";
	case O_WRONLY:
		return "O_WRONLY";
	default:
		return "O_RDWR";
	}
}

/*
 * ---- for kselftest_harness.h tests ------------------------------------
 * The harness's EXPECT_*()/ASSERT_*() expand to more than one statement
 * (so that TH_LOG() can follow them): brace them under if/else.
 */

#define RIG_UNAVAILABLE_REASON \
	"not running under the vmgen rig (no vmgen.ctl virtio port)"
#define NO_NOTIFICATIONS_REASON \
	"device does not advertise notifications (flags bit 9 NOTIFICATION_PRESENT clear)"

/*
 * Opens the device for a fixture, skipping the test when there is no device
 * (no driver bound, or not a guest with VMClock at all) or no permission.
 */
#define OPEN_DEVICE_OR_SKIP(fd_out, path, flags)                               \
	do {                                                                   \
		if (access(path, F_OK))                                        \
			SKIP(return, "%s: %s (no VMClock device here)", path,   \
			     strerror(errno));                                 \
		fd_out = open(path, (flags) | O_CLOEXEC);                      \
		if (fd_out < 0 && (errno == EACCES || errno == EPERM))         \
			SKIP(return, "cannot open %s %s: %s", path,            \
			     open_mode_name(flags), strerror(errno));          \
		ASSERT_LE(0, fd_out) TH_LOG("open %s %s: %s", path,           \
					    open_mode_name(flags),             \
					    strerror(errno));                  \
	} while (0)

/*
 * Whether the rig's emulator drives the device open as fd (its page shows
 * the same seq_count and counters): returns 0 if so, 1 if the test should
 * skip, -1 if asking the host failed; why says why not. Some rig guests have
 * no emulated page (QEMU's own -device vmclock); their host answers "emu"
 * requests with "err". Reads the device through fd.
 */
static inline int check_emulated_device(int fd, char *why, size_t len)
{
	unsigned long long seq, marker, gen;
	struct vmclock_page page;
	char reply[512];
	int ret;

	ret = rigctl(reply, sizeof(reply), "emu vmclock-get");
	if (ret == RIGCTL_UNAVAILABLE) {
		snprintf(why, len, "%s", RIG_UNAVAILABLE_REASON);
		return 1;
	}
	if (ret && strncmp(reply, "err ", 4)) {
		snprintf(why, len, "asking the rig host failed: %s", reply);
		return -1;
	}
	if (ret) {
		snprintf(why, len, "the rig emulates no VMClock here: %s", reply);
		return 1;
	}
	if (vmclock_pread(fd, &page) != VMCLOCK_PAGE_LEN ||
	    rigctl_get_u64(reply, "seq", &seq) ||
	    rigctl_get_u64(reply, "marker", &marker) ||
	    rigctl_get_u64(reply, "gen", &gen) || seq != page_seq(&page) ||
	    marker != page_marker(&page) || gen != page_gen(&page)) {
		snprintf(why, len, "%s is not the page the rig emulates (%s)",
			 vmclock_dev_path(), reply);
		return 1;
	}
	return 0;
}

/* For tests that drive the device from the host. */
#define REQUIRE_EMULATED_DEVICE(fd)                                           \
	do {                                                                  \
		char why_[768];                                               \
		int emulated_ = check_emulated_device(fd, why_, sizeof(why_)); \
		ASSERT_LE(0, emulated_) TH_LOG("%s", why_);                   \
		if (emulated_)                                                \
			SKIP(return, "%s", why_);                             \
	} while (0)

#define REQUIRE_NOTIFICATIONS(self)                                  \
	do {                                                         \
		if (!(self)->notifications)                          \
			SKIP(return, "%s", NO_NOTIFICATIONS_REASON); \
	} while (0)

/* Sends a host request; fails the test with the host's message on error. */
#define HOST_REPLY(reply, ...)                                                \
	do {                                                                  \
		int host_ret_ = rigctl(reply, sizeof(reply), __VA_ARGS__);    \
		ASSERT_EQ(0, host_ret_) TH_LOG("host request failed: %s", reply); \
	} while (0)

#define HOST(...)                                          \
	do {                                               \
		char host_reply_[512];                     \
		HOST_REPLY(host_reply_, __VA_ARGS__);      \
	} while (0)

#endif /* VMGEN_VMCLOCK_UTIL_H */
