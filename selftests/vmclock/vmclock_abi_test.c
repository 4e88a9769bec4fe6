// SPDX-License-Identifier: GPL-2.0
/*
 * VMClock userspace ABI compatibility tests.
 *
 * These encode the behaviour of Linux 7.0's ptp_vmclock driver as seen from
 * userspace (/dev/vmclockN: read, mmap, poll) and the access patterns of its
 * real consumers (Firecracker's guest tool, ClockBound, aws-lc, hypeman).
 * They must pass unchanged on vmgen_vmclock and on the kernel's own
 * ptp_vmclock (7.2), which is the reference.
 *
 * Environment:
 *   VMCLOCK_DEV      device node (default /dev/vmclock0)
 *   VMCLOCK_EVENTS   host events in one_wake_per_event (default 1000)
 *
 * Tests that need the host (events, page corruption) use the vmgen rig's
 * control port, and skip unless the rig's emulator drives this very device.
 * No test assumes the page's starting counters: each reads the current
 * values first.
 */
/* The harness trips -Wextra's unused-parameter check in its own code. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-parameter"
#include "kselftest_harness.h"
#pragma GCC diagnostic pop

#include <poll.h>
#include <stdbool.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "vmclock_util.h"

#define POLL_WAKE_TIMEOUT_MS 10000
#define DEFAULT_EVENT_LOOPS 1000
#define HAMMER_MS 3000
/* Read for a while longer than the host hammers, to catch its last writes. */
#define HAMMER_READ_MS (HAMMER_MS + 500)
/* Enough attempts for a seqcount read to get through a busy writer. */
#define MAP_READ_TRIES 1000000L
#define TORN_REPORT_MAX 5

static int event_loops(void)
{
	const char *env = getenv("VMCLOCK_EVENTS");
	int loops = env ? atoi(env) : 0;

	return loops > 0 ? loops : DEFAULT_EVENT_LOOPS;
}

/* ---------------------------------------------------------------------- */

FIXTURE(vmclock) {
	const char *path;
	int fd;			/* O_RDONLY, already read once by setup */
	long page_size;
	struct vmclock_page page;	/* as read by setup */
	bool notifications;
	bool gen_present;
	bool seq_needs_restore;	/* a test left seq_count odd on purpose */
	uint32_t restore_seq;
};

FIXTURE_SETUP(vmclock)
{
	self->fd = -1;
	self->path = vmclock_dev_path();
	self->page_size = page_bytes();
	OPEN_DEVICE_OR_SKIP(self->fd, self->path, O_RDONLY);
	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &self->page))
		TH_LOG("pread %s: %s", self->path, strerror(errno));
	self->notifications = page_flags(&self->page) & VMCLOCK_FLAG_NOTIFICATION_PRESENT;
	self->gen_present = page_flags(&self->page) & VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT;
}

/*
 * Runs in the parent once the test's process has ended, however it ended
 * (its files are closed by then), so a page the test broke on purpose is
 * always repaired for the tests that follow.
 */
FIXTURE_TEARDOWN_PARENT(vmclock)
{
	char reply[256];

	if (self->seq_needs_restore &&
	    rigctl(reply, sizeof(reply), "emu vmclock-set seq_count=%u",
		   self->restore_seq))
		TH_LOG("could not restore seq_count: %s", reply);
}

/* Checks that a pread copy shows one more host event than before. */
#define EXPECT_ONE_EVENT_LATER(self, before, after)                            \
	do {                                                                   \
		EXPECT_EQ(page_marker(before) + 1, page_marker(after));        \
		if ((self)->gen_present) {                                     \
			EXPECT_EQ(page_gen(before) + 1, page_gen(after));      \
		}                                                              \
	} while (0)

TEST_F(vmclock, pread_header)
{
	struct vmclock_page page;

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &page));
	EXPECT_EQ(VMCLOCK_MAGIC, page_magic(&page));
	EXPECT_EQ(1, page_version(&page));
	EXPECT_EQ(VMCLOCK_SIZE, page_region_size(&page));
	/* A copy the driver accepted was taken under an even seq_count. */
	EXPECT_EQ(0U, page_seq(&page) & 1);
	TH_LOG("flags 0x%llx seq %u marker %llu gen %llu",
	       (unsigned long long)page_flags(&page), page_seq(&page),
	       (unsigned long long)page_marker(&page),
	       (unsigned long long)page_gen(&page));
}

