# SPDX-License-Identifier: GPL-2.0
"""Rig scenarios for vmgenid (see scenarios.py for the Scenario fields)."""
import re

from scenarios import ALL, LOAD_VMCLOCK, Scenario  # noqa: F401

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
	HOOK_PID=$!
	sleep 0.2
}
# hook_saw LINE [SECONDS]: the hook's log ends with LINE, within SECONDS
hook_saw() {
	i=0
	while [ "$(tail -n 1 /tmp/vmgenid-hook.log)" != "$1" ]; do
		i=$((i + 1))
		if [ $i -gt $((${2:-10} * 10)) ]; then
			echo "hook log:"; cat /tmp/vmgenid-hook.log
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
		[ $i -gt $((${2:-10} * 10)) ] && { echo "generation $(gen), want $1"; return 1; }
		sleep 0.1
	done
}
rng_facts() {
	echo "# cpu rng: $(grep -o -w -e rdrand -e rdseed /proc/cpuinfo | sort -u | tr '\n' ' ')"
}
"""

# Every kernel, QEMU's own vmgenid: snapshot one guest, restore three clones.
CLONE_QEMU = HELPERS + r"""
rng_facts
check vmgenid-loads modprobe vmgen_vmgenid
start_hook
export VMGENID_SNAPSHOT_CLONES=3
run_test vmgenid_clone vmgenid_test -t clone_restore
# From here on in every clone.
vmgenid_test --urandom later
check hook-ran-once sh -c '. /tmp/h.sh; hook_saw "change new=1 gen=1" 5 &&
	[ "$(wc -l < /tmp/vmgenid-hook.log)" = 1 ]'
if [ "$VMGEN_VMGENID_KERNEL" = y ]; then
	check kernel-driver-reseeded dmesg_has "crng reseeded due to virtual machine fork"
else
	check reseed-ioctl vmgenid_test --reseed
	vmgenid_test --urandom reseeded
fi
"""

# 5.10 and 6.1 without the module: what clones share.
CLONE_NOMODULE = HELPERS + r"""
rng_facts
check no-vmgenid-driver sh -c '! test -e /dev/vmgenid &&
	! ls /sys/bus/platform/drivers/ | grep -q vmgenid'
rigctl snapshot 3
vmgenid_test --urandom resume
sleep 2
vmgenid_test --urandom later
check reseed-ioctl vmgenid_test --reseed
vmgenid_test --urandom reseeded
"""

URANDOM = re.compile(r"@@vmgen-urandom (\S+) ([0-9a-f]{32})")


def _series(guests):
    g = guests[0]
    info = getattr(g, "kernel", None) or {}
    if info.get("series"):
        return info["series"]
    for line in g.console:
        m = re.search(r"VMGEN_SERIES=(\S+)", line)
        if m:
            return m.group(1)
    return "?"


def rng_report(tag, expect):
    """Compares the clones' '@@vmgen-urandom TAG' samples. expect maps a
    series to "differ" or "identical" (what was observed there, asserted);
    a series missing from it only gets the observation reported."""

    def check(guests):
        series = _series(guests)
        clones = [g for g in guests if g.name.startswith("clone")]
        samples = {}
        for g in clones:
            found = [m.group(2) for line in g.console
                     for m in [URANDOM.search(line)] if m and m.group(1) == tag]
            if len(found) != 1:
                return [("urandom-%s" % tag, "fail",
                         "%s printed %d '%s' samples" % (g.name, len(found),
                                                          tag))]
            samples[g.name] = found[0]
        if len(samples) < 2:
            return [("urandom-%s" % tag, "fail",
                     "need 2+ clones, got %d" % len(samples))]
        values = list(samples.values())
        distinct = len(set(values))
        if distinct == len(values):
            seen = "differ"
        elif distinct == 1:
            seen = "identical"
        else:
            seen = "partly-identical"
        want = expect.get(series)
        name = "clones-urandom-%s-%s" % (tag, seen)
        detail = "%s: %s" % (series, " ".join(
            "%s=%s" % kv for kv in sorted(samples.items())))
        if want is None:
            return [(name, "skip", "observed only: " + detail)]
        return [(name, "pass" if seen == want else "fail",
                 "expected %s; %s" % (want, detail))]

    check.__name__ = "urandom_" + tag
    return check


SCENARIOS = [
    Scenario("vmgenid-clone", ["qemu-vmgenid"], CLONE_QEMU, clones=3,
             host_checks=[rng_report("event", {}), rng_report("later", {}),
                          rng_report("reseeded", {})]),
    Scenario("vmgenid-clone-nomodule", ["qemu-vmgenid"], CLONE_NOMODULE,
             kernels=("5.10", "6.1"), clones=3,
             host_checks=[rng_report("resume", {}), rng_report("later", {}),
                          rng_report("reseeded", {})]),
]
