// SPDX-License-Identifier: GPL-2.0
/*
 * torn-check: read the VMClock page in a RAM file the way a guest does
 * (seqcount protocol, acquire ordering) while vmgen-emu's vmclock-hammer
 * rewrites it, and count tuples whose fields disagree.
 *
 * The hammer writes, per update k: disruption_marker = vm_generation_counter
 * = time_sec = counter_value = k and time_frac_sec = ~k. Any accepted read
 * where these differ is a torn read.
 *
 * usage: torn-check [--naive] [--gpa ADDR] [--ms N] [--min-updates N] FILE
 *
 * It waits (up to 5 s) for the generation counter to start moving, then
 * reads for --ms milliseconds (default 1000). --naive skips the seqcount
 * (to show the checker can see tearing at all).
 *
 * Prints one line: reads=N torn=N retries=N updates_seen=N first=K last=K
 * Exit: 0 no torn read and at least --min-updates (default 100) distinct
 * updates seen; 1 torn reads seen; 2 no progress or usage error. With
 * --naive, exit is 0 whenever the run completed.
 */
#define _GNU_SOURCE
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define OFF_SEQ			0x0c
#define OFF_MARKER		0x10
#define OFF_COUNTER_VALUE	0x28
#define OFF_TIME_SEC		0x48
#define OFF_TIME_FRAC		0x50
#define OFF_GEN			0x68

static const uint8_t *page;

static uint32_t ld32(unsigned int off, int order)
{
	return le32toh(__atomic_load_n((const uint32_t *)(page + off), order));
}

static uint64_t ld64(unsigned int off)
{
	return le64toh(__atomic_load_n((const uint64_t *)(page + off),
				       __ATOMIC_RELAXED));
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

struct tuple {
	uint64_t marker, gen, tsec, cval, tfrac;
};

static void read_fields(struct tuple *t)
{
	t->marker = ld64(OFF_MARKER);
	t->gen = ld64(OFF_GEN);
	t->tsec = ld64(OFF_TIME_SEC);
	t->cval = ld64(OFF_COUNTER_VALUE);
	t->tfrac = ld64(OFF_TIME_FRAC);
}

/* Seqcount read; returns the number of retries it took. */
static uint64_t read_seq(struct tuple *t)
{
	uint64_t retries = 0;
	uint32_t s1, s2;

	for (;;) {
		s1 = ld32(OFF_SEQ, __ATOMIC_ACQUIRE);
		if (s1 & 1) {
			retries++;
			continue;
		}
		read_fields(t);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		s2 = ld32(OFF_SEQ, __ATOMIC_RELAXED);
		if (s1 == s2)
			return retries;
		retries++;
	}
}

static int parse_num(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return (errno || end == s || *end || s[0] == '-') ? -1 : 0;
}

int main(int argc, char **argv)
{
	uint64_t gpa = 0x0f000000, ms = 1000, min_updates = 100;
	uint64_t reads = 0, torn = 0, retries = 0, seen = 0, first, last;
	uint64_t start, end;
	bool naive = false;
	const char *file = NULL;
	struct tuple t;
	void *map;
	int fd;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--naive")) {
			naive = true;
		} else if (i + 1 < argc && !strcmp(argv[i], "--gpa")) {
			if (parse_num(argv[++i], &gpa) || gpa % 4096)
				goto usage;
		} else if (i + 1 < argc && !strcmp(argv[i], "--ms")) {
			if (parse_num(argv[++i], &ms))
				goto usage;
		} else if (i + 1 < argc && !strcmp(argv[i], "--min-updates")) {
			if (parse_num(argv[++i], &min_updates))
				goto usage;
		} else if (!file && argv[i][0] != '-') {
			file = argv[i];
		} else {
			goto usage;
		}
	}
	if (!file)
		goto usage;

	fd = open(file, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		perror(file);
		return 2;
	}
	map = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, (off_t)gpa);
	if (map == MAP_FAILED) {
		perror("mmap");
		return 2;
	}
	close(fd);
	page = map;

	/* wait for the writer to start */
	read_seq(&t);
	first = t.gen;
	end = now_ms() + 5000;
	do {
		read_seq(&t);
	} while (t.gen == first && now_ms() < end);
	if (t.gen == first) {
		printf("reads=0 torn=0 retries=0 updates_seen=0 (no writer)\n");
		return 2;
	}

	first = last = t.gen;
	start = now_ms();
	while (now_ms() - start < ms) {
		for (int i = 0; i < 4096; i++) {
			if (naive)
				read_fields(&t);
			else
				retries += read_seq(&t);
			reads++;
			if (t.marker != t.gen || t.tsec != t.gen ||
			    t.cval != t.gen || t.tfrac != ~t.gen) {
				if (torn < 5)
					fprintf(stderr, "torn: marker=%" PRIu64
						" gen=%" PRIu64 " time_sec=%" PRIu64
						" counter_value=%" PRIu64
						" ~time_frac=%" PRIu64 "\n",
						t.marker, t.gen, t.tsec, t.cval,
						~t.tfrac);
				torn++;
				continue;
			}
			if (t.gen != last) {
				seen++;
				last = t.gen;
			}
		}
	}
	printf("reads=%" PRIu64 " torn=%" PRIu64 " retries=%" PRIu64
	       " updates_seen=%" PRIu64 " first=%" PRIu64 " last=%" PRIu64 "\n",
	       reads, torn, retries, seen, first, last);
	if (naive)
		return 0;
	if (torn)
		return 1;
	return seen >= min_updates ? 0 : 2;

usage:
	fprintf(stderr, "usage: torn-check [--naive] [--gpa ADDR] [--ms N] "
		"[--min-updates N] FILE\n");
	return 2;
}