TEST_F(vmclock, pread_past_end_is_eof)
{
	char buf[64];

	EXPECT_EQ(0, pread(self->fd, buf, sizeof(buf), self->page_size));
	EXPECT_EQ(0, pread(self->fd, buf, sizeof(buf), 2 * self->page_size));
}

TEST_F(vmclock, pread_tail_is_short)
{
	char *whole = malloc(self->page_size);
	char tail[64];

	ASSERT_NE(NULL, whole);
	ASSERT_EQ(self->page_size, pread(self->fd, whole, self->page_size, 0));
	ASSERT_EQ(8, pread(self->fd, tail, sizeof(tail), self->page_size - 8));
	EXPECT_EQ(0, memcmp(tail, whole + self->page_size - 8, 8));
	free(whole);
}

/*
 * ClockBound: read the whole file until EOF (honouring the file position),
 * then map header.size bytes read-only and shared, and compare the
 * disruption marker with the copy that was read.
 */
TEST_F(vmclock, read_to_eof_then_mmap)
{
	struct vmclock_page from_read, from_map;
	char *contents = calloc(1, 2 * self->page_size);
	size_t total = 0;
	ssize_t n;
	void *map;
	int fd;

	ASSERT_NE(NULL, contents);
	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);

	/* An odd chunk size, so reads straddle the structure's end. */
	do {
		n = read(fd, contents + total, 100);
		ASSERT_LE(0, n) TH_LOG("read at %zu: %s", total, strerror(errno));
		total += n;
		ASSERT_GE(self->page_size, (long)total);
	} while (n > 0);
	EXPECT_EQ(self->page_size, (long)total);
	EXPECT_EQ(0, read(fd, contents, 100));

	memcpy(&from_read, contents, sizeof(from_read));
	ASSERT_EQ(VMCLOCK_MAGIC, page_magic(&from_read));

	map = mmap(NULL, page_region_size(&from_read), PROT_READ, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap %u bytes: %s",
					  page_region_size(&from_read), strerror(errno));
	ASSERT_EQ(0, vmclock_map_snapshot(map, &from_map, MAP_READ_TRIES));
	EXPECT_EQ(page_marker(&from_read), page_marker(&from_map));

	/* pread ignores the file position left at EOF. */
	EXPECT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(fd, &from_read));

	munmap(map, page_region_size(&from_read));
	close(fd);
	free(contents);
}

TEST_F(vmclock, read_larger_than_page)
{
	char *buf = malloc(2 * self->page_size);
	int fd;

	ASSERT_NE(NULL, buf);
	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	EXPECT_EQ(self->page_size, read(fd, buf, 2 * self->page_size));
	EXPECT_EQ(0, read(fd, buf, 2 * self->page_size));
	close(fd);
	free(buf);
}

/* No llseek in the driver: pread() is the way back to offset 0. */
TEST_F(vmclock, lseek_refused)
{
	off_t ret = lseek(self->fd, 0, SEEK_SET);
	int err = errno;

	EXPECT_EQ(-1, ret);
	if (ret == -1) {
		EXPECT_EQ(ESPIPE, err) TH_LOG("lseek: %s", strerror(err));
	}
}

/* No way to write the page through the device; which errno is the VFS's business. */
TEST_F(vmclock, write_refused)
{
	static const char junk[8] = "XXXXXXXX";
	struct vmclock_page after;
	ssize_t n;
	int fd;

	n = write(self->fd, junk, sizeof(junk));
	EXPECT_EQ(-1, n);
	if (n < 0) {
		EXPECT_EQ(EBADF, errno) TH_LOG("write: %s", strerror(errno));
	}

	fd = open(self->path, O_WRONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = write(fd, junk, sizeof(junk));
		TH_LOG("write on an O_WRONLY open: %zd (%s)", n, strerror(errno));
		EXPECT_EQ(-1, n);
		close(fd);
	} else {
		TH_LOG("O_WRONLY open refused: %s", strerror(errno));
	}

	fd = open(self->path, O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		n = pwrite(fd, junk, sizeof(junk), 0);
		TH_LOG("pwrite on an O_RDWR open: %zd (%s)", n, strerror(errno));
		EXPECT_EQ(-1, n);
		close(fd);
	} else {
		TH_LOG("O_RDWR open refused: %s", strerror(errno));
	}

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &after));
	EXPECT_EQ(VMCLOCK_MAGIC, page_magic(&after));
	EXPECT_EQ(page_region_size(&self->page), page_region_size(&after));
	EXPECT_EQ(1, page_version(&after));
}

