// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzing counters_parse(), the reader of vmgend's state files
 * (/run/vmgen/generation and handled).  The input is the file's contents.
 *
 * Invariants: the result is 0, or -1 with errno EINVAL and everything
 * zeroed; have holds only the three counter bits and a counter without its
 * bit reads 0; what parsed comes back the same through counters_format()
 * and counters_parse(), and formats to the same text again.
 */
#include <errno.h>
#include <string.h>

#include "common.h"
#include "fuzz.h"

#define KNOWN	(CNT_VMCLOCK_GEN | CNT_MARKER | CNT_VMGENID)

static int same(const struct counters *a, uint64_t pa,
		const struct counters *b, uint64_t pb)
{
	return a->have == b->have && a->vmclock_gen == b->vmclock_gen &&
	       a->marker == b->marker && a->vmgenid_gen == b->vmgenid_gen &&
	       pa == pb;
}

static int is_zero(const struct counters *c)
{
	return !c->have && !c->vmclock_gen && !c->marker && !c->vmgenid_gen;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct counters c, c2;
	char text[256], again[256];
	uint64_t pass, pass2;
	int r, n, m;

	memset(&c, 0xa5, sizeof(c));
	pass = 0xa5a5a5a5a5a5a5a5ULL;
	errno = 0;
	r = counters_parse((const char *)data, size, &c, &pass);
	FUZZ_CHECK(r == 0 || r == -1);
	if (r < 0) {
		FUZZ_CHECK(errno == EINVAL);
		FUZZ_CHECK(is_zero(&c) && pass == 0);
		return 0;
	}
	FUZZ_CHECK(!(c.have & ~KNOWN));
	FUZZ_CHECK((c.have & CNT_VMCLOCK_GEN) || !c.vmclock_gen);
	FUZZ_CHECK((c.have & CNT_MARKER) || !c.marker);
	FUZZ_CHECK((c.have & CNT_VMGENID) || !c.vmgenid_gen);

	/* what vmgend would write for it, read back */
	n = counters_format(text, sizeof(text), &c, pass);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(text) &&
		   strlen(text) == (size_t)n);
	memset(&c2, 0x5a, sizeof(c2));
	r = counters_parse(text, (size_t)n, &c2, &pass2);
	FUZZ_CHECK(r == 0);
	FUZZ_CHECK(same(&c, pass, &c2, pass2));
	m = counters_format(again, sizeof(again), &c2, pass2);
	FUZZ_CHECK(m == n && !memcmp(text, again, (size_t)n));
	return 0;
}

/* Known answers, checked once before fuzzing: the parser's contract. */
#define TXT(s)	s, sizeof(s) - 1
static const struct {
	const char *s;
	size_t n;
	int ok;
	unsigned int have;
	uint64_t gen, marker, vmgenid, pass;
} answers[] = {
	{ TXT("vmclock_generation=18446744073709551615\ndisruption_marker=5\n"
	      "vmgenid_generation=6\npass=77\n"), 1, KNOWN,
	  UINT64_MAX, 5, 6, 77 },
	{ TXT(""), 1, 0, 0, 0, 0, 0 },
	{ TXT("pass=3"), 1, 0, 0, 0, 0, 3 },
	{ TXT("pass=1\n\ndisruption_marker=2\npass=4\n"), 1, CNT_MARKER,
	  0, 2, 0, 4 },
	{ TXT("a comment\nfuture_key=9\n=1\npass=3"), 1, 0, 0, 0, 0, 3 },
	{ TXT("pass=18446744073709551616"), 0, 0, 0, 0, 0, 0 },
	{ TXT("pass="), 0, 0, 0, 0, 0, 0 },
	{ TXT("pass=-1"), 0, 0, 0, 0, 0, 0 },
	{ TXT("pass=+1"), 0, 0, 0, 0, 0, 0 },
	{ TXT("pass=1 "), 0, 0, 0, 0, 0, 0 },
	{ TXT("pass=4\r\n"), 0, 0, 0, 0, 0, 0 },
	{ TXT("pass=4\0"), 0, 0, 0, 0, 0, 0 },
	{ TXT("future_key=soon\npass=1"), 0, 0, 0, 0, 0, 0 },
	{ TXT("vmgenid_generation=1=2"), 0, 0, 0, 0, 0, 0 },
	{ TXT("vmgenid_generation=000000000000000000000000001\n"), 1,
	  CNT_VMGENID, 0, 0, 1, 0 },
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	size_t i;

	(void)argc;
	(void)argv;
	for (i = 0; i < ARRAY_SIZE(answers); i++) {
		struct counters c;
		uint64_t pass;
		char *copy = malloc(answers[i].n ? answers[i].n : 1);
		int r;

		FUZZ_CHECK(copy);
		memcpy(copy, answers[i].s, answers[i].n);
		r = counters_parse(copy, answers[i].n, &c, &pass);
		if ((r == 0) != answers[i].ok ||
		    (r == 0 && (c.have != answers[i].have ||
				c.vmclock_gen != answers[i].gen ||
				c.marker != answers[i].marker ||
				c.vmgenid_gen != answers[i].vmgenid ||
				pass != answers[i].pass))) {
			fprintf(stderr, "counters_parse: answers[%zu] wrong\n",
				i);
			abort();
		}
		free(copy);
	}
	return 0;
}
