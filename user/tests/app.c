// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * An application using nothing but <vmgen/libvmgen.h>: proves the header is
 * self-contained and the static library links on its own.
 *   app-static [VMCLOCK_PAGE]
 */
#include <stdio.h>

#include <vmgen/libvmgen.h>

int main(int argc, char **argv)
{
	struct vmgen_vmclock_counters c;
	struct vmgen_vmclock *vc;

	printf("libvmgen %s\n", vmgen_version());
	if (argc < 2)
		return 0;
	vc = vmgen_vmclock_open(argv[1]);
	if (!vc) {
		perror(argv[1]);
		return 1;
	}
	if (vmgen_vmclock_read(vc, &c) < 0) {
		perror("vmgen_vmclock_read");
		vmgen_vmclock_close(vc);
		return 1;
	}
	printf("generation=%llu disruption_marker=%llu\n",
	       (unsigned long long)c.generation,
	       (unsigned long long)c.disruption_marker);
	vmgen_vmclock_close(vc);
	return 0;
}
