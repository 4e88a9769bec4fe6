#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# vmgend's pass loop under valgrind memcheck (make valgrind).
#
#   tests/valgrind.sh BUILD_DIR        TAP on stdout, exit status 1 on failure
#
# vmgend (the normal build: valgrind and AddressSanitizer do not mix) runs
# twice on fake devices, as in tests/run.sh: first --source poll on a
# VMClock page in a file, then both devices (the page and a VMGenID file)
# woken through --trigger-fifo, on the same state directory.  Together
# they run more than 100 passes with hooks of every kind: one that
# succeeds, one that exits 3, one killed by a signal, one printing 1 MiB,
# one whose background child outlives it, and in a few passes one that
# times out (SIGTERM, then SIGKILL); a SIGHUP rescan with a hook added and
# one removed, a hook found because its directory changed, changes during
# a pass coalesced into one more pass, and a change while vmgend was
# stopped.  Then SIGTERM.  Checked per run: exit status 0 (valgrind's is
# 99 on an error or a definite or indirect leak), no memcheck error, no
# such leak, every pass done and recorded, and no descriptor open at exit
# but the standard ones, inherited ones and those vmgend keeps on purpose.
#
# Valgrind makes vmgend slow: passes are waited for with generous bounds
# and nothing is asserted about time.
set -u

B=$(cd "${1:-build}" && pwd)
. "$(dirname "$0")/lib.sh"
tests_begin vmgen-valgrind
FAKE=$B/tests/fakedev
# the figures: sums over both runs, and the largest descriptor count
passes=0
errors=0
dlost=0
ilost=0
fds=0


if ! command -v valgrind > /dev/null 2>&1; then
	skip "valgrind is not installed (Debian: apt-get install valgrind)"
	tests_finish
fi

D=$T/d
PAGE=$D/dev/vmclock0
VMGENID=$D/dev/vmgenid
FIFO=$D/fifo
SYS=$D/sys
STATE=$D/state
mkdir -p "$D/etc" "$D/lib" "$STATE" "$D/dev" "$SYS/class/misc/vmclock0"
chmod 755 "$D" "$D/etc" "$D/lib" "$D/dev"
"$FAKE" vmclock-init "$PAGE"
"$FAKE" vmgenid-set "$VMGENID" 0
mkfifo "$FIFO"
echo 1 > "$SYS/class/misc/vmclock0/notifications"
echo 1000 > "$SYS/class/misc/vmclock0/last_notify_ns"

mkhook "$D/lib" 10-ok 'echo "pass $VMGEN_PASS: $VMGEN_EVENT"'
# only in the pass that tests coalescing: wait (bounded) for the go
mkhook "$D/lib" 15-gate "[ -e '$D/gate' ] || exit 0" \
	"rm -f '$D/gate'; touch '$D/gate-in'" \
	"i=0; while [ ! -e '$D/go' ] && [ \$i -lt 15 ]; do" \
	"	sleep 0.05; i=\$((i + 1))" \
	"done"
mkhook "$D/lib" 20-fail 'echo "failing on purpose" >&2' 'exit 3'
mkhook "$D/lib" 30-signal 'kill -KILL $$'
mkhook "$D/lib" 40-big \
	'head -c 1048576 /dev/zero | tr "\000" x | fold -w 4000' 'echo'
mkhook "$D/lib" 45-removed 'exit 0'
mkhook "$D/lib" 50-orphan \
	"( sleep 0.3; echo \"child of pass \$VMGEN_PASS, late\" ) &" \
	'echo "leaving a child behind"'
# times out only when $D/hang says how: term (obeys SIGTERM) or kill
mkhook "$D/lib" 60-hang "m=\$(cat '$D/hang' 2>/dev/null)" \
	"case \$m in" \
	"term) exec sleep 100 ;;" \
	"kill) trap '' TERM; sleep 100; exit 0 ;;" \
	"esac"

# the counters, as the fake devices will hold them
gen=0
marker=0
vgen=0
pass=0

passes_done() { has "$STATE/last-pass" "^pass=$1\$"; }
wait_pass() {
	if ! wait_for 60 passes_done "$1"; then
		echo "# pass $1 did not complete:"
		tail -n 30 "$LOG" | diag
		return 1
	fi
}

