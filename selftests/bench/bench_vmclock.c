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

/* a clock update is not a restore: only a new generation counts */
static int new_gen(void)
{
	uint64_t gen;

	if (read_gen(&gen))
		return -1;
	if (gen == last_gen)
		return 0;
	last_gen = gen;
	return 1;
}

static int wait_event(int timeout_ms, int64_t *t)
{
	return bench_poll_until(fd, POLLIN, timeout_ms, new_gen, t);
}

static const struct bench_method vmclock_method = {
	.name = "vmclock-poll", .setup = setup, .wait = wait_event,
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, &vmclock_method);
}
