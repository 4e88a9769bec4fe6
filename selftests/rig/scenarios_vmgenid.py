# SPDX-License-Identifier: GPL-2.0
"""Rig scenarios for vmgenid (see scenarios.py for the Scenario fields).

vmgenid-clone           every kernel, QEMU's -device vmgenid: a guest with
                        the module is snapshotted into three clones; each
                        sees exactly one change; the host compares the
                        clones' /dev/urandom samples.
vmgenid-clone-nomodule  5.10 and 6.1 without the module: what the clones'
                        RNGs share when nothing handles the VMGenID.
vmgenid-emu             every kernel, the Firecracker-style emulated VMGenID:
                        vmgenid_test, a udev-style script, the kernel's own
                        driver alongside (6.12, 7.x), load/unload cycles with
                        listeners, unload during notifications, then a
                        Firecracker-style restore into two clones.

RNG expectations (asserted by the host checks; see docs/vmgenid.md "Tests"):
the source forces a CRNG reseed right before its snapshot, so every clone
starts from a CRNG seeded moments before; on 5.10/6.1 it first waits until
the kernel's early-boot reseed interval (half the uptime) is long enough
that no scheduled reseed falls between the restore and the first sample.
Whether one does is otherwise a matter of timing.
"""
import re

from scenarios import ALL, Scenario

# Kernels without their own vmgenid driver: the module binds the device
# itself and can only mix the new ID in (rng_reseed=mix-only).
MIX_ONLY = ("5.10", "6.1")
IMMEDIATE = ("6.12", "7.x")

# Shell helpers shared by the scenarios below.
HELPERS = r"""
# A "udev-triggered script": busybox uevent runs it for every kernel uevent
# with the event's keys in its environment, as udev's RUN+= would.
cat > /tmp/vmgenid-hook.sh <<'EOF'
#!/bin/sh
[ "$SUBSYSTEM" = misc ] && [ "$DEVNAME" = vmgenid ] || exit 0
echo "$ACTION new=$NEW_VMGENID gen=$VMGENID_GENERATION" >> /tmp/vmgenid-hook.log
EOF
chmod +x /tmp/vmgenid-hook.sh
start_hook() {
	: > /tmp/vmgenid-hook.log
	uevent /tmp/vmgenid-hook.sh &
	sleep 0.2
}
# hook_saw LINE [SECONDS]: the hook's log ends with LINE, within SECONDS
hook_saw() {
	i=0
	while [ "$(tail -n 1 /tmp/vmgenid-hook.log)" != "$1" ]; do
		i=$((i + 1))
		if [ $i -gt $((${2:-10} * 10)) ]; then
			echo "want last line '$1'; hook log:"
			cat /tmp/vmgenid-hook.log
			return 1
		fi
		sleep 0.1
	done
}
# hook_count LINE N [SECONDS]: the hook's log holds LINE N times
hook_count() {
	i=0
	while [ "$(grep -c -x -F "$1" /tmp/vmgenid-hook.log)" != "$2" ]; do
		i=$((i + 1))
		if [ $i -gt $((${3:-10} * 10)) ]; then
			echo "want '$1' $2 times; hook log:"
			cat /tmp/vmgenid-hook.log
			return 1
		fi
		sleep 0.1
	done
}
gen() { cat /sys/class/misc/vmgenid/generation; }
# wait_gen N [SECONDS]: sysfs generation reaches N
wait_gen() {
	i=0
	while [ "$(gen)" -lt "$1" ]; do
		i=$((i + 1))
		if [ $i -gt $((${2:-10} * 10)) ]; then
			echo "generation $(gen), want $1"
			return 1
		fi
		sleep 0.1
	done
}
# host_change: the host writes a new ID and notifies
host_change() {
	rigctl emu vmgenid-set id=random notify=1 >/dev/null
}
# bound_to DRIVER: the VMGenID platform device is bound to DRIVER
bound_to() {
	for d in /sys/bus/platform/devices/VMGENCTR:* \
		 /sys/bus/platform/devices/QEMUVGID:* \
		 /sys/bus/platform/devices/*.vmgenid; do
		[ -e "$d" ] || continue
		drv=$(readlink "$d/driver")
		echo "$d -> ${drv:-no driver}"
		[ "${drv##*/}" = "$1" ] && return 0
	done
	return 1
}
# wait_uptime S: until the guest has been up S seconds
wait_uptime() {
	while [ "$(cut -d. -f1 /proc/uptime)" -lt "$1" ]; do
		sleep 0.5
	done
}
# prepare_snapshot: a fresh CRNG in the snapshot (see scenarios_vmgenid.py)
prepare_snapshot() {
	echo "# cpu rng: $(grep -o -w -e rdrand -e rdseed /proc/cpuinfo |
		sort -u | tr '\n' ' ')"
	[ "$VMGEN_VMGENID_KERNEL" = y ] || wait_uptime 12
	check reseed-before-snapshot vmgenid_test --reseed
}
# after_restore: in each clone, after its change was checked
after_restore() {
	if [ "$VMGEN_VMGENID_KERNEL" = y ]; then
		check kernel-driver-reseeded \
			dmesg_has "crng reseeded due to virtual machine fork"
		check kernel-driver-bound bound_to vmgenid
	else
		check module-bound bound_to vmgen_vmgenid
		# What a restore hook does on rng_reseed=mix-only.
		check reseed-ioctl vmgenid_test --reseed
		vmgenid_test --urandom reseeded
	fi
}
"""

