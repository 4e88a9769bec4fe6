// SPDX-License-Identifier: GPL-2.0
/*
 * The floor: the least a program can do to learn of a restore, poll() on
 * /dev/vmclock0 and nothing else. The measured window holds the poll()
 * return and one vDSO clock_gettime(); the pread() that rearms poll() runs
 * after it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "bench.h"

static int fd = -1;

static int setup(int argc, char **argv)
{
	fd = open(argc > 1 ? argv[1] : "/dev/vmclock0", O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -1 : 0;
}

static int wait_event(int timeout_ms, int64_t *t)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int r = poll(&pfd, 1, timeout_ms);

	*t = bench_now();
	return r < 0 ? -1 : r > 0;
}

static void rearm(void)
{
	char page[4096];

	if (pread(fd, page, sizeof(page), 0) < 0) {
		/* the next poll() reports what is wrong */
	}
}

static const struct bench_method floor_method = {
	.name = "floor", .setup = setup, .wait = wait_event, .rearm = rearm,
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, &floor_method);
}
