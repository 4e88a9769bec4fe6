// SPDX-License-Identifier: GPL-2.0
/*
 * The rig's own proof that it works, run in a guest:
 *
 *   rig_selftest --vmclock-events N
 *	the host raises N VMClock events; each must wake exactly one poll()
 *	on /dev/vmclock0 with the counters the host reports having written.
 *   rig_selftest --snapshot N
 *	asks the host to snapshot this guest and restore N clones; the rest
 *	runs in every clone, which must learn its clone index.
 *   rig_selftest --vmclock-restore N
 *	a poller blocked on /dev/vmclock0 since before the snapshot must wake
 *	exactly once in each of N clones, with the disruption marker (and the
 *	generation counter, where the host keeps one) one step on. With
 *	VMCLOCK_EXPECT=hup the device is one that cannot notify: poll() must
 *	report POLLHUP at once instead, before and after the restore.
 *   rig_selftest --ptp TAI_MINUS_PAGE
 *	x86: has the host anchor the page's counter_value at this CPU's TSC,
 *	then reads the "vmclock*" PTP clock, which must be time_sec +
 *	TAI_MINUS_PAGE seconds (0 for a TAI page, 37 for UTC with offset
 *	-37), give or take the few seconds the TSC runs meanwhile.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <dirent.h>
#include <time.h>
#include <sys/wait.h>

#include "kselftest.h"
#include "rigctl.h"

#define VMCLOCK_PAGE_BYTES	112
#define OFF_SEQ			0x0c
#define OFF_MARKER		0x10
#define OFF_FLAGS		0x18
#define OFF_GEN			0x68
#define FLAG_GEN_PRESENT	(1ULL << 8)

static uint64_t le64_at(const unsigned char *p, size_t off)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[off + i];
	return v;
}

static int vmclock_events(int count)
{
	unsigned char page[VMCLOCK_PAGE_BYTES];
	char reply[256];
	struct pollfd pfd;
	int fd, i;

	ksft_print_header();
	ksft_set_plan(count + 1);
	fd = open("/dev/vmclock0", O_RDONLY);
	if (fd < 0)
		ksft_exit_fail_msg("open /dev/vmclock0: %s\n", strerror(errno));
	/* Consume the pending "first poll fires" state. */
	if (pread(fd, page, sizeof(page), 0) != sizeof(page))
		ksft_exit_fail_msg("pread: %s\n", strerror(errno));
	pfd.fd = fd;
	pfd.events = POLLIN;
	ksft_test_result(poll(&pfd, 1, 0) == 0, "quiet before any event\n");

	for (i = 1; i <= count; i++) {
		unsigned long long host_gen = 0, host_marker = 0;
		int woke, extra;

		if (rigctl(reply, sizeof(reply), "emu vmclock-event") ||
		    rigctl_get_u64(reply, "gen", &host_gen) ||
		    rigctl_get_u64(reply, "marker", &host_marker))
			ksft_exit_fail_msg("host event failed: %s\n", reply);
		woke = poll(&pfd, 1, 10000) == 1 && (pfd.revents & POLLIN);
		if (pread(fd, page, sizeof(page), 0) != sizeof(page))
			ksft_exit_fail_msg("pread: %s\n", strerror(errno));
		extra = poll(&pfd, 1, 0);
		ksft_print_msg("event %d: host gen=%llu marker=%llu, guest gen=%llu marker=%llu\n",
			       i, host_gen, host_marker,
			       (unsigned long long)le64_at(page, OFF_GEN),
			       (unsigned long long)le64_at(page, OFF_MARKER));
		ksft_test_result(woke && extra == 0 &&
				 le64_at(page, OFF_GEN) == host_gen &&
				 le64_at(page, OFF_MARKER) == host_marker,
				 "event %d wakes poll once with the host's counters\n",
				 i);
	}
	close(fd);
	ksft_finished();
	return 0;
}

static int snapshot(int clones)
{
	unsigned long long index = 0, total = 0;
	char reply[256];

	ksft_print_header();
	ksft_set_plan(1);
	if (rigctl(reply, sizeof(reply), "snapshot %d", clones))
		ksft_exit_fail_msg("snapshot request failed: %s\n", reply);
	/* From here on this runs in each restored clone. */
	rigctl_get_u64(reply, "clone", &index);
	rigctl_get_u64(reply, "clones", &total);
	ksft_test_result(total == (unsigned long long)clones && index < total,
			 "restored as clone %llu of %llu\n", index, total);
	ksft_finished();
	return 0;
}

/* Child: block in poll() across the snapshot; report through the exit code. */
static int restore_poller(int fd, const unsigned char *before, int expect_hup)
{
	unsigned char after[VMCLOCK_PAGE_BYTES];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int n = poll(&pfd, 1, 120000);

	if (expect_hup)
		return n == 1 && (pfd.revents & POLLHUP) ? 0 : 10;
	if (n != 1 || !(pfd.revents & POLLIN))
		return 11;
	if (pread(fd, after, sizeof(after), 0) != sizeof(after))
		return 12;
	if (le64_at(after, OFF_MARKER) != le64_at(before, OFF_MARKER) + 1)
		return 13;
	if ((le64_at(before, OFF_FLAGS) & FLAG_GEN_PRESENT) &&
	    le64_at(after, OFF_GEN) != le64_at(before, OFF_GEN) + 1)
		return 14;
	/* One wake: nothing more pending once the new state was read. */
	return poll(&pfd, 1, 0) == 0 ? 0 : 15;
}

