// SPDX-License-Identifier: GPL-2.0
/* The benchmark harness: see bench.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "rigctl.h"

#define TRACEFS		"/sys/kernel/tracing"
#define INSTANCE	TRACEFS "/instances/vmgen_bench"
#define VMCLOCK_LAST	"/sys/class/misc/vmclock0/last_notify_ns"
#define VMGENID_LAST	"/sys/class/misc/vmgenid/last_notify_ns"

struct bench_opts bench = { .events = 200, .delay_ms = 25, .spawn = 1,
			    .idle_ms = 3000 };

static int trace_fd = -1;
static int fifo_fd = -1;
static int max_samples;

/* per sample, ns */
static int64_t *s_obs, *s_hook, *s_spawn, *s_kvc, *s_kvg;
static int n_valid, n_hook, n_kvc, n_kvg, n_dropped, n_noirq, n_extra_irq;
static int attempts;

/* the event in flight */
static struct {
	int64_t armed, observed, hook, spawn;
	int64_t cpu0, wait_cpu;
	long csw0, wait_csw;
} cur;
static int64_t total_wait_ns, total_wait_cpu;
static long total_wait_csw;

int64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int bench_poll_until(int fd, short events, int timeout_ms, int (*seen)(void),
		     int64_t *t)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t end = bench_now() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		int64_t left = (end - bench_now()) / 1000000;
		int r;

		if (left < 0)
			left = 0;
		r = poll(&pfd, 1, (int)left);
		if (r > 0)
			r = seen();
		else if (r == 0)
			break;		/* timed out */
		if (r != 0) {		/* the event, or an error */
			*t = bench_now();
			return r;
		}
	}
	*t = bench_now();
	return 0;
}

int64_t bench_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

long bench_nvcsw(void)
{
	char buf[2048], *p;
	ssize_t n;
	int fd;

	fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strstr(buf, "\nvoluntary_ctxt_switches:");
	return p ? strtol(p + 25, NULL, 10) : 0;
}

int bench_read_u64(const char *path, uint64_t *v)
{
	char buf[64];
	ssize_t n;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	*v = strtoull(buf, NULL, 10);
	return 0;
}

static void die(const char *what)
{
	fprintf(stdout, "# bench: method=%s error=\"%s: %s\"\n", bench.method,
		what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

/* The Linux IRQ number of the ACPI GED (the notification interrupt). */
static int ged_irq(void)
{
	char line[512];
	FILE *f = fopen("/proc/interrupts", "re");
	int irq = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, "ACPI:Ged")) {
			irq = atoi(line);
			break;
		}
	}
	fclose(f);
	return irq;
}

static void trace_setup(void)
{
	char filter[64];
	int64_t dummy;
	int irq;

	if (access(TRACEFS "/trace", F_OK) &&
	    mount("nodev", TRACEFS, "tracefs", 0, NULL))
		die("mount tracefs");
	if (mkdir(INSTANCE, 0700) && errno != EEXIST)
		die("mkdir " INSTANCE);
	irq = ged_irq();
	if (irq < 0) {
		errno = ENOENT;
		die("no ACPI:Ged line in /proc/interrupts");
	}
	snprintf(filter, sizeof(filter), "irq == %d", irq);
	if (write_file(INSTANCE "/trace_clock", "mono") ||
	    write_file(INSTANCE "/events/irq/irq_handler_entry/filter",
		       filter) ||
	    write_file(INSTANCE "/events/irq/irq_handler_entry/enable", "1") ||
	    write_file(INSTANCE "/tracing_on", "1"))
		die("setting up the trace instance");
	trace_fd = open(INSTANCE "/trace_pipe", O_RDONLY | O_NONBLOCK |
			O_CLOEXEC);
	if (trace_fd < 0)
		die("open trace_pipe");
	bench_irq_take(&dummy);		/* whatever came before us */
}

/* "  <idle>-0  [000] d.h1.  45.123456: irq_handler_entry: irq=3 ..." */
static int parse_irq_line(const char *line, int64_t *ns)
{
	const char *p = strstr(line, ": irq_handler_entry:");
	const char *s;
	long long sec, usec;

	if (!p)
		return -1;
	s = p;
	while (s > line && s[-1] != ' ')
		s--;
	if (sscanf(s, "%lld.%lld", &sec, &usec) != 2)
		return -1;
	*ns = sec * 1000000000LL + usec * 1000LL;
	return 0;
}

