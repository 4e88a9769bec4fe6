// SPDX-License-Identifier: GPL-2.0
/*
 * Spinning on a memory word: mmap /dev/vmclock0 and look at
 * vm_generation_counter (under seq_count) every --interval-us, sleeping
 * with clock_nanosleep() in between, as a polling loop does. Observed = the
 * changed counter seen. Its cost is the CPU it burns and the wakeups while
 * nothing happens.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <vmgen/vmclock-abi.h>

#include "bench.h"

static const volatile struct vmclock_abi *abi;
static uint64_t last_gen;
static long interval_ns = 100000;

static uint64_t read_gen(void)
{
	uint32_t seq;
	uint64_t gen;

	for (;;) {
		seq = __atomic_load_n(&abi->seq_count, __ATOMIC_ACQUIRE);
		if (seq & 1)
			continue;
		gen = abi->vm_generation_counter;
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&abi->seq_count, __ATOMIC_RELAXED) == seq)
			return gen;
	}
}

static int setup(int argc, char **argv)
{
	const char *dev = "/dev/vmclock0";
	void *p;
	int i, fd;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--interval-us") && i + 1 < argc)
			interval_ns = atol(argv[++i]) * 1000;
		else
			dev = argv[i];
	}
	fd = open(dev, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	p = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
	close(fd);
	if (p == MAP_FAILED)
		return -1;
	abi = p;
	last_gen = read_gen();
	return 0;
}

static int wait_event(int timeout_ms, int64_t *t)
{
	struct timespec ts = { interval_ns / 1000000000L,
			       interval_ns % 1000000000L };
	int64_t end = bench_now() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		uint64_t gen = read_gen();

		if (gen != last_gen) {
			*t = bench_now();
			last_gen = gen;
			return 1;
		}
		if (bench_now() >= end) {
			*t = bench_now();
			return 0;
		}
		clock_nanosleep(CLOCK_MONOTONIC, 0, &ts, NULL);
	}
}

static const struct bench_method spin_method = {
	.name = "spin", .setup = setup, .wait = wait_event,
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, &spin_method);
}
