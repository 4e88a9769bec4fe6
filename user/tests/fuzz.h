/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the fuzz targets share.  Each target is a libFuzzer target when
 * built with -DVMGEN_LIBFUZZER and clang -fsanitize=fuzzer, and otherwise
 * linked with fuzz-driver.c, a main() that replays files and mutates them.
 * A broken invariant aborts, so that libFuzzer keeps the input as a crash.
 */
#ifndef VMGEN_TESTS_FUZZ_H
#define VMGEN_TESTS_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_CHECK(cond) do {						\
		if (!(cond)) {						\
			fprintf(stderr, "%s:%d: invariant broken: %s\n", \
				__FILE__, __LINE__, #cond);		\
			abort();					\
		}							\
	} while (0)

/* Input taken front to back; past its end, zeros. */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t fuzz_u8(struct fuzz_in *in)
{
	uint8_t v = 0;

	if (in->n) {
		v = in->p[0];
		in->p++;
		in->n--;
	}
	return v;
}

static inline uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v |= (uint64_t)fuzz_u8(in) << (8 * i);
	return v;
}

#endif
