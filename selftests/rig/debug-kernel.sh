#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Build the rig's debug guest kernel ("debug-6.12"): Debian's linux-source-6.12
# with KASAN, UBSAN, lockdep, DEBUG_ATOMIC_SLEEP, kmemleak, debug objects and
# the hung-task/soft-lockup detectors, on a minimal x86_64 configuration that
# has built in exactly what the rig's guests use (docs/reliability.md).
#
#   debug-kernel.sh            build unless the cached build matches; print
#                              the build directory (usable as KDIR)
#   debug-kernel.sh --config   only write and check the .config
#
# The tree lives outside the repository in $VMGEN_CACHE/debug-kernel
# (default /var/cache/vmgen). A stamp holds the hash of the configuration and
# of the source tarball: a warm run that finds it returns at once. Build times
# go to $VMGEN_CACHE/debug-kernel/build-time.{cold,incremental} ("# figure:"
# lines, see selftests/rig/figures.py).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${VMGEN_CACHE:-/var/cache/vmgen}
top=$cache/debug-kernel
src=$top/linux
jobs=${VMGEN_DEBUG_JOBS:-$(nproc)}

srcdir=$("$here/linux-source.sh" 6.12)
tarball=$srcdir/linux-source.tar.xz

# The configuration: allnoconfig with these forced (KCONFIG_ALLCONFIG), then
# every line is checked to have survived olddefconfig.
fragment() {
	cat <<'EOF'
CONFIG_LOCALVERSION="-vmgen-debug"
CONFIG_LOCALVERSION_AUTO=n
CONFIG_64BIT=y
CONFIG_SMP=y
CONFIG_PREEMPT=y
CONFIG_HZ_250=y
CONFIG_NO_HZ_IDLE=y
CONFIG_HIGH_RES_TIMERS=y
CONFIG_POSIX_TIMERS=y
CONFIG_MULTIUSER=y
CONFIG_SYSVIPC=y
CONFIG_FUTEX=y
CONFIG_EPOLL=y
CONFIG_SIGNALFD=y
CONFIG_TIMERFD=y
CONFIG_EVENTFD=y
CONFIG_SHMEM=y
CONFIG_PRINTK=y
CONFIG_PRINTK_TIME=y
CONFIG_BUG=y
CONFIG_KALLSYMS=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_MODULES=y
CONFIG_MODULE_UNLOAD=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
CONFIG_DEVTMPFS=y
CONFIG_TMPFS=y
CONFIG_PROC_FS=y
CONFIG_PROC_SYSCTL=y
CONFIG_SYSFS=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_PCI=y
CONFIG_PCI_MSI=y
CONFIG_ACPI=y
CONFIG_VIRTIO_MENU=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_CONSOLE=y
CONFIG_NET=y
CONFIG_UNIX=y
CONFIG_PTP_1588_CLOCK=y
CONFIG_VIRT_DRIVERS=n
CONFIG_VMGENID=n
CONFIG_DEBUG_KERNEL=y
CONFIG_DEBUG_FS=y
CONFIG_DEBUG_INFO_NONE=y
CONFIG_KASAN=y
CONFIG_KASAN_GENERIC=y
CONFIG_KASAN_INLINE=y
CONFIG_UBSAN=y
CONFIG_UBSAN_BOUNDS=y
CONFIG_UBSAN_SHIFT=y
CONFIG_UBSAN_BOOL=y
CONFIG_UBSAN_ENUM=y
CONFIG_PROVE_LOCKING=y
CONFIG_DEBUG_ATOMIC_SLEEP=y
CONFIG_DEBUG_LIST=y
CONFIG_DEBUG_OBJECTS=y
CONFIG_DEBUG_OBJECTS_FREE=y
CONFIG_DEBUG_OBJECTS_TIMERS=y
CONFIG_DEBUG_OBJECTS_WORK=y
CONFIG_DEBUG_KMEMLEAK=y
CONFIG_DEBUG_KMEMLEAK_AUTO_SCAN=n
CONFIG_DETECT_HUNG_TASK=y
CONFIG_SOFTLOCKUP_DETECTOR=y
EOF
}

# What the build depends on: the configuration, the source, the commands.
srcid=$(stat -c '%s %Y' "$tarball")
hash=$( (fragment; echo "$srcid"; echo "make all modules_install v1") |
	sha256sum | cut -c1-16)
stamp=$top/stamp

if [ "${1:-}" != --config ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$hash" ] &&
   [ -f "$src/arch/x86/boot/bzImage" ]; then
	echo "$src"
	exit 0
fi

t0=$(date +%s)
# The unpacked source is kept while the tarball stays the same: a changed
# configuration then rebuilds only what it affects ("incremental").
kind=incremental
if [ "$(cat "$top/source" 2>/dev/null)" != "$srcid" ]; then
	kind=cold
	rm -rf "$top"
	mkdir -p "$src"
	echo "debug-kernel: unpacking $tarball" >&2
	tar -xJf "$tarball" -C "$src" --strip-components=1
	echo "$srcid" >"$top/source"
fi
rm -f "$stamp"
t1=$(date +%s)

fragment >"$top/fragment.config"
make -s -C "$src" KCONFIG_ALLCONFIG="$top/fragment.config" allnoconfig >&2
make -s -C "$src" olddefconfig >&2
missing=0
while IFS= read -r line; do
	case $line in
	*=n) want="# ${line%=n} is not set" ;;
	*) want=$line ;;
	esac
	if ! grep -qxF "$want" "$src/.config"; then
		case $line in
		*=n) grep -q "^${line%=n}=" "$src/.config" || continue ;;
		esac
		echo "debug-kernel: $line did not survive olddefconfig" >&2
		missing=1
	fi
done <"$top/fragment.config"
[ $missing = 0 ] || exit 1
[ "${1:-}" = --config ] && { echo "$src"; exit 0; }

echo "debug-kernel: building with -j$jobs (log: $top/build.log)" >&2
if ! make -C "$src" -j"$jobs" all >"$top/build.log" 2>&1; then
	tail -40 "$top/build.log" >&2
	exit 1
fi
# modules.builtin & co. for the guest's modprobe (no modules are built).
make -C "$src" -s INSTALL_MOD_PATH="$top/mods" modules_install >&2
t2=$(date +%s)
{
	echo "# $kind build: unpack $((t1 - t0)) s, config+build $((t2 - t1)) s," \
		"total $((t2 - t0)) s with -j$jobs on $(nproc) CPUs" \
		"(load average at the end: $(cut -d' ' -f1-3 /proc/loadavg))"
	echo "# figure: debug_kernel.${kind}_build_s=$((t2 - t0))"
	echo "# figure: debug_kernel.unpack_s=$((t1 - t0))"
	echo "# figure: debug_kernel.jobs=$jobs"
	echo "# figure: debug_kernel.cpus=$(nproc)"
} >"$top/build-time.$kind"
cp "$top/build-time.$kind" "$top/build-time"
cat "$top/build-time" >&2
echo "$hash" >"$stamp"
echo "$src"
