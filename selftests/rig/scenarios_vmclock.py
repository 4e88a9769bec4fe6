# SPDX-License-Identifier: GPL-2.0
"""Rig scenarios for /dev/vmclockN (see scenarios.py for the fields).

The compatibility tests (vmclock_abi_test) run unchanged against
vmgen_vmclock on 5.10/6.1/6.12 and against the kernel's own ptp_vmclock on
the 7.x reference: that is the proof of compatibility. The extension tests
skip on 7.x, saying why."""
from scenarios import LOAD_VMCLOCK, Scenario

SCENARIOS = [
    Scenario("vmclock-emu", ["emu-vmclock"], LOAD_VMCLOCK + r"""
check vmclock-driver-loads load_vmclock
run_test vmclock_abi_test vmclock_abi_test
run_test vmclock_ext_test vmclock_ext_test
""", timeout=900),
]
