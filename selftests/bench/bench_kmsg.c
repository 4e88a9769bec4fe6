// SPDX-License-Identifier: GPL-2.0
/*
 * The kmsg method: read /dev/kmsg and wait for the line the kernel's own
 * vmgenid driver makes random.c print on a VM fork (Linux 5.18+, with the
 * VMGenID device). Observed = the record in hand. Every other kernel
 * message wakes it too.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define LINE "crng reseeded due to virtual machine fork"

static int fd = -1;

static int setup(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0)
		return -1;
	return lseek(fd, 0, SEEK_END) < 0 ? -1 : 0;
}

/* one record per read(); EPIPE: records were overwritten */
static int the_line(void)
{
	static char rec[8192];
	ssize_t n;

	while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 ||
	       (n < 0 && errno == EPIPE)) {
		char *msg;

		if (n < 0)
			continue;
		rec[n] = '\0';
		msg = strchr(rec, ';');
		if (msg && strstr(msg, LINE))
			return 1;
	}
	return 0;
}

static int wait_event(int timeout_ms, int64_t *t)
{
	return bench_poll_until(fd, POLLIN, timeout_ms, the_line, t);
}

static const struct bench_method kmsg_method = {
	.name = "kmsg", .setup = setup, .wait = wait_event,
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, &kmsg_method);
}
