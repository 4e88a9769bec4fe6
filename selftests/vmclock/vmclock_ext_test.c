// SPDX-License-Identifier: GPL-2.0
/*
 * Tests of what vmgen_vmclock adds beside the upstream /dev/vmclockN ABI:
 * sysfs attributes, change uevents, and surviving unbind/rebind while a
 * file is open and mapped. Names come from <vmgen/vmclock.h>.
 *
 * On a kernel whose own ptp_vmclock drives the device every test skips.
 *
 * Environment:
 *   VMCLOCK_DEV   device node (default /dev/vmclock0)
 */
/* The harness trips -Wextra's unused-parameter check in its own code. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop

#include <limits.h>
#include <linux/netlink.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <vmgen/vmclock.h>

#include "vmclock_util.h"

#define WAKE_TIMEOUT_MS 10000
#define UEVENT_EVENTS 20
#define COUNTED_EVENTS 10
/* How long to listen for a uevent or a count that must not come. */
#define QUIET_MS 500
#define REBIND_TIMEOUT_MS 5000

#define NOT_VMGEN_REASON \
	"no vmgen extensions: this is not vmgen_vmclock (the kernel's own ptp_vmclock?)"

FIXTURE(ext) {
	const char *path;
	char name[64];		/* misc device name, "vmclock0" */
	char sysdir[PATH_MAX];	/* /sys/class/misc/vmclock0 */
	int fd;
	long page_size;
	struct vmclock_page page;
	bool notifications;
	bool gen_present;
	/* set while the platform device is unbound; teardown rebinds */
	bool unbound;
	char driver_dir[PATH_MAX];
	char platform_dev[NAME_MAX + 1];
};

/* /sys/class/misc/vmclockN for /dev/vmclockN. */
static void sysfs_dir_for(const char *dev, char *dir, size_t len)
{
	size_t prefix_len = strlen(VMGEN_VMCLOCK_DEV_PREFIX);
	char copy[PATH_MAX];

	if (!strncmp(dev, VMGEN_VMCLOCK_DEV_PREFIX, prefix_len)) {
		snprintf(dir, len, "%s%s", VMGEN_VMCLOCK_SYSFS_PREFIX, dev + prefix_len);
	} else {
		snprintf(copy, sizeof(copy), "%s", dev);
		snprintf(dir, len, "/sys/class/misc/%s", basename(copy));
	}
}

/* dir/name into path; a path too long for the buffer comes out empty. */
static void path_join(char *path, size_t len, const char *dir, const char *name)
{
	if (snprintf(path, len, "%s/%s", dir, name) >= (int)len)
		path[0] = '\0';
}

/* Reads a sysfs attribute, newline stripped; returns 0 or -errno. */
static int read_attr(const char *dir, const char *attr, char *buf, size_t len)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, err;

	path_join(path, sizeof(path), dir, attr);
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

/* Strict decimal u64; returns 0 or -1. */
static int parse_u64(const char *s, uint64_t *val)
{
	char *end;

	if (*s < '0' || *s > '9')
		return -1;
	errno = 0;
	*val = strtoull(s, &end, 10);
	return errno || *end ? -1 : 0;
}

static int read_attr_u64(const char *dir, const char *attr, uint64_t *val)
{
	char buf[64];
	int ret;

	ret = read_attr(dir, attr, buf, sizeof(buf));
	if (ret)
		return ret;
	return parse_u64(buf, val) ? -EINVAL : 0;
}

/* Writes a string to a sysfs file; returns 0 or -errno. */
static int write_file(const char *path, const char *text)
{
	ssize_t n;
	int fd, err;

	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	n = write(fd, text, strlen(text));
	err = errno;
	close(fd);
	return n < 0 ? -err : 0;
}

FIXTURE_SETUP(ext)
{
	char attr[PATH_MAX];

	self->fd = -1;
	self->path = vmclock_dev_path();
	self->page_size = page_bytes();
	vmclock_dev_name(self->name, sizeof(self->name));
	sysfs_dir_for(self->path, self->sysdir, sizeof(self->sysdir));

	if (access(self->path, F_OK))
		SKIP(return, "%s: %s (no VMClock device here)", self->path,
		     strerror(errno));
	path_join(attr, sizeof(attr), self->sysdir, VMGEN_VMCLOCK_ATTR_VM_GENERATION_COUNTER);
	if (access(attr, F_OK))
		SKIP(return, "%s", NOT_VMGEN_REASON);

	OPEN_DEVICE_OR_SKIP(self->fd, self->path, O_RDONLY);
	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &self->page))
		TH_LOG("pread: %s", strerror(errno));
	self->notifications = page_flags(&self->page) & VMCLOCK_FLAG_NOTIFICATION_PRESENT;
	self->gen_present = page_flags(&self->page) & VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT;
}

