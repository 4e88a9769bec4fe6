// SPDX-License-Identifier: GPL-2.0
/*
 * vmgenctl: what vmgen sees on this machine (status), wait for the next
 * generation change (wait), what a pass would run (run-hooks --dry-run),
 * and load the right modules for this kernel (load).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifdef HAVE_LIBKMOD
#include <libkmod.h>
#endif

#include <vmgen/vmclock-abi.h>

#include "common.h"

enum {
	EX_OK = 0,		/* done; wait: the generation changed */
	EX_TIMEOUT = 1,		/* wait: no change before --timeout */
	EX_USAGE = 2,
	EX_NOSOURCE = 3,	/* wait: nothing to wait on */
	EX_FAIL = 4,		/* an operation failed (load, I/O) */
	EX_UNSUPPORTED = 5,	/* load: built without libkmod */
};

static struct {
	int json;
	int dry_run;
	int have_timeout;
	int64_t timeout_ns;
	int64_t poll_interval_ns;
	const char *source;
	const char *state_dir;
	const char *dirs[HOOK_DIRS_MAX];
	int ndirs;
	long hook_owner;
	int64_t hook_timeout_ns;
	struct platform_opts popts;
} opt = {
	.poll_interval_ns = NSEC_PER_SEC,
	.source = "auto",
	.state_dir = DEFAULT_STATE_DIR,
	.hook_owner = -1,
	.hook_timeout_ns = 30 * NSEC_PER_SEC,
};

static struct platform pf;
static struct hookset hooks;

/* ---- kernel modules ---- */

struct modinfo {
	const char *name;
	int found;		/* 1 yes, 0 no, -1 unknown */
	int notify_aliases;	/* ptp_vmclock: 7.0 aliases; -1 unknown */
	int blacklisted;	/* 1 yes, 0 no, -1 unknown */
	char state[24];		/* builtin, live, coming, going, not loaded */
};

#ifdef HAVE_LIBKMOD
static struct kmod_ctx *kctx;

static struct kmod_ctx *kmod_ctx_get(void)
{
	if (!kctx) {
		kctx = kmod_new(NULL, NULL);
		if (kctx)
			kmod_load_resources(kctx);
	}
	return kctx;
}

static void mod_query(const char *name, struct modinfo *mi)
{
	struct kmod_ctx *ctx = kmod_ctx_get();
	struct kmod_module *mod = NULL;
	struct kmod_list *info = NULL, *l, *one = NULL, *kept = NULL;
	int st;

	memset(mi, 0, sizeof(*mi));
	mi->name = name;
	mi->found = -1;
	mi->notify_aliases = -1;
	mi->blacklisted = -1;
	copy_str(mi->state, sizeof(mi->state), "unknown");
	if (!ctx || kmod_module_new_from_name(ctx, name, &mod) < 0)
		return;
	st = kmod_module_get_initstate(mod);
	switch (st) {
	case KMOD_MODULE_BUILTIN:
		copy_str(mi->state, sizeof(mi->state), "builtin");
		break;
	case KMOD_MODULE_LIVE:
		copy_str(mi->state, sizeof(mi->state), "live");
		break;
	case KMOD_MODULE_COMING:
		copy_str(mi->state, sizeof(mi->state), "coming");
		break;
	case KMOD_MODULE_GOING:
		copy_str(mi->state, sizeof(mi->state), "going");
		break;
	default:
		copy_str(mi->state, sizeof(mi->state), "not loaded");
		break;
	}
	mi->found = kmod_module_get_path(mod) != NULL ||
		    st == KMOD_MODULE_BUILTIN || st == KMOD_MODULE_LIVE;
	if (kmod_module_get_info(mod, &info) >= 0) {
		mi->notify_aliases = 0;
		kmod_list_foreach(l, info) {
			const char *k = kmod_module_info_get_key(l);
			const char *v = kmod_module_info_get_value(l);

			if (!k || !v || strcmp(k, "alias") != 0)
				continue;
			/* ACPI _CID VMCLOCK and DT came with notifications */
			if (strstr(v, "VMCLOCK") || strstr(v, "amazon,vmclock"))
				mi->notify_aliases = 1;
		}
		kmod_module_info_free_list(info);
	}
	/* blacklisted: the lookup finds it, the blacklist filter drops it */
	if (kmod_module_new_from_lookup(ctx, name, &one) >= 0 && one &&
	    kmod_module_apply_filter(ctx, KMOD_FILTER_BLACKLIST, one,
				     &kept) >= 0) {
		mi->blacklisted = kept == NULL;
		kmod_module_unref_list(kept);
	}
	kmod_module_unref_list(one);
	kmod_module_unref(mod);
}

