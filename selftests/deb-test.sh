#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Debian packaging test, on the host: "make deb" in a scratch copy of the
# tree (the working tree and its parent directory stay untouched), then
#   - the four packages exist and hold what docs/install.md says;
#   - vmgen-dkms's /usr/src tree builds with dkms against a cached Debian
#     header tree (DEB_TEST_KERNEL, default 6.12), in a throwaway DKMS tree;
#   - lintian on the .changes: every tag is listed; errors fail the test,
#     warnings and info tags do not.
# The build skips user/'s unit tests (DEB_BUILD_OPTIONS=nocheck; they are
# "make -C user check"), unless DEB_BUILD_OPTIONS is set.
# Needs the build dependencies in debian/control and lintian
# (selftests/rig/setup-host.sh). TAP output; exit status 1 if any failed.
set -u

top=$(cd "$(dirname "$0")/.." && pwd)
kernel=${DEB_TEST_KERNEL:-6.12}
export DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS-nocheck}

tmp=$(mktemp -d /tmp/vmgen-deb-test.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

# tap, skip, $n and $failed
. "$top/selftests/lib/tap.sh"

for t in dpkg-buildpackage dpkg-checkbuilddeps dh lintian dkms; do
	if ! command -v "$t" >/dev/null; then
		tap 1 "tools: $t installed" "run selftests/rig/setup-host.sh"
		finish
	fi
done

version=$(cat "$top/VERSION")
changelog=$(cd "$top" && dpkg-parsechangelog -S Version 2>&1)
echo "# version $version"
[ "$changelog" = "$version" ]
tap $? "debian/changelog version is VERSION" \
	"debian/changelog says $changelog, VERSION says $version"

out=$(cd "$top" && dpkg-checkbuilddeps 2>&1)
tap $? "build dependencies installed" "$out"

# --- make deb, in a copy ---
src=$tmp/vmgen
mkdir -p "$src"
tar -C "$top" --exclude=./.git --exclude=./build --exclude=./user/build --exclude=./user/build-asan \
	--exclude='*.o' --exclude='*.ko' --exclude='.*.cmd' -cf - . |
	tar -C "$src" -xf -
out=$(make -C "$src" deb 2>&1)
rc=$?
tap $rc "make deb" "$out"
[ $rc -eq 0 ] || finish
debs=$src/build/deb

# has PACKAGE PATH...: each path (a regex over "dpkg -c" names) is in it.
has() {
	local pkg=$1 list p missing=
	shift
	local deb=("$debs/${pkg}_${version}_"*.deb)
	if [ ! -f "${deb[0]}" ]; then
		tap 1 "$pkg: built, with its files" "no ${pkg}_${version}_*.deb in build/deb"
		return
	fi
	list=$(dpkg-deb -c "${deb[0]}" | awk '{ print $6 }' | sed 's|^\./|/|')
	for p in "$@"; do
		grep -Eqx "$p" <<<"$list" || missing="$missing $p"
	done
	[ -z "$missing" ]
	tap $? "$pkg: built, with its files" "missing:$missing"
}
has vmgen-dkms "/usr/src/vmgen-$version/dkms.conf" \
	"/usr/src/vmgen-$version/Kbuild" \
	"/usr/src/vmgen-$version/kmod/vmgen_vmclock.c" \
	"/usr/src/vmgen-$version/kmod/vmgen_vmgenid.c" \
	"/usr/src/vmgen-$version/kmod/compat/compat.h" \
	"/usr/src/vmgen-$version/include/uapi/vmgen/vmclock-abi.h" \
	"/usr/share/doc/vmgen-dkms/examples/vmgen-vmclock.conf" \
	"/usr/lib/modules-load.d/vmgen.conf"
has vmgen-tools /usr/sbin/vmgend /usr/bin/vmgenctl \
	"/lib/systemd/system/vmgend.service" \
	"/lib/udev/rules.d/60-vmgen-vmclock.rules" \
	"/lib/udev/rules.d/60-vmgen-vmgenid.rules" \
	"/usr/share/man/man8/vmgend.8.gz" "/usr/share/man/man8/vmgenctl.8.gz" \
	"/usr/share/vmgen/examples/hooks.d/.+"
has libvmgen0 "/usr/lib/[^/]+/libvmgen.so.0"
has libvmgen-dev /usr/include/vmgen/libvmgen.h \
	"/usr/lib/[^/]+/libvmgen.so" "/usr/lib/[^/]+/libvmgen.a" \
	"/usr/lib/[^/]+/pkgconfig/vmgen.pc"

# --- vmgen-dkms's sources build, as its postinst would have dkms do ---
dkms_deb=$debs/vmgen-dkms_${version}_all.deb
if [ -f "$dkms_deb" ] && info=$(cd "$top/selftests/rig" && python3 kernels.py info "$kernel" 2>&1); then
	rel=$(sed -n 's/^RELEASE=//p' <<<"$info")
	kdir=$(sed -n 's/^KDIR=//p' <<<"$info")
	dpkg-deb -x "$dkms_deb" "$tmp/root"
	grep -qx "PACKAGE_VERSION=\"$version\"" "$tmp/root/usr/src/vmgen-$version/dkms.conf"
	tap $? "vmgen-dkms: dkms.conf has the package version"
	opts=(-m vmgen -v "$version" --dkmstree "$tmp/dkms" --sourcetree "$tmp/root/usr/src")
	mkdir -p "$tmp/dkms"
	out=$(dkms add "${opts[@]}" 2>&1 &&
		dkms build "${opts[@]}" -k "$rel" --kernelsourcedir "$kdir" 2>&1)
	rc=$?
	for m in vmgen_vmclock vmgen_vmgenid; do
		[ -f "$tmp/dkms/vmgen/$version/$rel/$(uname -m)/module/$m.ko" ] || rc=1
	done
	tap $rc "vmgen-dkms: dkms build for $kernel" "$out" \
		"$(cat "$tmp/dkms/vmgen/$version/build/make.log" 2>/dev/null)"
else
	tap 1 "vmgen-dkms: dkms build for $kernel" "${info:-no vmgen-dkms package}"
fi

# --- lintian ---
changes=("$debs"/vmgen_"${version}"_*.changes)
out=$(lintian --display-info --pedantic --display-experimental \
	--tag-display-limit 0 "${changes[0]}" 2>&1 |
	grep -v '^running with root privileges')
rc=$?
# grep's status is 1 for no output: that is lintian being clean.
[ $rc -le 1 ] || { tap 1 "lintian ran" "$out"; finish; }
for level in E W I P X; do
	count=$(grep -c "^$level: " <<<"$out")
	echo "# lintian $level: $count"
done
if [ -n "$out" ]; then
	printf '%s\n' "$out" | sed 's/^/#   /'
fi
! grep -q '^E: ' <<<"$out"
tap $? "lintian: no errors" "$(grep '^E: ' <<<"$out")"

finish