/*
 * Runs in the parent once the test's process has ended, however it ended,
 * so a device a test unbound is always bound again for what follows.
 */
FIXTURE_TEARDOWN_PARENT(ext)
{
	char path[PATH_MAX];
	int ret;

	if (!self->unbound)
		return;
	path_join(path, sizeof(path), self->driver_dir, "bind");
	ret = write_file(path, self->platform_dev);
	if (ret)
		TH_LOG("could not rebind %s: %s", self->platform_dev, strerror(-ret));
}

/* The extension attributes, read between two preads that saw the same page. */
struct attrs {
	int gen_ret;
	uint64_t gen;
	uint64_t marker;
	char notifications[16];
	char notify_mode[32];
	uint64_t events;
	uint64_t last_notify_ns;
};

static bool mode_is(const struct attrs *a, const char *mode)
{
	return !strcmp(a->notify_mode, mode);
}

TEST_F(ext, sysfs_attributes_match_page)
{
	struct vmclock_page before, after;
	bool stable = false;
	struct attrs a;
	int try;

	for (try = 0; try < 10 && !stable; try++) {
		ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &before));
		a.gen_ret = read_attr_u64(self->sysdir,
					  VMGEN_VMCLOCK_ATTR_VM_GENERATION_COUNTER, &a.gen);
		ASSERT_EQ(0, read_attr_u64(self->sysdir, VMGEN_VMCLOCK_ATTR_DISRUPTION_MARKER,
					   &a.marker));
		ASSERT_EQ(0, read_attr(self->sysdir, VMGEN_VMCLOCK_ATTR_NOTIFICATIONS,
				       a.notifications, sizeof(a.notifications)));
		ASSERT_EQ(0, read_attr(self->sysdir, VMGEN_VMCLOCK_ATTR_NOTIFY_MODE,
				       a.notify_mode, sizeof(a.notify_mode)));
		ASSERT_EQ(0, read_attr_u64(self->sysdir, VMGEN_VMCLOCK_ATTR_EVENTS, &a.events));
		ASSERT_EQ(0, read_attr_u64(self->sysdir, VMGEN_VMCLOCK_ATTR_LAST_NOTIFY_NS,
					   &a.last_notify_ns));
		ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &after));
		stable = page_seq(&before) == page_seq(&after);
	}
	ASSERT_TRUE(stable) TH_LOG("the page kept changing");
	TH_LOG("gen %llu marker %llu notifications %s notify_mode %s events %llu last_notify_ns %llu",
	       (unsigned long long)a.gen, (unsigned long long)a.marker, a.notifications,
	       a.notify_mode, (unsigned long long)a.events,
	       (unsigned long long)a.last_notify_ns);

	if (self->gen_present) {
		ASSERT_EQ(0, a.gen_ret) TH_LOG("vm_generation_counter: %s", strerror(-a.gen_ret));
		EXPECT_EQ(page_gen(&after), a.gen);
	} else {
		EXPECT_EQ(-ENODATA, a.gen_ret) TH_LOG("no generation counter on this host");
	}
	EXPECT_EQ(page_marker(&after), a.marker);

	EXPECT_TRUE(!strcmp(a.notifications, "0") || !strcmp(a.notifications, "1"))
		TH_LOG("notifications '%s'", a.notifications);
	EXPECT_TRUE(mode_is(&a, VMGEN_VMCLOCK_NOTIFY_MODE_ACPI) ||
		    mode_is(&a, VMGEN_VMCLOCK_NOTIFY_MODE_IRQ) ||
		    mode_is(&a, VMGEN_VMCLOCK_NOTIFY_MODE_TIMER) ||
		    mode_is(&a, VMGEN_VMCLOCK_NOTIFY_MODE_NONE))
		TH_LOG("notify_mode '%s'", a.notify_mode);
	/* "none" is the one mode in which poll() has nothing to report. */
	EXPECT_EQ(mode_is(&a, VMGEN_VMCLOCK_NOTIFY_MODE_NONE),
		  !strcmp(a.notifications, "0"));
	if (self->notifications) {
		EXPECT_TRUE(mode_is(&a, VMGEN_VMCLOCK_NOTIFY_MODE_ACPI) ||
			    mode_is(&a, VMGEN_VMCLOCK_NOTIFY_MODE_IRQ))
			TH_LOG("host notifies, yet notify_mode is '%s'", a.notify_mode);
	}

	EXPECT_EQ(a.events == 0, a.last_notify_ns == 0);
	EXPECT_GE(now_ns(), a.last_notify_ns);
}

