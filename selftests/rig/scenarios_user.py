# SPDX-License-Identifier: GPL-2.0
"""Rig scenarios for vmgend and vmgenctl in real guests (see scenarios.py
for the fields). They run the host's own build of the userspace, with its
shared libraries, in the busybox guests."""
from scenarios import Scenario

X86 = ("5.10", "6.1", "6.12", "7.x")

# Shell helpers: a root-owned hook directory with a hook that records its
# environment, vmgend started in the background, and a wait for its passes.
USER_LIB = r"""
setup_hooks() {
	mkdir -p /etc/vmgen/hooks.d
	chmod 755 /etc/vmgen /etc/vmgen/hooks.d
	cp /usr/share/vmgen/examples/hooks.d/10-reseed-rng /etc/vmgen/hooks.d/
	cat > /etc/vmgen/hooks.d/50-record <<'EOF'
#!/bin/sh
{
	echo "--- pass"
	env | grep -v -e '^PWD=' -e '^SHLVL=' -e '^_=' | sort
} >> /run/hooks.log
echo "recorded $VMGEN_EVENT $VMGEN_GENERATION_OLD -> $VMGEN_GENERATION_NEW"
EOF
	chmod 755 /etc/vmgen/hooks.d/*
}

load_modules() {
	vmgenctl load > /tmp/load.log 2>&1
	rc=$?
	sed 's/^/# load: /' /tmp/load.log
	[ -e /dev/vmgenid ] || return 1
	return $rc
}

start_vmgend() {
	vmgend -f "$@" >> /tmp/vmgend.log 2>&1 &
	echo $! > /tmp/vmgend.pid
	i=0
	while [ ! -e /run/vmgen/generation ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && { cat /tmp/vmgend.log; return 1; }
		sleep 0.1
	done
}

passes() {
	grep -c '^--- pass' /run/hooks.log 2>/dev/null || echo 0
}

# wait_passes N: wait (up to 30 s) for N recorded passes, then 2 s more so
# that an extra pass would be seen too.
wait_passes() {
	i=0
	while [ "$(passes)" -lt "$1" ] && [ $i -lt 300 ]; do
		sleep 0.1; i=$((i + 1))
	done
	sleep 2
	[ "$(passes)" -eq "$1" ] || {
		echo "expected $1 passes, saw $(passes)"
		cat /run/hooks.log /tmp/vmgend.log 2>/dev/null
		return 1
	}
}

hook_env() {	# hook_env VAR: its value in the last recorded pass
	sed -n "s/^$1=//p" /run/hooks.log | tail -1
}

# fcheck NAME FUNC: like check, with FUNC's output (figures) on the console
fcheck() {
	echo "@@vmgen-test $1"
	if "$2"; then
		echo "ok 1 $1"; echo "@@vmgen-exit $1 0"
	else
		echo "not ok 1 $1"; echo "@@vmgen-exit $1 1"
	fi
}

show_logs() {
	sed 's/^vmgend: /# vmgend: /' /tmp/vmgend.log
	sed 's/^/# hooks.log: /' /run/hooks.log 2>/dev/null
	sed 's/^/# last-pass: /' /run/vmgen/last-pass 2>/dev/null
}
"""

