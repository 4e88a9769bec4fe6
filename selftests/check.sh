#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make check: set up a fresh machine, build, run host tests and the kernel
# matrix. Ends with "N passed, N failed". Arguments go to rig/run.py.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t0=$(date +%s)
selftests/prepare.sh
echo "== run"
rc=0
python3 selftests/rig/run.py "$@" || rc=$?
echo "make check: $(($(date +%s) - t0)) s wall"
exit $rc
