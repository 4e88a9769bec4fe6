#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench: set up a fresh machine, build, and run the notification-latency
# benchmark on the rig (docs/benchmarks.md). Arguments go to rig/bench.py.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t0=$(date +%s)
selftests/prepare.sh
rc=0
python3 selftests/rig/bench.py --docs "$@" || rc=$?
echo "make bench: $(($(date +%s) - t0)) s wall"
exit $rc
