// SPDX-License-Identifier: GPL-2.0
/*
 * vmgend: sleep in the kernel until the VM generation changes (snapshot
 * restore, clone, live migration), then run the hooks once for it.
 *
 * Wake sources: poll() on /dev/vmclockN and /dev/vmgenid, or a timer that
 * reads the VMClock page (--source poll).  After a wake the counters are
 * read (VMClock from the mapped page under its seqcount) and compared with
 * those of the last completed pass; only a difference starts a pass.  When
 * both devices notify, the first wake waits up to --settle-ms for the other
 * so that one restore makes one pass.  Wakes during a pass are folded into
 * at most one more pass, for the counters current when it starts.
 *
 * The wake path allocates nothing: every buffer is static.
 */
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/filter.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <vmgen/vmclock.h>
#include <vmgen/vmgenid.h>

#include "common.h"

/*
 * Hooks start with posix_spawn() where the C library does all exec_hook()
 * does (glibc 2.34: POSIX_SPAWN_SETSID, addclosefrom_np, addchdir_np).
 * glibc spawns with clone(CLONE_VM | CLONE_VFORK): no copy of vmgend's
 * page tables, no copy-on-write faults in vmgend after it, and the hook
 * runs at once instead of after vmgend went back to poll(). Elsewhere:
 * fork() and exec_hook().
 */
#if defined(__GLIBC__) && \
	(__GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 34))
#define SPAWN_HOOKS 1
#include <spawn.h>
#endif

#define HOOK_OUTPUT_MAX		(64 * 1024)	/* logged per hook, the rest is drained */
#define KILL_WAIT_NS		(5 * NSEC_PER_SEC)	/* after SIGKILL */
#define REAP_CHECK_NS		(50 * NSEC_PER_MSEC)
#define RETRY_NS		(1 * NSEC_PER_SEC)

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_NOSOURCE = 3 };

static struct {
	const char *source;
	int foreground;
	int use_syslog;
	int verbose;
	int mlock;
	int64_t poll_interval_ns;
	int64_t settle_ns;
	int64_t hook_timeout_ns;
	int64_t hook_grace_ns;
	long hook_owner;
	const char *state_dir;
	const char *dirs[HOOK_DIRS_MAX];
	int ndirs;
	const char *trigger_fifo;
	const char *pidfile;
	struct platform_opts popts;
} opt = {
	.source = "auto",
	.poll_interval_ns = 1 * NSEC_PER_SEC,
	.settle_ns = 50 * NSEC_PER_MSEC,
	.hook_timeout_ns = 30 * NSEC_PER_SEC,
	.hook_grace_ns = 2 * NSEC_PER_SEC,
	.hook_owner = -1,
	.state_dir = DEFAULT_STATE_DIR,
};

static struct platform pf;
static struct selection sel;
static struct hookset hooks;
static struct hook_policy policy;

static struct counters handled;		/* what the last complete pass handled */
static uint64_t pass_no;
static int stopping, rescan_requested, pending;
static int ready_fd = -1;

/*
 * When the last pass saw the VMClock counters move but not yet the VMGenID
 * one (both devices notifying), when it started: a VMGenID change that
 * arrives alone soon after is the late half of the same restore.
 */
#define LATE_VMGENID_NS	(10 * NSEC_PER_SEC)
static int64_t vmclock_only_pass_ns;

/* Wakes that lead to the next pass. */
#define WOKE_VMCLOCK	1
#define WOKE_VMGENID	2
static struct {
	int64_t first_wake_ns;
	int64_t notify_ns;
	unsigned int woke;
} cyc;
static uint64_t seen_notify_ns[3];	/* last sysfs value used, per source */
/* sysfs last_notify_ns per source, kept open: pread() at 0 re-reads it */
static int notify_attr_fd[3] = { -1, -1, -1 };

enum { P_SIG, P_VMCLOCK, P_VMGENID, P_TRIGGER, P_HOOK, P_UEVENT, P_N };
static struct pollfd pfds[P_N];
static int64_t vmclock_backoff_until;
static int64_t last_read_warn;

/* The hook being run. */
static struct {
	pid_t pid;
	int fd;
	int exited;
	int status;
	int eof;
	const char *name;
	size_t linelen;
	size_t captured;
	size_t dropped;
	char line[1024];
} hr;

enum { R_EXIT, R_SIGNAL, R_TIMEOUT, R_ABORTED, R_REFUSED, R_SKIPPED, R_ERROR,
       R_EARLIER };
static const char *const result_names[] = {
	"exit", "signal", "timeout", "aborted", "refused", "skipped", "error",
	"earlier",
};

struct hook_result {
	const struct hook *hook;
	int kind;
	int code;
	int64_t dur_ns;
};

static struct hook_result results[HOOKS_MAX];
static struct hook_env henv;
static char iobuf[4096];
static char textbuf[16384];

/* ---- small helpers ---- */

static void report_ready(int code)
{
	char c = (char)code;

	if (ready_fd < 0)
		return;
	if (write(ready_fd, &c, 1) < 0) {
		/* the parent is gone; nothing to tell */
	}
	close(ready_fd);
	ready_fd = -1;
}

static void __attribute__((noreturn)) die(int code)
{
	report_ready(code);
	notify_systemd("STOPPING=1");
	exit(code);
}

static double ms(int64_t ns)
{
	return (double)ns / (double)NSEC_PER_MSEC;
}

static const char *sig_name(int sig)
{
	const char *s = sigabbrev_np(sig);

	return s ? s : "?";
}

static void fmt_seconds(char *buf, size_t n, int64_t ns)
{
	if (ns % NSEC_PER_SEC == 0)
		fmt_str(buf, n, "%lld s", (long long)(ns / NSEC_PER_SEC));
	else
		fmt_str(buf, n, "%.3f s", (double)ns / (double)NSEC_PER_SEC);
}

/* ---- state files ---- */

/*
 * A state file that cannot be written (/run full, and no file to rewrite
 * in place) is kept in memory and written again every second: until it
 * is, a restart of vmgend could repeat or miss a pass, so the log says so.
 */
#define STATE_RETRY_NS		(1 * NSEC_PER_SEC)
#define STATE_WARN_NS		(10 * NSEC_PER_SEC)
static int state_unsaved;
static int64_t state_retry_at;
static unsigned long state_failures;
static int64_t state_warned_ns;

static int save_counters(const char *name, const struct counters *c,
			 uint64_t pass)
{
	char buf[256];
	int n = counters_format(buf, sizeof(buf), c, pass);
	int r = n < 0 ? -1 : write_state(opt.state_dir, name, buf, (size_t)n);
	int64_t now = now_ns();

	if (r == 1 && now - state_warned_ns > STATE_WARN_NS) {
		log_warn("cannot replace %s/%s (%s): rewrote it in place",
			 opt.state_dir, name, strerror(errno));
		state_warned_ns = now;
	}
	if (r >= 0)
		return 0;
	state_failures++;
	if (state_failures == 1)
		log_err("cannot write %s/%s: %s; keeping the state in memory "
			"and trying again every second (a restart of vmgend "
			"meanwhile may repeat or miss a pass)", opt.state_dir,
			name, strerror(errno));
	state_unsaved = 1;
	state_retry_at = now + STATE_RETRY_NS;
	return -1;
}

/* handled and generation, as they are between passes */
static void save_state(void)
{
	int unsaved = state_unsaved;

	state_unsaved = 0;
	if (save_counters("handled", &handled, pass_no) < 0 ||
	    save_counters("generation", &handled, pass_no) < 0)
		return;
	state_retry_at = 0;
	if (unsaved)
		log_info("state files in %s written again, after %lu failed "
			 "attempt(s)", opt.state_dir, state_failures);
	state_failures = 0;
}

/*
 * The generation file is written as a pass starts, before its first hook:
 * on the wake path. Written there the usual way (write_atomic(): create,
 * chmod, write, fsync, rename, and the rename frees the file it replaces)
 * it cost about 1 ms under QEMU/TCG, a sixth of the notification-to-
 * first-hook time (docs/benchmarks.md). So the next file is made ahead,
 * after each pass: created as GEN_NEXT, mode set, its page allocated; and
 * vmgend keeps the current file open, so that the rename does not free it
 * either (that waits until after the pass). The wake path is left with
 * pwrite, fsync and rename. Any failure falls back to write_atomic().
 */
#define GEN_NEXT	".generation.next"
static int gen_next_fd = -1;	/* GEN_NEXT, ready */
static int gen_cur_fd = -1;	/* the generation file in place */
static int gen_old_fd = -1;	/* the one it replaced */

static void gen_prepare(void)
{
	char p[512];
	int fd;

	if (gen_old_fd >= 0) {
		close(gen_old_fd);
		gen_old_fd = -1;
	}
	if (gen_cur_fd < 0 &&
	    fmt_str(p, sizeof(p), "%s/generation", opt.state_dir) == 0)
		gen_cur_fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (gen_next_fd >= 0 ||
	    fmt_str(p, sizeof(p), "%s/" GEN_NEXT, opt.state_dir) < 0)
		return;
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW,
		  0644);
	if (fd < 0)
		return;
	if (fchmod(fd, 0644) < 0) {
		close(fd);
		unlink(p);
		return;
	}
	/* the page the contents go to (where the file system can) */
	if (fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 4096) < 0) {
		/* pwrite() allocates it then */
	}
	gen_next_fd = fd;
}