# No uevent script here: a process it spawns in each clone while the
# sample is taken would change what the sample shows (see rng_check).
CLONE_QEMU = HELPERS + r"""
check vmgenid-loads modprobe vmgen_vmgenid
prepare_snapshot
export VMGENID_SNAPSHOT_CLONES=3
run_test vmgenid_clone vmgenid_test -t clone_restore
# From here on in every clone.
after_restore
"""

CLONE_NOMODULE = HELPERS + r"""
check no-vmgenid-driver sh -c '! test -e /dev/vmgenid &&
	! ls /sys/bus/platform/drivers/ | grep -q vmgenid'
prepare_snapshot
rigctl snapshot 3
# From here on in every clone.
vmgenid_test --urandom resume
check reseed-ioctl vmgenid_test --reseed
vmgenid_test --urandom reseeded
"""

EMU = HELPERS + r"""
check vmgenid-loads modprobe vmgen_vmgenid
start_hook
run_test vmgenid_test vmgenid_test -T clone_restore

# The udev-style script gets every change with its generation.
hook_gets_change() {
	g=$(($(gen) + 1))
	host_change && wait_gen $g && hook_saw "change new=1 gen=$g" 10
}
check udev-script-gets-change hook_gets_change

if [ "$VMGEN_VMGENID_KERNEL" = y ]; then
	# The kernel's driver keeps the device and keeps reseeding; the
	# module's uevent still arrives.
	check kernel-driver-bound bound_to vmgenid
	dmesg -c >/dev/null
	check kernel-driver-change hook_gets_change
	check kernel-driver-reseeds \
		dmesg_has "crng reseeded due to virtual machine fork"
	check kernel-driver-still-bound bound_to vmgenid
else
	check module-bound bound_to vmgen_vmgenid
fi

# Load/unload cycles with the uevent script listening all along, a poller
# holding /dev/vmgenid open and one on the sysfs attribute: rmmod must fail
# cleanly while /dev/vmgenid is open (the file holds a module reference)
# and succeed once it is closed, the sysfs poller still waiting.
CYCLES=20
start_poller() {
	rm -f /tmp/poller.out
	vmgenid_test --poll 60000 > /tmp/poller.out 2>&1 &
	POLLER=$!
	i=0
	until grep -q ready /tmp/poller.out; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "poller not ready"; return 1; }
		sleep 0.05
	done
}
start_sysfs_poller() {
	rm -f /tmp/spoller.out
	vmgenid_test --poll-sysfs 60000 > /tmp/spoller.out 2>&1 &
	SPOLLER=$!
	i=0
	until grep -q ready /tmp/spoller.out; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "sysfs poller not ready"; return 1; }
		sleep 0.05
	done
}
load_unload_cycles() {
	rmmod vmgen_vmgenid && hook_saw "remove new= gen=" 10 || return 1
	: > /tmp/vmgenid-hook.log
	n=0
	while [ $n -lt $CYCLES ]; do
		n=$((n + 1))
		modprobe vmgen_vmgenid || { echo "cycle $n: modprobe"; return 1; }
		[ -c /dev/vmgenid ] || { echo "cycle $n: no /dev/vmgenid"; return 1; }
		[ "$(gen)" = 0 ] || { echo "cycle $n: generation $(gen)"; return 1; }
		start_poller || return 1
		start_sysfs_poller || return 1
		if rmmod vmgen_vmgenid 2>/tmp/rmmod.err; then
			echo "cycle $n: rmmod succeeded with /dev/vmgenid open"
			return 1
		fi
		[ -c /dev/vmgenid ] && grep -q '^vmgen_vmgenid ' /proc/modules ||
			{ echo "cycle $n: module gone after a failed rmmod"; return 1; }
		if [ $((n % 2)) = 1 ]; then
			# The poller wakes on a change and exits.
			host_change || { echo "cycle $n: host"; return 1; }
			wait $POLLER || { echo "cycle $n: poller: $(cat /tmp/poller.out)"; return 1; }
			grep -q "^generation 1$" /tmp/poller.out ||
				{ echo "cycle $n: poller: $(cat /tmp/poller.out)"; return 1; }
			# Unloading cancels a report not yet sent: let it go out.
			hook_count "change new=1 gen=1" $(((n + 1) / 2)) ||
				{ echo "cycle $n: no uevent"; return 1; }
		else
			kill $POLLER
			wait $POLLER
		fi
		# A sysfs poller does not hold the module.
		rmmod vmgen_vmgenid || { echo "cycle $n: rmmod after close"; return 1; }
		[ ! -e /dev/vmgenid ] || { echo "cycle $n: /dev/vmgenid left"; return 1; }
		kill $SPOLLER 2>/dev/null
		wait $SPOLLER
		echo "cycle $n: sysfs poller: $(tr '\n' ' ' < /tmp/spoller.out)"
	done
	echo "rmmod while open said: $(cat /tmp/rmmod.err)"
}
check load-unload-cycles load_unload_cycles
echo "# rmmod while open: $(cat /tmp/rmmod.err)"
echo "# sysfs poller across rmmod: $(tr '\n' ' ' < /tmp/spoller.out)"
rmmod_fails_cleanly() {
	grep -q "Resource temporarily unavailable" /tmp/rmmod.err
}
check rmmod-while-open-is-eagain rmmod_fails_cleanly
# The listener saw every add, change and remove, in order.
listener_saw_cycles() {
	hook_count "remove new= gen=" $CYCLES || return 1
	want=""
	n=0
	while [ $n -lt $CYCLES ]; do
		n=$((n + 1))
		want="$want
add new= gen="
		[ $((n % 2)) = 1 ] && want="$want
change new=1 gen=1"
		want="$want
remove new= gen="
	done
	[ "$(cat /tmp/vmgenid-hook.log)" = "${want#?}" ] ||
		{ echo "hook log:"; cat /tmp/vmgenid-hook.log; return 1; }
}
check listener-saw-every-cycle listener_saw_cycles

# Unload while notifications arrive: a burst of host changes in the
# background, rmmod after 0..180 ms.
unload_during_notify() {
	: > /tmp/vmgenid-hook.log
	n=0
	while [ $n -lt 10 ]; do
		n=$((n + 1))
		modprobe vmgen_vmgenid || { echo "cycle $n: modprobe"; return 1; }
		(for j in 1 2 3 4; do host_change || exit 1; done) &
		burst=$!
		usleep $(((n - 1) * 20000))
		rmmod vmgen_vmgenid || { echo "cycle $n: rmmod"; return 1; }
		wait $burst || { echo "cycle $n: host"; return 1; }
	done
}
check unload-during-notifications unload_during_notify
reload_works() {
	hook_count "remove new= gen=" 10 || return 1
	: > /tmp/vmgenid-hook.log
	modprobe vmgen_vmgenid && host_change && wait_gen 1 &&
		hook_saw "change new=1 gen=1" 10 &&
		[ "$(cat /tmp/vmgenid-hook.log)" = "add new= gen=
change new=1 gen=1" ] || { cat /tmp/vmgenid-hook.log; return 1; }
}
check reload-counts-from-zero reload_works

# A Firecracker-style restore: the host writes a new ID into each paused
# clone and notifies before it runs.
prepare_snapshot
export VMGENID_SNAPSHOT_CLONES=2
run_test vmgenid_clone vmgenid_test -t clone_restore
# From here on in every clone.
check udev-script-ran-for-restore hook_saw "change new=1 gen=2" 5
after_restore
"""

