// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of vmgen_vmgenid: /dev/vmgenid, its sysfs attributes and its change
 * uevents, driven by the vmgen rig's emulated VMGenID (the host changes or
 * keeps the ID and notifies) or by a snapshot restore into clones. Names
 * come from <vmgen/vmgenid.h>; see docs/vmgenid.md.
 *
 * Every test skips when /dev/vmgenid is missing; those that need the host
 * skip without the rig's control port or without an emulated VMGenID.
 *
 * Environment:
 *   VMGENID_SNAPSHOT_CLONES=N  lets clone_restore ask the host to snapshot
 *                              this guest into N clones (it skips without)
 *   VMGEN_VMGENID_KERNEL=y|n   whether the kernel has its own vmgenid
 *                              driver: the expected mode (set by the rig)
 *   VMGENID_IRQ_NAME=NAME      the /proc/interrupts line carrying the
 *                              notifications (default "ACPI:Ged"; the arm64
 *                              rig's device tree guests set it)
 *
 * Helper modes for rig scripts, not tests:
 *   vmgenid_test --urandom TAG   prints "@@vmgen-urandom TAG <32 hex>":
 *                                16 bytes read from /dev/urandom
 *   vmgenid_test --reseed        does what a restore hook does on a kernel
 *                                whose module says rng_reseed=mix-only:
 *                                ioctl(RNDRESEEDCRNG) on /dev/urandom. It
 *                                adds no data of its own, so whatever makes
 *                                clones differ afterwards was already in the
 *                                kernel's input pool.
 *   vmgenid_test --poll MS       opens /dev/vmgenid, prints "ready", waits
 *                                up to MS ms in poll(); prints the
 *                                generation and exits 0 on a change, 1 on
 *                                timeout, 2 on an error
 *   vmgenid_test --poll-sysfs MS the same on the sysfs generation attribute
 */
/* The harness trips -Wextra's unused-parameter check in its own code. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <linux/random.h>
#include <poll.h>
#include <sched.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmgen/vmgenid.h>

#include "rigctl.h"

#define CLONES_ENV "VMGENID_SNAPSHOT_CLONES"
#define KERNEL_DRIVER_ENV "VMGEN_VMGENID_KERNEL"

/* How long a change may take to show, from the host's reply. */
#define WAKE_TIMEOUT_MS 10000
/* Clones start together on a busy host: give them longer. */
#define CLONE_WAKE_TIMEOUT_MS 60000
/* How long to listen for something that must not come. */
#define QUIET_MS 1000
#define CLONE_QUIET_MS 2000
/* Changes made one at a time, each waited for. */
#define COUNTED_CHANGES 10
/* Changes requested back to back. */
#define BURST_CHANGES 8

#define URANDOM_SAMPLE 16

/* ---- small helpers ------------------------------------------------------ */

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* Strict decimal u64; returns 0 or -1. */
static int parse_u64(const char *s, uint64_t *val)
{
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*val = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

/* Reads VMGENID_SYSFS_DIR/attr without its newline; returns 0 or -errno. */
static int read_attr(const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, err;

	snprintf(path, sizeof(path), "%s/%s", VMGENID_SYSFS_DIR, attr);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

static int read_attr_u64(const char *attr, uint64_t *val)
{
	char buf[64];
	int ret;

	ret = read_attr(attr, buf, sizeof(buf));
	if (ret)
		return ret;
	return parse_u64(buf, val) ? -EINVAL : 0;
}

/* The generation through read() on fd; returns 0 or -errno. */
static int dev_generation(int fd, uint64_t *gen)
{
	ssize_t n = read(fd, gen, sizeof(*gen));

	if (n < 0)
		return -errno;
	return n == sizeof(*gen) ? 0 : -EIO;
}

/* 1 when fd reports POLLIN within timeout_ms, 0 if not, -errno on error. */
static int wait_readable(int fd, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;
	int ret;

	for (;;) {
		int64_t left = (int64_t)(deadline - now_ns()) / 1000000;

		ret = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -errno;
		if (ret == 0)
			return 0;
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
			return -EIO;
		return !!(pfd.revents & POLLIN);
	}
}

/* Sum of the per-CPU counts of the interrupt line named name, or -1. */
static long long irq_count(const char *name)
{
	char line[1024];
	long long sum = -1;
	FILE *f;

	f = fopen("/proc/interrupts", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (!strstr(line, name) || !strchr(line, ':'))
			continue;
		p = strchr(line, ':') + 1;
		sum = 0;
		for (;;) {
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			sum += v;
			p = end;
		}
		break;
	}
	fclose(f);
	return sum;
}

/* The kernel's GED interrupt: every host notification on the emulated device. */
#define GED_IRQ_NAME "ACPI:Ged"

/*
 * The /proc/interrupts line to watch: the GED on x86; a device tree guest
 * (the arm64 rig) names its line in VMGENID_IRQ_NAME.
 */
static const char *notify_irq_name(void)
{
	const char *name = getenv("VMGENID_IRQ_NAME");

	return name && *name ? name : GED_IRQ_NAME;
}

/* ---- uevents ------------------------------------------------------------ */

static int uevent_socket(void)
{
	struct sockaddr_nl addr = {
		.nl_family = AF_NETLINK,
		.nl_groups = 1,		/* the kernel's own uevents */
	};
	int size = 1 << 20;
	int fd;

	fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_KOBJECT_UEVENT);
	if (fd < 0)
		return -1;
	/* Root may exceed rmem_max; a burst of events must not be dropped. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -1;
	}
	return fd;
}

struct uevent {
	char buf[8192];
	size_t len;
};

/* Value of key in a received uevent, or NULL. */
static const char *uevent_get(const struct uevent *ev, const char *key)
{
	size_t key_len = strlen(key);
	const char *p = ev->buf;
	const char *end = ev->buf + ev->len;

	while (p < end) {
		size_t n = strnlen(p, end - p);

		if (n > key_len && !strncmp(p, key, key_len) && p[key_len] == '=')
			return p + key_len + 1;
		p += n + 1;
	}
	return NULL;
}

/*
 * The next uevent about the vmgenid misc device within timeout_ms.
 * Returns 1 with it in ev, 0 on timeout, -1 on error.
 */
static int next_vmgenid_uevent(int sock, struct uevent *ev, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000ULL;

	for (;;) {
		int64_t left = (int64_t)(deadline - now_ns()) / 1000000;
		struct pollfd pfd = { .fd = sock, .events = POLLIN };
		const char *sub, *name;
		ssize_t n;
		int ret;

		ret = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (ret < 0 && errno == EINTR)
			continue;
		if (ret < 0)
			return -1;
		if (ret == 0)
			return 0;
		n = recv(sock, ev->buf, sizeof(ev->buf) - 1, 0);
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -1;
		}
		ev->len = n;
		ev->buf[n] = '\0';
		sub = uevent_get(ev, "SUBSYSTEM");
		name = uevent_get(ev, "DEVNAME");
		if (sub && name && !strcmp(sub, "misc") &&
		    !strcmp(name, VMGENID_DEVICE_NAME))
			return 1;
	}
}

/* Discards queued uevents (those before the test's own action). */
static void drain_uevents(int sock, struct uevent *ev)
{
	while (next_vmgenid_uevent(sock, ev, 100) > 0)
		;
}

/* ---- the host ----------------------------------------------------------- */

/*
 * Whether the host can drive an emulated VMGenID here; fills why when not.
 * Writes nothing: id=same notify=0 only asks.
 */
static bool emu_vmgenid_available(char *why, size_t len)
{
	char reply[512];
	int ret;

	if (!rigctl_available()) {
		snprintf(why, len, "no rig control port (not under the vmgen rig)");
		return false;
	}
	ret = rigctl(reply, sizeof(reply), "emu vmgenid-set id=same notify=0");
	if (ret) {
		snprintf(why, len, "no emulated VMGenID on this host: %s", reply);
		return false;
	}
	return true;
}

#define REQUIRE_EMU() do { \
	char _why[600]; \
	if (!emu_vmgenid_available(_why, sizeof(_why))) \
		SKIP(return, "%s", _why); \
} while (0)

/* Asks the host for a new ID (or the same one) and a notification. */
static int host_set_id(const char *id, char *reply, size_t len)
{
	return rigctl(reply, len, "emu vmgenid-set id=%s notify=1", id);
}

/* ---- fixture ------------------------------------------------------------ */

FIXTURE(vmgenid) {
	int fd;
	bool driver_mode;
	char mode[32];
};

FIXTURE_SETUP(vmgenid)
{
	self->fd = -1;
	if (access(VMGENID_DEVICE_PATH, F_OK))
		SKIP(return, "%s: %s (vmgen_vmgenid not loaded, or no VMGenID device)",
		     VMGENID_DEVICE_PATH, strerror(errno));
	self->fd = open(VMGENID_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("open %s: %s", VMGENID_DEVICE_PATH,
				      strerror(errno));
	ASSERT_EQ(0, read_attr(VMGENID_ATTR_MODE, self->mode, sizeof(self->mode)));
	self->driver_mode = !strcmp(self->mode, VMGENID_MODE_DRIVER);
}

FIXTURE_TEARDOWN(vmgenid)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* ---- the device and its attributes -------------------------------------- */

TEST_F(vmgenid, read_returns_generation)
{
	uint64_t gen = ~0ULL, again = ~0ULL, sysfs = ~0ULL;
	unsigned char big[32];
	uint32_t small;
	ssize_t n;

	ASSERT_EQ(0, dev_generation(self->fd, &gen));
	ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_GENERATION, &sysfs));
	EXPECT_EQ(gen, sysfs);

	/* Too small for the counter: EINVAL, nothing copied. */
	errno = 0;
	n = read(self->fd, &small, sizeof(small));
	EXPECT_EQ(-1, n);
	EXPECT_EQ(EINVAL, errno);

	/* A larger buffer still gets exactly the 8 bytes. */
	memset(big, 0xa5, sizeof(big));
	n = read(self->fd, big, sizeof(big));
	EXPECT_EQ(VMGENID_READ_SIZE, n);
	memcpy(&again, big, sizeof(again));
	EXPECT_EQ(gen, again);
	EXPECT_EQ(0xa5, big[VMGENID_READ_SIZE]);

	/* The position is ignored: pread anywhere returns the counter too. */
	again = ~0ULL;
	EXPECT_EQ(VMGENID_READ_SIZE, pread(self->fd, &again, sizeof(again), 4096));
	EXPECT_EQ(gen, again);
}