/* "notifications" tells whether poll() on the device reports changes. */
TEST_F(ext, notifications_attribute_matches_poll)
{
	char notifications[16];
	short revents;
	int fd;

	ASSERT_EQ(0, read_attr(self->sysdir, VMGEN_VMCLOCK_ATTR_NOTIFICATIONS,
			       notifications, sizeof(notifications)));
	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	poll_one(fd, POLLIN, 0, &revents);
	if (!strcmp(notifications, "0")) {
		EXPECT_TRUE(revents & POLLHUP) TH_LOG("revents 0x%x", revents);
	} else {
		EXPECT_FALSE(revents & POLLHUP) TH_LOG("revents 0x%x", revents);
	}
	close(fd);
}

/* poll() on a sysfs attribute: read it once, then wait for POLLPRI|POLLERR. */
TEST_F_TIMEOUT(ext, generation_attribute_poll_wakes, 300)
{
	char path[PATH_MAX], buf[64];
	struct vmclock_page page;
	struct rig_request req;
	uint64_t before, after;
	short revents;
	ssize_t n;
	int fd;

	REQUIRE_NOTIFICATIONS(self);
	REQUIRE_EMULATED_DEVICE(self->fd);
	if (!self->gen_present)
		SKIP(return, "host does not maintain vm_generation_counter");

	path_join(path, sizeof(path), self->sysdir, VMGEN_VMCLOCK_ATTR_VM_GENERATION_COUNTER);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open %s: %s", path, strerror(errno));
	n = read(fd, buf, sizeof(buf) - 1);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	ASSERT_EQ(0, parse_u64(strtok(buf, "\n"), &before));
	ASSERT_EQ(0, lseek(fd, 0, SEEK_SET));

	ASSERT_EQ(0, rig_request_start(&req, 200, "emu vmclock-event"));
	ASSERT_EQ(1, poll_one(fd, POLLPRI | POLLERR, WAKE_TIMEOUT_MS, &revents))
		TH_LOG("no sysfs_notify within %d ms", WAKE_TIMEOUT_MS);
	EXPECT_TRUE(revents & (POLLPRI | POLLERR)) TH_LOG("revents 0x%x", revents);
	ASSERT_EQ(0, rig_request_finish(&req)) TH_LOG("host: %s", req.reply);

	n = pread(fd, buf, sizeof(buf) - 1, 0);
	ASSERT_LT(0, n);
	buf[n] = '\0';
	ASSERT_EQ(0, parse_u64(strtok(buf, "\n"), &after));
	EXPECT_EQ(before + 1, after);
	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &page));
	EXPECT_EQ(page_gen(&page), after);
	close(fd);
}

/*
 * Waits until the events attribute reaches want; returns the value seen
 * last (which may overshoot, for the caller to check).
 */
static uint64_t wait_events(const char *sysdir, uint64_t want, int timeout_ms)
{
	uint64_t deadline = now_ns() + timeout_ms * 1000000ULL;
	uint64_t events = 0;

	do {
		if (read_attr_u64(sysdir, VMGEN_VMCLOCK_ATTR_EVENTS, &events) == 0 &&
		    events >= want)
			break;
		sleep_ms(2);
	} while (now_ns() < deadline);
	return events;
}

