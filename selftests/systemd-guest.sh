#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make check-systemd: vmgen's Debian packages in a Debian bookworm system
# booted by systemd under QEMU, snapshot and restore of a clone
# (selftests/rig/systemd_guest.py; docs/rig.md, "The systemd guest").
# Ends with "N passed, N failed". Arguments go to systemd_guest.py.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# the rig prints the wall time just before its summary, the last line
export VMGEN_WALL_START=$(date +%s) VMGEN_WALL_LABEL="make check-systemd"
echo "== setup: host packages"
selftests/rig/setup-host.sh
selftests/rig/linux-source.sh >/dev/null
echo "== build: emulator, rigctl"
make -s -C selftests
echo "== run"
rc=0
python3 selftests/rig/systemd_guest.py "$@" || rc=$?
exit $rc
