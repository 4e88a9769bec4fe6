#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# DKMS packaging test, on the host, in a throwaway DKMS tree: nothing under
# /usr/src, /var/lib/dkms or /lib/modules is touched.
#
#   - "make dkms-source" lays out the module sources with the version
#     from VERSION in dkms.conf;
#   - dkms add;
#   - for each kernel (default 5.10 6.1 6.12; DKMS_KERNELS to change):
#     "dkms autoinstall", which is what the kernel's postinst hook runs,
#     against the rig's cached Debian header tree (fetched by
#     selftests/rig/kernels.py if missing), then both modules installed
#     with the kernel's vermagic;
#   - dkms remove.
# 7.x is left out: its headers need gcc-16, which only the rig's sid chroot
# has. Needs dkms (selftests/rig/setup-host.sh). TAP output; exit status 1
# if any test failed.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
kernels=${DKMS_KERNELS:-5.10 6.1 6.12}
modules="vmgen_vmclock vmgen_vmgenid"

tmp=$(mktemp -d /tmp/vmgen-dkms-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# tap, skip, $n and $failed
. "$top/selftests/lib/tap.sh"


if ! command -v dkms >/dev/null; then
	tap 1 "dkms installed" "install dkms (selftests/rig/setup-host.sh)"
	finish
fi

version=$(cat "$top/VERSION")
src=$tmp/src
# The install tree is a root for "depmod -b"; dkms's own depmod would look
# at the host's /lib/modules.
modroot=$tmp/modroot
dkms_opts=(--dkmstree "$tmp/dkms" --sourcetree "$src"
	--installtree "$modroot/lib/modules" --no-depmod)
mkdir -p "$tmp/dkms" "$src" "$modroot/lib/modules"

# --- make dkms-source ---
out=$(make -s -C "$top" dkms-source DESTDIR="$tmp/root" 2>&1)
rc=$?
pkg=$tmp/root/usr/src/vmgen-$version
if [ $rc -eq 0 ]; then
	for f in dkms.conf Kbuild kmod/Kbuild kmod/compat/compat.h \
		kmod/compat/probes.mk kmod/vmgen_vmclock.c kmod/vmgen_vmgenid.c \
		include/uapi/vmgen/vmclock-abi.h; do
		[ -f "$pkg/$f" ] || { out="missing $f"; rc=1; }
	done
	grep -qx "PACKAGE_VERSION=\"$version\"" "$pkg/dkms.conf" ||
		{ out="dkms.conf: PACKAGE_VERSION is not \"$version\""; rc=1; }
	stray=$(find "$pkg" -name '*.o' -o -name '*.ko' -o -name '*.mod.c' -o -name '.*.cmd')
	[ -z "$stray" ] || { out="build products copied: $stray"; rc=1; }
fi
echo "# vmgen-$version"
tap $rc "make dkms-source" "$out"
[ $rc -eq 0 ] || finish
mv "$pkg" "$src/"

out=$(dkms add -m vmgen -v "$version" "${dkms_opts[@]}" 2>&1)
tap $? "dkms add" "$out"

for series in $kernels; do
	if ! info=$(cd "$top/selftests/rig" && python3 kernels.py info "$series" 2>&1); then
		tap 1 "$series: kernel headers" "$info"
		continue
	fi
	rel=$(sed -n 's/^RELEASE=//p' <<<"$info")
	kdir=$(sed -n 's/^KDIR=//p' <<<"$info")
	gcc_major=$(sed -n 's/^GCC_MAJOR=//p' <<<"$info")
	arch=$(sed -n 's/^ARCH=//p' <<<"$info")
	if [ -n "$arch" ] && [ "$arch" != "$(dpkg --print-architecture)" ]; then
		skip "$series: dkms autoinstall" "$arch kernel"
		continue
	fi
	# The header tree calls gcc-N, the kernel's own compiler. When the
	# host lacks it, use the host gcc, as the rig does.
	path=$PATH
	note=
	if [ -n "$gcc_major" ] && ! command -v "gcc-$gcc_major" >/dev/null; then
		if [ "$gcc_major" -gt "$(gcc -dumpversion | cut -d. -f1)" ]; then
			skip "$series: dkms autoinstall" "needs gcc-$gcc_major"
			continue
		fi
		mkdir -p "$tmp/cc-$series"
		ln -sf "$(command -v gcc)" "$tmp/cc-$series/gcc-$gcc_major"
		path=$tmp/cc-$series:$PATH
		note=", host gcc for gcc-$gcc_major"
	fi
	# dkms installs only into a kernel's existing module directory.
	mkdir -p "$modroot/lib/modules/$rel"
	out=$(PATH=$path dkms autoinstall -k "$rel" --kernelsourcedir "$kdir" \
		"${dkms_opts[@]}" 2>&1)
	rc=$?
	log=$tmp/dkms/vmgen/$version/$rel/$(uname -m)/log/make.log
	[ -f "$log" ] || log=$tmp/dkms/vmgen/$version/build/make.log
	status=$(dkms status -m vmgen -v "$version" -k "$rel" "${dkms_opts[@]}" 2>&1)
	grep -q ": installed" <<<"$status" || rc=1
	[ $rc -eq 0 ] || out="$out"$'\n'"$status"$'\n'"$(cat "$log" 2>/dev/null)"
	echo "# $series: $rel$note"
	tap $rc "$series: dkms autoinstall" "$out"
	[ $rc -eq 0 ] || continue

	rc=0
	out=
	for m in $modules; do
		ko=$modroot/lib/modules/$rel/updates/dkms/$m.ko
		if [ ! -f "$ko" ]; then
			out="$out missing updates/dkms/$m.ko;"
			rc=1
		elif ! modinfo -F vermagic "$ko" | grep -q "^$rel "; then
			out="$out $m.ko: vermagic $(modinfo -F vermagic "$ko");"
			rc=1
		fi
	done
	tap $rc "$series: both modules in updates/dkms, with the kernel's vermagic" "$out"

	# depmod over what dkms installed: the device aliases udev loads by.
	out=$(depmod -b "$modroot" "$rel" 2>&1)
	rc=$?
	alias=$modroot/lib/modules/$rel/modules.alias
	for a in "acpi\*:AMZNC10C:\* vmgen_vmclock" "of:N\*T\*Camazon,vmclock vmgen_vmclock" \
		"acpi\*:QEMUVGID:\* vmgen_vmgenid" "of:N\*T\*Cmicrosoft,vmgenid vmgen_vmgenid"; do
		grep -q "^alias $a\$" "$alias" 2>/dev/null ||
			{ out="$out"$'\n'"no \"alias $a\" in modules.alias"; rc=1; }
	done
	tap $rc "$series: depmod: ACPI and DT aliases of both modules" "$out"
done

out=$(dkms remove -m vmgen -v "$version" --all "${dkms_opts[@]}" 2>&1)
rc=$?
[ -z "$(find "$modroot" -name '*.ko')" ] || { out="$out"$'\n'"modules left behind"; rc=1; }
tap $rc "dkms remove --all" "$out"

finish