TEST_F(vmgenid, sysfs_attributes)
{
	const char *kernel_driver = getenv(KERNEL_DRIVER_ENV);
	char rng[32], buf[64];
	uint64_t ns;
	struct stat st;

	ASSERT_EQ(0, read_attr(VMGENID_ATTR_RNG_RESEED, rng, sizeof(rng)));
	ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_LAST_NOTIFY_NS, &ns));
	ksft_print_msg("mode=%s rng_reseed=%s last_notify_ns=%llu\n", self->mode,
		       rng, (unsigned long long)ns);

	if (self->driver_mode) {
		EXPECT_STREQ(VMGENID_RNG_RESEED_MIX_ONLY, rng);
		EXPECT_EQ(0, read_attr(VMGENID_ATTR_SPURIOUS, buf, sizeof(buf)));
	} else {
		EXPECT_STREQ(VMGENID_MODE_OBSERVER, self->mode);
		EXPECT_STREQ(VMGENID_RNG_RESEED_IMMEDIATE, rng);
		EXPECT_EQ(-ENOENT, read_attr(VMGENID_ATTR_SPURIOUS, buf, sizeof(buf)));
	}
	/* The kernel's configuration decides the mode. */
	if (kernel_driver && !strcmp(kernel_driver, "y"))
		EXPECT_STREQ(VMGENID_MODE_OBSERVER, self->mode);
	if (kernel_driver && !strcmp(kernel_driver, "n"))
		EXPECT_STREQ(VMGENID_MODE_DRIVER, self->mode);

	/* A counter only: readable by everyone, writable by nobody. */
	ASSERT_EQ(0, stat(VMGENID_DEVICE_PATH, &st));
	EXPECT_TRUE(S_ISCHR(st.st_mode));
	EXPECT_EQ(0444U, st.st_mode & 07777);
}