/* Earliest interrupt since the last call: the event's. Returns the count. */
int bench_irq_take(int64_t *first_ns)
{
	static char buf[65536];
	static size_t used;
	int count = 0;

	for (;;) {
		ssize_t n = read(trace_fd, buf + used, sizeof(buf) - 1 - used);
		char *line, *nl;

		if (n <= 0)
			break;
		used += (size_t)n;
		buf[used] = '\0';
		line = buf;
		while ((nl = strchr(line, '\n'))) {
			int64_t ns;

			*nl = '\0';
			if (!parse_irq_line(line, &ns)) {
				if (!count || ns < *first_ns)
					*first_ns = ns;
				count++;
			}
			line = nl + 1;
		}
		used = strlen(line);
		memmove(buf, line, used + 1);
		if (used >= sizeof(buf) - 1)
			used = 0;
	}
	return count;
}

int bench_fifo_open(void)
{
	int fd;

	if (mkdir(BENCH_DIR, 0755) && errno != EEXIST)
		return -1;
	if (mkfifo(BENCH_HOOK_FIFO, 0666) && errno != EEXIST)
		return -1;
	chmod(BENCH_HOOK_FIFO, 0666);
	fd = open(BENCH_HOOK_FIFO, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	return fd;
}

/* One "<ns>\n" stamp; lines may arrive several per read. */
int bench_fifo_read(int fd, int64_t *ts, int timeout_ms)
{
	static char buf[4096];
	static size_t used;
	int64_t deadline = bench_now() + (int64_t)timeout_ms * 1000000;

	for (;;) {
		char *nl = memchr(buf, '\n', used);
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int64_t left;
		ssize_t n;

		if (nl) {
			*nl = '\0';
			*ts = strtoll(buf, NULL, 10);
			used -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, used);
			return 0;
		}
		if (used >= sizeof(buf) - 1)
			used = 0;	/* not our format: start over */
		n = read(fd, buf + used, sizeof(buf) - 1 - used);
		if (n > 0) {
			used += (size_t)n;
			continue;
		}
		left = (deadline - bench_now()) / 1000000;
		if (left <= 0) {
			errno = ETIMEDOUT;
			return -1;
		}
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return -1;
	}
}

void bench_init(int *argc, char **argv, const char *method)
{
	int i, out = 1;

	bench.method = method;
	for (i = 1; i < *argc; i++) {
		if (!strcmp(argv[i], "--events") && i + 1 < *argc)
			bench.events = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--delay-ms") && i + 1 < *argc)
			bench.delay_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--label") && i + 1 < *argc)
			bench.method = argv[++i];
		else if (!strcmp(argv[i], "--idle-ms") && i + 1 < *argc)
			bench.idle_ms = atoi(argv[++i]);
		else if (!strcmp(argv[i], "--no-spawn"))
			bench.spawn = 0;
		else
			argv[out++] = argv[i];
	}
	argv[out] = NULL;
	*argc = out;
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (bench.events < 1)
		bench.events = 1;
	max_samples = bench.events;
	s_obs = calloc((size_t)max_samples, sizeof(int64_t));
	s_hook = calloc((size_t)max_samples, sizeof(int64_t));
	s_spawn = calloc((size_t)max_samples, sizeof(int64_t));
	s_kvc = calloc((size_t)max_samples, sizeof(int64_t));
	s_kvg = calloc((size_t)max_samples, sizeof(int64_t));
	if (!s_obs || !s_hook || !s_spawn || !s_kvc || !s_kvg)
		die("calloc");
	trace_setup();
	if (bench.spawn) {
		fifo_fd = bench_fifo_open();
		if (fifo_fd < 0)
			die("hook FIFO");
	}
}

int bench_more(void)
{
	if (attempts >= 2 * bench.events + 20) {
		printf("# bench: method=%s warning=\"gave up after %d "
		       "attempts\"\n", bench.method, attempts);
		return 0;
	}
	return n_valid < bench.events;
}

