// SPDX-License-Identifier: GPL-2.0
/*
 * poll() on the sysfs attribute /sys/class/misc/vmgenid/generation: read
 * it once, block for POLLPRI (sysfs_notify()), read it again. Observed =
 * the new value in hand.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "bench.h"

static int fd = -1;
static unsigned long long last_gen;

static int read_attr(unsigned long long *v)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	*v = strtoull(buf, NULL, 10);
	return 0;
}

static int setup(int argc, char **argv)
{
	fd = open(argc > 1 ? argv[1] : "/sys/class/misc/vmgenid/generation",
		  O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return read_attr(&last_gen);
}

static int wait_event(int timeout_ms, int64_t *t)
{
	struct pollfd pfd = { .fd = fd, .events = POLLPRI | POLLERR };
	int64_t end = bench_now() + (int64_t)timeout_ms * 1000000;
	unsigned long long v;

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
		/* reading rearms the notification */
		if (read_attr(&v))
			return -1;
		if (v != last_gen) {
			*t = bench_now();
			last_gen = v;
			return 1;
		}
	}
}

static const struct bench_method sysfs_method = {
	.name = "sysfs-poll", .setup = setup, .wait = wait_event,
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, &sysfs_method);
}
