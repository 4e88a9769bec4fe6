// SPDX-License-Identifier: GPL-2.0
/*
 * vmgen_vmgenid's change uevent, straight from the kernel's netlink
 * multicast group (what udev sees first): block in recv(), observed = a
 * message carrying VMGENID_GENERATION=. Every other uevent wakes it too.
 */
#define _GNU_SOURCE
#include <linux/netlink.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <vmgen/vmgenid.h>

#include "bench.h"

static int sk = -1;

static int setup(int argc, char **argv)
{
	struct sockaddr_nl sa = { .nl_family = AF_NETLINK, .nl_groups = 1 };
	int size = 1 << 20;

	(void)argc;
	(void)argv;
	sk = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		    NETLINK_KOBJECT_UEVENT);
	if (sk < 0)
		return -1;
	setsockopt(sk, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	return bind(sk, (struct sockaddr *)&sa, sizeof(sa));
}

static int is_ours(const char *msg, size_t len)
{
	const char *p = msg, *end = msg + len;

	while (p < end) {
		if (!strncmp(p, VMGENID_UEVENT_GENERATION "=",
			     sizeof(VMGENID_UEVENT_GENERATION)))
			return 1;
		p += strnlen(p, (size_t)(end - p)) + 1;
	}
	return 0;
}

static int our_uevent(void)
{
	static char buf[8192];
	ssize_t n = recv(sk, buf, sizeof(buf) - 1, MSG_DONTWAIT);

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return is_ours(buf, (size_t)n);
}

static int wait_event(int timeout_ms, int64_t *t)
{
	return bench_poll_until(sk, POLLIN, timeout_ms, our_uevent, t);
}

static const struct bench_method uevent_method = {
	.name = "uevent", .setup = setup, .wait = wait_event,
};

int main(int argc, char **argv)
{
	return bench_main(argc, argv, &uevent_method);
}
