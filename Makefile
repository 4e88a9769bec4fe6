# SPDX-License-Identifier: GPL-2.0
#
# Thin wrapper: the kernel side is built by Kbuild (see Kbuild, kmod/Kbuild),
# the userspace by user/Makefile, the tests by selftests/.

KDIR ?= /lib/modules/$(shell uname -r)/build
PREFIX ?= /usr
DESTDIR ?=
KERNELS ?= 5.10,6.1,6.12,7.x
SCENARIOS ?=
VMGEN_CACHE ?= /var/cache/vmgen
export VMGEN_CACHE

LINUX_SRC = $(shell selftests/rig/linux-source.sh)
LINT_SERIES ?= 6.12

.PHONY: all modules user install modules_install user_install lint \
	check selftests demo clean

all: modules user

modules:
	@test -d "$(KDIR)" || { echo "vmgen: no kernel build directory at $(KDIR);" \
		"install the headers or pass KDIR=/path/to/headers" >&2; exit 1; }
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules

modules_install: modules
	$(MAKE) -C $(KDIR) M=$(CURDIR) modules_install
	depmod -a $(shell $(MAKE) -s -C $(KDIR) kernelrelease 2>/dev/null || uname -r)

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

demo:
	@echo "vmgen: 'make demo' is not implemented yet: it arrives with the" \
		"demo issue (boot a guest, snapshot it, restore clones, show the hooks)." >&2
	@exit 1

clean:
	$(MAKE) -C $(KDIR) M=$(CURDIR) clean 2>/dev/null || true
	$(MAKE) -C user clean
	$(MAKE) -C selftests clean
	rm -rf build
