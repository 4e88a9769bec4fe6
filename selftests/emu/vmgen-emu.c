// SPDX-License-Identifier: GPL-2.0
/*
 * vmgen-emu: host-side emulator of a Firecracker-style VMClock page and a
 * VMGenID buffer living in a QEMU guest's shared RAM file.
 *
 * The guest's RAM is a file (QEMU memory-backend-file, share=on); below
 * 2 GiB a file offset equals the guest physical address. This program maps
 * the two pages it owns and rewrites them the way Firecracker does, then
 * raises the guest's notification by writing one byte into a spare UART's
 * chardev socket (bit 0: VMClock, bit 1: VMGenID); the SSDT in
 * selftests/rig/acpi/vmgen-emu.asl turns that byte into ACPI Notify()s.
 *
 * Commands come from -c arguments or from stdin, one per line; every command
 * line gets exactly one reply line, "ok key=value ..." or "err message".
 * The command set is documented in docs/rig-protocol.md.
 *
 * Every write to the VMClock page is a single naturally aligned store done
 * with the GCC __atomic builtins, ordered by release fences/stores as the
 * seqcount protocol needs, so a guest reader can never see a torn update.
 */
#define _GNU_SOURCE
#include <assert.h>
#include <ctype.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

/* ---- VMClock page layout (struct vmclock_abi, little-endian) ---------- */

#define VCLK_MAGIC		0x4b4c4356u	/* "VCLK" */
#define VCLK_REGION		0x1000u		/* the device's 4 KiB region */
#define VCLK_STRUCT_SIZE	0x70u

#define VCLK_FLAG_VM_GEN_COUNTER_PRESENT	(1ull << 8)
#define VCLK_FLAG_NOTIFICATION_PRESENT		(1ull << 9)
#define VCLK_COUNTER_INVALID			0xffu

/* Byte offsets; see docs (vmclock.md) and the UAPI header. */
#define OFF_MAGIC		0x00	/* u32 */
#define OFF_SIZE		0x04	/* u32 */
#define OFF_VERSION		0x08	/* u16 */
#define OFF_COUNTER_ID		0x0a	/* u8 */
#define OFF_TIME_TYPE		0x0b	/* u8 */
#define OFF_SEQ			0x0c	/* u32 */
#define OFF_MARKER		0x10	/* u64 disruption_marker */
#define OFF_FLAGS		0x18	/* u64 */
#define OFF_PAD			0x20	/* u8[2] */
#define OFF_CLOCK_STATUS	0x22	/* u8 */
#define OFF_SMEAR_HINT		0x23	/* u8 leap_second_smearing_hint */
#define OFF_TAI_OFFSET		0x24	/* s16 tai_offset_sec */
#define OFF_LEAP_INDICATOR	0x26	/* u8 */
#define OFF_PERIOD_SHIFT	0x27	/* u8 counter_period_shift */
#define OFF_COUNTER_VALUE	0x28	/* u64 */
#define OFF_PERIOD_FRAC		0x30	/* u64 counter_period_frac_sec */
#define OFF_PERIOD_ESTERR	0x38	/* u64 */
#define OFF_PERIOD_MAXERR	0x40	/* u64 */
#define OFF_TIME_SEC		0x48	/* u64 */
#define OFF_TIME_FRAC		0x50	/* u64 time_frac_sec */
#define OFF_TIME_ESTERR		0x58	/* u64 time_esterror_nanosec */
#define OFF_TIME_MAXERR		0x60	/* u64 time_maxerror_nanosec */
#define OFF_GEN			0x68	/* u64 vm_generation_counter */

static_assert(OFF_GEN + 8 == VCLK_STRUCT_SIZE, "vmclock_abi is 0x70 bytes");
static_assert(OFF_SEQ % 4 == 0 && OFF_MARKER % 8 == 0 && OFF_GEN % 8 == 0,
	      "seq and counters must be naturally aligned");

struct field {
	const char *name;
	uint16_t off;
	uint8_t size;		/* 1, 2, 4 or 8 bytes */
	bool is_signed;
};

/* Every field of the page, plus short aliases used by the rig. */
static const struct field fields[] = {
	{ "magic",				OFF_MAGIC,		4, false },
	{ "size",				OFF_SIZE,		4, false },
	{ "version",				OFF_VERSION,		2, false },
	{ "counter_id",				OFF_COUNTER_ID,		1, false },
	{ "time_type",				OFF_TIME_TYPE,		1, false },
	{ "seq_count",				OFF_SEQ,		4, false },
	{ "disruption_marker",			OFF_MARKER,		8, false },
	{ "flags",				OFF_FLAGS,		8, false },
	{ "pad",				OFF_PAD,		2, false },
	{ "clock_status",			OFF_CLOCK_STATUS,	1, false },
	{ "leap_second_smearing_hint",		OFF_SMEAR_HINT,		1, false },
	{ "tai_offset_sec",			OFF_TAI_OFFSET,		2, true },
	{ "leap_indicator",			OFF_LEAP_INDICATOR,	1, false },
	{ "counter_period_shift",		OFF_PERIOD_SHIFT,	1, false },
	{ "counter_value",			OFF_COUNTER_VALUE,	8, false },
	{ "counter_period_frac_sec",		OFF_PERIOD_FRAC,	8, false },
	{ "counter_period_esterror_rate_frac_sec", OFF_PERIOD_ESTERR,	8, false },
	{ "counter_period_maxerror_rate_frac_sec", OFF_PERIOD_MAXERR,	8, false },
	{ "time_sec",				OFF_TIME_SEC,		8, false },
	{ "time_frac_sec",			OFF_TIME_FRAC,		8, false },
	{ "time_esterror_nanosec",		OFF_TIME_ESTERR,	8, false },
	{ "time_maxerror_nanosec",		OFF_TIME_MAXERR,	8, false },
	{ "vm_generation_counter",		OFF_GEN,		8, false },
	/* aliases */
	{ "seq",				OFF_SEQ,		4, false },
	{ "marker",				OFF_MARKER,		8, false },
	{ "gen",				OFF_GEN,		8, false },
};
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/*
 * If the project's UAPI header is present, check our offsets against it.
 * Build with -DVMGEN_EMU_NO_ABI_HEADER to stay fully standalone.
 */
