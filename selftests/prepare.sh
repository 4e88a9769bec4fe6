#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# What every top-level rig command needs first on a fresh machine: host
# packages, the kselftest harness and checkpatch (Debian's linux-source),
# and the emulator, guest test binaries and userspace built.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
echo "== setup: host packages"
selftests/rig/setup-host.sh
echo "== setup: kselftest harness and checkpatch (linux-source)"
selftests/rig/linux-source.sh >/dev/null
echo "== build: emulator, tests, userspace"
make -s -C selftests >/dev/null
make -s -C user >/dev/null
