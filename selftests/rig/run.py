#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Run vmgen's kernel matrix: build per kernel, boot scenarios, collect TAP.

    run.py [--kernels 5.10,6.1,6.12,7.x] [--scenarios a,b] [--jobs N]

Prints one line per result and ends with "N passed, N failed" (skips are
counted and listed separately, each with its reason). Exit status is 0 only
if nothing failed.
"""
import argparse
import os
import queue
import shutil
import sys
import threading
import time
import traceback

import build
import kernels
import scenarios
import scenarios_stress
from guest import Guest
from rigcommon import TOP, log, run

WORK = os.path.join(TOP, "build", "rig")


def prepare_kernel(series):
    """Fetch, build modules, pack the initramfs; returns info or raises."""
    info = kernels.fetch(series)
    kos, _ = build.build_modules(info)
    info["initrd"] = build.build_initramfs(info, kos)
    info["amldir"] = os.path.join(TOP, "build", "acpi")
    info["kos"] = kos
    if info.get("arch") == "arm64":
        from arm64 import virt
        info["dtbs"] = virt.build_dtbs()
    return info


def scenario_env(info, sc):
    own_vmclock = info["ptp_vmclock"] in ("y", "m") and \
        info["series"] not in ("5.10", "6.1", "6.12")
    env = {
        "VMGEN_SERIES": info["series"],
        "VMGEN_SCENARIO": sc.name,
        "VMGEN_VMCLOCK_DRIVER": "ptp_vmclock" if own_vmclock
        else "vmgen_vmclock",
        "VMGEN_VMGENID_KERNEL": "y" if info["vmgenid"] == "y" else "n",
        "VMGEN_ARCH": info.get("arch", "amd64"),
    }
    return "".join("export %s=%s\n" % kv for kv in env.items())


def run_scenario(info, sc):
    """Boot one scenario (and its clones); returns a list of results."""
    wdir = os.path.join(WORK, info["series"], sc.name)
    if os.path.exists(wdir):
        shutil.rmtree(wdir)
    os.makedirs(wdir)
    extra = os.path.join(wdir, "scenario.cpio.gz")
    build.scenario_cpio({"/scenario.sh": (sc.script, 0o755),
                         "/scenario.env": (scenario_env(info, sc), 0o644)},
                        extra)
    initrd = os.path.join(wdir, "initrd.cpio.gz")
    with open(initrd, "wb") as out:
        for part in (info["initrd"], extra):
            with open(part, "rb") as f:
                shutil.copyfileobj(f, out)
    events = queue.Queue()
    prefix = "%s/%s" % (info["series"], sc.name)
    # Debug kernels (KASAN under TCG) get more time.
    timeout = sc.timeout * info.get("timeout_scale", 1)
    src = Guest(wdir, "guest", info, initrd, sc.devices, append=sc.append,
                timeout=timeout, events=events)
    live = [src]
    everyone = [src]
    results = []
    try:
        src.start()
        while live:
            ev = events.get()
            if ev[0] == "exit":
                live.remove(ev[1])
                continue
            _, guest, req_id, count = ev
            snap = os.path.join(wdir, "snapshot.mig")
            t0 = time.monotonic()
            guest.save_snapshot(snap)
            log("%s: snapshot saved in %.1fs, restoring %d clones"
                % (prefix, time.monotonic() - t0, count))
            for i in range(count):
                clone = Guest(wdir, "clone%d" % i, info, initrd, sc.devices,
                              append=sc.append, timeout=timeout,
                              events=events, incoming=snap)
                everyone.append(clone)
                live.append(clone)
                clone.start()
                clone.resume_clone(req_id, i, count)
    except Exception as e:  # a rig failure is a test failure, not a crash
        traceback.print_exc()
        results.append((prefix + "/rig", "fail", str(e)))
    finally:
        for g in everyone:
            g.stop()
    carried = src.open_group() if src.snapshotted else None
    for g in everyone:
        if g is src:
            results += g.results(prefix)
        else:
            results += g.results("%s[%s]" % (prefix, g.name), carried)
    for check in sc.host_checks:
        try:
            for name, status, why in check(everyone):
                results.append(("%s/host/%s" % (prefix, name), status, why))
        except Exception as e:
            traceback.print_exc()
            results.append(("%s/host/%s" % (prefix, check.__name__), "fail",
                            str(e)))
    if sc.clones and not any(g.name.startswith("clone") for g in everyone):
        results.append((prefix + "/clones", "fail",
                        "expected %d restored clones, got none" % sc.clones))
    for g in everyone:
        for p in (os.path.join(wdir, "snapshot.mig"),):
            if os.path.exists(p):
                os.unlink(p)
    return results


# Host-side tests (no QEMU): TAP producers run before the kernel matrix.
HOST_TESTS = [
    ("host/emu", ["selftests/emu/test-emu.sh"]),
    ("host/user", ["make", "-s", "-C", "user", "check"]),
    # the same tests built with -fsanitize=address,undefined
    ("host/user-asan", ["make", "-s", "-C", "user", "asan"]),
    # libFuzzer, 4 targets x 15 s: about a minute (user/tests/fuzz-check.sh)
    ("host/user-fuzz", ["make", "-s", "-C", "user", "fuzz-check",
                        "FUZZ_SECONDS=15"]),
    # vmgend's pass loop under valgrind memcheck (user/tests/valgrind.sh)
    ("host/user-valgrind", ["make", "-s", "-C", "user", "valgrind"]),
    ("host/dts", ["dts/validate.sh"]),
    ("host/dkms", ["selftests/dkms-test.sh"]),
    ("host/deb", ["selftests/deb-test.sh"]),
]


def run_host_tests():
    import re
    import subprocess
    results = []
    for prefix, cmd in HOST_TESTS:
        if "/" in cmd[0] and not os.path.exists(os.path.join(TOP, cmd[0])):
            results.append((prefix, "fail", "missing " + cmd[0]))
            continue
        t0 = time.monotonic()
        res = subprocess.run(cmd, cwd=TOP, capture_output=True, text=True)
        # The whole output (diagnostics, figures, crash files) kept as
        # build/rig/host/NAME/host.console, one TAP group named NAME, for
        # figures.py.
        group = prefix.split("/", 1)[-1]
        logname = os.path.join(WORK, "host", group, "host.console")
        os.makedirs(os.path.dirname(logname), exist_ok=True)
        out = res.stdout + res.stderr
        with open(logname, "w") as f:
            f.write("$ %s\n@@vmgen-test %s\n%s%s@@vmgen-exit %s %d\n" % (
                " ".join(cmd), group, out,
                "\n" if out and not out.endswith("\n") else "", group,
                res.returncode))
        log("%s: exit status %d, %.0fs, output in %s" % (
            prefix, res.returncode, time.monotonic() - t0,
            os.path.relpath(logname, TOP)))
        seen = 0
        for line in res.stdout.splitlines():
            m = re.match(r"(not ok|ok) \d+\s*-?\s*(.*)$", line)
            if not m:
                continue
            seen += 1
            desc = m.group(2)
            name = "%s/%s" % (prefix, desc.split(" # ")[0].strip())
            if m.group(1) == "not ok":
                results.append((name, "fail", "see " +
                                os.path.relpath(logname, TOP)))
            elif re.search(r"#\s*SKIP", desc, re.I):
                results.append((name, "skip", desc.split("SKIP", 1)[1]))
            else:
                results.append((name, "pass", ""))
        if res.returncode != 0 or not seen:
            results.append((prefix, "fail", "exit status %d, %d results: %s"
                            % (res.returncode, seen, res.stderr[-300:])))
    return results


def report(results, out=sys.stdout):
    """Every result, the skips and failures, then "N passed, N failed" as
    the last line (after the wall time of the make target, if it set
    VMGEN_WALL_START)."""
    passed = sum(1 for r in results if r[1] == "pass")
    failed = [r for r in results if r[1] == "fail"]
    skipped = [r for r in results if r[1] == "skip"]
    for name, status, why in results:
        out.write("%-4s %s%s\n" % (status.upper(), name,
                                  (" (%s)" % why) if why else ""))
    if skipped:
        out.write("\n%d skipped:\n" % len(skipped))
        for name, _, why in skipped:
            out.write("  SKIP %s: %s\n" % (name, why or "no reason given"))
    if failed:
        out.write("\nfailures:\n")
        for name, _, why in failed:
            out.write("  FAIL %s%s\n" % (name, (": " + why) if why else ""))
    start = os.environ.get("VMGEN_WALL_START")
    if start and out is sys.stdout:
        out.write("%s: %d s wall\n" % (
            os.environ.get("VMGEN_WALL_LABEL", "run"),
            time.time() - int(start)))
    out.write("%d passed, %d failed\n" % (passed, len(failed)))
    return not failed


def write_figures():
    """The reliability figures of every run in build/rig, as the table of
    docs/reliability.md (selftests/rig/figures.py --update refreshes it)."""
    try:
        import figures
        path = os.path.join(WORK, "figures.md")
        runs = figures.collect()
        with open(path, "w") as f:
            for area in sorted({r.area for r in figures.ROWS}):
                f.write("## %s\n\n%s\n" % (area, figures.table(runs, area)))
        log("figures table: %s" % os.path.relpath(path, TOP))
    except Exception:  # the figures never decide a verdict
        traceback.print_exc()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--kernels", default=",".join(scenarios.ALL))
    ap.add_argument("--scenarios", default="")
    ap.add_argument("--jobs", type=int, default=2,
                    help="guests booted at once (default 2)")
    ap.add_argument("--results", help="also append results to this file")
    ap.add_argument("--no-host-tests", action="store_true")
    ap.add_argument("--debug-all", action="store_true",
                    help="also run the module scenarios of ON_DEBUG "
                    "(scenarios_stress.py) on the debug kernel")
    args = ap.parse_args()
    series_list = [k for k in args.kernels.split(",") if k]
    for k in series_list:
        if k not in kernels.SERIES and k not in kernels.LOCAL:
            ap.error("unknown kernel %r" % k)
    run(["sh", os.path.join(TOP, "selftests/rig/acpi/build.sh"),
         os.path.join(TOP, "build", "acpi")], quiet=True)
    results = [] if args.no_host_tests else run_host_tests()
    jobs = []
    for k in series_list:
        try:
            info = prepare_kernel(k)
        except Exception as e:
            traceback.print_exc()
            results.append(("%s/build" % k, "fail", str(e).splitlines()[0]))
            continue
        results.append(("%s/build" % k, "pass", ""))
        for sc in scenarios.select(args.scenarios):
            if k in sc.kernels or (args.debug_all and k in kernels.LOCAL
                                   and sc.name in scenarios_stress.ON_DEBUG):
                jobs.append((info, sc))
    lock = threading.Lock()
    work = queue.Queue()
    for j in jobs:
        work.put(j)

    def worker():
        while True:
            try:
                info, sc = work.get_nowait()
            except queue.Empty:
                return
            t0 = time.monotonic()
            # a scenario with its own run() boots its guests itself
            # (scenarios_systemd.py)
            res = sc.run(info) if hasattr(sc, "run") else \
                run_scenario(info, sc)
            bad = sum(1 for r in res if r[1] == "fail")
            log("%s/%s: %d results, %d failed, %.0fs" % (
                info["series"], sc.name, len(res), bad,
                time.monotonic() - t0))
            with lock:
                results.extend(res)
    threads = [threading.Thread(target=worker)
               for _ in range(max(1, args.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.sort(key=lambda r: r[0])
    write_figures()
    ok = report(results)
    if args.results:
        with open(args.results, "a") as f:
            report(results, f)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