TEST_F_TIMEOUT(ext, events_count_host_events, 600)
{
	uint64_t start, events;
	int i;

	REQUIRE_NOTIFICATIONS(self);
	REQUIRE_EMULATED_DEVICE(self->fd);

	ASSERT_EQ(0, read_attr_u64(self->sysdir, VMGEN_VMCLOCK_ATTR_EVENTS, &start));
	for (i = 1; i <= COUNTED_EVENTS; i++) {
		HOST("emu vmclock-event");
		events = wait_events(self->sysdir, start + i, WAKE_TIMEOUT_MS);
		ASSERT_EQ(start + i, events) TH_LOG("after host event %d", i);
	}
	/* Nothing late or doubled. */
	sleep_ms(QUIET_MS);
	ASSERT_EQ(0, read_attr_u64(self->sysdir, VMGEN_VMCLOCK_ATTR_EVENTS, &events));
	EXPECT_EQ(start + COUNTED_EVENTS, events);
}

/* last_notify_ns is CLOCK_MONOTONIC, taken when the notification arrived. */
TEST_F_TIMEOUT(ext, last_notify_ns_brackets_event, 300)
{
	uint64_t events, sent_at, seen_at, last, prev_last = 0;
	int i;

	REQUIRE_NOTIFICATIONS(self);
	REQUIRE_EMULATED_DEVICE(self->fd);

	for (i = 0; i < 3; i++) {
		ASSERT_EQ(0, read_attr_u64(self->sysdir, VMGEN_VMCLOCK_ATTR_EVENTS, &events));
		sent_at = now_ns();
		HOST("emu vmclock-event");
		ASSERT_EQ(events + 1, wait_events(self->sysdir, events + 1, WAKE_TIMEOUT_MS));
		ASSERT_EQ(0, read_attr_u64(self->sysdir, VMGEN_VMCLOCK_ATTR_LAST_NOTIFY_NS,
					   &last));
		seen_at = now_ns();
		EXPECT_LT(sent_at, last);
		EXPECT_GE(seen_at, last);
		EXPECT_LT(prev_last, last);
		TH_LOG("notified %llu us after the request",
		       (unsigned long long)(last - sent_at) / 1000);
		prev_last = last;
	}
}

/* ---- uevents ----------------------------------------------------------- */

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
	/* Room for a burst; FORCE needs root and may fail harmlessly. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)))
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	if (bind(fd, (struct sockaddr *)&addr, sizeof(addr))) {
		close(fd);
		return -1;
	}
	return fd;
}

struct uevent {
	char buf[16384];
	size_t len;
};

/* Value of KEY in a received uevent, or NULL. */
static const char *uevent_get(const struct uevent *ev, const char *key)
{
	size_t key_len = strlen(key);
	const char *p = ev->buf;
	const char *end = ev->buf + ev->len;

	while (p < end) {
		if (!strncmp(p, key, key_len) && p[key_len] == '=')
			return p + key_len + 1;
		p += strlen(p) + 1;
	}
	return NULL;
}

/*
 * Receives the next uevent from the kernel about our misc device within
 * timeout_ms. Returns 1 with *ev filled, 0 on timeout, -1 on error.
 */
static int next_device_uevent(int sock, const char *devname, struct uevent *ev,
			      int timeout_ms)
{
	uint64_t deadline = now_ns() + timeout_ms * 1000000ULL;
	struct sockaddr_nl from;
	struct iovec iov;
	struct msghdr msg;
	const char *name;
	int64_t left;
	short revents;
	ssize_t n;

	for (;;) {
		left = (int64_t)(deadline - now_ns()) / 1000000;
		if (left <= 0)
			return 0;
		if (poll_one(sock, POLLIN, (int)left, &revents) <= 0)
			continue;
		iov = (struct iovec){ ev->buf, sizeof(ev->buf) - 1 };
		msg = (struct msghdr){ .msg_name = &from, .msg_namelen = sizeof(from),
				       .msg_iov = &iov, .msg_iovlen = 1 };
		n = recvmsg(sock, &msg, 0);
		if (n < 0)
			return errno == EINTR ? 0 : -1;
		/* Only the kernel (port 0) speaks for devices. */
		if (from.nl_pid != 0)
			continue;
		ev->len = n;
		ev->buf[n] = '\0';
		name = uevent_get(ev, "DEVNAME");
		if (name && !strcmp(name, devname))
			return 1;
	}
}