static const char *const poller_errors[] = {
	[10] = "poll() did not report POLLHUP",
	[11] = "no POLLIN wake within 120 s",
	[12] = "pread after the wake failed",
	[13] = "disruption_marker did not move by exactly one",
	[14] = "vm_generation_counter did not move by exactly one",
	[15] = "a second wake was pending",
};

static int vmclock_restore(int clones)
{
	const char *expect = getenv("VMCLOCK_EXPECT");
	int expect_hup = expect && !strcmp(expect, "hup");
	unsigned char before[VMCLOCK_PAGE_BYTES];
	unsigned long long index = 0;
	char reply[256];
	int fd, status, code;
	pid_t child;

	ksft_print_header();
	ksft_set_plan(1);
	fd = open("/dev/vmclock0", O_RDONLY);
	if (fd < 0)
		ksft_exit_fail_msg("open /dev/vmclock0: %s\n", strerror(errno));
	if (pread(fd, before, sizeof(before), 0) != sizeof(before))
		ksft_exit_fail_msg("pread: %s\n", strerror(errno));
	child = fork();
	if (child == 0)
		_exit(restore_poller(fd, before, expect_hup));
	/* Give the child time to block before the snapshot is taken. */
	usleep(200000);
	if (rigctl(reply, sizeof(reply), "snapshot %d", clones))
		ksft_exit_fail_msg("snapshot request failed: %s\n", reply);
	rigctl_get_u64(reply, "clone", &index);
	if (waitpid(child, &status, 0) != child || !WIFEXITED(status))
		ksft_exit_fail_msg("poller died\n");
	code = WEXITSTATUS(status);
	if (code && code < 16 && poller_errors[code])
		ksft_print_msg("clone %llu: %s\n", index, poller_errors[code]);
	ksft_test_result(code == 0, "clone %llu: %s across the restore\n",
			 index, expect_hup ? "POLLHUP" : "one wake");
	close(fd);
	ksft_finished();
	return 0;
}

#define PTP_PAGE_TIME_SEC	1700000000LL
#define FD_TO_CLOCKID(fd)	((~(clockid_t)(fd) << 3) | 3)

static int find_vmclock_ptp(char *dev, size_t len)
{
	struct dirent *de;
	char path[300], name[64];
	DIR *dir = opendir("/sys/class/ptp");
	int found = -1;

	while (dir && (de = readdir(dir))) {
		FILE *f;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/class/ptp/%s/clock_name",
			 de->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(name, sizeof(name), f) &&
		    !strncmp(name, "vmclock", 7)) {
			snprintf(dev, len, "/dev/%s", de->d_name);
			found = 0;
		}
		fclose(f);
	}
	if (dir)
		closedir(dir);
	return found;
}

static int ptp_check(long long tai_minus_page)
{
#if defined(__x86_64__)
	char reply[256], dev[300];
	unsigned int lo, hi;
	struct timespec ts;
	long long off;
	int fd;

	ksft_print_header();
	ksft_set_plan(1);
	if (find_vmclock_ptp(dev, sizeof(dev)))
		ksft_exit_fail_msg("no PTP clock named vmclock*\n");
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	if (rigctl(reply, sizeof(reply), "emu vmclock-set counter_value=%llu",
		   ((unsigned long long)hi << 32) | lo))
		ksft_exit_fail_msg("host: %s\n", reply);
	fd = open(dev, O_RDONLY);
	if (fd < 0 || clock_gettime(FD_TO_CLOCKID(fd), &ts))
		ksft_exit_fail_msg("%s: %s\n", dev, strerror(errno));
	off = (long long)ts.tv_sec - PTP_PAGE_TIME_SEC;
	ksft_print_msg("%s reads page time + %lld.%09ld s\n", dev, off,
		       ts.tv_nsec);
	ksft_test_result(off >= tai_minus_page && off < tai_minus_page + 10,
			 "PTP clock gives the page's time as TAI (+%lld s)\n",
			 tai_minus_page);
	close(fd);
	ksft_finished();
#else
	(void)tai_minus_page;
	ksft_print_header();
	ksft_exit_skip("the TSC anchor is x86-only\n");
#endif
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--vmclock-events"))
		return vmclock_events(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "--snapshot"))
		return snapshot(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "--vmclock-restore"))
		return vmclock_restore(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "--ptp"))
		return ptp_check(atoll(argv[2]));
	fprintf(stderr, "usage: %s --vmclock-events N | --snapshot N | --vmclock-restore N | --ptp SECONDS\n",
		argv[0]);
	return 2;
}