/* Firecracker's guest tool: mmap 112 bytes and read under the seqcount. */
TEST_F(vmclock, mmap_seqcount_loop)
{
	struct vmclock_page snap, check;
	void *map;
	int i;

	map = mmap(NULL, VMCLOCK_PAGE_LEN, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap: %s", strerror(errno));

	for (i = 0; i < 10000; i++) {
		ASSERT_EQ(0, vmclock_map_snapshot(map, &snap, MAP_READ_TRIES))
			TH_LOG("no consistent copy at read %d (seq %u)", i, map_seq(map));
		ASSERT_EQ(VMCLOCK_MAGIC, page_magic(&snap));
		ASSERT_EQ(1, page_version(&snap));
		ASSERT_EQ(0U, page_seq(&snap) & 1);
	}

	/* Nothing changed the page meanwhile: the mapping agrees with read(). */
	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &check));
	if (page_seq(&check) == page_seq(&snap)) {
		EXPECT_EQ(page_marker(&check), page_marker(&snap));
		EXPECT_EQ(page_gen(&check), page_gen(&snap));
	}
	munmap(map, VMCLOCK_PAGE_LEN);
}

/* Without notifications a poller must not sleep forever: POLLHUP at once. */
TEST_F(vmclock, poll_hup_without_notifications)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDNORM };
	struct epoll_event got;
	uint64_t start;
	short revents;
	int epfd, fd;

	if (self->notifications)
		SKIP(return, "device advertises notifications; POLLHUP is for devices without");

	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);
	start = now_ns();
	ASSERT_EQ(1, poll_one(fd, POLLIN | POLLRDNORM, POLL_WAKE_TIMEOUT_MS, &revents));
	EXPECT_LT(now_ns() - start, 5000000000ULL) TH_LOG("poll slept before POLLHUP");
	EXPECT_TRUE(revents & POLLHUP) TH_LOG("revents 0x%x", revents);

	/* Same on a file that has read. */
	ASSERT_EQ(1, poll_one(self->fd, POLLIN | POLLRDNORM, 0, &revents));
	EXPECT_TRUE(revents & POLLHUP) TH_LOG("revents 0x%x", revents);

	epfd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, epfd);
	ASSERT_EQ(0, epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev));
	ASSERT_EQ(1, epoll_wait(epfd, &got, 1, POLL_WAKE_TIMEOUT_MS));
	EXPECT_TRUE((got.events & EPOLLHUP) != 0) TH_LOG("events 0x%x", got.events);
	close(epfd);
	close(fd);
}

/*
 * A new file has seen seq_count 0: poll fires at once if the page's seq_count
 * is not 0, and keeps firing until the file reads.
 */
TEST_F(vmclock, poll_fresh_open_fires_until_read)
{
	struct vmclock_page page;
	short revents;
	int fd;

	REQUIRE_NOTIFICATIONS(self);
	fd = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, fd);

	if (page_seq(&self->page) == 0) {
		/* A fresh Firecracker page: nothing to report yet. */
		EXPECT_EQ(0, poll_one(fd, POLLIN | POLLRDNORM, 0, &revents));
		TH_LOG("seq_count is 0: a fresh file has nothing to report");
	} else {
		ASSERT_EQ(1, poll_one(fd, POLLIN | POLLRDNORM, 0, &revents));
		EXPECT_EQ(POLLIN | POLLRDNORM, revents);
		/* Polling does not consume anything. */
		ASSERT_EQ(1, poll_one(fd, POLLIN | POLLRDNORM, 100, &revents));
		EXPECT_EQ(POLLIN | POLLRDNORM, revents);
	}

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(fd, &page));
	EXPECT_EQ(0, poll_one(fd, POLLIN | POLLRDNORM, 0, &revents))
		TH_LOG("still readable after pread: revents 0x%x", revents);
	close(fd);
}

/* Each open file keeps its own last-seen seq_count. */
TEST_F(vmclock, poll_files_track_independently)
{
	struct vmclock_page page;
	short revents;
	int a, b;

	REQUIRE_NOTIFICATIONS(self);
	if (page_seq(&self->page) == 0) {
		/* A clock update without notification makes seq_count non-zero. */
		REQUIRE_EMULATED_DEVICE(self->fd);
		HOST("emu vmclock-seq notify=0");
	}

	a = open(self->path, O_RDONLY | O_CLOEXEC);
	b = open(self->path, O_RDONLY | O_CLOEXEC);
	ASSERT_LE(0, a);
	ASSERT_LE(0, b);

	EXPECT_EQ(1, poll_one(a, POLLIN, 0, &revents));
	EXPECT_EQ(1, poll_one(b, POLLIN, 0, &revents));

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(a, &page));
	EXPECT_EQ(0, poll_one(a, POLLIN, 0, &revents));
	EXPECT_EQ(1, poll_one(b, POLLIN, 0, &revents))
		TH_LOG("a read on one file silenced another");

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(b, &page));
	EXPECT_EQ(0, poll_one(a, POLLIN, 0, &revents));
	EXPECT_EQ(0, poll_one(b, POLLIN, 0, &revents));
	close(a);
	close(b);
}

