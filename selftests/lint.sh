#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# make lint: checkpatch.pl (from Debian's linux-source package) and sparse
# on the kernel code. Sparse runs against KDIR when it exists, else against
# the cached Debian header tree of LINT_SERIES (default 6.12).
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
src=$(selftests/rig/linux-source.sh)
rc=0
echo "== checkpatch"
for f in kmod/*.c kmod/compat/*.h include/uapi/vmgen/*.h; do
	out=$(perl "$src/scripts/checkpatch.pl" --no-tree --strict --quiet \
		--show-types -f "$f" 2>&1) || true
	if [ -n "$out" ]; then
		echo "$out"
		rc=1
	else
		echo "clean: $f"
	fi
done
echo "== sparse"
kdir=${KDIR:-}
if [ -z "$kdir" ] || [ ! -d "$kdir" ]; then
	series=${LINT_SERIES:-6.12}
	kdir=$(python3 selftests/rig/kernels.py info "$series" | sed -n 's/^KDIR=//p')
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -a Kbuild kmod include "$tmp/"
make -s -C "$kdir" M="$tmp" C=2 CF="-D__CHECK_ENDIAN__" modules >"$tmp/sparse.log" 2>&1 || {
	cat "$tmp/sparse.log"
	exit 1
}
# Only findings in our own sources count; the kernel's headers are not ours.
if grep -E "^$tmp/(kmod|include)/.*: (warning|error):" "$tmp/sparse.log"; then
	rc=1
else
	echo "clean: sparse against $kdir"
fi
exit $rc