static void save_generation(const struct counters *c, uint64_t pass)
{
	char tmp[512], dst[512];
	char buf[256];
	int n = counters_format(buf, sizeof(buf), c, pass);

	if (n >= 0 && gen_next_fd >= 0 &&
	    fmt_str(tmp, sizeof(tmp), "%s/" GEN_NEXT, opt.state_dir) == 0 &&
	    fmt_str(dst, sizeof(dst), "%s/generation", opt.state_dir) == 0) {
		if (pwrite(gen_next_fd, buf, (size_t)n, 0) == n &&
		    fsync(gen_next_fd) == 0 && rename(tmp, dst) == 0) {
			gen_old_fd = gen_cur_fd;
			gen_cur_fd = gen_next_fd;
			gen_next_fd = -1;
			return;
		}
		close(gen_next_fd);
		gen_next_fd = -1;
		unlink(tmp);
	}
	save_counters("generation", c, pass);
}

static void gen_cleanup(void)
{
	char p[512];

	if (gen_next_fd >= 0 &&
	    fmt_str(p, sizeof(p), "%s/" GEN_NEXT, opt.state_dir) == 0)
		unlink(p);
}

/*
 * The progress of the running pass, in the state directory: which hooks
 * have ended and which one runs, with its process group.  A vmgend started
 * after one that was killed mid-pass (SIGKILL, OOM) ends what is left of
 * that hook's process group and finishes the pass: the hooks that ended
 * are not run again, the one that was running is run again from the start.
 *
 *   pass=N
 *   boot=BOOT_ID         a group of another boot is nobody's to end
 *   done=NAME            one line per hook that ended
 *   running=NAME PGID START   once it has run 20 ms; START: the leader's
 *                        start time (proc(5))
 */
#define PROGRESS		"progress"
#define PROGRESS_MAX		(HOOKS_MAX * 136 + 256)
#define PROGRESS_DELAY_NS	(20 * NSEC_PER_MSEC)
static char progbuf[PROGRESS_MAX];
static int progress_nres;	/* results of this pass so far */
static int progress_warned;
static char boot_id[40];	/* /proc/sys/kernel/random/boot_id */

/* Does this result mean the hook had its run? */
static int result_final(const struct hook_result *r)
{
	return r->kind == R_EXIT || r->kind == R_SIGNAL ||
	       r->kind == R_TIMEOUT || r->kind == R_EARLIER;
}

/* Field 4 or later of /proc/PID/stat as a number (proc(5) numbering: 5
 * the process group, 22 the start time), the state letter in *state; 0 if
 * unknown. */
static uint64_t proc_field(pid_t pid, int field, char *state)
{
	char p[64], buf[1024], *s, *end;
	unsigned long long v = 0;
	ssize_t n;
	int i;

	if (fmt_str(p, sizeof(p), "/proc/%d/stat", (int)pid) < 0)
		return 0;
	n = read_text(p, buf, sizeof(buf));
	if (n <= 0)
		return 0;
	s = strrchr(buf, ')');	/* the name may hold spaces and ')' */
	if (!s || s[1] != ' ')
		return 0;
	s += 2;			/* field 3, the state */
	if (state)
		*state = *s;
	for (i = 3; i < field && s; i++) {
		s = strchr(s, ' ');
		if (s)
			s++;
	}
	if (!s)
		return 0;
	v = strtoull(s, &end, 10);
	return end == s ? 0 : (uint64_t)v;
}

static void write_progress(const struct hook *running, pid_t pgid)
{
	size_t off = 0;
	int i, w;

	w = snprintf(progbuf, sizeof(progbuf), "pass=%llu\nboot=%s\n",
		     (unsigned long long)pass_no, boot_id);
	off = w > 0 ? (size_t)w : 0;
	for (i = 0; i < progress_nres && off < sizeof(progbuf); i++) {
		if (!result_final(&results[i]))
			continue;
		w = snprintf(progbuf + off, sizeof(progbuf) - off, "done=%s\n",
			     results[i].hook->name);
		if (w > 0)
			off += (size_t)w;
	}
	if (running && off < sizeof(progbuf)) {
		w = snprintf(progbuf + off, sizeof(progbuf) - off,
			     "running=%s %d %llu\n", running->name, (int)pgid,
			     (unsigned long long)proc_field(pgid, 22, NULL));
		if (w > 0)
			off += (size_t)w;
	}
	if (off >= sizeof(progbuf))
		off = sizeof(progbuf) - 1;
	if (write_state(opt.state_dir, PROGRESS, progbuf, off) < 0 &&
	    !progress_warned) {
		log_warn("cannot write %s/" PROGRESS ": %s; if vmgend dies in "
			 "this pass, a new one runs all of its hooks again",
			 opt.state_dir, strerror(errno));
		progress_warned = 1;
	}
}

static void progress_clear(void)
{
	char p[512];

	if (fmt_str(p, sizeof(p), "%s/" PROGRESS, opt.state_dir) == 0 &&
	    unlink(p) < 0 && errno != ENOENT)
		log_warn("cannot remove %s: %s", p, strerror(errno));
	progress_warned = 0;
}

/* What the progress file of an interrupted pass says. */
static struct {
	uint64_t pass;
	char done[PROGRESS_MAX];	/* "\nNAME\nNAME\n" */
	char running[128];
	pid_t pgid;
	uint64_t start;
} resume;

static void progress_load(void)
{
	char p[512], *line, *next;
	int other_boot = 1;

	memset(&resume, 0, sizeof(resume));
	if (fmt_str(p, sizeof(p), "%s/" PROGRESS, opt.state_dir) < 0 ||
	    read_text(p, progbuf, sizeof(progbuf)) < 0)
		return;
	copy_str(resume.done, sizeof(resume.done), "\n");
	for (line = progbuf; line && *line; line = next) {
		size_t len = strlen(resume.done);
		char name[128];
		unsigned long long v;
		int pg;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strncmp(line, "pass=", 5)) {
			if (parse_u64(line + 5, &resume.pass) < 0)
				resume.pass = 0;
		} else if (!strncmp(line, "boot=", 5)) {
			other_boot = strcmp(line + 5, boot_id) != 0;
		} else if (!strncmp(line, "done=", 5) && strlen(line + 5) &&
			   strlen(line + 5) < sizeof(name) &&
			   len + strlen(line + 5) + 2 < sizeof(resume.done)) {
			fmt_str(resume.done + len, sizeof(resume.done) - len,
				"%s\n", line + 5);
		} else if (!strncmp(line, "running=", 8) &&
			   sscanf(line + 8, "%127s %d %llu", name, &pg, &v) == 3 &&
			   pg > 1) {
			copy_str(resume.running, sizeof(resume.running), name);
			resume.pgid = pg;
			resume.start = v;
		}
	}
	if (other_boot)
		resume.pgid = 0;
}

static int resume_has_done(const char *name)
{
	char key[136];

	return resume.pass && fmt_str(key, sizeof(key), "\n%s\n", name) == 0 &&
	       strstr(resume.done, key) != NULL;
}

/* Processes of process group pgid that are not zombies. */
static int group_members(pid_t pgid)
{
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc");

	if (!d)
		return kill(-pgid, 0) == 0 ? 1 : 0;
	while ((de = readdir(d))) {
		unsigned long pid;
		char st = 0;

		if (parse_uint(de->d_name, 1UL << 22, &pid) < 0)
			continue;
		if ((pid_t)proc_field((pid_t)pid, 5, &st) == pgid && st != 'Z')
			n++;
	}
	closedir(d);
	return n;
}

/* Wait up to ns for the group to end; 1 if it did. */
static int group_wait(pid_t pgid, int64_t ns)
{
	int64_t until = now_ns() + ns;

	while (group_members(pgid)) {
		if (now_ns() >= until)
			return 0;
		usleep(50000);
	}
	return 1;
}

/* The running hook of the killed vmgend, if any of its group is left. */
static void end_leftover_group(void)
{
	pid_t pg = resume.pgid;
	uint64_t start;
	char st = 0;
	int n;

	if (pg <= 1 || !(n = group_members(pg)))
		return;
	/* a leader that is there must be the one that was recorded */
	start = proc_field(pg, 22, &st);
	if (start && resume.start && start != resume.start)
		return;
	log_warn("hook %s of interrupted pass %llu: %d process(es) of its "
		 "group %d still running: SIGTERM", resume.running,
		 (unsigned long long)resume.pass, n, (int)pg);
	kill(-pg, SIGTERM);
	if (group_wait(pg, opt.hook_grace_ns))
		return;
	log_warn("hook %s of interrupted pass %llu: its group is still there "
		 "after SIGTERM: SIGKILL", resume.running,
		 (unsigned long long)resume.pass);
	kill(-pg, SIGKILL);
	if (!group_wait(pg, KILL_WAIT_NS))
		log_err("hook %s of interrupted pass %llu: group %d survived "
			"SIGKILL", resume.running,
			(unsigned long long)resume.pass, (int)pg);
}

/* ---- hooks ---- */

static void scan_hooks(const char *reason)
{
	char list[512];
	size_t off = 0;
	int i, run = 0, other = 0;

	hooks_scan(&hooks, opt.dirs, opt.ndirs, &policy);
	for (i = 0; i < hooks.ndirs; i++) {
		const struct hook_dir *d = &hooks.dirs[i];

		if (!d->exists)
			log_debug("hook directory %s: %s", d->path, d->why);
		else if (!d->trusted)
			log_warn("hook directory %s refused: %s", d->path,
				 d->why);
	}
	list[0] = '\0';
	for (i = 0; i < hooks.n; i++) {
		const struct hook *h = &hooks.hooks[hooks.order[i]];

		if (h->state == HOOK_ELIGIBLE) {
			int w = snprintf(list + off, sizeof(list) - off, "%s%s",
					 run ? " " : "", h->name);

			if (w > 0 && (size_t)w < sizeof(list) - off)
				off += (size_t)w;
			run++;
			continue;
		}
		other++;
		logmsg(h->state == HOOK_REFUSED ? LOG_WARNING : LOG_INFO,
		       "hook %s: %s: %s", h->path, hook_state_name(h->state),
		       h->why);
	}
	if (hooks.dropped)
		log_warn("%d more hook directory entries ignored: at most %d "
			 "are handled", hooks.dropped, HOOKS_MAX);
	log_info("hooks scanned (%s): %d to run%s%s, %d not run", reason, run,
		 run ? ": " : "", list, other);
}

