// SPDX-License-Identifier: GPL-2.0
/*
 * Logging without allocation: one static buffer, stderr or a datagram to
 * /dev/log written by hand (glibc's syslog() allocates), /dev/kmsg when no
 * syslog daemon runs (a busybox guest).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "common.h"

enum { TO_STDERR, TO_SYSLOG, TO_KMSG };

static struct {
	const char *ident;
	int verbose;
	int where;
	int fd;
	pid_t pid;
	int journal;	/* stderr is systemd's journal stream */
} lg = { "vmgen", 0, TO_STDERR, -1, 0, 0 };

static char msgbuf[2048];
static char outbuf[2304];

/*
 * Under systemd, stderr may be a stream into the journal (JOURNAL_STREAM
 * names it): there a "<N>" prefix keeps each line's priority, and the
 * journal adds the name itself.
 */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 ||
	    fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (unsigned long long)st.st_dev == dev &&
	       (unsigned long long)st.st_ino == ino;
}

void log_init(const char *ident, int verbose)
{
	lg.ident = ident;
	lg.verbose = verbose;
	lg.where = TO_STDERR;
	lg.fd = -1;
	lg.journal = stderr_is_journal();
}

static int connect_syslog(void)
{
	struct sockaddr_un sa;
	int fd;

	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, "/dev/log");
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

void log_to_syslog(void)
{
	lg.pid = getpid();
	if (lg.fd >= 0)
		close(lg.fd);
	lg.fd = connect_syslog();
	if (lg.fd >= 0) {
		lg.where = TO_SYSLOG;
		return;
	}
	lg.fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC | O_NOCTTY);
	lg.where = lg.fd >= 0 ? TO_KMSG : TO_STDERR;
}

static void write_all(int fd, const char *s, size_t n)
{
	while (n) {
		ssize_t w = write(fd, s, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return;
		s += w;
		n -= (size_t)w;
	}
}

void logmsg(int prio, const char *fmt, ...)
{
	int saved = errno;
	va_list ap;
	int n;

	if (prio >= LOG_DEBUG && !lg.verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(msgbuf, sizeof(msgbuf), fmt, ap);
	va_end(ap);

	switch (lg.where) {
	case TO_SYSLOG:
		n = snprintf(outbuf, sizeof(outbuf), "<%d>%s[%d]: %s",
			     LOG_DAEMON | prio, lg.ident, (int)lg.pid, msgbuf);
		if (n < 0)
			break;
		if ((size_t)n >= sizeof(outbuf))
			n = sizeof(outbuf) - 1;
		if (send(lg.fd, outbuf, (size_t)n, MSG_NOSIGNAL) >= 0)
			break;
		/* syslogd restarted: reconnect once, else keep it on stderr */
		close(lg.fd);
		lg.fd = connect_syslog();
		if (lg.fd >= 0 &&
		    send(lg.fd, outbuf, (size_t)n, MSG_NOSIGNAL) >= 0)
			break;
		if (lg.fd >= 0)
			close(lg.fd);
		lg.fd = -1;
		lg.where = TO_STDERR;
		/* fall through */
	case TO_STDERR:
		if (lg.journal)
			n = snprintf(outbuf, sizeof(outbuf), "<%d>%s\n", prio,
				     msgbuf);
		else
			n = snprintf(outbuf, sizeof(outbuf), "%s: %s%s\n",
				     lg.ident,
				     prio <= LOG_ERR ? "error: " :
				     prio == LOG_WARNING ? "warning: " : "",
				     msgbuf);
		if (n < 0)
			break;
		if ((size_t)n >= sizeof(outbuf)) {
			n = sizeof(outbuf) - 1;
			outbuf[n - 1] = '\n';
		}
		write_all(STDERR_FILENO, outbuf, (size_t)n);
		break;
	case TO_KMSG:
		n = snprintf(outbuf, sizeof(outbuf), "<%d>%s[%d]: %s\n",
			     LOG_DAEMON | prio, lg.ident, (int)lg.pid, msgbuf);
		if (n < 0)
			break;
		if ((size_t)n >= sizeof(outbuf)) {
			n = sizeof(outbuf) - 1;
			outbuf[n - 1] = '\n';
		}
		write_all(lg.fd, outbuf, (size_t)n);
		break;
	}
	errno = saved;
}
