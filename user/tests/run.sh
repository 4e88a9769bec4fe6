#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Host tests of vmgen's userspace: no QEMU, no devices, no root needed
# (a few checks need root and are skipped without it).  vmgend runs against
# fake inputs: a VMClock page in a regular file (updated in place with the
# seqcount protocol by tests/fakedev), a VMGenID generation in an 8-byte
# file, a fake sysfs tree, and --trigger-fifo as the "device notified" wake.
#
#   tests/run.sh BUILD_DIR        TAP on stdout, exit status 1 on failure
#
# Timing: nothing is asserted about how fast things happen, only that they
# happen within generous bounds.
set -u

B=$(cd "${1:-build}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
. "$HERE/lib.sh"
tests_begin vmgen-test
UMOUNT_AT_EXIT=$T/fullfs
FAKE=$B/tests/fakedev

# A test directory: hooks.d pair, state, fake /dev and /sys, a fresh page.
setup() {
	D=$T/$1
	mkdir -p "$D/etc" "$D/lib" "$D/state" "$D/dev" "$D/sys"
	chmod 755 "$D" "$D/etc" "$D/lib" "$D/dev"
	OUT=$D/out
	PAGE=$D/dev/vmclock0
	"$FAKE" vmclock-init "$PAGE"
	k=0
}


# start ARGS...: vmgend in the foreground on $D, log in $LOG
start() {
	k=$((k + 1))
	LOG=$D/log.$k
	FOO=must-not-leak "$B/vmgend" -f -v --state-dir "$D/state" \
		--hooks-dir "$D/etc" --hooks-dir "$D/lib" \
		--vmclock-dev "$PAGE" --vmgenid-dev none \
		--sysfs-root "$D/sys" --hook-timeout 20 "$@" > "$LOG" 2>&1 &
	PID=$!
	PIDS="$PIDS $PID"
	if ! wait_for 20 has "$LOG" 'vmgend: ready'; then
		echo "# vmgend did not become ready:"
		diag "$LOG"
		return 1
	fi
}

# stop: SIGTERM, and the exit status in $RC
stop() {
	kill -TERM "$PID" 2>/dev/null
	wait "$PID"
	RC=$?
}

start_poll() { start --source poll --poll-interval-ms 20 "$@"; }

passes_done() { has "$D/state/last-pass" "^pass=$1\$"; }
wait_pass() {
	if ! wait_for 30 passes_done "$1"; then
		echo "# pass $1 did not complete:"
		diag "$LOG"
		return 1
	fi
}

# ---------------------------------------------------------------- build

for f in vmgend vmgenctl vmgen-reseed libvmgen.so.0 libvmgen.a vmgen.pc; do
	check "build: $f exists" test -s "$B/$f"
done

check "library: exports only vmgen_* symbols" sh -c \
	"nm -D --defined-only '$B/libvmgen.so.0' | awk '\$2 == \"T\" && \$3 !~ /^vmgen_/ { bad = 1 } END { exit bad }'"
check "library: soname libvmgen.so.0" sh -c \
	"objdump -p '$B/libvmgen.so.0' | grep -q 'SONAME *libvmgen.so.0'"

if command -v pkg-config >/dev/null; then
	check "vmgen.pc: pkg-config reads it" sh -c \
		"PKG_CONFIG_PATH='$B' pkg-config --modversion vmgen | grep -qxF '$(cat "$(dirname "$0")/../../VERSION")' &&
		 PKG_CONFIG_PATH='$B' pkg-config --libs vmgen | grep -q -- -lvmgen"
else
	skip "vmgen.pc: no pkg-config"
fi

"$B/tests/app-static" > "$T/app.out" 2>&1
check "app: links with libvmgen.a and the header alone" hasF "$T/app.out" "libvmgen 0.1"

# ---------------------------------------------------------- unit tests

"$B/tests/test-units" "$T" > "$T/units.out" 2>&1
units_rc=$?
while IFS= read -r line; do
	case $line in
	"ok - # SKIP "*) skip "${line#ok - # SKIP }" ;;
	"ok - "*) ok "${line#ok - }" ;;
	"not ok - "*) nok "${line#not ok - }" ;;
	*) echo "# $line" ;;
	esac
done < "$T/units.out"
check "unit tests: exit status 0" test "$units_rc" -eq 0

"$B/tests/fuzz-uevent" "${FUZZ_ITERATIONS:-200000}" > "$T/fuzz.out" 2>&1
check "fuzz: uevent parser survives mutated input" hasF "$T/fuzz.out" "ok - fuzz"

# ------------------------------------------------- vmgenctl on this host

"$B/vmgenctl" status --json > "$T/status.json" 2> "$T/status.err"
check "status --json: exit 0 on this host" test $? -eq 0
check "status --json: valid JSON (python3 -m json.tool)" \
	sh -c "python3 -m json.tool < '$T/status.json' > /dev/null"
"$B/vmgenctl" status > "$T/status.txt" 2>&1
check "status: text, exit 0" test $? -eq 0

if ls /dev/vmclock* > /dev/null 2>&1 || [ -e /dev/vmgenid ]; then
	skip "this host has VM generation devices: 'no device' checks"
else
	check "status --json: says there is no device" python3 -c "
import json, sys
s = json.load(open('$T/status.json'))
assert s['vmclock']['present'] is False and s['vmgenid']['present'] is False
assert s['auto']['source'] is None and 'no source' in s['auto']['reason']
assert isinstance(s['modules']['libkmod'], bool)
"
	check "status: text says none" has "$T/status.txt" '^vmclock:  none'
	for src in vmclock vmgenid poll; do
		"$B/vmgend" -f --source $src --state-dir "$T/nostate" \
			> "$T/src-$src.out" 2>&1
		rc=$?
		check "vmgend --source $src with no device: exit 3 ($rc)" \
			test $rc -eq 3
		check "vmgend --source $src: says what is missing" \
			has "$T/src-$src.out" "source $src.*\(not available\|needs\).*no /dev/vmclock\|source $src.*not available.*vmgenid"
	done
	"$B/vmgend" -f --state-dir "$T/nostate" > "$T/src-auto.out" 2>&1
	rc=$?
	check "vmgend auto with no device: exit 3, 'no source available'" \
		sh -c "[ $rc -eq 3 ] && grep -q 'no source available' '$T/src-auto.out'"
	"$B/vmgenctl" wait --timeout 1 > "$T/wait-none.out" 2>&1
	check "vmgenctl wait with no device: exit 3" test $? -eq 3