#ifndef SPAWN_HOOKS
static void __attribute__((noreturn)) exec_hook(const struct hook *h,
						 int outfd, char *event)
{
	char *argv[3] = { (char *)h->path, event, NULL };
	struct sigaction sa;
	sigset_t none;
	int fd;

	/* its own session and process group: a timeout kills all of it */
	setsid();
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	fd = open("/dev/null", O_RDONLY | O_NOCTTY);
	if (fd < 0)
		close(STDIN_FILENO);
	else if (fd != STDIN_FILENO)
		dup2(fd, STDIN_FILENO);
	dup2(outfd, STDOUT_FILENO);
	dup2(outfd, STDERR_FILENO);
	/* nothing else: not what vmgend's parent left open either */
	if (close_range(3, ~0U, 0) < 0) {
		long max = sysconf(_SC_OPEN_MAX);

		for (fd = 3; fd < (max > 0 && max < 65536 ? max : 1024); fd++)
			close(fd);
	}
	if (chdir("/") < 0) {
		/* keep going from wherever we are */
	}
	umask(022);
	execve(h->path, argv, henv.envp);
	dprintf(STDERR_FILENO, "cannot execute %s: %s\n", h->path,
		strerror(errno));
	_exit(126);
}
#endif

#ifdef SPAWN_HOOKS
/*
 * Built once at start-up, so that starting a hook allocates nothing: stdin
 * from hook_null_fd, stdout and stderr from hook_out_fd, every other
 * descriptor closed, cwd /, own session, empty signal mask, SIGPIPE
 * default; the umask is vmgend's own 022. hook_out_fd is a fixed number:
 * it holds the output pipe's write end while a hook starts and /dev/null
 * otherwise, so that no other open() takes the number.
 */
static posix_spawn_file_actions_t hook_fa;
static posix_spawnattr_t hook_attr;
static int hook_null_fd = -1, hook_out_fd = -1;

static int reserve_fd(void)
{
	int fd = open("/dev/null", O_RDONLY | O_NOCTTY | O_CLOEXEC), hi;

	if (fd < 0 || fd > STDERR_FILENO)
		return fd;
	/* never 0-2: the file actions dup onto those */
	hi = fcntl(fd, F_DUPFD_CLOEXEC, STDERR_FILENO + 1);
	close(fd);
	return hi;
}

/* 0, or -1 with errno */
static int spawn_setup(void)
{
	sigset_t none, dfl;
	int err;

	hook_null_fd = reserve_fd();
	hook_out_fd = reserve_fd();
	if (hook_null_fd < 0 || hook_out_fd < 0)
		return -1;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	/* these return an error number rather than setting errno */
	if ((err = posix_spawnattr_init(&hook_attr)) ||
	    (err = posix_spawnattr_setflags(&hook_attr, POSIX_SPAWN_SETSID |
					    POSIX_SPAWN_SETSIGMASK |
					    POSIX_SPAWN_SETSIGDEF)) ||
	    (err = posix_spawnattr_setsigmask(&hook_attr, &none)) ||
	    (err = posix_spawnattr_setsigdefault(&hook_attr, &dfl)) ||
	    (err = posix_spawn_file_actions_init(&hook_fa)) ||
	    (err = posix_spawn_file_actions_adddup2(&hook_fa, hook_null_fd,
						    STDIN_FILENO)) ||
	    (err = posix_spawn_file_actions_adddup2(&hook_fa, hook_out_fd,
						    STDOUT_FILENO)) ||
	    (err = posix_spawn_file_actions_adddup2(&hook_fa, hook_out_fd,
						    STDERR_FILENO)) ||
	    (err = posix_spawn_file_actions_addclosefrom_np(&hook_fa,
							    STDERR_FILENO + 1)) ||
	    (err = posix_spawn_file_actions_addchdir_np(&hook_fa, "/"))) {
		errno = err;
		return -1;
	}
	return 0;
}

/* 0 and *pid, or an errno value; outfd is closed either way. */
static int spawn_hook(const struct hook *h, int outfd, char *event,
		      pid_t *pid)
{
	char *argv[3] = { (char *)h->path, event, NULL };
	int err;

	if (dup3(outfd, hook_out_fd, O_CLOEXEC) < 0) {
		err = errno;
		close(outfd);
		return err;
	}
	close(outfd);
	err = posix_spawn(pid, h->path, &hook_fa, &hook_attr, argv,
			  henv.envp);
	/* drop our copy of the write end: the hook's exit makes EOF */
	dup3(hook_null_fd, hook_out_fd, O_CLOEXEC);
	return err;
}
#endif

static void emit_line(void)
{
	hr.line[hr.linelen] = '\0';
	log_info("hook %s: %s", hr.name, hr.line);
	hr.linelen = 0;
}

static void capture(const char *buf, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)buf[i];

		if (hr.captured >= HOOK_OUTPUT_MAX) {
			hr.dropped += n - i;
			return;
		}
		hr.captured++;
		if (ch == '\n') {
			emit_line();
			continue;
		}
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			ch = '?';
		hr.line[hr.linelen++] = (char)ch;
		if (hr.linelen >= sizeof(hr.line) - 1)
			emit_line();
	}
}

/*
 * Read what the hook wrote, a bounded amount per call: a hook writing
 * without end must not keep us from its timeout.
 */
static void read_hook_output(void)
{
	int i;

	if (hr.fd < 0 || hr.eof)
		return;
	for (i = 0; i < 16; i++) {
		ssize_t n = read(hr.fd, iobuf, sizeof(iobuf));

		if (n > 0) {
			capture(iobuf, (size_t)n);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) {
			hr.eof = 1;
			/* stop polling it: it would report POLLHUP forever */
			pfds[P_HOOK].fd = -1;
		}
		return;
	}
}

static void reap_children(void)
{
	pid_t p;
	int st;

	/* hooks' orphans come to us too (we are a child subreaper) */
	while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
		if (hr.pid && p == hr.pid) {
			hr.exited = 1;
			hr.status = st;
		}
	}
}

static void signal_group(pid_t pid, int sig)
{
	if (kill(-pid, sig) < 0 && errno == ESRCH)
		kill(pid, sig);	/* not yet in its own group */
}

static int group_alive(pid_t pgid)
{
	return kill(-pgid, 0) == 0 || errno == EPERM;
}

/* ---- events ---- */

static void open_notify_attrs(void)
{
	unsigned int i;

	for (i = WOKE_VMCLOCK; i <= WOKE_VMGENID; i++) {
		const char *dir = i == WOKE_VMCLOCK ? pf.vc.sysdir :
			pf.vg.sysdir;
		char p[512];

		if (!(i == WOKE_VMCLOCK ? pf.vc.ext : pf.vg.ext) || !dir[0] ||
		    fmt_str(p, sizeof(p), "%s/%s", dir, i == WOKE_VMCLOCK ?
			    VMGEN_VMCLOCK_ATTR_LAST_NOTIFY_NS :
			    VMGENID_ATTR_LAST_NOTIFY_NS) < 0)
			continue;
		notify_attr_fd[i] = open(p, O_RDONLY | O_CLOEXEC);
	}
}

/* As platform_notify_ns(), without an open() on the wake path. */
static uint64_t notify_ns_of(unsigned int src)
{
	char buf[32];
	uint64_t v;
	ssize_t n;

	if (notify_attr_fd[src] < 0)
		return platform_notify_ns(&pf, src == WOKE_VMCLOCK);
	n = pread(notify_attr_fd[src], buf, sizeof(buf) - 1, 0);
	if (n < 0)	/* the device went away: look it up again */
		return platform_notify_ns(&pf, src == WOKE_VMCLOCK);
	if (n == 0)
		return 0;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = '\0';
	return parse_u64(buf, &v) < 0 ? 0 : v;
}

/* src: WOKE_VMCLOCK or WOKE_VMGENID, one at a time */
static void note_wake(unsigned int src)
{
	int64_t now = now_ns();
	uint64_t ns;

	if (!cyc.first_wake_ns)
		cyc.first_wake_ns = now;
	cyc.woke |= src;
	/* the kernel's own timestamp of the notification, when it has one */
	ns = notify_ns_of(src);
	if (ns && ns != seen_notify_ns[src] && (int64_t)ns <= now) {
		seen_notify_ns[src] = ns;
		if (!cyc.notify_ns || (int64_t)ns < cyc.notify_ns)
			cyc.notify_ns = (int64_t)ns;
	}
}

