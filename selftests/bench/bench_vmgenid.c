// SPDX-License-Identifier: GPL-2.0
/*
 * poll() on /dev/vmgenid (vmgen_vmgenid): block, then read the 8-byte
 * generation (which marks it seen). Observed = the new generation in hand.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include "bench.h"

static int fd = -1;
static uint64_t last_gen;

static int setup(int argc, char **argv)
{
	fd = open(argc > 1 ? argv[1] : "/dev/vmgenid", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return pread(fd, &last_gen, 8, 0) == 8 ? 0 : -1;
}

static int wait_event(int timeout_ms, int64_t *t)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint64_t gen;
	int r = poll(&pfd, 1, timeout_ms);

	if (r <= 0) {
		*t = bench_now();
		return r;
	}
	if (pread(fd, &gen, 8, 0) != 8)
		return -1;
	*t = bench_now();
	last_gen = gen;
	return 1;
}

static const struct bench_method vmgenid_method = {
	.name = "vmgenid-poll", .setup = setup, .wait = wait_event,
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, &vmgenid_method);
}
