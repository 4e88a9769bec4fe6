// SPDX-License-Identifier: GPL-2.0
/*
 * The VMGenID value is a secret: clones told apart by it must not let an
 * unprivileged user read it.  This test makes the host (the rig's emulated
 * VMGenID) set IDs it chose, then looks for them, as an ordinary user,
 * everywhere a user can look: every readable file under /sys, /proc, /dev,
 * /run, /etc and /tmp, /dev/vmgenid read and mapped, the kernel log, the
 * kernel's uevents (listening while the ID changes) and vmgenctl's output.
 * Each ID is searched as raw bytes, as hex and in both UUID byte orders,
 * lower and upper case.
 *
 * A control proves the search works: root writes the first ID as text to a
 * 0644 file in /tmp, and the unprivileged scan must find it there.
 *
 *   vmgenid_secret_test [--uid UID]     (default 65534; run as root)
 *
 * TAP on stdout; "# figure:" lines for docs/reliability.md.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/netlink.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rigctl.h"

#define CONTROL_FILE	"/tmp/vmgenid-secret-control"
#define READ_MAX	(1 << 20)
#define NFORMS		9

struct secret {
	unsigned char raw[16];
	char forms[NFORMS][40];	/* [0] raw is kept apart */
	int nforms;
};

static struct secret ids[2];
static unsigned char buf[READ_MAX];
static int tests, failures;
static struct {
	long files, denied, bytes, found_control;
} scan;
static char found_where[2048];

static void result(int ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++tests);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
	if (!ok)
		failures++;
}

static void hex(char *out, const unsigned char *b, int n, int upper)
{
	static const char lo[] = "0123456789abcdef", up[] = "0123456789ABCDEF";
	const char *d = upper ? up : lo;
	int i;

	for (i = 0; i < n; i++) {
		*out++ = d[b[i] >> 4];
		*out++ = d[b[i] & 15];
	}
	*out = '\0';
}

/* 8-4-4-4-12 from 16 bytes in the given order */
static void uuid(char *out, const unsigned char *b, int upper)
{
	static const int groups[] = { 4, 2, 2, 2, 6 };
	int g, off = 0;

	for (g = 0; g < 5; g++) {
		hex(out, b + off, groups[g], upper);
		out += 2 * groups[g];
		off += groups[g];
		if (g < 4)
			*out++ = '-';
	}
	*out = '\0';
}

static void make_forms(struct secret *s)
{
	unsigned char guid[16];
	int up, n = 0;

	/* the GUID text form: first three fields little-endian */
	memcpy(guid, s->raw, 16);
	guid[0] = s->raw[3]; guid[1] = s->raw[2];
	guid[2] = s->raw[1]; guid[3] = s->raw[0];
	guid[4] = s->raw[5]; guid[5] = s->raw[4];
	guid[6] = s->raw[7]; guid[7] = s->raw[6];
	for (up = 0; up < 2; up++) {
		hex(s->forms[n++], s->raw, 16, up);
		uuid(s->forms[n++], s->raw, up);
		uuid(s->forms[n++], guid, up);
		hex(s->forms[n++], guid, 16, up);
	}
	s->nforms = n;
}

/* Which ID (1 or 2) data holds, in any form; 0 if none. */
static int holds_secret(const unsigned char *data, size_t len)
{
	int i, f;

	for (i = 0; i < 2; i++) {
		if (memmem(data, len, ids[i].raw, 16))
			return i + 1;
		for (f = 0; f < ids[i].nforms; f++)
			if (memmem(data, len, ids[i].forms[f],
				   strlen(ids[i].forms[f])))
				return i + 1;
	}
	return 0;
}

static void note_found(const char *where, int which)
{
	size_t len = strlen(found_where);

	if (!strcmp(where, CONTROL_FILE)) {
		scan.found_control++;
		return;
	}
	if (len < sizeof(found_where) - 80)
		snprintf(found_where + len, sizeof(found_where) - len,
			 "%s%s (ID %d)", len ? ", " : "", where, which);
}

static void on_alarm(int sig)
{
	(void)sig;
}

/* Read what a user can of one file (at most READ_MAX, 2 s per file). */
static void scan_file(const char *path, int is_dev)
{
	ssize_t n;
	size_t got = 0;
	int fd, which;

	fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC |
		  (is_dev ? O_NONBLOCK : 0));
	if (fd < 0) {
		scan.denied++;
		return;
	}
	alarm(2);
	while (got < sizeof(buf)) {
		n = read(fd, buf + got, sizeof(buf) - got);
		if (n <= 0)
			break;
		got += (size_t)n;
		if (is_dev && got >= 65536)
			break;
	}
	alarm(0);
	close(fd);
	scan.files++;
	scan.bytes += (long)got;
	which = got ? holds_secret(buf, got) : 0;
	if (which)
		note_found(path, which);
}

