#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Install the host tools the rig needs, on a fresh Debian 12 machine.
# Only bookworm and bookworm-backports are ever used by the host's apt;
# kernels from other suites are downloaded (not installed) by kernels.py.
set -eu
export DEBIAN_FRONTEND=noninteractive
PKGS="busybox-static acpica-tools dwarves debootstrap libkmod-dev sparse cpio
xz-utils zstd kmod bc flex bison libelf-dev libssl-dev gcc make libc6-dev
perl python3 iproute2 device-tree-compiler
dt-schema dkms dh-dkms debhelper dpkg-dev lintian pkg-config
gcc-aarch64-linux-gnu libc6-dev-arm64-cross
clang libclang-rt-dev valgrind"
# clang, libclang-rt-dev: bookworm's default clang (14); libclang-rt-dev
# pulls libclang-rt-14-dev, which has the libFuzzer and sanitizer runtimes
# that make -C user fuzz-check links with.  valgrind: make -C user valgrind.
need=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		need="$need $p"
done
qemu_ok() {
	command -v qemu-system-x86_64 >/dev/null &&
		qemu-system-x86_64 -device help 2>/dev/null | grep -q '"vmclock"'
}
# The arm64 rig (docs/rig.md, "arm64") wants QEMU 10's virt machine with a
# second UART: bookworm-backports' qemu-system-arm.
qemu_arm_ok() {
	v=$(qemu-system-aarch64 --version 2>/dev/null |
		sed -n 's/^QEMU emulator version \([0-9]*\).*/\1/p')
	[ "${v:-0}" -ge 10 ]
}
if [ -z "$need" ] && qemu_ok && qemu_arm_ok; then
	exit 0
fi
bpo=/etc/apt/sources.list.d/vmgen-bookworm-backports.sources
if ! grep -rqs 'bookworm-backports' /etc/apt/sources.list /etc/apt/sources.list.d/; then
	cat >"$bpo" <<EOT
Types: deb
URIs: http://deb.debian.org/debian
Suites: bookworm-backports
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOT
fi
apt-get update -q >/dev/null
if [ -n "$need" ]; then
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $need >/dev/null
fi
if ! qemu_ok || ! qemu_arm_ok; then
	# QEMU 10 (with -device vmclock) comes from bookworm-backports.
	apt-get install -y -q --no-install-recommends -t bookworm-backports \
		qemu-system-x86 qemu-system-arm >/dev/null
fi
qemu_ok || { echo "setup-host: QEMU with -device vmclock is missing" >&2; exit 1; }
qemu_arm_ok || { echo "setup-host: qemu-system-aarch64 10 is missing" >&2; exit 1; }
