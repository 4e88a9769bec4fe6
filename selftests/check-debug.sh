#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make check-debug: the module scenarios (ON_DEBUG in
# selftests/rig/scenarios_stress.py) and the stress/hostile scenarios on
# the debug kernel (KASAN, UBSAN, lockdep, DEBUG_ATOMIC_SLEEP, kmemleak,
# hung-task and soft-lockup detectors), built once from Debian's
# linux-source-6.12 and cached in $VMGEN_CACHE/debug-kernel
# (selftests/rig/debug-kernel.sh, docs/reliability.md). Ends with
# "N passed, N failed". Arguments go to rig/run.py (e.g. --scenarios a,b).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
# the rig prints the wall time just before its summary, the last line
export VMGEN_WALL_START=$(date +%s) VMGEN_WALL_LABEL="make check-debug"
selftests/prepare.sh
echo "== run"
rc=0
# The debug kernel is built (or found in the cache) by run.py.
python3 selftests/rig/run.py --kernels debug-6.12 --debug-all --no-host-tests "$@" || rc=$?
exit $rc
