#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make bench: set up a fresh machine, build, and run the notification-latency
# benchmark on the rig (docs/benchmarks.md). Arguments go to rig/bench.py.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
t0=$(date +%s)
echo "== setup (host packages, kernels, builds): a minute or more the first time"
selftests/rig/setup-host.sh
selftests/rig/linux-source.sh >/dev/null
make -s -C selftests >/dev/null
make -s -C user >/dev/null
rc=0
python3 selftests/rig/bench.py --docs "$@" || rc=$?
echo "make bench: $(($(date +%s) - t0)) s wall"
exit $rc
