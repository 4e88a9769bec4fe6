#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make demo: set up a fresh machine, build, and run the demo on the rig.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
echo "== setup (host packages, kernel, builds): this takes a minute the first time"
selftests/prepare.sh
exec python3 selftests/rig/demo.py "$@"
