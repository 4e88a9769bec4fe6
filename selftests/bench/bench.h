/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The harness every notification-latency benchmark program shares
 * (docs/benchmarks.md). Per event:
 *
 *   bench_request()      ask the host (rig target "bench") for one restore-
 *                        like event D ms from now: it pauses the VM, bumps
 *                        VMClock and writes a new VMGenID, raises the GED
 *                        interrupt for both, and resumes the VM
 *   bench_armed()        just before the method blocks (or starts spinning)
 *   ... the method waits; t = bench_now() right after it observed ...
 *   bench_observed(t)
 *   bench_spawn_hook()   optional: posix_spawn the stamp hook and read the
 *                        time it started from its FIFO
 *   bench_commit()       read the notification's kernel timestamp (the
 *                        GED interrupt's irq_handler_entry, tracefs, clock
 *                        "mono" = CLOCK_MONOTONIC) and keep the sample
 *
 * Latencies are taken from that interrupt: the first moment the guest
 * kernel knows of the event, the same for every method and every driver.
 * A sample whose interrupt came before bench_armed() (the program was not
 * waiting yet) is dropped and another event requested.
 *
 * Output: "# bench: method=... key=value ..." and "# raw: method=... obs=..."
 * lines on stdout, collected by selftests/rig/bench.py.
 */
#ifndef VMGEN_BENCH_H
#define VMGEN_BENCH_H

#include <stdint.h>
#include <sys/types.h>

#define BENCH_DIR		"/run/vmgen-bench"
#define BENCH_HOOK_FIFO		BENCH_DIR "/hook.fifo"
#define BENCH_HOOK		"/usr/lib/vmgen-bench/bench_hook"
#define BENCH_WAIT_MS		10000	/* an event never observed */

struct bench_opts {
	int events;		/* valid samples wanted (--events) */
	int delay_ms;		/* host-side delay before each event */
	int spawn;		/* spawn the stamp hook after each observation */
	int idle_ms;		/* idle window after the events */
	const char *method;	/* method= in the output (--label overrides) */
};

extern struct bench_opts bench;

int64_t bench_now(void);		/* CLOCK_MONOTONIC ns */
int64_t bench_cpu_ns(void);		/* this process: user + system */
long bench_nvcsw(void);			/* voluntary context switches */
int bench_read_u64(const char *path, uint64_t *v);

/*
 * Parses the common options (--events N, --delay-ms D, --no-spawn,
 * --label NAME) out of argv, leaving the rest for the program; sets up the
 * trace instance. Exits on failure.
 */
void bench_init(int *argc, char **argv, const char *method);

/* Asks the host for one event; exits on failure. */
void bench_request(void);
void bench_armed(void);
void bench_observed(int64_t t);
/* Spawns BENCH_HOOK and returns when it reported; 0 or -1. */
int bench_spawn_hook(void);
/* Returns 1 if the sample was kept, 0 if dropped (not yet armed). */
int bench_commit(void);
/* Valid samples still wanted. */
int bench_more(void);

/* The next stamp a hook wrote to BENCH_HOOK_FIFO; 0 or -1. */
int bench_hook_stamp(int64_t *ts);
/* The same without waiting: -1 when none is there. */
int bench_hook_stamp_now(int64_t *ts);

/* Hook FIFO: open (O_RDWR, so it never sees EOF) and read one stamp. */
int bench_fifo_open(void);
int bench_fifo_read(int fd, int64_t *ts, int timeout_ms);

/* The latest GED interrupt timestamp(s) in the trace since the last call. */
int bench_irq_take(int64_t *last_ns);

/* Prints the summary and raw lines. Extra "key=value" text may be added. */
void bench_report(const char *extra);

/*
 * A method: setup() opens what it waits on (0, or -1 with errno); wait()
 * blocks until the event is observed, returning 1 with *t = bench_now()
 * taken right after, 0 when timeout_ms passed, -1 on error; rearm(), if
 * any, runs after each observation, outside the measured window.
 */
struct bench_method {
	const char *name;
	int (*setup)(int argc, char **argv);
	int (*wait)(int timeout_ms, int64_t *t);
	void (*rearm)(void);
};

/*
 * The wait() of most methods: poll() fd for events until seen() says the
 * event is in hand (1), or timeout_ms passed (0); *t = bench_now() right
 * after seen() or the timeout. seen() is called after every wake: 1 the
 * event, 0 not yet (poll again), -1 an error (returned).
 */
int bench_poll_until(int fd, short events, int timeout_ms, int (*seen)(void),
		     int64_t *t);

/*
 * The whole program: options, --events events, then an idle window of
 * --idle-ms (default 3000) with no event: its wakeups and CPU.
 */
int bench_main(int argc, char **argv, const struct bench_method *m);

/* percentile of a sorted array */
int64_t bench_pct(const int64_t *sorted, int n, double p);
void bench_sort(int64_t *v, int n);
void bench_print_stats(const char *method, const char *what, int64_t *v,
		       int n, const char *extra);
void bench_print_raw(const char *method, const char *what,
		     const int64_t *v, int n);

#endif /* VMGEN_BENCH_H */
