// SPDX-License-Identifier: GPL-2.0
/*
 * vmgend as a user runs it, measured from outside:
 *
 *   start-up      posix_spawn() to the READY=1 it sends to $NOTIFY_SOCKET
 *   first hook    the GED interrupt to the moment the first stamp hook
 *                 (bench_hook, no libc) starts, from its own clock read
 *   further hook  (last stamp - first stamp) / (hooks - 1), with --hooks K
 *   faults        minflt/majflt of vmgend (/proc/PID/stat) over one pass:
 *                 the first pass after start-up (the clone's case: vmgend
 *                 started in the golden image, then restored) and the rest
 *   idle          voluntary + involuntary context switches and utime+stime
 *                 of vmgend over --idle-ms with nothing happening
 *   memory        VmRSS, RssAnon, RssFile, VmHWM after the passes
 *
 * Usage: bench_vmgend [common options] [--hooks K] [--source SRC]
 *                     [--vmgend PATH] [-- vmgend options...]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_ARGS 32

static int hooks = 1;
static const char *source = "vmclock";
static const char *vmgend = "/usr/sbin/vmgend";
static char *extra_args[MAX_ARGS];
static int n_extra;

static char hookdir[256], statedir[256], sockpath[256];
static pid_t pid;

struct pstat {
	unsigned long long minflt, majflt, utime, stime, run_ns;
	long vcsw, ivcsw;
	long rss_kb, anon_kb, file_kb, hwm_kb;
};

static char logpath[256];

static void fail(const char *what)
{
	char line[512];
	FILE *f;

	printf("# bench: method=%s error=\"%s: %s\"\n", bench.method, what,
	       strerror(errno));
	if (pid > 0)
		kill(pid, SIGKILL);
	f = logpath[0] ? fopen(logpath, "re") : NULL;
	while (f && fgets(line, sizeof(line), f))
		printf("# vmgend log: %s", line);
	exit(1);
}

static long status_kb(const char *buf, const char *key)
{
	const char *p = strstr(buf, key);

	return p ? strtol(p + strlen(key), NULL, 10) : -1;
}

static void read_pstat(struct pstat *ps)
{
	char path[64], buf[4096], *p;
	ssize_t n;
	int fd;

	memset(ps, 0, sizeof(*ps));
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail(path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		fail(path);
	buf[n] = '\0';
	/* after "(comm) ": state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime */
	p = strrchr(buf, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %llu %*u %llu "
			 "%*u %llu %llu", &ps->minflt, &ps->majflt, &ps->utime,
			 &ps->stime) != 4) {
		errno = EINVAL;
		fail(path);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		fail(path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		fail(path);
	buf[n] = '\0';
	ps->vcsw = status_kb(buf, "\nvoluntary_ctxt_switches:");
	ps->ivcsw = status_kb(buf, "\nnonvoluntary_ctxt_switches:");
	ps->rss_kb = status_kb(buf, "\nVmRSS:");
	ps->anon_kb = status_kb(buf, "\nRssAnon:");
	ps->file_kb = status_kb(buf, "\nRssFile:");
	ps->hwm_kb = status_kb(buf, "\nVmHWM:");
	/* CPU time in ns (the scheduler's sum_exec_runtime) */
	snprintf(path, sizeof(path), "/proc/%d/schedstat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		ps->run_ns = strtoull(buf, NULL, 10);
	}
}

static void copy_file(const char *from, const char *to)
{
	char buf[65536];
	ssize_t n;
	int in, out;

	in = open(from, O_RDONLY | O_CLOEXEC);
	if (in < 0)
		fail(from);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	if (out < 0)
		fail(to);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, (size_t)n) != n)
			fail(to);
	close(in);
	close(out);
	chmod(to, 0755);
}

static void setup_dirs(void)
{
	char path[512];
	int i;

	snprintf(hookdir, sizeof(hookdir), BENCH_DIR "/hooks-%s", bench.method);
	snprintf(statedir, sizeof(statedir), BENCH_DIR "/state-%s",
		 bench.method);
	snprintf(sockpath, sizeof(sockpath), BENCH_DIR "/notify-%s",
		 bench.method);
	snprintf(logpath, sizeof(logpath), "/tmp/vmgend-%s.log", bench.method);
	if (mkdir(hookdir, 0755) && errno != EEXIST)
		fail(hookdir);
	chmod(hookdir, 0755);
	for (i = 0; i < hooks; i++) {
		snprintf(path, sizeof(path), "%s/%02d-stamp", hookdir, 10 + i);
		copy_file(BENCH_HOOK, path);
	}
	/* a fresh state directory: the first start since boot */
	snprintf(path, sizeof(path), "rm -rf '%s'", statedir);
	if (system(path)) {
		/* mkdir below tells */
	}
	if (mkdir(statedir, 0755))
		fail(statedir);
}

static int notify_socket(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	unlink(sockpath);
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fail("socket");
	if (strlen(sockpath) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		fail(sockpath);
	}
	memcpy(sa.sun_path, sockpath, strlen(sockpath) + 1);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)))
		fail(sockpath);
	return fd;
}

