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

/* reading rearms the notification */
static int new_gen(void)
{
	unsigned long long v;

	if (read_attr(&v))
		return -1;
	if (v == last_gen)
		return 0;
	last_gen = v;
	return 1;
}

static int wait_event(int timeout_ms, int64_t *t)
{
	return bench_poll_until(fd, POLLPRI | POLLERR, timeout_ms, new_gen, t);
}

static const struct bench_method sysfs_method = {
	.name = "sysfs-poll", .setup = setup, .wait = wait_event,
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, &sysfs_method);
}