/*
 * poll() reports any seq_count change, not only notified ones: consumers
 * compare the counters themselves.
 */
TEST_F(vmclock, poll_reports_unnotified_seq_change)
{
	struct vmclock_page before, after;
	short revents;

	REQUIRE_NOTIFICATIONS(self);
	REQUIRE_EMULATED_DEVICE(self->fd);

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &before));
	ASSERT_EQ(0, poll_one(self->fd, POLLIN, 0, &revents));

	HOST("emu vmclock-seq notify=0");

	ASSERT_EQ(1, poll_one(self->fd, POLLIN, 0, &revents));
	EXPECT_TRUE(revents & POLLIN);
	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &after));
	EXPECT_NE(page_seq(&before), page_seq(&after));
	EXPECT_EQ(page_marker(&before), page_marker(&after));
	EXPECT_EQ(page_gen(&before), page_gen(&after));
	EXPECT_EQ(0, poll_one(self->fd, POLLIN, 0, &revents));
}

/*
 * hypeman's agent: pread 112 bytes, check magic and both flag bits, poll for
 * POLLIN, compare the counter at 0x68. Then, as the maintainers advise,
 * re-read it from the mapping under the seqcount.
 */
TEST_F_TIMEOUT(vmclock, poll_wakes_on_host_event, 300)
{
	struct vmclock_page before, after, mapped;
	struct rig_request req;
	uint64_t start, woke_ms;
	short revents;
	void *map;

	REQUIRE_NOTIFICATIONS(self);
	REQUIRE_EMULATED_DEVICE(self->fd);

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &before));
	ASSERT_EQ(VMCLOCK_MAGIC, page_magic(&before));
	map = mmap(NULL, self->page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map);

	/* The delay lets this thread block in poll() before the event. */
	ASSERT_EQ(0, rig_request_start(&req, 200, "emu vmclock-event"));
	start = now_ns();
	ASSERT_EQ(1, poll_one(self->fd, POLLIN, POLL_WAKE_TIMEOUT_MS, &revents))
		TH_LOG("no wake within %d ms", POLL_WAKE_TIMEOUT_MS);
	woke_ms = (now_ns() - start) / 1000000;
	EXPECT_TRUE(revents & POLLIN);
	ASSERT_EQ(0, rig_request_finish(&req)) TH_LOG("host: %s", req.reply);
	TH_LOG("woke %llu ms after blocking (the request left after 200 ms)",
	       (unsigned long long)woke_ms);

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &after));
	EXPECT_EQ(VMCLOCK_MAGIC, page_magic(&after));
	EXPECT_TRUE((page_flags(&after) & VMCLOCK_FLAG_NOTIFICATION_PRESENT) != 0);
	EXPECT_ONE_EVENT_LATER(self, &before, &after);

	ASSERT_EQ(0, vmclock_map_snapshot(map, &mapped, MAP_READ_TRIES));
	EXPECT_EQ(page_gen(&after), page_gen(&mapped));
	EXPECT_EQ(page_marker(&after), page_marker(&mapped));

	EXPECT_EQ(0, poll_one(self->fd, POLLIN, 0, &revents));
	munmap(map, self->page_size);
}