fi

"$B/vmgend" --bogus > /dev/null 2>&1
check "vmgend: unknown option is exit 2" test $? -eq 2
"$B/vmgend" --source sometimes > /dev/null 2>&1
check "vmgend: bad --source is exit 2" test $? -eq 2
"$B/vmgenctl" frobnicate > /dev/null 2>&1
check "vmgenctl: unknown command is exit 2" test $? -eq 2
"$B/vmgenctl" status --timeout 3 > /dev/null 2>&1
check "vmgenctl: an option the command does not take is exit 2" test $? -eq 2

"$B/vmgenctl" load --dry-run > "$T/load.out" 2>&1
rc=$?
check "load --dry-run: exit 0, a verdict per module" sh -c \
	"[ $rc -eq 0 ] && grep -q '^vmgen_vmgenid: ' '$T/load.out' &&
	 grep -q '^\(vmgen_vmclock\|ptp_vmclock\): ' '$T/load.out'"
diag "$T/load.out"

# ------------------------------------------- fake devices: status, wait

setup fakes
mkdir -p "$D/sys/class/misc/vmclock0" "$D/sys/drivers/vmgen_vmclock" \
	"$D/sys/dev0"
echo 1 > "$D/sys/class/misc/vmclock0/notifications"
echo acpi > "$D/sys/class/misc/vmclock0/notify_mode"
echo 4242 > "$D/sys/class/misc/vmclock0/last_notify_ns"
ln -s ../../../dev0 "$D/sys/class/misc/vmclock0/device"
ln -s ../drivers/vmgen_vmclock "$D/sys/dev0/driver"
"$FAKE" vmclock-set "$PAGE" gen=5 marker=6
"$FAKE" vmgenid-set "$D/dev/vmgenid" 3
"$B/vmgenctl" --vmclock-dev "$PAGE" --vmgenid-dev "$D/dev/vmgenid" \
	--sysfs-root "$D/sys" --state-dir "$D/state" status --json \
	> "$D/status.json" 2>&1
check "status --json with fake devices: exit 0" test $? -eq 0
check "status --json with fake devices: counters, driver link, auto" \
	python3 -c "
import json
s = json.load(open('$D/status.json'))
v, g = s['vmclock'], s['vmgenid']
assert v['present'] and v['generation'] == 5 and v['disruption_marker'] == 6, v
assert v['driver'] == 'vmgen_vmclock' and v['provider'] == 'test-file', v
assert v['last_notify_ns'] == 4242 and v['notify_mode'] == 'acpi', v
assert g['present'] and g['generation'] == 3, g
assert s['auto']['source'] == 'poll', s['auto']
"
"$B/vmgenctl" --vmclock-dev "$PAGE" --vmgenid-dev none --source poll \
	--poll-interval-ms 20 --timeout 0.3 wait > "$D/wait1.out" 2>&1
check "wait: no change within --timeout is exit 1" test $? -eq 1
"$B/vmgenctl" --vmclock-dev "$PAGE" --vmgenid-dev none --source poll \
	--poll-interval-ms 20 --timeout 30 wait > "$D/wait2.out" 2>&1 &
wpid=$!
PIDS="$PIDS $wpid"
sleep 0.3
"$FAKE" vmclock-bump "$PAGE" marker
wait $wpid
rc=$?
check "wait: a change is exit 0 ($rc)" test $rc -eq 0
check "wait: prints the kind and counters" \
	hasF "$D/wait2.out" "migration vmclock_generation=5 disruption_marker=7"
"$B/vmgenctl" --vmclock-dev none --vmgenid-dev none wait --timeout 1 \
	> /dev/null 2>&1
check "wait: nothing to wait on is exit 3" test $? -eq 3
"$B/vmgenctl" wait --timeout soon > /dev/null 2>&1
check "wait: bad --timeout is exit 2" test $? -eq 2

"$B/vmgend" -f --source vmclock --vmclock-dev "$PAGE" --vmgenid-dev none \
	--state-dir "$D/state" > "$D/explicit.out" 2>&1
rc=$?
check "vmgend --source vmclock on a page that cannot notify: exit 3" \
	test $rc -eq 3
check "... and says why" has "$D/explicit.out" "source vmclock is not available.*notif"
"$FAKE" vmclock-init "$D/dev/nonotify" flags=0x100
mkfifo "$D/fifo"
"$B/vmgend" -f --source vmclock --vmclock-dev "$D/dev/nonotify" \
	--vmgenid-dev none --trigger-fifo "$D/fifo" \
	--state-dir "$D/state" > "$D/explicit2.out" 2>&1
check "vmgend --source vmclock, page without NOTIFICATION_PRESENT: exit 3" \
	test $? -eq 3
check "... and says NOTIFICATION_PRESENT" hasF "$D/explicit2.out" \
	"without NOTIFICATION_PRESENT"

# ------------------------------------------ order, override, env, state

setup order
for h in 10-a 2-b B _c a; do
	mkhook "$D/lib" "$h" "echo $h \"\$1\" >> '$OUT'"
done
mkhook "$D/lib" 30-over "echo 30-over-lib >> '$OUT'"
mkhook "$D/etc" 30-over "echo 30-over-etc >> '$OUT'"
mkhook "$D/lib" x.sh "echo x.sh >> '$OUT'"
mkhook "$D/lib" .hidden "echo hidden >> '$OUT'"
mkhook "$D/lib" 'old~' "echo old >> '$OUT'"
mkhook "$D/lib" 99-env "tr '\\000' '\\n' < /proc/\$\$/environ | sort > '$D/env'"
LC_ALL=C.UTF-8 LANG=en_US.UTF-8 start_poll --settle-ms 0
"$FAKE" vmclock-bump "$PAGE" both
wait_pass 1
printf '%s\n' "10-a restore" "2-b restore" 30-over-etc "B restore" \
	"_c restore" "a restore" > "$D/expect"
