// SPDX-License-Identifier: GPL-2.0
/*
 * The stamp hook: the smallest program a hook can be. It writes
 * "<CLOCK_MONOTONIC ns>\n" to BENCH_HOOK_FIFO (if a reader has it open)
 * and exits 0. No libc: its start-up costs nothing beyond execve(), so a
 * benchmark that runs it measures the spawn, not a shell or a C runtime.
 * x86-64 only, like the rig's benchmark.
 */
#include <fcntl.h>
#include <time.h>

#include "bench.h"

#ifndef __x86_64__
#error "bench_hook is x86-64 only"
#endif

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	__asm__ volatile ("syscall" : "=a"(ret)
			  : "a"(nr), "D"(a), "S"(b), "d"(c)
			  : "rcx", "r11", "memory");
	return ret;
}

void _start(void) __attribute__((noreturn, used, force_align_arg_pointer));
void _start(void)
{
	struct timespec ts;
	char buf[24], *p = buf + sizeof(buf);
	unsigned long long ns;
	long fd;

	sys3(228 /* clock_gettime */, CLOCK_MONOTONIC, (long)&ts, 0);
	ns = (unsigned long long)ts.tv_sec * 1000000000ULL +
	     (unsigned long long)ts.tv_nsec;
	*--p = '\n';
	do {
		*--p = (char)('0' + ns % 10);
		ns /= 10;
	} while (ns);
	fd = sys3(2 /* open */, (long)BENCH_HOOK_FIFO, O_WRONLY | O_NONBLOCK,
		  0);
	if (fd >= 0)
		sys3(1 /* write */, fd, (long)p, buf + sizeof(buf) - p);
	for (;;)
		sys3(231 /* exit_group */, 0, 0, 0);
}
