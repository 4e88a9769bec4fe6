// SPDX-License-Identifier: GPL-2.0
/*
 * The counters a pass is about, how a change is classified, and their
 * key=value form in /run/vmgen/{generation,handled}.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "common.h"

const char *counters_event(const struct counters *old,
			   const struct counters *cur)
{
	unsigned int both = old->have & cur->have;

	/* VMGenID is new per restore and per clone */
	if ((both & CNT_VMGENID) && old->vmgenid_gen != cur->vmgenid_gen)
		return "restore";
	/* the VMClock counter moves on restore/clone, never on migration */
	if ((both & CNT_VMCLOCK_GEN) && old->vmclock_gen != cur->vmclock_gen)
		return "restore";
	/*
	 * Only the disruption marker: a live migration if the host keeps a
	 * generation counter (it would have moved on a restore), otherwise
	 * the device cannot tell (QEMU's vmclock).
	 */
	if ((both & CNT_MARKER) && old->marker != cur->marker)
		return (cur->have & CNT_GEN_FLAG) ? "migration" : "unknown";
	return NULL;
}

void counters_adopt_new(struct counters *old, const struct counters *cur)
{
	unsigned int add = cur->have & ~old->have;

	if (add & CNT_VMCLOCK_GEN)
		old->vmclock_gen = cur->vmclock_gen;
	if (add & CNT_MARKER)
		old->marker = cur->marker;
	if (add & CNT_VMGENID)
		old->vmgenid_gen = cur->vmgenid_gen;
	old->have = (old->have & ~CNT_GEN_FLAG) | cur->have;
}

int counters_format(char *buf, size_t size, const struct counters *c,
		    uint64_t pass)
{
	size_t off = 0;
	int n;

#define ADD(...) do {							\
		n = snprintf(buf + off, size - off, __VA_ARGS__);	\
		if (n < 0 || (size_t)n >= size - off)			\
			return -1;					\
		off += (size_t)n;					\
	} while (0)

	if (c->have & CNT_VMCLOCK_GEN)
		ADD("vmclock_generation=%llu\n",
		    (unsigned long long)c->vmclock_gen);
	if (c->have & CNT_MARKER)
		ADD("disruption_marker=%llu\n", (unsigned long long)c->marker);
	if (c->have & CNT_VMGENID)
		ADD("vmgenid_generation=%llu\n",
		    (unsigned long long)c->vmgenid_gen);
	ADD("pass=%llu\n", (unsigned long long)pass);
#undef ADD
	return (int)off;
}

static int key_is(const char *k, size_t n, const char *name)
{
	return strlen(name) == n && !memcmp(k, name, n);
}

int counters_parse(const char *buf, size_t len, struct counters *c,
		   uint64_t *pass)
{
	const char *p = buf, *end = buf + len;

	memset(c, 0, sizeof(*c));
	*pass = 0;
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl : end;
		const char *eq = memchr(p, '=', (size_t)(eol - p));
		size_t klen;
		uint64_t v;

		if (!eq)		/* blank or not key=value: skipped */
			goto next;
		klen = (size_t)(eq - p);
		if (parse_u64_n(eq + 1, (size_t)(eol - eq - 1), &v) < 0) {
			memset(c, 0, sizeof(*c));
			*pass = 0;
			errno = EINVAL;
			return -1;
		}
		if (key_is(p, klen, "vmclock_generation")) {
			c->vmclock_gen = v;
			c->have |= CNT_VMCLOCK_GEN;
		} else if (key_is(p, klen, "disruption_marker")) {
			c->marker = v;
			c->have |= CNT_MARKER;
		} else if (key_is(p, klen, "vmgenid_generation")) {
			c->vmgenid_gen = v;
			c->have |= CNT_VMGENID;
		} else if (key_is(p, klen, "pass")) {
			*pass = v;
		}
next:
		p = nl ? nl + 1 : end;
	}
	return 0;
}

int counters_load(const char *path, struct counters *c, uint64_t *pass)
{
	char buf[1024];
	ssize_t n;

	memset(c, 0, sizeof(*c));
	*pass = 0;
	n = read_text(path, buf, sizeof(buf));
	if (n < 0)
		return -1;
	return counters_parse(buf, (size_t)n, c, pass);
}
