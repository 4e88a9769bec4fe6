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
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "kselftest.h"
#include "rigctl.h"

#define VMCLOCK_PAGE_BYTES	112
#define OFF_SEQ			0x0c
#define OFF_MARKER		0x10
#define OFF_GEN			0x68

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

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--vmclock-events"))
		return vmclock_events(atoi(argv[2]));
	if (argc == 3 && !strcmp(argv[1], "--snapshot"))
		return snapshot(atoi(argv[2]));
	fprintf(stderr, "usage: %s --vmclock-events N | --snapshot N\n",
		argv[0]);
	return 2;
}
