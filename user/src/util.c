// SPDX-License-Identifier: GPL-2.0
/* Small helpers: time, text files, atomic writes, number parsing, sd_notify. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * NSEC_PER_SEC + ts.tv_nsec;
}

int copy_str(char *dst, size_t size, const char *src)
{
	size_t n = strlen(src);

	if (!size)
		return -1;
	if (n >= size) {
		memcpy(dst, src, size - 1);
		dst[size - 1] = '\0';
		return -1;
	}
	memcpy(dst, src, n + 1);
	return 0;
}

int fmt_str(char *dst, size_t size, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(dst, size, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= size) {
		errno = ENAMETOOLONG;
		return -1;
	}
	return 0;
}

ssize_t read_text(const char *path, char *buf, size_t size)
{
	ssize_t n;
	int fd;

	if (!size) {
		errno = EINVAL;
		return -1;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -1;
	do
		n = read(fd, buf, size - 1);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	buf[n] = '\0';
	return n;
}

int parse_u64_n(const char *s, size_t n, uint64_t *v)
{
	uint64_t r = 0;
	size_t i;

	if (!s || !n)
		return -1;
	for (i = 0; i < n; i++) {
		unsigned int d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned int)(s[i] - '0');
		if (r > (UINT64_MAX - d) / 10)
			return -1;
		r = r * 10 + d;
	}
	*v = r;
	return 0;
}

int parse_u64(const char *s, uint64_t *v)
{
	return s ? parse_u64_n(s, strlen(s), v) : -1;
}

int parse_uint(const char *s, unsigned long max, unsigned long *v)
{
	uint64_t r;

	if (parse_u64(s, &r) < 0 || r > max)
		return -1;
	*v = (unsigned long)r;
	return 0;
}

int read_u64_file(const char *path, uint64_t *v)
{
	char buf[64];

	if (read_text(path, buf, sizeof(buf)) < 0)
		return -1;
	if (parse_u64(buf, v) < 0) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int parse_seconds(const char *s, int64_t *ns)
{
	int64_t sec = 0, frac = 0, scale = NSEC_PER_SEC / 10;
	const char *p = s;

	if (!s || !*s)
		return -1;
	for (; *p >= '0' && *p <= '9'; p++) {
		sec = sec * 10 + (*p - '0');
		if (sec > 10000000)
			return -1;
	}
	if (p == s && *p != '.')
		return -1;
	if (*p == '.') {
		p++;
		if (!(*p >= '0' && *p <= '9'))
			return -1;
		for (; *p >= '0' && *p <= '9'; p++) {
			frac += (*p - '0') * scale;
			scale /= 10;
		}
	}
	if (*p)
		return -1;
	*ns = sec * NSEC_PER_SEC + frac;
	return 0;
}

int mkdir_p(const char *dir, mode_t mode)
{
	char tmp[512];
	char *p;

	if (copy_str(tmp, sizeof(tmp), dir) < 0) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -1;
	return 0;
}

int write_atomic(const char *dir, const char *name, const char *data,
		 size_t len)
{
	char tmp[512], dst[512];
	size_t off = 0;
	int fd, e;

	if (fmt_str(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name) < 0 ||
	    fmt_str(dst, sizeof(dst), "%s/%s", dir, name) < 0)
		return -1;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return -1;
	if (fchmod(fd, 0644) < 0)
		goto fail;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		off += (size_t)w;
	}
	if (fsync(fd) < 0)
		goto fail;
	if (close(fd) < 0) {
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, dst) < 0)
		goto fail;
	return 0;
fail:
	e = errno;
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	errno = e;
	return -1;
}

/*
 * A full file system (/run is a small tmpfs) must not lose what a state
 * file records: replacing needs a new inode and a new page, rewriting the
 * file that is there needs neither.
 */
int write_state(const char *dir, const char *name, const char *data,
		size_t len)
{
	char dst[512];
	int fd, e;

	if (write_atomic(dir, name, data, len) == 0)
		return 0;
	e = errno;
	if ((e != ENOSPC && e != EDQUOT) ||
	    fmt_str(dst, sizeof(dst), "%s/%s", dir, name) < 0) {
		errno = e;
		return -1;
	}
	fd = open(dst, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		errno = e;
		return -1;
	}
	errno = 0;
	if (pwrite(fd, data, len, 0) != (ssize_t)len ||
	    ftruncate(fd, (off_t)len) < 0) {
		e = errno ? errno : EIO;
		close(fd);
		errno = e;
		return -1;
	}
	close(fd);
	errno = e;
	return 1;
}

int notify_systemd(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t salen;
	size_t n;
	ssize_t w;
	int fd, e;

	if (!path || !*path)
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n < 2 ||
	    n >= sizeof(sa.sun_path)) {
		errno = EAFNOSUPPORT;
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';	/* abstract namespace */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n +
			    (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	/*
	 * Never wait for the service manager: with a reader that lags, a
	 * blocking send stalls vmgend once the socket's queue is full (seen
	 * after a dozen passes); a dropped STATUS= is harmless.
	 */
	w = sendto(fd, msg, strlen(msg), MSG_NOSIGNAL | MSG_DONTWAIT,
		   (struct sockaddr *)&sa, salen);
	e = errno;
	close(fd);
	errno = e;
	return w < 0 ? -1 : 1;
}

int link_basename(const char *link, char *out, size_t size)
{
	char target[512];
	const char *b;
	ssize_t n;

	out[0] = '\0';
	n = readlink(link, target, sizeof(target) - 1);
	if (n < 0)
		return -1;
	target[n] = '\0';
	b = strrchr(target, '/');
	return copy_str(out, size, b ? b + 1 : target);
}

int path_exists(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0;
}