static void on_signals(int fd)
{
	struct signalfd_siginfo si;

	while (read(fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		switch (si.ssi_signo) {
		case SIGTERM:
		case SIGINT:
			if (!stopping)
				log_info("%s received: stopping",
					 si.ssi_signo == SIGTERM ? "SIGTERM" :
					 "SIGINT");
			stopping = 1;
			break;
		case SIGHUP:
			rescan_requested = 1;
			log_info("SIGHUP received: rescanning hooks");
			break;
		case SIGCHLD:
			reap_children();
			break;
		}
	}
	/* SIGCHLD may coalesce with the others: reap anyway */
	reap_children();
}

/*
 * A device that goes away (its driver unbound, the device unplugged)
 * hangs up its open files.  vmgend then looks for the devices again, at
 * once and every second until it has a source; a kernel uevent saying a
 * vmgen device appeared makes it look at once.  A change while a device
 * was away is found when it is back: its counters are compared with the
 * last pass's, as after any wake.
 */
#define RESELECT_RETRY_NS	(1 * NSEC_PER_SEC)
#define RESELECT_WARN_NS	(60 * NSEC_PER_SEC)
static int64_t reselect_at;
static int sources_lost;
static int64_t lost_warned_ns;
static char reselect_why[96];

static void arm_sources(void)
{
	pfds[P_VMCLOCK].fd = -1;
	pfds[P_VMGENID].fd = -1;
	if (sel.wake_vmclock && !pf.vc.is_file && pf.vc.h) {
		pfds[P_VMCLOCK].fd = vmgen_vmclock_fd(pf.vc.h);
		pfds[P_VMCLOCK].events = POLLIN;
	}
	if (sel.wake_vmgenid && !pf.vg.is_file && pf.vg.h) {
		pfds[P_VMGENID].fd = vmgen_vmgenid_fd(pf.vg.h);
		pfds[P_VMGENID].events = POLLIN;
	}
}

static void reselect_soon(const char *why)
{
	copy_str(reselect_why, sizeof(reselect_why), why);
	reselect_at = now_ns();
}

static void source_lost(const char *path, short rev)
{
	log_err("%s went away (poll events 0x%x): looking for the devices "
		"again; a change meanwhile is handled once a source is back",
		path, (unsigned int)rev);
	pfds[P_VMCLOCK].fd = -1;
	pfds[P_VMGENID].fd = -1;
	sources_lost = 1;
	lost_warned_ns = now_ns();
	reselect_soon("a device went away");
}

static void close_notify_attrs(void)
{
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(notify_attr_fd); i++) {
		if (notify_attr_fd[i] >= 0)
			close(notify_attr_fd[i]);
		notify_attr_fd[i] = -1;
	}
}

/* The last pass's counters become c's; what c lacks (a source that went
 * away) is kept for when it is back. */
static void handled_update(const struct counters *c)
{
	struct counters n = *c;

	counters_adopt_new(&n, &handled);
	handled = n;
}

static int read_counters(struct counters *c);

static void reselect(void)
{
	struct selection ns;
	struct counters cur;
	int64_t now = now_ns();

	reselect_at = 0;
	close_notify_attrs();
	platform_close(&pf);
	platform_probe(&pf, &opt.popts);
	if (select_source(&pf, opt.source, &ns) < 0) {
		pfds[P_VMCLOCK].fd = -1;
		pfds[P_VMGENID].fd = -1;
		if (!sources_lost || now - lost_warned_ns >= RESELECT_WARN_NS) {
			log_err("no source (%s): %s; looking again every second",
				reselect_why, ns.why);
			lost_warned_ns = now;
		}
		sources_lost = 1;
		reselect_at = now + RESELECT_RETRY_NS;
		return;
	}
	if (sources_lost || strcmp(ns.name, sel.name))
		log_warn("source %s (%s): %s", ns.name, reselect_why, ns.why);
	else
		log_debug("devices looked up again (%s): source %s", reselect_why,
			  ns.name);
	sel = ns;
	sources_lost = 0;
	arm_sources();
	open_notify_attrs();
	/* a counter new to vmgend is a baseline, not a change */
	if (read_counters(&cur) == 0)
		counters_adopt_new(&handled, &cur);
	/* compare now: a device that was away may have changed meanwhile */
	if (!cyc.first_wake_ns)
		cyc.first_wake_ns = now_ns();
	cyc.woke |= WOKE_VMCLOCK;
}

/* Kernel uevents: only a vmgen device that appears matters here. */
static void on_uevent(int fd)
{
	struct vmgen_uevent ev;
	int i, r;

	for (i = 0; i < 64; i++) {
		errno = 0;
		r = vmgen_uevent_receive(fd, &ev);
		if (r < 0) {
			if (errno == ENOBUFS && (sources_lost ||
						 !strcmp(opt.source, "auto")))
				reselect_soon("uevents were lost");
			return;
		}
		if (r == 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			continue;
		}
		if (strcmp(ev.action, "add") && strcmp(ev.action, "bind"))
			continue;
		if (sources_lost || !strcmp(opt.source, "auto")) {
			char why[96];

			fmt_str(why, sizeof(why), "%s: %s",
				ev.devname[0] ? ev.devname : "a vmgen device",
				ev.action);
			reselect_soon(why);
		}
	}
}

/*
 * The kernel's uevent socket, filtered so that only "add@..." and
 * "bind@..." reach vmgend: every notification also sends a "change"
 * uevent, and those must not wake it on the way to a pass.
 */
static int open_uevents(void)
{
	static struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x61646440, 2, 0), /* add@ */
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0x62696e64, 1, 0), /* bind */
		BPF_STMT(BPF_RET | BPF_K, 0),
		BPF_STMT(BPF_RET | BPF_K, 0xffffffff),
	};
	struct sock_fprog prog = {
		.len = ARRAY_SIZE(code), .filter = code,
	};
	int fd = vmgen_uevent_open();

	if (fd < 0) {
		log_warn("cannot listen to kernel uevents (%s): a device that "
			 "appears later is found only if one went away",
			 strerror(errno));
		return -1;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_ATTACH_FILTER, &prog,
		       sizeof(prog)) < 0)
		log_debug("uevent socket filter: %s: every uevent wakes vmgend",
			  strerror(errno));
	return fd;
}

static void on_vmclock(short rev)
{
	if (rev & (POLLHUP | POLLERR | POLLNVAL)) {
		source_lost(pf.vc.path, rev);
		return;
	}
	if (vmgen_vmclock_rearm(pf.vc.h) < 0) {
		/* seq_count stuck odd?  Do not spin on it. */
		int64_t now = now_ns();

		if (now - last_read_warn > 10 * NSEC_PER_SEC) {
			log_warn("reading %s: %s; retrying in 1 s",
				 pf.vc.path, strerror(errno));
			last_read_warn = now;
		}
		vmclock_backoff_until = now + RETRY_NS;
		return;
	}
	note_wake(WOKE_VMCLOCK);
}

static void on_vmgenid(short rev)
{
	uint64_t g;

	if (rev & (POLLHUP | POLLERR | POLLNVAL)) {
		source_lost(pf.vg.path, rev);
		return;
	}
	/* reading marks the generation seen, so poll() sleeps again */
	if (vmgen_vmgenid_read(pf.vg.h, &g) < 0)
		log_warn("reading %s: %s", pf.vg.path, strerror(errno));
	note_wake(WOKE_VMGENID);
}

static void on_trigger(int fd)
{
	char buf[64];
	ssize_t n, i;

	while ((n = read(fd, buf, sizeof(buf))) > 0) {
		for (i = 0; i < n; i++) {
			if (buf[i] == 'c')
				note_wake(WOKE_VMCLOCK);
			else if (buf[i] == 'g')
				note_wake(WOKE_VMGENID);
			else if (buf[i] != '\n') {
				note_wake(WOKE_VMCLOCK);
				note_wake(WOKE_VMGENID);
			}
		}
	}
}

/* One poll() over everything; deadline < 0: no timeout. */
static void wait_events(int64_t deadline)
{
	int64_t now = now_ns();
	int timeout = -1;
	int vmclock_fd = pfds[P_VMCLOCK].fd;

	if (deadline >= 0) {
		int64_t d = deadline - now;

		timeout = d <= 0 ? 0 : (int)((d + NSEC_PER_MSEC - 1) /
					     NSEC_PER_MSEC);
	}
	if (vmclock_backoff_until > now) {
		int b = (int)((vmclock_backoff_until - now + NSEC_PER_MSEC - 1) /
			      NSEC_PER_MSEC);

		pfds[P_VMCLOCK].fd = -1;
		if (timeout < 0 || b < timeout)
			timeout = b;
	}
	if (poll(pfds, P_N, timeout) > 0) {
		if (pfds[P_SIG].revents)
			on_signals(pfds[P_SIG].fd);
		if (pfds[P_VMCLOCK].revents)
			on_vmclock(pfds[P_VMCLOCK].revents);
		if (pfds[P_VMGENID].revents)
			on_vmgenid(pfds[P_VMGENID].revents);
		if (pfds[P_TRIGGER].revents)
			on_trigger(pfds[P_TRIGGER].fd);
		if (pfds[P_HOOK].revents)
			read_hook_output();
		if (pfds[P_UEVENT].revents)
			on_uevent(pfds[P_UEVENT].fd);
	}
	if (pfds[P_VMCLOCK].fd < 0 && !sources_lost)
		pfds[P_VMCLOCK].fd = vmclock_fd;
}

static int read_counters(struct counters *c)
{
	if (platform_read(&pf, &sel, c) < 0) {
		int64_t now = now_ns();

		if (now - last_read_warn > 10 * NSEC_PER_SEC) {
			log_warn("cannot read the counters: %s",
				 strerror(errno));
			last_read_warn = now;
		}
		return -1;
	}
	if ((handled.have & c->have & CNT_VMGENID) &&
	    c->vmgenid_gen < handled.vmgenid_gen) {
		log_warn("VMGenID generation went back from %llu to %llu "
			 "(vmgen_vmgenid reloaded?): taking it as the baseline",
			 (unsigned long long)handled.vmgenid_gen,
			 (unsigned long long)c->vmgenid_gen);
		handled.vmgenid_gen = c->vmgenid_gen;
		save_state();
	}
	return 0;
}