SCENARIOS = [
    # Snapshot, then three clones, both emulated devices notifying: one
    # pass per clone, with the right environment.
    Scenario("user-clones", ["emu-both"], USER_LIB + r"""
setup_hooks
check modules-load load_modules
check vmgend-starts start_vmgend
check no-pass-at-start wait_passes 0
gen0=$(cat /sys/class/misc/vmgenid/generation)
run_test restore rig_selftest --snapshot 3
check one-pass-per-clone wait_passes 1
check event-is-restore test "$(hook_env VMGEN_EVENT)" = restore
check source-is-both-devices test "$(hook_env VMGEN_SOURCE)" = vmclock+vmgenid
check vmclock-generation-stepped test "$(hook_env VMGEN_GENERATION_NEW)" = \
	"$(($(hook_env VMGEN_GENERATION_OLD) + 1))"
check vmgenid-generation-stepped test "$(hook_env VMGEN_VMGENID_GENERATION_NEW)" = "$((gen0 + 1))"
check env-is-cleared sh -c '! sed -n "/^--- pass/,\$p" /run/hooks.log |
	grep -v -e "^--- pass" -e "^PATH=" -e "^VMGEN_[A-Z_]*="'
check reseed-hook-succeeded grep -q "hook.10-reseed-rng=exit 0" /run/vmgen/last-pass
check pass-logged grep -q "pass 1: restore.*notification to first hook" /tmp/vmgend.log
show_logs
""", kernels=X86, clones=3),

    # QEMU's devices only: vmclock cannot notify, so auto must pick the
    # VMGenID counter and say why; a restore still runs one pass.
    Scenario("user-qemu-auto", ["qemu-vmclock", "qemu-vmgenid"], USER_LIB + r"""
setup_hooks
check modules-load load_modules
check vmgend-starts start_vmgend --source auto
check auto-says-what-it-picked grep -i "source.*vmgenid" /tmp/vmgend.log
vmgenctl status --json > /tmp/status.json
echo "@@vmgen-json $(tr -d '\n' < /tmp/status.json)"
run_test restore rig_selftest --snapshot 1
check one-pass wait_passes 1
check event-is-restore test "$(hook_env VMGEN_EVENT)" = restore
show_logs
""", kernels=X86, clones=1),

    # An explicit source the platform cannot provide fails loudly.
    Scenario("user-unavailable-source", ["qemu-vmgenid"], USER_LIB + r"""
refuses() {	# refuses SOURCE: non-zero exit, and the message says why
	vmgend -f --source "$1" > /tmp/out 2>&1 &
	pid=$!
	i=0
	while kill -0 $pid 2>/dev/null && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	if kill -0 $pid 2>/dev/null; then
		kill $pid; echo "vmgend --source $1 kept running"; return 1
	fi
	wait $pid
	rc=$?
	cat /tmp/out
	[ $rc -ne 0 ] && [ -s /tmp/out ]
}
check no-vmclock-device refuses vmclock
check vmgenid-module-not-loaded refuses vmgenid
""", kernels=X86),

    # vmgend killed with SIGKILL before a restore and started again after
    # it: it runs the missed pass once, and a further restart runs none.
    Scenario("user-restart", ["emu-both"], USER_LIB + r"""
setup_hooks
check modules-load load_modules
check vmgend-starts start_vmgend
kill -9 "$(cat /tmp/vmgend.pid)"
run_test restore rig_selftest --snapshot 1
check restarted-after-restore start_vmgend
check missed-restore-runs-once wait_passes 1
kill "$(cat /tmp/vmgend.pid)"; sleep 0.5
check restarted-again start_vmgend
check no-repeated-pass wait_passes 1
show_logs
""", kernels=X86, clones=1),
]