check "hooks: C-locale order, /etc overrides /usr/lib by name" \
	cmp -s "$D/expect" "$OUT"
[ -f "$OUT" ] && ! cmp -s "$D/expect" "$OUT" && diag "$OUT"
check "hooks: x.sh logged as ignored" has "$LOG" "x.sh: ignored: name contains '.'"
check "hooks: .hidden logged as ignored" has "$LOG" "\.hidden: ignored: hidden file"
check "hooks: old~ logged as ignored" has "$LOG" "old~: ignored"
check "hooks: the /usr/lib copy logged as overridden" \
	has "$LOG" "lib/30-over: overridden: .*etc/30-over takes precedence"
check "env: only PATH and VMGEN_*" sh -c \
	"! grep -qv '^PATH=\|^VMGEN_' '$D/env'"
check "env: no variable of vmgend's own environment leaks" \
	sh -c "! grep -q FOO '$D/env'"
for kv in VMGEN_EVENT=restore VMGEN_GENERATION_OLD=0 VMGEN_GENERATION_NEW=1 \
	VMGEN_DISRUPTION_MARKER_OLD=0 VMGEN_DISRUPTION_MARKER_NEW=1 \
	VMGEN_SOURCE=poll VMGEN_PASS=1; do
	check "env: $kv" grep -qx "$kv" "$D/env"
done
check "env: VMGEN_NOTIFY_NS is a number" grep -qx 'VMGEN_NOTIFY_NS=[0-9]\+' "$D/env"
check "env: no VMGEN_VMGENID_* without a VMGenID source" \
	sh -c "! grep -q VMGEN_VMGENID '$D/env'"
check "log: one line per hook with status and duration" \
	has "$LOG" "hook 10-a: exit 0, [0-9.]* ms"
check "log: one line per pass with kind, counters, latencies" \
	has "$LOG" "pass 1: restore (vmclock generation 0->1, disruption marker 0->1), source poll: 7 hooks, 0 failed, ok; notification to first hook [0-9.]* ms, to done [0-9.]* ms"
printf 'vmclock_generation=1\ndisruption_marker=1\npass=1\n' > "$D/gexp"
check "state: generation file" cmp -s "$D/gexp" "$D/state/generation"
check "state: handled file" cmp -s "$D/gexp" "$D/state/handled"
for kv in pass=1 event=restore source=poll status=ok hooks=7 \
	vmclock_generation_old=0 vmclock_generation_new=1 \
	disruption_marker_old=0 disruption_marker_new=1; do
	check "state: last-pass has $kv" grep -qx "$kv" "$D/state/last-pass"
done
check "state: last-pass has each hook's result" \
	grep -qx 'hook\.10-a=exit 0 [0-9.]*' "$D/state/last-pass"
check "state: last-pass has time and latencies" sh -c \
	"grep -qx 'time=[0-9T:-]*Z' '$D/state/last-pass' &&
	 grep -qx 'done_ms=[0-9.]*' '$D/state/last-pass'"
check "state: files are mode 0644, directory 0755" sh -c \
	"[ \$(stat -c %a '$D/state/generation') = 644 ] &&
	 [ \$(stat -c %a '$D/state/last-pass') = 644 ] &&
	 [ \$(stat -c %a '$D/state') = 755 ]"
check "state: no temporary files left" sh -c "! ls -a '$D/state' | grep -q tmp"
stop
check "vmgend: SIGTERM exits 0 ($RC)" test "$RC" -eq 0

# ------------------------------------------- failures, output capture

setup failing
mkhook "$D/lib" 10-fail "echo failing; exit 3"
mkhook "$D/lib" 20-sig 'kill -9 $$'
mkhook "$D/lib" 30-ok "echo 30-ok >> '$OUT'"
mkhook "$D/lib" 40-out "echo to-stdout; echo to-stderr >&2; printf 'no newline'"
mkhook "$D/lib" 50-big "i=0; while [ \$i -lt 3000 ]; do echo 'line of output, line of output, line of output, line of output'; i=\$((i+1)); done; echo 50-big >> '$OUT'"
start_poll
"$FAKE" vmclock-bump "$PAGE" gen
wait_pass 1
check "failing hooks do not stop later ones" sh -c \
	"grep -qx 30-ok '$OUT' && grep -qx 50-big '$OUT'"
check "last-pass: exit status recorded" grep -qx 'hook\.10-fail=exit 3 [0-9.]*' "$D/state/last-pass"
check "last-pass: signal recorded" grep -qx 'hook\.20-sig=signal 9 [0-9.]*' "$D/state/last-pass"
check "last-pass: status=failed" grep -qx status=failed "$D/state/last-pass"
check "log: failure line" has "$LOG" "hook 10-fail: exit 3 (failed)"
check "log: signal line" has "$LOG" "hook 20-sig: killed by signal 9 (SIGKILL)"
check "log: hook stdout captured with its name" has "$LOG" "hook 40-out: to-stdout"
check "log: hook stderr captured with its name" has "$LOG" "hook 40-out: to-stderr"
check "log: a last line without newline is kept" has "$LOG" "hook 40-out: no newline"
check "log: output over 64 KiB is cut and said so" \
	has "$LOG" "hook 50-big: output over 64 KiB: [0-9]* more bytes dropped"
check "log: the pass line counts the failures" has "$LOG" "pass 1: restore .*5 hooks, 2 failed, failed"
stop

# ---------------------------------------------------- refusals