/* ---- a pass ---- */

static void run_hook(const struct hook *h, struct hook_result *r,
		     char *event)
{
	enum { RUNNING, TERMINATING, KILLED } phase = RUNNING;
	int64_t t0, deadline;
	int p[2], stopped = 0, timed_out = 0, progress_written = 0;
	char tbuf[32];
	pid_t pid;

	if (pipe2(p, O_CLOEXEC) < 0) {
		r->kind = R_ERROR;
		r->code = errno;
		log_err("hook %s: pipe: %s", h->name, strerror(errno));
		return;
	}
	fcntl(p[0], F_SETFL, O_NONBLOCK);
	t0 = now_ns();
#ifdef SPAWN_HOOKS
	{
		int err = spawn_hook(h, p[1], event, &pid);

		if (err) {
			close(p[0]);
			r->dur_ns = now_ns() - t0;
			if (err == EAGAIN || err == ENOMEM) {
				r->kind = R_ERROR;
				r->code = err;
				log_err("hook %s: posix_spawn: %s", h->name,
					strerror(err));
				return;
			}
			/* what exec_hook()'s child says and does */
			log_info("hook %s: cannot execute %s: %s", h->name,
				 h->path, strerror(err));
			r->kind = R_EXIT;
			r->code = 126;
			return;
		}
	}
#else
	pid = fork();
	if (pid < 0) {
		r->kind = R_ERROR;
		r->code = errno;
		log_err("hook %s: fork: %s", h->name, strerror(errno));
		close(p[0]);
		close(p[1]);
		return;
	}
	if (pid == 0)
		exec_hook(h, p[1], event);
	close(p[1]);
#endif

	memset(&hr, 0, sizeof(hr));
	hr.pid = pid;
	hr.fd = p[0];
	hr.name = h->name;
	pfds[P_HOOK].fd = p[0];
	pfds[P_HOOK].events = POLLIN;
	deadline = t0 + opt.hook_timeout_ns;

	for (;;) {
		int64_t until = deadline, now;

		/*
		 * The progress file names the running hook once it has run
		 * a little: written at once, it would compete with the
		 * hook's own start for the CPU on the wake path.
		 */
		if (!progress_written && !hr.exited) {
			now = now_ns();
			if (now >= t0 + PROGRESS_DELAY_NS) {
				write_progress(h, pid);
				progress_written = 1;
			} else if (t0 + PROGRESS_DELAY_NS < until) {
				until = t0 + PROGRESS_DELAY_NS;
			}
		}
		if (hr.exited) {
			if (phase != TERMINATING || !group_alive(pid))
				break;
			/* the leader is gone, some of its group is not */
			now = now_ns();
			if (now + REAP_CHECK_NS < until)
				until = now + REAP_CHECK_NS;
		}
		if (stopping && phase == RUNNING) {
			log_warn("hook %s: stopping: SIGTERM to its process "
				 "group", h->name);
			signal_group(pid, SIGTERM);
			phase = TERMINATING;
			stopped = 1;
			deadline = now_ns() + opt.hook_grace_ns;
			continue;
		}
		now = now_ns();
		if (now >= deadline) {
			if (phase == RUNNING) {
				fmt_seconds(tbuf, sizeof(tbuf),
					    opt.hook_timeout_ns);
				log_warn("hook %s: timed out after %s: SIGTERM "
					 "to its process group", h->name, tbuf);
				signal_group(pid, SIGTERM);
				phase = TERMINATING;
				timed_out = 1;
				deadline = now + opt.hook_grace_ns;
			} else if (phase == TERMINATING) {
				fmt_seconds(tbuf, sizeof(tbuf),
					    opt.hook_grace_ns);
				log_warn("hook %s: %s after SIGTERM, its process "
					 "group is still there: SIGKILL",
					 h->name, tbuf);
				signal_group(pid, SIGKILL);
				phase = KILLED;
				deadline = now + KILL_WAIT_NS;
			} else {
				log_err("hook %s: pid %d survived SIGKILL "
					"(stuck in the kernel?); not waiting "
					"for it any longer", h->name, (int)pid);
				break;
			}
			continue;
		}
		wait_events(until);
	}

	/* Processes it started and left in its group are not stopped (a
	 * hook may start a service), but said. */
	if (hr.exited && phase == RUNNING && group_alive(pid)) {
		int left = group_members(pid);

		if (left)
			log_info("hook %s: exited, leaving %d process(es) of "
				 "its group running", h->name, left);
	}
	/* what it wrote before it ended; its orphans may hold the pipe */
	read_hook_output();
	if (hr.linelen)
		emit_line();
	if (hr.dropped)
		log_warn("hook %s: output over %d KiB: %zu more bytes dropped",
			 h->name, HOOK_OUTPUT_MAX / 1024, hr.dropped);
	close(p[0]);
	hr.fd = -1;
	pfds[P_HOOK].fd = -1;
	pfds[P_HOOK].events = 0;
	r->dur_ns = now_ns() - t0;

	if (!hr.exited) {
		r->kind = R_TIMEOUT;
		r->code = -1;
	} else if (WIFEXITED(hr.status)) {
		r->kind = R_EXIT;
		r->code = WEXITSTATUS(hr.status);
	} else {
		r->kind = R_SIGNAL;
		r->code = WIFSIGNALED(hr.status) ? WTERMSIG(hr.status) : -1;
	}
	if (timed_out || stopped) {
		r->kind = timed_out ? R_TIMEOUT : R_ABORTED;
		/* Here the code is the signal that ended it, 0 if none did. */
		if (r->code >= 0 && hr.exited && WIFEXITED(hr.status))
			r->code = 0;
	}
	hr.pid = 0;
}

static void log_result(const struct hook *h, const struct hook_result *r)
{
	char tbuf[32];

	switch (r->kind) {
	case R_EXIT:
		logmsg(r->code ? LOG_WARNING : LOG_INFO,
		       "hook %s: exit %d%s, %.1f ms", h->name, r->code,
		       r->code ? " (failed)" : "", ms(r->dur_ns));
		break;
	case R_SIGNAL:
		log_warn("hook %s: killed by signal %d (SIG%s), %.1f ms",
			 h->name, r->code, sig_name(r->code), ms(r->dur_ns));
		break;
	case R_TIMEOUT:
		fmt_seconds(tbuf, sizeof(tbuf), opt.hook_timeout_ns);
		if (r->code > 0)
			log_warn("hook %s: timed out after %s, ended by "
				 "signal %d (SIG%s), %.1f ms", h->name, tbuf,
				 r->code, sig_name(r->code), ms(r->dur_ns));
		else if (r->code == 0)
			log_warn("hook %s: timed out after %s, exited after "
				 "SIGTERM, %.1f ms", h->name, tbuf,
				 ms(r->dur_ns));
		else
			log_warn("hook %s: timed out after %s, did not end, "
				 "%.1f ms", h->name, tbuf, ms(r->dur_ns));
		break;
	case R_ABORTED:
		log_warn("hook %s: stopped with vmgend, %.1f ms", h->name,
			 ms(r->dur_ns));
		break;
	case R_SKIPPED:
		log_warn("hook %s: skipped: vmgend is stopping", h->name);
		break;
	case R_ERROR:
		log_err("hook %s: not started: %s", h->name,
			strerror(r->code));
		break;
	}
}

static int result_failed(const struct hook_result *r)
{
	return !((r->kind == R_EXIT && r->code == 0) || r->kind == R_EARLIER);
}

static size_t append(size_t off, const char *fmt, ...) PRINTF(2, 3);
static size_t append(size_t off, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (off >= sizeof(textbuf))
		return off;
	va_start(ap, fmt);
	n = vsnprintf(textbuf + off, sizeof(textbuf) - off, fmt, ap);
	va_end(ap);
	if (n < 0)
		return off;
	if ((size_t)n >= sizeof(textbuf) - off)
		return sizeof(textbuf);
	return off + (size_t)n;
}

static void fmt_counter_changes(char *buf, size_t size,
				const struct counters *o,
				const struct counters *c)
{
	size_t off = 0;
	int n;

	buf[0] = '\0';
#define CHG(bit, label, field) do {					\
		if (!(c->have & (bit)))					\
			break;						\
		n = (o->have & (bit)) ?					\
			snprintf(buf + off, size - off, "%s%s %llu->%llu", \
				 off ? ", " : "", label,		\
				 (unsigned long long)o->field,		\
				 (unsigned long long)c->field) :	\
			snprintf(buf + off, size - off, "%s%s ->%llu",	\
				 off ? ", " : "", label,		\
				 (unsigned long long)c->field);		\
		if (n > 0 && (size_t)n < size - off)			\
			off += (size_t)n;				\
	} while (0)
	CHG(CNT_VMCLOCK_GEN, "vmclock generation", vmclock_gen);
	CHG(CNT_MARKER, "disruption marker", marker);
	CHG(CNT_VMGENID, "vmgenid generation", vmgenid_gen);
#undef CHG
}

static void write_last_pass(const char *event, const char *status,
			    const struct counters *o, const struct counters *c,
			    int64_t notify, int64_t first_hook, int64_t done,
			    int nres)
{
	struct timespec ts;
	struct tm tm;
	char when[32];
	size_t off = 0;
	int i;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	if (!strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm))
		when[0] = '\0';
	off = append(off, "pass=%llu\nevent=%s\nsource=%s\nstatus=%s\n"
		     "time=%s\nnotify_ns=%lld\n", (unsigned long long)pass_no,
		     event, sel.name, status, when, (long long)notify);
	if (first_hook)
		off = append(off, "first_hook_ms=%.3f\n",
			     ms(first_hook - notify));
	else
		off = append(off, "first_hook_ms=\n");
	off = append(off, "done_ms=%.3f\n", ms(done - notify));
