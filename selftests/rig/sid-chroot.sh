#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Build (once) a minimal sid chroot holding the compiler the 7.x kernel was
# built with. Only the chroot sees sid; the host's apt never does.
#   sid-chroot.sh DIR GCC_MAJOR
set -eu
dir=$1
gcc=gcc-$2
stamp=$dir/.vmgen-ready-2-$gcc
[ -e "$stamp" ] && exit 0
rm -rf "$dir"
mkdir -p "$(dirname "$dir")"
debootstrap --variant=minbase --include="$gcc,make,libc6-dev,libelf-dev,bc,kmod,dwarves" \
	sid "$dir.tmp" http://deb.debian.org/debian >"$dir.log" 2>&1 ||
	{ tail -20 "$dir.log"; exit 1; }
ln -sf "$gcc" "$dir.tmp/usr/bin/gcc"
mv "$dir.tmp" "$dir"
touch "$stamp"