# start NAME ARGS...: vmgend under valgrind, log in $LOG, valgrind's in $VG
start() {
	LOG=$D/$1.log
	shift
	valgrind --tool=memcheck --leak-check=full \
		--show-leak-kinds=definite,indirect \
		--errors-for-leak-kinds=definite,indirect --error-exitcode=99 \
		--track-fds=yes --trace-children=no \
		--child-silent-after-fork=yes \
		--log-file="$D/vg.%p" \
		"$B/vmgend" -f --state-dir "$STATE" --hooks-dir "$D/etc" \
		--hooks-dir "$D/lib" --vmclock-dev "$PAGE" --sysfs-root "$SYS" \
		--hook-timeout 1 --hook-grace 1 "$@" > "$LOG" 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
	VG=$D/vg.$PID
	if ! wait_for 120 has "$LOG" 'vmgend: ready'; then
		echo "# vmgend did not become ready under valgrind:"
		diag "$LOG" "$VG"
		return 1
	fi
}

# stop NAME: SIGTERM, the exit status, and what valgrind found
stop() {
	kill -TERM "$PID" 2>/dev/null
	wait "$PID"
	rc=$?
	check "$1: vmgend exits 0 under valgrind on SIGTERM" test "$rc" -eq 0
	echo "# exit status $rc"
	analyse "$1"
}

# The summary of valgrind's log; descriptors open at exit sorted into
# those vmgend keeps on purpose and the others.
analyse() {
	python3 - "$VG" "$STATE" "$FIFO" "$SYS" "$PAGE" "$VMGENID" \
		> "$D/$1.vg" <<-'EOF'
	import re, sys
	log, state, fifo, sysfs, page, vmgenid = sys.argv[1:]
	text = open(log).read()
	lines = [re.sub(r"^==\d+== ?", "", l) for l in text.splitlines()]
	def num(pat):
	    m = re.search(pat, text)
	    return int(m.group(1).replace(",", "")) if m else None
	errors = num(r"ERROR SUMMARY: ([\d,]+) errors")
	if "no leaks are possible" in text:
	    dl = il = 0
	else:
	    dl = num(r"definitely lost: ([\d,]+) bytes")
	    il = num(r"indirectly lost: ([\d,]+) bytes")
	# "Open file descriptor N: PATH" or "Open AF_UNIX socket N: ...",
	# then the stack where it was opened
	fds = []
	for i, l in enumerate(lines):
	    m = re.match(r"Open (.*?) (\d+):\s*(.*)$", l)
	    if not m:
	        continue
	    stack = []
	    for s in lines[i + 1:]:
	        if not s.strip():
	            break
	        stack.append(s.strip())
	    fds.append((int(m.group(2)), m.group(1), m.group(3), stack))
	# what vmgend keeps, and how many of each at most
	kinds = {"signalfd": 1, "/dev/null (hooks' stdin, output slot)": 2,
	         "generation file, current and next": 2,
	         "--trigger-fifo": 1, "sysfs last_notify_ns": 2,
	         "uevent socket": 1, "devices": 2}
	count = dict.fromkeys(kinds, 0)
	own = bad = 0
	out = []
	for fd, what, path, stack in sorted(fds):
	    where = " ".join(stack[:3])
	    if fd <= 2 or "<inherited from parent>" in where:
	        out.append("fd %d %s: standard or inherited" % (fd, path))
	        continue
	    own += 1
	    k = None
	    if "signalfd" in where:
	        k = "signalfd"
	    elif path == "/dev/null":
	        k = "/dev/null (hooks' stdin, output slot)"
	    elif path.startswith(state + "/") and \
	            path[len(state) + 1:] in ("generation", ".generation.next"):
	        k = "generation file, current and next"
	    elif path == fifo:
	        k = "--trigger-fifo"
	    elif path.startswith(sysfs + "/") and \
	            path.endswith("/last_notify_ns"):
	        k = "sysfs last_notify_ns"
	    elif "socket" in what and "uevent" in where:
	        k = "uevent socket"
	    elif path in (page, vmgenid):
	        k = "devices"
	    if k and count[k] < kinds[k]:
	        count[k] += 1
	        out.append("fd %d %s: %s" % (fd, path or what, k))
	    else:
	        bad += 1
	        out.append("fd %d %s: NOT EXPECTED, opened %s"
	                   % (fd, path or what, where))
	print("errors=%s" % errors)
	print("definitely=%s" % dl)
	print("indirectly=%s" % il)
	print("fds=%d" % own)
	print("unexpected_fds=%d" % bad)
	for o in out:
	    print("diag=" + o)
	EOF
	get() { sed -n "s/^$1=//p" "$D/$2.vg"; }
	e=$(get errors "$1")
	dl=$(get definitely "$1")
	il=$(get indirectly "$1")
	fd=$(get fds "$1")
	ufd=$(get unexpected_fds "$1")
	check "$1: memcheck: no error" test "${e:-1}" = 0
	check "$1: memcheck: nothing definitely lost" test "${dl:-1}" = 0
	check "$1: memcheck: nothing indirectly lost" test "${il:-1}" = 0
	check "$1: at exit, only vmgend's own descriptors open" \
		test "${ufd:-1}" = 0
	echo "# ERROR SUMMARY: ${e:-?} errors;" \
		"definitely lost: ${dl:-?} bytes;" \
		"indirectly lost: ${il:-?} bytes;" \
		"vmgend's descriptors open at exit: $fd, unexpected: ${ufd:-?}"
	get diag "$1" | diag
	if [ "${e:-1}" != 0 ] || [ "${dl:-1}" != 0 ] ||
		[ "${il:-1}" != 0 ]; then
		sed -n '/HEAP SUMMARY/q;p' "$VG" | head -n 80 | diag
		grep -A 30 'definitely lost in\|indirectly lost in' "$VG" |
			head -n 80 | diag
	fi
	errors=$((errors + ${e:-0}))
	dlost=$((dlost + ${dl:-0}))
	ilost=$((ilost + ${il:-0}))
	[ "${fd:-0}" -gt "$fds" ] && fds=$fd
}

