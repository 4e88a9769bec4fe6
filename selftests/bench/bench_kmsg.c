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

static int wait_event(int timeout_ms, int64_t *t)
{
	static char rec[8192];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	int64_t end = bench_now() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		int64_t left = (end - bench_now()) / 1000000;
		ssize_t n;
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
		/* one record per read(); EPIPE: records were overwritten */
		while ((n = read(fd, rec, sizeof(rec) - 1)) > 0 ||
		       (n < 0 && errno == EPIPE)) {
			char *msg;

			if (n < 0)
				continue;
			rec[n] = '\0';
			msg = strchr(rec, ';');
			if (msg && strstr(msg, LINE)) {
				*t = bench_now();
				return 1;
			}
		}
	}
}

static const struct bench_method kmsg_method = {
	.name = "kmsg", .setup = setup, .wait = wait_event,
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, &kmsg_method);
}