URANDOM = re.compile(r"@@vmgen-urandom (\S+) ([0-9a-f]{32})")


def _series(guests):
    info = getattr(guests[0], "kernel", None) or {}
    return info.get("series", "?")


def _cpu_rng(guests):
    for line in guests[0].console:
        m = re.search(r"# cpu rng: (.*)", line)
        if m:
            return m.group(1).split()
    return []


def rng_check(tag, expect):
    """Host check of the clones' '@@vmgen-urandom TAG' samples.

    expect(series, cpu_rng) gives "identical" (every clone printed the same
    bytes), "differ" (no two clones alike), "observe" (report what was
    seen as a skip, asserting nothing) or None (the kernel does not take
    this sample). The result's name carries the observation."""

    def check(guests):
        series = _series(guests)
        want = expect(series, _cpu_rng(guests))
        if want is None:
            return []
        clones = [g for g in guests if g.name.startswith("clone")]
        samples = {}
        for g in clones:
            found = [m.group(2) for m in map(URANDOM.search, g.console)
                     if m and m.group(1) == tag]
            if len(found) != 1:
                return [("urandom-%s" % tag, "fail", "%s printed %d '%s' "
                         "samples" % (g.name, len(found), tag))]
            samples[g.name] = found[0]
        if len(samples) < 2:
            return [("urandom-%s" % tag, "fail",
                     "need 2+ clones, got %d" % len(samples))]
        distinct = len(set(samples.values()))
        seen = ("differ" if distinct == len(samples) else
                "identical" if distinct == 1 else "partly-identical")
        detail = " ".join("%s=%s" % kv for kv in sorted(samples.items()))
        name = "clones-urandom-%s-%s" % (tag, seen)
        if want == "observe":
            return [(name, "skip", "observed, not asserted, on %s: %s"
                     % (series, detail))]
        if seen == want:
            return [(name, "pass", "")]
        return [(name, "fail", "expected %s on %s: %s" % (want, series,
                                                           detail))]

    check.__name__ = "urandom_" + tag
    return check