/* Firecracker's guest tool: epoll on EPOLLIN|EPOLLRDNORM, pread on wake. */
TEST_F_TIMEOUT(vmclock, epoll_wakes_on_host_event, 300)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLRDNORM };
	struct vmclock_page before, after;
	struct rig_request req;
	struct epoll_event got;
	int epfd;

	REQUIRE_NOTIFICATIONS(self);
	REQUIRE_EMULATED_DEVICE(self->fd);

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &before));
	epfd = epoll_create1(EPOLL_CLOEXEC);
	ASSERT_LE(0, epfd);
	ASSERT_EQ(0, epoll_ctl(epfd, EPOLL_CTL_ADD, self->fd, &ev));
	ASSERT_EQ(0, epoll_wait(epfd, &got, 1, 0));

	ASSERT_EQ(0, rig_request_start(&req, 200, "emu vmclock-event"));
	ASSERT_EQ(1, epoll_wait(epfd, &got, 1, POLL_WAKE_TIMEOUT_MS))
		TH_LOG("no wake within %d ms", POLL_WAKE_TIMEOUT_MS);
	EXPECT_TRUE((got.events & EPOLLIN) != 0) TH_LOG("events 0x%x", got.events);
	EXPECT_FALSE((got.events & EPOLLHUP) != 0);
	ASSERT_EQ(0, rig_request_finish(&req)) TH_LOG("host: %s", req.reply);

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &after));
	EXPECT_ONE_EVENT_LATER(self, &before, &after);
	EXPECT_EQ(0, epoll_wait(epfd, &got, 1, 0));
	close(epfd);
}

/*
 * One wake per host event, none missed, none extra: after every event the
 * generation is exactly one more, and once read nothing more is pending.
 */
TEST_F_TIMEOUT(vmclock, one_wake_per_event, 3600)
{
	struct vmclock_page prev, cur;
	int loops = event_loops();
	int wakes = 0;
	struct rig_request req;
	uint64_t start;
	short revents;
	int i;

	REQUIRE_NOTIFICATIONS(self);
	REQUIRE_EMULATED_DEVICE(self->fd);

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &prev));
	start = now_ns();
	for (i = 1; i <= loops; i++) {
		ASSERT_EQ(0, rig_request_start(&req, 0, "emu vmclock-event"));
		ASSERT_EQ(1, poll_one(self->fd, POLLIN, POLL_WAKE_TIMEOUT_MS, &revents))
			TH_LOG("event %d: no wake within %d ms", i, POLL_WAKE_TIMEOUT_MS);
		ASSERT_TRUE(revents & POLLIN) TH_LOG("event %d: revents 0x%x", i, revents);
		wakes++;
		ASSERT_EQ(0, rig_request_finish(&req))
			TH_LOG("event %d: host: %s", i, req.reply);

		ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &cur));
		ASSERT_EQ(page_marker(&prev) + 1, page_marker(&cur))
			TH_LOG("event %d: disruption_marker", i);
		if (self->gen_present) {
			ASSERT_EQ(page_gen(&prev) + 1, page_gen(&cur))
				TH_LOG("event %d: vm_generation_counter", i);
		}
		ASSERT_EQ(0, poll_one(self->fd, POLLIN, 0, &revents))
			TH_LOG("event %d: still readable after pread", i);
		prev = cur;
	}
	ksft_print_msg("%d host events, %d wakes, generation now %llu, %llu ms\n",
		       loops, wakes, (unsigned long long)page_gen(&prev),
		       (unsigned long long)(now_ns() - start) / 1000000);
}

/*
 * The host's hammer keeps rewriting the page with disruption_marker ==
 * vm_generation_counter == time_sec == counter_value == ~time_frac_sec.
 * Every read that succeeds, through read() or through the mapping, must
 * see one whole update.
 */
static bool hammer_consistent(const struct vmclock_page *p)
{
	uint64_t value = le64toh(p->counter_value);

	return page_marker(p) == value && page_gen(p) == value &&
	       le64toh(p->time_sec) == value &&
	       le64toh(p->time_frac_sec) == ~value;
}