/* Waits for a datagram holding "READY=1"; returns its arrival time. */
static int64_t wait_ready(int fd)
{
	int64_t end = bench_now() + 30LL * 1000000000;
	char buf[512];

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left = (end - bench_now()) / 1000000;
		ssize_t n;

		if (left <= 0) {
			errno = ETIMEDOUT;
			fail("no READY=1 from vmgend");
		}
		if (poll(&pfd, 1, (int)left) <= 0)
			continue;
		n = recv(fd, buf, sizeof(buf) - 1, 0);
		if (n <= 0)
			continue;
		buf[n] = '\0';
		if (strstr(buf, "READY=1"))
			return bench_now();
	}
}

static void start_vmgend(void)
{
	char *argv[16 + MAX_ARGS], env_sock[300];
	char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin",
			 env_sock, NULL };
	posix_spawn_file_actions_t fa;
	int n = 0, i, err;

	snprintf(env_sock, sizeof(env_sock), "NOTIFY_SOCKET=%s", sockpath);
	argv[n++] = (char *)vmgend;
	argv[n++] = (char *)"-f";
	argv[n++] = (char *)"--source";
	argv[n++] = (char *)source;
	argv[n++] = (char *)"--hooks-dir";
	argv[n++] = hookdir;
	argv[n++] = (char *)"--state-dir";
	argv[n++] = statedir;
	for (i = 0; i < n_extra; i++)
		argv[n++] = extra_args[i];
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, logpath,
					 O_WRONLY | O_CREAT | O_APPEND, 0644);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	err = posix_spawn(&pid, vmgend, &fa, NULL, argv, envp);
	posix_spawn_file_actions_destroy(&fa);
	if (err) {
		errno = err;
		fail(vmgend);
	}
}

/* key=value out of the last-pass text */
static int lp_get(const char *text, const char *key, double *v)
{
	char pat[64];
	const char *p;

	snprintf(pat, sizeof(pat), "\n%s=", key);
	p = strstr(text, pat);
	if (!p)
		return -1;
	*v = strtod(p + strlen(pat), NULL);
	return 0;
}

/* pass= of a state file */
static int read_pass(const char *path, unsigned long *pass)
{
	char buf[1024], *p;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	buf[0] = '\n';
	n = read(fd, buf + 1, sizeof(buf) - 2);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n + 1] = '\0';
	p = strstr(buf, "\npass=");
	if (!p)
		return -1;
	*pass = strtoul(p + 6, NULL, 10);
	return 0;
}

/* Waits until statedir/last-pass reports pass number want; fills text. */
static void wait_last_pass(int ino, unsigned long want, char *text,
			   size_t size)
{
	int64_t end = bench_now() + 30LL * 1000000000;
	char path[512], ev[4096];

	snprintf(path, sizeof(path), "%s/last-pass", statedir);
	for (;;) {
		struct pollfd pfd = { .fd = ino, .events = POLLIN };
		double pass;
		ssize_t n;
		int fd;

		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			text[0] = '\n';
			n = read(fd, text + 1, size - 2);
			close(fd);
			text[n > 0 ? n + 1 : 1] = '\0';
			if (!lp_get(text, "pass", &pass) &&
			    (unsigned long)pass >= want &&
			    strstr(text, "\nstatus="))
				return;
		}
		if (bench_now() > end) {
			errno = ETIMEDOUT;
			fail("waiting for last-pass");
		}
		if (poll(&pfd, 1, 1000) > 0)
			while (read(ino, ev, sizeof(ev)) > 0)
				;
	}
}