void bench_request(void)
{
	char reply[256];

	attempts++;
	memset(&cur, 0, sizeof(cur));
	if (rigctl(reply, sizeof(reply), "bench event delay_ms=%d",
		   bench.delay_ms)) {
		fprintf(stdout, "# bench: method=%s error=\"rigctl: %s\"\n",
			bench.method, reply);
		exit(1);
	}
}

void bench_armed(void)
{
	cur.csw0 = bench_nvcsw();
	cur.cpu0 = bench_cpu_ns();
	cur.armed = bench_now();
}

void bench_observed(int64_t t)
{
	cur.observed = t;
	cur.wait_cpu = bench_cpu_ns() - cur.cpu0;
	cur.wait_csw = bench_nvcsw() - cur.csw0;
}

int bench_hook_stamp(int64_t *ts)
{
	return bench_fifo_read(fifo_fd, ts, BENCH_WAIT_MS);
}

int bench_hook_stamp_now(int64_t *ts)
{
	return bench_fifo_read(fifo_fd, ts, 0);
}

int bench_spawn_hook(void)
{
	static char *const hargv[] = { (char *)BENCH_HOOK, NULL };
	static char *const henv[] = { NULL };
	int64_t t0, ts;
	pid_t pid;
	int err;

	t0 = bench_now();
	err = posix_spawn(&pid, BENCH_HOOK, NULL, NULL, hargv, henv);
	if (err) {
		errno = err;
		die("posix_spawn " BENCH_HOOK);
	}
	if (bench_fifo_read(fifo_fd, &ts, 5000))
		die("no stamp from the hook");
	waitpid(pid, NULL, 0);
	cur.hook = ts;
	cur.spawn = ts - t0;
	return 0;
}

int bench_commit(void)
{
	int64_t irq = 0;
	uint64_t v;
	int n = bench_irq_take(&irq);

	if (n == 0) {
		n_noirq++;
		n_dropped++;
		return 0;
	}
	if (n > 1)
		n_extra_irq += n - 1;
	if (irq < cur.armed || cur.observed < irq) {
		/* not waiting yet when it came, or observed something else */
		n_dropped++;
		return 0;
	}
	s_obs[n_valid] = cur.observed - irq;
	if (cur.hook) {
		s_hook[n_hook] = cur.hook - irq;
		s_spawn[n_hook++] = cur.spawn;
	}
	if (!bench_read_u64(VMCLOCK_LAST, &v) && (int64_t)v >= irq)
		s_kvc[n_kvc++] = (int64_t)v - irq;
	if (!bench_read_u64(VMGENID_LAST, &v) && (int64_t)v >= irq)
		s_kvg[n_kvg++] = (int64_t)v - irq;
	total_wait_ns += cur.observed - cur.armed;
	total_wait_cpu += cur.wait_cpu;
	total_wait_csw += cur.wait_csw;
	n_valid++;
	return 1;
}

static int cmp64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

void bench_sort(int64_t *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp64);
}

/* nearest rank */
int64_t bench_pct(const int64_t *sorted, int n, double p)
{
	int i;

	if (n <= 0)
		return 0;
	i = (int)(p / 100.0 * n + 0.999999) - 1;
	if (i < 0)
		i = 0;
	if (i >= n)
		i = n - 1;
	return sorted[i];
}

void bench_print_raw(const char *method, const char *what,
		     const int64_t *v, int n)
{
	int i, j;

	for (i = 0; i < n; i += 50) {
		printf("# raw: method=%s what=%s us=", method, what);
		for (j = i; j < n && j < i + 50; j++)
			printf("%s%.1f", j > i ? "," : "", (double)v[j] / 1e3);
		printf("\n");
	}
}

void bench_print_stats(const char *method, const char *what, int64_t *v,
		       int n, const char *extra)
{
	int64_t sum = 0;
	int i;

	bench_print_raw(method, what, v, n);
	bench_sort(v, n);
	for (i = 0; i < n; i++)
		sum += v[i];
	printf("# bench: method=%s what=%s n=%d p50_us=%.1f p99_us=%.1f "
	       "max_us=%.1f min_us=%.1f mean_us=%.1f%s%s\n", method, what, n,
	       bench_pct(v, n, 50) / 1e3, bench_pct(v, n, 99) / 1e3,
	       n ? v[n - 1] / 1e3 : 0.0, n ? v[0] / 1e3 : 0.0,
	       n ? (double)sum / n / 1e3 : 0.0, extra ? " " : "",
	       extra ? extra : "");
}

