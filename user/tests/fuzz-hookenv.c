// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzing hook_env_set_path() and hook_env_build(): the environment every
 * hook gets.  The input, front to back (missing bytes read as 0):
 *
 *   u8      mode: bit 0 call hook_env_set_path(), bit 1 with NULL instead
 *           of PATH, bit 2 event NULL, bit 3 source NULL, bit 4 start from
 *           a struct full of junk rather than zeros
 *   u8      old.have, u8 cur.have (any bits)
 *   u64 x3  old vmclock_gen, marker, vmgenid_gen (little-endian)
 *   u64 x3  cur vmclock_gen, marker, vmgenid_gen
 *   u64     notify_ns (as int64_t), u64 pass
 *   bytes   event NUL source NUL PATH (each up to the next NUL or the end)
 *
 * The environment is built twice on the same struct, the second time with
 * old and cur swapped, as vmgend reuses it pass after pass.
 *
 * Invariants, on success (>= 0): envp is NULL-terminated after exactly the
 * returned count; envp[0] is the PATH entry, "PATH=" and what
 * hook_env_set_path() accepted or the default; every other entry is
 * VMGEN_NAME=VALUE with NAME in [A-Z_], each expected name once with the
 * expected value (the counters as decimal numbers), nothing else; no entry
 * holds a byte below 0x20 or 0x7f.  -1 exactly when event or source is
 * NULL, has such a byte, or does not fit.
 */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "fuzz.h"

#define STORE_LEN	sizeof(((struct hook_env *)0)->store[0])
#define PATH_LEN	sizeof(((struct hook_env *)0)->path)

static int clean(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

/* The next string of the input, in a heap buffer of exactly its size. */
static char *take_str(struct fuzz_in *in)
{
	const uint8_t *nul = memchr(in->p, 0, in->n);
	size_t len = nul ? (size_t)(nul - in->p) : in->n;
	char *s = malloc(len + 1);

	FUZZ_CHECK(s);
	memcpy(s, in->p, len);
	s[len] = '\0';
	in->p += len;
	in->n -= len;
	if (nul) {
		in->p++;
		in->n--;
	}
	return s;
}

struct want {
	const char *name;
	char value[PATH_LEN];
	int seen;
};

static void want_add(struct want *w, int *n, const char *name,
		     const char *value)
{
	w[*n].name = name;
	snprintf(w[*n].value, sizeof(w[*n].value), "%s", value);
	w[*n].seen = 0;
	(*n)++;
}

static void want_u64(struct want *w, int *n, const char *name, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	want_add(w, n, name, buf);
}

/* The entries a build with these arguments must give. */
static int wanted(struct want *w, const struct hook_env_args *a)
{
	char buf[32];
	int n = 0;

	want_add(w, &n, "VMGEN_EVENT", a->event);
#define CNT(bit, name, cnt, field) do {					\
		if ((cnt)->have & (bit))				\
			want_u64(w, &n, name, (cnt)->field);		\
	} while (0)
	CNT(CNT_VMCLOCK_GEN, "VMGEN_GENERATION_OLD", a->old, vmclock_gen);
	CNT(CNT_VMCLOCK_GEN, "VMGEN_GENERATION_NEW", a->cur, vmclock_gen);
	CNT(CNT_VMGENID, "VMGEN_VMGENID_GENERATION_OLD", a->old, vmgenid_gen);
	CNT(CNT_VMGENID, "VMGEN_VMGENID_GENERATION_NEW", a->cur, vmgenid_gen);
	CNT(CNT_MARKER, "VMGEN_DISRUPTION_MARKER_OLD", a->old, marker);
	CNT(CNT_MARKER, "VMGEN_DISRUPTION_MARKER_NEW", a->cur, marker);
#undef CNT
	want_add(w, &n, "VMGEN_SOURCE", a->source);
	snprintf(buf, sizeof(buf), "%lld", (long long)a->notify_ns);
	want_add(w, &n, "VMGEN_NOTIFY_NS", buf);
	want_u64(w, &n, "VMGEN_PASS", a->pass);
	return n;
}

static int fits(const char *name, const char *value)
{
	return strlen(name) + 1 + strlen(value) < STORE_LEN;
}