static int mod_load(const char *name, char *err, size_t n)
{
	struct kmod_ctx *ctx = kmod_ctx_get();
	struct kmod_module *mod = NULL;
	int r;

	if (!ctx) {
		fmt_str(err, n, "cannot initialise libkmod");
		return -1;
	}
	r = kmod_module_new_from_name(ctx, name, &mod);
	if (r < 0) {
		fmt_str(err, n, "%s", strerror(-r));
		return -1;
	}
	r = kmod_module_probe_insert_module(mod, 0, NULL, NULL, NULL, NULL);
	kmod_module_unref(mod);
	if (r < 0) {
		fmt_str(err, n, "%s", strerror(-r));
		return -1;
	}
	if (r > 0) {
		fmt_str(err, n, "refused by the modprobe configuration");
		return -1;
	}
	return 0;
}

#define HAVE_KMOD 1
#else
/* Built without libkmod (STATIC=1): /sys/module only, and say so. */
static void mod_query(const char *name, struct modinfo *mi)
{
	char p[256], buf[32];

	memset(mi, 0, sizeof(*mi));
	mi->name = name;
	mi->found = -1;
	mi->notify_aliases = -1;
	mi->blacklisted = -1;
	fmt_str(p, sizeof(p), "/sys/module/%s", name);
	if (!path_exists(p)) {
		copy_str(mi->state, sizeof(mi->state), "not loaded");
		return;
	}
	mi->found = 1;
	fmt_str(p, sizeof(p), "/sys/module/%s/initstate", name);
	if (read_text(p, buf, sizeof(buf)) < 0)
		copy_str(mi->state, sizeof(mi->state), "builtin");
	else
		copy_str(mi->state, sizeof(mi->state), buf);
}

static int mod_load(const char *name, char *err, size_t n)
{
	(void)name;
	fmt_str(err, n, "built without libkmod");
	errno = EOPNOTSUPP;
	return -1;
}

#define HAVE_KMOD 0
#endif

static int mod_present(const struct modinfo *mi)
{
	return !strcmp(mi->state, "live") || !strcmp(mi->state, "builtin") ||
	       !strcmp(mi->state, "coming");
}

static const char *const module_names[] = {
	"vmgen_vmclock", "vmgen_vmgenid", "ptp_vmclock", "vmgenid",
};

/* ---- JSON ---- */

static int jdepth;
static int jcount[8];

static void jindent(void)
{
	int i;

	putchar('\n');
	for (i = 0; i < jdepth; i++)
		fputs("  ", stdout);
}