void bench_report(const char *extra)
{
	char buf[512];
	double wait_s = (double)total_wait_ns / 1e9;
	long extra_csw = total_wait_csw - n_valid;

	if (extra_csw < 0)
		extra_csw = 0;
	snprintf(buf, sizeof(buf), "dropped=%d no_irq=%d extra_irqs=%d "
		 "wait_s=%.2f wait_cpu_ms=%.1f cpu_pct=%.2f "
		 "wakeups_per_min=%.0f%s%s", n_dropped, n_noirq, n_extra_irq,
		 wait_s, (double)total_wait_cpu / 1e6,
		 wait_s > 0 ? 100.0 * (double)total_wait_cpu /
		 (double)total_wait_ns : 0.0,
		 wait_s > 0 ? (double)extra_csw * 60.0 / wait_s : 0.0,
		 extra ? " " : "", extra ? extra : "");
	bench_print_stats(bench.method, "observe", s_obs, n_valid, buf);
	if (n_hook) {
		bench_print_stats(bench.method, "hook", s_hook, n_hook, NULL);
		bench_print_stats(bench.method, "spawn", s_spawn, n_hook,
				  NULL);
	}
	if (n_kvc)
		bench_print_stats(bench.method, "kernel-vmclock", s_kvc, n_kvc,
				  NULL);
	if (n_kvg)
		bench_print_stats(bench.method, "kernel-vmgenid", s_kvg, n_kvg,
				  NULL);
}

/* No event: what waiting costs. Returns "idle_..." key=value text. */
static void idle_window(const struct bench_method *m, char *out, size_t n)
{
	int64_t t0, cpu0, cpu, end, t;
	long csw0, csw;
	double s;
	int spurious = 0;

	if (bench.idle_ms <= 0) {
		out[0] = '\0';
		return;
	}
	csw0 = bench_nvcsw();
	t0 = bench_now();
	cpu0 = bench_cpu_ns();
	end = t0 + (int64_t)bench.idle_ms * 1000000;
	for (;;) {
		int64_t left = (end - bench_now()) / 1000000;

		if (left <= 0)
			break;
		if (m->wait((int)left, &t) == 1) {
			spurious++;
			if (m->rearm)
				m->rearm();
		}
	}
	t = bench_now();
	cpu = bench_cpu_ns() - cpu0;
	csw = bench_nvcsw() - csw0 - 1;	/* the wake at the deadline */
	if (csw < 0)
		csw = 0;
	s = (double)(t - t0) / 1e9;
	snprintf(out, n, "idle_s=%.1f idle_cpu_pct=%.3f idle_wakeups_per_min=%.0f "
		 "idle_spurious=%d", s, 100.0 * (double)cpu / (double)(t - t0),
		 (double)csw * 60.0 / s, spurious);
}

int bench_main(int argc, char **argv, const struct bench_method *m)
{
	char idle[256];
	int64_t t;
	int r, errors = 0;

	bench_init(&argc, argv, m->name);
	if (m->setup(argc, argv))
		die("setup");
	if (m->rearm)
		m->rearm();
	while (bench_more()) {
		bench_request();
		bench_armed();
		r = m->wait(BENCH_WAIT_MS, &t);
		if (r != 1) {
			printf("# bench: method=%s warning=\"%s\"\n",
			       bench.method, r ? strerror(errno) :
			       "event not observed");
			bench_irq_take(&t);
			if (++errors > 10) {
				errno = ETIMEDOUT;
				die("too many lost events");
			}
			if (m->rearm)
				m->rearm();
			continue;
		}
		bench_observed(t);
		if (bench.spawn)
			bench_spawn_hook();
		bench_commit();
		if (m->rearm)
			m->rearm();
	}
	idle_window(m, idle, sizeof(idle));
	bench_report(idle);
	return 0;
}
