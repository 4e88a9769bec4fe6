// SPDX-License-Identifier: GPL-2.0
/*
 * Test helper: fake VMClock pages and VMGenID files for vmgend/vmgenctl,
 * updated in place the way a host does it (seq_count odd, fields, seq_count
 * even, with release ordering), and a receiver for sd_notify datagrams.
 *
 *   fakedev vmclock-init FILE [key=value]...   a fresh 4 KiB page
 *   fakedev vmclock-set FILE key=value...      update under the seqcount
 *   fakedev vmclock-bump FILE gen|marker|both  +1 under the seqcount
 *   fakedev vmclock-odd FILE                   leave seq_count odd
 *   fakedev vmgenid-set FILE N                 8 bytes, native-endian
 *   fakedev notify-recv SOCKET TIMEOUT_MS      print datagrams until
 *                                              READY=1 (exit 0) or timeout (1)
 * keys: flags gen marker seq size magic version (decimal or 0x hex)
 */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <vmgen/vmclock-abi.h>

#define PAGE 4096

static void die(const char *what)
{
	fprintf(stderr, "fakedev: %s: %s\n", what, strerror(errno));
	exit(1);
}

static uint64_t num(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "fakedev: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static unsigned char *map_page(const char *path, int create)
{
	unsigned char *p;
	int fd;

	fd = open(path, O_RDWR | (create ? O_CREAT | O_TRUNC : 0), 0644);
	if (fd < 0)
		die(path);
	if (create && ftruncate(fd, PAGE) < 0)
		die("ftruncate");
	p = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		die("mmap");
	close(fd);
	return p;
}

#define F(p, field) ((void *)((p) + offsetof(struct vmclock_abi, field)))

static void st32(void *a, uint32_t v, int order)
{
	__atomic_store_n((uint32_t *)a, htole32(v), order);
}

static void st64(void *a, uint64_t v)
{
	__atomic_store_n((uint64_t *)a, htole64(v), __ATOMIC_RELAXED);
}

static uint64_t ld64(void *a)
{
	return le64toh(__atomic_load_n((uint64_t *)a, __ATOMIC_RELAXED));
}

static uint32_t ld32(void *a)
{
	return le32toh(__atomic_load_n((uint32_t *)a, __ATOMIC_RELAXED));
}

static void apply(unsigned char *p, int argc, char **argv)
{
	int i;

	for (i = 0; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		uint64_t v;

		if (!eq) {
			fprintf(stderr, "fakedev: expected key=value: %s\n",
				argv[i]);
			exit(2);
		}
		*eq = '\0';
		v = num(eq + 1);
		if (!strcmp(argv[i], "flags"))
			st64(F(p, flags), v);
		else if (!strcmp(argv[i], "gen"))
			st64(F(p, vm_generation_counter), v);
		else if (!strcmp(argv[i], "marker"))
			st64(F(p, disruption_marker), v);
		else if (!strcmp(argv[i], "size"))
			st32(F(p, size), (uint32_t)v, __ATOMIC_RELAXED);
		else if (!strcmp(argv[i], "magic"))
			st32(F(p, magic), (uint32_t)v, __ATOMIC_RELAXED);
		else if (!strcmp(argv[i], "version"))
			__atomic_store_n((uint16_t *)F(p, version),
					 htole16((uint16_t)v), __ATOMIC_RELAXED);
		else if (!strcmp(argv[i], "seq"))
			st32(F(p, seq_count), (uint32_t)v, __ATOMIC_RELEASE);
		else {
			fprintf(stderr, "fakedev: unknown key %s\n", argv[i]);
			exit(2);
		}
	}
}

/* The host's update: seq odd, fence, fields, fence, seq even. */
static void begin(unsigned char *p)
{
	uint32_t seq = ld32(F(p, seq_count));

	st32(F(p, seq_count), (seq | 1), __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
}

static void end(unsigned char *p)
{
	uint32_t seq = ld32(F(p, seq_count));

	__atomic_thread_fence(__ATOMIC_RELEASE);
	st32(F(p, seq_count), seq + 1, __ATOMIC_RELEASE);
}

static int notify_recv(const char *path, int timeout_ms)
{
	struct sockaddr_un sa;
	char buf[4096];
	struct pollfd pfd;
	int fd, ready = 0;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "fakedev: socket path too long\n");
		return 2;
	}
	strcpy(sa.sun_path, path);
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind");
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (!ready && poll(&pfd, 1, timeout_ms) > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf) - 1, 0);

		if (n < 0)
			die("recv");
		buf[n] = '\0';
		printf("%s\n--\n", buf);
		fflush(stdout);
		if (!strncmp(buf, "READY=1", 7) || strstr(buf, "\nREADY=1"))
			ready = 1;
	}
	close(fd);
	unlink(path);
	return ready ? 0 : 1;
}

int main(int argc, char **argv)
{
	unsigned char *p;

	if (argc < 3) {
		fprintf(stderr, "usage: see the comment in fakedev.c\n");
		return 2;
	}
	if (!strcmp(argv[1], "vmclock-init")) {
		p = map_page(argv[2], 1);
		st32(F(p, magic), VMCLOCK_MAGIC, __ATOMIC_RELAXED);
		st32(F(p, size), PAGE, __ATOMIC_RELAXED);
		__atomic_store_n((uint16_t *)F(p, version), htole16(1),
				 __ATOMIC_RELAXED);
		p[offsetof(struct vmclock_abi, counter_id)] =
			VMCLOCK_COUNTER_INVALID;
		st64(F(p, flags), VMCLOCK_FLAG_VM_GEN_COUNTER_PRESENT |
				  VMCLOCK_FLAG_NOTIFICATION_PRESENT);
		apply(p, argc - 3, argv + 3);
		return msync(p, PAGE, MS_SYNC) < 0;
	}
	if (!strcmp(argv[1], "vmclock-set")) {
		p = map_page(argv[2], 0);
		begin(p);
		apply(p, argc - 3, argv + 3);
		end(p);
		return 0;
	}
	if (!strcmp(argv[1], "vmclock-bump") && argc == 4) {
		int gen = !strcmp(argv[3], "gen") || !strcmp(argv[3], "both");
		int marker = !strcmp(argv[3], "marker") ||
			     !strcmp(argv[3], "both");

		if (!gen && !marker)
			return 2;
		p = map_page(argv[2], 0);
		begin(p);
		if (marker)
			st64(F(p, disruption_marker),
			     ld64(F(p, disruption_marker)) + 1);
		if (gen)
			st64(F(p, vm_generation_counter),
			     ld64(F(p, vm_generation_counter)) + 1);
		end(p);
		return 0;
	}
	if (!strcmp(argv[1], "vmclock-odd")) {
		p = map_page(argv[2], 0);
		begin(p);
		return 0;
	}
	if (!strcmp(argv[1], "vmgenid-set") && argc == 4) {
		uint64_t v = num(argv[3]);
		int fd = open(argv[2], O_WRONLY | O_CREAT, 0644);

		if (fd < 0)
			die(argv[2]);
		if (pwrite(fd, &v, sizeof(v), 0) != (ssize_t)sizeof(v))
			die("pwrite");
		close(fd);
		return 0;
	}
	if (!strcmp(argv[1], "notify-recv") && argc == 4)
		return notify_recv(argv[2], (int)num(argv[3]));
	fprintf(stderr, "fakedev: unknown command %s\n", argv[1]);
	return 2;
}