setup perms
mkhook "$D/lib" 10-gw "echo 10-gw >> '$OUT'"
chmod 775 "$D/lib/10-gw"
mkhook "$D/lib" 20-ww "echo 20-ww >> '$OUT'"
chmod 777 "$D/lib/20-ww"
mkhook "$D/lib" 30-noexec "echo 30-noexec >> '$OUT'"
chmod 644 "$D/lib/30-noexec"
mkhook "$D/lib" 40-good "echo 40-good >> '$OUT'"
mkhook "$D/lib" 50-suid "echo 50-suid >> '$OUT'"
chmod 4755 "$D/lib/50-suid"
mkhook "$D/lib" 60-masked "echo 60-masked >> '$OUT'"
ln -s /dev/null "$D/etc/60-masked"
mkdir "$D/lib/70-dir"
mkdir -p "$D/ww"
chmod 777 "$D/ww"
mkhook "$D/ww" 75-in-ww "echo 75-in-ww >> '$OUT'"
if [ "$(id -u)" -eq 0 ]; then
	mkhook "$D/lib" 80-owned "echo 80-owned >> '$OUT'"
	chown 12345 "$D/lib/80-owned"
	mkdir -p "$D/theirs"
	mkhook "$D/theirs" target "echo 85-link-theirs >> '$OUT'"
	chown 12345 "$D/theirs"
	ln -s "$D/theirs/target" "$D/lib/85-link-theirs"
fi
# a root-owned script, but in a directory that /tmp (1777) holds
mkhook "$T" link-target "echo 86-link-tmp >> '$OUT'"
ln -s "$T/link-target" "$D/lib/86-link-tmp"
start_poll --hooks-dir "$D/ww"
"$FAKE" vmclock-bump "$PAGE" gen
wait_pass 1
check "refusals: only the good hook ran" sh -c "[ \"\$(cat '$OUT')\" = 40-good ]"
check "refusals: group-writable" has "$LOG" "10-gw: refused: group-writable (mode 0775)"
check "refusals: world-writable" has "$LOG" "20-ww: refused: world-writable (mode 0777)"
check "refusals: not executable" has "$LOG" "30-noexec: refused: not executable (mode 0644)"
check "refusals: setuid" has "$LOG" "50-suid: refused: setuid or setgid"
check "refusals: /etc symlink to /dev/null masks" has "$LOG" "etc/60-masked: masked: symlink to /dev/null"
check "refusals: a directory is not a regular file" has "$LOG" "70-dir: refused: not a regular file"
check "refusals: symlink into a world-writable directory, sticky or not" \
	has "$LOG" "86-link-tmp: refused: symlink into /tmp, which is world-writable (mode 1777)"
if [ "$(id -u)" -eq 0 ]; then
	check "refusals: symlink into a directory another uid owns" \
		has "$LOG" "85-link-theirs: refused: symlink into .*/theirs, which is owned by uid 12345"
else
	skip "refusals: chown needs root"
fi
check "refusals: world-writable hook directory" \
	has "$LOG" "hook directory .*/ww refused: world-writable"
check "refusals: hooks in it refused with the reason" \
	has "$LOG" "75-in-ww: refused: directory .*/ww: world-writable"
if [ "$(id -u)" -eq 0 ]; then
	check "refusals: owned by another uid" has "$LOG" "80-owned: refused: owned by uid 12345, not by uid 0"
else
	skip "refusals: chown needs root"
fi
stop
"$B/vmgenctl" run-hooks --dry-run --hooks-dir "$D/etc" --hooks-dir "$D/lib" \
	> "$D/dry.out" 2>&1
check "run-hooks --dry-run: exit 0" test $? -eq 0
check "run-hooks --dry-run: eligible hook listed as run" has "$D/dry.out" "^run  *$D/lib/40-good: owner uid"
check "run-hooks --dry-run: refusal with its reason" has "$D/dry.out" "^refused  *$D/lib/20-ww: world-writable"
check "run-hooks --dry-run: masked listed" has "$D/dry.out" "^masked  *$D/etc/60-masked"
check "run-hooks --dry-run: summary" has "$D/dry.out" "a pass would run 1 hook,"
"$B/vmgenctl" run-hooks --dry-run --hooks-dir "$D/lib" --hook-owner 12345 \
	> "$D/dry2.out" 2>&1
check "run-hooks --dry-run --hook-owner: others' hooks refused" \
	has "$D/dry2.out" "^refused  *$D/lib/40-good: owned by uid $(id -u), not by uid 12345"
"$B/vmgenctl" run-hooks > /dev/null 2>&1
check "run-hooks without --dry-run: exit 2" test $? -eq 2

setup owner
mkhook "$D/lib" 10-mine "echo 10-mine >> '$OUT'"
start_poll --hook-owner 12345
"$FAKE" vmclock-bump "$PAGE" gen
wait_pass 1
check "vmgend --hook-owner 12345: a hook owned by us is refused" sh -c \
	"[ ! -e '$OUT' ] && grep -q '10-mine: refused: owned by uid $(id -u), not by uid 12345' '$LOG'"
stop

# ---------------------------------------------------- timeouts

setup timeout
mkhook "$D/lib" 10-hang \
	"( trap '' TERM; exec sleep 1000 ) &" \
	"echo \$! > '$D/child1.pid'" \
	"trap '' TERM" \
	"while :; do sleep 1; done"
mkhook "$D/lib" 20-term \
	"( trap '' TERM; exec sleep 1000 ) &" \
	"echo \$! > '$D/child2.pid'" \
	"exec sleep 1000"
mkhook "$D/lib" 25-yes "exec yes"
mkhook "$D/lib" 26-closed "exec > /dev/null 2>&1; exec sleep 1000"
mkhook "$D/lib" 30-after "echo 30-after >> '$OUT'"
start_poll --hook-timeout 1 --hook-grace 1
"$FAKE" vmclock-bump "$PAGE" gen
wait_pass 1
check "timeout: the pass finishes and later hooks run" grep -qx 30-after "$OUT"
check "timeout: TERM-ignoring hook recorded as timeout 9" \
	grep -qx 'hook\.10-hang=timeout 9 [0-9.]*' "$D/state/last-pass"
check "timeout: TERM-obeying hook recorded as timeout 15" \
	grep -qx 'hook\.20-term=timeout 15 [0-9.]*' "$D/state/last-pass"
check "timeout: a hook writing without end still times out" \
	grep -qx 'hook\.25-yes=timeout 15 [0-9.]*' "$D/state/last-pass"
check "timeout: a hook that closed its output still times out" \
	grep -qx 'hook\.26-closed=timeout 15 [0-9.]*' "$D/state/last-pass"
