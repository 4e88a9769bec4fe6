#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# The systemd guest's base root file system, built once and cached:
#
#     rootfs.sh            print the path of the cached tarball (build it
#                          first if it is missing)
#     rootfs.sh --key      print only the cache key
#
# A debootstrap of Debian bookworm with systemd as init, udev, D-Bus, dkms
# and its compiler, then Debian's 6.12 cloud kernel and its headers from
# bookworm-backports installed inside it (initramfs-tools makes the
# initrd there). Only the chroot's apt sees bookworm-backports' kernel;
# the host's apt is not used.
#
# The tarball is $VMGEN_CACHE/systemd-guest/rootfs-KEY.tar.zst, KEY a hash
# of this script (package lists, configuration): edit the script and the
# next run builds a new one. Older tarballs are removed.
set -eu

cache=${VMGEN_CACHE:-/var/cache/vmgen}/systemd-guest
mirror=${VMGEN_DEBIAN_MIRROR:-http://deb.debian.org/debian}

# Packages of the base system (debootstrap --include, bookworm) and of the
# kernel (bookworm-backports). Part of the key, as is everything below.
BASE_PKGS="systemd systemd-sysv udev dbus kmod procps iproute2 dkms gcc make
libc6-dev initramfs-tools zstd"
KERNEL_PKGS="linux-image-cloud-amd64 linux-headers-cloud-amd64"

key=$(sha256sum "$0" | cut -c1-16)
if [ "${1:-}" = --key ]; then
	echo "$key"
	exit 0
fi
tarball=$cache/rootfs-$key.tar.zst
if [ -s "$tarball" ]; then
	echo "$tarball"
	exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ -s "$tarball" ]; then
	echo "$tarball"
	exit 0
fi

work=$cache/build-$key
logf=$cache/build-$key.log
rm -rf "$work"
: >"$logf"
echo "systemd-guest: building the cached root file system (log: $logf)" >&2
fail() {
	echo "systemd-guest: $1; the end of $logf:" >&2
	tail -n 30 "$logf" >&2
	exit 1
}

# chroot_run CMD...: run CMD in the chroot with /proc, /sys and /dev
# mounted in a private mount namespace (they go away with it).
chroot_run() {
	unshare --mount --propagation private sh -eu -c '
		r=$1; shift
		mount -t proc proc "$r/proc"
		mount -t sysfs sysfs "$r/sys"
		mount --rbind /dev "$r/dev"
		mount -t tmpfs tmpfs "$r/tmp"
		mount -t tmpfs tmpfs "$r/run"
		exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
			DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root "$@"
	' chroot_run "$work" "$@"
}

include=$(echo $BASE_PKGS | tr ' ' ,)
t0=$(date +%s)
debootstrap --variant=minbase --include="$include" bookworm "$work" \
	"$mirror" >>"$logf" 2>&1 || fail "debootstrap failed"
echo "systemd-guest: debootstrap: $(($(date +%s) - t0)) s" >&2

# No service may start in the chroot.
printf '#!/bin/sh\nexit 101\n' >"$work/usr/sbin/policy-rc.d"
chmod 755 "$work/usr/sbin/policy-rc.d"
cat >"$work/etc/apt/sources.list" <<EOT
deb $mirror bookworm main
deb $mirror bookworm-backports main
EOT
cat >"$work/etc/apt/apt.conf.d/90vmgen-test" <<EOT
APT::Install-Recommends "false";
APT::Install-Suggests "false";
EOT
t0=$(date +%s)
# shellcheck disable=SC2086
chroot_run sh -c "apt-get -q update &&
	apt-get -q -y install -t bookworm-backports $KERNEL_PKGS" \
	>>"$logf" 2>&1 || fail "the kernel did not install"
echo "systemd-guest: kernel: $(($(date +%s) - t0)) s" >&2

rel=$(cd "$work/lib/modules" && ls)
[ "$(echo "$rel" | wc -w)" = 1 ] || fail "expected one kernel, found: $rel"
[ -d "$work/usr/src/linux-headers-$rel" ] || fail "no headers for $rel"
[ -f "$work/boot/initrd.img-$rel" ] || fail "no initrd for $rel"

# The guest: a serial console owned by the test (no getty), no fsck, a
# fixed hostname, nothing periodic.
cat >"$work/etc/fstab" <<EOT
/dev/vda / ext4 rw,noatime 0 0
EOT
echo vmgen-guest >"$work/etc/hostname"
printf '127.0.0.1 localhost\n127.0.1.1 vmgen-guest\n' >"$work/etc/hosts"
: >"$work/etc/machine-id"
mkdir -p "$work/var/log/journal"
for u in getty@tty1.service serial-getty@ttyS0.service \
	apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
	fstrim.timer dpkg-db-backup.timer systemd-tmpfiles-clean.timer; do
	ln -sf /dev/null "$work/etc/systemd/system/$u"
done
chroot_run sh -c 'apt-get clean; rm -rf /var/lib/apt/lists/*' >>"$logf" 2>&1

tar -C "$work" -I 'zstd -T0' --numeric-owner --xattrs --xattrs-include='*' \
	-cf "$tarball.tmp" . || fail "tar failed"
mv "$tarball.tmp" "$tarball"
rm -rf "$work"
for old in "$cache"/rootfs-*.tar.zst "$cache"/build-*.log; do
	case $old in
	"$tarball" | "$logf") ;;
	*) rm -f "$old" ;;
	esac
done
echo "systemd-guest: cached $tarball ($(du -h "$tarball" | cut -f1))" >&2
echo "$tarball"
