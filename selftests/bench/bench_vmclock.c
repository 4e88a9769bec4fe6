// SPDX-License-Identifier: GPL-2.0
/*
 * poll() on /dev/vmclock0 as an application does it: block in poll(), then
 * pread() the page (which also rearms poll()) and check that
 * vm_generation_counter moved. Observed = the new counter in hand. Works
 * with vmgen_vmclock and with Linux 7.0's ptp_vmclock (the same ABI).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <unistd.h>

#include <vmgen/vmclock-abi.h>

#include "bench.h"

static int fd = -1;
static uint64_t last_gen;

static int read_gen(uint64_t *gen)
{
	struct vmclock_abi abi;

	if (pread(fd, &abi, sizeof(abi), 0) <
	    (ssize_t)(offsetof(struct vmclock_abi, vm_generation_counter) + 8))
		return -1;
	*gen = abi.vm_generation_counter;
	return 0;
}

static int setup(int argc, char **argv)
{
	fd = open(argc > 1 ? argv[1] : "/dev/vmclock0", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return read_gen(&last_gen);
}

static int wait_event(int timeout_ms, int64_t *t)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t end = bench_now() + (int64_t)timeout_ms * 1000000;
	uint64_t gen;

	for (;;) {
		int64_t left = (end - bench_now()) / 1000000;
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r < 0)
			return -1;
		if (r == 0) {
			*t = bench_now();
			return 0;
		}
		if (read_gen(&gen))
			return -1;
		if (gen != last_gen) {
			*t = bench_now();
			last_gen = gen;
			return 1;
		}
		/* a clock update: not a restore */
	}
}

static const struct bench_method vmclock_method = {
	.name = "vmclock-poll", .setup = setup, .wait = wait_event,
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, &vmclock_method);
}
