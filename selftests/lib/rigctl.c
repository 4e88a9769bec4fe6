// SPDX-License-Identifier: GPL-2.0
/*
 * Guest side of the vmgen test rig's control protocol: one request line out
 * on the "vmgen.ctl" virtio-serial port, one reply line back.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rigctl.h"

#define PORTS_DIR "/sys/class/virtio-ports"
#define PORT_NAME "vmgen.ctl"
#define LINE_MAX_LEN 4096

/* Back-off while the port is busy or the host end is not connected. */
#define RETRY_SLEEP_MS 20

static unsigned int request_counter;

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static void set_reply(char *reply, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_reply(char *reply, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!reply || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(reply, len, fmt, ap);
	va_end(ap);
}

/* Reads a small sysfs file into buf without its trailing newline. */
static int read_attr(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* Finds the control port's device node; returns 0 and fills path if found. */
static int find_port(char *path, size_t len)
{
	const char *override = getenv(RIGCTL_DEV_ENV);
	struct dirent *entry;
	char name_path[512];
	char name[128];
	int found = -1;
	DIR *dir;

	if (override && *override) {
		snprintf(path, len, "%s", override);
		return 0;
	}

	dir = opendir(PORTS_DIR);
	if (!dir)
		return -1;
	while ((entry = readdir(dir))) {
		if (entry->d_name[0] == '.')
			continue;
		snprintf(name_path, sizeof(name_path), "%s/%s/name", PORTS_DIR,
			 entry->d_name);
		if (read_attr(name_path, name, sizeof(name)))
			continue;
		if (strcmp(name, PORT_NAME))
			continue;
		snprintf(path, len, "/dev/%s", entry->d_name);
		if (access(path, F_OK) == 0)
			found = 0;
		break;
	}
	closedir(dir);
	return found;
}

int rigctl_available(void)
{
	char path[512];

	return find_port(path, sizeof(path)) == 0;
}

/*
 * Opens the port, retrying while another process holds it: virtio-serial
 * allows one opener at a time (EBUSY, or EMFILE on old kernels).
 */
static int open_port(const char *path, long long deadline)
{
	int fd;

	for (;;) {
		fd = open(path, O_RDWR | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
		if (fd >= 0)
			return fd;
		if ((errno != EBUSY && errno != EMFILE) || now_ms() >= deadline)
			return -1;
		sleep_ms(RETRY_SLEEP_MS);
	}
}

/*
 * Waits for one of the events in want. A port whose host end is not
 * connected reports only POLLHUP; that is waited out like a timeout, since
 * the host may still connect.
 */
static int wait_port(int fd, short want, long long deadline)
{
	struct pollfd pfd = { .fd = fd, .events = want };
	long long left;
	int ret;

	for (;;) {
		left = deadline - now_ms();
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		ret = poll(&pfd, 1, left > 1000 ? 1000 : (int)left);
		if (ret < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (pfd.revents & want)
			return 0;
		if (pfd.revents & POLLNVAL) {
			errno = EBADF;
			return -1;
		}
		if (pfd.revents & (POLLHUP | POLLERR))
			sleep_ms(RETRY_SLEEP_MS);
	}
}

static int write_all(int fd, const char *buf, size_t len, long long deadline)
{
	ssize_t n;

	while (len) {
		if (wait_port(fd, POLLOUT, deadline))
			return -1;
		n = write(fd, buf, len);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -1;
		}
		buf += n;
		len -= n;
	}
	return 0;
}

/*
 * Handles one complete reply line. Returns 1 when it answered our request
 * (result in *status), 0 when it belongs to someone else.
 */
static int take_line(const char *line, unsigned long long id, int *status,
		     char *reply, size_t len)
{
	unsigned long long line_id;
	const char *rest;
	char *end;

	errno = 0;
	line_id = strtoull(line, &end, 10);
	if (end == line || errno || *end != ' ' || line_id != id)
		return 0;
	rest = end + 1;

	set_reply(reply, len, "%s", rest);
	if (!strncmp(rest, "ok", 2) && (rest[2] == '\0' || rest[2] == ' '))
		*status = 0;
	else
		*status = -1;
	return 1;
}

/* Reads lines until the one carrying our id; returns its status. */
static int read_reply(int fd, unsigned long long id, char *reply, size_t len,
		      long long deadline)
{
	char buf[LINE_MAX_LEN];
	size_t used = 0;
	int status;
	ssize_t n;
	char *nl;

	for (;;) {
		if (wait_port(fd, POLLIN, deadline)) {
			set_reply(reply, len, "transport: no reply to request %llu: %s",
				  id, strerror(errno));
			return -1;
		}
		n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			set_reply(reply, len, "transport: read: %s", strerror(errno));
			return -1;
		}
		if (n == 0) {
			/* Host end not connected: no data, yet. */
			sleep_ms(RETRY_SLEEP_MS);
			continue;
		}
		used += n;
		buf[used] = '\0';

		while ((nl = memchr(buf, '\n', used))) {
			*nl = '\0';
			if (nl > buf && nl[-1] == '\r')
				nl[-1] = '\0';
			if (take_line(buf, id, &status, reply, len))
				return status;
			used -= nl + 1 - buf;
			memmove(buf, nl + 1, used);
			buf[used] = '\0';
		}
		/* A line longer than the buffer is nobody's reply: drop it. */
		if (used == sizeof(buf) - 1)
			used = 0;
	}
}

int rigctl(char *reply, size_t len, const char *fmt, ...)
{
	long long deadline = now_ms() + RIGCTL_TIMEOUT_MS;
	char words[LINE_MAX_LEN - 32];
	char line[LINE_MAX_LEN];
	unsigned long long id;
	char path[512];
	int line_len;
	int status;
	va_list ap;
	int fd;

	if (find_port(path, sizeof(path))) {
		set_reply(reply, len, "no %s virtio port: not running under the vmgen rig",
			  PORT_NAME);
		return RIGCTL_UNAVAILABLE;
	}

	va_start(ap, fmt);
	line_len = vsnprintf(words, sizeof(words), fmt, ap);
	va_end(ap);
	if (line_len < 0 || (size_t)line_len >= sizeof(words) ||
	    strpbrk(words, "\r\n")) {
		set_reply(reply, len, "request too long or spans lines");
		return -1;
	}

	/*
	 * Unique within the guest while requests are in flight: forked
	 * children have their own pid, threads share the counter.
	 */
	id = (unsigned long long)getpid() * 1000 +
	     __atomic_fetch_add(&request_counter, 1, __ATOMIC_RELAXED) % 1000;
	line_len = snprintf(line, sizeof(line), "%llu %s\n", id, words);

	fd = open_port(path, deadline);
	if (fd < 0) {
		set_reply(reply, len, "transport: open %s: %s", path, strerror(errno));
		return -1;
	}
	if (write_all(fd, line, line_len, deadline)) {
		set_reply(reply, len, "transport: write %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	status = read_reply(fd, id, reply, len, deadline);
	close(fd);
	return status;
}

int rigctl_get_u64(const char *reply, const char *key, unsigned long long *val)
{
	size_t key_len = strlen(key);
	const char *p = reply;
	unsigned long long v;
	char *end;

	if (!reply || !key_len)
		return -1;
	while (*p) {
		while (*p == ' ')
			p++;
		if (!strncmp(p, key, key_len) && p[key_len] == '=') {
			p += key_len + 1;
			if (!isdigit((unsigned char)*p))
				return -1;
			errno = 0;
			v = strtoull(p, &end, 0);
			if (errno || (*end && *end != ' '))
				return -1;
			*val = v;
			return 0;
		}
		while (*p && *p != ' ')
			p++;
	}
	return -1;
}