static int skip_path(const char *path)
{
	static const char *const skip[] = {
		/* other processes' trees repeat /proc/self; these block */
		"/proc/kmsg", "/proc/kcore", "/dev/console", "/dev/tty",
		"/dev/ptmx", "/dev/vport", "/dev/hvc", "/dev/ttyS",
		"/sys/kernel/debug", "/sys/kernel/tracing",
		"/proc/sysrq-trigger",
		/* this process's own memory holds the IDs it looks for */
		"/proc/self/mem", "/proc/self/task",
	};
	size_t i;

	for (i = 0; i < sizeof(skip) / sizeof(skip[0]); i++)
		if (!strncmp(path, skip[i], strlen(skip[i])))
			return 1;
	/* /proc/PID other than self: the same files, of other processes */
	if (!strncmp(path, "/proc/", 6) && path[6] >= '0' && path[6] <= '9')
		return 1;
	return 0;
}

static void scan_tree(const char *dir, int depth)
{
	char path[4096];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (depth > 16 || skip_path(dir))
		return;
	d = opendir(dir);
	if (!d) {
		scan.denied++;
		return;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (skip_path(path) || lstat(path, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode))
			scan_tree(path, depth + 1);
		else if (S_ISREG(st.st_mode))
			scan_file(path, 0);
		else if (S_ISCHR(st.st_mode))
			scan_file(path, 1);
	}
	closedir(d);
}

static int drop_privileges(uid_t uid)
{
	return setgroups(0, NULL) || setgid(uid) || setuid(uid) ||
	       geteuid() != uid;
}

static void set_id(int which, int notify)
{
	char reply[256];
	char h[40];

	hex(h, ids[which].raw, 16, 0);
	if (rigctl(reply, sizeof(reply), "emu vmgenid-set id=%s notify=%d", h,
		   notify) != 0) {
		printf("# rigctl vmgenid-set: %s\n", reply);
		exit(1);
	}
}