TEST_F_TIMEOUT(vmclock, no_torn_reads_under_hammer, 300)
{
	long pread_ok = 0, pread_timeouts = 0, map_ok = 0, map_timeouts = 0;
	long hammered = 0, torn_pread = 0, torn_map = 0;
	unsigned long long host_updates = 0;
	struct vmclock_page page;
	struct rig_request req;
	uint32_t seq_before;
	char reply[512];
	uint64_t deadline;
	bool via_map;
	ssize_t n;
	void *map;

	REQUIRE_EMULATED_DEVICE(self->fd);

	map = mmap(NULL, self->page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map);
	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &page));
	seq_before = page_seq(&page);

	/* On a thread: the host may answer at once or when the hammer stops. */
	ASSERT_EQ(0, rig_request_start(&req, 0, "emu vmclock-hammer ms=%d", HAMMER_MS));
	deadline = now_ns() + HAMMER_READ_MS * 1000000ULL;
	for (via_map = false; now_ns() < deadline; via_map = !via_map) {
		if (via_map) {
			if (vmclock_map_snapshot(map, &page, MAP_READ_TRIES)) {
				map_timeouts++;
				continue;
			}
			map_ok++;
		} else {
			n = vmclock_pread(self->fd, &page);
			if (n < 0 && errno == ETIMEDOUT) {
				pread_timeouts++;
				continue;
			}
			ASSERT_EQ(VMCLOCK_PAGE_LEN, n) TH_LOG("pread: %s", strerror(errno));
			pread_ok++;
		}
		/* Reads from before the hammer's first write show the old page. */
		if (page_seq(&page) == seq_before)
			continue;
		hammered++;
		if (hammer_consistent(&page))
			continue;
		if ((via_map ? torn_map++ : torn_pread++) < TORN_REPORT_MAX)
			TH_LOG("torn %s read: seq %u marker %llu gen %llu time_sec %llu counter %llu frac 0x%llx",
			       via_map ? "mmap" : "pread", page_seq(&page),
			       (unsigned long long)page_marker(&page),
			       (unsigned long long)page_gen(&page),
			       (unsigned long long)le64toh(page.time_sec),
			       (unsigned long long)le64toh(page.counter_value),
			       (unsigned long long)le64toh(page.time_frac_sec));
	}
	ASSERT_EQ(0, rig_request_finish(&req)) TH_LOG("host: %s", req.reply);
	HOST_REPLY(reply, "emu vmclock-hammer-wait");
	rigctl_get_u64(reply, "updates", &host_updates);

	ksft_print_msg("host: %llu updates; pread: %ld ok, %ld ETIMEDOUT, %ld torn; mmap: %ld ok, %ld gave up, %ld torn; %ld reads saw the hammer\n",
		       host_updates, pread_ok, pread_timeouts, torn_pread,
		       map_ok, map_timeouts, torn_map, hammered);
	EXPECT_EQ(0, torn_pread);
	EXPECT_EQ(0, torn_map);
	EXPECT_LT(0, hammered) TH_LOG("no read saw the hammer's writes");
	EXPECT_LT(0, pread_ok) TH_LOG("every pread timed out");
	EXPECT_LT(0, map_ok) TH_LOG("every mmap read gave up");
	munmap(map, self->page_size);
}

/*
 * A seq_count stuck odd (a host dying mid-update): read() gives up with
 * ETIMEDOUT instead of spinning forever, and poll() still answers.
 */
TEST_F_TIMEOUT(vmclock, seq_stuck_odd_times_out, 300)
{
	struct vmclock_page page;
	uint64_t start, elapsed;
	short revents;
	int read_errno;
	ssize_t n;
	void *map;

	REQUIRE_EMULATED_DEVICE(self->fd);

	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &page));
	map = mmap(NULL, self->page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map);

	/* Teardown puts an even, newer value back whatever happens here. */
	self->restore_seq = page_seq(&page) + 2;
	self->seq_needs_restore = true;
	HOST("emu vmclock-corrupt seq-odd");
	ASSERT_EQ(1U, map_seq(map) & 1) TH_LOG("seq_count %u is not odd", map_seq(map));

	start = now_ns();
	n = vmclock_pread(self->fd, &page);
	read_errno = errno;
	elapsed = now_ns() - start;
	EXPECT_EQ(-1, n);
	if (n < 0) {
		EXPECT_EQ(ETIMEDOUT, read_errno)
			TH_LOG("pread: %s", strerror(read_errno));
	}
	TH_LOG("pread gave up after %llu ms", (unsigned long long)elapsed / 1000000);
	EXPECT_EQ(-1, vmclock_map_snapshot(map, &page, 1000));

	/* The raw seq_count differs from the last one this file read. */
	ASSERT_EQ(1, poll_one(self->fd, POLLIN, 0, &revents));
	if (self->notifications) {
		EXPECT_TRUE(revents & POLLIN) TH_LOG("revents 0x%x", revents);
	} else {
		EXPECT_TRUE(revents & POLLHUP) TH_LOG("revents 0x%x", revents);
	}

	HOST("emu vmclock-set seq_count=%u", self->restore_seq);
	self->seq_needs_restore = false;
	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &page))
		TH_LOG("pread after restore: %s", strerror(errno));
	EXPECT_EQ(self->restore_seq, page_seq(&page));
	munmap(map, self->page_size);
}

/* ---------------------------------------------------------------------- */

/*
 * Mapping rules, checked through a read-only and a read-write open: with
 * O_RDONLY the VFS already refuses shared writable mappings; with O_RDWR
 * only the driver stands between userspace and a writable page.
 */
FIXTURE(vmclock_map) {
	const char *path;
	int fd;
	long page_size;
	struct vmclock_page page;
};