/* An unprivileged user can open, read and poll it, and not write it. */
TEST_F(vmgenid, unprivileged_reader)
{
	int status, fd;
	pid_t pid;

	if (geteuid() != 0)
		SKIP(return, "needs root to switch to an unprivileged user");
	pid = fork();
	ASSERT_LE(0, pid);
	if (pid == 0) {
		uint64_t gen;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		fd = open(VMGENID_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			_exit(11);
		if (dev_generation(fd, &gen) || wait_readable(fd, 0) != 0)
			_exit(12);
		if (open(VMGENID_DEVICE_PATH, O_WRONLY | O_CLOEXEC) >= 0 ||
		    errno != EACCES)
			_exit(13);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	/* 10 setuid, 11 open, 12 read/poll, 13 open for writing worked */
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* Even root, who may open it for writing, cannot write. */
	fd = open(VMGENID_DEVICE_PATH, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		uint64_t zero = 0;

		EXPECT_EQ(-1, write(fd, &zero, sizeof(zero)));
		close(fd);
	}
}

TEST_F(vmgenid, fresh_open_is_quiet)
{
	uint64_t gen;
	int fd2;

	/* open() counts the current generation as seen. */
	EXPECT_EQ(0, wait_readable(self->fd, 0));
	fd2 = open(VMGENID_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd2);
	EXPECT_EQ(0, wait_readable(fd2, 0));
	EXPECT_EQ(0, dev_generation(fd2, &gen));
	EXPECT_EQ(0, wait_readable(fd2, 0));
	close(fd2);
}

/* ---- changes from the host ---------------------------------------------- */

/*
 * One change: poll wakes, read and sysfs move by one, one uevent carries
 * the new generation and the notification time, and nothing follows.
 */
TEST_F_TIMEOUT(vmgenid, change_wakes_poll_and_sends_one_uevent, 120)
{
	uint64_t before, gen, sysfs, ns, uev_gen, uev_ns, t0, t1;
	struct uevent *ev;
	char reply[512];
	const char *val;
	int sock;

	REQUIRE_EMU();
	ev = malloc(sizeof(*ev));
	ASSERT_NE(NULL, ev);
	sock = uevent_socket();
	ASSERT_LE(0, sock) TH_LOG("uevent socket: %s", strerror(errno));
	drain_uevents(sock, ev);
	ASSERT_EQ(0, dev_generation(self->fd, &before));

	t0 = now_ns();
	ASSERT_EQ(0, host_set_id("random", reply, sizeof(reply))) TH_LOG("%s", reply);
	EXPECT_NE(NULL, strstr(reply, "changed=1")) TH_LOG("%s", reply);
	ASSERT_EQ(1, wait_readable(self->fd, WAKE_TIMEOUT_MS))
		TH_LOG("poll() did not wake within %d ms", WAKE_TIMEOUT_MS);
	t1 = now_ns();
	ASSERT_EQ(0, dev_generation(self->fd, &gen));
	EXPECT_EQ(before + 1, gen);
	/* read() re-arms: no POLLIN until the next change. */
	EXPECT_EQ(0, wait_readable(self->fd, 0));

	ASSERT_EQ(1, next_vmgenid_uevent(sock, ev, WAKE_TIMEOUT_MS))
		TH_LOG("no uevent within %d ms", WAKE_TIMEOUT_MS);
	EXPECT_STREQ("change", uevent_get(ev, "ACTION") ?: "(none)");
	EXPECT_STREQ("1", uevent_get(ev, VMGENID_UEVENT_NEW) ?: "(none)");
	val = uevent_get(ev, VMGENID_UEVENT_GENERATION);
	ASSERT_EQ(0, parse_u64(val, &uev_gen)) TH_LOG("%s=%s",
		VMGENID_UEVENT_GENERATION, val ?: "(none)");
	EXPECT_EQ(gen, uev_gen);
	val = uevent_get(ev, VMGENID_UEVENT_NOTIFY_NS);
	ASSERT_EQ(0, parse_u64(val, &uev_ns)) TH_LOG("%s=%s",
		VMGENID_UEVENT_NOTIFY_NS, val ?: "(none)");

	ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_GENERATION, &sysfs));
	EXPECT_EQ(gen, sysfs);
	ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_LAST_NOTIFY_NS, &ns));
	EXPECT_EQ(ns, uev_ns);
	/* Taken in the notification path, between our request and the wake. */
	EXPECT_LE(t0, uev_ns);
	EXPECT_GE(t1, uev_ns);

	EXPECT_EQ(0, next_vmgenid_uevent(sock, ev, QUIET_MS))
		TH_LOG("a second uevent for one change: %s=%s",
		       VMGENID_UEVENT_GENERATION,
		       uevent_get(ev, VMGENID_UEVENT_GENERATION) ?: "?");
	EXPECT_EQ(0, read_attr_u64(VMGENID_ATTR_GENERATION, &sysfs));
	EXPECT_EQ(before + 1, sysfs);
	close(sock);
	free(ev);
}