int main(int argc, char **argv)
{
	struct pstat a, b, ready, idle0, idle1, end;
	int64_t *s_first, *s_further, *s_own, *s_done, *s_notify, *s_minflt;
	int64_t *s_cpu;
	int64_t t0, t_ready, ts, first, last, irq;
	unsigned long long majflt = 0, minflt_first = 0;
	int nsock, ino, i, n = 0, k, errors = 0, dropped = 0;
	char text[8192], extra[1024], status[512];
	double v, idle_s;
	unsigned long base = 0;

	bench_init(&argc, argv, "vmgend");
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--hooks") && i + 1 < argc) {
			hooks = atoi(argv[++i]);
		} else if (!strcmp(argv[i], "--source") && i + 1 < argc) {
			source = argv[++i];
		} else if (!strcmp(argv[i], "--vmgend") && i + 1 < argc) {
			vmgend = argv[++i];
		} else if (!strcmp(argv[i], "--")) {
			while (++i < argc && n_extra < MAX_ARGS)
				extra_args[n_extra++] = argv[i];
		}
	}
	if (hooks < 1)
		hooks = 1;
	s_first = calloc((size_t)bench.events, sizeof(int64_t));
	s_further = calloc((size_t)bench.events, sizeof(int64_t));
	s_own = calloc((size_t)bench.events, sizeof(int64_t));
	s_done = calloc((size_t)bench.events, sizeof(int64_t));
	s_notify = calloc((size_t)bench.events, sizeof(int64_t));
	s_minflt = calloc((size_t)bench.events, sizeof(int64_t));
	s_cpu = calloc((size_t)bench.events, sizeof(int64_t));
	if (!s_first || !s_further || !s_own || !s_done || !s_notify ||
	    !s_minflt || !s_cpu)
		fail("calloc");

	setup_dirs();
	nsock = notify_socket();
	ino = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (ino < 0 || inotify_add_watch(ino, statedir, IN_MOVED_TO) < 0)
		fail("inotify");

	t0 = bench_now();
	start_vmgend();
	t_ready = wait_ready(nsock);
	read_pstat(&ready);
	usleep(300000);
	/*
	 * A first start with vmgen_vmgenid's generation above 0 runs a pass
	 * at once (docs/userspace.md, "Restarts"): let it finish, and drop
	 * its stamps.
	 */
	snprintf(text, sizeof(text), "%s/generation", statedir);
	if (read_pass(text, &base) == 0 && base > 0) {
		wait_last_pass(ino, base, text, sizeof(text));
		usleep(100000);
		while (bench_hook_stamp_now(&ts) == 0)
			;
		printf("# bench: method=%s note=\"%lu pass(es) at start-up\"\n",
		       bench.method, base);
	}

	for (i = 0; n < bench.events && i < 2 * bench.events + 20; i++) {
		read_pstat(&a);
		bench_request();
		bench_armed();
		first = last = 0;
		for (k = 0; k < hooks; k++) {
			if (bench_hook_stamp(&ts))
				break;
			if (!first)
				first = ts;
			last = ts;
		}
		if (k < hooks) {
			printf("# bench: method=%s warning=\"%d of %d hooks "
			       "reported\"\n", bench.method, k, hooks);
			if (++errors > 10)
				fail("too many lost passes");
		}
		wait_last_pass(ino, base + (unsigned long)(i + 1), text,
			       sizeof(text));
		/* as a service manager would: read its STATUS= */
		while (recv(nsock, status, sizeof(status), MSG_DONTWAIT) > 0)
			;
		read_pstat(&b);
		if (!bench_irq_take(&irq) || !first || irq > first) {
			dropped++;
			continue;
		}
		if (i == 0)
			minflt_first = b.minflt - a.minflt;
		majflt += b.majflt - a.majflt;
		s_first[n] = first - irq;
		s_further[n] = hooks > 1 ? (last - first) / (hooks - 1) : 0;
		if (!lp_get(text, "first_hook_ms", &v))
			s_own[n] = (int64_t)(v * 1e6);
		if (!lp_get(text, "done_ms", &v))
			s_done[n] = (int64_t)(v * 1e6);
		if (!lp_get(text, "notify_ns", &v))
			s_notify[n] = (int64_t)v - irq;
		s_minflt[n] = (int64_t)(b.minflt - a.minflt) * 1000;
		s_cpu[n] = (int64_t)(b.run_ns - a.run_ns);
		n++;
	}

	/* idle: nothing happens; what does vmgend do? */
	usleep(500000);
	read_pstat(&idle0);
	usleep((useconds_t)bench.idle_ms * 1000);
	read_pstat(&idle1);
	idle_s = bench.idle_ms / 1000.0;
	read_pstat(&end);

	kill(pid, SIGTERM);
	waitpid(pid, NULL, 0);

	snprintf(extra, sizeof(extra),
		 "hooks=%d source=%s dropped=%d startup_ms=%.2f "
		 "startup_minflt=%llu rss_kb=%ld rss_anon_kb=%ld "
		 "rss_file_kb=%ld hwm_kb=%ld rss_ready_kb=%ld "
		 "minflt_first_pass=%llu majflt_passes=%llu "
		 "idle_s=%.1f idle_wakeups_per_min=%.1f idle_cpu_us=%.1f",
		 hooks, source, dropped, (t_ready - t0) / 1e6, ready.minflt,
		 end.rss_kb, end.anon_kb, end.file_kb, end.hwm_kb,
		 ready.rss_kb, minflt_first, majflt, idle_s,
		 idle_s > 0 ? (double)((idle1.vcsw - idle0.vcsw) +
				       (idle1.ivcsw - idle0.ivcsw)) * 60.0 /
			 idle_s : 0.0,
		 (double)(idle1.run_ns - idle0.run_ns) / 1e3);
	bench_print_stats(bench.method, "hook", s_first, n, extra);
	if (hooks > 1)
		bench_print_stats(bench.method, "further-hook", s_further, n,
				  NULL);
	bench_print_stats(bench.method, "own-first-hook", s_own, n, NULL);
	bench_print_stats(bench.method, "done", s_done, n, NULL);
	bench_print_stats(bench.method, "notify-ns", s_notify, n, NULL);
	/* faults and CPU ticks are not times: "us" here is the count */
	bench_print_stats(bench.method, "minflt", s_minflt, n, NULL);
	bench_print_stats(bench.method, "pass-cpu", s_cpu, n, NULL);
	return 0;
}