/* The unprivileged side; returns through its exit status. */
static int unprivileged(uid_t uid, int ready_fd, int go_fd)
{
	struct sockaddr_nl sa = {
		.nl_family = AF_NETLINK, .nl_groups = 1,
	};
	char uev[8192];
	long uevents = 0, vmgenid_uevents = 0;
	int sock, which, found_uevent = 0, out[2], st;
	struct timespec until, now;
	char c = 0;
	void *map;
	pid_t pid;
	ssize_t n;
	int fd;

	if (drop_privileges(uid)) {
		printf("# cannot become uid %u: %s\n", uid, strerror(errno));
		return 2;
	}
	/* 1. listen to the kernel's uevents while the ID changes */
	sock = socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC,
		      NETLINK_KOBJECT_UEVENT);
	if (sock < 0 || bind(sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("# uevent socket: %s\n", strerror(errno));
		return 2;
	}
	if (write(ready_fd, "r", 1) != 1 || read(go_fd, &c, 1) != 1)
		return 2;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += 3;
	for (;;) {
		struct pollfd p = { .fd = sock, .events = POLLIN };
		int ms;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ms = (int)((until.tv_sec - now.tv_sec) * 1000 +
			   (until.tv_nsec - now.tv_nsec) / 1000000);
		if (ms <= 0 || poll(&p, 1, ms) <= 0)
			break;
		n = recv(sock, uev, sizeof(uev), MSG_DONTWAIT);
		if (n <= 0)
			continue;
		uevents++;
		if (memmem(uev, (size_t)n, "vmgenid", 7))
			vmgenid_uevents++;
		if (holds_secret((unsigned char *)uev, (size_t)n))
			found_uevent++;
	}
	close(sock);
	result(vmgenid_uevents > 0 && !found_uevent,
	       "uevents: %ld seen while the ID changed (%ld from vmgenid), "
	       "%d carry the ID", uevents, vmgenid_uevents, found_uevent);
	printf("# figure: user.secret.uevents=%ld\n", vmgenid_uevents);

	/* 2. /dev/vmgenid: read and (if it maps at all) mapped */
	fd = open("/dev/vmgenid", O_RDONLY | O_CLOEXEC);
	which = 0;
	if (fd >= 0) {
		n = read(fd, buf, 4096);
		if (n > 0)
			which = holds_secret(buf, (size_t)n);
		map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
		if (map != MAP_FAILED) {
			which |= holds_secret(map, 4096);
			munmap(map, 4096);
		}
		close(fd);
	}
	result(fd >= 0 && !which, "/dev/vmgenid: readable by uid %u, and "
	       "neither read() nor mmap() gives the ID", uid);

	/* 3. the kernel log, if this user may read it */
	n = klogctl(10, NULL, 0);	/* SYSLOG_ACTION_SIZE_BUFFER */
	if (n > 0 && n <= (ssize_t)sizeof(buf))
		n = klogctl(3, (char *)buf, (int)n);	/* READ_ALL */
	result(n < 0 || !holds_secret(buf, (size_t)n),
	       "kernel log: %s", n < 0 ? "not readable by this user" :
	       "readable, and without the ID");

	/* 4. vmgenctl status --json, as this user */
	if (pipe2(out, O_CLOEXEC) < 0)
		return 2;
	pid = fork();
	if (pid < 0)
		return 2;
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(out[1], 2);
		execlp("vmgenctl", "vmgenctl", "status", "--json", NULL);
		_exit(127);
	}
	close(out[1]);
	n = 0;
	{
		ssize_t r;

		while (n < (ssize_t)sizeof(buf) &&
		       (r = read(out[0], buf + n, sizeof(buf) - (size_t)n)) > 0)
			n += r;
	}
	close(out[0]);
	waitpid(pid, &st, 0);
	result(WIFEXITED(st) && WEXITSTATUS(st) == 0 && n > 0 &&
	       !holds_secret(buf, (size_t)n),
	       "vmgenctl status --json as uid %u: exit %d, %zd bytes, no ID",
	       uid, WIFEXITED(st) ? WEXITSTATUS(st) : -1, n);

	/* 5. every file this user can read */
	{
		static const char *const roots[] = {
			"/sys", "/proc", "/dev", "/run", "/etc", "/tmp",
		};
		size_t i;

		for (i = 0; i < sizeof(roots) / sizeof(roots[0]); i++)
			scan_tree(roots[i], 0);
		scan_tree("/proc/self", 0);
	}
	result(scan.found_control > 0, "control: the scan finds the ID root "
	       "wrote to " CONTROL_FILE " (mode 0644)");
	result(!found_where[0], "files: %ld read (%ld bytes), %ld refused, "
	       "none holds the ID%s%s", scan.files, scan.bytes, scan.denied,
	       found_where[0] ? "; found in: " : "", found_where);
	printf("# figure: user.secret.files_read=%ld\n", scan.files);
	printf("# figure: user.secret.files_refused=%ld\n", scan.denied);
	printf("# figure: user.secret.found=%d\n", found_where[0] ? 1 : 0);
	fflush(stdout);
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	int ready[2], go[2], st, fd;
	uid_t uid = 65534;
	char h[40], c;
	pid_t pid;

	if (argc == 3 && !strcmp(argv[1], "--uid"))
		uid = (uid_t)strtoul(argv[2], NULL, 10);
	else if (argc != 1) {
		fprintf(stderr, "usage: %s [--uid UID]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGALRM, &sa, NULL);	/* no SA_RESTART: reads time out */
	if (geteuid() != 0 || !rigctl_available()) {
		printf("1..0 # SKIP needs root and the rig's emulated VMGenID\n");
		return 4;
	}
	if (getrandom(ids[0].raw, 16, 0) != 16 ||
	    getrandom(ids[1].raw, 16, 0) != 16)
		return 2;
	make_forms(&ids[0]);
	make_forms(&ids[1]);
	set_id(0, 1);

	/* the control: what a leak would look like */
	hex(h, ids[0].raw, 16, 0);
	fd = open(CONTROL_FILE, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, h, strlen(h)) != (ssize_t)strlen(h))
		return 2;
	close(fd);
	chmod(CONTROL_FILE, 0644);

	if (pipe(ready) || pipe(go))
		return 2;
	pid = fork();
	if (pid == 0) {
		close(ready[0]);
		close(go[1]);
		_exit(unprivileged(uid, ready[1], go[0]));
	}
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(pid, &st, 0);
		printf("not ok 1 - the unprivileged side did not start\n");
		return 1;
	}
	set_id(1, 1);	/* changes while it listens */
	if (write(go[1], "g", 1) != 1)
		return 2;
	waitpid(pid, &st, 0);
	unlink(CONTROL_FILE);
	if (!WIFEXITED(st))
		return 1;
	printf("1..6\n");
	return WEXITSTATUS(st);
}
