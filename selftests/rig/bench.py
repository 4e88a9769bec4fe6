#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: every way to learn of a restore, side by side, in one run.

Boots Debian's 6.12 cloud kernel (vmgen_vmclock, vmgen_vmgenid, the
kernel's own vmgenid) and the 7.x reference (its own ptp_vmclock) under
QEMU/TCG with the emulated Firecracker-style devices, runs the benchmark
programs of selftests/bench/ in them, and writes the table and the plot.
See docs/benchmarks.md for what is measured and how.

    bench.py [--events N] [--rounds R] [--kernels 6.12,7.x] [--docs]
             [--compare-vmgend PATH] [--from-json RAW] [--out DIR]

Exits 1 if a guest or a benchmark program reported a problem; --docs then
leaves docs/ alone.
"""
import argparse
import json
import os
import queue
import random
import re
import shutil
import sys
import threading
import time
import types

import build
import run as rig
from guest import Guest
from rigcommon import TOP, log

OUT = os.path.join(TOP, "build", "bench")
BENCH_BIN = os.path.join(TOP, "selftests", "build", "bench")
GUEST_BIN = "/usr/lib/vmgen-bench"


class BenchGuest(Guest):
    """A rig guest that also answers "bench event delay_ms=D": reply at
    once, then after D ms (plus up to D/2 of jitter) do what a hypervisor
    does on a restore: pause the VM, bump VMClock, write a new VMGenID,
    raise the notification for both devices, resume. The guest's clocks
    stand still while it is paused (TCG's virtual clock), so to the guest
    the page change and the interrupt arrive at the same instant."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.bench_q = queue.Queue()
        self.bench_events = 0
        self.bench_errors = []
        threading.Thread(target=self._bench_worker, daemon=True).start()

    def _handle(self, line):
        words = line.split()
        if len(words) >= 3 and words[1] == "bench" and words[2] == "event":
            kv = dict(w.split("=", 1) for w in words[3:] if "=" in w)
            try:
                delay = min(max(int(kv.get("delay_ms", "25")), 1), 5000)
            except ValueError:
                self.reply(words[0], "err bad delay_ms")
                return
            self.reply(words[0], "ok")
            self.bench_q.put(delay)
            return
        super()._handle(line)

    def _bench_worker(self):
        while True:
            delay = self.bench_q.get()
            if delay is None:
                return
            try:
                time.sleep((delay + random.uniform(0, delay / 2)) / 1000.0)
                self.qmp.execute("stop")
                try:
                    for cmd in ("vmclock-event notify=0",
                                "vmgenid-set id=random notify=0",
                                "notify both"):
                        r = self.emu.command(cmd)
                        if not r.startswith("ok"):
                            raise RuntimeError("%s: %s" % (cmd, r))
                    # let QEMU's main loop move the byte into the UART
                    time.sleep(0.002)
                finally:
                    self.qmp.execute("cont")
                self.bench_events += 1
            except Exception as e:  # the guest reports the lost event
                self.bench_errors.append(str(e))

    def stop(self):
        self.bench_q.put(None)
        super().stop()


def bench_cpio(out, compare=None):
    stage = out + ".d"
    if os.path.exists(stage):
        shutil.rmtree(stage)
    dest = os.path.join(stage, GUEST_BIN.lstrip("/"))
    os.makedirs(dest)
    for name in sorted(os.listdir(BENCH_BIN)):
        shutil.copy2(os.path.join(BENCH_BIN, name), dest)
    if compare:
        shutil.copy2(compare, os.path.join(dest, "vmgend-before"))
    build.cpio_gz(stage, out)
    shutil.rmtree(stage)


def run_guest(info, name, script, timeout, compare=None):
    """Boots one bench guest; returns its console lines."""
    wdir = os.path.join(rig.WORK, info["series"], name)
    if os.path.exists(wdir):
        shutil.rmtree(wdir)
    os.makedirs(wdir)
    sc_env = rig.scenario_env(info, types.SimpleNamespace(name=name))
    extra = os.path.join(wdir, "scenario.cpio.gz")
    build.scenario_cpio({"/scenario.sh": (script, 0o755),
                         "/scenario.env": (sc_env, 0o644)}, extra)
    bins = os.path.join(wdir, "bench.cpio.gz")
    bench_cpio(bins, compare)
    initrd = os.path.join(wdir, "initrd.cpio.gz")
    with open(initrd, "wb") as out:
        for part in (info["initrd"], bins, extra):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    events = queue.Queue()
    g = BenchGuest(wdir, "guest", info, initrd, ["emu-both"],
                   timeout=timeout, events=events)
    t0 = time.monotonic()
    try:
        g.start()
        while True:
            ev = events.get()
            if ev[0] == "exit":
                break
    finally:
        g.stop()
    log("%s/%s: %d host events in %.0fs%s" % (
        info["series"], name, g.bench_events, time.monotonic() - t0,
        ("; errors: " + "; ".join(g.bench_errors[:3]))
        if g.bench_errors else ""))
    problems = [r for r in g.results(info["series"] + "/" + name)
                if r[1] == "fail"]
    for p in problems:
        log("problem: %s %s" % (p[0], p[2]))
    return g.console, problems


GUEST_LIB = r"""
B=/usr/lib/vmgen-bench
load() {
	if [ "$VMGEN_VMCLOCK_DRIVER" = ptp_vmclock ]; then
		modprobe ptp_vmclock || return 1
	else
		modprobe vmgen_vmclock || return 1
	fi
	modprobe vmgen_vmgenid || return 1
	i=0
	while { [ ! -e /dev/vmclock0 ] || [ ! -e /dev/vmgenid ]; } &&
	    [ $i -lt 50 ]; do
		sleep 0.1; i=$((i + 1))
	done
	[ -e /dev/vmclock0 ] && [ -e /dev/vmgenid ]
}
check modules-load load
# The serial console is slow under TCG: keep printk off it (the kmsg method
# reads the log buffer, which still gets every line).
dmesg -n 1
drv=$(basename "$(readlink /sys/class/misc/vmclock0/device/driver)")
[ -n "$drv" ] || drv=$VMGEN_VMCLOCK_DRIVER
echo "@@bench kernel=$(uname -r) vmclock_driver=$drv" \
	"vmgenid_mode=$(cat /sys/class/misc/vmgenid/mode)" \
	"clocksource=$(cat /sys/devices/system/clocksource/clocksource0/current_clocksource)"
"""

# (label, command, share of --events): every method on the kernel it
# belongs to, run in this order in each round. The idle windows (IDLE_MS,
# VMGEND_IDLE_MS for vmgend's own row) come in the last round only.
METHODS = {
    "6.12": [
        ("floor", "bench_floor", 1),
        ("vmclock-poll", "bench_vmclock", 1),
        ("vmgenid-poll", "bench_vmgenid", 1),
        ("sysfs-poll", "bench_sysfs", 1),
        ("uevent", "bench_uevent", 1),
        ("kmsg", "bench_kmsg", 1),
        ("spin-100us", "bench_spin --interval-us 100", 1),
        ("spin-1ms", "bench_spin --interval-us 1000", 1),
        ("vmgend", "bench_vmgend", 1),
        ("vmgend-auto", "bench_vmgend --source auto", 0.25),
        ("vmgend-5hooks", "bench_vmgend --hooks 5", 0.25),
        ("vmgend-mlock", "bench_vmgend -- --mlock", 0.25),
    ],
    "7.x": [
        ("floor-ptp", "bench_floor", 1),
        ("vmclock-poll-ptp", "bench_vmclock", 1),
        ("vmgend-ptp", "bench_vmgend", 0.25),
    ],
}
IDLE_MS = 3000
VMGEND_IDLE_MS = 30000


# The console log level was 1: show what the host's boot-clean check looks
# for (guest.BAD_PATTERNS) on the console.
GUEST_END = r"""
dmesg | grep -E "BUG:|WARNING:|Oops|Call Trace|Kernel panic|UBSAN:|KASAN:" |
	sed 's/^/kernel log: /'
"""


def guest_script(series, events, rounds, only, compare, idle_scale=1.0):
    methods = [m for m in METHODS[series] if not only or m[0] in only]
    if compare and series == "6.12" and (not only or "vmgend-before" in only):
        methods.append(("vmgend-before", "bench_vmgend --vmgend "
                        + GUEST_BIN + "/vmgend-before", 1))
    s = GUEST_LIB
    for r in range(rounds):
        last = r == rounds - 1
        s += 'echo "@@bench round %d"\n' % r
        for label, cmd, share in methods:
            n = max(1, int(round(events * share / rounds)))
            idle = 0
            if last:
                idle = VMGEND_IDLE_MS if cmd.startswith("bench_vmgend") \
                    and label in ("vmgend", "vmgend-before") else IDLE_MS
            idle = int(idle * idle_scale)
            prog, _, rest = cmd.partition(" ")
            s += "$B/%s --label %s --events %d --idle-ms %d %s\n" % (
                prog, label, n, idle, rest)
    return s + GUEST_END


def parse(console):
    """{(method, what): {"stats": [kv...], "raw": [us...]}}, errors"""
    out, errors = {}, []
    for line in console:
        m = re.match(r"# (bench|raw): (.*)$", line.strip())
        if not m:
            continue
        kv = {}
        for w in re.findall(r'(\w[\w-]*)=("[^"]*"|\S+)', m.group(2)):
            kv[w[0]] = w[1].strip('"')
        if "error" in kv or "warning" in kv:
            errors.append(m.group(2))
            continue
        if "note" in kv:
            continue
        key = "%s|%s" % (kv.get("method"), kv.get("what"))
        ent = out.setdefault(key, {"stats": [], "raw": []})
        if m.group(1) == "raw":
            ent["raw"] += [float(x) for x in kv["us"].split(",") if x]
        else:
            ent["stats"].append(kv)
    return out, errors


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--events", type=int, default=200,
                    help="events per method (default 200)")
    ap.add_argument("--rounds", type=int, default=10,
                    help="the events of each method are split into this "
                    "many rounds, methods interleaved (default 10)")
    ap.add_argument("--kernels", default="6.12,7.x")
    ap.add_argument("--only", default="",
                    help="comma-separated method labels (development)")
    ap.add_argument("--compare-vmgend", metavar="PATH",
                    help="also run this vmgend build as 'vmgend-before'")
    ap.add_argument("--idle-scale", type=float, default=1.0,
                    help="scale the idle windows (development)")
    ap.add_argument("--out", default=OUT)
    ap.add_argument("--from-json", metavar="RAW",
                    help="no guests: render the table and plot again from "
                    "a raw.json of an earlier run")
    ap.add_argument("--docs", action="store_true",
                    help="also write docs/benchmarks.md's table and "
                    "docs/benchmarks.svg")
    args = ap.parse_args()
    only = set(x for x in args.only.split(",") if x)
    os.makedirs(args.out, exist_ok=True)
    if args.from_json:
        import bench_report
        with open(args.from_json) as f:
            raw = json.load(f)
        text, svg = bench_report.render(raw["data"], raw["meta"],
                                        raw["events"])
        print(text)
        with open(os.path.join(args.out, "benchmarks.svg"), "w") as f:
            f.write(svg)
        if args.docs:
            bench_report.update_docs(text, svg)
        return 0
    t0 = time.monotonic()
    rig.run(["sh", os.path.join(TOP, "selftests/rig/acpi/build.sh"),
             os.path.join(TOP, "build", "acpi")], quiet=True)
    data, meta, problems = {}, {}, []
    for k in args.kernels.split(","):
        if k not in METHODS:
            ap.error("no benchmark for kernel %r" % k)
        info = rig.prepare_kernel(k)
        script = guest_script(k, args.events, args.rounds, only,
                              args.compare_vmgend, args.idle_scale)
        console, probs = run_guest(info, "bench", script, 2400,
                                   args.compare_vmgend)
        problems += probs
        d, errors = parse(console)
        for e in errors:
            log("%s: %s" % (k, e))
            problems.append(("%s: %s" % (k, e),))
        data[k] = d
        meta[k] = next((line for line in console
                        if line.startswith("@@bench kernel=")), "")
    wall = time.monotonic() - t0
    with open(os.path.join(args.out, "raw.json"), "w") as f:
        json.dump({"data": data, "meta": meta, "wall_s": wall,
                   "events": args.events, "rounds": args.rounds}, f)
    import bench_report
    text, svg = bench_report.render(data, meta, args.events)
    with open(os.path.join(args.out, "benchmarks-table.md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, "benchmarks.svg"), "w") as f:
        f.write(svg)
    print(text)
    if args.docs and not problems:
        bench_report.update_docs(text, svg)
    log("bench: %.0f s; table and plot in %s%s" % (
        wall, args.out, ", docs/benchmarks.md and .svg updated"
        if args.docs and not problems else ""))
    for p in problems:
        log("problem: %s" % " ".join(str(x) for x in p))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