# vmgend under faults, on the emulated devices (docs/reliability.md,
# "Figures: userspace"). Every phase checks the same things: no lost
# generation, no repeated pass, bounded memory, a log that says what
# happened. Hooks record "PASS OLD NEW VMGENID_NEW" in /tmp/passes.log and
# misbehave only while their flag file in /tmp/fault exists.
FAULTS_LIB = r"""
F=/tmp/fault
mkdir -p $F /etc/vmgen/hooks.d
chmod 755 /etc/vmgen /etc/vmgen/hooks.d
hook() {	# hook NAME BODY: a root-owned sh hook
	printf '#!/bin/sh\n%s\n' "$2" > /etc/vmgen/hooks.d/$1
	chmod 755 /etc/vmgen/hooks.d/$1
}
hook 10-record 'echo "$VMGEN_PASS $VMGEN_GENERATION_OLD $VMGEN_GENERATION_NEW $VMGEN_VMGENID_GENERATION_NEW" >> /tmp/passes.log'
hook 20-hang '[ -e /tmp/fault/hang ] || exit 0
( trap "" TERM; exec sleep 600 ) &
echo $! > /tmp/fault/hang.child
trap "" TERM
while [ ! -e /tmp/fault/release ]; do sleep 0.1; done'
hook 30-orphan '[ -e /tmp/fault/orphan ] || exit 0
sleep 600 &
echo $! > /tmp/fault/orphan.ingroup
setsid sleep 600 &
echo $! > /tmp/fault/orphan.setsid'
hook 40-loud '[ -e /tmp/fault/loud ] || exit 0
yes "a hook that will not stop talking" | head -c 4000000'
hook 50-signal '[ -e /tmp/fault/signal ] || exit 0
kill -SEGV $$'

VMGEND_ARGS="-f -v --hook-timeout 2 --hook-grace 1"
start_vmgend() {
	vmgend $VMGEND_ARGS "$@" >> /tmp/vmgend.log 2>&1 &
	echo $! > /tmp/vmgend.pid
	i=0
	while ! grep -q 'vmgend: ready' /tmp/vmgend.log 2>/dev/null; do
		i=$((i + 1))
		[ $i -gt 100 ] && { tail -20 /tmp/vmgend.log; return 1; }
		sleep 0.1
	done
}
vpid() { cat /tmp/vmgend.pid; }
stop_vmgend() {
	kill "$(vpid)" 2>/dev/null
	i=0
	while kill -0 "$(vpid)" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1; i=$((i + 1))
	done
	: > /tmp/vmgend.log.mark
}
kill9_vmgend() {
	kill -9 "$(vpid)"
	while kill -0 "$(vpid)" 2>/dev/null; do sleep 0.05; done
}
npasses() { [ -f /tmp/passes.log ] && wc -l < /tmp/passes.log || echo 0; }
state() { sed -n "s/^$1=//p" /run/vmgen/$2 2>/dev/null; }
last_pass() { state pass last-pass; }
# wait_done N: until last-pass says pass N ended (up to 60 s)
wait_done() {
	i=0
	while [ "$(last_pass)" != "$1" ] || [ -e /run/vmgen/progress ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && { echo "pass $1 did not end"; tail -30 /tmp/vmgend.log; return 1; }
		sleep 0.1
	done
}
host_gen() { rigctl emu vmclock-get | sed 's/.* gen=\([0-9]*\).*/\1/'; }
vmgenid_gen() { cat /sys/class/misc/vmgenid/generation; }
restore_event() {	# what a restore looks like, as in the rig's clones
	rigctl emu vmclock-event notify=0 >/dev/null &&
	rigctl emu vmgenid-set notify=0 >/dev/null &&
	rigctl emu notify both >/dev/null
}
# wait_handled: until vmgend handled what the devices say now (60 s)
wait_handled() {
	g=$(host_gen); v=$(vmgenid_gen)
	i=0
	while [ "$(state vmclock_generation handled)" != "$g" ] ||
	      [ "$(state vmgenid_generation handled)" != "$v" ] ||
	      [ -e /run/vmgen/progress ]; do
		i=$((i + 1))
		[ $i -gt 600 ] && { echo "handled $(cat /run/vmgen/handled | tr '\n' ' ') != gen $g vmgenid $v"; return 1; }
		sleep 0.1
	done
}
# passes_ok FROM: the passes since line FROM of passes.log follow each
# other (each one's VMClock OLD is the previous NEW), each is for something
# new (the VMClock generation, or the VMGenID one alone when the guest saw
# a new ID after the pass for the page), and they end on the host's count
passes_ok() {
	awk -v from="$1" -v want="$(host_gen)" '
		NR <= from { prev = $3; prevg = $4; next }
		{ if (prev != "" && $2 != prev) { print "gap or repeat: line " NR ": " $0 " after " prev; bad = 1 }
		  if ($3 <= $2 && !(prevg != "" && $4 > prevg)) { print "nothing new: " $0; bad = 1 }
		  prev = $3; prevg = $4 }
		END { if (prev != want) { print "last generation " prev " != host " want; bad = 1 }
		      exit bad }' /tmp/passes.log
}
kb() { sed -n "s/^$1:[[:space:]]*\([0-9]*\) kB/\1/p" /proc/$(vpid)/status; }
cpu_ticks() { awk '{ print $14 + $15 }' /proc/$(vpid)/stat; }
zombies() {	# zombie children of vmgend
	for s in /proc/[0-9]*/stat; do
		awk -v p="$(vpid)" '$4 == p && $3 == "Z" { print $1 }' "$s" 2>/dev/null
	done | wc -l
}
logged() { grep -q -- "$1" /tmp/vmgend.log; }
"""