handled() { tr '\n' ' ' < "$STATE/handled" | sed 's/ $//'; }
handled_is() { [ "$(handled)" = "$1" ]; }

# check_handled NAME: the state files say every pass is done
check_handled() {
	want="vmclock_generation=$gen disruption_marker=$marker"
	[ -n "${with_vmgenid:-}" ] && want="$want vmgenid_generation=$vgen"
	want="$want pass=$pass"
	# handled is written just after last-pass
	wait_for 30 handled_is "$want"
	got=$(handled)
	check "$1: last-pass: the last pass is done" passes_done "$pass"
	echo "# last pass: $pass"
	check "$1: handled matches the last generation" test "$got" = "$want"
	echo "# handled: $got"
	[ "$got" = "$want" ] || echo "# expected: $want"
}

# no zombies left among vmgend's children (orphans are reaped); after
# the ") " that ends the command name: state, then the parent's pid
no_zombies() {
	! cat /proc/[0-9]*/stat 2>/dev/null | sed 's/^.*) //' |
		awk -v p="$PID" '$1 == "Z" && $2 == p { z = 1 } END { exit !z }'
}

# ------------------------------------------------ run 1: --source poll

# bump WHAT: one change, one pass
bump() {
	case $1 in
	gen) gen=$((gen + 1)) ;;
	marker) marker=$((marker + 1)) ;;
	both) gen=$((gen + 1)); marker=$((marker + 1)) ;;
	esac
	"$FAKE" vmclock-bump "$PAGE" "$1"
	pass=$((pass + 1))
	wait_pass "$pass"
}

t0=$(date +%s)
if ! start poll --source poll --poll-interval-ms 20 --vmgenid-dev none; then
	nok "poll: vmgend starts under valgrind"
	exit 1
fi
all_ok=1
i=0
while [ $i -lt 30 ]; do
	case $((i % 3)) in
	0) bump gen ;;
	1) bump both ;;
	2) bump marker ;;
	esac || all_ok=0
	i=$((i + 1))
done
check "poll: 30 passes, one per change" test $all_ok -eq 1
cp "$STATE/last-pass" "$D/normal-pass"
for h in "10-ok=exit 0 " "20-fail=exit 3 " "30-signal=signal 9 " \
	"40-big=exit 0 " "45-removed=exit 0 " "50-orphan=exit 0 " \
	"60-hang=exit 0 "; do
	check "poll: last-pass: hook.$h" grep -q "^hook\.$h" "$D/normal-pass"
done
check "poll: 1 MiB of output: 64 KiB logged, the rest dropped" \
	has "$LOG" "hook 40-big: output over 64 KiB: [0-9]* more bytes dropped"

# timeouts, in two passes only
echo term > "$D/hang"
bump gen
check "timeout: a hook obeying SIGTERM: timeout 15" \
	grep -q '^hook\.60-hang=timeout 15 ' "$STATE/last-pass"
echo kill > "$D/hang"
bump gen
check "timeout: a hook ignoring SIGTERM: SIGKILL, timeout 9" \
	grep -q '^hook\.60-hang=timeout 9 ' "$STATE/last-pass"
rm -f "$D/hang"