static void check_build(struct hook_env *e, const struct hook_env_args *a,
			const char *path_entry)
{
	struct want w[16];
	int r, i, j, nw;
	int bad = !a->event || !a->source;

	if (!bad)
		bad = !clean(a->event) || !clean(a->source) ||
		      !fits("VMGEN_EVENT", a->event) ||
		      !fits("VMGEN_SOURCE", a->source);
	errno = 0;
	r = hook_env_build(e, a);
	FUZZ_CHECK(e->envp[0] == e->path);
	FUZZ_CHECK(!strcmp(e->path, path_entry));
	if (bad) {
		FUZZ_CHECK(r == -1);
		return;
	}
	FUZZ_CHECK(r >= 1);
	nw = wanted(w, a);
	FUZZ_CHECK(r == nw + 1);
	FUZZ_CHECK(e->envp[r] == NULL);
	for (i = 0; i < r; i++) {
		const char *s = e->envp[i], *eq;
		size_t k;

		FUZZ_CHECK(s != NULL);
		FUZZ_CHECK(clean(s));
		if (i == 0) {
			FUZZ_CHECK(!strncmp(s, "PATH=", 5));
			continue;
		}
		/* one of the buffers of the struct, and terminated there */
		FUZZ_CHECK(s == e->store[i - 1]);
		FUZZ_CHECK(memchr(s, 0, STORE_LEN) != NULL);
		FUZZ_CHECK(!strncmp(s, "VMGEN_", 6));
		eq = strchr(s, '=');
		FUZZ_CHECK(eq != NULL && eq > s + 6);
		for (k = 0; s + k < eq; k++)
			FUZZ_CHECK((s[k] >= 'A' && s[k] <= 'Z') ||
				   s[k] == '_');
		for (j = 0; j < nw; j++) {
			if (strlen(w[j].name) != (size_t)(eq - s) ||
			    strncmp(s, w[j].name, (size_t)(eq - s)))
				continue;
			FUZZ_CHECK(!w[j].seen);
			FUZZ_CHECK(!strcmp(eq + 1, w[j].value));
			w[j].seen = 1;
			break;
		}
		FUZZ_CHECK(j < nw);	/* a name nobody asked for */
	}
	for (j = 0; j < nw; j++)
		FUZZ_CHECK(w[j].seen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hook_env e;
	struct fuzz_in in = { data, size };
	struct counters old, cur;
	struct hook_env_args a;
	char path_entry[PATH_LEN + 8];
	char *event, *source, *path;
	unsigned int mode;

	mode = fuzz_u8(&in);
	memset(&old, 0, sizeof(old));
	memset(&cur, 0, sizeof(cur));
	old.have = fuzz_u8(&in);
	cur.have = fuzz_u8(&in);
	old.vmclock_gen = fuzz_u64(&in);
	old.marker = fuzz_u64(&in);
	old.vmgenid_gen = fuzz_u64(&in);
	cur.vmclock_gen = fuzz_u64(&in);
	cur.marker = fuzz_u64(&in);
	cur.vmgenid_gen = fuzz_u64(&in);
	memset(&a, 0, sizeof(a));
	a.notify_ns = (int64_t)fuzz_u64(&in);
	a.pass = fuzz_u64(&in);
	event = take_str(&in);
	source = take_str(&in);
	path = take_str(&in);
	a.event = (mode & 4) ? NULL : event;
	a.source = (mode & 8) ? NULL : source;
	a.old = &old;
	a.cur = &cur;

	/* junk where the entries go: each build must write what it uses */
	memset(&e, (mode & 16) ? 0xa5 : 0, sizeof(e));
	e.path[0] = '\0';
	snprintf(path_entry, sizeof(path_entry), "PATH=%s", DEFAULT_PATH_ENV);
	if (mode & 1) {
		const char *p = (mode & 2) ? NULL : path;
		int ok = p && *p && clean(p) && 5 + strlen(p) < PATH_LEN;
		int r = hook_env_set_path(&e, p);

		FUZZ_CHECK(r == (ok ? 0 : -1));
		if (ok)
			snprintf(path_entry, sizeof(path_entry), "PATH=%s",
				 p);
		FUZZ_CHECK(!strcmp(e.path, path_entry));
	}
	check_build(&e, &a, path_entry);
	/* the next pass, on the same struct */
	a.old = &cur;
	a.cur = &old;
	check_build(&e, &a, path_entry);

	free(event);
	free(source);
	free(path);
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static struct hook_env e;
	struct counters o = { CNT_VMCLOCK_GEN | CNT_MARKER, 1, 2, 0 };
	struct counters c = { CNT_VMCLOCK_GEN | CNT_MARKER | CNT_VMGENID,
			      3, 4, 5 };
	struct hook_env_args a = {
		.event = "restore", .source = "vmclock+vmgenid", .old = &o,
		.cur = &c, .notify_ns = -1, .pass = UINT64_MAX,
	};
	static const char *const expect[] = {
		"PATH=/bin", "VMGEN_EVENT=restore", "VMGEN_GENERATION_OLD=1",
		"VMGEN_GENERATION_NEW=3", "VMGEN_VMGENID_GENERATION_NEW=5",
		"VMGEN_DISRUPTION_MARKER_OLD=2",
		"VMGEN_DISRUPTION_MARKER_NEW=4",
		"VMGEN_SOURCE=vmclock+vmgenid", "VMGEN_NOTIFY_NS=-1",
		"VMGEN_PASS=18446744073709551615", NULL,
	};
	size_t i;

	(void)argc;
	(void)argv;
	/* a known answer, in vmgend's order */
	FUZZ_CHECK(hook_env_set_path(&e, "/bin") == 0);
	FUZZ_CHECK(hook_env_build(&e, &a) == 10);
	for (i = 0; i < ARRAY_SIZE(expect); i++)
		FUZZ_CHECK(expect[i] ? e.envp[i] && !strcmp(e.envp[i],
							    expect[i]) :
				       !e.envp[i]);
	a.event = "restore\n";
	FUZZ_CHECK(hook_env_build(&e, &a) == -1);
	FUZZ_CHECK(hook_env_set_path(&e, "/bin:\x7f") == -1);
	FUZZ_CHECK(!strcmp(e.path, "PATH=" DEFAULT_PATH_ENV));
	return 0;
}