/* The sysfs attribute is pollable (sysfs_notify), for scripts and udev. */
TEST_F_TIMEOUT(vmgenid, sysfs_generation_is_pollable, 120)
{
	struct pollfd pfd = { .events = POLLPRI | POLLERR };
	char path[PATH_MAX], buf[64];
	uint64_t before, after;
	char reply[512];
	ssize_t n;
	int ret;

	REQUIRE_EMU();
	snprintf(path, sizeof(path), "%s/%s", VMGENID_SYSFS_DIR,
		 VMGENID_ATTR_GENERATION);
	pfd.fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, pfd.fd);
	/* sysfs arms poll with a read. */
	n = pread(pfd.fd, buf, sizeof(buf) - 1, 0);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	ASSERT_EQ(0, parse_u64(strtok(buf, "\n"), &before));
	ASSERT_EQ(0, poll(&pfd, 1, 0)) TH_LOG("sysfs poll fires before a change");

	ASSERT_EQ(0, host_set_id("random", reply, sizeof(reply))) TH_LOG("%s", reply);
	ret = poll(&pfd, 1, WAKE_TIMEOUT_MS);
	ASSERT_EQ(1, ret) TH_LOG("sysfs poll did not wake within %d ms",
				 WAKE_TIMEOUT_MS);
	n = pread(pfd.fd, buf, sizeof(buf) - 1, 0);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	ASSERT_EQ(0, parse_u64(strtok(buf, "\n"), &after));
	EXPECT_EQ(before + 1, after);
	close(pfd.fd);
}

