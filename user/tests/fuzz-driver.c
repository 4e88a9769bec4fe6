// SPDX-License-Identifier: GPL-2.0
/*
 * main() for a fuzz target built without libFuzzer (any C compiler): every
 * FILE, and every file in DIR, goes through LLVMFuzzerTestOneInput() in a
 * heap buffer of exactly its size, then ITERATIONS deterministic mutations
 * of them (bit flips, special bytes, truncations, insertions, repeats,
 * splices).  For replaying a crash file or a corpus without clang, under
 * valgrind or a sanitizer of gcc:
 *
 *   fuzz-TARGET [-n ITERATIONS] [-s SEED] FILE|DIR...
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"

#define INPUT_MAX	8192
#define MAX_SEEDS	256

static struct {
	uint8_t *p;
	size_t n;
} seeds[MAX_SEEDS];
static size_t nseeds;
static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static void run_one(const uint8_t *buf, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);

	if (!copy) {
		perror("malloc");
		exit(1);
	}
	if (n)
		memcpy(copy, buf, n);
	LLVMFuzzerTestOneInput(copy, n);
	free(copy);
}

static void add_file(const char *path)
{
	uint8_t *buf;
	FILE *f;
	size_t n;

	f = fopen(path, "rb");
	if (!f) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	buf = malloc(INPUT_MAX);
	if (!buf) {
		perror("malloc");
		exit(1);
	}
	n = fread(buf, 1, INPUT_MAX, f);
	fclose(f);
	run_one(buf, n);
	if (nseeds < MAX_SEEDS) {
		seeds[nseeds].p = buf;
		seeds[nseeds].n = n;
		nseeds++;
	} else {
		free(buf);
	}
}

static void add_path(const char *path)
{
	struct dirent **names;
	struct stat st;
	int i, n;

	if (stat(path, &st) < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	if (!S_ISDIR(st.st_mode)) {
		add_file(path);
		return;
	}
	/* sorted: the same order, the same mutations, every run */
	n = scandir(path, &names, NULL, alphasort);
	if (n < 0) {
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
		exit(1);
	}
	for (i = 0; i < n; i++) {
		char p[4096];

		if (names[i]->d_name[0] != '.' &&
		    snprintf(p, sizeof(p), "%s/%s", path, names[i]->d_name) <
			    (int)sizeof(p) &&
		    stat(p, &st) == 0 && S_ISREG(st.st_mode))
			add_file(p);
		free(names[i]);
	}
	free(names);
}

static size_t mutate(uint8_t *buf, size_t n)
{
	static const uint8_t special[] = {
		0, '\n', '=', '\r', 0x7f, 0xff, 0x01, '0', '9', 'A',
	};
	unsigned int k, m = 1 + (unsigned int)(rnd() % 8);

	for (k = 0; k < m; k++) {
		size_t pos = n ? rnd() % n : 0, len, other;
		const uint8_t *src;

		switch (rnd() % 7) {
		case 0:
			if (n)
				buf[pos] ^= (uint8_t)(1u << (rnd() % 8));
			break;
		case 1:
			if (n)
				buf[pos] = special[rnd() % sizeof(special)];
			break;
		case 2:
			n = pos;
			break;
		case 3:
			if (n < INPUT_MAX) {
				memmove(buf + pos + 1, buf + pos, n - pos);
				buf[pos] = (uint8_t)rnd();
				n++;
			}
			break;
		case 4:		/* repeat a piece */
			len = rnd() % 64;
			if (len > n - pos)
				len = n - pos;
			if (n + len <= INPUT_MAX) {
				memmove(buf + pos + len, buf + pos, n - pos);
				n += len;
			}
			break;
		case 5:		/* the tail of another input */
			other = rnd() % nseeds;
			src = seeds[other].p;
			len = seeds[other].n;
			if (pos + len > INPUT_MAX)
				len = INPUT_MAX - pos;
			memmove(buf + pos, src, len);
			n = pos + len;
			break;
		default:	/* a little-endian word of ones or zeros */
			if (pos + 8 <= n)
				memset(buf + pos, (rnd() & 1) ? 0xff : 0, 8);
			break;
		}
	}
	return n;
}

int main(int argc, char **argv)
{
	unsigned long iters = 10000, it;
	static uint8_t buf[INPUT_MAX];
	int c;

	rng = 0x9e3779b97f4a7c15ULL;
	while ((c = getopt(argc, argv, "n:s:")) != -1) {
		switch (c) {
		case 'n':
			iters = strtoul(optarg, NULL, 0);
			break;
		case 's':
			rng = strtoull(optarg, NULL, 0);
			if (!rng)
				rng = 1;
			break;
		default:
			fprintf(stderr, "usage: %s [-n N] [-s SEED] PATH...\n",
				argv[0]);
			return 2;
		}
	}
	LLVMFuzzerInitialize(&argc, &argv);
	for (; optind < argc; optind++)
		add_path(argv[optind]);
	if (!nseeds) {
		/* no corpus: mutate an empty input */
		seeds[0].p = buf;
		seeds[0].n = 0;
		nseeds = 1;
	}
	for (it = 0; it < iters; it++) {
		size_t which = rnd() % nseeds, n = seeds[which].n;

		memcpy(buf, seeds[which].p, n);
		n = mutate(buf, n);
		run_one(buf, n);
	}
	printf("ok - %s: %zu inputs and %lu mutations without a fault\n",
	       argv[0], nseeds, iters);
	return 0;
}