FIXTURE_VARIANT(vmclock_map) {
	int open_flags;
	/* errno of mmap(PROT_WRITE, MAP_SHARED): the VFS's or the driver's */
	int shared_write_errno;
};

FIXTURE_VARIANT_ADD(vmclock_map, rdonly) {
	.open_flags = O_RDONLY,
	.shared_write_errno = EACCES,
};

FIXTURE_VARIANT_ADD(vmclock_map, rdwr) {
	.open_flags = O_RDWR,
	.shared_write_errno = EROFS,
};

FIXTURE_SETUP(vmclock_map)
{
	self->fd = -1;
	self->path = vmclock_dev_path();
	self->page_size = page_bytes();
	OPEN_DEVICE_OR_SKIP(self->fd, self->path, variant->open_flags);
	ASSERT_EQ(VMCLOCK_PAGE_LEN, vmclock_pread(self->fd, &self->page))
		TH_LOG("pread: %s", strerror(errno));
}

FIXTURE_TEARDOWN(vmclock_map)
{
	if (self->fd >= 0)
		close(self->fd);
}

/* errno of a mapping attempt expected to fail; 0 (unmapped again) if it worked. */
static int mmap_errno(int fd, size_t len, int prot, int flags, off_t off)
{
	void *map = mmap(NULL, len, prot, flags, fd, off);

	if (map == MAP_FAILED)
		return errno;
	munmap(map, len);
	return 0;
}