check "timeout: log says SIGTERM then SIGKILL" sh -c \
	"grep -q 'hook 10-hang: timed out after 1 s: SIGTERM' '$LOG' &&
	 grep -q 'hook 10-hang: 1 s after SIGTERM, its process group is still there: SIGKILL' '$LOG'"
alive() { kill -0 "$(cat "$1")" 2>/dev/null; }
check "timeout: the TERM-ignoring child of a TERM-ignoring hook is dead" \
	wait_for 10 sh -c "! kill -0 \$(cat '$D/child1.pid')"
check "timeout: the TERM-ignoring child of a TERM-obeying hook is dead" \
	wait_for 10 sh -c "! kill -0 \$(cat '$D/child2.pid')"
stop

# ---------------------------------------------------- coalescing

setup coalesce
mkhook "$D/lib" 10-slow \
	"echo \"pass=\$VMGEN_PASS old=\$VMGEN_GENERATION_OLD new=\$VMGEN_GENERATION_NEW\" >> '$OUT'" \
	"touch '$D/started.'\$VMGEN_PASS" \
	"i=0; while [ ! -e '$D/go' ] && [ \$i -lt 600 ]; do sleep 0.05; i=\$((i+1)); done"
start_poll
"$FAKE" vmclock-bump "$PAGE" both
wait_for 30 test -e "$D/started.1"
"$FAKE" vmclock-bump "$PAGE" both
sleep 0.2
"$FAKE" vmclock-bump "$PAGE" both
sleep 0.2
touch "$D/go"
wait_pass 2
sleep 1
printf 'pass=1 old=0 new=1\npass=2 old=1 new=3\n' > "$D/expect"
check "coalesce: two changes during a pass make one more pass, for the latest" \
	cmp -s "$D/expect" "$OUT"
cmp -s "$D/expect" "$OUT" || diag "$OUT"
check "coalesce: logged" has "$LOG" "counters changed during pass 1: one more pass"
stop

# ------------------------------------ both devices: one pass per restore

setup both
mkfifo "$D/fifo"
"$FAKE" vmgenid-set "$D/dev/vmgenid" 0
mkdir -p "$D/sys/class/misc/vmclock0"
echo 1 > "$D/sys/class/misc/vmclock0/notifications"
echo 1000 > "$D/sys/class/misc/vmclock0/last_notify_ns"
mkhook "$D/lib" 10-rec \
	"echo \"\$VMGEN_PASS \$VMGEN_EVENT \$VMGEN_SOURCE g=\$VMGEN_GENERATION_NEW id=\$VMGEN_VMGENID_GENERATION_OLD-\$VMGEN_VMGENID_GENERATION_NEW ns=\$VMGEN_NOTIFY_NS\" >> '$OUT'"
k=0
LOG=$D/log.1
FOO=x "$B/vmgend" -f -v --state-dir "$D/state" --hooks-dir "$D/lib" \
	--vmclock-dev "$PAGE" --vmgenid-dev "$D/dev/vmgenid" \
	--sysfs-root "$D/sys" --trigger-fifo "$D/fifo" --settle-ms 5000 \
	--mlock > "$LOG" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
wait_for 20 has "$LOG" 'vmgend: ready'
check "both: auto picks vmclock+vmgenid and says why" \
	has "$LOG" "source vmclock+vmgenid: both notify"
echo 1500 > "$D/sys/class/misc/vmclock0/last_notify_ns"
"$FAKE" vmclock-bump "$PAGE" both
printf c > "$D/fifo"
sleep 0.3
"$FAKE" vmgenid-set "$D/dev/vmgenid" 1
printf g > "$D/fifo"
wait_pass 1
sleep 0.5
echo 2000 > "$D/sys/class/misc/vmclock0/last_notify_ns"
"$FAKE" vmgenid-set "$D/dev/vmgenid" 2
printf g > "$D/fifo"
sleep 0.3
"$FAKE" vmclock-bump "$PAGE" both
printf c > "$D/fifo"
wait_pass 2
sleep 1
printf '%s\n' "1 restore vmclock+vmgenid g=1 id=0-1 ns=1500" \
	"2 restore vmclock+vmgenid g=2 id=1-2 ns=2000" > "$D/expect"
check "both: one pass per restore, both devices' counters, the module's notify time (an old one is not reused)" \
	cmp -s "$D/expect" "$OUT"
cmp -s "$D/expect" "$OUT" || diag "$OUT" "$LOG"
printf c > "$D/fifo"
printf g > "$D/fifo"
sleep 0.5
check "both: wakes without a counter change run nothing" \
	test "$(lines "$OUT")" -eq 2
stop
check "both: exit 0 on SIGTERM" test "$RC" -eq 0

setup late
mkfifo "$D/fifo"
"$FAKE" vmgenid-set "$D/dev/vmgenid" 0
mkhook "$D/lib" 10-rec \
	"echo \"\$VMGEN_PASS \$VMGEN_EVENT g=\$VMGEN_GENERATION_NEW id=\$VMGEN_VMGENID_GENERATION_NEW\" >> '$OUT'"
k=0
LOG=$D/log.1
"$B/vmgend" -f -v --state-dir "$D/state" --hooks-dir "$D/lib" \
	--vmclock-dev "$PAGE" --vmgenid-dev "$D/dev/vmgenid" \
	--sysfs-root "$D/sys" --trigger-fifo "$D/fifo" --settle-ms 100 \
	> "$LOG" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
wait_for 20 has "$LOG" 'vmgend: ready'
"$FAKE" vmclock-bump "$PAGE" both
printf c > "$D/fifo"
wait_pass 1
"$FAKE" vmgenid-set "$D/dev/vmgenid" 1
printf g > "$D/fifo"
wait_for 20 has "$LOG" "VMGenID generation 0->1 came .* after pass 1 began"
check "late VMGenID: the second half of one restore makes no second pass" \
	sh -c "[ \"\$(cat '$OUT')\" = '1 restore g=1 id=0' ]"