#if !defined(VMGEN_EMU_NO_ABI_HEADER) && defined(__has_include)
#if __has_include("../../include/uapi/vmgen/vmclock-abi.h")
#include "../../include/uapi/vmgen/vmclock-abi.h"
#define ABI_CHECK(f, o) \
	static_assert(offsetof(struct vmclock_abi, f) == (o), #f " offset")
ABI_CHECK(magic, OFF_MAGIC);
ABI_CHECK(size, OFF_SIZE);
ABI_CHECK(version, OFF_VERSION);
ABI_CHECK(counter_id, OFF_COUNTER_ID);
ABI_CHECK(time_type, OFF_TIME_TYPE);
ABI_CHECK(seq_count, OFF_SEQ);
ABI_CHECK(disruption_marker, OFF_MARKER);
ABI_CHECK(flags, OFF_FLAGS);
ABI_CHECK(clock_status, OFF_CLOCK_STATUS);
ABI_CHECK(leap_second_smearing_hint, OFF_SMEAR_HINT);
ABI_CHECK(tai_offset_sec, OFF_TAI_OFFSET);
ABI_CHECK(leap_indicator, OFF_LEAP_INDICATOR);
ABI_CHECK(counter_period_shift, OFF_PERIOD_SHIFT);
ABI_CHECK(counter_value, OFF_COUNTER_VALUE);
ABI_CHECK(counter_period_frac_sec, OFF_PERIOD_FRAC);
ABI_CHECK(counter_period_esterror_rate_frac_sec, OFF_PERIOD_ESTERR);
ABI_CHECK(counter_period_maxerror_rate_frac_sec, OFF_PERIOD_MAXERR);
ABI_CHECK(time_sec, OFF_TIME_SEC);
ABI_CHECK(time_frac_sec, OFF_TIME_FRAC);
ABI_CHECK(time_esterror_nanosec, OFF_TIME_ESTERR);
ABI_CHECK(time_maxerror_nanosec, OFF_TIME_MAXERR);
ABI_CHECK(vm_generation_counter, OFF_GEN);
static_assert(sizeof(struct vmclock_abi) == VCLK_STRUCT_SIZE, "abi size");
#endif
#endif

#define VGEN_ID_LEN	16

#define NOTIFY_VMCLOCK	0x01
#define NOTIFY_VMGENID	0x02

#define UART_CONNECT_TIMEOUT_MS	5000
#define MAX_ARGS		64
#define REPLY_MAX		512

/* ---- global state ------------------------------------------------------ */

static uint8_t *vclk;		/* the VMClock page (4 KiB) */
static uint8_t *vgen;		/* the 16-byte VMGenID */
static const char *uart_path;
static int uart_fd = -1;
static bool verbose;

static pthread_t hammer_thread;
static bool hammer_joinable;	/* started and not yet joined */
static int hammer_active;	/* atomic: thread is writing the page */
static uint64_t hammer_ms;
static uint64_t hammer_updates;	/* written by the thread, read after join */

/* notify-storm: a thread writing notification bytes as fast as it can. */
static pthread_t storm_thread;
static bool storm_joinable;	/* started and not yet joined */
static int storm_active;	/* atomic: the thread runs */
static int storm_writes;	/* atomic: ... and it writes the devices */
static uint64_t storm_count, storm_ms, storm_gap_us;
static uint8_t storm_byte;
static uint64_t storm_sent, storm_events, storm_elapsed_ms;
static int storm_failed;
static char storm_err[REPLY_MAX];
/* The storm thread and the command loop both write to the UART socket. */
static pthread_mutex_t uart_lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- page access: single aligned stores only -------------------------- */

static uint64_t pg_load(unsigned int off, unsigned int size, int order)
{
	void *p = vclk + off;

	switch (size) {
	case 1:
		return __atomic_load_n((uint8_t *)p, order);
	case 2:
		return le16toh(__atomic_load_n((uint16_t *)p, order));
	case 4:
		return le32toh(__atomic_load_n((uint32_t *)p, order));
	default:
		return le64toh(__atomic_load_n((uint64_t *)p, order));
	}
}

static void pg_store(unsigned int off, unsigned int size, uint64_t v,
		     int order)
{
	void *p = vclk + off;

	switch (size) {
	case 1:
		__atomic_store_n((uint8_t *)p, (uint8_t)v, order);
		break;
	case 2:
		__atomic_store_n((uint16_t *)p, htole16((uint16_t)v), order);
		break;
	case 4:
		__atomic_store_n((uint32_t *)p, htole32((uint32_t)v), order);
		break;
	default:
		__atomic_store_n((uint64_t *)p, htole64(v), order);
		break;
	}
}

static uint32_t seq_load(void)
{
	return (uint32_t)pg_load(OFF_SEQ, 4, __ATOMIC_ACQUIRE);
}

static uint64_t ld64(unsigned int off)
{
	return pg_load(off, 8, __ATOMIC_RELAXED);
}

static void st64(unsigned int off, uint64_t v)
{
	pg_store(off, 8, v, __ATOMIC_RELAXED);
}

/*
 * Writer side of the seqcount: make seq odd, then a release fence so the
 * odd value is visible before any of the data stores that follow.
 * Returns the odd value.
 */
static uint32_t seq_begin(void)
{
	uint32_t s = (uint32_t)pg_load(OFF_SEQ, 4, __ATOMIC_RELAXED) | 1u;

	pg_store(OFF_SEQ, 4, s, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	return s;
}

/* Data stores done: release fence, then the even seq with release. */
static uint32_t seq_end(uint32_t odd)
{
	uint32_t s = odd + 1;

	__atomic_thread_fence(__ATOMIC_RELEASE);
	pg_store(OFF_SEQ, 4, s, __ATOMIC_RELEASE);
	return s;
}

/* ---- number and argument parsing -------------------------------------- */

/* Decimal or 0x-hex, no sign, no trailing junk, no overflow. */
static int parse_u64(const char *s, uint64_t *out)
{
	const char *digits = s;
	char *end;
	int base = 10;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		digits = s + 2;
		base = 16;
	}
	if (base == 16 ? !isxdigit((unsigned char)digits[0])
		       : !(digits[0] >= '0' && digits[0] <= '9'))
		return -1;
	errno = 0;
	*out = strtoull(digits, &end, base);
	if (errno || *end)
		return -1;
	return 0;
}

/*
 * A value for a field of `size` bytes: must fit unsigned, or (signed
 * fields only) may be negative down to the field's minimum. The result is
 * truncated to the field width (two's complement).
 */
static int parse_field_value(const char *s, unsigned int size, bool is_signed,
			     uint64_t *out)
{
	unsigned int bits = size * 8;
	uint64_t max = bits == 64 ? UINT64_MAX : (1ull << bits) - 1;
	uint64_t v;

	if (s[0] == '-') {
		if (!is_signed || parse_u64(s + 1, &v) || v > (1ull << (bits - 1)))
			return -1;
		*out = (0 - v) & max;
		return 0;
	}
	if (parse_u64(s, &v) || v > max)
		return -1;
	*out = v;
	return 0;
}

/* RAM sizes may carry a K, M or G suffix (binary units). */
static int parse_size(const char *s, uint64_t *out)
{
	char buf[64];
	size_t n = strlen(s);
	unsigned int shift = 0;
	uint64_t v;

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, s, n + 1);
	switch (buf[n - 1]) {
	case 'k': case 'K': shift = 10; break;
	case 'm': case 'M': shift = 20; break;
	case 'g': case 'G': shift = 30; break;
	}
	if (shift) {
		if (n > 2 && (buf[1] == 'x' || buf[1] == 'X'))
			return -1;	/* "0x10M" is ambiguous: reject */
		buf[n - 1] = '\0';
	}
	if (parse_u64(buf, &v) || (shift && v > (UINT64_MAX >> shift)))
		return -1;
	*out = v << shift;
	return 0;
}

