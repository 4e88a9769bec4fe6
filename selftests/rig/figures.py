#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The reliability figures table (docs/reliability.md) from the rig's last run.

Tests print "# figure: KEY=VALUE" lines; this collects them from
build/rig/SERIES/SCENARIO/*.console (and build/rig/SERIES/*.figures, written
by selftests/rig/kernels.py for the debug kernel's build times) and renders one
table row per test and kernel, with the command that reproduces it.

    figures.py [--area AREA]       print AREA's table (default kernel)
    figures.py --out FILE          also write it to FILE
    figures.py --update DOC        replace each area's table in DOC, between
                                   <!-- figures:begin AREA --> and
                                   <!-- figures:end AREA -->

A row's result is "pass" only if its test group exited 0 with no "not ok",
and the guest's kernel log is clean (guest.py BAD_PATTERNS) with the
completion sentinel present. Rows whose test has not run are left out.
Other areas (e.g. "user") add their rows to ROWS with their area name, and
markers for it to the document.
"""
import argparse
import datetime
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from guest import BAD_PATTERNS  # noqa: E402
from rigcommon import TOP  # noqa: E402

WORK = os.path.join(TOP, "build", "rig")
BEGIN, END = "<!-- figures:begin %s -->", "<!-- figures:end %s -->"
FIGURE = re.compile(r"# figure: ([\w.]+)=(\S+)")


class Row:
    """One test: its scenario and TAP group, and the figures it shows as
    (key, label) pairs; "{key}" in a label is replaced by the value, else
    the label follows the value."""

    def __init__(self, area, title, scenario, group, figures):
        self.area, self.title = area, title
        self.scenario, self.group, self.figures = scenario, group, figures


ROWS = [
    Row("kernel", "vmclock: 64 pollers in lockstep with the host (every "
        "generation exactly once)", "stress-vmclock", "stress-vmclock-lockstep",
        [("vmclock.lockstep.pollers", "pollers"),
         ("vmclock.lockstep.events", "host events"),
         ("vmclock.lockstep.wakes", "wakes"),
         ("vmclock.lockstep.lost", "lost"),
         ("vmclock.lockstep.dup", "duplicate"),
         ("vmclock.lockstep.torn", "torn")]),
    Row("kernel", "vmclock: notification storm, host not waiting",
        "stress-vmclock", "stress-vmclock-storm",
        [("vmclock.storm.pollers", "pollers"),
         ("vmclock.storm.host_notifications", "host notifications"),
         ("vmclock.storm.guest_notifications", "reached the driver"),
         ("vmclock.storm.generations", "generations"),
         ("vmclock.storm.wakes", "wakes"),
         ("vmclock.storm.dup", "duplicate"),
         ("vmclock.storm.backwards", "backwards"),
         ("vmclock.storm.torn", "torn")]),
    Row("kernel", "vmclock: pollers + readers under hammer, storm, "
        "unbind/bind and unload/reload", "stress-vmclock",
        "stress-vmclock-chaos",
        [("vmclock.chaos.workers", "pollers + as many readers"),
         ("vmclock.chaos.ms", "{} ms"),
         ("vmclock.chaos.host_updates", "page rewrites"),
         ("vmclock.chaos.host_notifications", "host notifications"),
         ("vmclock.chaos.unbinds", "unbinds"),
         ("vmclock.chaos.unloads", "unloads"),
         ("vmclock.chaos.unloads_refused", "unloads refused (busy)"),
         ("vmclock.chaos.reads", "reads"),
         ("vmclock.chaos.clean_errors", "clean errors"),
         ("vmclock.chaos.torn", "torn"),
         ("vmclock.chaos.backwards", "backwards"),
         ("vmclock.chaos.unexpected", "unexpected")]),
    Row("kernel", "vmgenid: 64 pollers in lockstep with the host",
        "stress-vmgenid", "stress-vmgenid-lockstep",
        [("vmgenid.lockstep.pollers", "pollers"),
         ("vmgenid.lockstep.events", "new IDs"),
         ("vmgenid.lockstep.wakes", "wakes"),
         ("vmgenid.lockstep.lost", "lost"),
         ("vmgenid.lockstep.dup", "duplicate")]),
    Row("kernel", "vmgenid: storm of new IDs, then of notifications "
        "without one", "stress-vmgenid", "stress-vmgenid-storm",
        [("vmgenid.storm.pollers", "pollers"),
         ("vmgenid.storm.host_notifications", "host notifications"),
         ("vmgenid.storm.generations", "generations"),
         ("vmgenid.storm.wakes", "wakes"),
         ("vmgenid.storm.dup", "duplicate"),
         ("vmgenid.storm.backwards", "backwards"),
         ("vmgenid.spurious_storm.host_notifications",
          "notifications without a new ID"),
         ("vmgenid.spurious_storm.generations", "generations from them")]),
    Row("kernel", "vmgenid: pollers + readers under a storm and "
        "unload/reload", "stress-vmgenid", "stress-vmgenid-chaos",
        [("vmgenid.chaos.workers", "pollers + as many readers"),
         ("vmgenid.chaos.ms", "{} ms"),
         ("vmgenid.chaos.host_notifications", "host notifications"),
         ("vmgenid.chaos.unloads", "unloads"),
         ("vmgenid.chaos.unloads_refused", "unloads refused (busy)"),
         ("vmgenid.chaos.reads", "reads"),
         ("vmgenid.chaos.clean_errors", "clean errors"),
         ("vmgenid.chaos.backwards", "backwards"),
         ("vmgenid.chaos.unexpected", "unexpected")]),
    Row("kernel", "vmclock: random malformed pages (one per seed), loaded "
        "into", "hostile", "hostile-random-pages",
        [("vmclock.random.seeds", "seeds"),
         ("vmclock.random.refused", "refused with a message"),
         ("vmclock.random.refused_silently", "refused silently"),
         ("vmclock.random.bound", "bound"),
         ("vmclock.random.with_node", "with /dev/vmclock0"),
         ("vmclock.random.post_probe_pages",
          "random pages + notify after probe"),
         ("vmclock.random.operations", "reads/mmaps/polls/sysfs/PTP")]),
    Row("kernel", "vmclock: notification on a page mid-update reaches "
        "sysfs and uevents once it settles; notifications on a page stuck "
        "mid-update are not waited for", "hostile", "hostile-settle",
        [("vmclock.settle.kworker_ms_for_5_notifications",
          "kernel workers {} ms for 5 notifications")]),
    Row("kernel", "guest before a storm (baseline)", "hostile",
        "hostile-storms",
        [("responsiveness.baseline.task_us", "CPU task {} us"),
         ("responsiveness.baseline.sleep_mean_us", "1 ms sleep: mean {} us"),
         ("responsiveness.baseline.sleep_worst_us", "worst {} us")]),
] + [
    Row("kernel", "guest during a storm: " + what, "hostile",
        "hostile-storms",
        [("responsiveness.%s.ms" % case, "{} ms"),
         ("responsiveness.%s.host_notifications" % case,
          "host notifications"),
         ("responsiveness.%s.irq" % case, "interrupts"),
         ("responsiveness.%s.driver_notifications" % case,
          "reached the driver"),
         ("responsiveness.%s.uevents" % case, "uevents"),
         ("responsiveness.%s.kernel_pct" % case, "{}% kernel time"),
         ("responsiveness.%s.irq_thread_ms" % case,
          "GED interrupt thread {} ms"),
         ("responsiveness.%s.kworker_ms" % case, "kworkers {} ms"),
         ("responsiveness.%s.task_ratio" % case, "CPU task x{}"),
         ("responsiveness.%s.sleep_mean_us" % case, "1 ms sleep: mean {} us"),
         ("responsiveness.%s.sleep_worst_us" % case, "worst {} us")])
    for case, what in (("vmclock", "vmclock events"),
                       ("vmclock_no_driver",
                        "vmclock events, vmgen_vmclock unloaded"),
                       ("vmclock_stuck_odd", "vmclock page stuck mid-update"),
                       ("vmgenid", "new VMGenIDs"))
]

# vmgend, vmgenctl and libvmgen: guest scenarios (scenarios_user.py) and
# host tests (run.py HOST_TESTS, kept as build/rig/host/NAME/host.console).
ROWS += [
    Row("user", "vmgend: hooks that hang (TERM ignored, child left), leave "
        "children running, print 4 MB, die by SIGSEGV; one restore",
        "user-faults", "hook-faults",
        [("user.hooks.passes", "pass"),
         ("user.hooks.dropped_bytes", "output bytes dropped past 64 KiB"),
         ("user.hooks.vmgend_rss_kb", "vmgend RSS {} KiB")]),
    Row("user", "vmgend: a burst of 1,000 notifications, each after a "
        "change of both devices", "user-faults", "burst-1000",
        [("user.burst.notifications", "notifications"),
         ("user.burst.generations", "generations"),
         ("user.burst.passes", "passes (coalesced, none lost or repeated)"),
         ("user.burst.hwm_growth_kb", "VmHWM growth {} KiB")]),
    Row("user", "vmgend: restores one after the other", "user-faults",
        "lockstep-200",
        [("user.lockstep.restores", "restores"),
         ("user.lockstep.passes", "passes"),
         ("user.lockstep.hwm_growth_kb", "VmHWM growth {} KiB"),
         ("user.lockstep.rss_kb", "RSS {} KiB (first..last)")]),
    Row("user", "vmgend killed (SIGKILL) mid-pass, a hook and its "
        "TERM-ignoring child left running; restarted twice",
        "user-faults", "sigkill-mid-pass",
        [("user.kill.record_hook_runs",
          "run(s) of the hook that had ended (resumed, not repeated)")]),
    Row("user", "/run full (blocks and inodes): a restore, SIGKILL + "
        "restart, space back, another restore", "user-faults", "run-full",
        [("user.runfull.passes", "passes for 2 restores")]),
    Row("user", "VMClock device unbound while vmgend polls it, a restore "
        "meanwhile, device bound again", "user-faults", "device-removed",
        [("user.remove.cpu_ms_in_3s", "vmgend CPU {} ms in 3 s without it"),
         ("user.remove.passes", "pass after it came back")]),
    Row("user", "uid 65534 looks for the VMGenID value: every readable file "
        "(/sys /proc /dev /run /etc /tmp), /dev/vmgenid read and mmap, "
        "kernel log, uevents during a change, vmgenctl", "user-security",
        "vmgenid-secret",
        [("tap.ok", "checks ok"),
         ("user.secret.files_read", "files read"),
         ("user.secret.files_refused", "refused"),
         ("user.secret.uevents", "vmgenid uevent(s) heard"),
         ("user.secret.found", "places holding the ID")]),
    Row("user", "hooks an ordinary user owns or can swap (owner, group/"
        "world-writable, setuid, symlinks into their or a sticky "
        "directory)", "user-security", "unsafe-hooks-refused",
        [("user.security.unsafe_hooks", "unsafe hooks"),
         ("user.security.unsafe_refused", "refused and logged"),
         ("user.security.unsafe_ran", "ran")]),
    Row("user", "VMClock page for uid 65534: read and mapped, never "
        "written or made writable (vmclock_abi_test, the same on "
        "upstream 7.x)", "vmclock-emu", "vmclock_abi_test",
        [("tap.ok", "checks ok")]),
    Row("user", "host unit tests of vmgend, vmgenctl, libvmgen (faults "
        "with fake devices: hooks, SIGKILL mid-pass, full state directory, "
        "refusals)", "user", "user", [("tap.ok", "checks ok")]),
    Row("user", "the same under ASan and UBSan", "user-asan", "user-asan",
        [("tap.ok", "checks ok")]),
] + [
    Row("user", "libFuzzer on %s (corpus in user/tests/corpus/%s)"
        % (what, target), "user-fuzz", "user-fuzz",
        [("user.fuzz.%s.execs" % target, "inputs"),
         ("user.fuzz.%s.seconds" % target, "in {} s"),
         ("user.fuzz.%s.corpus" % target, "seed files")])
    for target, what in (
        ("uevent", "the uevent parser (vmgen_uevent_parse)"),
        ("state", "the state file parser (counters_parse)"),
        ("hookenv", "the hook environment (hook_env_build)"),
        ("vmclock", "the VMClock page checks and reads (libvmgen)"))
] + [
    Row("user", "vmgend's pass loop under Valgrind memcheck",
        "user-valgrind", "user-valgrind",
        [("user.valgrind.passes", "passes"),
         ("user.valgrind.errors", "errors"),
         ("user.valgrind.definitely_lost", "bytes definitely lost"),
         ("user.valgrind.indirectly_lost", "indirectly lost"),
         ("user.valgrind.open_fds_at_exit", "fds open at exit")]),
]

# The debug kernel: build times, and every scenario it ran.
DEBUG_SERIES = "debug-6.12"


def parse_console(path):
    """Figures, per-group verdicts, whether the log is clean and whether it
    ran to the end. A restored clone's console starts inside the group its
    source was in: those lines count for the group its exit line names."""
    figures, groups = {}, {}
    clean, done, group = True, False, None
    carried = {"ok": 0, "not_ok": 0, "rc": None}
    with open(path, errors="replace") as f:
        for line in f:
            m = FIGURE.search(line)
            if m:
                figures[m.group(1)] = m.group(2)
            if BAD_PATTERNS.search(line):
                clean = False
            if "@@vmgen-done rc=" in line:
                done = True
            m = re.search(r"@@vmgen-test (\S+)", line)
            if m:
                group = m.group(1)
                groups[group] = {"ok": 0, "not_ok": 0, "rc": None}
                continue
            m = re.search(r"@@vmgen-exit (\S+) (\d+)", line)
            if m:
                if m.group(1) not in groups:
                    groups[m.group(1)] = carried
                groups[m.group(1)]["rc"] = int(m.group(2))
                group = None
                continue
            m = re.match(r"\s*(not ok|ok) \d+ ", line)
            if m and "# SKIP" not in line:
                counts = groups[group] if group else carried
                counts["not_ok" if m.group(1) == "not ok" else "ok"] += 1
    return figures, groups, clean, done


def collect(work=WORK):
    """{(series, scenario): {"figures", "groups", "clean", "when"}}."""
    runs = {}
    for path in sorted(glob.glob(os.path.join(work, "*", "*", "*.console"))):
        scen_dir = os.path.dirname(path)
        series = os.path.basename(os.path.dirname(scen_dir))
        scenario = os.path.basename(scen_dir)
        # A source guest that was snapshotted stops mid-group; its restored
        # clones (clone*.console beside it) finish the run.
        snapshotted = (os.path.basename(path) == "guest.console" and
                       glob.glob(os.path.join(scen_dir, "clone*.console")))
        figures, groups, clean, done = parse_console(path)
        run = runs.setdefault((series, scenario), {
            "figures": {}, "groups": {}, "clean": True, "when": 0,
            "ok": 0, "bad": 0})
        # Each guest scans for leaks: a scenario's count is their sum.
        leaks = int(run["figures"].get("kmemleak.leaks", 0)) + \
            int(figures.get("kmemleak.leaks", 0))
        run["figures"].update(figures)
        if "kmemleak.leaks" in run["figures"]:
            run["figures"]["kmemleak.leaks"] = str(leaks)
        for v in groups.values():
            run["ok"] += v["ok"]
            run["bad"] += v["not_ok"] + (0 if v["rc"] in (0, 4) or (
                v["rc"] is None and snapshotted) else 1)
        for g, v in groups.items():
            old = run["groups"].get(g)
            if v["rc"] is None and snapshotted:
                continue        # the clones report this group
            # Any guest failing a group fails it.
            if (old is None or v["not_ok"] or
                    (v["rc"] if v["rc"] is not None else 1) not in (0, 4)):
                run["groups"][g] = v
        # A host test's output is not a kernel log.
        if series != HOST_SERIES:
            run["clean"] = run["clean"] and clean and (done or snapshotted)
        run["when"] = max(run["when"], os.path.getmtime(path))
    return runs


# Host tests: the command that runs each alone (make check runs them all).
HOST_SERIES = "host"
HOST_COMMANDS = {
    "user": "make -C user check",
    "user-asan": "make -C user asan",
    "user-fuzz": "make -C user fuzz-check",
    "user-valgrind": "make -C user valgrind",
}


def command(series, scenario):
    if series == HOST_SERIES:
        return "`%s`" % HOST_COMMANDS.get(scenario, "make check")
    if series == DEBUG_SERIES:
        return "`make check-debug SCENARIOS=%s`" % scenario
    return "`make check KERNELS=%s SCENARIOS=%s`" % (series, scenario)


def verdict(run, group):
    g = run["groups"].get(group)
    if g is None:
        return None
    ok = g["not_ok"] == 0 and g["rc"] in (0, 4) and run["clean"]
    if g["rc"] == 4 and not g["ok"]:
        return "skip"
    return "pass" if ok else "**FAIL**"


def render_value(label, value):
    if "{}" in label:
        return label.replace("{}", value)
    return "%s %s" % (value, label)


def series_key(series):
    """5.10 < 6.1 < 6.12 < 7.x < arm64-* < debug-6.12."""
    return (series == DEBUG_SERIES, series.startswith("arm64-"),
            [(0, int(x), "") if x.isdigit() else (1, 0, x)
             for x in re.split(r"[.-]", series)])


def table(runs, area="kernel", work=WORK):
    lines = ["| test | kernel | figures | result | command | run (UTC) |",
             "|------|--------|---------|--------|---------|-----------|"]
    for row in [r for r in ROWS if r.area == area]:
        for series in sorted({s for s, _ in runs}, key=series_key):
            run = runs.get((series, row.scenario))
            if not run:
                continue
            res = verdict(run, row.group)
            if res is None:
                continue
            values = dict(run["figures"])
            # the TAP results of this row's group
            values["tap.ok"] = str(run["groups"][row.group]["ok"])
            figs = [render_value(label, values[key])
                    for key, label in row.figures if key in values]
            if series == DEBUG_SERIES and "kmemleak.leaks" in run["figures"]:
                figs.append("kmemleak: %s leaks" %
                            run["figures"]["kmemleak.leaks"])
            when = datetime.datetime.fromtimestamp(
                run["when"], datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
            lines.append("| %s | %s | %s | %s | %s | %s |" % (
                row.title, series, ", ".join(figs) or "-", res,
                command(series, row.scenario), when))
    if area == "kernel":
        lines += debug_rows(runs, work)
    return "\n".join(lines) + "\n"


def debug_rows(runs, work):
    """The debug kernel's build, and each scenario run on it as a whole."""
    out = []
    figs = {}
    for path in glob.glob(os.path.join(work, DEBUG_SERIES, "*.figures")):
        with open(path) as f:
            for line in f:
                m = FIGURE.search(line)
                if m:
                    figs[m.group(1)] = m.group(2)
    if figs:
        parts = []
        if "debug_kernel.cold_build_s" in figs:
            parts.append("cold build %s s (of which unpacking %s s; -j%s on "
                         "%s CPUs)" % (
                             figs["debug_kernel.cold_build_s"],
                             figs.get("debug_kernel.unpack_s", "?"),
                             figs.get("debug_kernel.jobs", "?"),
                             figs.get("debug_kernel.cpus", "?")))
        if "debug_kernel.this_run_s" in figs:
            parts.append("this run: %s s" % figs["debug_kernel.this_run_s"])
        out.append("| debug kernel (KASAN, UBSAN, lockdep, kmemleak, ...) "
                   "built from linux-source-6.12 | %s | %s | pass | "
                   "`selftests/rig/debug-kernel.sh` (run by `make "
                   "check-debug`) | - |" % (DEBUG_SERIES, ", ".join(parts)))
    for (series, scenario), run in sorted(runs.items()):
        if series != DEBUG_SERIES:
            continue
        oks, bad = run["ok"], run["bad"]
        leaks = run["figures"].get("kmemleak.leaks", "?")
        res = "pass" if not bad and run["clean"] else "**FAIL**"
        when = datetime.datetime.fromtimestamp(
            run["when"], datetime.timezone.utc).strftime("%Y-%m-%d %H:%M")
        out.append("| scenario %s, whole, on the debug kernel | %s | %d TAP "
                   "results ok (all guests), %d failed, kernel log %s, "
                   "kmemleak: %s leaks"
                   " | %s | %s | %s |" % (
                       scenario, series, oks, bad,
                       "clean" if run["clean"] else "NOT clean", leaks, res,
                       command(series, scenario), when))
    return out


def update(doc, runs):
    with open(doc) as f:
        content = f.read()
    done = []
    for area in sorted({r.area for r in ROWS}):
        begin, end = BEGIN % area, END % area
        if begin not in content or end not in content:
            continue
        head, rest = content.split(begin, 1)
        _, tail = rest.split(end, 1)
        content = head + begin + "\n" + table(runs, area) + end + tail
        done.append(area)
    if not done:
        raise SystemExit("%s: no %s ... %s markers" % (doc, BEGIN, END))
    with open(doc, "w") as f:
        f.write(content)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out")
    ap.add_argument("--update")
    ap.add_argument("--area", default="kernel")
    args = ap.parse_args()
    runs = collect()
    text = table(runs, args.area)
    sys.stdout.write(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
    if args.update:
        update(args.update, runs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
