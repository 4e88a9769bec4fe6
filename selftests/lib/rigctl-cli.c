// SPDX-License-Identifier: GPL-2.0
/*
 * rigctl: send one control request to the vmgen test rig's host from a
 * guest shell script.
 *
 *   rigctl emu vmclock-event count=3
 *
 * Prints the reply ("ok ..." or "err ..."). Exit status: 0 ok, 1 err or
 * transport failure, 2 not running under the rig, 3 usage.
 */
#include <stdio.h>
#include <string.h>

#include "rigctl.h"

enum {
	EXIT_OK = 0,
	EXIT_ERR = 1,
	EXIT_UNAVAILABLE = 2,
	EXIT_USAGE = 3,
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: rigctl TARGET [WORDS...]\n"
		"Sends \"TARGET WORDS...\" to the vmgen rig host over the vmgen.ctl\n"
		"virtio port and prints the reply.\n"
		"  rigctl ping\n"
		"  rigctl emu vmclock-event count=3\n"
		"Exit status: 0 ok, 1 err, 2 not under the rig, 3 usage.\n");
}

int main(int argc, char **argv)
{
	char request[3072] = "";
	char reply[4096];
	size_t used = 0;
	int ret;
	int i;

	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(stdout);
		return EXIT_OK;
	}

	for (i = 1; i < argc; i++) {
		ret = snprintf(request + used, sizeof(request) - used, "%s%s",
			       i > 1 ? " " : "", argv[i]);
		if (ret < 0 || (size_t)ret >= sizeof(request) - used) {
			fprintf(stderr, "rigctl: request too long\n");
			return EXIT_USAGE;
		}
		used += ret;
	}

	ret = rigctl(reply, sizeof(reply), "%s", request);
	if (ret == RIGCTL_UNAVAILABLE) {
		fprintf(stderr, "rigctl: %s\n", reply);
		return EXIT_UNAVAILABLE;
	}
	printf("%s\n", reply);
	return ret == 0 ? EXIT_OK : EXIT_ERR;
}