#define OLDNEW(bit, key, field) do {					\
		if (o->have & (bit))					\
			off = append(off, key "_old=%llu\n",		\
				     (unsigned long long)o->field);	\
		if (c->have & (bit))					\
			off = append(off, key "_new=%llu\n",		\
				     (unsigned long long)c->field);	\
	} while (0)
	OLDNEW(CNT_VMCLOCK_GEN, "vmclock_generation", vmclock_gen);
	OLDNEW(CNT_MARKER, "disruption_marker", marker);
	OLDNEW(CNT_VMGENID, "vmgenid_generation", vmgenid_gen);
#undef OLDNEW
	off = append(off, "hooks=%d\n", nres);
	for (i = 0; i < nres; i++)
		off = append(off, "hook.%s=%s %d %.3f\n",
			     results[i].hook->name,
			     result_names[results[i].kind], results[i].code,
			     ms(results[i].dur_ns));
	if (off >= sizeof(textbuf)) {
		log_err("last-pass too long for its buffer: truncated");
		off = sizeof(textbuf) - 1;
	}
	if (write_atomic(opt.state_dir, "last-pass", textbuf, off) < 0)
		log_err("cannot write %s/last-pass: %s", opt.state_dir,
			strerror(errno));
}

static void run_pass(const char *event_c, const struct counters *cur,
		     int64_t first_wake_ns, int64_t notify_ns)
{
	struct counters old = handled;
	char event[16], changes[256], first[32], status_msg[160];
	int64_t notify, first_hook = 0, done;
	int i, nres = 0, nfailed = 0, env_ok;
	const char *status;

	copy_str(event, sizeof(event), event_c);
	pass_no++;
	notify = notify_ns ? notify_ns : first_wake_ns ? first_wake_ns :
							 now_ns();
	save_generation(cur, pass_no);
	if (rescan_requested) {
		rescan_requested = 0;
		scan_hooks("SIGHUP");
	} else if (hooks_dirs_changed(&hooks)) {
		scan_hooks("a hook directory changed");
	}
	{
		struct hook_env_args ea = {
			.event = event, .source = sel.name, .old = &old,
			.cur = cur, .notify_ns = notify, .pass = pass_no,
		};

		env_ok = hook_env_build(&henv, &ea) >= 0;
		if (!env_ok)
			log_err("pass %llu: cannot build the hooks' environment "
				"(a value too long or with control characters): "
				"no hook runs", (unsigned long long)pass_no);
	}
	fmt_counter_changes(changes, sizeof(changes), &old, cur);
	log_debug("pass %llu starting: %s (%s)", (unsigned long long)pass_no,
		  event, changes);

	for (i = 0; i < hooks.n; i++) {
		const struct hook *h = &hooks.hooks[hooks.order[i]];
		struct hook_result *r;
		char why[224];

		if (h->state != HOOK_ELIGIBLE)
			continue;
		r = &results[nres++];
		memset(r, 0, sizeof(*r));
		r->hook = h;
		if (stopping) {
			r->kind = R_SKIPPED;
			log_result(h, r);
			continue;
		}
		if (!env_ok) {
			r->kind = R_ERROR;
			r->code = EINVAL;
			log_result(h, r);
			continue;
		}
		if (resume.pass == pass_no && resume_has_done(h->name)) {
			r->kind = R_EARLIER;
			log_info("hook %s: ran in pass %llu before vmgend was "
				 "restarted: not run again", h->name,
				 (unsigned long long)pass_no);
			continue;
		}
		/* it may have changed since the scan */
		if (hook_check(h->path, &policy, why, sizeof(why)) !=
		    HOOK_ELIGIBLE) {
			r->kind = R_REFUSED;
			log_warn("hook %s: refused: %s", h->path, why);
			continue;
		}
		if (!first_hook)
			first_hook = now_ns();
		progress_nres = nres - 1;
		run_hook(h, r, event);
		log_result(h, r);
		progress_nres = nres;
		write_progress(NULL, 0);
	}
	resume.pass = 0;
	done = now_ns();
	for (i = 0; i < nres; i++)
		nfailed += result_failed(&results[i]);
	status = stopping ? "aborted" : nfailed ? "failed" : "ok";
	if (first_hook)
		fmt_str(first, sizeof(first), "%.1f ms",
			ms(first_hook - notify));
	else
		fmt_str(first, sizeof(first), "n/a (no hook)");
	logmsg(nfailed ? LOG_WARNING : LOG_INFO,
	       "pass %llu: %s (%s), source %s: %d hooks, %d failed, %s; "
	       "notification to first hook %s, to done %.1f ms",
	       (unsigned long long)pass_no, event, changes, sel.name, nres,
	       nfailed, status, first, ms(done - notify));
	write_last_pass(event, status, &old, cur, notify, first_hook, done,
			nres);
	if (!stopping) {
		handled_update(cur);
		if (state_unsaved)
			save_state();
		else
			save_counters("handled", &handled, pass_no);
		if (!state_unsaved)
			progress_clear();
	}
	fmt_str(status_msg, sizeof(status_msg),
		"STATUS=pass %llu: %s, %s", (unsigned long long)pass_no,
		event, status);
	notify_systemd(status_msg);
	gen_prepare();		/* for the next pass, off its wake path */
}

/* ---- main loop ---- */

static int vmclock_moved(const struct counters *o, const struct counters *c)
{
	unsigned int both = o->have & c->have;

	return ((both & CNT_VMCLOCK_GEN) && o->vmclock_gen != c->vmclock_gen) ||
	       ((both & CNT_MARKER) && o->marker != c->marker);
}

static int vmgenid_moved(const struct counters *o, const struct counters *c)
{
	return (o->have & c->have & CNT_VMGENID) &&
	       o->vmgenid_gen != c->vmgenid_gen;
}

/*
 * Both devices notify and a pass already ran for this restore on the
 * VMClock counters alone: the VMGenID change now is the same restore,
 * reported late (it is counted by the guest's notify handler, while the
 * VMClock page was rewritten before the VM resumed).  Record it, run
 * nothing.
 */
static int late_vmgenid(const struct counters *cur)
{
	return vmclock_only_pass_ns && sel.wake_vmclock && sel.wake_vmgenid &&
	       now_ns() - vmclock_only_pass_ns <= LATE_VMGENID_NS &&
	       !vmclock_moved(&handled, cur) && vmgenid_moved(&handled, cur);
}

static int absorb_late_vmgenid(const struct counters *cur)
{
	int64_t now = now_ns();

	if (!late_vmgenid(cur))
		return 0;
	log_info("VMGenID generation %llu->%llu came %.1f ms after pass %llu "
		 "began for the same restore (on the VMClock counters): no "
		 "new pass", (unsigned long long)handled.vmgenid_gen,
		 (unsigned long long)cur->vmgenid_gen,
		 ms(now - vmclock_only_pass_ns), (unsigned long long)pass_no);
	handled.vmgenid_gen = cur->vmgenid_gen;
	vmclock_only_pass_ns = 0;
	save_state();
	return 1;
}

/* Give the other device up to --settle-ms to report the same restore. */
static void settle(void)
{
	struct counters cur;
	int64_t deadline;

	if (!(sel.wake_vmclock && sel.wake_vmgenid) || opt.settle_ns <= 0)
		return;
	deadline = now_ns() + opt.settle_ns;
	for (;;) {
		if (read_counters(&cur) == 0 && vmclock_moved(&handled, &cur) &&
		    vmgenid_moved(&handled, &cur))
			return;
		if (stopping || now_ns() >= deadline)
			return;
		wait_events(deadline);
	}
}

/* The earlier of two deadlines, where <= 0 is none. */
static int64_t earliest(int64_t a, int64_t b)
{
	if (a <= 0)
		return b > 0 ? b : -1;
	return b > 0 && b < a ? b : a;
}

static void main_loop(void)
{
	int64_t next_tick = sel.timed ? now_ns() + opt.poll_interval_ns : -1;
	struct counters cur;
	const char *event;

	while (!stopping) {
		if (!pending) {
			int tick = 0;

			wait_events(earliest(next_tick, earliest(reselect_at,
								 state_retry_at)));
			if (stopping)
				break;
			if (state_retry_at && now_ns() >= state_retry_at)
				save_state();
			if (reselect_at && now_ns() >= reselect_at)
				reselect();
			if (rescan_requested) {
				rescan_requested = 0;
				scan_hooks("SIGHUP");
			}
			if (sel.timed && now_ns() >= next_tick) {
				next_tick = now_ns() + opt.poll_interval_ns;
				tick = 1;
			}
			if (!cyc.woke && !tick)
				continue;
			if (read_counters(&cur) < 0 ||
			    !counters_event(&handled, &cur)) {
				/* a clock update, or the same generation */
				if (cyc.woke)
					log_debug("woken, counters unchanged");
				memset(&cyc, 0, sizeof(cyc));
				continue;
			}
			if (!cyc.first_wake_ns)
				cyc.first_wake_ns = now_ns();
			pending = 1;
		}
		settle();
		if (stopping)
			break;
		pending = 0;
		if (read_counters(&cur) < 0)
			continue;
		event = counters_event(&handled, &cur);
		if (!event || absorb_late_vmgenid(&cur)) {
			memset(&cyc, 0, sizeof(cyc));
			continue;
		}
		{
			int64_t fw = cyc.first_wake_ns, nn = cyc.notify_ns;
			int late = sel.wake_vmclock && sel.wake_vmgenid &&
				   vmclock_moved(&handled, &cur) &&
				   !vmgenid_moved(&handled, &cur);

			/* wakes from now on belong to the next pass */
			memset(&cyc, 0, sizeof(cyc));
			vmclock_only_pass_ns = late ? now_ns() : 0;
			run_pass(event, &cur, fw, nn);
		}
		if (stopping)
			break;
		if (read_counters(&cur) == 0 && counters_event(&handled, &cur)) {
			if (!late_vmgenid(&cur))
				log_info("counters changed during pass %llu: "
					 "one more pass",
					 (unsigned long long)pass_no);
			if (!cyc.first_wake_ns)
				cyc.first_wake_ns = now_ns();
			pending = 1;
		}
		if (sel.timed)
			next_tick = now_ns() + opt.poll_interval_ns;
	}
}

