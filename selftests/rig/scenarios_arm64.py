# SPDX-License-Identifier: GPL-2.0
"""arm64 scenarios: both modules bound through the device tree on QEMU virt.

The guests boot Debian's arm64 cloud kernels (arm64-6.1: no vmgenid
driver, so vmgen_vmgenid runs in driver mode; arm64-6.12: the kernel's
vmgenid owns the node and vmgen_vmgenid observes it) with the nodes of
dts/ and the notification line of selftests/rig/arm64/ (docs/rig.md,
"arm64"): every host event is one byte on a spare PL011 whose SPI the nodes
share. rig_uartirq runs in the guest from the start: it unmasks that UART
and drains it, so that each byte is a new edge.

Besides arm64-smoke (what only a device tree guest has), the scenarios are
the x86 ones, scripts and host checks unchanged, named "arm64-" + the x86
name: the same compatibility and notification tests, on DT."""
import scenarios_vmclock
import scenarios_vmgenid
from scenarios import LOAD_VMCLOCK, Scenario

ARM64 = ("arm64-6.1", "arm64-6.12")

# The x86 scenarios that run here too. Left out: those with QEMU's own
# vmclock and vmgenid devices (x86 only) and the 7.x-only ones.
MIRRORED = ("vmclock-emu", "vmclock-no-notify", "vmclock-malformed",
            "vmclock-restore", "vmclock-load-cycles", "vmgenid-emu")

PRELUDE = r"""
# arm64 rig: the spare UART's SPI is the emulated devices' interrupt.
export VMGENID_IRQ_NAME=vmgenid
start_uartirq() {
	rig_uartirq run > /tmp/uartirq.log 2>&1 &
	i=0
	while ! grep -q armed /tmp/uartirq.log; do
		i=$((i + 1))
		[ $i -gt 50 ] && { cat /tmp/uartirq.log; return 1; }
		sleep 0.1
	done
}
check uart-irq-armed start_uartirq
"""

SMOKE = PRELUDE + LOAD_VMCLOCK + r"""
check rig-control-port rigctl ping
node_is() {	# node_is NODE COMPATIBLE
	grep -q "$2" "/proc/device-tree/$1/compatible"
}
check dt-vmclock-node node_is vmclock@4f000000 amazon,vmclock
check dt-vmgenid-node node_is vmgenid@4f001000 microsoft,vmgenid
# /reserved-memory with no-map: the pages are outside System RAM.
check dt-pages-reserved grep -q "^4f000000-4f001fff : reserved" /proc/iomem
check dt-spare-uart-unbound sh -c '! ls /sys/bus/amba/devices/ | grep -q 9040000'
check vmgen_vmclock-loads load_vmclock
check vmclock-bound-through-dt grep -q amazon,vmclock /sys/class/misc/vmclock0/device/of_node/compatible
check vmclock-notify-irq grep -qx irq /sys/class/misc/vmclock0/notify_mode
check vmgen_vmgenid-loads modprobe vmgen_vmgenid
vmgenid_mode() {
	want=driver
	[ "$VMGEN_VMGENID_KERNEL" = y ] && want=observer
	grep -qx "$want" /sys/class/misc/vmgenid/mode
}
check vmgenid-mode vmgenid_mode
# One shared edge-triggered line, both handlers on it.
shared_edge_line() {
	line=$(grep -E "vmclock0" /proc/interrupts)
	echo "$line"
	echo "$line" | grep -q Edge && echo "$line" | grep -q vmgenid
}
check shared-edge-spi shared_edge_line
# Host events on the shared line: each wakes a VMClock poller once, and
# each new ID is one VMGenID change (the other device's handler sees an
# interrupt with nothing new for it, and says nothing).
run_test rig_selftest rig_selftest --vmclock-events 3
both_devices() {
	g=$(cat /sys/class/misc/vmgenid/generation)
	rigctl emu vmgenid-set id=random notify=0 >/dev/null &&
		rigctl emu vmclock-event notify=0 >/dev/null &&
		rigctl emu notify both >/dev/null || return 1
	i=0
	while [ "$(cat /sys/class/misc/vmgenid/generation)" != $((g + 1)) ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && { echo "generation $(cat /sys/class/misc/vmgenid/generation)"; return 1; }
		sleep 0.1
	done
}
check one-byte-both-devices both_devices
# Every interrupt on the line was one host byte, and every byte one interrupt.
irq_per_byte() {
	irqs=$(awk '/vmclock0/ { print $2 }' /proc/interrupts)
	kill $(pidof rig_uartirq) && sleep 0.2 || return 1
	bytes=$(sed -n 's/^rig_uartirq: \([0-9]*\) bytes$/\1/p' /tmp/uartirq.log)
	echo "host bytes ${bytes:-?}, interrupts $irqs"
	[ -n "$bytes" ] && [ "$bytes" -gt 0 ] && [ "$bytes" = "$irqs" ]
}
check one-interrupt-per-host-byte irq_per_byte
check vmgen_vmgenid-unloads modprobe -r vmgen_vmgenid
check vmgen_vmclock-unloads modprobe -r vmgen_vmclock
"""


def _base_series(check):
    """A host check of the x86 scenarios, shown the series without the
    "arm64-" prefix, so it expects what the same kernel does on x86."""
    def wrapped(guests):
        saved = [g.kernel for g in guests]
        for g in guests:
            g.kernel = dict(g.kernel,
                            series=g.kernel["series"].replace("arm64-", ""))
        try:
            return check(guests)
        finally:
            for g, k in zip(guests, saved):
                g.kernel = k
    wrapped.__name__ = check.__name__
    return wrapped


def _mirror(names):
    x86 = {s.name: s for s in
           scenarios_vmclock.SCENARIOS + scenarios_vmgenid.SCENARIOS}
    out = []
    for name in names:
        sc = x86.get(name)
        if sc is None:      # renamed or dropped on x86: nothing to mirror
            continue
        out.append(Scenario("arm64-" + name, sc.devices, PRELUDE + sc.script,
                            kernels=ARM64, clones=sc.clones,
                            timeout=sc.timeout, append=sc.append,
                            host_checks=[_base_series(c)
                                         for c in sc.host_checks]))
    return out


SCENARIOS = [
    # What only a device tree guest has: the nodes, the reserved pages, the
    # unbound UART, both modules on one edge SPI, host events through it.
    Scenario("arm64-smoke", ["emu-both"], SMOKE, kernels=ARM64),
] + _mirror(MIRRORED)