static void jstring(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static void jkey(const char *k)
{
	if (jcount[jdepth]++)
		putchar(',');
	jindent();
	if (k) {
		jstring(k);
		fputs(": ", stdout);
	}
}

static void jopen(const char *k)
{
	if (jdepth == 0 && !k) {
		putchar('{');
	} else {
		jkey(k);
		putchar('{');
	}
	jdepth++;
	jcount[jdepth] = 0;
}

static void jclose(void)
{
	jdepth--;
	jindent();
	putchar('}');
	if (!jdepth)
		putchar('\n');
}

static void jstr(const char *k, const char *v)
{
	jkey(k);
	if (v)
		jstring(v);
	else
		fputs("null", stdout);
}

static void jnum(const char *k, uint64_t v)
{
	jkey(k);
	printf("%llu", (unsigned long long)v);
}

static void jbool(const char *k, int v)
{
	jkey(k);
	fputs(v ? "true" : "false", stdout);
}

static void jnull(const char *k)
{
	jkey(k);
	fputs("null", stdout);
}

/* ---- status ---- */

static const char *vmclock_provider(const struct vmclock_dev *d)
{
	if (d->is_file)
		return "test-file";
	if (!strcmp(d->driver, "vmgen_vmclock"))
		return "vmgen";
	if (!strcmp(d->driver, "ptp_vmclock"))
		return "kernel";
	return d->driver[0] ? "other" : "unknown";
}

static const char *errstr(int e)
{
	return e ? strerror(e) : NULL;
}

struct daemon_state {
	int have_gen, have_last;
	struct counters gen;
	uint64_t pass;
	char event[16], status[16], time[40];
};

static void read_daemon_state(struct daemon_state *ds)
{
	char path[512], buf[4096], *line, *next;

	memset(ds, 0, sizeof(*ds));
	fmt_str(path, sizeof(path), "%s/generation", opt.state_dir);
	ds->have_gen = counters_load(path, &ds->gen, &ds->pass) == 0;
	fmt_str(path, sizeof(path), "%s/last-pass", opt.state_dir);
	if (read_text(path, buf, sizeof(buf)) < 0)
		return;
	ds->have_last = 1;
	for (line = buf; line && *line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (!strncmp(line, "event=", 6))
			copy_str(ds->event, sizeof(ds->event), line + 6);
		else if (!strncmp(line, "status=", 7))
			copy_str(ds->status, sizeof(ds->status), line + 7);
		else if (!strncmp(line, "time=", 5))
			copy_str(ds->time, sizeof(ds->time), line + 5);
	}
}

static void status_json(const struct selection *sel, int sel_ok,
			const struct modinfo *mods, size_t nmods,
			const struct daemon_state *ds)
{
	const struct vmclock_dev *vc = &pf.vc;
	const struct vmgenid_dev *vg = &pf.vg;
	size_t i;
	uint64_t ns;

	jopen(NULL);
	jstr("version", VMGEN_VERSION);

	jopen("vmclock");
	jbool("present", vc->present);
	jstr("device", vc->present ? vc->path : NULL);
	jstr("sysfs", vc->present && !vc->is_file ? vc->sysdir : NULL);
	jstr("driver", vc->driver[0] ? vc->driver : NULL);
	jstr("provider", vc->present ? vmclock_provider(vc) : NULL);
	jbool("vmgen_extensions", vc->ext);
	jbool("notifies", vc->notifies);
	jstr("notify_reason", vc->notify_why);
	jstr("notify_mode", vc->notify_mode[0] ? vc->notify_mode : NULL);
	jbool("readable", vc->readable);
	jstr("error", vc->present ? errstr(vc->open_errno ? vc->open_errno :
					     vc->read_errno) : NULL);
	if (vc->readable) {
		jbool("generation_present",
		      !!(vc->c.have & VMGEN_HAVE_GENERATION));
		if (vc->c.have & VMGEN_HAVE_GENERATION)
			jnum("generation", vc->c.generation);
		else
			jnull("generation");
		jnum("disruption_marker", vc->c.disruption_marker);
		jnum("flags", vc->c.flags);
		jnum("seq_count", vc->c.seq_count);
	} else {
		jnull("generation_present");
		jnull("generation");
		jnull("disruption_marker");
		jnull("flags");
		jnull("seq_count");
	}
	ns = platform_notify_ns(&pf, 1);
	if (ns)
		jnum("last_notify_ns", ns);
	else
		jnull("last_notify_ns");
	jclose();

	jopen("vmgenid");
	jbool("present", vg->present);
	jstr("device", vg->present ? vg->path : NULL);
	jstr("sysfs", vg->ext ? vg->sysdir : NULL);
	jstr("driver", vg->present && !vg->is_file ? "vmgen_vmgenid" : NULL);
	jstr("mode", vg->mode[0] ? vg->mode : NULL);
	jstr("rng_reseed", vg->rng_reseed[0] ? vg->rng_reseed : NULL);
	jbool("notifies", vg->notifies);
	jstr("notify_reason", vg->notify_why);
	jbool("readable", vg->readable);
	jstr("error", vg->present ? errstr(vg->open_errno ? vg->open_errno :
					     vg->read_errno) : NULL);
	if (vg->readable)
		jnum("generation", vg->gen);
	else
		jnull("generation");
	ns = platform_notify_ns(&pf, 0);
	if (ns)
		jnum("last_notify_ns", ns);
	else
		jnull("last_notify_ns");
	jbool("kernel_driver", vg->kernel_driver[0] != '\0');
	jstr("kernel_driver_path",
	     vg->kernel_driver[0] ? vg->kernel_driver : NULL);
	jclose();

	jopen("modules");
	jbool("libkmod", HAVE_KMOD);
	for (i = 0; i < nmods; i++) {
		jopen(mods[i].name);
		jstr("state", mods[i].state);
		if (mods[i].found >= 0)
			jbool("available", mods[i].found);
		else
			jnull("available");
		jclose();
	}
	jclose();

	jopen("auto");
	jstr("source", sel_ok ? sel->name : NULL);
	jstr("reason", sel->why);
	jclose();

	jopen("daemon");
	jstr("state_dir", opt.state_dir);
	if (ds->have_gen)
		jnum("pass", ds->pass);
	else
		jnull("pass");
	jstr("last_event", ds->event[0] ? ds->event : NULL);
	jstr("last_status", ds->status[0] ? ds->status : NULL);
	jstr("last_time", ds->time[0] ? ds->time : NULL);
	jclose();
	jclose();
}

static void status_text(const struct selection *sel, int sel_ok,
			const struct modinfo *mods, size_t nmods,
			const struct daemon_state *ds)
{
	const struct vmclock_dev *vc = &pf.vc;
	const struct vmgenid_dev *vg = &pf.vg;
	size_t i;

	if (!vc->present) {
		printf("vmclock:  none (%s)\n", vc->notify_why);
	} else {
		printf("vmclock:  %s, driver %s (%s)\n", vc->path,
		       vc->driver[0] ? vc->driver : "unknown",
		       vmclock_provider(vc));
		printf("          notifies: %s (%s)\n",
		       vc->notifies ? "yes" : "no", vc->notify_why);
		if (vc->readable) {
			if (vc->c.have & VMGEN_HAVE_GENERATION)
				printf("          generation %llu",
				       (unsigned long long)vc->c.generation);
			else
				printf("          generation: not maintained");
			printf(", disruption marker %llu, flags 0x%llx, "
			       "seq %u\n",
			       (unsigned long long)vc->c.disruption_marker,
			       (unsigned long long)vc->c.flags,
			       vc->c.seq_count);
		} else {
			printf("          cannot read: %s\n",
			       strerror(vc->open_errno ? vc->open_errno :
					vc->read_errno));
		}
	}
	if (!vg->present) {
		printf("vmgenid:  none (%s)\n", vg->notify_why);
	} else {
		if (vg->is_file)
			printf("vmgenid:  %s (test-file)\n", vg->path);
		else
			printf("vmgenid:  %s, driver vmgen_vmgenid, mode %s, "
			       "rng_reseed %s\n", vg->path,
			       vg->mode[0] ? vg->mode : "?",
			       vg->rng_reseed[0] ? vg->rng_reseed : "?");
		printf("          notifies: %s (%s)\n",
		       vg->notifies ? "yes" : "no", vg->notify_why);
		if (vg->readable)
			printf("          generation %llu\n",
			       (unsigned long long)vg->gen);
	}
	printf("          kernel vmgenid driver: %s\n",
	       vg->kernel_driver[0] ? vg->kernel_driver : "none");
	printf("modules: ");
	for (i = 0; i < nmods; i++)
		printf(" %s %s%s", mods[i].name, mods[i].state,
		       i + 1 < nmods ? "," : "\n");
	if (!HAVE_KMOD)
		printf("          (built without libkmod: states from "
		       "/sys/module only)\n");
	printf("auto:     %s: %s\n", sel_ok ? sel->name : "none", sel->why);
	if (ds->have_gen && ds->have_last)
		printf("vmgend:   pass %llu, the last one %s, %s, at %s (state "
		       "in %s)\n", (unsigned long long)ds->pass,
		       ds->event[0] ? ds->event : "?",
		       ds->status[0] ? ds->status : "?",
		       ds->time[0] ? ds->time : "?", opt.state_dir);
	else if (ds->have_gen)
		printf("vmgend:   no pass yet (state in %s)\n", opt.state_dir);
	else
		printf("vmgend:   no state in %s\n", opt.state_dir);
}

static int cmd_status(void)
{
	struct modinfo mods[ARRAY_SIZE(module_names)];
	struct daemon_state ds;
	struct selection sel;
	int sel_ok;
	size_t i;

	platform_probe(&pf, &opt.popts);
	sel_ok = select_source(&pf, "auto", &sel) == 0;
	for (i = 0; i < ARRAY_SIZE(module_names); i++)
		mod_query(module_names[i], &mods[i]);
	read_daemon_state(&ds);
	if (opt.json)
		status_json(&sel, sel_ok, mods, ARRAY_SIZE(mods), &ds);
	else
		status_text(&sel, sel_ok, mods, ARRAY_SIZE(mods), &ds);
	platform_close(&pf);
	return fflush(stdout) == 0 ? EX_OK : EX_FAIL;
}

/* ---- wait ---- */

static void print_counters(const char *event, const struct counters *c)
{
	printf("%s", event);
	if (c->have & CNT_VMCLOCK_GEN)
		printf(" vmclock_generation=%llu",
		       (unsigned long long)c->vmclock_gen);
	if (c->have & CNT_MARKER)
		printf(" disruption_marker=%llu",
		       (unsigned long long)c->marker);
	if (c->have & CNT_VMGENID)
		printf(" vmgenid_generation=%llu",
		       (unsigned long long)c->vmgenid_gen);
	printf("\n");
}

static int cmd_wait(void)
{
	struct selection sel;
	struct counters base, cur;
	struct pollfd p[2];
	int64_t deadline = -1, next_tick = -1;
	const char *event;

	platform_probe(&pf, &opt.popts);
	if (select_source(&pf, opt.source, &sel) < 0) {
		fprintf(stderr, "vmgenctl: wait: %s\n", sel.why);
		return EX_NOSOURCE;
	}
	if (platform_read(&pf, &sel, &base) < 0) {
		fprintf(stderr, "vmgenctl: wait: cannot read the counters: %s\n",
			strerror(errno));
		return EX_FAIL;
	}
	p[0].fd = sel.wake_vmclock && !pf.vc.is_file ?
		  vmgen_vmclock_fd(pf.vc.h) : -1;
	p[1].fd = sel.wake_vmgenid && !pf.vg.is_file ?
		  vmgen_vmgenid_fd(pf.vg.h) : -1;
	p[0].events = p[1].events = POLLIN;
	if (opt.have_timeout)
		deadline = now_ns() + opt.timeout_ns;
	for (;;) {
		int64_t now = now_ns(), until = deadline;
		int timeout = -1;

		if (sel.timed) {
			if (next_tick < 0)
				next_tick = now + opt.poll_interval_ns;
			if (until < 0 || next_tick < until)
				until = next_tick;
		}
		if (until >= 0)
			timeout = until <= now ? 0 :
				  (int)((until - now + NSEC_PER_MSEC - 1) /
					NSEC_PER_MSEC);
		p[0].revents = p[1].revents = 0;
		if (poll(p, 2, timeout) < 0 && errno != EINTR) {
			fprintf(stderr, "vmgenctl: wait: poll: %s\n",
				strerror(errno));
			return EX_FAIL;
		}
		if ((p[0].revents | p[1].revents) & (POLLHUP | POLLERR)) {
			fprintf(stderr, "vmgenctl: wait: a device stopped "
				"notifying\n");
			return EX_FAIL;
		}
		if (p[0].revents & POLLIN)
			vmgen_vmclock_rearm(pf.vc.h);
		if (p[1].revents & POLLIN) {
			uint64_t g;

			vmgen_vmgenid_read(pf.vg.h, &g);
		}
		if (sel.timed && now_ns() >= next_tick)
			next_tick = now_ns() + opt.poll_interval_ns;
		if (platform_read(&pf, &sel, &cur) == 0) {
			event = counters_event(&base, &cur);
			if (event) {
				print_counters(event, &cur);
				fflush(stdout);
				return EX_OK;
			}
		}
		if (deadline >= 0 && now_ns() >= deadline) {
			fprintf(stderr, "vmgenctl: wait: no change within the "
				"timeout\n");
			return EX_TIMEOUT;
		}
	}
}

/* ---- run-hooks --dry-run ---- */

static int cmd_run_hooks(void)
{
	struct hook_policy pol;
	char owners[64], tbuf[32];
	int i, run = 0;

	if (!opt.dry_run) {
		fprintf(stderr, "vmgenctl: run-hooks: only --dry-run is "
			"supported; passes are run by vmgend (see "
			"vmgen-hooks(7))\n");
		return EX_USAGE;
	}
	if (!opt.ndirs) {
		opt.dirs[opt.ndirs++] = ETC_HOOKS_DIR;
		opt.dirs[opt.ndirs++] = LIB_HOOKS_DIR;
	}
	hook_policy_init(&pol, opt.hook_owner);
	hook_policy_describe(&pol, owners, sizeof(owners));
	hooks_scan(&hooks, opt.dirs, opt.ndirs, &pol);
	printf("hooks must be owned by %s, not group- or world-writable, "
	       "executable, not setuid\n", owners);
	for (i = 0; i < hooks.ndirs; i++) {
		const struct hook_dir *d = &hooks.dirs[i];

		printf("directory %s: %s%s%s\n", d->path,
		       !d->exists ? "not present (" :
		       d->trusted ? "trusted" : "refused: ",
		       d->trusted ? "" : d->why, !d->exists ? ")" : "");
	}
	for (i = 0; i < hooks.n; i++) {
		const struct hook *h = &hooks.hooks[hooks.order[i]];

		printf("%-10s %s: %s\n", hook_state_name(h->state), h->path,
		       h->why);
		run += h->state == HOOK_ELIGIBLE;
	}
	if (hooks.dropped)
		printf("ignored    %d more entries: at most %d are handled\n",
		       hooks.dropped, HOOKS_MAX);
	if (opt.hook_timeout_ns % NSEC_PER_SEC)
		fmt_str(tbuf, sizeof(tbuf), "%.3f s",
			(double)opt.hook_timeout_ns / NSEC_PER_SEC);
	else
		fmt_str(tbuf, sizeof(tbuf), "%lld s",
			(long long)(opt.hook_timeout_ns / NSEC_PER_SEC));
	printf("a pass would run %d hook%s, in the order above, one at a "
	       "time, each with a timeout of %s\n", run, run == 1 ? "" : "s",
	       tbuf);
	return EX_OK;
}

/* ---- load ---- */

/* A device whose ACPI or DT modalias matches one of needles. */
static int find_hardware(const char *const *needles, char *found, size_t n)
{
	static const char *const buses[] = {
		"bus/acpi/devices", "bus/platform/devices",
	};
	size_t b, k;

	for (b = 0; b < ARRAY_SIZE(buses); b++) {
		char dir[512];
		struct dirent *de;
		DIR *d;

		if (fmt_str(dir, sizeof(dir), "%s/%s", pf.sysfs_root,
			    buses[b]) < 0)
			continue;
		d = opendir(dir);
		if (!d)
			continue;
		while ((de = readdir(d))) {
			char p[800], alias[256];

			if (de->d_name[0] == '.' ||
			    fmt_str(p, sizeof(p), "%s/%s/modalias", dir,
				    de->d_name) < 0 ||
			    read_text(p, alias, sizeof(alias)) < 0)
				continue;
			for (k = 0; needles[k]; k++) {
				if (!strcasestr(alias, needles[k]))
					continue;
				fmt_str(found, n, "%s (%s)", de->d_name, alias);
				closedir(d);
				return 1;
			}
		}
		closedir(d);
	}
	return 0;
}

struct plan {
	const char *module;
	int load;
	char why[400];
};

static int cmd_load(void)
{
	static const char *const vmclock_ids[] = {
		"AMZNC10C", ":VMCLOCK:", "amazon,vmclock", NULL,
	};
	static const char *const vmgenid_ids[] = {
		"VM_GEN_COUNTER", "VMGENCTR", "QEMUVGID", "FCVMGID",
		"microsoft,vmgenid", NULL,
	};
	struct modinfo ptp, ours, gid;
	struct plan plan[3];
	char hw[320], err[200];
	int np = 0, i, failed = 0, unsupported = 0;

	platform_probe(&pf, &opt.popts);
	mod_query("ptp_vmclock", &ptp);
	mod_query("vmgen_vmclock", &ours);
	mod_query("vmgen_vmgenid", &gid);
	memset(plan, 0, sizeof(plan));

	/* VMClock */
	if (pf.vc.present) {
		struct plan *p = &plan[np++];

		p->module = "vmgen_vmclock";
		if (!strcmp(pf.vc.driver, "vmgen_vmclock"))
			fmt_str(p->why, sizeof(p->why), "already provides %s",
				pf.vc.path);
		else if (pf.vc.notifies)
			fmt_str(p->why, sizeof(p->why),
				"the kernel's own %s already provides %s with "
				"notifications", pf.vc.driver[0] ?
				pf.vc.driver : "driver", pf.vc.path);
		else
			fmt_str(p->why, sizeof(p->why),
				"%s is held by %s, which cannot notify (%s); "
				"vmgen_vmclock cannot take a bound device: "
				"install kmod/modprobe.d/vmgen-vmclock.conf "
				"and reboot, or use vmgend --source poll",
				pf.vc.path, pf.vc.driver[0] ? pf.vc.driver :
				"another driver", pf.vc.notify_why);
	} else if (!find_hardware(vmclock_ids, hw, sizeof(hw))) {
		struct plan *p = &plan[np++];

		p->module = "vmgen_vmclock";
		fmt_str(p->why, sizeof(p->why),
			"no VMClock device here (no ACPI AMZNC10C/VMCLOCK, "
			"no DT amazon,vmclock)");
	} else if (ptp.found == 1 && ptp.notify_aliases == 1 &&
		   ptp.blacklisted != 1) {
		struct plan *p = &plan[np++];

		p->module = "ptp_vmclock";
		p->load = !mod_present(&ptp);
		fmt_str(p->why, sizeof(p->why), "%s for %s: the kernel's own "
			"driver has notifications (it matches ACPI VMCLOCK / "
			"DT amazon,vmclock, Linux 7.0+)",
			p->load ? "loading it" : "already loaded", hw);
		p = &plan[np++];
		p->module = "vmgen_vmclock";
		fmt_str(p->why, sizeof(p->why), "not needed: ptp_vmclock "
			"notifies on this kernel");
	} else {
		struct plan *p = &plan[np++];
		const char *why_not_ptp =
			ptp.found == 0 ? "this kernel has no ptp_vmclock" :
			ptp.blacklisted == 1 ? "ptp_vmclock is blacklisted" :
			ptp.notify_aliases == 0 ?
			"this kernel's ptp_vmclock has no notifications "
			"(before Linux 7.0)" :
			"ptp_vmclock's features are unknown (built without "
			"libkmod)";

		p->module = "vmgen_vmclock";
		p->load = !mod_present(&ours);
		fmt_str(p->why, sizeof(p->why), "%s for %s: %s",
			p->load ? "loading it" : "already loaded", hw,
			why_not_ptp);
	}

	/* VMGenID */
	{
		struct plan *p = &plan[np++];

		p->module = "vmgen_vmgenid";
		if (pf.vg.present)
			fmt_str(p->why, sizeof(p->why), "already loaded (%s, "
				"mode %s)", pf.vg.path,
				pf.vg.mode[0] ? pf.vg.mode : "?");
		else if (!find_hardware(vmgenid_ids, hw, sizeof(hw)))
			fmt_str(p->why, sizeof(p->why), "no VMGenID device "
				"here (no ACPI VM_Gen_Counter, no DT "
				"microsoft,vmgenid)");
		else {
			p->load = !mod_present(&gid);
			fmt_str(p->why, sizeof(p->why), "%s for %s: %s",
				p->load ? "loading it" : "already loaded", hw,
				pf.vg.kernel_driver[0] ?
				"it observes the kernel's own vmgenid driver" :
				"this kernel has no vmgenid driver, it drives "
				"the device");
		}
	}

	for (i = 0; i < np; i++) {
		struct plan *p = &plan[i];

		if (!p->load) {
			printf("%s: skipped: %s\n", p->module, p->why);
			continue;
		}
		if (opt.dry_run) {
			printf("%s: would load: %s\n", p->module, p->why);
			continue;
		}
		if (mod_load(p->module, err, sizeof(err)) < 0) {
			printf("%s: not loaded: %s (%s)\n", p->module, err,
			       p->why);
			if (!HAVE_KMOD)
				unsupported = 1;
			else
				failed = 1;
			continue;
		}
		printf("%s: loaded: %s\n", p->module, p->why);
	}
	if (unsupported)
		fprintf(stderr, "vmgenctl: load: built without libkmod; load "
			"the modules above with modprobe\n");
	platform_close(&pf);
	return failed ? EX_FAIL : unsupported ? EX_UNSUPPORTED : EX_OK;
}

/* ---- main ---- */

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vmgenctl [OPTION]... COMMAND\n"
"Commands:\n"
"  status [--json]         devices, drivers, counters, modules, auto source\n"
"  wait [--timeout SEC]    block until the next generation change\n"
"       [--source SRC] [--poll-interval-ms MS]\n"
"  run-hooks --dry-run     what a pass would run, and why each hook is or\n"
"       [--hooks-dir DIR]... [--hook-owner UID]    is not eligible\n"
"  load [--dry-run]        load the right modules for this kernel\n"
"Options: --state-dir DIR, --hook-timeout SEC, -h/--help, -V/--version.\n"
"Testing aids: --vmclock-dev PATH|none, --vmgenid-dev PATH|none,\n"
"  --sysfs-root DIR (see vmgenctl(8)).\n"
"Exit status: 0 ok (wait: changed), 1 wait timed out, 2 usage,\n"
"  3 no source to wait on, 4 failure, 5 not supported by this build.\n");
}

