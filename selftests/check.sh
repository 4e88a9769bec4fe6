#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make check: set up a fresh machine, build, run host tests and the kernel
# matrix. Ends with "N passed, N failed". Arguments go to rig/run.py.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# the rig prints the wall time just before its summary, the last line
export VMGEN_WALL_START=$(date +%s) VMGEN_WALL_LABEL="make check"
selftests/prepare.sh
echo "== run"
rc=0
python3 selftests/rig/run.py "$@" || rc=$?
exit $rc