struct kv {
	const char *key;
	const char *val;
};

/* Split "key=value" words; returns -1 (and sets the reply) if malformed. */
static int split_kv(int argc, char **argv, struct kv *kv, char *out, size_t sz)
{
	for (int i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');

		if (!eq || eq == argv[i]) {
			snprintf(out, sz, "expected key=value, got '%.64s'", argv[i]);
			return -1;
		}
		*eq = '\0';
		kv[i].key = argv[i];
		kv[i].val = eq + 1;
	}
	return 0;
}

/*
 * Option parsing for commands taking "key=value" options: `keys` lists
 * allowed names; vals[i] receives the value (unset entries untouched),
 * limited to max[i].
 */
static int get_opts(int argc, char **argv, const char *const *keys,
		    const uint64_t *max, uint64_t *vals, bool *given,
		    char *out, size_t sz)
{
	struct kv kv[MAX_ARGS];

	if (split_kv(argc, argv, kv, out, sz))
		return -1;
	for (int i = 0; i < argc; i++) {
		int k;

		for (k = 0; keys[k]; k++)
			if (!strcmp(keys[k], kv[i].key))
				break;
		if (!keys[k]) {
			snprintf(out, sz, "unknown key '%.64s'", kv[i].key);
			return -1;
		}
		if (parse_u64(kv[i].val, &vals[k]) || vals[k] > max[k]) {
			snprintf(out, sz, "bad value for %s: '%.64s'", keys[k],
				 kv[i].val);
			return -1;
		}
		if (given)
			given[k] = true;
	}
	return 0;
}

static const struct field *find_field(const char *name)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (!strcmp(fields[i].name, name))
			return &fields[i];
	return NULL;
}

/* ---- UART notification ------------------------------------------------- */

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Connect to the QEMU chardev socket, retrying while it does not exist. */
static int uart_connect(char *out, size_t sz)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	uint64_t deadline = now_ms() + UART_CONNECT_TIMEOUT_MS;
	int err;

	if (strlen(uart_path) >= sizeof(sa.sun_path)) {
		snprintf(out, sz, "uart path too long");
		return -1;
	}
	strcpy(sa.sun_path, uart_path);
	for (;;) {
		int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

		if (fd < 0) {
			snprintf(out, sz, "uart socket: %s", strerror(errno));
			return -1;
		}
		if (!connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
			uart_fd = fd;
			return 0;
		}
		err = errno;
		close(fd);
		if ((err != ENOENT && err != ECONNREFUSED && err != EAGAIN) ||
		    now_ms() >= deadline)
			break;
		sleep_ms(50);
	}
	snprintf(out, sz, "uart connect %.200s: %s", uart_path, strerror(err));
	return -1;
}

/*
 * Discard anything the guest wrote to the UART (it should not write, but a
 * full socket buffer must never stall QEMU) and notice a closed peer.
 * Returns -1 if the peer has gone.
 */
static int uart_drain(void)
{
	char buf[256];

	for (;;) {
		ssize_t n = recv(uart_fd, buf, sizeof(buf), MSG_DONTWAIT);

		if (n > 0)
			continue;
		if (n == 0)
			return -1;
		if (errno == EINTR)
			continue;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : -1;
	}
}

static void uart_close(void)
{
	if (uart_fd >= 0)
		close(uart_fd);
	uart_fd = -1;
}

/* Write the one notification byte; reconnects once if QEMU went away. */
static int uart_notify_locked(uint8_t byte, char *out, size_t sz)
{
	if (!uart_path) {
		snprintf(out, sz, "no uart");
		return -1;
	}
	for (int attempt = 0; attempt < 2; attempt++) {
		ssize_t n;

		if (uart_fd >= 0 && uart_drain())
			uart_close();
		if (uart_fd < 0 && uart_connect(out, sz))
			return -1;
		do
			n = send(uart_fd, &byte, 1, MSG_NOSIGNAL);
		while (n < 0 && errno == EINTR);
		if (n == 1) {
			if (verbose)
				fprintf(stderr, "vmgen-emu: uart byte %u\n", byte);
			return 0;
		}
		snprintf(out, sz, "uart write: %s",
			 n < 0 ? strerror(errno) : "short write");
		uart_close();
	}
	return -1;
}

static int uart_notify(uint8_t byte, char *out, size_t sz)
{
	int ret;

	pthread_mutex_lock(&uart_lock);
	ret = uart_notify_locked(byte, out, sz);
	pthread_mutex_unlock(&uart_lock);
	return ret;
}

/* ---- commands ---------------------------------------------------------- */

typedef int (*cmd_fn)(int argc, char **argv, char *out, size_t sz);

static const uint64_t BOOL_MAX = 1;