SCENARIOS.append(Scenario("user-faults", ["emu-both"], USER_LIB + FAULTS_LIB + r"""
check modules-load load_modules
check vmgend-starts start_vmgend
check source-is-both grep -q 'source vmclock+vmgenid' /tmp/vmgend.log

# 1. hooks that hang, leave children behind, print megabytes, die by a signal
touch $F/hang $F/orphan $F/loud $F/signal
restore_event
hooks_faults() {
	wait_done 1 || return 1
	r=0
	grep -qx 'hook.20-hang=timeout 9 .*' /run/vmgen/last-pass || { echo "20-hang not a timeout ended by SIGKILL"; r=1; }
	logged 'hook 20-hang: 1 s after SIGTERM, its process group is still there: SIGKILL' || r=1
	grep -qx 'hook.30-orphan=exit 0 .*' /run/vmgen/last-pass || r=1
	logged 'hook 30-orphan: exited, leaving [12] process(es) of its group running' || { echo "no line about 30-orphan's child"; grep 30-orphan /tmp/vmgend.log; r=1; }
	grep -qx 'hook.40-loud=exit 0 .*' /run/vmgen/last-pass || r=1
	logged 'hook 40-loud: output over 64 KiB: [0-9]* more bytes dropped' || r=1
	grep -qx 'hook.50-signal=signal 11 .*' /run/vmgen/last-pass || r=1
	logged 'hook 50-signal: killed by signal 11 (SIGSEGV)' || r=1
	! kill -0 "$(cat $F/hang.child)" 2>/dev/null || { echo "the hung hook's child survived"; r=1; }
	[ "$(npasses)" = 1 ] || { echo "$(npasses) passes"; r=1; }
	wait_handled || r=1
	dropped=$(sed -n 's/.*hook 40-loud: output over 64 KiB: \([0-9]*\) more.*/\1/p' /tmp/vmgend.log)
	echo "# figure: user.hooks.passes=$(npasses)"
	echo "# figure: user.hooks.dropped_bytes=$dropped"
	echo "# figure: user.hooks.vmgend_rss_kb=$(kb VmRSS)"
	return $r
}
fcheck hook-faults hooks_faults
kill "$(cat $F/orphan.ingroup)" "$(cat $F/orphan.setsid)" 2>/dev/null
rm -f $F/hang $F/orphan $F/loud $F/signal
sleep 0.5
check orphans-reaped test "$(zombies)" = 0

# 2. a burst of 1,000 notifications, each after a change of both devices
burst() {
	before=$(npasses); hwm0=$(kb VmHWM)
	rigctl emu notify-storm count=1000 target=both event=1 >/dev/null || return 1
	out=$(rigctl emu notify-storm-wait) || return 1
	echo "# storm: $out"
	wait_handled || return 1
	sleep 2	# a late pass would show now
	r=0
	passes_ok "$before" || r=1
	n=$(($(npasses) - before))
	hwm1=$(kb VmHWM)
	echo "# figure: user.burst.notifications=1000"
	echo "# figure: user.burst.generations=$(($(state vmclock_generation handled) - $(sed -n "${before}p" /tmp/passes.log | cut -d' ' -f3)))"
	echo "# figure: user.burst.passes=$n"
	echo "# figure: user.burst.hwm_growth_kb=$((hwm1 - hwm0))"
	[ "$n" -ge 1 ] && [ "$n" -le 1000 ] || r=1
	[ $((hwm1 - hwm0)) -le 256 ] || { echo "VmHWM grew from $hwm0 to $hwm1 kB"; r=1; }
	return $r
}
fcheck burst-1000 burst

# 3. 200 restores one after the other: one pass each, memory flat
lockstep() {
	before=$(npasses); hwm0=$(kb VmHWM); rss0=$(kb VmRSS)
	k=0
	while [ $k -lt 200 ]; do
		restore_event || return 1
		k=$((k + 1))
		wait_done $(($(last_pass) + 1)) || return 1
	done
	wait_handled || return 1
	sleep 1
	r=0
	passes_ok "$before" || r=1
	n=$(($(npasses) - before))
	echo "# figure: user.lockstep.restores=200"
	echo "# figure: user.lockstep.passes=$n"
	echo "# figure: user.lockstep.hwm_growth_kb=$(($(kb VmHWM) - hwm0))"
	echo "# figure: user.lockstep.rss_kb=$rss0..$(kb VmRSS)"
	[ "$n" = 200 ] || { echo "$n passes for 200 restores"; r=1; }
	[ $(($(kb VmHWM) - hwm0)) -le 128 ] || r=1
	return $r
}
fcheck lockstep-200 lockstep

# 4. vmgend killed with SIGKILL mid-pass, then started again
killed() {
	before=$(npasses); p=$(($(last_pass) + 1))
	rm -f $F/release; touch $F/hang
	restore_event
	i=0
	while ! grep -q '^running=20-hang ' /run/vmgen/progress 2>/dev/null; do
		i=$((i + 1)); [ $i -gt 300 ] && { echo "20-hang never ran"; return 1; }
		sleep 0.1
	done
	kill9_vmgend
	child=$(cat $F/hang.child)
	kill -0 "$child" || { echo "the hook's child died with vmgend"; return 1; }
	rm -f $F/hang
	start_vmgend || return 1
	wait_done $p || return 1
	wait_handled || return 1
	r=0
	logged "pass $p did not finish (vmgend was stopped or killed while running hook 20-hang): finishing it" || r=1
	logged "hook 20-hang of interrupted pass $p: .* still running: SIGTERM" || r=1
	logged "hook 10-record: ran in pass $p before vmgend was restarted: not run again" || r=1
	! kill -0 "$child" 2>/dev/null || { echo "the killed vmgend's hook child still runs"; r=1; }
	[ $(($(npasses) - before)) = 1 ] || { echo "10-record ran $(($(npasses) - before)) times"; r=1; }
	stop_vmgend
	start_vmgend || return 1
	sleep 2
	[ $(($(npasses) - before)) = 1 ] || { echo "a further restart ran a pass"; r=1; }
	echo "# figure: user.kill.record_hook_runs=$(($(npasses) - before))"
	return $r
}
fcheck sigkill-mid-pass killed

# 5. /run full: blocks and inodes
run_full() {
	stop_vmgend
	cp -a /run/vmgen /tmp/state.saved
	mount -t tmpfs -o size=256k,nr_inodes=64 tmpfs /run || return 1
	cp -a /tmp/state.saved /run/vmgen
	start_vmgend || return 1
	before=$(npasses)
	dd if=/dev/zero of=/run/fill bs=4k 2>/dev/null
	i=0; while touch /run/i$i 2>/dev/null; do i=$((i + 1)); done
	restore_event
	wait_handled || return 1
	r=0
	logged 'cannot replace /run/vmgen/handled (No space left on device): rewrote it in place' || r=1
	[ $(($(npasses) - before)) = 1 ] || r=1
	ls -A /run/vmgen | grep -q tmp && { echo "temporary files left"; r=1; }
	kill9_vmgend
	start_vmgend || return 1
	sleep 2
	[ $(($(npasses) - before)) = 1 ] || { echo "restart repeated a pass"; r=1; }
	rm -f /run/fill /run/i*
	restore_event
	wait_handled || r=1
	[ $(($(npasses) - before)) = 2 ] || r=1
	passes_ok "$before" || r=1
	echo "# figure: user.runfull.passes=$(($(npasses) - before))"
	return $r
}
fcheck run-full run_full

# 6. the VMClock device removed (unbound) while vmgend polls it, and back
removed() {
	dev=$(basename "$(readlink -f /sys/class/misc/vmclock0/device)")
	drv=/sys/bus/platform/drivers/vmgen_vmclock
	before=$(npasses)
	echo "$dev" > $drv/unbind || return 1
	i=0
	while ! logged '/dev/vmclock0 went away'; do
		i=$((i + 1)); [ $i -gt 100 ] && { echo "not noticed"; return 1; }
		sleep 0.1
	done
	t0=$(cpu_ticks); sleep 3; t1=$(cpu_ticks)
	r=0
	kill -0 "$(vpid)" || { echo "vmgend exited"; return 1; }
	logged 'source vmgenid (a device went away)' || r=1
	# a restore of the VMClock alone, while nobody drives it
	rigctl emu vmclock-event notify=1 >/dev/null
	sleep 1
	echo "$dev" > $drv/bind || return 1
	wait_handled || r=1
	logged 'source vmclock+vmgenid (vmclock0: add)' || r=1
	[ $(($(npasses) - before)) = 1 ] || { echo "$(($(npasses) - before)) passes"; r=1; }
	passes_ok "$before" || r=1
	echo "# figure: user.remove.cpu_ms_in_3s=$(((t1 - t0) * 10))"
	echo "# figure: user.remove.passes=$(($(npasses) - before))"
	[ $((t1 - t0)) -le 30 ] || { echo "vmgend used $(((t1 - t0) * 10)) ms of CPU in 3 s without its device"; r=1; }
	return $r
}
if [ "$VMGEN_VMCLOCK_DRIVER" = vmgen_vmclock ]; then
	fcheck device-removed removed
else
	skip device-removed "unbinding the kernel's own ptp_vmclock is not ours to test"
fi
check no-zombies test "$(zombies)" = 0
stop_vmgend
sed 's/^vmgend: /# vmgend: /' /tmp/vmgend.log | grep -v 'hook 40-loud: a hook' | tail -150
""", kernels=X86, timeout=900))