/* ---- startup ---- */

/*
 * A pass that a previous vmgend began and did not finish (killed, or
 * stopped mid-pass): finish it when the counters are still those it began
 * for; when they moved on since, the next pass is a whole one for them.
 */
static void resume_interrupted(const struct counters *cur)
{
	struct counters began;
	uint64_t began_pass = 0;
	char p[512];

	progress_load();
	if (!resume.pass)
		return;
	if (resume.pass != pass_no + 1) {
		log_debug("stale %s/" PROGRESS " (pass %llu, handled %llu): "
			  "removed", opt.state_dir,
			  (unsigned long long)resume.pass,
			  (unsigned long long)pass_no);
		resume.pass = 0;
		progress_clear();
		return;
	}
	if (fmt_str(p, sizeof(p), "%s/generation", opt.state_dir) < 0 ||
	    counters_load(p, &began, &began_pass) < 0 ||
	    began_pass != resume.pass || vmclock_moved(&began, cur) ||
	    vmgenid_moved(&began, cur)) {
		log_info("pass %llu did not finish (vmgend was stopped or "
			 "killed), and the counters moved on since: the next "
			 "pass runs every hook", (unsigned long long)resume.pass);
		end_leftover_group();
		resume.pass = 0;
		return;
	}
	log_info("pass %llu did not finish (vmgend was stopped or killed%s%s):"
		 " finishing it; hooks that ended then are not run again",
		 (unsigned long long)resume.pass,
		 resume.running[0] ? " while running hook " : "",
		 resume.running);
	end_leftover_group();
}

static void startup_state(void)
{
	char path[512];
	struct counters cur;
	const char *event;
	int i;

	for (i = 0; platform_read(&pf, &sel, &cur) < 0; i++) {
		if (i == 10) {
			log_err("cannot read the counters: %s",
				strerror(errno));
			die(EXIT_FAIL);
		}
		usleep(100000);
	}
	/* notifications before now are not the next one's */
	for (i = WOKE_VMCLOCK; i <= WOKE_VMGENID; i++)
		seen_notify_ns[i] = notify_ns_of((unsigned int)i);

	fmt_str(path, sizeof(path), "%s/handled", opt.state_dir);
	if (counters_load(path, &handled, &pass_no) < 0) {
		int e = errno;

		handled = cur;
		pass_no = 0;
		if ((cur.have & CNT_VMGENID) && cur.vmgenid_gen > 0) {
			/*
			 * vmgen_vmgenid counts from 0 since it loaded, so this
			 * boot has seen a restore that nobody handled.  The
			 * VMClock counter survives a guest reboot: it cannot
			 * say that.
			 */
			handled.vmgenid_gen = 0;
			log_info("first start since boot, but vmgen_vmgenid "
				 "saw %llu VMGenID change(s) already",
				 (unsigned long long)cur.vmgenid_gen);
		} else if (e == ENOENT) {
			log_info("first start since boot: current counters "
				 "are the baseline, no pass");
		} else {
			log_warn("ignoring unreadable %s (%s): current "
				 "counters are the baseline", path,
				 strerror(e));
		}
	} else {
		if ((handled.have & cur.have & CNT_VMGENID) &&
		    cur.vmgenid_gen < handled.vmgenid_gen) {
			log_warn("VMGenID generation went back from %llu to "
				 "%llu (vmgen_vmgenid reloaded?): taking it as "
				 "the baseline",
				 (unsigned long long)handled.vmgenid_gen,
				 (unsigned long long)cur.vmgenid_gen);
			handled.vmgenid_gen = cur.vmgenid_gen;
		}
		counters_adopt_new(&handled, &cur);
	}
	save_counters("handled", &handled, pass_no);
	resume_interrupted(&cur);
	event = counters_event(&handled, &cur);
	if (!event) {
		save_counters("generation", &cur, pass_no);
		log_debug("counters unchanged since pass %llu",
			  (unsigned long long)pass_no);
		return;
	}
	log_info("counters changed while vmgend was not running (%s): "
		 "running a pass", event);
	pending = 1;
	cyc.first_wake_ns = now_ns();
	/* the notification that did it, if the module recorded one */
	for (i = WOKE_VMCLOCK; i <= WOKE_VMGENID; i++) {
		int64_t ns = (int64_t)seen_notify_ns[i];

		if (ns > 0 && ns <= cyc.first_wake_ns &&
		    (!cyc.notify_ns || ns < cyc.notify_ns))
			cyc.notify_ns = ns;
	}
}

static void daemonize(void)
{
	int p[2], fd;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC) < 0) {
		log_err("pipe: %s", strerror(errno));
		exit(EXIT_FAIL);
	}
	pid = fork();
	if (pid < 0) {
		log_err("fork: %s", strerror(errno));
		exit(EXIT_FAIL);
	}
	if (pid > 0) {
		/* the exit status tells whether the daemon came up */
		close(p[1]);
		if (read(p[0], &c, 1) != 1)
			_exit(EXIT_FAIL);
		_exit((unsigned char)c);
	}
	close(p[0]);
	setsid();
	pid = fork();
	if (pid < 0)
		_exit(EXIT_FAIL);
	if (pid > 0)
		_exit(EXIT_OK);
	ready_fd = p[1];
	if (chdir("/") < 0) {
		/* harmless */
	}
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		if (fd > STDERR_FILENO)
			close(fd);
	}
}

static void prefault(void)
{
	volatile char stack[128 * 1024];
	struct counters c;
	size_t i;

	for (i = 0; i < sizeof(stack); i += 1024)
		stack[i] = 0;
	memset(iobuf, 0, sizeof(iobuf));
	memset(textbuf, 0, sizeof(textbuf));
	memset(results, 0, sizeof(results));
	memset(henv.store, 0, sizeof(henv.store));
	memset(hr.line, 0, sizeof(hr.line));
	(void)platform_read(&pf, &sel, &c);
	/*
	 * What a pass uses and start-up does not: the floating-point
	 * formats (their code and tables would fault in on the first pass,
	 * the one after a restore) and the UTC time of last-pass.
	 */
	{
		char tmp[64];
		struct tm tm;
		time_t t = 0;

		fmt_str(tmp, sizeof(tmp), "%.3f %.1f", 0.5, 0.5);
		gmtime_r(&t, &tm);
		if (!strftime(tmp, sizeof(tmp), "%Y-%m-%dT%H:%M:%SZ", &tm))
			tmp[0] = '\0';
	}
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vmgend [OPTION]...\n"
"Run hooks when this VM is restored from a snapshot, cloned or migrated.\n"
"\n"
"  -f, --foreground          stay in the foreground and log to stderr\n"
"      --syslog              log to syslog even in the foreground\n"
"  -s, --source SRC          auto (default), vmclock, vmgenid or poll\n"
"      --poll-interval SEC   period of --source poll (default 1)\n"
"      --poll-interval-ms MS the same in milliseconds\n"
"      --settle-ms MS        wait for the other device (default 50)\n"
"  -d, --hooks-dir DIR       hook directory; repeatable, earlier wins\n"
"                            (default " ETC_HOOKS_DIR ", " LIB_HOOKS_DIR ")\n"
"  -t, --hook-timeout SEC    per hook (default 30)\n"
"      --hook-grace SEC      SIGTERM to SIGKILL (default 2)\n"
"      --hook-owner UID      the only uid trusted to own hooks\n"
"      --state-dir DIR       (default " DEFAULT_STATE_DIR ")\n"
"      --mlock               lock vmgend in memory\n"
"      --pidfile FILE        write the daemon's pid there once ready\n"
"  -v, --verbose             debug messages\n"
"  -h, --help, -V, --version\n"
"Testing aids: --vmclock-dev PATH|none, --vmgenid-dev PATH|none,\n"
"  --sysfs-root DIR, --trigger-fifo PATH (see vmgend(8)).\n"
"Exit status: 0 stopped by a signal, 1 failure, 2 usage, 3 no source.\n");
}

enum {
	OPT_POLL_INTERVAL = 256, OPT_POLL_INTERVAL_MS, OPT_SETTLE_MS,
	OPT_HOOK_GRACE, OPT_HOOK_OWNER, OPT_STATE_DIR, OPT_MLOCK, OPT_SYSLOG,
	OPT_VMCLOCK_DEV, OPT_VMGENID_DEV, OPT_SYSFS_ROOT, OPT_TRIGGER_FIFO,
	OPT_PIDFILE,
};