static int cmd_vmclock_init(int argc, char **argv, char *out, size_t sz)
{
	static const char *const keys[] = {
		"flags", "counter_id", "size", "version", "magic", "gen",
		"marker", "seq", "time_type", "clock_status", NULL
	};
	static const uint64_t max[] = {
		UINT64_MAX, 0xff, UINT32_MAX, 0xffff, UINT32_MAX, UINT64_MAX,
		UINT64_MAX, UINT32_MAX, 0xff, 0xff
	};
	uint64_t v[] = {
		VCLK_FLAG_VM_GEN_COUNTER_PRESENT | VCLK_FLAG_NOTIFICATION_PRESENT,
		VCLK_COUNTER_INVALID, VCLK_REGION, 1, VCLK_MAGIC, 0, 0, 0, 0, 0
	};

	if (get_opts(argc, argv, keys, max, v, NULL, out, sz))
		return -1;

	/*
	 * Pre-boot nobody is reading, but the rig may also re-init a page a
	 * running guest watches: do it under an odd seq, zeroing with
	 * aligned stores, and finish with the requested seq value.
	 */
	seq_begin();
	for (unsigned int off = 0; off < VCLK_REGION; off += 8)
		if (off != (OFF_SEQ & ~7u))
			st64(off, 0);
	/* the word holding seq: clear version/counter_id/time_type only */
	pg_store(OFF_VERSION, 4, 0, __ATOMIC_RELAXED);

	pg_store(OFF_MAGIC, 4, v[4], __ATOMIC_RELAXED);
	pg_store(OFF_SIZE, 4, v[2], __ATOMIC_RELAXED);
	pg_store(OFF_VERSION, 2, v[3], __ATOMIC_RELAXED);
	pg_store(OFF_COUNTER_ID, 1, v[1], __ATOMIC_RELAXED);
	pg_store(OFF_TIME_TYPE, 1, v[8], __ATOMIC_RELAXED);
	pg_store(OFF_CLOCK_STATUS, 1, v[9], __ATOMIC_RELAXED);
	st64(OFF_FLAGS, v[0]);
	st64(OFF_MARKER, v[6]);
	st64(OFF_GEN, v[5]);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	pg_store(OFF_SEQ, 4, v[7], __ATOMIC_RELEASE);

	snprintf(out, sz, "magic=0x%" PRIx64 " size=0x%" PRIx64 " version=%"
		 PRIu64 " seq=%" PRIu64 " marker=%" PRIu64 " gen=%" PRIu64
		 " flags=0x%" PRIx64, v[4], v[2], v[3], v[7], v[6], v[5], v[0]);
	return 0;
}

static int cmd_vmclock_event(int argc, char **argv, char *out, size_t sz)
{
	static const char *const keys[] = {
		"count", "gen", "marker", "notify", NULL
	};
	static const uint64_t max[] = { 1000000, BOOL_MAX, BOOL_MAX, BOOL_MAX };
	uint64_t v[] = { 1, 1, 1, 1 };
	uint32_t seq = 0;

	if (get_opts(argc, argv, keys, max, v, NULL, out, sz))
		return -1;
	if (v[3] && !uart_path) {
		snprintf(out, sz, "no uart");
		return -1;
	}
	seq = seq_load();
	for (uint64_t i = 0; i < v[0]; i++) {
		uint32_t odd = seq_begin();

		if (v[2])
			st64(OFF_MARKER, ld64(OFF_MARKER) + 1);
		if (v[1])
			st64(OFF_GEN, ld64(OFF_GEN) + 1);
		seq = seq_end(odd);
		if (v[3] && uart_notify(NOTIFY_VMCLOCK, out, sz))
			return -1;
	}
	snprintf(out, sz, "seq=%" PRIu32 " marker=%" PRIu64 " gen=%" PRIu64,
		 seq, ld64(OFF_MARKER), ld64(OFF_GEN));
	return 0;
}

/* An ordinary clock update: the time moves on, nothing is disrupted. */
static int cmd_vmclock_seq(int argc, char **argv, char *out, size_t sz)
{
	static const char *const keys[] = { "notify", NULL };
	static const uint64_t max[] = { BOOL_MAX };
	uint64_t v[] = { 0 };
	uint32_t odd, seq;

	if (get_opts(argc, argv, keys, max, v, NULL, out, sz))
		return -1;
	if (v[0] && !uart_path) {
		snprintf(out, sz, "no uart");
		return -1;
	}
	odd = seq_begin();
	st64(OFF_COUNTER_VALUE, ld64(OFF_COUNTER_VALUE) + 1000000);
	st64(OFF_TIME_SEC, ld64(OFF_TIME_SEC) + 1);
	seq = seq_end(odd);
	if (v[0] && uart_notify(NOTIFY_VMCLOCK, out, sz))
		return -1;
	snprintf(out, sz, "seq=%" PRIu32 " counter_value=%" PRIu64
		 " time_sec=%" PRIu64, seq, ld64(OFF_COUNTER_VALUE),
		 ld64(OFF_TIME_SEC));
	return 0;
}

static int cmd_vmclock_set(int argc, char **argv, char *out, size_t sz)
{
	const struct field *f[MAX_ARGS];
	uint64_t val[MAX_ARGS];
	struct kv kv[MAX_ARGS];
	bool raw_seq = false;
	uint32_t odd = 0;

	if (argc == 0) {
		snprintf(out, sz, "usage: vmclock-set FIELD=VALUE ...");
		return -1;
	}
	if (split_kv(argc, argv, kv, out, sz))
		return -1;
	/* validate everything before touching the page */
	for (int i = 0; i < argc; i++) {
		f[i] = find_field(kv[i].key);
		if (!f[i]) {
			snprintf(out, sz, "unknown field '%.64s'", kv[i].key);
			return -1;
		}
		if (parse_field_value(kv[i].val, f[i]->size, f[i]->is_signed,
				      &val[i])) {
			snprintf(out, sz, "bad value for %s: '%.64s'",
				 f[i]->name, kv[i].val);
			return -1;
		}
		if (f[i]->off == OFF_SEQ)
			raw_seq = true;
	}
	if (!raw_seq)
		odd = seq_begin();
	for (int i = 0; i < argc; i++)
		pg_store(f[i]->off, f[i]->size, val[i],
			 raw_seq ? __ATOMIC_RELEASE : __ATOMIC_RELAXED);
	if (!raw_seq)
		seq_end(odd);
	snprintf(out, sz, "seq=%" PRIu32, seq_load());
	return 0;
}

