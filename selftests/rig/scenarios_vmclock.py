# SPDX-License-Identifier: GPL-2.0
"""Rig scenarios for /dev/vmclockN (see scenarios.py for the fields).

The compatibility tests (vmclock_abi_test) run unchanged against
vmgen_vmclock on 5.10/6.1/6.12 and against the kernel's own ptp_vmclock on
the 7.x reference: that is the proof of compatibility. The extension tests
skip on 7.x, saying why."""
from scenarios import ALL, LOAD_VMCLOCK, Scenario

OURS = tuple(k for k in ALL if k != "7.x")

SCENARIOS = [
    # Firecracker-style notifying device: the whole ABI, 1000 events, torn
    # reads under a hammering host, seq stuck odd, extensions.
    Scenario("vmclock-emu", ["emu-vmclock"], LOAD_VMCLOCK + r"""
check vmclock-driver-loads load_vmclock
run_test vmclock_abi_test vmclock_abi_test -T poll_hup_without_notifications
run_test vmclock_ext_test vmclock_ext_test
""", timeout=900),

    # A page without NOTIFICATION_PRESENT: poll() reports POLLHUP.
    Scenario("vmclock-no-notify", ["emu-vmclock"], LOAD_VMCLOCK + r"""
rigctl emu vmclock-init flags=0x100 >/dev/null
check vmclock-driver-loads load_vmclock
run_test vmclock_abi_test vmclock_abi_test -t poll_hup_without_notifications
"""),

    # Malformed pages are refused at probe with a message naming the field;
    # pages that go bad after probe are survived.
    Scenario("vmclock-malformed", ["emu-vmclock"], LOAD_VMCLOCK + r"""
refused() {	# refused KIND MESSAGE-REGEX
	rigctl emu vmclock-init >/dev/null
	rigctl emu vmclock-corrupt "$1" >/dev/null
	dmesg -c >/dev/null
	modprobe vmgen_vmclock 2>/dev/null
	ok=1
	[ -e /dev/vmclock0 ] && { echo "/dev/vmclock0 exists"; ok=0; }
	dmesg | grep -E "$2" || { echo "no message matching: $2"; dmesg; ok=0; }
	modprobe -r vmgen_vmclock 2>/dev/null
	[ $ok = 1 ]
}
check refuses-bad-magic refused magic "bad magic 0x00000000 \(expected 0x4b4c4356\)"
check refuses-bad-version refused version "bad version 2 \(expected 1\)"
check refuses-oversized refused size "bad size 0x2000 \(larger than"
check no-node-for-small-size refused small "too small for /dev/vmclock"

rigctl emu vmclock-init >/dev/null
check loads-on-good-page load_vmclock
# After probe: flags flipping, counters going backwards, seq stuck odd.
check survives-flags-change sh -c 'rigctl emu vmclock-corrupt flags &&
	rigctl emu notify vmclock && head -c 112 /dev/vmclock0 | od -An -tx1 | head -1'
check survives-backwards sh -c 'rigctl emu vmclock-corrupt backwards &&
	rigctl emu notify vmclock && sleep 0.2 &&
	cat /sys/class/misc/vmclock0/disruption_marker'
check seq-odd-times-out sh -c 'rigctl emu vmclock-corrupt seq-odd &&
	! dd if=/dev/vmclock0 of=/dev/null bs=112 count=1 2>/tmp/err;
	cat /tmp/err; grep -qi "timed out" /tmp/err'
rigctl emu vmclock-event notify=0 >/dev/null
check unloads modprobe -r vmgen_vmclock
""", kernels=OURS),

    # 100 load/unload cycles, and unload refused while a file is open.
    Scenario("vmclock-load-cycles", ["emu-vmclock"], LOAD_VMCLOCK + r"""
cycles() {
	i=0
	while [ $i -lt 100 ]; do
		modprobe vmgen_vmclock || { echo "load $i failed"; return 1; }
		[ -e /dev/vmclock0 ] || { echo "no node at $i"; return 1; }
		rigctl emu vmclock-event >/dev/null &
		modprobe -r vmgen_vmclock || { echo "unload $i failed"; return 1; }
		wait
		i=$((i + 1))
	done
}
check load-unload-100 cycles
busy() {
	load_vmclock || return 1
	exec 3</dev/vmclock0
	if modprobe -r vmgen_vmclock 2>/dev/null; then
		echo "unloaded while open"; return 1
	fi
	exec 3<&-
	modprobe -r vmgen_vmclock
}
check unload-refused-while-open busy
""", kernels=OURS),

    # Snapshot/restore with the device bumped while each clone is paused:
    # a poller blocked since before the snapshot wakes once per clone.
    Scenario("vmclock-restore", ["emu-vmclock"], LOAD_VMCLOCK + r"""
check vmclock-driver-loads load_vmclock
run_test vmclock-restore rig_selftest --vmclock-restore 3
""", clones=3),

    # QEMU's own vmclock cannot notify: POLLHUP, as upstream. With the
    # opt-in watch_ms, our module wakes pollers once per restore.
    Scenario("vmclock-qemu-hup", ["qemu-vmclock"], LOAD_VMCLOCK + r"""
check vmclock-driver-loads load_vmclock
VMCLOCK_EXPECT=hup run_test vmclock-restore rig_selftest --vmclock-restore 2
""", clones=2),
    Scenario("vmclock-qemu-watch", ["qemu-vmclock"], LOAD_VMCLOCK + r"""
check vmclock-driver-loads load_vmclock watch_ms=20
check watch-reported sh -c 'grep -qx timer /sys/class/misc/vmclock0/notify_mode &&
	dmesg | grep -q "watching seq_count every 20 ms"'
run_test vmclock-restore rig_selftest --vmclock-restore 2
""", kernels=OURS, clones=2),

    # The PTP clock, registered by the same rule as the 7.0 driver: the
    # CPU's counter, and TAI or UTC with a valid TAI offset; read as TAI.
    Scenario("vmclock-ptp", ["emu-vmclock"], LOAD_VMCLOCK + r"""
page() {	# page TIME_TYPE FLAGS
	modprobe -r "$VMGEN_VMCLOCK_DRIVER" 2>/dev/null
	rigctl emu vmclock-init counter_id=1 time_type=$1 flags=$2 >/dev/null &&
	rigctl emu vmclock-set time_sec=1700000000 tai_offset_sec=-37 \
		counter_period_frac_sec=18446744074 counter_period_shift=0 >/dev/null &&
	dmesg -c >/dev/null && load_vmclock
}
no_ptp() {
	! grep -qs vmclock /sys/class/ptp/*/clock_name &&
	dmesg | grep -q "vmclock does not provide unambiguous time"
}
check tai-page-loads page 1 0x300
run_test ptp-tai rig_selftest --ptp 0
check utc-with-offset-page-loads page 0 0x301
run_test ptp-utc-offset rig_selftest --ptp 37
check utc-without-offset-page-loads page 0 0x300
check no-ptp-for-ambiguous-utc no_ptp
check monotonic-page-loads page 2 0x300
check no-ptp-for-monotonic no_ptp
"""),

    # 6.13-6.19 keep an older ptp_vmclock that would take the device first;
    # the shipped modprobe.d snippet makes alias loading pick vmgen_vmclock.
    # 7.x's modular ptp_vmclock shows the mechanism (force_bind needed there
    # only because 7.x's own driver would otherwise be preferred).
    Scenario("vmclock-modprobe-prefer", ["emu-vmclock"], r"""
mkdir -p /etc/modprobe.d
cp /etc/vmgen/vmgen-vmclock.conf /etc/modprobe.d/
echo "options vmgen_vmclock force_bind=1" > /etc/modprobe.d/force.conf
alias=$(cat /sys/bus/platform/devices/AMZNC10C:00/modalias)
check alias-loads-vmgen_vmclock sh -c "modprobe '$alias' &&
	lsmod | grep -q '^vmgen_vmclock' && ! lsmod | grep -q '^ptp_vmclock'"
check device-bound-to-vmgen_vmclock sh -c 'basename $(readlink /sys/class/misc/vmclock0/device/driver) | grep -qx vmgen_vmclock'
""", kernels=("7.x",)),
]