static const struct option longopts[] = {
	{ "foreground", no_argument, NULL, 'f' },
	{ "syslog", no_argument, NULL, OPT_SYSLOG },
	{ "source", required_argument, NULL, 's' },
	{ "poll-interval", required_argument, NULL, OPT_POLL_INTERVAL },
	{ "poll-interval-ms", required_argument, NULL, OPT_POLL_INTERVAL_MS },
	{ "settle-ms", required_argument, NULL, OPT_SETTLE_MS },
	{ "hooks-dir", required_argument, NULL, 'd' },
	{ "hook-timeout", required_argument, NULL, 't' },
	{ "hook-grace", required_argument, NULL, OPT_HOOK_GRACE },
	{ "hook-owner", required_argument, NULL, OPT_HOOK_OWNER },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "mlock", no_argument, NULL, OPT_MLOCK },
	{ "pidfile", required_argument, NULL, OPT_PIDFILE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "vmclock-dev", required_argument, NULL, OPT_VMCLOCK_DEV },
	{ "vmgenid-dev", required_argument, NULL, OPT_VMGENID_DEV },
	{ "sysfs-root", required_argument, NULL, OPT_SYSFS_ROOT },
	{ "trigger-fifo", required_argument, NULL, OPT_TRIGGER_FIFO },
	{ NULL, 0, NULL, 0 },
};

static void __attribute__((noreturn)) bad_arg(const char *what,
					       const char *val)
{
	fprintf(stderr, "vmgend: invalid %s: '%s'\n", what, val);
	exit(EXIT_USAGE);
}

static void parse_args(int argc, char **argv)
{
	unsigned long v;
	int c;

	while ((c = getopt_long(argc, argv, "fs:d:t:vhV", longopts, NULL)) !=
	       -1) {
		switch (c) {
		case 'f':
			opt.foreground = 1;
			break;
		case OPT_SYSLOG:
			opt.use_syslog = 1;
			break;
		case 's':
			if (!valid_source_name(optarg))
				bad_arg("--source (auto, vmclock, vmgenid or "
					"poll)", optarg);
			opt.source = optarg;
			break;
		case OPT_POLL_INTERVAL:
			if (parse_seconds(optarg, &opt.poll_interval_ns) < 0 ||
			    opt.poll_interval_ns < NSEC_PER_MSEC)
				bad_arg("--poll-interval", optarg);
			break;
		case OPT_POLL_INTERVAL_MS:
			if (parse_uint(optarg, 86400000, &v) < 0 || !v)
				bad_arg("--poll-interval-ms", optarg);
			opt.poll_interval_ns = (int64_t)v * NSEC_PER_MSEC;
			break;
		case OPT_SETTLE_MS:
			if (parse_uint(optarg, 60000, &v) < 0)
				bad_arg("--settle-ms", optarg);
			opt.settle_ns = (int64_t)v * NSEC_PER_MSEC;
			break;
		case 'd':
			if (opt.ndirs >= HOOK_DIRS_MAX) {
				fprintf(stderr, "vmgend: at most %d "
					"--hooks-dir\n", HOOK_DIRS_MAX);
				exit(EXIT_USAGE);
			}
			if (strlen(optarg) >= sizeof(hooks.dirs[0].path) ||
			    optarg[0] != '/')
				bad_arg("--hooks-dir (an absolute path)",
					optarg);
			opt.dirs[opt.ndirs++] = optarg;
			break;
		case 't':
			if (parse_seconds(optarg, &opt.hook_timeout_ns) < 0 ||
			    opt.hook_timeout_ns <= 0)
				bad_arg("--hook-timeout", optarg);
			break;
		case OPT_HOOK_GRACE:
			if (parse_seconds(optarg, &opt.hook_grace_ns) < 0)
				bad_arg("--hook-grace", optarg);
			break;
		case OPT_HOOK_OWNER:
			if (parse_uint(optarg, 0xfffffffeUL, &v) < 0)
				bad_arg("--hook-owner", optarg);
			opt.hook_owner = (long)v;
			break;
		case OPT_STATE_DIR:
			if (strlen(optarg) > 300)
				bad_arg("--state-dir", optarg);
			opt.state_dir = optarg;
			break;
		case OPT_MLOCK:
			opt.mlock = 1;
			break;
		case OPT_PIDFILE:
			if (optarg[0] != '/')
				bad_arg("--pidfile (an absolute path)", optarg);
			opt.pidfile = optarg;
			break;
		case 'v':
			opt.verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(EXIT_OK);
		case 'V':
			printf("vmgend %s\n", VMGEN_VERSION);
			exit(EXIT_OK);
		case OPT_VMCLOCK_DEV:
			opt.popts.vmclock_dev = optarg;
			break;
		case OPT_VMGENID_DEV:
			opt.popts.vmgenid_dev = optarg;
			break;
		case OPT_SYSFS_ROOT:
			opt.popts.sysfs_root = optarg;
			break;
		case OPT_TRIGGER_FIFO:
			opt.trigger_fifo = optarg;
			break;
		default:
			usage(stderr);
			exit(EXIT_USAGE);
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vmgend: unexpected argument '%s'\n",
			argv[optind]);
		exit(EXIT_USAGE);
	}
	if (!opt.ndirs) {
		opt.dirs[opt.ndirs++] = ETC_HOOKS_DIR;
		opt.dirs[opt.ndirs++] = LIB_HOOKS_DIR;
	}
}

static int setup_signals(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_IGN;
	sigaction(SIGPIPE, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGCHLD);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
}

int main(int argc, char **argv)
{
	const char *path = getenv("PATH");
	struct stat st;
	char owners[64];
	int sfd, tfd = -1, i;

	parse_args(argc, argv);
	log_init("vmgend", opt.verbose);
	umask(022);
	if (hook_env_set_path(&henv, path) < 0 && path && *path)
		log_warn("PATH unusable for hooks (control characters, or "
			 "too long): hooks get %s", henv.path);

	sfd = setup_signals();
	if (sfd < 0) {
		log_err("signalfd: %s", strerror(errno));
		return EXIT_FAIL;
	}
	if (opt.trigger_fifo) {
		/* O_RDWR: never sees EOF when a writer goes away */
		tfd = open(opt.trigger_fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
		if (tfd < 0 || fstat(tfd, &st) < 0 || !S_ISFIFO(st.st_mode)) {
			log_err("--trigger-fifo %s: %s", opt.trigger_fifo,
				tfd < 0 ? strerror(errno) : "not a FIFO");
			return EXIT_USAGE;
		}
		opt.popts.fake_notify = 1;
	}

	platform_probe(&pf, &opt.popts);
	if (select_source(&pf, opt.source, &sel) < 0) {
		log_err("%s", sel.why);
		return EXIT_NOSOURCE;
	}

	if (mkdir_p(opt.state_dir, 0755) < 0) {
		log_err("cannot create %s: %s", opt.state_dir, strerror(errno));
		return EXIT_FAIL;
	}
	hook_policy_init(&policy, opt.hook_owner);

	if (!opt.foreground)
		daemonize();
	if (!opt.foreground || opt.use_syslog)
		log_to_syslog();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		log_warn("cannot become a child subreaper: %s; orphans of "
			 "timed-out hooks go to init", strerror(errno));

#ifdef SPAWN_HOOKS
	if (spawn_setup() < 0) {
		log_err("setting up posix_spawn: %s", strerror(errno));
		die(EXIT_FAIL);
	}
#endif
	open_notify_attrs();
	log_info("source %s: %s", sel.name, sel.why);
	hook_policy_describe(&policy, owners, sizeof(owners));
	log_debug("hooks must be owned by %s", owners);
	scan_hooks("startup");
	if (read_text("/proc/sys/kernel/random/boot_id", boot_id,
		      sizeof(boot_id)) < 0)
		boot_id[0] = '\0';
	startup_state();

	hr.fd = -1;
	memset(pfds, 0, sizeof(pfds));
	for (i = 0; i < P_N; i++)
		pfds[i].fd = -1;
	pfds[P_SIG].fd = sfd;
	pfds[P_SIG].events = POLLIN;
	arm_sources();
	/* to see a vmgen device appear (or come back) */
	pfds[P_UEVENT].fd = open_uevents();
	pfds[P_UEVENT].events = POLLIN;
	pfds[P_TRIGGER].fd = tfd;
	pfds[P_TRIGGER].events = POLLIN;

	gen_prepare();
	prefault();
	/*
	 * What is mapped now, locked and populated; later mappings locked as
	 * they fault in. MCL_FUTURE alone would make every posix_spawn()
	 * (a fresh stack for the child, per hook) populate that stack from
	 * vmgend on its wake path: 9 minor faults per hook. MCL_ONFAULT:
	 * Linux 4.4.
	 */
	if (opt.mlock && (mlockall(MCL_CURRENT) < 0 ||
			  (mlockall(MCL_FUTURE | MCL_ONFAULT) < 0 &&
			   mlockall(MCL_CURRENT | MCL_FUTURE) < 0)))
		log_warn("mlockall: %s", strerror(errno));

	if (opt.pidfile) {
		char pid[32];
		char *slash = strrchr(opt.pidfile, '/');
		char dir[512];

		fmt_str(pid, sizeof(pid), "%d\n", (int)getpid());
		fmt_str(dir, sizeof(dir), "%.*s", (int)(slash - opt.pidfile),
			opt.pidfile);
		if (write_atomic(dir[0] ? dir : "/", slash + 1, pid,
				 strlen(pid)) < 0)
			log_warn("cannot write %s: %s", opt.pidfile,
				 strerror(errno));
	}
	log_info("ready (pass %llu so far, state in %s)",
		 (unsigned long long)pass_no, opt.state_dir);
	report_ready(EXIT_OK);
	{
		char msg[128];

		fmt_str(msg, sizeof(msg), "READY=1\nSTATUS=source %s",
			sel.name);
		notify_systemd(msg);
	}

	main_loop();

	gen_cleanup();
	notify_systemd("STOPPING=1");
	if (opt.pidfile)
		unlink(opt.pidfile);
	platform_close(&pf);
	log_info("exiting");
	return EXIT_OK;
}