/*
 * A notification whose ID did not change is no change: no generation step,
 * no wake, no uevent. In driver mode the module counts it in "spurious";
 * in observer mode the kernel's driver drops it before the notifier chain.
 * The GED interrupt count proves the notification did reach the guest.
 */
TEST_F_TIMEOUT(vmgenid, unchanged_id_is_no_event, 120)
{
	uint64_t before, gen, sysfs, spurious0 = 0, spurious = 0;
	long long irqs0, irqs;
	struct uevent *ev;
	char reply[512];
	uint64_t deadline;
	int sock;

	REQUIRE_EMU();
	ev = malloc(sizeof(*ev));
	ASSERT_NE(NULL, ev);
	sock = uevent_socket();
	ASSERT_LE(0, sock);
	drain_uevents(sock, ev);
	ASSERT_EQ(0, dev_generation(self->fd, &before));
	if (self->driver_mode)
		ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_SPURIOUS, &spurious0));
	irqs0 = irq_count(notify_irq_name());
	ASSERT_LE(0, irqs0) TH_LOG("no %s line in /proc/interrupts",
				   notify_irq_name());

	ASSERT_EQ(0, host_set_id("same", reply, sizeof(reply))) TH_LOG("%s", reply);
	EXPECT_NE(NULL, strstr(reply, "changed=0")) TH_LOG("%s", reply);

	/* Wait for the notification to arrive (and, in driver mode, be judged). */
	deadline = now_ns() + WAKE_TIMEOUT_MS * 1000000ULL;
	do {
		irqs = irq_count(notify_irq_name());
		if (self->driver_mode)
			read_attr_u64(VMGENID_ATTR_SPURIOUS, &spurious);
		if (irqs > irqs0 && (!self->driver_mode || spurious > spurious0))
			break;
		sleep_ms(20);
	} while (now_ns() < deadline);
	ASSERT_LT(irqs0, irqs) TH_LOG("the notification never reached the guest");
	if (self->driver_mode)
		EXPECT_EQ(spurious0 + 1, spurious);

	EXPECT_EQ(0, wait_readable(self->fd, QUIET_MS))
		TH_LOG("poll() woke for an unchanged ID");
	EXPECT_EQ(0, next_vmgenid_uevent(sock, ev, 0))
		TH_LOG("uevent for an unchanged ID: %s=%s",
		       VMGENID_UEVENT_GENERATION,
		       uevent_get(ev, VMGENID_UEVENT_GENERATION) ?: "?");
	ASSERT_EQ(0, dev_generation(self->fd, &gen));
	EXPECT_EQ(before, gen);
	ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_GENERATION, &sysfs));
	EXPECT_EQ(before, sysfs);

	/* The path still works: the next real change counts, once. */
	ASSERT_EQ(0, host_set_id("random", reply, sizeof(reply))) TH_LOG("%s", reply);
	ASSERT_EQ(1, wait_readable(self->fd, WAKE_TIMEOUT_MS));
	ASSERT_EQ(0, dev_generation(self->fd, &gen));
	EXPECT_EQ(before + 1, gen);
	ASSERT_EQ(1, next_vmgenid_uevent(sock, ev, WAKE_TIMEOUT_MS));
	EXPECT_STREQ("1", uevent_get(ev, VMGENID_UEVENT_NEW) ?: "(none)");
	if (self->driver_mode) {
		EXPECT_EQ(0, read_attr_u64(VMGENID_ATTR_SPURIOUS, &spurious));
		EXPECT_EQ(spurious0 + 1, spurious);
	}
	close(sock);
	free(ev);
}

/*
 * Changes made one at a time, each waited for: the generation counts every
 * one, and the last uevent carries the final generation.
 */
