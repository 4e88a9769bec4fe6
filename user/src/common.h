/* SPDX-License-Identifier: GPL-2.0 */
/* Shared by vmgend and vmgenctl: logging, files, state, devices, hooks. */
#ifndef VMGEN_COMMON_H
#define VMGEN_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <syslog.h>
#include <time.h>

#include "vmgen/libvmgen.h"

#ifndef VMGEN_VERSION		/* set by the Makefile from ../VERSION */
#define VMGEN_VERSION		"unknown"
#endif

#define DEFAULT_STATE_DIR	"/run/vmgen"
#define DEFAULT_SYSFS_ROOT	"/sys"
#define ETC_HOOKS_DIR		"/etc/vmgen/hooks.d"
#define LIB_HOOKS_DIR		"/usr/lib/vmgen/hooks.d"
#define DEFAULT_PATH_ENV \
	"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#define NSEC_PER_SEC		1000000000LL
#define NSEC_PER_MSEC		1000000LL

#define ARRAY_SIZE(a)		(sizeof(a) / sizeof((a)[0]))
#define PRINTF(f, a)		__attribute__((format(printf, f, a)))

/* ---- log.c ---- */
void log_init(const char *ident, int verbose);
/* Send everything to syslog (/dev/log) from now on; falls back to
 * /dev/kmsg, then stderr, when no syslog daemon listens. */
void log_to_syslog(void);
void logmsg(int prio, const char *fmt, ...) PRINTF(2, 3);
#define log_err(...)	logmsg(LOG_ERR, __VA_ARGS__)
#define log_warn(...)	logmsg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)	logmsg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)	logmsg(LOG_DEBUG, __VA_ARGS__)

/* ---- util.c ---- */
int64_t now_ns(void);			/* CLOCK_MONOTONIC */
/* Copy with truncation check: 0, or -1 if src did not fit. */
int copy_str(char *dst, size_t size, const char *src);
int fmt_str(char *dst, size_t size, const char *fmt, ...) PRINTF(3, 4);
/* Read a small text file, trailing newlines stripped; length or -1. */
ssize_t read_text(const char *path, char *buf, size_t size);
int read_u64_file(const char *path, uint64_t *v);
/* A decimal u64, digits only (no sign, no space), no overflow: 0 or -1. */
int parse_u64(const char *s, uint64_t *v);
/* The same for the n bytes at s, which need no NUL. */
int parse_u64_n(const char *s, size_t n, uint64_t *v);
/* "1", "0.5", "30": seconds to ns; -1 on junk or out of range. */
int parse_seconds(const char *s, int64_t *ns);
int parse_uint(const char *s, unsigned long max, unsigned long *v);
/* write dir/.name.tmp, fsync, rename to dir/name; mode 0644. */
int write_atomic(const char *dir, const char *name, const char *data,
		 size_t len);
/* write_atomic(), or when the file system is full (ENOSPC, EDQUOT) the
 * existing file rewritten in place: 0, 1 (in place, errno says why) or -1. */
int write_state(const char *dir, const char *name, const char *data,
		size_t len);
int mkdir_p(const char *dir, mode_t mode);
/* sd_notify(3)'s datagram protocol, for $NOTIFY_SOCKET; 0 if unset. */
int notify_systemd(const char *msg);
/* basename of a symlink's target ("" on failure). */
int link_basename(const char *link, char *out, size_t size);
int path_exists(const char *path);

/* ---- state.c: the counters a pass compares ---- */
#define CNT_VMCLOCK_GEN	(1u << 0)	/* vm_generation_counter */
#define CNT_MARKER	(1u << 1)	/* disruption_marker */
#define CNT_VMGENID	(1u << 2)	/* vmgenid generation */
#define CNT_GEN_FLAG	(1u << 3)	/* page has VM_GEN_COUNTER_PRESENT */

struct counters {
	unsigned int have;
	uint64_t vmclock_gen;
	uint64_t marker;
	uint64_t vmgenid_gen;
};

/* "restore", "migration", "unknown", or NULL when nothing changed. */
const char *counters_event(const struct counters *old,
			   const struct counters *cur);
/* Fill what old lacks from cur (a counter that appeared since). */
void counters_adopt_new(struct counters *old, const struct counters *cur);
int counters_format(char *buf, size_t size, const struct counters *c,
		    uint64_t pass);
/*
 * What counters_format() writes: key=value lines, parsed from exactly len
 * bytes of buf (no NUL needed, buf is not written).  Lines without '=' are
 * skipped, unknown keys ignored, a repeated key's last value wins; a known
 * or unknown key whose value is not a decimal u64 is an error.  0, or -1
 * with errno EINVAL and *c, *pass zeroed.  c->have gets only
 * CNT_VMCLOCK_GEN, CNT_MARKER and CNT_VMGENID; *pass is 0 if absent.
 */
int counters_parse(const char *buf, size_t len, struct counters *c,
		   uint64_t *pass);
/* counters_parse() of a file (at most 1023 bytes of it, trailing newlines
 * dropped): 0, or -1 with errno (ENOENT: no such file; EINVAL: unparsable). */