TEST_F(vmclock_map, mmap_page_matches_read)
{
	char *from_read = malloc(self->page_size);
	char *from_map = malloc(self->page_size);
	bool compared = false;
	uint32_t seq;
	void *map;
	int try;

	ASSERT_NE(NULL, from_read);
	ASSERT_NE(NULL, from_map);
	map = mmap(NULL, self->page_size, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap: %s", strerror(errno));

	/* The whole page, compared only when nothing changed in between. */
	for (try = 0; try < 100 && !compared; try++) {
		seq = map_seq(map);
		ASSERT_EQ(self->page_size, pread(self->fd, from_read, self->page_size, 0));
		memcpy(from_map, map, self->page_size);
		if ((seq & 1) || map_seq(map) != seq ||
		    page_seq((struct vmclock_page *)from_read) != seq)
			continue;
		EXPECT_EQ(0, memcmp(from_read, from_map, self->page_size));
		compared = true;
	}
	EXPECT_TRUE(compared) TH_LOG("the page kept changing");
	munmap(map, self->page_size);
	free(from_read);
	free(from_map);
}

/* aws-lc: mmap(112) read-only shared, rounded up to the page by the kernel. */
TEST_F(vmclock_map, mmap_short_length)
{
	struct vmclock_page snap;
	void *map;

	map = mmap(NULL, VMCLOCK_PAGE_LEN, PROT_READ, MAP_SHARED, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap(112): %s", strerror(errno));
	ASSERT_EQ(0, vmclock_map_snapshot(map, &snap, MAP_READ_TRIES));
	EXPECT_EQ(VMCLOCK_MAGIC, page_magic(&snap));
	if (page_seq(&snap) == page_seq(&self->page)) {
		EXPECT_EQ(page_gen(&self->page), page_gen(&snap));
	}
	TH_LOG("VM_GEN_COUNTER_PRESENT %s, generation %llu",
	       page_flags(&snap) & VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT ? "set" : "clear",
	       (unsigned long long)page_gen(&snap));
	munmap(map, VMCLOCK_PAGE_LEN);
}

/* The driver checks only VM_WRITE: a private read-only mapping is fine. */
TEST_F(vmclock_map, mmap_private_read_only)
{
	struct vmclock_page snap;
	void *map;

	map = mmap(NULL, self->page_size, PROT_READ, MAP_PRIVATE, self->fd, 0);
	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap MAP_PRIVATE: %s", strerror(errno));
	ASSERT_EQ(0, vmclock_map_snapshot(map, &snap, MAP_READ_TRIES));
	EXPECT_EQ(VMCLOCK_MAGIC, page_magic(&snap));
	munmap(map, self->page_size);
}

TEST_F(vmclock_map, mmap_shared_write_refused)
{
	EXPECT_EQ(variant->shared_write_errno,
		  mmap_errno(self->fd, self->page_size, PROT_READ | PROT_WRITE,
			     MAP_SHARED, 0));
}

/* A private writable mapping passes the VFS; the driver must say EROFS. */
TEST_F(vmclock_map, mmap_private_write_refused)
{
	EXPECT_EQ(EROFS, mmap_errno(self->fd, self->page_size,
				    PROT_READ | PROT_WRITE, MAP_PRIVATE, 0));
}

/* The 7.0 driver wants exactly VM_READ: a PROT_NONE mapping is refused too. */
TEST_F(vmclock_map, mmap_prot_none_refused)
{
	EXPECT_EQ(EROFS, mmap_errno(self->fd, self->page_size, PROT_NONE,
				    MAP_SHARED, 0));
}

TEST_F(vmclock_map, mmap_offset_refused)
{
	EXPECT_EQ(EINVAL, mmap_errno(self->fd, self->page_size, PROT_READ,
				     MAP_SHARED, self->page_size));
}

TEST_F(vmclock_map, mmap_two_pages_refused)
{
	EXPECT_EQ(EINVAL, mmap_errno(self->fd, 2 * self->page_size, PROT_READ,
				     MAP_SHARED, 0));
}

/*
 * CVE-2026-80724: the mapping must not be upgradable to writable later.
 * The page is never written here, even if mprotect() wrongly succeeds.
 */
static void check_mprotect_refused(struct __test_metadata *_metadata, int fd,
				   long len, int map_flags)
{
	void *map = mmap(NULL, len, PROT_READ, map_flags, fd, 0);
	int ret, err;

	ASSERT_NE(MAP_FAILED, map) TH_LOG("mmap: %s", strerror(errno));
	ret = mprotect(map, len, PROT_READ | PROT_WRITE);
	err = errno;
	EXPECT_EQ(-1, ret) TH_LOG("mprotect made the VMClock page writable");
	if (ret == -1) {
		EXPECT_EQ(EACCES, err) TH_LOG("mprotect: %s", strerror(err));
	}
	munmap(map, len);
}

TEST_F(vmclock_map, mprotect_shared_write_refused)
{
	check_mprotect_refused(_metadata, self->fd, self->page_size, MAP_SHARED);
}

TEST_F(vmclock_map, mprotect_private_write_refused)
{
	check_mprotect_refused(_metadata, self->fd, self->page_size, MAP_PRIVATE);
}

/*
 * aws-lc's pattern as an ordinary user: with the device readable by others
 * (udev/60-vmgen-vmclock.rules), a non-root process can open, pread and
 * mmap(112) the page, but never map it writable or open it for writing.
 */
TEST_F(vmclock, unprivileged_consumer)
{
	const char *path = self->path;
	struct vmclock_page snap;
	struct stat st;
	int status;
	pid_t child;

	if (stat(path, &st))
		SKIP(return, "%s: %s", path, strerror(errno));
	if (geteuid() != 0)
		SKIP(return, "needs root to switch to an unprivileged user");
	if (!(st.st_mode & S_IROTH))
		SKIP(return, "%s is mode %04o: install udev/60-vmgen-vmclock.rules for non-root readers",
		     path, st.st_mode & 07777);

	child = fork();
	ASSERT_LE(0, child);
	if (child == 0) {
		void *map;
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (open(path, O_RDWR) >= 0 || errno != EACCES)
			_exit(11);
		fd = open(path, O_RDONLY);
		if (fd < 0)
			_exit(12);
		if (pread(fd, &snap, VMCLOCK_PAGE_LEN, 0) != VMCLOCK_PAGE_LEN ||
		    page_magic(&snap) != VMCLOCK_MAGIC)
			_exit(13);
		if (mmap(NULL, VMCLOCK_PAGE_LEN, PROT_READ | PROT_WRITE,
			 MAP_SHARED, fd, 0) != MAP_FAILED)
			_exit(14);
		map = mmap(NULL, VMCLOCK_PAGE_LEN, PROT_READ, MAP_SHARED, fd, 0);
		if (map == MAP_FAILED)
			_exit(15);
		if (vmclock_map_snapshot(map, &snap, MAP_READ_TRIES) ||
		    page_magic(&snap) != VMCLOCK_MAGIC)
			_exit(16);
		if (mprotect(map, VMCLOCK_PAGE_LEN, PROT_READ | PROT_WRITE) == 0)
			_exit(17);
		_exit(0);
	}
	ASSERT_EQ(child, waitpid(child, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	/* 10 setuid, 11 O_RDWR allowed, 12 open, 13 pread, 14 writable map,
	 * 15 mmap, 16 seqcount read, 17 mprotect(PROT_WRITE) allowed
	 */
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_HARNESS_MAIN