TEST_F_TIMEOUT(vmgenid, changes_counted_one_by_one, 300)
{
	uint64_t before, gen, sysfs, uev_gen, last_uev = 0;
	struct uevent *ev;
	char reply[512];
	int sock, i, uevents = 0, got;

	REQUIRE_EMU();
	ev = malloc(sizeof(*ev));
	ASSERT_NE(NULL, ev);
	sock = uevent_socket();
	ASSERT_LE(0, sock);
	drain_uevents(sock, ev);
	ASSERT_EQ(0, dev_generation(self->fd, &before));

	for (i = 1; i <= COUNTED_CHANGES; i++) {
		ASSERT_EQ(0, host_set_id("random", reply, sizeof(reply)))
			TH_LOG("change %d: %s", i, reply);
		ASSERT_EQ(1, wait_readable(self->fd, WAKE_TIMEOUT_MS))
			TH_LOG("change %d: no wake within %d ms", i, WAKE_TIMEOUT_MS);
		ASSERT_EQ(0, dev_generation(self->fd, &gen));
		ASSERT_EQ(before + i, gen) TH_LOG("change %d", i);
		/* Take the uevents that are already there. */
		while ((got = next_vmgenid_uevent(sock, ev, 0)) > 0) {
			ASSERT_EQ(0, parse_u64(uevent_get(ev, VMGENID_UEVENT_GENERATION),
					       &uev_gen));
			EXPECT_LT(last_uev, uev_gen);
			EXPECT_GE(gen, uev_gen);
			last_uev = uev_gen;
			uevents++;
		}
	}
	/* Until the uevent of the last change. */
	while (last_uev < before + COUNTED_CHANGES &&
	       next_vmgenid_uevent(sock, ev, WAKE_TIMEOUT_MS) > 0) {
		ASSERT_EQ(0, parse_u64(uevent_get(ev, VMGENID_UEVENT_GENERATION),
				       &uev_gen));
		EXPECT_LT(last_uev, uev_gen);
		last_uev = uev_gen;
		uevents++;
	}
	ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_GENERATION, &sysfs));
	EXPECT_EQ(before + COUNTED_CHANGES, sysfs);
	EXPECT_EQ(sysfs, last_uev);
	EXPECT_EQ(0, next_vmgenid_uevent(sock, ev, QUIET_MS));
	ksft_print_msg("%d changes: generation %llu -> %llu, %d uevents\n",
		       COUNTED_CHANGES, (unsigned long long)before,
		       (unsigned long long)sysfs, uevents);
	close(sock);
	free(ev);
}

/*
 * While the guest is busy the host's notifications pile up: the GED's _EVT
 * drains every byte queued by then into one Notify. To get there on purpose
 * a SCHED_FIFO spinner, above the GED's IRQ thread (FIFO 50) and every
 * kworker, holds the CPU while a FIFO 99 sender sends the burst (woken by
 * the control port's hard IRQ for each reply). On one vCPU nothing handles
 * the notifications until the spinner stops. Returns 0 when it ran busy.
 */
struct busy_cpu {
	pid_t pid;
	int *stop;		/* shared with the spinner */
	int cpu;
};

#define BUSY_MAX_MS 3000

static int busy_cpu_start(struct busy_cpu *busy)
{
	struct sched_param spin = { .sched_priority = 60 };
	struct sched_param send = { .sched_priority = 99 };
	cpu_set_t set;

	busy->cpu = sched_getcpu();
	if (busy->cpu < 0)
		return -1;
	CPU_ZERO(&set);
	CPU_SET(busy->cpu, &set);
	busy->stop = mmap(NULL, sizeof(*busy->stop), PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (busy->stop == MAP_FAILED)
		return -1;
	*busy->stop = 0;
	if (sched_setaffinity(0, sizeof(set), &set) ||
	    sched_setscheduler(0, SCHED_FIFO, &send))
		return -1;
	busy->pid = fork();
	if (busy->pid < 0)
		return -1;
	if (busy->pid == 0) {
		uint64_t end = now_ns() + BUSY_MAX_MS * 1000000ULL;

		if (sched_setscheduler(0, SCHED_FIFO, &spin))
			_exit(1);
		while (!__atomic_load_n(busy->stop, __ATOMIC_RELAXED) &&
		       now_ns() < end)
			;
		_exit(0);
	}
	return 0;
}

static void busy_cpu_stop(struct busy_cpu *busy)
{
	struct sched_param other = { .sched_priority = 0 };

	__atomic_store_n(busy->stop, 1, __ATOMIC_RELAXED);
	sched_setscheduler(0, SCHED_OTHER, &other);
	if (busy->pid > 0)
		waitpid(busy->pid, NULL, 0);
	munmap(busy->stop, sizeof(*busy->stop));
}

/*
 * Changes requested back to back: the host's notifications may merge (the
 * GED drains every byte queued by then) and the guest may read an ID two
 * writes later, so the generation moves by 1..N. Every notification is
 * either a change or (driver mode) spurious, so change + spurious <= N.
 * Once quiet, the last uevent, sysfs and read() agree.
 */
static void run_burst(struct __test_metadata *_metadata, FIXTURE_DATA(vmgenid) *self,
		      bool busy_guest)
{
	uint64_t before, gen, sysfs, uev_gen, last_uev = 0;
	uint64_t spurious0 = 0, spurious = 0;
	struct busy_cpu busy = { .pid = -1 };
	struct uevent *ev;
	char reply[512];
	int sock, i, uevents = 0, sent = 0;

	ev = malloc(sizeof(*ev));
	ASSERT_NE(NULL, ev);
	sock = uevent_socket();
	ASSERT_LE(0, sock);
	drain_uevents(sock, ev);
	ASSERT_EQ(0, dev_generation(self->fd, &before));
	if (self->driver_mode)
		ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_SPURIOUS, &spurious0));

	if (busy_guest)
		ASSERT_EQ(0, busy_cpu_start(&busy))
			TH_LOG("real-time spinner: %s", strerror(errno));
	for (i = 1; i <= BURST_CHANGES; i++) {
		if (host_set_id("random", reply, sizeof(reply)))
			break;
		sent++;
	}
	if (busy_guest)
		busy_cpu_stop(&busy);
	ASSERT_EQ(BURST_CHANGES, sent) TH_LOG("change %d: %s", sent + 1, reply);

	ASSERT_EQ(1, wait_readable(self->fd, WAKE_TIMEOUT_MS))
		TH_LOG("no wake within %d ms of the burst", WAKE_TIMEOUT_MS);
	/* Settle: read until no change for QUIET_MS. */
	do {
		ASSERT_EQ(0, dev_generation(self->fd, &gen));
	} while (wait_readable(self->fd, QUIET_MS) == 1);

	while (last_uev < gen && next_vmgenid_uevent(sock, ev, WAKE_TIMEOUT_MS) > 0) {
		EXPECT_STREQ("1", uevent_get(ev, VMGENID_UEVENT_NEW) ?: "(none)");
		ASSERT_EQ(0, parse_u64(uevent_get(ev, VMGENID_UEVENT_GENERATION),
				       &uev_gen));
		EXPECT_LT(last_uev, uev_gen);
		last_uev = uev_gen;
		uevents++;
	}
	EXPECT_EQ(0, next_vmgenid_uevent(sock, ev, QUIET_MS))
		TH_LOG("a uevent after the final generation");
	ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_GENERATION, &sysfs));
	EXPECT_EQ(gen, sysfs);
	EXPECT_EQ(sysfs, last_uev);
	EXPECT_LE(before + 1, gen);
	EXPECT_GE(before + BURST_CHANGES, gen);
	/* Reports may coalesce, but never outnumber the changes. */
	EXPECT_GE(gen - before, (uint64_t)uevents);
	if (self->driver_mode) {
		ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_SPURIOUS, &spurious));
		EXPECT_GE((uint64_t)BURST_CHANGES,
			  (gen - before) + (spurious - spurious0));
	}
	ksft_print_msg("burst of %d changes%s: generation +%llu, %d uevents, spurious +%llu\n",
		       BURST_CHANGES, busy_guest ? " into a busy guest" : "",
		       (unsigned long long)(gen - before), uevents,
		       (unsigned long long)(spurious - spurious0));
	close(sock);
	free(ev);
}

