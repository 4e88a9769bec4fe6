#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make demo: boot a guest, snapshot it, restore three clones, show the hooks.

Runs on the rig (selftests/rig): Debian's 6.12 cloud kernel under QEMU with
a Firecracker-style VMClock and VMGenID emulated from the host, both vmgen
modules, vmgend and the example hooks. Prints what happened in each clone
and why it matters.
"""
import argparse
import os
import re
import sys

import build
import kernels
import run as rig
from rigcommon import TOP, log
from scenarios import Scenario

CLONES = 3

GUEST_SCRIPT = r"""
mkdir -p /etc/vmgen/hooks.d && chmod 755 /etc/vmgen /etc/vmgen/hooks.d
for h in 10-reseed-rng 20-step-clock 30-network 40-new-identity; do
	cp /usr/share/vmgen/examples/hooks.d/$h /etc/vmgen/hooks.d/
done
chmod 755 /etc/vmgen/hooks.d/*
# The image's identity, as a golden image would carry it into every clone.
head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n' > /etc/machine-id
echo >> /etc/machine-id

vmgenctl load > /tmp/load.log 2>&1
sed 's/^/@@demo load /' /tmp/load.log
vmgend -f > /tmp/vmgend.log 2>&1 &
i=0
while [ ! -e /run/vmgen/generation ] && [ $i -lt 100 ]; do
	sleep 0.1; i=$((i + 1))
done

state() {	# state PHASE: one line the host turns into the report
	echo "@@demo state phase=$1" \
		"machine_id=$(cat /etc/machine-id)" \
		"vmclock_gen=$(cat /sys/class/misc/vmclock0/vm_generation_counter)" \
		"marker=$(cat /sys/class/misc/vmclock0/disruption_marker)" \
		"vmgenid_gen=$(cat /sys/class/misc/vmgenid/generation)" \
		"urandom=$(head -c 8 /dev/urandom | od -An -tx1 | tr -d ' \n')"
}
state before
reply=$(rigctl snapshot 3)
echo "@@demo restored $reply"
i=0
while ! grep -qs '^status=' /run/vmgen/last-pass && [ $i -lt 600 ]; do
	sleep 0.1; i=$((i + 1))
done
sleep 1
state after
sed 's/^/@@demo pass /' /run/vmgen/last-pass
grep ': hook ' /tmp/vmgend.log | sed 's/^/@@demo log /'
"""

WHY = """\
Why it matters: all three clones woke up from the same memory image. Without
a signal they would share the golden image's machine-id (so the same DHCP
lease), the same RNG state (the same "random" keys and nonces) and a wall
clock stuck at snapshot time. The hypervisor told each clone through VMClock
(vm_generation_counter: "you were restored") and VMGenID (a new ID per
clone); the vmgen modules turned that into events, and vmgend ran the hooks
once per clone, within a bounded time.
"""


def parse(console):
    state, passinfo, logs, restored = {}, {}, [], ""
    for line in console:
        if not line.startswith("@@demo "):
            continue
        kind, _, rest = line[len("@@demo "):].partition(" ")
        if kind == "state":
            kv = dict(w.split("=", 1) for w in rest.split() if "=" in w)
            state[kv.get("phase")] = kv
        elif kind == "pass":
            k, _, v = rest.partition("=")
            passinfo[k] = v
        elif kind == "log":
            m = re.search(r"hook (\S+): (.*)$", rest)
            if m:
                logs.append((m.group(1), m.group(2)))
        elif kind == "restored":
            restored = rest
    return state, passinfo, logs, restored


def hook_summary(passinfo):
    out = []
    for k, v in passinfo.items():
        if k.startswith("hook."):
            words = v.split()
            out.append((k[5:], words[0] + (" " + words[1] if len(words) > 2
                                            else ""), words[-1]))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--kernel", default="6.12")
    args = ap.parse_args()
    print("vmgen demo: a VM restored from one snapshot into %d clones\n"
          % CLONES)
    log("preparing Debian's %s cloud kernel, the modules and the guest"
        % args.kernel)
    info = rig.prepare_kernel(args.kernel)
    rig.run(["sh", os.path.join(TOP, "selftests/rig/acpi/build.sh"),
             os.path.join(TOP, "build", "acpi")], quiet=True)
    print("1. Booting a guest: Linux %s under QEMU (TCG), with a "
          "Firecracker-style\n   VMClock and VMGenID emulated by the host, "
          "vmgen_vmclock, vmgen_vmgenid,\n   vmgend and the example hooks "
          "(reseed RNG, step clock, network, new identity)." % info["release"])
    sc = Scenario("demo", ["emu-both"], GUEST_SCRIPT, clones=CLONES,
                  timeout=300)
    print("2. Taking a snapshot of it, then restoring %d clones; while each "
          "clone is paused\n   the host bumps VMClock's counters and writes a "
          "new random VMGenID, then\n   raises the notification, as "
          "Firecracker does.\n" % CLONES)
    results = rig.run_scenario(info, sc)
    wdir = os.path.join(rig.WORK, info["series"], "demo")
    consoles = {}
    for name in ["guest"] + ["clone%d" % i for i in range(CLONES)]:
        path = os.path.join(wdir, name + ".console")
        if os.path.exists(path):
            with open(path) as f:
                consoles[name] = f.read().splitlines()
    src_state, _, _, _ = parse(consoles.get("guest", []))
    before = src_state.get("before", {})
    if before:
        print("Before the snapshot: machine-id %s, VMClock generation %s, "
              "VMGenID generation %s,\n  RNG sample %s\n" % (
                  before.get("machine_id"), before.get("vmclock_gen"),
                  before.get("vmgenid_gen"), before.get("urandom")))
    rows = []
    for i in range(CLONES):
        state, passinfo, logs, restored = parse(consoles.get("clone%d" % i,
                                                             []))
        after = state.get("after", {})
        print("Clone %d (%s)" % (i, restored or "no reply"))
        if not after:
            print("  no report from this clone (see %s)\n" % wdir)
            rows.append((i, "-", "-", "-", "-", "-", "failed"))
            continue
        print("  pass: %s event, source %s, VMClock generation %s -> %s, "
              "VMGenID generation %s -> %s" % (
                  passinfo.get("event"), passinfo.get("source"),
                  passinfo.get("vmclock_generation_old"),
                  passinfo.get("vmclock_generation_new"),
                  passinfo.get("vmgenid_generation_old"),
                  passinfo.get("vmgenid_generation_new")))
        for name, text in logs:
            if re.match(r"(exit|signal|timeout|refused)\b", text):
                continue
            print("  %-16s %s" % (name, text))
        for name, status, ms in hook_summary(passinfo):
            print("  %-16s %s in %.0f ms" % (name, status, float(ms)))
        print("  notification to first hook %.0f ms, to all hooks done %.0f "
              "ms (guest clock)\n" % (float(passinfo.get("first_hook_ms", 0)),
                                      float(passinfo.get("done_ms", 0))))
        rows.append((i, after.get("vmclock_gen"), after.get("vmgenid_gen"),
                     after.get("machine_id", "")[:12],
                     after.get("urandom", "")[:12],
                     "%.0f" % float(passinfo.get("done_ms", 0)),
                     passinfo.get("status", "?")))
    print("| clone | VMClock gen | VMGenID gen | machine-id | RNG sample "
          "| notify->done ms | pass |")
    print("|-------|-------------|-------------|------------|------------"
          "|-----------------|------|")
    for r in rows:
        print("| %s | %s | %s | %s | %s | %s | %s |" % r)
    print("\nVMClock's generation is the same in every clone (it says "
          "\"restored\");\nVMGenID differs per clone, so the hooks gave each "
          "clone its own identity and RNG state.\n")
    print(WHY)
    failed = [r for r in results if r[1] == "fail"]
    ids = [r[3] for r in rows if r[3] not in ("-", "")]
    rngs = [r[4] for r in rows if r[4] not in ("-", "")]
    ok = (not failed and len(rows) == CLONES and len(set(ids)) == CLONES
          and len(set(rngs)) == CLONES
          and before.get("machine_id", "")[:12] not in ids)
    for name, status, why in failed:
        print("problem: %s %s" % (name, why))
    print("demo %s (console logs in %s)" % ("succeeded" if ok else "FAILED",
                                            wdir))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
