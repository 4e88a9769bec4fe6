#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Build the rig's emulated-device SSDTs from vmgen-emu.asl:
#   OUTDIR/vclk.aml  VMClock only
#   OUTDIR/vgen.aml  VMGenID only
#   OUTDIR/both.aml  both
# iasl needs -f for the "VMGENCTR" _HID; any other error fails the build.
set -eu

usage() { echo "usage: $0 OUTDIR" >&2; exit 2; }
[ $# -eq 1 ] || usage
command -v iasl >/dev/null 2>&1 || { echo "$0: iasl not found (acpica-tools)" >&2; exit 1; }

src=$(cd "$(dirname "$0")" && pwd)/vmgen-emu.asl
out=$1
mkdir -p "$out"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

build() {
	name=$1
	shift
	rm -f "$out/$name.aml"
	if ! iasl -f "$@" -p "$out/$name" "$src" >"$log" 2>&1; then
		cat "$log" >&2
		echo "$0: iasl failed for $name" >&2
		exit 1
	fi
	# Only the known _HID complaint (error 6035 on VMGENCTR) is allowed.
	bad=$(grep -E '^(Error|Warning)' "$log" | grep -v '^Error    6035 .*_HID suffix must be all hex digits' || true)
	if [ -n "$bad" ] || [ ! -s "$out/$name.aml" ]; then
		cat "$log" >&2
		echo "$0: unexpected iasl diagnostics for $name" >&2
		exit 1
	fi
	echo "$out/$name.aml"
}

build vclk -DEMU_VMCLOCK
build vgen -DEMU_VMGENID
build both -DEMU_VMCLOCK -DEMU_VMGENID