TEST_F_TIMEOUT(vmgenid, burst_of_changes, 300)
{
	REQUIRE_EMU();
	run_burst(_metadata, self, false);
}

TEST_F_TIMEOUT(vmgenid, burst_into_busy_guest, 300)
{
	REQUIRE_EMU();
	if (geteuid() != 0)
		SKIP(return, "needs root for SCHED_FIFO");
	run_burst(_metadata, self, true);
}

/* ---- snapshot and clones ------------------------------------------------ */

/* Prints 16 bytes of /dev/urandom as "@@vmgen-urandom TAG <hex>". */
static int print_urandom(const char *tag)
{
	unsigned char buf[URANDOM_SAMPLE];
	char hex[2 * URANDOM_SAMPLE + 1];
	ssize_t n;
	int fd, i;

	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n != sizeof(buf))
		return -1;
	for (i = 0; i < URANDOM_SAMPLE; i++)
		sprintf(hex + 2 * i, "%02x", buf[i]);
	printf("@@vmgen-urandom %s %s\n", tag, hex);
	fflush(stdout);
	return 0;
}

/*
 * The host snapshots this guest and restores clones; in each clone the
 * restore is exactly one change: one wake, one uevent, generation + 1.
 * Right after the event each clone prints a /dev/urandom sample tagged
 * "event" for the host to compare across clones.
 */