# Security, as an ordinary user (uid 65534): the VMGenID value is nowhere
# to be read; hooks an ordinary user could have written are refused. (The
# VMClock page's read-only mapping for such a user is vmclock_abi_test's,
# scenario vmclock-emu.)
SCENARIOS.append(Scenario("user-security", ["emu-both"], USER_LIB + r"""
check modules-load load_modules
for n in vmclock vmgenid; do
	mode=$(sed -n 's/.*MODE="\([0-7]*\)".*/\1/p' /etc/vmgen/60-vmgen-$n.rules)
	chmod "$mode" /dev/$n* 2>/dev/null
done
run_test vmgenid-secret vmgenid_secret_test --uid 65534

# Hooks an ordinary user owns or can change are never run.
mkdir -p /etc/vmgen/hooks.d /tmp/ww /tmp/nobody-dir
chmod 755 /etc/vmgen /etc/vmgen/hooks.d
chmod 1777 /tmp/ww
chown 65534 /tmp/nobody-dir
mk() {	# mk PATH: a hook that leaves a mark if it ever runs
	printf '#!/bin/sh\ntouch "/tmp/ran.${0##*/}"\n' > "$1"
	chmod 755 "$1"
}
mk /etc/vmgen/hooks.d/10-owned-by-nobody; chown 65534 /etc/vmgen/hooks.d/10-owned-by-nobody
mk /etc/vmgen/hooks.d/20-group-writable; chmod 775 /etc/vmgen/hooks.d/20-group-writable
mk /etc/vmgen/hooks.d/30-world-writable; chmod 777 /etc/vmgen/hooks.d/30-world-writable
mk /tmp/nobody-dir/target; ln -s /tmp/nobody-dir/target /etc/vmgen/hooks.d/40-link-into-nobody-dir
mk /tmp/ww/target; ln -s /tmp/ww/target /etc/vmgen/hooks.d/50-link-into-sticky-dir
mk /tmp/nobody-target; chown 65534 /tmp/nobody-target
ln -s /tmp/nobody-target /etc/vmgen/hooks.d/60-link-to-nobody-file
mk /etc/vmgen/hooks.d/70-setuid; chmod 4755 /etc/vmgen/hooks.d/70-setuid
mk /etc/vmgen/hooks.d/90-good
check vmgend-starts start_vmgend
rigctl emu vmclock-event notify=0 >/dev/null
rigctl emu vmgenid-set notify=0 >/dev/null
rigctl emu notify both >/dev/null
i=0
while [ ! -e /tmp/ran.90-good ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
sleep 1
unsafe_hooks() {
	r=0; refused=0
	[ -e /tmp/ran.90-good ] || { echo "# the good hook did not run"; r=1; }
	for h in 10-owned-by-nobody 20-group-writable 30-world-writable \
		40-link-into-nobody-dir 50-link-into-sticky-dir \
		60-link-to-nobody-file 70-setuid; do
		[ -e /tmp/ran.$h ] && { echo "# $h ran"; r=1; }
		if grep -q "hook /etc/vmgen/hooks.d/$h: refused: " /tmp/vmgend.log; then
			refused=$((refused + 1))
		else
			echo "# $h: no refusal logged"; r=1
		fi
	done
	grep 'refused: ' /tmp/vmgend.log | sed 's/^/# /'
	echo "# figure: user.security.unsafe_hooks=7"
	echo "# figure: user.security.unsafe_refused=$refused"
	echo "# figure: user.security.unsafe_ran=$(ls /tmp/ran.* 2>/dev/null | grep -vc 90-good)"
	return $r
}
fcheck unsafe-hooks-refused unsafe_hooks
kill "$(cat /tmp/vmgend.pid)"
""", kernels=X86))


def _status_json_parses(guests):
    import json
    out = []
    for g in guests:
        for line in g.console:
            if line.startswith("@@vmgen-json "):
                try:
                    doc = json.loads(line[len("@@vmgen-json "):])
                    ok = isinstance(doc, dict)
                    out.append(("status-json-parses[%s]" % g.name,
                                "pass" if ok else "fail", ""))
                except ValueError as e:
                    out.append(("status-json-parses[%s]" % g.name, "fail",
                                str(e)))
    if not out:
        out.append(("status-json-parses", "fail", "no JSON line printed"))
    return out


SCENARIOS[1].host_checks = (_status_json_parses,)
