#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Time-boxed libFuzzer runs of vmgen's fuzz targets (make fuzz-check).
#
#   tests/fuzz-check.sh BUILD_DIR SECONDS TARGET...
#
# Builds BUILD_DIR/fuzz/fuzz-TARGET (make fuzz-build, clang), copies the
# seeds of tests/corpus/TARGET/ to a scratch directory under
# BUILD_DIR/fuzz/work/ (the tree's corpus is never written), and runs each
# target SECONDS seconds on it, with tests/corpus/TARGET.dict if there is
# one.  TAP on stdout: one line per target, figures as '# figure:' lines.
# A crash (or leak, timeout, out-of-memory) fails its target and names the
# input libFuzzer kept; replay it with BUILD_DIR/fuzz/fuzz-TARGET FILE.
# Without clang's libFuzzer every target is skipped, with the reason.
set -u

O=$1
SECS=$2
shift 2
HERE=$(cd "$(dirname "$0")" && pwd)
U=$(cd "$HERE/.." && pwd)
mkdir -p "$O/fuzz"
O=$(cd "$O" && pwd)
F=$O/fuzz
CC=${FUZZ_CC:-clang}
. "$HERE/lib.sh"

# Can this compiler link a libFuzzer target?  (Debian: libclang-rt-NN-dev)
why=
if ! command -v "$CC" > /dev/null 2>&1; then
	why="no $CC (libFuzzer comes with clang)"
else
	cat > "$F/probe.c" <<-EOF
	#include <stddef.h>
	#include <stdint.h>
	int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n);
	int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
	{
		return d && n > 1 && d[0] == 'x';
	}
	EOF
	if ! "$CC" -fsanitize=fuzzer,address,undefined -o "$F/probe" \
		"$F/probe.c" > "$F/probe.log" 2>&1; then
		v=$("$CC" -dumpversion 2>/dev/null | cut -d. -f1)
		why="$CC cannot link -fsanitize=fuzzer,address,undefined"
		why="$why (no libclang_rt.fuzzer? Debian: libclang-rt-$v-dev):"
		why="$why $(head -n 1 "$F/probe.log")"
	fi
fi
if [ -n "$why" ]; then
	for t in "$@"; do
		skip "fuzz-$t: $why"
	done
	tests_finish
fi

if ! ${MAKE:-make} -s -C "$U" O="$O" FUZZ_CC="$CC" fuzz-build \
	> "$F/build.log" 2>&1; then
	for t in "$@"; do
		nok "fuzz-$t: build"
	done
	diag "$F/build.log"
	tests_finish
fi

for t in "$@"; do
	W=$F/work/$t
	rm -rf "$W"
	mkdir -p "$W/corpus" "$W/crashes"
	seeds=0
	if [ -d "$HERE/corpus/$t" ]; then
		cp "$HERE/corpus/$t"/* "$W/corpus/" 2>/dev/null
		seeds=$(find "$HERE/corpus/$t" -type f | wc -l | tr -d ' ')
	fi
	# (the for loop's list was expanded already: "$@" is free for this)
	set -- -max_total_time="$SECS" -timeout=5 -rss_limit_mb=1024 \
		-artifact_prefix="$W/crashes/" -print_final_stats=1
	if [ -f "$HERE/corpus/$t.dict" ]; then
		set -- "$@" -dict="$HERE/corpus/$t.dict"
	fi
	t0=$(date +%s)
	"$F/fuzz-$t" "$@" "$W/corpus" > "$W/log" 2>&1
	rc=$?
	t1=$(date +%s)
	execs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\1/p' \
		"$W/log" | tail -n 1)
	secs=$(sed -n 's/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' \
		"$W/log" | tail -n 1)
	if [ -z "$execs" ]; then
		# no summary (it crashed): its final stats, or the last
		# progress line
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' \
			"$W/log" | tail -n 1)
		[ -n "$execs" ] || execs=$(sed -n \
			's/^#\([0-9][0-9]*\)[[:space:]].*/\1/p' "$W/log" |
			tail -n 1)
		secs=$((t1 - t0))
	fi
	crashes=$(find "$W/crashes" -type f | sort)
	final=$(find "$W/corpus" -type f | wc -l | tr -d ' ')
	if [ "$rc" -eq 0 ] && [ -z "$crashes" ] && [ -n "$execs" ]; then
		ok "fuzz-$t: no crash in $SECS s"
		echo "# $execs inputs in ${secs:-?} s"
	else
		nok "fuzz-$t: no crash in $SECS s"
		echo "# exit status $rc"
		for c in $crashes; do
			echo "# crash file: $c"
		done
		echo "# replay: $F/fuzz-$t FILE; the log: $W/log"
		grep -E 'ERROR|SUMMARY|invariant|runtime error|==[0-9]+==' \
			"$W/log" | head -n 20 | diag
		tail -n 15 "$W/log" | diag
	fi
	grep -m 1 '^INFO: Seed:' "$W/log" | diag
	echo "# corpus: $seeds seeds, $final inputs after the run"
	echo "# figure: user.fuzz.$t.execs=${execs:-0}"
	echo "# figure: user.fuzz.$t.seconds=${secs:-0}"
	echo "# figure: user.fuzz.$t.corpus=$seeds"
done
tests_finish