def _event_expect(series, cpu_rng):
    # 6.12, 7.x: the kernel's driver reseeds the CRNG before the module
    # hears of the change. 5.10, 6.1: the new ID only sits in the input
    # pool; the CRNG the clones share is unchanged until it reseeds.
    return "differ" if series in IMMEDIATE else "identical"


def _emu_event_expect(series, cpu_rng):
    # As _event_expect, but where the CRNG is not reseeded the uevent script
    # running in each clone alongside the sample (it forks, and a fork takes
    # random bytes) can make the clones' samples differ, or not: reported.
    return "differ" if series in IMMEDIATE else "observe"


def _reseeded_expect(series, cpu_rng):
    # Where the module is mix-only, RNDRESEEDCRNG after the event pulls the
    # distinct IDs out of the input pool.
    return "differ" if series in MIX_ONLY else None


def _nomodule_reseeded_expect(series, cpu_rng):
    # Without the module the clones' input pools differ only by what
    # arrived since the restore; a reseed also mixes RDSEED/RDRAND output,
    # which alone tells the clones apart. Without a CPU RNG it would come
    # down to interrupt timing: not asserted.
    if series not in MIX_ONLY:
        return None
    return "differ" if cpu_rng else None


def _identical_expect(series, cpu_rng):
    return "identical" if series in MIX_ONLY else None


SCENARIOS = [
    Scenario("vmgenid-clone", ["qemu-vmgenid"], CLONE_QEMU, clones=3,
             host_checks=[rng_check("event", _event_expect),
                          rng_check("reseeded", _reseeded_expect)]),
    Scenario("vmgenid-clone-nomodule", ["qemu-vmgenid"], CLONE_NOMODULE,
             kernels=MIX_ONLY, clones=3,
             host_checks=[rng_check("resume", _identical_expect),
                          rng_check("reseeded", _nomodule_reseeded_expect)]),
    Scenario("vmgenid-emu", ["emu-vmgenid"], EMU, clones=2,
             host_checks=[rng_check("event", _emu_event_expect),
                          rng_check("reseeded", _reseeded_expect)]),
]
