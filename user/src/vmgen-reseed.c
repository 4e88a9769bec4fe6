// SPDX-License-Identifier: GPL-2.0
/*
 * vmgen-reseed: make the kernel RNG of this clone diverge from its
 * siblings restored from the same snapshot.  Writing to /dev/urandom does
 * not reseed anything at once; this mixes 32 bytes into the input pool
 * with RNDADDENTROPY and then forces a CRNG reseed with RNDRESEEDCRNG.
 * Both need CAP_SYS_ADMIN.  A failure is reported as a failure.
 *
 * The 32 bytes: getrandom() output (which may still be the same in every
 * clone: that is the problem being fixed) mixed with what differs between
 * clones right now: the clocks and the CPU cycle counter.  The entropy
 * credited (--credit, default 256 bits) is what makes kernels before 5.18
 * take the input pool into the next reseed; it is a claim about the pool
 * after the restore, not about these bytes alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/random.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <vmgen/vmgenid.h>

#define SEED_BYTES	32

static uint64_t mix64(uint64_t x)
{
	/* splitmix64's finaliser: spreads every input bit over the word */
	x += 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint64_t cycles(void)
{
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#elif defined(__aarch64__)
	uint64_t v;

	__asm__ volatile("mrs %0, cntvct_el0" : "=r"(v));
	return v;
#else
	return 0;
#endif
}

static uint64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	if (clock_gettime(id, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static void make_seed(uint64_t w[SEED_BYTES / 8])
{
	uint64_t noise[6];
	size_t i, got = 0;

	memset(w, 0, SEED_BYTES);
	while (got < SEED_BYTES) {
		ssize_t n = getrandom((char *)w + got, SEED_BYTES - got,
				      GRND_NONBLOCK);

		if (n <= 0)
			break;	/* the clock noise below still goes in */
		got += (size_t)n;
	}
	noise[0] = cycles();
	noise[1] = clock_ns(CLOCK_MONOTONIC);
	noise[2] = clock_ns(CLOCK_REALTIME);
	noise[3] = clock_ns(CLOCK_BOOTTIME);
	noise[4] = (uint64_t)getpid();
	noise[5] = cycles();
	for (i = 0; i < 6; i++)
		w[i % 4] ^= mix64(noise[i] + i);
}

static void usage(FILE *f)
{
	fprintf(f,
"Usage: vmgen-reseed [--device PATH] [--credit BITS]\n"
"Mix 32 bytes into the kernel's input pool (RNDADDENTROPY) and force a\n"
"CRNG reseed (RNDRESEEDCRNG). Needs CAP_SYS_ADMIN.\n"
"  --device PATH   default /dev/urandom\n"
"  --credit BITS   entropy credited, 0..256 (default 256)\n"
"Exit status: 0 reseeded, 1 failed, 2 usage.\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "device", required_argument, NULL, 'd' },
		{ "credit", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	union {
		struct rand_pool_info info;
		unsigned char raw[sizeof(struct rand_pool_info) + SEED_BYTES];
	} req;
	const char *dev = "/dev/urandom";
	uint64_t seed[SEED_BYTES / 8];
	char mode[32];
	long credit = SEED_BYTES * 8;
	char *end;
	int c, fd, n;

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 'd':
			dev = optarg;
			break;
		case 'c':
			errno = 0;
			credit = strtol(optarg, &end, 10);
			if (errno || *end || end == optarg || credit < 0 ||
			    credit > SEED_BYTES * 8) {
				fprintf(stderr, "vmgen-reseed: invalid --credit "
					"'%s'\n", optarg);
				return 2;
			}
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}

	fd = open(dev, O_WRONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		fprintf(stderr, "vmgen-reseed: cannot open %s: %s\n", dev,
			strerror(errno));
		return 1;
	}
	make_seed(seed);
	memset(&req, 0, sizeof(req));
	req.info.entropy_count = (int)credit;
	req.info.buf_size = SEED_BYTES;
	memcpy(req.raw + offsetof(struct rand_pool_info, buf), seed,
	       SEED_BYTES);
	memset(seed, 0, sizeof(seed));
	if (ioctl(fd, RNDADDENTROPY, &req.info) < 0) {
		fprintf(stderr, "vmgen-reseed: RNDADDENTROPY on %s: %s%s\n",
			dev, strerror(errno),
			errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		close(fd);
		return 1;
	}
	memset(&req, 0, sizeof(req));
	if (ioctl(fd, RNDRESEEDCRNG) < 0) {
		fprintf(stderr, "vmgen-reseed: RNDRESEEDCRNG on %s: %s%s\n",
			dev, strerror(errno),
			errno == ENODATA ? " (the CRNG is not initialised yet)" :
			errno == EPERM ? " (needs CAP_SYS_ADMIN)" : "");
		close(fd);
		return 1;
	}
	close(fd);
	printf("vmgen-reseed: mixed %d bytes into the input pool (credited "
	       "%ld bits) and reseeded the CRNG\n", SEED_BYTES, credit);

	/* what vmgen_vmgenid did on its own, for the log */
	fd = open(VMGENID_SYSFS_DIR "/" VMGENID_ATTR_RNG_RESEED,
		  O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = (int)read(fd, mode, sizeof(mode) - 1);
		close(fd);
		if (n > 0) {
			mode[n] = '\0';
			mode[strcspn(mode, "\n")] = '\0';
			printf("vmgen-reseed: vmgen_vmgenid rng_reseed=%s%s\n",
			       mode,
			       !strcmp(mode, VMGENID_RNG_RESEED_IMMEDIATE) ?
			       " (the kernel had reseeded from the new "
			       "VMGenID already)" :
			       !strcmp(mode, VMGENID_RNG_RESEED_MIX_ONLY) ?
			       " (the kernel had only mixed the new VMGenID "
			       "in: this reseed was needed)" : "");
		}
	}
	return 0;
}