static int cmd_vmclock_corrupt(int argc, char **argv, char *out, size_t sz)
{
	const char *kind = argc == 1 ? argv[0] : "";

	if (argc != 1) {
		snprintf(out, sz, "usage: vmclock-corrupt "
			 "magic|size|small|version|seq-odd|backwards|flags");
		return -1;
	}
	if (!strcmp(kind, "magic")) {
		pg_store(OFF_MAGIC, 4, 0, __ATOMIC_RELEASE);
		snprintf(out, sz, "magic=0x0");
	} else if (!strcmp(kind, "size")) {
		pg_store(OFF_SIZE, 4, 2 * VCLK_REGION, __ATOMIC_RELEASE);
		snprintf(out, sz, "size=0x%x", 2 * VCLK_REGION);
	} else if (!strcmp(kind, "small")) {
		pg_store(OFF_SIZE, 4, 0x10, __ATOMIC_RELEASE);
		snprintf(out, sz, "size=0x10");
	} else if (!strcmp(kind, "version")) {
		pg_store(OFF_VERSION, 2, 2, __ATOMIC_RELEASE);
		snprintf(out, sz, "version=2");
	} else if (!strcmp(kind, "seq-odd")) {
		uint32_t s = seq_load() | 1u;

		pg_store(OFF_SEQ, 4, s, __ATOMIC_RELEASE);
		snprintf(out, sz, "seq=%" PRIu32, s);
	} else if (!strcmp(kind, "backwards")) {
		uint32_t odd = seq_begin(), seq;

		st64(OFF_MARKER, ld64(OFF_MARKER) - 1);
		st64(OFF_GEN, ld64(OFF_GEN) - 1);
		seq = seq_end(odd);
		snprintf(out, sz, "seq=%" PRIu32 " marker=%" PRIu64 " gen=%"
			 PRIu64, seq, ld64(OFF_MARKER), ld64(OFF_GEN));
	} else if (!strcmp(kind, "flags")) {
		uint64_t fl = ld64(OFF_FLAGS) ^
			(VCLK_FLAG_VM_GEN_COUNTER_PRESENT |
			 VCLK_FLAG_NOTIFICATION_PRESENT);
		uint32_t odd = seq_begin();

		st64(OFF_FLAGS, fl);
		seq_end(odd);
		snprintf(out, sz, "flags=0x%" PRIx64, fl);
	} else {
		snprintf(out, sz, "unknown corruption '%.64s'", kind);
		return -1;
	}
	return 0;
}

static void *hammer_main(void *arg)
{
	uint64_t end = now_ms() + hammer_ms;
	uint64_t k = ld64(OFF_GEN), n = 0;

	(void)arg;
	do {
		/* check the clock only every 256 updates: go as fast as we can */
		for (int i = 0; i < 256; i++) {
			uint32_t odd = seq_begin();

			k++;
			st64(OFF_MARKER, k);
			st64(OFF_GEN, k);
			st64(OFF_TIME_SEC, k);
			st64(OFF_COUNTER_VALUE, k);
			st64(OFF_TIME_FRAC, ~k);
			seq_end(odd);
			n++;
		}
	} while (now_ms() < end);
	hammer_updates = n;
	__atomic_store_n(&hammer_active, 0, __ATOMIC_RELEASE);
	return NULL;
}

static void hammer_join(void)
{
	if (hammer_joinable) {
		pthread_join(hammer_thread, NULL);
		hammer_joinable = false;
	}
}

static int cmd_vmclock_hammer(int argc, char **argv, char *out, size_t sz)
{
	static const char *const keys[] = { "ms", NULL };
	static const uint64_t max[] = { 3600 * 1000 };
	uint64_t v[] = { 0 };
	bool given[1] = { false };
	int err;

	if (get_opts(argc, argv, keys, max, v, given, out, sz))
		return -1;
	if (!given[0]) {
		snprintf(out, sz, "usage: vmclock-hammer ms=N");
		return -1;
	}
	hammer_join();	/* a finished, never waited-for run */
	hammer_ms = v[0];
	hammer_updates = 0;
	__atomic_store_n(&hammer_active, 1, __ATOMIC_RELEASE);
	err = pthread_create(&hammer_thread, NULL, hammer_main, NULL);
	if (err) {
		__atomic_store_n(&hammer_active, 0, __ATOMIC_RELEASE);
		snprintf(out, sz, "pthread_create: %s", strerror(err));
		return -1;
	}
	hammer_joinable = true;
	snprintf(out, sz, "hammer=started");
	return 0;
}

static int cmd_vmclock_hammer_wait(int argc, char **argv, char *out, size_t sz)
{
	(void)argv;
	if (argc) {
		snprintf(out, sz, "usage: vmclock-hammer-wait");
		return -1;
	}
	if (!hammer_joinable) {
		snprintf(out, sz, "no hammer running");
		return -1;
	}
	hammer_join();
	snprintf(out, sz, "updates=%" PRIu64, hammer_updates);
	return 0;
}