/* One KOBJ_CHANGE uevent per host event, carrying the new counters. */
TEST_F_TIMEOUT(ext, change_uevent_per_event, 600)
{
	unsigned long long host_gen, host_marker;
	uint64_t sent_at, value;
	struct uevent *ev;
	const char *val;
	char reply[512];
	int sock, i, got, uevents = 0;

	REQUIRE_NOTIFICATIONS(self);
	REQUIRE_EMULATED_DEVICE(self->fd);

	ev = malloc(sizeof(*ev));
	ASSERT_NE(NULL, ev);
	sock = uevent_socket();
	ASSERT_LE(0, sock) TH_LOG("uevent socket: %s", strerror(errno));
	/* Let anything already on its way go by. */
	while (next_device_uevent(sock, self->name, ev, 200) > 0)
		;

	for (i = 1; i <= UEVENT_EVENTS; i++) {
		sent_at = now_ns();
		HOST_REPLY(reply, "emu vmclock-event");
		ASSERT_EQ(0, rigctl_get_u64(reply, "gen", &host_gen)) TH_LOG("%s", reply);
		ASSERT_EQ(0, rigctl_get_u64(reply, "marker", &host_marker)) TH_LOG("%s", reply);

		got = next_device_uevent(sock, self->name, ev, WAKE_TIMEOUT_MS);
		ASSERT_EQ(1, got) TH_LOG("event %d: no uevent for %s within %d ms",
					 i, self->name, WAKE_TIMEOUT_MS);
		uevents++;
		val = uevent_get(ev, "ACTION");
		ASSERT_NE(NULL, val);
		EXPECT_STREQ("change", val);

		val = uevent_get(ev, VMGEN_VMCLOCK_UEVENT_GENERATION);
		if (self->gen_present) {
			ASSERT_NE(NULL, val) TH_LOG("event %d: no %s", i,
						    VMGEN_VMCLOCK_UEVENT_GENERATION);
			ASSERT_EQ(0, parse_u64(val, &value));
			EXPECT_EQ(host_gen, value) TH_LOG("event %d: %s", i,
							  VMGEN_VMCLOCK_UEVENT_GENERATION);
		} else {
			EXPECT_NULL(val);
		}
		val = uevent_get(ev, VMGEN_VMCLOCK_UEVENT_DISRUPTION_MARKER);
		ASSERT_NE(NULL, val) TH_LOG("event %d: no %s", i,
					    VMGEN_VMCLOCK_UEVENT_DISRUPTION_MARKER);
		ASSERT_EQ(0, parse_u64(val, &value));
		EXPECT_EQ(host_marker, value) TH_LOG("event %d: %s", i,
						     VMGEN_VMCLOCK_UEVENT_DISRUPTION_MARKER);
		val = uevent_get(ev, VMGEN_VMCLOCK_UEVENT_NOTIFY_NS);
		if (val) {
			ASSERT_EQ(0, parse_u64(val, &value));
			EXPECT_LT(sent_at, value);
			EXPECT_GE(now_ns(), value);
		}
	}
	/* Exactly one each: nothing doubled or late. */
	got = next_device_uevent(sock, self->name, ev, QUIET_MS);
	EXPECT_EQ(0, got) TH_LOG("an extra uevent for %s", self->name);
	ksft_print_msg("%d host events, %d uevents for %s\n", UEVENT_EVENTS, uevents, self->name);
	close(sock);
	free(ev);
}

/* A notified clock update that moves neither counter is counted, not announced. */
TEST_F_TIMEOUT(ext, no_uevent_without_counter_change, 300)
{
	uint64_t events;
	struct uevent *ev;
	int sock;

	REQUIRE_NOTIFICATIONS(self);
	REQUIRE_EMULATED_DEVICE(self->fd);

	ev = malloc(sizeof(*ev));
	ASSERT_NE(NULL, ev);
	sock = uevent_socket();
	ASSERT_LE(0, sock) TH_LOG("uevent socket: %s", strerror(errno));
	while (next_device_uevent(sock, self->name, ev, 200) > 0)
		;
	ASSERT_EQ(0, read_attr_u64(self->sysdir, VMGEN_VMCLOCK_ATTR_EVENTS, &events));

	HOST("emu vmclock-seq notify=1");
	EXPECT_EQ(events + 1, wait_events(self->sysdir, events + 1, WAKE_TIMEOUT_MS));
	EXPECT_EQ(0, next_device_uevent(sock, self->name, ev, QUIET_MS))
		TH_LOG("uevent without a counter change");
	close(sock);
	free(ev);
}

