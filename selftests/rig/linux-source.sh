#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Fetch Debian's linux-source package once and pull out what vmgen uses from
# it: the kselftest harness headers, checkpatch.pl and the kernel's
# .clang-format. Prints the directory holding them.
#   linux-source.sh [SERIES]        (default 6.12, from bookworm-security)
set -eu
series=${1:-6.12}
cache=${VMGEN_CACHE:-/var/cache/vmgen}
dest=$cache/linux-source-$series
if [ ! -e "$dest/.ready" ]; then
	here=$(dirname "$0")
	python3 "$here/kernels.py" update >/dev/null
	apt="$(python3 "$here/kernels.py" aptopts)"
	rm -rf "$dest" && mkdir -p "$dest/deb"
	# shellcheck disable=SC2086
	(cd "$dest/deb" && apt-get $apt -q download "linux-source-$series" >/dev/null)
	dpkg-deb --fsys-tarfile "$dest"/deb/linux-source-*.deb |
		tar -x -C "$dest/deb" --wildcards '*.tar.xz'
	tarball=$(find "$dest/deb" -name 'linux-source-*.tar.xz' | head -1)
	tar -xJf "$tarball" -C "$dest" --strip-components=1 --wildcards \
		'*/tools/testing/selftests/kselftest.h' \
		'*/tools/testing/selftests/kselftest_harness.h' \
		'*/scripts/checkpatch.pl' '*/scripts/spelling.txt' \
		'*/scripts/const_structs.checkpatch' '*/.clang-format'
	mv "$tarball" "$dest/linux-source.tar.xz"
	rm -rf "$dest/deb"
	touch "$dest/.ready"
fi
echo "$dest"
