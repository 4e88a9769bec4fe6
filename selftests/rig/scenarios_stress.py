# SPDX-License-Identifier: GPL-2.0
"""Stress and hostile-host scenarios (docs/reliability.md; see scenarios.py
for the fields). selftests/stress/vmgen_stress does the work and prints
"# figure: KEY=VALUE" lines that selftests/rig/figures.py collects.

stress-vmclock   64 pollers (32 threads, 32 processes) in lockstep with
                 the host, then a storm of >= 10,000 host events with
                 notifications, then 64 pollers + 64 readers while the host
                 hammers the page and storms notifications and the device is
                 unbound/bound and the module unloaded/reloaded.
stress-vmgenid   the same on /dev/vmgenid (unload/reload only).
hostile          random malformed pages loaded into (refused with a message,
                 or bound and survived), and the guest's responsiveness
                 during notification storms far beyond what it can take.

The counts are full on 6.12, smaller on the other kernels to keep `make
check` short; the debug kernel (debug-6.12) has 6.12's except for a shorter
storm (its GED takes ~100 bytes a second).
"""
from scenarios import LOAD_VMCLOCK, Scenario

# The series debug-kernel.sh builds; run.py also runs the ON_DEBUG
# scenarios of the other files on it.
DEBUG = "debug-6.12"
OURS = ("5.10", "6.1", "6.12", DEBUG)
X86 = ("5.10", "6.1", "6.12", "7.x", DEBUG)

# Module scenarios that also run on the debug kernel.
ON_DEBUG = (
    "smoke", "vmclock-emu", "vmclock-no-notify", "vmclock-malformed",
    "vmclock-load-cycles", "vmclock-restore", "vmclock-qemu-hup",
    "vmclock-qemu-watch", "vmclock-ptp", "vmgenid-clone", "vmgenid-emu",
)

# Full counts on 6.12, smaller elsewhere (see the docstring).
COUNTS = r"""
# The debug kernel's GED takes milliseconds per interrupt (~150 a second):
# its storm is shorter, and its chaos has gaps in the storm and 16 + 16
# workers, or the unbind/unload thread would get next to no CPU.
GAP_US=0
CHAOS_WORKERS=64
case "$VMGEN_SERIES" in
6.12)
	EVENTS=1000; STORM=10000; CHAOS_MS=15000; SEEDS=100; STORM_MS=4000 ;;
debug-*)
	EVENTS=1000; STORM=3000; CHAOS_MS=15000; SEEDS=100; STORM_MS=4000
	GAP_US=100000; CHAOS_WORKERS=16 ;;
*)
	EVENTS=200; STORM=2000; CHAOS_MS=5000; SEEDS=40; STORM_MS=2000 ;;
esac
"""

SCENARIOS = [
    Scenario("stress-vmclock", ["emu-vmclock"], LOAD_VMCLOCK + COUNTS + r"""
check vmclock-driver-loads load_vmclock
run_test stress-vmclock-lockstep vmgen_stress vmclock-lockstep --workers 64 --events $EVENTS
run_test stress-vmclock-storm vmgen_stress vmclock-storm --workers 64 --events $STORM
run_test stress-vmclock-chaos vmgen_stress vmclock-chaos --workers $CHAOS_WORKERS --ms $CHAOS_MS --gap-us $GAP_US
check vmclock-unloads modprobe -r vmgen_vmclock
""", kernels=OURS, timeout=600),

    Scenario("stress-vmgenid", ["emu-vmgenid"], COUNTS + r"""
check vmgenid-loads modprobe vmgen_vmgenid
run_test stress-vmgenid-lockstep vmgen_stress vmgenid-lockstep --workers 64 --events $EVENTS
run_test stress-vmgenid-storm vmgen_stress vmgenid-storm --workers 64 --events $STORM
run_test stress-vmgenid-chaos vmgen_stress vmgenid-chaos --workers $CHAOS_WORKERS --ms $CHAOS_MS --gap-us $GAP_US
check vmgenid-unloads modprobe -r vmgen_vmgenid
""", kernels=X86, timeout=600),

    Scenario("hostile", ["emu-both"], LOAD_VMCLOCK + COUNTS + r"""
# modprobe first: it loads what the module needs (ptp on 5.10); the test
# unloads it and loads it once per random page.
check vmclock-driver-loads load_vmclock
run_test hostile-random-pages vmgen_stress vmclock-random --seeds $SEEDS
check vmclock-driver-reloads load_vmclock
check vmgenid-loads modprobe vmgen_vmgenid
run_test hostile-settle vmgen_stress vmclock-settle
run_test hostile-storms vmgen_stress responsiveness --ms $STORM_MS
check vmclock-unloads modprobe -r vmgen_vmclock
check vmgenid-unloads modprobe -r vmgen_vmgenid
""", kernels=OURS, timeout=600),
]
