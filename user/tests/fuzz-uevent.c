// SPDX-License-Identifier: GPL-2.0
/*
 * Fuzzing vmgen_uevent_parse().
 *
 * Built with -DVMGEN_LIBFUZZER and clang -fsanitize=fuzzer, this file is a
 * libFuzzer target.  Built normally it runs its own deterministic mutation
 * loop (seeded corpus, byte flips, NUL/'='/'@' insertions, truncations,
 * splices), each input in an exactly-sized heap buffer so that
 * AddressSanitizer catches any read past the end:
 *   fuzz-uevent [ITERATIONS [SEED]]
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <vmgen/libvmgen.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmgen_uevent ev;

	if (vmgen_uevent_parse(data, size, &ev) == 0) {
		/* what came out must be sane C strings and known values */
		if (strnlen(ev.action, sizeof(ev.action)) >= sizeof(ev.action) ||
		    strnlen(ev.devpath, sizeof(ev.devpath)) >=
			    sizeof(ev.devpath) ||
		    strnlen(ev.subsystem, sizeof(ev.subsystem)) >=
			    sizeof(ev.subsystem) ||
		    strnlen(ev.devname, sizeof(ev.devname)) >=
			    sizeof(ev.devname) ||
		    !ev.action[0] || ev.devpath[0] != '/' ||
		    ev.device < VMGEN_UEVENT_DEVICE_OTHER ||
		    ev.device > VMGEN_UEVENT_DEVICE_VMGENID)
			abort();
	}
	return 0;
}

#ifndef VMGEN_LIBFUZZER

/* sizeof keeps the embedded NULs */
#define SEED(s) { s, sizeof(s) - 1 }
static const struct {
	const char *s;
	size_t n;
} seeds[] = {
	SEED("change@/devices/virtual/misc/vmgenid\0ACTION=change\0"
	     "DEVPATH=/devices/virtual/misc/vmgenid\0SUBSYSTEM=misc\0MAJOR=10\0"
	     "MINOR=58\0DEVNAME=vmgenid\0SEQNUM=1234\0NEW_VMGENID=1\0"
	     "VMGENID_GENERATION=3\0VMGENID_NOTIFY_NS=99887766\0"),
	SEED("change@/devices/platform/AMZNC10C:00/misc/vmclock0\0"
	     "ACTION=change\0SUBSYSTEM=misc\0DEVNAME=vmclock0\0"
	     "VMCLOCK_GENERATION=2\0VMCLOCK_DISRUPTION_MARKER=2\0"
	     "VMCLOCK_NOTIFY_NS=5\0"),
	SEED("add@/devices/pci0000:00\0SUBSYSTEM=pci\0"),
	SEED("libudev\0\xfe\xed\xca\xfe"),
};

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

int main(int argc, char **argv)
{
	unsigned long iters = argc > 1 ? strtoul(argv[1], NULL, 0) : 200000;
	unsigned char buf[1024];
	unsigned long it;

	rng = argc > 2 ? strtoull(argv[2], NULL, 0) : 0x9e3779b97f4a7c15ULL;
	if (!rng)
		rng = 1;
	for (it = 0; it < iters; it++) {
		size_t which = rnd() % (sizeof(seeds) / sizeof(seeds[0]));
		size_t n = seeds[which].n, k, m;
		unsigned char *copy;

		memcpy(buf, seeds[which].s, n);
		m = rnd() % 8;
		for (k = 0; k < m; k++) {
			size_t pos = n ? rnd() % n : 0;
			static const char special[] = "\0=@/0123456789Z";

			switch (rnd() % 6) {
			case 0:
				buf[pos] ^= (unsigned char)(1u << (rnd() % 8));
				break;
			case 1:
				buf[pos] = (unsigned char)special[rnd() %
							  (sizeof(special) - 1)];
				break;
			case 2:
				n = pos;		/* truncate */
				break;
			case 3:
				if (n < sizeof(buf) - 1) {	/* insert */
					memmove(buf + pos + 1, buf + pos,
						n - pos);
					buf[pos] = (unsigned char)rnd();
					n++;
				}
				break;
			case 4:
				if (n + 64 < sizeof(buf)) {	/* duplicate */
					size_t len = rnd() % 64;

					if (len > n - pos)
						len = n - pos;
					memmove(buf + pos + len, buf + pos,
						n - pos);
					n += len;
				}
				break;
			default:
				if (n < sizeof(buf) - 1)	/* grow junk */
					buf[n++] = (unsigned char)rnd();
				break;
			}
		}
		copy = malloc(n ? n : 1);
		if (!copy)
			return 1;
		memcpy(copy, buf, n);
		LLVMFuzzerTestOneInput(copy, n);
		free(copy);
	}
	printf("ok - fuzz: %lu mutated uevents parsed without a fault\n",
	       iters);
	return 0;
}
#endif