static int cmd_vmclock_get(int argc, char **argv, char *out, size_t sz)
{
	uint64_t magic, size, version, marker, gen, flags, tsec, cval;
	uint32_t s1, s2;
	int tries = 0;

	(void)argv;
	if (argc) {
		snprintf(out, sz, "usage: vmclock-get");
		return -1;
	}
	/*
	 * Read like a guest would (seqcount), so a running hammer shows a
	 * consistent tuple; give up after a while and report what is there
	 * (seq may be stuck odd on purpose).
	 */
	do {
		s1 = seq_load();
		magic = pg_load(OFF_MAGIC, 4, __ATOMIC_RELAXED);
		size = pg_load(OFF_SIZE, 4, __ATOMIC_RELAXED);
		version = pg_load(OFF_VERSION, 2, __ATOMIC_RELAXED);
		marker = ld64(OFF_MARKER);
		gen = ld64(OFF_GEN);
		flags = ld64(OFF_FLAGS);
		tsec = ld64(OFF_TIME_SEC);
		cval = ld64(OFF_COUNTER_VALUE);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = (uint32_t)pg_load(OFF_SEQ, 4, __ATOMIC_RELAXED);
	} while (((s1 & 1) || s1 != s2) && ++tries < 100000);

	snprintf(out, sz, "magic=0x%" PRIx64 " size=0x%" PRIx64 " version=%"
		 PRIu64 " seq=%" PRIu32 " marker=%" PRIu64 " gen=%" PRIu64
		 " flags=0x%" PRIx64 " counter_id=0x%" PRIx64
		 " time_sec=%" PRIu64 " counter_value=%" PRIu64,
		 magic, size, version, s2, marker, gen, flags,
		 pg_load(OFF_COUNTER_ID, 1, __ATOMIC_RELAXED), tsec, cval);
	return 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* 32 hex digits (dashes ignored, optional 0x), bytes in memory order. */
static int parse_id(const char *s, uint8_t id[VGEN_ID_LEN])
{
	int n = 0, hi = -1;

	if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		s += 2;
	for (; *s; s++) {
		int d;

		if (*s == '-')
			continue;
		d = hexval((unsigned char)*s);
		if (d < 0 || n >= VGEN_ID_LEN)
			return -1;
		if (hi < 0) {
			hi = d;
		} else {
			id[n++] = (uint8_t)(hi << 4 | d);
			hi = -1;
		}
	}
	return (n == VGEN_ID_LEN && hi < 0) ? 0 : -1;
}

static int cmd_vmgenid_set(int argc, char **argv, char *out, size_t sz)
{
	struct kv kv[MAX_ARGS];
	uint8_t id[VGEN_ID_LEN];
	uint64_t old[2], new[2];
	const char *idarg = "random";
	uint64_t notify = 1;
	bool changed;

	if (split_kv(argc, argv, kv, out, sz))
		return -1;
	for (int i = 0; i < argc; i++) {
		if (!strcmp(kv[i].key, "id")) {
			idarg = kv[i].val;
		} else if (!strcmp(kv[i].key, "notify")) {
			if (parse_u64(kv[i].val, &notify) || notify > 1) {
				snprintf(out, sz, "bad value for notify: '%.64s'",
					 kv[i].val);
				return -1;
			}
		} else {
			snprintf(out, sz, "unknown key '%.64s'", kv[i].key);
			return -1;
		}
	}
	if (notify && !uart_path) {
		snprintf(out, sz, "no uart");
		return -1;
	}

	/* 8-byte aligned (checked at startup): two single 64-bit accesses */
	old[0] = __atomic_load_n((uint64_t *)vgen, __ATOMIC_RELAXED);
	old[1] = __atomic_load_n((uint64_t *)(vgen + 8), __ATOMIC_RELAXED);
	if (!strcmp(idarg, "same")) {
		memcpy(new, old, sizeof(new));
	} else if (!strcmp(idarg, "random")) {
		if (getrandom(id, sizeof(id), 0) != (ssize_t)sizeof(id)) {
			snprintf(out, sz, "getrandom: %s", strerror(errno));
			return -1;
		}
		memcpy(new, id, sizeof(new));
	} else if (!parse_id(idarg, id)) {
		memcpy(new, id, sizeof(new));
	} else {
		snprintf(out, sz, "bad id (want 32 hex digits, random or same)");
		return -1;
	}
	changed = memcmp(old, new, sizeof(old)) != 0;
	__atomic_store_n((uint64_t *)vgen, new[0], __ATOMIC_RELAXED);
	__atomic_store_n((uint64_t *)(vgen + 8), new[1], __ATOMIC_RELEASE);
	if (verbose) {
		const uint8_t *b = (const uint8_t *)new;

		fprintf(stderr, "vmgen-emu: vmgenid ");
		for (int i = 0; i < VGEN_ID_LEN; i++)
			fprintf(stderr, "%02x", b[i]);
		fprintf(stderr, "\n");
	}
	if (notify && uart_notify(NOTIFY_VMGENID, out, sz))
		return -1;
	snprintf(out, sz, "changed=%d", changed);
	return 0;
}

static int cmd_notify(int argc, char **argv, char *out, size_t sz)
{
	uint8_t byte;

	if (argc != 1) {
		snprintf(out, sz, "usage: notify vmclock|vmgenid|both");
		return -1;
	}
	if (!strcmp(argv[0], "vmclock")) {
		byte = NOTIFY_VMCLOCK;
	} else if (!strcmp(argv[0], "vmgenid")) {
		byte = NOTIFY_VMGENID;
	} else if (!strcmp(argv[0], "both")) {
		byte = NOTIFY_VMCLOCK | NOTIFY_VMGENID;
	} else {
		snprintf(out, sz, "unknown target '%.64s'", argv[0]);
		return -1;
	}
	if (uart_notify(byte, out, sz))
		return -1;
	snprintf(out, sz, "byte=%u", byte);
	return 0;
}


/* ---- hostile host: storms and random pages ---------------------------- */

/* splitmix64: small, and the same sequence for the same seed everywhere. */
static uint64_t prng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void *storm_main(void *arg)
{
	uint64_t start = now_ms(), prng = start;
	bool event = __atomic_load_n(&storm_writes, __ATOMIC_ACQUIRE);
	char err[REPLY_MAX];

	(void)arg;
	while (!storm_count || storm_sent < storm_count) {
		if (event && (storm_byte & NOTIFY_VMCLOCK)) {
			uint32_t odd = seq_begin();

			st64(OFF_MARKER, ld64(OFF_MARKER) + 1);
			st64(OFF_GEN, ld64(OFF_GEN) + 1);
			seq_end(odd);
		}
		if (event && (storm_byte & NOTIFY_VMGENID)) {
			__atomic_store_n((uint64_t *)vgen, prng_next(&prng),
					 __ATOMIC_RELAXED);
			__atomic_store_n((uint64_t *)(vgen + 8),
					 prng_next(&prng), __ATOMIC_RELEASE);
		}
		if (event)
			storm_events++;
		if (uart_notify(storm_byte, err, sizeof(err))) {
			memcpy(storm_err, err, sizeof(storm_err));
			storm_failed = 1;
			break;
		}
		storm_sent++;
		if (storm_gap_us) {
			struct timespec ts = { storm_gap_us / 1000000,
					       (storm_gap_us % 1000000) * 1000 };

			nanosleep(&ts, NULL);
			if (storm_ms && now_ms() - start >= storm_ms)
				break;
		} else if (storm_ms && !(storm_sent % 64) &&
			   now_ms() - start >= storm_ms) {
			break;
		}
	}
	storm_elapsed_ms = now_ms() - start;
	__atomic_store_n(&storm_writes, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&storm_active, 0, __ATOMIC_RELEASE);
	return NULL;
}

static void storm_join(void)
{
	if (storm_joinable) {
		pthread_join(storm_thread, NULL);
		storm_joinable = false;
	}
}

static int cmd_notify_storm(int argc, char **argv, char *out, size_t sz)
{
	static const char *const keys[] = {
		"count", "ms", "event", "gap_us", NULL
	};
	static const uint64_t max[] = {
		100000000, 3600 * 1000, BOOL_MAX, 1000000
	};
	uint64_t v[] = { 0, 0, 0, 0 };
	bool given[4] = { false };
	char *rest[MAX_ARGS];
	int nrest = 0, err;
	uint8_t byte = NOTIFY_VMCLOCK;

	/* target= takes a word; the numeric keys go through get_opts(). */
	for (int i = 0; i < argc; i++) {
		if (strncmp(argv[i], "target=", 7)) {
			rest[nrest++] = argv[i];
			continue;
		}
		if (!strcmp(argv[i] + 7, "vmclock")) {
			byte = NOTIFY_VMCLOCK;
		} else if (!strcmp(argv[i] + 7, "vmgenid")) {
			byte = NOTIFY_VMGENID;
		} else if (!strcmp(argv[i] + 7, "both")) {
			byte = NOTIFY_VMCLOCK | NOTIFY_VMGENID;
		} else {
			snprintf(out, sz, "unknown target '%.64s'", argv[i] + 7);
			return -1;
		}
	}
	if (get_opts(nrest, rest, keys, max, v, given, out, sz))
		return -1;
	if (!v[0] && !v[1]) {
		snprintf(out, sz, "usage: notify-storm [count=N] [ms=N] "
			 "[target=vmclock|vmgenid|both] [event=0|1] [gap_us=N] "
			 "(count or ms > 0)");
		return -1;
	}
	if (!uart_path) {
		snprintf(out, sz, "no uart");
		return -1;
	}
	if (__atomic_load_n(&storm_active, __ATOMIC_ACQUIRE) ||
	    (v[2] && __atomic_load_n(&hammer_active, __ATOMIC_ACQUIRE))) {
		snprintf(out, sz, "busy");
		return -1;
	}
	storm_join();	/* a finished, never waited-for run */
	storm_count = v[0];
	storm_ms = v[1];
	storm_gap_us = v[3];
	storm_byte = byte;
	storm_sent = storm_events = storm_elapsed_ms = 0;
	storm_failed = 0;
	__atomic_store_n(&storm_writes, (int)v[2], __ATOMIC_RELEASE);
	__atomic_store_n(&storm_active, 1, __ATOMIC_RELEASE);
	err = pthread_create(&storm_thread, NULL, storm_main, NULL);
	if (err) {
		__atomic_store_n(&storm_writes, 0, __ATOMIC_RELEASE);
		__atomic_store_n(&storm_active, 0, __ATOMIC_RELEASE);
		snprintf(out, sz, "pthread_create: %s", strerror(err));
		return -1;
	}
	storm_joinable = true;
	snprintf(out, sz, "storm=started");
	return 0;
}

static int cmd_notify_storm_wait(int argc, char **argv, char *out, size_t sz)
{
	(void)argv;
	if (argc) {
		snprintf(out, sz, "usage: notify-storm-wait");
		return -1;
	}
	if (!storm_joinable) {
		snprintf(out, sz, "no storm running");
		return -1;
	}
	storm_join();
	if (storm_failed) {
		snprintf(out, sz, "after %" PRIu64 " bytes: %s", storm_sent,
			 storm_err);
		return -1;
	}
	snprintf(out, sz, "sent=%" PRIu64 " events=%" PRIu64 " ms=%" PRIu64,
		 storm_sent, storm_events, storm_elapsed_ms);
	return 0;
}

/* Sizes a hostile page claims: around every boundary the guest checks. */
static const uint32_t random_sizes[] = {
	0, 1, 0x10, 0x1f, 0x20, 0x27, 0x28, 0x50, 0x58, 0x6f, 0x70, 0x71,
	0x800, 0xfff, 0x1000, 0x1001, 0x2000, 0xffffffff,
};

/*
 * A malformed page from a seed, written raw (no seqcount: a hostile host
 * does not follow it). With valid_header=0 each of magic, size and version
 * is right half of the time; with 1 they are right and everything else,
 * seq_count and flags included, is random.
 */
static int cmd_vmclock_random_page(int argc, char **argv, char *out,
				   size_t sz)
{
	static const char *const keys[] = {
		"seed", "valid_header", "notify", NULL
	};
	static const uint64_t max[] = { UINT64_MAX, BOOL_MAX, BOOL_MAX };
	uint64_t v[] = { 0, 0, 0 };
	bool given[3] = { false };
	uint64_t prng, magic, size, version;

	if (get_opts(argc, argv, keys, max, v, given, out, sz))
		return -1;
	if (!given[0]) {
		snprintf(out, sz, "usage: vmclock-random-page seed=N "
			 "[valid_header=0|1] [notify=0|1]");
		return -1;
	}
	if (v[2] && !uart_path) {
		snprintf(out, sz, "no uart");
		return -1;
	}
	prng = v[0];
	/* Everything after the header: random words, seq_count included. */
	for (unsigned int off = 8; off < VCLK_REGION; off += 8)
		st64(off, prng_next(&prng));
	magic = prng_next(&prng);
	size = prng_next(&prng);
	version = prng_next(&prng);
	if (v[1] || (magic & 1))
		magic = VCLK_MAGIC;
	if (v[1] || (size & 1))
		size = VCLK_REGION;
	else
		size = random_sizes[(size >> 1) % (sizeof(random_sizes) /
						   sizeof(random_sizes[0]))];
	if (v[1] || (version & 1))
		version = 1;
	else
		version = (version >> 1) & 0xffff;
	pg_store(OFF_MAGIC, 4, magic, __ATOMIC_RELAXED);
	pg_store(OFF_SIZE, 4, size, __ATOMIC_RELAXED);
	pg_store(OFF_VERSION, 2, version, __ATOMIC_RELEASE);
	if (v[2] && uart_notify(NOTIFY_VMCLOCK, out, sz))
		return -1;
	snprintf(out, sz, "seed=%" PRIu64 " magic=0x%" PRIx64 " size=0x%"
		 PRIx64 " version=%" PRIu64 " seq=%" PRIu32 " flags=0x%" PRIx64,
		 v[0], magic, size, version, seq_load(), ld64(OFF_FLAGS));
	return 0;
}

static const struct command {
	const char *name;
	cmd_fn fn;
	bool while_hammering;
} commands[] = {
	{ "vmclock-init",	 cmd_vmclock_init,	  false },
	{ "vmclock-event",	 cmd_vmclock_event,	  false },
	{ "vmclock-seq",	 cmd_vmclock_seq,	  false },
	{ "vmclock-set",	 cmd_vmclock_set,	  false },
	{ "vmclock-corrupt",	 cmd_vmclock_corrupt,	  false },
	{ "vmclock-hammer",	 cmd_vmclock_hammer,	  false },
	{ "vmclock-hammer-wait", cmd_vmclock_hammer_wait, true },
	{ "vmclock-get",	 cmd_vmclock_get,	  true },
	{ "vmgenid-set",	 cmd_vmgenid_set,	  false },
	{ "notify",		 cmd_notify,		  false },
	/* These check for conflicts with the hammer themselves. */
	{ "notify-storm",	 cmd_notify_storm,	  true },
	{ "notify-storm-wait",	 cmd_notify_storm_wait,	  true },
	{ "vmclock-random-page", cmd_vmclock_random_page, false },
};

/* Run one command line; writes exactly one reply line. Returns 0 if ok. */
static int run_line(char *line)
{
	char out[REPLY_MAX] = "";
	char *argv[MAX_ARGS + 1];
	char *save = NULL, *tok;
	int argc = 0, rc = -1;

	for (tok = strtok_r(line, " \t\r\n", &save); tok;
	     tok = strtok_r(NULL, " \t\r\n", &save)) {
		if (argc == MAX_ARGS + 1) {
			snprintf(out, sizeof(out), "too many arguments");
			goto reply;
		}
		argv[argc++] = tok;
	}
	if (argc == 0) {
		snprintf(out, sizeof(out), "empty command");
		goto reply;
	}
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		if (strcmp(commands[i].name, argv[0]))
			continue;
		if (!commands[i].while_hammering &&
		    (__atomic_load_n(&hammer_active, __ATOMIC_ACQUIRE) ||
		     __atomic_load_n(&storm_writes, __ATOMIC_ACQUIRE))) {
			snprintf(out, sizeof(out), "busy");
			goto reply;
		}
		rc = commands[i].fn(argc - 1, argv + 1, out, sizeof(out));
		goto reply;
	}
	snprintf(out, sizeof(out), "unknown command '%.64s'", argv[0]);
reply:
	/* replies are single lines of printable text */
	for (char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			*p = '?';
	if (rc == 0)
		printf(*out ? "ok %s\n" : "ok\n", out);
	else
		printf("err %s\n", out);
	fflush(stdout);
	if (verbose)
		fprintf(stderr, "vmgen-emu: -> %s %s\n", rc ? "err" : "ok", out);
	return rc;
}

/* ---- setup ------------------------------------------------------------- */

/* Map [gpa, gpa+len) of the RAM file; returns a pointer to gpa. */
static uint8_t *map_window(int fd, uint64_t gpa, size_t len)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t base = gpa & ~((uint64_t)pg - 1);
	size_t maplen = (size_t)(gpa - base) + len;
	void *p;

	maplen = (maplen + (size_t)pg - 1) & ~((size_t)pg - 1);
	p = mmap(NULL, maplen, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)base);
	if (p == MAP_FAILED)
		return NULL;
	return (uint8_t *)p + (gpa - base);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vmgen-emu --ram FILE [--ram-size BYTES] [--vmclock-gpa ADDR]\n"
		"                 [--vmgenid-gpa ADDR] [--uart SOCKPATH] [-v] [-c CMD]...\n"
		"Emulates a Firecracker-style VMClock page and VMGenID in a QEMU\n"
		"guest's shared RAM file. With -c, runs the commands and exits\n"
		"(status 1 at the first failing one); otherwise reads commands\n"
		"from stdin, one reply line per command line. See\n"
		"docs/rig-protocol.md for the commands.\n");
}

