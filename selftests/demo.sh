#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo: set up a fresh machine, build, and run the demo on the rig.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
echo "== setup (host packages, kernel, builds): this takes a minute the first time"
selftests/rig/setup-host.sh
selftests/rig/linux-source.sh >/dev/null
make -s -C selftests >/dev/null
make -s -C user >/dev/null
exec python3 selftests/rig/demo.py "$@"