enum {
	OPT_JSON = 256, OPT_TIMEOUT, OPT_DRY_RUN, OPT_SOURCE,
	OPT_POLL_INTERVAL_MS, OPT_STATE_DIR, OPT_HOOKS_DIR, OPT_HOOK_OWNER,
	OPT_HOOK_TIMEOUT, OPT_VMCLOCK_DEV, OPT_VMGENID_DEV, OPT_SYSFS_ROOT,
};

static const struct option longopts[] = {
	{ "json", no_argument, NULL, OPT_JSON },
	{ "timeout", required_argument, NULL, OPT_TIMEOUT },
	{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
	{ "source", required_argument, NULL, OPT_SOURCE },
	{ "poll-interval-ms", required_argument, NULL, OPT_POLL_INTERVAL_MS },
	{ "state-dir", required_argument, NULL, OPT_STATE_DIR },
	{ "hooks-dir", required_argument, NULL, OPT_HOOKS_DIR },
	{ "hook-owner", required_argument, NULL, OPT_HOOK_OWNER },
	{ "hook-timeout", required_argument, NULL, OPT_HOOK_TIMEOUT },
	{ "vmclock-dev", required_argument, NULL, OPT_VMCLOCK_DEV },
	{ "vmgenid-dev", required_argument, NULL, OPT_VMGENID_DEV },
	{ "sysfs-root", required_argument, NULL, OPT_SYSFS_ROOT },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ NULL, 0, NULL, 0 },
};