#define LOW_RAM_LIMIT	(2ull << 30)	/* file offset == GPA below this */

int main(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "ram",	 required_argument, NULL, 'r' },
		{ "ram-size",	 required_argument, NULL, 's' },
		{ "vmclock-gpa", required_argument, NULL, 'k' },
		{ "vmgenid-gpa", required_argument, NULL, 'g' },
		{ "uart",	 required_argument, NULL, 'u' },
		{ "verbose",	 no_argument,	    NULL, 'v' },
		{ "help",	 no_argument,	    NULL, 'h' },
		{ NULL, 0, NULL, 0 }
	};
	uint64_t ram_size = 512ull << 20;
	uint64_t vclk_gpa = 0x0f000000, vgen_gpa = 0x0f001000;
	const char *ram = NULL;
	static char **cmds;	/* static: still reachable on early exits */
	int ncmds = 0, opt, fd, rc = 0;
	struct stat st;

	cmds = calloc((size_t)argc + 1, sizeof(*cmds));
	if (!cmds)
		return 2;
	while ((opt = getopt_long(argc, argv, "c:vh", lopts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			ram = optarg;
			break;
		case 's':
			if (parse_size(optarg, &ram_size) || !ram_size) {
				fprintf(stderr, "vmgen-emu: bad --ram-size\n");
				return 2;
			}
			break;
		case 'k':
		case 'g':
			if (parse_u64(optarg, opt == 'k' ? &vclk_gpa : &vgen_gpa)) {
				fprintf(stderr, "vmgen-emu: bad address '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'u':
			uart_path = optarg;
			break;
		case 'c':
			cmds[ncmds++] = optarg;
			break;
		case 'v':
			verbose = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!ram || optind != argc) {
		usage(stderr);
		return 2;
	}
	if (vclk_gpa % VCLK_REGION) {
		fprintf(stderr, "vmgen-emu: --vmclock-gpa must be 4 KiB aligned\n");
		return 2;
	}
	if (vgen_gpa % 8) {
		fprintf(stderr, "vmgen-emu: --vmgenid-gpa must be 8-byte aligned\n");
		return 2;
	}
	if (vclk_gpa + VCLK_REGION > LOW_RAM_LIMIT ||
	    vgen_gpa + VGEN_ID_LEN > LOW_RAM_LIMIT) {
		fprintf(stderr, "vmgen-emu: addresses must lie below 2 GiB\n");
		return 2;
	}
	if (vgen_gpa < vclk_gpa + VCLK_REGION && vgen_gpa + VGEN_ID_LEN > vclk_gpa) {
		fprintf(stderr, "vmgen-emu: VMGenID overlaps the VMClock page\n");
		return 2;
	}

	fd = open(ram, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "vmgen-emu: %s: %s\n", ram, strerror(errno));
		return 2;
	}
	if ((uint64_t)st.st_size < ram_size) {
		if (ftruncate(fd, (off_t)ram_size)) {
			fprintf(stderr, "vmgen-emu: ftruncate %s: %s\n", ram,
				strerror(errno));
			return 2;
		}
		st.st_size = (off_t)ram_size;
	}
	if (vclk_gpa + VCLK_REGION > (uint64_t)st.st_size ||
	    vgen_gpa + VGEN_ID_LEN > (uint64_t)st.st_size) {
		fprintf(stderr, "vmgen-emu: addresses beyond the end of %s\n", ram);
		return 2;
	}
	vclk = map_window(fd, vclk_gpa, VCLK_REGION);
	vgen = map_window(fd, vgen_gpa, VGEN_ID_LEN);
	if (!vclk || !vgen) {
		fprintf(stderr, "vmgen-emu: mmap %s: %s\n", ram, strerror(errno));
		return 2;
	}
	close(fd);
	signal(SIGPIPE, SIG_IGN);

	if (ncmds) {
		for (int i = 0; i < ncmds && !rc; i++) {
			char *line = strdup(cmds[i]);

			if (!line)
				return 2;
			rc = run_line(line) ? 1 : 0;
			free(line);
		}
	} else {
		char *line = NULL;
		size_t cap = 0;

		while (getline(&line, &cap, stdin) >= 0)
			run_line(line);
		free(line);
	}
	hammer_join();
	storm_join();
	uart_close();
	free(cmds);
	return rc;
}