int counters_load(const char *path, struct counters *c, uint64_t *pass);

/* ---- platform.c: devices and source selection ---- */
struct vmclock_dev {
	int present;
	int is_file;			/* a regular file: a test page */
	int ext;			/* vmgen_vmclock's sysfs attributes */
	int readable;
	int notifies;
	int open_errno, read_errno;
	char path[256];
	char name[64];			/* vmclock0 */
	char sysdir[384];
	char driver[64];		/* sysfs driver link name */
	char notify_mode[16];
	char notify_why[256];
	struct vmgen_vmclock *h;
	struct vmgen_vmclock_counters c;
};

struct vmgenid_dev {
	int present;
	int is_file;
	int ext;			/* sysfs directory of vmgen_vmgenid */
	int readable;
	int notifies;
	int open_errno, read_errno;
	char path[256];
	char sysdir[384];
	char mode[16];
	char rng_reseed[16];
	char kernel_driver[384];	/* the kernel's own vmgenid driver */
	char notify_why[256];
	struct vmgen_vmgenid *h;
	uint64_t gen;
};

struct platform_opts {
	const char *vmclock_dev;	/* NULL: find /dev/vmclock*; "none" */
	const char *vmgenid_dev;	/* NULL: /dev/vmgenid; "none" */
	const char *sysfs_root;		/* NULL: /sys */
	int fake_notify;		/* test pages notify via a trigger */
};

struct platform {
	char sysfs_root[256];
	struct vmclock_dev vc;
	struct vmgenid_dev vg;
};

void platform_probe(struct platform *pf, const struct platform_opts *o);
void platform_close(struct platform *pf);

struct selection {
	int use_vmclock;		/* read the VMClock page */
	int use_vmgenid;		/* read the VMGenID generation */
	int wake_vmclock;		/* VMClock notifications wake us */
	int wake_vmgenid;
	int timed;			/* read every poll interval */
	const char *name;		/* VMGEN_SOURCE, NULL if none */
	char why[640];
};

/* requested: auto|vmclock|vmgenid|poll.  0, or -1 (sel->why says why). */
int select_source(const struct platform *pf, const char *requested,
		  struct selection *sel);
int valid_source_name(const char *s);
/* Read the counters sel uses; -1 with errno if a device read failed. */
int platform_read(struct platform *pf, const struct selection *sel,
		  struct counters *c);
/* last_notify_ns of a vmgen module's sysfs, 0 if none. */
uint64_t platform_notify_ns(const struct platform *pf, int vmclock);

/* ---- hookenv.c: what a hook's environment holds ---- */
struct hook_env {
	char path[1024];		/* "PATH=..." */
	char store[16][96];
	char *envp[18];			/* path, store entries, NULL */
};

struct hook_env_args {
	const char *event;		/* restore | migration | unknown */
	const char *source;		/* VMGEN_SOURCE */
	const struct counters *old, *cur;
	int64_t notify_ns;
	uint64_t pass;
};

/* PATH for hooks: path, or the default when it is unset, empty, has
 * control characters or does not fit (then -1). */
int hook_env_set_path(struct hook_env *e, const char *path);
/* Entries in e->envp (NULL-terminated), or -1 when a value has control
 * characters or does not fit: the hooks must not run with it. */
int hook_env_build(struct hook_env *e, const struct hook_env_args *a);

/* ---- hooks.c ---- */
#define HOOKS_MAX	128
#define HOOK_DIRS_MAX	8

enum hook_state {
	HOOK_ELIGIBLE,
	HOOK_REFUSED,
	HOOK_IGNORED,
	HOOK_OVERRIDDEN,
	HOOK_MASKED,
};

struct hook {
	char name[128];
	char path[512];
	int dir;
	int state;
	char why[224];
};

struct hook_dir {
	char path[256];
	int exists;
	int trusted;
	char why[224];
	dev_t dev;
	ino_t ino;
	struct timespec mtim, ctim;
};

struct hook_policy {
	uid_t owners[2];
	int nowners;
};

struct hookset {
	int ndirs;
	int n;			/* entries in hooks[] */
	int dropped;		/* entries beyond HOOKS_MAX */
	struct hook_dir dirs[HOOK_DIRS_MAX];
	struct hook hooks[HOOKS_MAX];
	int order[HOOKS_MAX];	/* indices in C-locale name order */
};

/* hook_owner < 0: root, plus our euid when not root. */
void hook_policy_init(struct hook_policy *p, long hook_owner);
void hook_policy_describe(const struct hook_policy *p, char *buf, size_t n);
void hooks_scan(struct hookset *hs, const char *const *dirs, int ndirs,
		const struct hook_policy *pol);
/* 1 if a directory appeared, vanished or changed since the scan. */
int hooks_dirs_changed(const struct hookset *hs);
/* HOOK_ELIGIBLE, HOOK_REFUSED or HOOK_MASKED; why says why not. */
int hook_check(const char *path, const struct hook_policy *pol, char *why,
	       size_t n);
const char *hook_state_name(int state);

#endif