static int bad(const char *what, const char *val)
{
	fprintf(stderr, "vmgenctl: invalid %s: '%s'\n", what, val);
	return EX_USAGE;
}

/* Options a command does not take are usage errors, not ignored. */
static int check_opts(const char *cmd, unsigned int given,
		      unsigned int allowed)
{
	static const char *const names[] = {
		"--json", "--timeout", "--dry-run", "--source",
		"--poll-interval-ms", "--state-dir", "--hooks-dir",
		"--hook-owner", "--hook-timeout",
	};
	unsigned int extra = given & ~allowed;
	size_t i;

	for (i = 0; i < ARRAY_SIZE(names); i++) {
		if (extra & (1u << i)) {
			fprintf(stderr, "vmgenctl: %s does not take %s\n", cmd,
				names[i]);
			return -1;
		}
	}
	return 0;
}

#define BIT(o)	(1u << ((o) - OPT_JSON))

int main(int argc, char **argv)
{
	unsigned int given = 0;
	unsigned long v;
	const char *cmd;
	int c;

	log_init("vmgenctl", 0);
	while ((c = getopt_long(argc, argv, "hV", longopts, NULL)) != -1) {
		if (c >= OPT_JSON && c <= OPT_HOOK_TIMEOUT)
			given |= BIT(c);
		switch (c) {
		case OPT_JSON:
			opt.json = 1;
			break;
		case OPT_TIMEOUT:
			if (parse_seconds(optarg, &opt.timeout_ns) < 0)
				return bad("--timeout", optarg);
			opt.have_timeout = 1;
			break;
		case OPT_DRY_RUN:
			opt.dry_run = 1;
			break;
		case OPT_SOURCE:
			if (!valid_source_name(optarg))
				return bad("--source", optarg);
			opt.source = optarg;
			break;
		case OPT_POLL_INTERVAL_MS:
			if (parse_uint(optarg, 86400000, &v) < 0 || !v)
				return bad("--poll-interval-ms", optarg);
			opt.poll_interval_ns = (int64_t)v * NSEC_PER_MSEC;
			break;
		case OPT_STATE_DIR:
			opt.state_dir = optarg;
			break;
		case OPT_HOOKS_DIR:
			if (opt.ndirs >= HOOK_DIRS_MAX || optarg[0] != '/' ||
			    strlen(optarg) >= sizeof(hooks.dirs[0].path))
				return bad("--hooks-dir", optarg);
			opt.dirs[opt.ndirs++] = optarg;
			break;
		case OPT_HOOK_OWNER:
			if (parse_uint(optarg, 0xfffffffeUL, &v) < 0)
				return bad("--hook-owner", optarg);
			opt.hook_owner = (long)v;
			break;
		case OPT_HOOK_TIMEOUT:
			if (parse_seconds(optarg, &opt.hook_timeout_ns) < 0 ||
			    opt.hook_timeout_ns <= 0)
				return bad("--hook-timeout", optarg);
			break;
		case OPT_VMCLOCK_DEV:
			opt.popts.vmclock_dev = optarg;
			break;
		case OPT_VMGENID_DEV:
			opt.popts.vmgenid_dev = optarg;
			break;
		case OPT_SYSFS_ROOT:
			opt.popts.sysfs_root = optarg;
			break;
		case 'h':
			usage(stdout);
			return EX_OK;
		case 'V':
			printf("vmgenctl %s (libvmgen %s, %s libkmod)\n",
			       VMGEN_VERSION, vmgen_version(),
			       HAVE_KMOD ? "with" : "without");
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EX_USAGE;
	}
	cmd = argv[optind];
	if (optind + 1 < argc) {
		fprintf(stderr, "vmgenctl: unexpected argument '%s'\n",
			argv[optind + 1]);
		return EX_USAGE;
	}
	if (!strcmp(cmd, "status")) {
		if (check_opts(cmd, given, BIT(OPT_JSON) | BIT(OPT_STATE_DIR)))
			return EX_USAGE;
		return cmd_status();
	}
	if (!strcmp(cmd, "wait")) {
		if (check_opts(cmd, given, BIT(OPT_TIMEOUT) | BIT(OPT_SOURCE) |
			       BIT(OPT_POLL_INTERVAL_MS)))
			return EX_USAGE;
		return cmd_wait();
	}
	if (!strcmp(cmd, "run-hooks")) {
		if (check_opts(cmd, given, BIT(OPT_DRY_RUN) |
			       BIT(OPT_HOOKS_DIR) | BIT(OPT_HOOK_OWNER) |
			       BIT(OPT_HOOK_TIMEOUT)))
			return EX_USAGE;
		return cmd_run_hooks();
	}
	if (!strcmp(cmd, "load")) {
		if (check_opts(cmd, given, BIT(OPT_DRY_RUN)))
			return EX_USAGE;
		return cmd_load();
	}
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return EX_OK;
	}
	fprintf(stderr, "vmgenctl: unknown command '%s'\n", cmd);
	usage(stderr);
	return EX_USAGE;
}