/* ---- unbind / rebind ----------------------------------------------------- */

/* Waits for path to exist; returns 0 if it does. */
static int wait_exists(const char *path, int timeout_ms)
{
	uint64_t deadline = now_ns() + timeout_ms * 1000000ULL;

	while (access(path, F_OK)) {
		if (now_ns() >= deadline)
			return -1;
		sleep_ms(10);
	}
	return 0;
}

/*
 * Unbinding the device must not pull the rug from under a process that has
 * it open and mapped: the mapping stays readable, the file reports the
 * device gone, and binding again brings a working device node back.
 */
TEST_F_TIMEOUT(ext, unbind_rebind_while_open_and_mapped, 120)
{
	char link[PATH_MAX], real[PATH_MAX], path[PATH_MAX];
	struct vmclock_page page;
	short revents;
	ssize_t n;
	int ret, err, fd;
	void *map, *old_map;

	path_join(path, sizeof(path), self->sysdir, "device");
	ASSERT_NE(NULL, realpath(path, real)) TH_LOG("%s: %s", path, strerror(errno));
	snprintf(self->platform_dev, sizeof(self->platform_dev), "%s", basename(real));
	path_join(link, sizeof(link), self->sysdir, "device/driver");
	ASSERT_NE(NULL, realpath(link, self->driver_dir))
		TH_LOG("%s: %s", link, strerror(errno));
	TH_LOG("platform device %s, driver %s", self->platform_dev, self->driver_dir);

	map = mmap(NULL, self->page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map);

	path_join(path, sizeof(path), self->driver_dir, "unbind");
	self->unbound = true;
	ret = write_file(path, self->platform_dev);
	if (ret == -EACCES || ret == -EPERM) {
		self->unbound = false;
		SKIP(return, "cannot unbind: %s (run as root)", strerror(-ret));
	}
	ASSERT_EQ(0, ret) TH_LOG("unbind: %s", strerror(-ret));

	/* The mapping outlives the driver's hold on the page. */
	EXPECT_EQ(VMCLOCK_MAGIC, le32toh(__atomic_load_n((uint32_t *)map, __ATOMIC_RELAXED)));
	EXPECT_EQ(0, vmclock_map_snapshot(map, &page, 1000000));

	n = vmclock_pread(self->fd, &page);
	err = errno;
	EXPECT_EQ(-1, n);
	if (n < 0) {
		EXPECT_EQ(ENODEV, err) TH_LOG("read after unbind: %s", strerror(err));
	}
	ASSERT_EQ(1, poll_one(self->fd, POLLIN, 0, &revents));
	EXPECT_TRUE(revents & (POLLHUP | POLLERR)) TH_LOG("revents 0x%x", revents);
	old_map = mmap(NULL, self->page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	err = errno;
	EXPECT_EQ(MAP_FAILED, old_map) TH_LOG("a new mapping of an unbound device");
	if (old_map == MAP_FAILED) {
		EXPECT_EQ(ENODEV, err) TH_LOG("mmap after unbind: %s", strerror(err));
	} else {
		munmap(old_map, self->page_size);
	}

	path_join(path, sizeof(path), self->driver_dir, "bind");
	ret = write_file(path, self->platform_dev);
	ASSERT_EQ(0, ret) TH_LOG("bind: %s", strerror(-ret));
	self->unbound = false;

	ASSERT_EQ(0, wait_exists(self->path, REBIND_TIMEOUT_MS))
		TH_LOG("%s did not come back", self->path);
	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd) TH_LOG("open after rebind: %s", strerror(errno));
	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(fd, &page));
	EXPECT_EQ(VMCLOCK_MAGIC, page_magic(&page));
	path_join(path, sizeof(path), self->sysdir, VMGEN_VMCLOCK_ATTR_VM_GENERATION_COUNTER);
	EXPECT_EQ(0, access(path, F_OK));

	/* The old file stays dead rather than reaching freed driver state. */
	n = vmclock_pread(self->fd, &page);
	TH_LOG("old file after rebind: pread %zd (%s)", n, n < 0 ? strerror(errno) : "ok");

	close(fd);
	munmap(map, self->page_size);
}

TEST_HARNESS_MAIN