check "late VMGenID: recorded as handled" grep -qx vmgenid_generation=1 "$D/state/handled"
"$FAKE" vmclock-bump "$PAGE" both
"$FAKE" vmgenid-set "$D/dev/vmgenid" 2
printf b > "$D/fifo"
wait_pass 2
check "late VMGenID: the next restore runs its pass" \
	sh -c "tail -n 1 '$OUT' | grep -qx '2 restore g=2 id=2'"
stop

# ---------------------------------------------------- event kinds

setup kinds
mkhook "$D/lib" 10-kind "echo \"\$VMGEN_EVENT\" >> '$OUT'"
start_poll --mlock
"$FAKE" vmclock-bump "$PAGE" both
wait_pass 1
"$FAKE" vmclock-bump "$PAGE" marker
wait_pass 2
"$FAKE" vmclock-set "$PAGE" flags=0x200
sleep 0.3
"$FAKE" vmclock-bump "$PAGE" marker
wait_pass 3
printf 'restore\nmigration\nunknown\n' > "$D/expect"
check "kinds: generation -> restore, marker -> migration, marker without VM_GEN_COUNTER_PRESENT -> unknown" \
	cmp -s "$D/expect" "$OUT"
cmp -s "$D/expect" "$OUT" || diag "$OUT"
check "kinds: a flags-only change is not an event" test "$(lines "$OUT")" -eq 3
stop

# ---------------------------------------------------- restart state

setup restart
mkhook "$D/lib" 10-rec "echo \"\$VMGEN_PASS \$VMGEN_EVENT \$VMGEN_GENERATION_NEW\" >> '$OUT'"
start_poll
sleep 0.5
check "restart: first start records a baseline, no pass" sh -c \
	"[ ! -e '$OUT' ] && grep -q 'first start since boot' '$LOG'"
stop
"$FAKE" vmclock-bump "$PAGE" both
start_poll
wait_pass 1
check "restart: a change while stopped runs one pass" \
	sh -c "[ \"\$(cat '$OUT')\" = '1 restore 1' ]"
check "restart: and says so" has "$LOG" "changed while vmgend was not running (restore)"
stop
start_poll
sleep 1
check "restart: no change, no pass" test "$(lines "$OUT")" -eq 1
"$FAKE" vmclock-bump "$PAGE" both
wait_pass 2
check "restart: pass numbers continue across restarts" \
	sh -c "tail -n 1 '$OUT' | grep -qx '2 restore 2'"
stop

setup firstboot
"$FAKE" vmgenid-set "$D/dev/vmgenid" 2
mkhook "$D/lib" 10-rec "echo \"\$VMGEN_EVENT \$VMGEN_VMGENID_GENERATION_OLD \$VMGEN_VMGENID_GENERATION_NEW\" >> '$OUT'"
k=0
LOG=$D/log.1
"$B/vmgend" -f -v --state-dir "$D/state" --hooks-dir "$D/lib" \
	--vmclock-dev "$PAGE" --vmgenid-dev "$D/dev/vmgenid" \
	--sysfs-root "$D/sys" --trigger-fifo "$D/fifo.none" > "$LOG" 2>&1
check "first start: a bad --trigger-fifo is a usage error" test $? -eq 2
mkfifo "$D/fifo"
"$B/vmgend" -f -v --state-dir "$D/state" --hooks-dir "$D/lib" \
	--vmclock-dev "$PAGE" --vmgenid-dev "$D/dev/vmgenid" \
	--sysfs-root "$D/sys" --trigger-fifo "$D/fifo" > "$LOG" 2>&1 &
PID=$!
PIDS="$PIDS $PID"
wait_pass 1
check "first start: VMGenID changes seen before vmgend started make a pass" \
	sh -c "[ \"\$(cat '$OUT')\" = 'restore 0 2' ]"
stop

# ----------------------------------- SIGTERM during a pass, then restart

setup abort
mkhook "$D/lib" 10-wait "echo \"\$VMGEN_PASS\" >> '$OUT'" \
	"( trap '' TERM; exec sleep 1000 ) &" "echo \$! > '$D/child.pid'" \
	"exec sleep 1000"
mkhook "$D/lib" 20-next "echo next >> '$OUT'"
start_poll --hook-grace 1
"$FAKE" vmclock-bump "$PAGE" both
wait_for 30 test -s "$D/child.pid"
stop
check "abort: SIGTERM during a hook exits 0 ($RC)" test "$RC" -eq 0
check "abort: the running hook's whole group is killed" \
	wait_for 10 sh -c "! kill -0 \$(cat '$D/child.pid')"
check "abort: later hooks do not run" sh -c "! grep -q next '$OUT'"
check "abort: last-pass says aborted" grep -qx status=aborted "$D/state/last-pass"
rm -f "$D/child.pid"
mkhook "$D/lib" 10-wait "echo \"\$VMGEN_PASS\" >> '$OUT'"
start_poll
wait_for 30 sh -c "grep -qx status=ok '$D/state/last-pass'"
check "abort: an aborted pass runs again after a restart" \
	sh -c "grep -qx next '$OUT'"
stop

# ------------------------------- SIGKILL during a pass, then restart

# kill9: SIGKILL to vmgend, and wait for it
kill9() {
	kill -KILL "$PID" 2>/dev/null
	wait "$PID" 2>/dev/null
}

setup killed
mkhook "$D/lib" 10-first "echo \"10-first \$VMGEN_PASS\" >> '$OUT'"
mkhook "$D/lib" 20-wait "echo \"20-wait \$VMGEN_PASS\" >> '$OUT'" \
	"[ -e '$D/released' ] && exit 0" \
	"( trap '' TERM; exec sleep 1000 ) &" "echo \$! > '$D/child.pid'" \
	"exec sleep 1000"
mkhook "$D/lib" 30-last "echo \"30-last \$VMGEN_PASS\" >> '$OUT'"
start_poll --hook-grace 1
"$FAKE" vmclock-bump "$PAGE" both
wait_for 30 test -s "$D/child.pid"
wait_for 10 grep -q '^running=20-wait ' "$D/state/progress"
kill9
check "killed: the progress file names the hook that ended and the one running" \
	sh -c "grep -qx 'pass=1' '$D/state/progress' &&
	       grep -qx 'done=10-first' '$D/state/progress' &&
	       grep -q '^running=20-wait [0-9]* [0-9]*\$' '$D/state/progress'"