# changes during a pass: one more pass, for the latest counters
touch "$D/gate"
gen=$((gen + 1))
"$FAKE" vmclock-bump "$PAGE" gen
wait_for 60 test -e "$D/gate-in"
gen=$((gen + 2))
"$FAKE" vmclock-bump "$PAGE" gen
sleep 0.05
"$FAKE" vmclock-bump "$PAGE" gen
touch "$D/go"
last_gen() { grep -qx "vmclock_generation_new=$gen" "$STATE/last-pass"; }
wait_for 60 last_gen
# where the count is now, whatever happened
before=$pass
pass=$(sed -n 's/^pass=//p' "$STATE/last-pass")
msg="counters changed during pass $((before + 1)): one more pass"
check "coalesce: two changes during a pass, one more pass" \
	sh -c "[ '$pass' = $((before + 2)) ] && grep -q '$msg' '$LOG'"
echo "# pass $before, then $pass"
check "coalesce: for the latest counters" last_gen
rm -f "$D/go" "$D/gate-in"

# SIGHUP: one hook added, one removed
mkhook "$D/etc" 70-added 'echo added'
rm "$D/lib/45-removed"
kill -HUP "$PID"
wait_for 60 has "$LOG" "hooks scanned (SIGHUP)"
check "SIGHUP: rescanned, the new hook in, the removed one out" \
	sh -c "grep 'hooks scanned (SIGHUP)' '$LOG' | tail -n 1 |
		grep ' 70-added' | grep -vq '45-removed'"
bump gen
check "SIGHUP: the next pass runs the added hook, not the removed one" \
	sh -c "grep -q '^hook\.70-added=exit 0 ' '$STATE/last-pass' &&
		! grep -q '^hook\.45-removed=' '$STATE/last-pass'"
# no SIGHUP: found because its directory changed
mkhook "$D/lib" 80-later 'exit 0'
bump marker
check "a hook added without SIGHUP runs once its directory changed" \
	grep -q '^hook\.80-later=exit 0 ' "$STATE/last-pass"

i=0
all_ok=1
while [ $i -lt 25 ]; do
	bump gen || all_ok=0
	i=$((i + 1))
done
check "poll: 25 more passes" test $all_ok -eq 1
check_handled poll
wait_for 20 no_zombies
check "poll: no zombie among vmgend's children (orphans reaped)" no_zombies
stop poll
passes=$pass

# -------------------- run 2: both devices, woken through --trigger-fifo

# a change while vmgend is stopped: a pass at start-up
gen=$((gen + 1))
marker=$((marker + 1))
"$FAKE" vmclock-bump "$PAGE" both
with_vmgenid=1
if ! start fifo --vmgenid-dev "$VMGENID" --trigger-fifo "$FIFO"; then
	nok "fifo: vmgend starts under valgrind"
	exit 1
fi
check "fifo: vmclock+vmgenid chosen" has "$LOG" "source vmclock+vmgenid"
pass=$((pass + 1))
check "fifo: a change while vmgend was stopped makes a pass at start" \
	wait_pass "$pass"
check "fifo: and says so" has "$LOG" "changed while vmgend was not running"

# restore WHAT: both devices change (a restore), or the marker alone
restore() {
	if [ "$1" = migration ]; then
		marker=$((marker + 1))
		"$FAKE" vmclock-bump "$PAGE" marker
		printf c > "$FIFO"
	else
		gen=$((gen + 1))
		marker=$((marker + 1))
		vgen=$((vgen + 1))
		echo $((1000 + pass)) > \
			"$SYS/class/misc/vmclock0/last_notify_ns"
		"$FAKE" vmclock-bump "$PAGE" both
		"$FAKE" vmgenid-set "$VMGENID" "$vgen"
		printf b > "$FIFO"
	fi
	pass=$((pass + 1))
	wait_pass "$pass"
}

i=0
all_ok=1
while [ $i -lt 45 ]; do
	if [ $((i % 5)) -eq 2 ]; then
		restore migration || all_ok=0
	else
		restore both || all_ok=0
	fi
	i=$((i + 1))
done
check "fifo: 45 passes, one per restore or migration" test $all_ok -eq 1
check "fifo: a restore is one pass for both devices" \
	sh -c "grep -qx 'event=restore' '$STATE/last-pass' &&
		grep -qx 'vmgenid_generation_new=$vgen' '$STATE/last-pass'"
check_handled fifo
wait_for 20 no_zombies
check "fifo: no zombie among vmgend's children" no_zombies
stop fifo
passes=$pass
t1=$(date +%s)
echo "# $passes passes in $((t1 - t0)) s under valgrind"

echo "# figure: user.valgrind.passes=$passes"
echo "# figure: user.valgrind.errors=$errors"
echo "# figure: user.valgrind.definitely_lost=$dlost"
echo "# figure: user.valgrind.indirectly_lost=$ilost"
echo "# figure: user.valgrind.open_fds_at_exit=$fds"
tests_finish
