# SPDX-License-Identifier: GPL-2.0
"""The rig's scenarios: which devices a guest boots with and what it runs.

Each scenario's script runs in the guest under /bin/sh with the helpers of
guest/rig.sh; the environment tells it which kernel it is on:
  VMGEN_SERIES          5.10 | 6.1 | 6.12 | 7.x | arm64-6.1 | arm64-6.12
  VMGEN_ARCH            amd64 | arm64 (device tree guests, scenarios_arm64.py)
  VMGEN_VMCLOCK_DRIVER  vmgen_vmclock, or ptp_vmclock where the kernel's own
                        driver has notifications and poll (7.x reference)
  VMGEN_VMGENID_KERNEL  y when the kernel has its own vmgenid driver
"""

ALL = ("5.10", "6.1", "6.12", "7.x")

# Devices a scenario may ask for (see guest.py):
#   qemu-vmgenid  QEMU's -device vmgenid (real ACPI notify on restore)
#   qemu-vmclock  QEMU's -device vmclock (no notification, no gen counter)
#   emu-vmclock   Firecracker-style notifying VMClock, emulated from the host
#   emu-vmgenid   Firecracker-style VMGenID, emulated the same way
#   emu-both      both emulated devices behind one GED

LOAD_VMCLOCK = r"""
load_vmclock() {
	modprobe "$VMGEN_VMCLOCK_DRIVER" "$@" || return 1
	i=0
	while [ ! -e /dev/vmclock0 ] && [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ -e /dev/vmclock0 ] || return 1
	# No udev here: apply the mode the shipped rule gives the node.
	mode=$(sed -n 's/.*MODE="\([0-7]*\)".*/\1/p' /etc/vmgen/60-vmgen-vmclock.rules)
	chmod "$mode" /dev/vmclock*
}
"""


class Scenario:
    """host_checks: functions f(guests) -> [(name, "pass"|"fail"|"skip",
    why)] run on the host after every guest of the scenario has ended;
    guests[0] is the source, the rest its clones (each has .console, a list
    of lines). They decide what no single guest can, e.g. that clones'
    RNG outputs differ."""

    def __init__(self, name, devices, script, kernels=ALL, clones=0,
                 timeout=300, append="", host_checks=()):
        self.name, self.devices, self.script = name, devices, script
        self.kernels, self.clones = kernels, clones
        self.timeout, self.append = timeout, append
        self.host_checks = host_checks


SCENARIOS = [
    # Every kernel: the modules this project built load, do their job at
    # the most basic level, and unload cleanly.
    Scenario("smoke", ["emu-both"], LOAD_VMCLOCK + r"""
check rig-control-port rigctl ping
if [ "$VMGEN_VMCLOCK_DRIVER" = vmgen_vmclock ]; then
	check vmgen_vmclock-loads load_vmclock
	check vmgen_vmclock-device test -c /dev/vmclock0
	check vmgen_vmclock-unloads modprobe -r vmgen_vmclock
else
	# 7.x: the kernel's own driver has notifications; ours stays away.
	check vmgen_vmclock-defers sh -c '! modprobe vmgen_vmclock &&
		dmesg | grep -q "provides notifications and poll"'
	check ptp_vmclock-loads load_vmclock
fi
check vmgen_vmgenid-loads modprobe vmgen_vmgenid
check vmgen_vmgenid-device test -c /dev/vmgenid
check vmgen_vmgenid-unloads modprobe -r vmgen_vmgenid
"""),

    # The rig proves itself on the reference kernel: the kernel's own
    # ptp_vmclock wakes poll() once per host event with the host's values.
    Scenario("rig-reference-vmclock", ["emu-vmclock"], LOAD_VMCLOCK + r"""
check ptp_vmclock-loads load_vmclock
run_test rig_selftest rig_selftest --vmclock-events 3
""", kernels=("7.x",)),

    # ... and QEMU's vmgenid notifies every restored clone (the built-in
    # driver logs the reseed it triggers).
    Scenario("rig-reference-vmgenid", ["qemu-vmgenid"], r"""
dmesg -c >/dev/null
run_test rig_selftest rig_selftest --snapshot 3
check vmgenid-notified-clone dmesg_has "crng reseeded due to virtual machine fork"
""", kernels=("7.x",), clones=3),
]


def _more():
    # Scenario sets kept in their own files, one per area.
    import scenarios_vmclock
    import scenarios_vmgenid
    import scenarios_user
    import scenarios_arm64
    import scenarios_stress
    import scenarios_systemd
    return (scenarios_vmclock.SCENARIOS + scenarios_vmgenid.SCENARIOS +
            scenarios_user.SCENARIOS + scenarios_arm64.SCENARIOS +
            scenarios_stress.SCENARIOS + scenarios_systemd.SCENARIOS)


def select(names=None):
    every = SCENARIOS + _more()
    if not names:
        return every
    wanted = names.split(",")
    unknown = set(wanted) - set(s.name for s in every)
    if unknown:
        raise SystemExit("unknown scenario(s): " + ", ".join(sorted(unknown)))
    return [s for s in every if s.name in wanted]