check "killed: the hook's TERM-ignoring child outlived vmgend" \
	kill -0 "$(cat "$D/child.pid")"
touch "$D/released"
start_poll --hook-grace 1
wait_pass 1
check "killed: the restarted vmgend ends the old hook's group" \
	wait_for 10 sh -c "! kill -0 \$(cat '$D/child.pid')"
check "killed: and says so (SIGTERM, then SIGKILL)" sh -c \
	"grep -q 'hook 20-wait of interrupted pass 1: [0-9]* process(es) of its group [0-9]* still running: SIGTERM' '$LOG' &&
	 grep -q 'hook 20-wait of interrupted pass 1: its group is still there after SIGTERM: SIGKILL' '$LOG'"
check "killed: the pass is finished, not started again" \
	has "$LOG" "pass 1 did not finish (vmgend was stopped or killed while running hook 20-wait): finishing it"
printf '%s\n' "10-first 1" "20-wait 1" "20-wait 1" "30-last 1" > "$D/expect"
check "killed: each hook ran once, the interrupted one again from the start" \
	cmp -s "$D/expect" "$OUT"
cmp -s "$D/expect" "$OUT" || diag "$OUT"
check "killed: the hook that had ended is logged as not run again" \
	has "$LOG" "hook 10-first: ran in pass 1 before vmgend was restarted: not run again"
check "killed: last-pass records it as earlier, status ok" sh -c \
	"grep -qx 'hook.10-first=earlier 0 0.000' '$D/state/last-pass' &&
	 grep -qx status=ok '$D/state/last-pass'"
check "killed: no progress file after the pass" test ! -e "$D/state/progress"
stop
start_poll
sleep 1
check "killed: a further restart runs nothing" test "$(lines "$OUT")" -eq 4
stop

setup killed-moved
mkhook "$D/lib" 10-first "echo \"10-first \$VMGEN_GENERATION_NEW\" >> '$OUT'"
mkhook "$D/lib" 20-wait "echo \"20-wait \$VMGEN_GENERATION_NEW\" >> '$OUT'" \
	"[ -e '$D/released' ] || exec sleep 1000"
start_poll --hook-grace 1
"$FAKE" vmclock-bump "$PAGE" both
wait_for 10 grep -q '^running=20-wait ' "$D/state/progress"
kill9
"$FAKE" vmclock-bump "$PAGE" both
touch "$D/released"
start_poll --hook-grace 1
wait_pass 1
check "killed, counters moved on: a whole pass for the latest counters" \
	has "$LOG" "pass 1 did not finish .* and the counters moved on since: the next pass runs every hook"
printf '%s\n' "10-first 1" "20-wait 1" "10-first 2" "20-wait 2" > "$D/expect"
check "killed, counters moved on: every hook runs for generation 2" \
	cmp -s "$D/expect" "$OUT"
cmp -s "$D/expect" "$OUT" || diag "$OUT"
stop

# ----------------------------------------------- a full state directory

if [ "$(id -u)" -eq 0 ] && mkdir -p "$T/fullfs" &&
	mount -t tmpfs -o size=64k,nr_inodes=64 vmgen-test "$T/fullfs"; then
	setup fullrun
	rm -rf "$D/state"
	mkdir -p "$T/fullfs/state"
	ln -s "$T/fullfs/state" "$D/state"
	mkhook "$D/lib" 10-rec "echo \"\$VMGEN_PASS \$VMGEN_GENERATION_NEW\" >> '$OUT'"
	start_poll
	wait_for 10 test -s "$D/state/handled"
	# every block and every inode taken
	dd if=/dev/zero of="$T/fullfs/fill" bs=4k > /dev/null 2>&1
	i=0
	while touch "$T/fullfs/i$i" 2>/dev/null; do i=$((i + 1)); done
	"$FAKE" vmclock-bump "$PAGE" both
	wait_pass 1
	check "full /run: the pass runs" sh -c "[ \"\$(cat '$OUT')\" = '1 1' ]"
	check "full /run: handled rewritten in place, and logged" sh -c \
		"grep -qx vmclock_generation=1 '$D/state/handled' &&
		 grep -q 'cannot replace .*/handled (No space left on device): rewrote it in place' '$LOG'"
	check "full /run: no temporary file left" sh -c \
		"! ls -A '$T/fullfs/state' | grep -q tmp"
	kill9
	start_poll
	sleep 1
	check "full /run: a restart after SIGKILL repeats no pass" \
		test "$(lines "$OUT")" -eq 1
	stop
	# a state file that does not exist yet cannot be rewritten in place
	rm -f "$T/fullfs/state/handled" "$T/fullfs/state/generation"
	while touch "$T/fullfs/i$i" 2>/dev/null; do i=$((i + 1)); done
	dd if=/dev/zero of="$T/fullfs/fill2" bs=4k > /dev/null 2>&1
	start_poll
	check "full /run, no state file: said, kept in memory, retried" \
		wait_for 10 has "$LOG" "cannot write .*/handled: No space left on device; keeping the state in memory and trying again every second"
	"$FAKE" vmclock-bump "$PAGE" both
	wait_for 30 sh -c "tail -n 1 '$OUT' | grep -qx '1 2'"
	check "full /run, no state file: the pass runs" \
		sh -c "tail -n 1 '$OUT' | grep -qx '1 2'"
	rm -f "$T/fullfs/fill" "$T/fullfs/fill2" "$T/fullfs"/i*
	check "full /run, space again: state written, and said" \
		wait_for 10 has "$LOG" "state files in .* written again, after [0-9]* failed attempt(s)"
	check "full /run, space again: handled is the last pass's" \
		wait_for 5 grep -qx vmclock_generation=2 "$D/state/handled"
	stop
	umount "$T/fullfs"
else
	skip "full /run: mounting a small tmpfs needs root"
fi

# ------------------------------------------------ SIGHUP, sd_notify

