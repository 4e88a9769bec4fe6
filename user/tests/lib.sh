# SPDX-License-Identifier: GPL-2.0
# TAP and waiting helpers shared by tests/run.sh and tests/valgrind.sh
# (POSIX sh; sourced). $n counts results, $failed the failures.
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n - $*"; }
nok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
skip() { n=$((n + 1)); echo "ok $n - # SKIP $*"; }
diag() { sed 's/^/# /' "$@" 2>/dev/null; }
check() {
	desc=$1
	shift
	if "$@"; then ok "$desc"; else nok "$desc"; fi
}

# wait_for SECONDS CMD...: retry CMD every 50 ms
wait_for() {
	_max=$(($1 * 20))
	shift
	_i=0
	while [ $_i -lt $_max ]; do
		"$@" 2>/dev/null && return 0
		sleep 0.05
		_i=$((_i + 1))
	done
	return 1
}

# lines FILE: number of lines (0 if missing)
lines() { if [ -f "$1" ]; then wc -l < "$1" | tr -d ' '; else echo 0; fi; }
has() { grep -q -- "$2" "$1"; }
hasF() { grep -qF -- "$2" "$1"; }

# tests_begin NAME: a scratch directory $T (mode 0755), removed at exit
# unless a test failed or KEEP is set; the pids in $PIDS are killed and the
# file systems in $UMOUNT_AT_EXIT unmounted at exit.
tests_begin() {
	T=$(mktemp -d "/tmp/$1.XXXXXX")
	chmod 755 "$T"
	PIDS=
	UMOUNT_AT_EXIT=
	trap tests_end EXIT
	trap 'exit 130' INT TERM
}

tests_end() {
	for p in $PIDS; do
		kill -KILL "$p" 2>/dev/null
	done
	for m in $UMOUNT_AT_EXIT; do
		umount "$m" 2>/dev/null
	done
	if [ "$failed" -eq 0 ] && [ -z "${KEEP:-}" ]; then
		rm -rf "$T"
	else
		echo "# test files kept in $T"
	fi
}

# mkhook DIR NAME LINE...: an executable sh script
mkhook() {
	_f=$1/$2
	shift 2
	{ echo '#!/bin/sh'; printf '%s\n' "$@"; } > "$_f"
	chmod 755 "$_f"
}

# tests_finish: the plan and a summary; exit status 1 if a test failed
tests_finish() {
	echo "1..$n"
	if [ "$failed" -ne 0 ]; then
		echo "# $failed of $n failed"
		exit 1
	fi
	echo "# all $n passed"
	exit 0
}
