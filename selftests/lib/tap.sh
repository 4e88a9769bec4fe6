# SPDX-License-Identifier: GPL-2.0
# TAP helpers for the host test scripts (bash; sourced).
#   tap STATUS DESCRIPTION [DIAGNOSTIC...]   one result; diagnostics of a
#                                           failure shown as "#" lines
#   skip DESCRIPTION REASON                 a result that did not run
#   finish                                  the plan, a summary, and exit:
#                                           status 1 if a result failed
# $n counts results, $failed the failures.
n=0
failed=0

tap() {
	local st=$1 desc=$2 l
	shift 2
	n=$((n + 1))
	if [ "$st" -eq 0 ]; then
		echo "ok $n - $desc"
		return
	fi
	echo "not ok $n - $desc"
	failed=$((failed + 1))
	for l in "$@"; do
		[ -n "$l" ] && printf '%s\n' "$l" | tail -n 30 | sed 's/^/#   /'
	done
}

skip() {
	n=$((n + 1))
	echo "ok $n - $1 # SKIP $2"
}

finish() {
	echo "1..$n"
	[ "$failed" -eq 0 ] || echo "# $failed of $n failed"
	[ "$failed" -eq 0 ]
	exit
}