TEST_F_TIMEOUT(vmgenid, clone_restore, 900)
{
	unsigned long long clone = 0, clones = 0;
	const char *want = getenv(CLONES_ENV);
	uint64_t before, gen, sysfs, uev_gen;
	struct uevent *ev;
	char reply[512];
	int sock, n;

	n = want ? atoi(want) : 0;
	if (n < 1)
		SKIP(return, "set %s=N to snapshot this guest into N clones", CLONES_ENV);
	if (!rigctl_available())
		SKIP(return, "no rig control port (not under the vmgen rig)");
	ev = malloc(sizeof(*ev));
	ASSERT_NE(NULL, ev);
	/* Listening and polling from before the snapshot, as a daemon would. */
	sock = uevent_socket();
	ASSERT_LE(0, sock);
	drain_uevents(sock, ev);
	ASSERT_EQ(0, dev_generation(self->fd, &before));

	ASSERT_EQ(0, rigctl(reply, sizeof(reply), "snapshot %d", n))
		TH_LOG("snapshot: %s", reply);
	/* From here on this runs in every clone. */
	rigctl_get_u64(reply, "clone", &clone);
	rigctl_get_u64(reply, "clones", &clones);
	ksft_print_msg("clone %llu of %llu, generation before the snapshot %llu\n",
		       clone, clones, (unsigned long long)before);
	EXPECT_EQ((unsigned long long)n, clones);

	ASSERT_EQ(1, wait_readable(self->fd, CLONE_WAKE_TIMEOUT_MS))
		TH_LOG("no change within %d ms of the restore", CLONE_WAKE_TIMEOUT_MS);
	ASSERT_EQ(1, next_vmgenid_uevent(sock, ev, CLONE_WAKE_TIMEOUT_MS))
		TH_LOG("no uevent within %d ms of the restore", CLONE_WAKE_TIMEOUT_MS);
	/* What a consumer of the event would do first. */
	EXPECT_EQ(0, print_urandom("event"));
	EXPECT_STREQ("change", uevent_get(ev, "ACTION") ?: "(none)");
	EXPECT_STREQ("1", uevent_get(ev, VMGENID_UEVENT_NEW) ?: "(none)");
	ASSERT_EQ(0, parse_u64(uevent_get(ev, VMGENID_UEVENT_GENERATION), &uev_gen));
	EXPECT_EQ(before + 1, uev_gen);

	/* Exactly one: nothing more comes. */
	EXPECT_EQ(0, next_vmgenid_uevent(sock, ev, CLONE_QUIET_MS))
		TH_LOG("a second uevent after the restore: %s=%s",
		       VMGENID_UEVENT_GENERATION,
		       uevent_get(ev, VMGENID_UEVENT_GENERATION) ?: "?");
	ASSERT_EQ(0, dev_generation(self->fd, &gen));
	EXPECT_EQ(before + 1, gen);
	EXPECT_EQ(0, wait_readable(self->fd, 0));
	ASSERT_EQ(0, read_attr_u64(VMGENID_ATTR_GENERATION, &sysfs));
	EXPECT_EQ(before + 1, sysfs);
	close(sock);
	free(ev);
}

/* ---- helper modes ------------------------------------------------------- */

static int reseed(void)
{
	int fd, ret;

	fd = open("/dev/urandom", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("open /dev/urandom");
		return 1;
	}
	ret = ioctl(fd, RNDRESEEDCRNG);
	if (ret)
		fprintf(stderr, "RNDRESEEDCRNG: %s\n", strerror(errno));
	close(fd);
	return ret ? 1 : 0;
}

static int poll_once(int timeout_ms)
{
	uint64_t gen;
	int fd, ret;

	fd = open(VMGENID_DEVICE_PATH, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror("open " VMGENID_DEVICE_PATH);
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	ret = wait_readable(fd, timeout_ms);
	if (ret == 1 && !dev_generation(fd, &gen)) {
		printf("generation %llu\n", (unsigned long long)gen);
		ret = 0;
	} else {
		printf("%s\n", ret == 0 ? "timeout" : "error");
		ret = ret == 0 ? 1 : 2;
	}
	close(fd);
	return ret;
}

/* As poll_once, on the sysfs attribute: wakes on sysfs_notify(). */
static int poll_sysfs_once(int timeout_ms)
{
	struct pollfd pfd = { .events = POLLPRI | POLLERR };
	char path[PATH_MAX], buf[64];
	ssize_t n;
	int ret;

	snprintf(path, sizeof(path), "%s/%s", VMGENID_SYSFS_DIR,
		 VMGENID_ATTR_GENERATION);
	pfd.fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pfd.fd < 0 || pread(pfd.fd, buf, sizeof(buf), 0) < 0) {
		perror(path);
		return 2;
	}
	printf("ready\n");
	fflush(stdout);
	ret = poll(&pfd, 1, timeout_ms);
	if (ret == 1) {
		n = pread(pfd.fd, buf, sizeof(buf) - 1, 0);
		if (n > 0) {
			buf[n] = '\0';
			printf("generation %s", buf);
		} else {
			printf("woke, read: %s\n", n < 0 ? strerror(errno) : "empty");
		}
		ret = 0;
	} else {
		printf("%s\n", ret == 0 ? "timeout" : "error");
		ret = ret == 0 ? 1 : 2;
	}
	close(pfd.fd);
	return ret;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--urandom"))
		return print_urandom(argv[2]) ? 1 : 0;
	if (argc == 2 && !strcmp(argv[1], "--reseed"))
		return reseed();
	if (argc == 3 && !strcmp(argv[1], "--poll"))
		return poll_once(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "--poll-sysfs"))
		return poll_sysfs_once(atoi(argv[2]));
	return test_harness_run(argc, argv);
}
