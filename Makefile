# SPDX-License-Identifier: GPL-2.0
#
# Thin wrapper: the kernel side is built by Kbuild (see Kbuild, kmod/Kbuild),
# the userspace by user/Makefile, the tests by selftests/.

KDIR ?= /lib/modules/$(shell uname -r)/build
PREFIX ?= /usr
DESTDIR ?=
# arm64-*: the same Debian cloud kernels for arm64, device tree guests
# under qemu-system-aarch64 (docs/rig.md, "arm64"; about 2 minutes).
# debug-6.12 (not in the default: make check-debug): a KASAN/UBSAN/lockdep/
# kmemleak kernel built here (once, ~6 minutes) for the module, stress and
# hostile-host scenarios (docs/reliability.md).
KERNELS ?= 5.10,6.1,6.12,7.x,arm64-6.1,arm64-6.12
SCENARIOS ?=
VMGEN_CACHE ?= /var/cache/vmgen
export VMGEN_CACHE

LINUX_SRC = $(shell selftests/rig/linux-source.sh)
LINT_SERIES ?= 6.12

.PHONY: all modules user install modules_install user_install lint \
	check check-systemd check-debug selftests demo bench clean

all: modules user

modules:
	@test -d "$(KDIR)" || { echo "vmgen: no kernel build directory at $(KDIR);" \
		"install the headers or pass KDIR=/path/to/headers" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

# Debian's header trees answer "make kernelrelease" (and kernel.release)
# without their ABI suffix; UTS_RELEASE has the name the kernel reports.
KRELEASE = $(shell sed -n 's/^\#define UTS_RELEASE "\(.*\)"/\1/p' \
	$(KDIR)/include/generated/utsrelease.h 2>/dev/null | grep . || uname -r)

modules_install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(KRELEASE)

user:
	$(MAKE) -C user

user_install: user
	$(MAKE) -C user install PREFIX=$(PREFIX) DESTDIR=$(DESTDIR)

install: modules_install user_install

# checkpatch.pl comes from Debian's linux-source package; sparse runs
# against a cached Debian header tree unless KDIR is given and exists.
lint:
	selftests/rig/setup-host.sh
	selftests/lint.sh

selftests:
	$(MAKE) -C selftests

# The README's test command: installs what it needs, runs the host tests
# and the whole kernel matrix. KERNELS=6.12 runs one kernel.
check:
	selftests/check.sh --kernels $(KERNELS) $(if $(SCENARIOS),--scenarios $(SCENARIOS))

# Only the end-to-end test with real parts (also the 6.12 leg's scenario
# systemd-guest of make check): the packages in a Debian bookworm image
# booted by systemd, a snapshot, a restored clone (docs/rig.md, "The
# systemd guest").
check-systemd:
	selftests/systemd-guest.sh

# The module scenarios and the stress/hostile ones on a debug kernel (KASAN,
# UBSAN, lockdep, kmemleak, ...) built from Debian's linux-source-6.12 and
# cached in $(VMGEN_CACHE)/debug-kernel: docs/reliability.md.
check-debug:
	selftests/check-debug.sh $(if $(SCENARIOS),--scenarios $(SCENARIOS))

# The README's first command: boot a guest with both modules, vmgend and
# the example hooks, snapshot it, restore three clones, show what ran.
demo:
	selftests/demo.sh

# Every way to learn of a restore, side by side, in one run on the rig
# (TCG): prints the table, writes build/bench/ and refreshes
# docs/benchmarks.md and docs/benchmarks.svg. About 4 minutes warm.
bench:
	selftests/bench.sh

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || true
	$(MAKE) -C user clean
	$(MAKE) -C selftests clean
	rm -rf build

# --- DKMS and Debian packages ---
# One version for everything: the VERSION file (dkms.conf carries a
# marker that dkms-source and dh_dkms -V replace; debian/changelog must
# agree, which selftests/deb-test.sh checks).
VMGEN_VERSION := $(shell cat $(CURDIR)/VERSION)
DKMS_SRC = $(DESTDIR)/usr/src/vmgen-$(VMGEN_VERSION)
# With KDIR given, dkms builds for that tree's kernel; else for the running
# one.
DKMS_KREL = $(KRELEASE)
DKMS_KFLAGS = $(if $(filter-out file,$(origin KDIR)),-k $(DKMS_KREL) --kernelsourcedir $(KDIR))

.PHONY: dkms-source dkms-install dkms-remove deb

# The module sources, as dkms wants them under /usr/src/vmgen-VERSION.
dkms-source:
	rm -rf $(DKMS_SRC)
	install -d $(DKMS_SRC)
	find Kbuild VERSION kmod include -type f \( -name Kbuild -o -name VERSION \
		-o -name '*.[ch]' -o -name '*.mk' \) ! -name '*.mod.c' -print0 | \
		xargs -0 cp --parents -t $(DKMS_SRC)
	sed 's/#MODULE_VERSION#/$(VMGEN_VERSION)/' dkms.conf >$(DKMS_SRC)/dkms.conf
	chmod -R u=rwX,go=rX $(DKMS_SRC)

# Add, build and install through dkms, which then rebuilds the modules for
# every new kernel. Without dkms this only installs the sources.
dkms-install: dkms-source
	@if ! command -v dkms >/dev/null; then \
		echo "vmgen: dkms is not installed: sources are in $(DKMS_SRC)" >&2; \
		exit 0; \
	fi; \
	set -ex; \
	if dkms status -m vmgen -v $(VMGEN_VERSION) | grep -q .; then \
		dkms remove -m vmgen -v $(VMGEN_VERSION) --all; \
	fi; \
	dkms add -m vmgen -v $(VMGEN_VERSION); \
	dkms build -m vmgen -v $(VMGEN_VERSION) $(DKMS_KFLAGS); \
	dkms install -m vmgen -v $(VMGEN_VERSION) $(DKMS_KFLAGS)

dkms-remove:
	@if command -v dkms >/dev/null && \
	    dkms status -m vmgen -v $(VMGEN_VERSION) | grep -q .; then \
		set -x; dkms remove -m vmgen -v $(VMGEN_VERSION) --all; \
	fi
	rm -rf $(DKMS_SRC)

# Binary packages (vmgen-dkms, vmgen-tools, libvmgen0, libvmgen-dev) into
# build/deb/. Build dependencies: selftests/rig/setup-host.sh installs them.
deb:
	dpkg-buildpackage -b -us -uc
	mkdir -p build/deb
	mv ../vmgen_$(VMGEN_VERSION)_*.buildinfo ../vmgen_$(VMGEN_VERSION)_*.changes build/deb/
	mv $(foreach p,vmgen-dkms vmgen-tools libvmgen0 libvmgen-dev,../$(p)_$(VMGEN_VERSION)_*.deb) \
		build/deb/
	for p in vmgen-tools libvmgen0; do \
		for f in ../$${p}-dbgsym_$(VMGEN_VERSION)_*.deb; do \
			if [ -e "$$f" ]; then mv "$$f" build/deb/; fi; \
		done; \
	done