setup hup
mkhook "$D/lib" 10-first "echo 10-first >> '$OUT'"
"$FAKE" notify-recv "$D/notify.sock" 20000 > "$D/notify.out" &
npid=$!
PIDS="$PIDS $npid"
wait_for 10 test -S "$D/notify.sock"
NOTIFY_SOCKET=$D/notify.sock start_poll
wait $npid
check "sd_notify: READY=1 sent to \$NOTIFY_SOCKET" sh -c \
	"[ $? -eq 0 ] && grep -q '^READY=1' '$D/notify.out'"
mkhook "$D/lib" 20-second "echo 20-second >> '$OUT'"
kill -HUP "$PID"
wait_for 10 has "$LOG" "hooks scanned (SIGHUP)"
check "SIGHUP: hooks rescanned" has "$LOG" "hooks scanned (SIGHUP): 2 to run: 10-first 20-second"
"$FAKE" vmclock-bump "$PAGE" gen
wait_pass 1
check "SIGHUP: the new hook runs" grep -qx 20-second "$OUT"
mkhook "$D/lib" 30-third "echo 30-third >> '$OUT'"
"$FAKE" vmclock-bump "$PAGE" gen
wait_pass 2
check "a hook added later is found when its directory changed" \
	grep -qx 30-third "$OUT"
stop

# ---------------------------------------------------- vmgen-reseed

echo x > "$T/notadev"
"$B/vmgen-reseed" --device "$T/notadev" > "$T/reseed.out" 2>&1
rc=$?
check "vmgen-reseed: a failing ioctl is a failure (exit $rc) with a message" \
	sh -c "[ $rc -eq 1 ] && grep -q 'RNDADDENTROPY on $T/notadev' '$T/reseed.out'"
"$B/vmgen-reseed" --credit 999 > /dev/null 2>&1
check "vmgen-reseed: bad --credit is exit 2" test $? -eq 2

# ------------------------------------------------ example hooks, docs

for h in "$TOP"/hooks/[0-9]*; do
	name=$(basename "$h")
	check "hooks/$name: sh -n" sh -n "$h"
	if command -v busybox > /dev/null; then
		check "hooks/$name: busybox sh -n" busybox sh -n "$h"
	fi
	if command -v shellcheck > /dev/null; then
		check "hooks/$name: shellcheck -s sh" shellcheck -s sh -S warning "$h"
	fi
	check "hooks/$name: starts with #!/bin/sh and an SPDX line" sh -c \
		"head -n 2 '$h' | grep -q '^#!/bin/sh' && head -n 2 '$h' | grep -q SPDX-License-Identifier"
done
if [ -f "$TOP/hooks/40-new-identity" ]; then
	env -i PATH=/usr/bin:/bin VMGEN_EVENT=migration \
		sh "$TOP/hooks/40-new-identity" > "$T/ident.out" 2>&1
	check "40-new-identity: does nothing on a migration" sh -c \
		"[ $? -eq 0 ] && grep -q 'not a restore' '$T/ident.out'"
fi
if [ -f "$TOP/hooks/10-reseed-rng" ]; then
	env -i PATH=/usr/bin:/bin VMGEN_EVENT=migration \
		sh "$TOP/hooks/10-reseed-rng" > "$T/rng.out" 2>&1
	check "10-reseed-rng: skips a migration" sh -c \
		"[ $? -eq 0 ] && grep -q 'migration' '$T/rng.out'"
fi
if command -v groff > /dev/null; then
	for m in "$TOP"/man/*.[78]; do
		groff -man -ww -z "$m" > "$T/groff.out" 2>&1
		check "man/$(basename "$m"): groff -ww without warnings" \
			sh -c "! [ -s '$T/groff.out' ]"
		[ -s "$T/groff.out" ] && diag "$T/groff.out"
	done
else
	skip "man pages: no groff"
fi

# ---------------------------------------------------- install

if command -v make > /dev/null && [ -z "${NO_INSTALL_TEST:-}" ]; then
	I=$T/inst
	make -s -C "$HERE/.." install O="$B" DESTDIR="$I" PREFIX=/usr \
		> "$T/install.out" 2>&1
	check "install: exit 0" test $? -eq 0
	for f in usr/sbin/vmgend usr/bin/vmgenctl usr/lib/vmgen/vmgen-reseed \
		usr/lib/libvmgen.so.0 usr/lib/libvmgen.so usr/lib/libvmgen.a \
		usr/include/vmgen/libvmgen.h usr/lib/pkgconfig/vmgen.pc \
		usr/share/man/man8/vmgend.8 usr/share/man/man8/vmgenctl.8 \
		usr/share/man/man7/vmgen-hooks.7 \
		usr/share/vmgen/examples/hooks.d/10-reseed-rng \
		usr/share/vmgen/examples/hooks.d/40-new-identity \
		usr/lib/systemd/system/vmgend.service \
		usr/lib/modules-load.d/vmgen.conf \
		usr/lib/udev/rules.d/60-vmgen-vmgenid-change.rules; do
		check "install: /$f" test -e "$I/$f"
	done
	check "install: hooks are not enabled by default" sh -c \
		"[ -d '$I/usr/lib/vmgen/hooks.d' ] && [ -z \"\$(ls -A '$I/usr/lib/vmgen/hooks.d')\" ] && [ -z \"\$(ls -A '$I/etc/vmgen/hooks.d')\" ]"
	check "install: vmgend mode 0755" test "$(stat -c %a "$I/usr/sbin/vmgend")" = 755
	check "install: the unit has Type=notify and ExecStart" sh -c \
		"grep -qx 'Type=notify' '$I/usr/lib/systemd/system/vmgend.service' &&
		 grep -qx 'ExecStart=/usr/sbin/vmgend --foreground' '$I/usr/lib/systemd/system/vmgend.service'"
else
	skip "install: no make"
fi

# ------------------------------------------- sanitizer reports, if any

if grep -rlE 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T" \
	> "$T/san.list" 2>/dev/null; then
	nok "no sanitizer reports in any log"
	diag "$T/san.list"
else
	ok "no sanitizer reports in any log"
fi

tests_finish
