// SPDX-License-Identifier: GPL-2.0
/*
 * The environment a hook gets: PATH and VMGEN_* only (vmgen-hooks(7)).
 * Built into fixed buffers, so that a pass allocates nothing.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

/* An environment value is the daemon's own words; refuse anything else. */
static int clean_value(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int hook_env_set_path(struct hook_env *e, const char *path)
{
	if (!path || !*path || !clean_value(path) ||
	    fmt_str(e->path, sizeof(e->path), "PATH=%s", path) < 0) {
		fmt_str(e->path, sizeof(e->path), "PATH=%s", DEFAULT_PATH_ENV);
		return -1;
	}
	return 0;
}

static int add(struct hook_env *e, int *n, const char *fmt, ...) PRINTF(3, 4);
static int add(struct hook_env *e, int *n, const char *fmt, ...)
{
	va_list ap;
	int w;

	if (*n >= (int)ARRAY_SIZE(e->store))
		return -1;
	va_start(ap, fmt);
	w = vsnprintf(e->store[*n], sizeof(e->store[0]), fmt, ap);
	va_end(ap);
	if (w < 0 || (size_t)w >= sizeof(e->store[0]))
		return -1;
	e->envp[*n + 1] = e->store[*n];
	(*n)++;
	return 0;
}

int hook_env_build(struct hook_env *e, const struct hook_env_args *a)
{
	const struct counters *o = a->old, *c = a->cur;
	int n = 0, bad = 0;

	if (!e->path[0])
		hook_env_set_path(e, NULL);
	e->envp[0] = e->path;
	e->envp[1] = NULL;	/* nothing of an earlier pass survives */
	if (!a->event || !clean_value(a->event) || !a->source ||
	    !clean_value(a->source))
		return -1;
	bad |= add(e, &n, "VMGEN_EVENT=%s", a->event);
#define COUNTER(bit, key, cnt, field) do {				\
		if ((cnt)->have & (bit))				\
			bad |= add(e, &n, key "=%llu",			\
				   (unsigned long long)(cnt)->field);	\
	} while (0)
	COUNTER(CNT_VMCLOCK_GEN, "VMGEN_GENERATION_OLD", o, vmclock_gen);
	COUNTER(CNT_VMCLOCK_GEN, "VMGEN_GENERATION_NEW", c, vmclock_gen);
	COUNTER(CNT_VMGENID, "VMGEN_VMGENID_GENERATION_OLD", o, vmgenid_gen);
	COUNTER(CNT_VMGENID, "VMGEN_VMGENID_GENERATION_NEW", c, vmgenid_gen);
	COUNTER(CNT_MARKER, "VMGEN_DISRUPTION_MARKER_OLD", o, marker);
	COUNTER(CNT_MARKER, "VMGEN_DISRUPTION_MARKER_NEW", c, marker);
#undef COUNTER
	bad |= add(e, &n, "VMGEN_SOURCE=%s", a->source);
	bad |= add(e, &n, "VMGEN_NOTIFY_NS=%lld", (long long)a->notify_ns);
	bad |= add(e, &n, "VMGEN_PASS=%llu", (unsigned long long)a->pass);
	e->envp[n + 1] = NULL;
	return bad ? -1 : n + 1;
}
