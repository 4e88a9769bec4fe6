#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""End-to-end test with real parts: vmgen's Debian packages in a Debian
bookworm system booted by systemd (docs/rig.md, "The systemd guest").

    systemd_guest.py [--debs DIR] [--timeout S] [--results FILE] [--keep]

(make check-systemd), or the scenario "systemd-guest" of the 6.12 leg of
the matrix (scenarios_systemd.py).

1. The cached root file system (systemd-guest/rootfs.sh: debootstrap
   bookworm with systemd, udev and dkms, Debian's 6.12 cloud kernel and
   headers from bookworm-backports) is unpacked into build/systemd-guest/.
2. "make deb" in a scratch copy of the tree (or the .debs of --debs) are
   installed with dpkg -i in a chroot, so DKMS builds the modules for the
   image's kernel; the example hooks are enabled, plus a test hook and the
   test service (systemd-guest/).
3. The tree becomes a raw ext4 image (mkfs.ext4 -d), booted under QEMU
   with the kernel and initrd of its /boot, root on virtio-blk, systemd as
   init, and the rig's emulated Firecracker-style VMClock and VMGenID
   (emu-both).
4. The test service checks what systemd, udev and the packages did, asks
   for a snapshot, and in the restored clone checks vmgend's pass and the
   hooks' effects in the journal. The host checks "vmgenctl status --json".

Prints one line per result and "N passed, N failed"; exit status 0 only if
nothing failed.
"""
import argparse
import fcntl
import glob
import json
import os
import queue
import re
import shutil
import subprocess
import sys
import time
import traceback

from guest import Guest
from rigcommon import TOP, log, run

HERE = os.path.join(TOP, "selftests", "rig", "systemd-guest")
WORK = os.path.join(TOP, "build", "systemd-guest")
PACKAGES = ("vmgen-dkms", "vmgen-tools", "libvmgen0", "libvmgen-dev")
# systemd's status lines stay off the console (the test's TAP is there),
# except failures; everything is in the guest's journal.
APPEND = "root=/dev/vda rw fsck.mode=skip systemd.show_status=error"

# Run in the image's chroot, with /proc, /sys and /dev mounted in a
# private mount namespace that disappears with the command.
CHROOT = r'''
r=$1; shift
mount -t proc proc "$r/proc"
mount -t sysfs sysfs "$r/sys"
mount --rbind /dev "$r/dev"
mount -t tmpfs tmpfs "$r/tmp"
mount -t tmpfs tmpfs "$r/run"
exec chroot "$r" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root "$@"
'''


def chroot(root, cmd, logf):
    with open(logf, "a") as out:
        res = subprocess.run(["unshare", "--mount", "--propagation",
                              "private", "sh", "-eu", "-c", CHROOT,
                              "chroot", root] + cmd,
                             stdout=out, stderr=subprocess.STDOUT)
    if res.returncode:
        with open(logf) as f:
            sys.stderr.write("".join(f.readlines()[-40:]))
        raise RuntimeError("in the chroot (%d): %s; log %s"
                           % (res.returncode, " ".join(cmd), logf))


def build_debs(out):
    """make deb in a scratch copy, as selftests/deb-test.sh does."""
    src = os.path.join(out, "src", "vmgen")
    os.makedirs(src)
    tar = subprocess.Popen(
        ["tar", "-C", TOP, "--exclude=./.git", "--exclude=./build",
         "--exclude=./user/build", "--exclude=./user/build-asan",
         "--exclude=*.o", "--exclude=*.ko", "--exclude=.*.cmd", "-cf", "-",
         "."], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-C", src, "-xf", "-"], stdin=tar.stdout,
                   check=True)
    if tar.wait():
        raise RuntimeError("tar of the tree failed")
    env = dict(os.environ)
    env.setdefault("DEB_BUILD_OPTIONS", "nocheck")
    run(["make", "-C", src, "deb"], quiet=True, env=env)
    return os.path.join(src, "build", "deb")


def deb_files(debdir):
    files = []
    for p in PACKAGES:
        found = sorted(glob.glob(os.path.join(debdir, p + "_*.deb")))
        if not found:
            raise RuntimeError("no %s_*.deb in %s" % (p, debdir))
        files.append(found[-1])
    return files


def prepare_image(tarball, debdir, timings):
    """Unpack the cached tree, install the packages and the test, make the
    disk image. Returns (image, vmlinuz, initrd, kernel release, tree)."""
    root = os.path.join(WORK, "rootfs")
    logf = os.path.join(WORK, "chroot.log")
    t0 = time.monotonic()
    os.makedirs(root)
    run(["tar", "-C", root, "--zstd", "--numeric-owner", "--xattrs",
         "--xattrs-include=*", "-xf", tarball])
    timings["unpack"] = time.monotonic() - t0

    t0 = time.monotonic()
    if debdir is None:
        debdir = build_debs(os.path.join(WORK, "deb"))
    debs = deb_files(debdir)
    timings["make deb"] = time.monotonic() - t0

    t0 = time.monotonic()
    ddir = os.path.join(root, "root", "debs")
    os.makedirs(ddir)
    for d in debs:
        shutil.copy(d, ddir)
    chroot(root, ["sh", "-c", "dpkg -i /root/debs/*.deb"], logf)
    timings["dpkg -i (DKMS build)"] = time.monotonic() - t0
    shutil.rmtree(ddir)

    rel = os.listdir(os.path.join(root, "lib", "modules"))
    if len(rel) != 1:
        raise RuntimeError("expected one kernel in the image: %s" % rel)
    rel = rel[0]

    # The test: its service, script, hook, and the rig's helpers.
    tdir = os.path.join(root, "usr", "local", "lib", "vmgen-test")
    os.makedirs(tdir, exist_ok=True)
    shutil.copy(os.path.join(TOP, "selftests", "rig", "guest", "rig.sh"),
                tdir)
    shutil.copy(os.path.join(HERE, "test.sh"), tdir)
    os.chmod(os.path.join(tdir, "test.sh"), 0o755)
    shutil.copy(os.path.join(TOP, "selftests", "build", "rigctl"),
                os.path.join(root, "usr", "local", "bin", "rigctl"))
    unit = os.path.join(root, "etc", "systemd", "system")
    shutil.copy(os.path.join(HERE, "vmgen-test.service"), unit)
    os.makedirs(os.path.join(unit, "multi-user.target.wants"),
                exist_ok=True)
    os.symlink("/etc/systemd/system/vmgen-test.service",
               os.path.join(unit, "multi-user.target.wants",
                            "vmgen-test.service"))

    # Hooks, as an administrator enables them: links to three examples,
    # a copy of the fourth, and the test hook.
    hooks = os.path.join(root, "etc", "vmgen", "hooks.d")
    examples = "/usr/share/vmgen/examples/hooks.d"
    os.makedirs(hooks, exist_ok=True)
    for h in ("10-reseed-rng", "20-step-clock", "30-network"):
        os.symlink(os.path.join(examples, h), os.path.join(hooks, h))
    shutil.copy(os.path.join(root, examples.lstrip("/"), "40-new-identity"),
                hooks)
    shutil.copy(os.path.join(HERE, "90-vmgen-test"), hooks)
    for h in ("40-new-identity", "90-vmgen-test"):
        os.chmod(os.path.join(hooks, h), 0o755)

    os.unlink(os.path.join(root, "usr", "sbin", "policy-rc.d"))
    with open(os.path.join(root, "etc", "machine-id"), "w") as f:
        f.write(os.urandom(16).hex() + "\n")

    # The disk image: the tree plus room to spare.
    t0 = time.monotonic()
    used = int(subprocess.run(["du", "-sm", root], capture_output=True,
                              text=True, check=True).stdout.split()[0])
    img = os.path.join(WORK, "disk.img")
    with open(img, "wb") as f:
        f.truncate((used + 512) << 20)
    run(["mkfs.ext4", "-q", "-F", "-L", "vmgen-root", "-d", root, img],
        quiet=True)
    timings["mkfs.ext4 -d"] = time.monotonic() - t0
    boot = os.path.join(WORK, "boot")
    os.makedirs(boot)
    for f in ("vmlinuz-" + rel, "initrd.img-" + rel):
        shutil.copy(os.path.join(root, "boot", f), boot)
    return (img, os.path.join(boot, "vmlinuz-" + rel),
            os.path.join(boot, "initrd.img-" + rel), rel, root)


def host_results(prefix, root, rel):
    """What the chroot left: DKMS's modules for the image's kernel."""
    out = []
    d = os.path.join(root, "lib", "modules", rel, "updates", "dkms")
    for m in ("vmgen_vmclock", "vmgen_vmgenid"):
        found = glob.glob(os.path.join(d, m + ".ko*"))
        out.append(("%s/host/dkms-built-%s" % (prefix, m),
                    "pass" if found else "fail",
                    "" if found else "nothing in " + d))
    return out


def status_json(guest, tag):
    lines, rc = [], None
    for line in guest.console:
        m = re.search(r"@@vmgen-json-rc %s (\d+)" % tag, line)
        if m:
            rc = int(m.group(1))
        m = re.search(r"@@vmgen-json %s (.*)$" % tag, line)
        if m:
            lines.append(m.group(1))
    if rc is None:
        raise RuntimeError("no vmgenctl status --json %s on the console"
                           % tag)
    if rc != 0:
        raise RuntimeError("vmgenctl status --json exited %d" % rc)
    return json.loads("\n".join(lines))


def check_status(guests):
    """vmgenctl status --json before the snapshot (source) and after the
    restore (clone)."""
    out = []

    def expect(name, got, want):
        ok = got == want
        out.append((name, "pass" if ok else "fail",
                    "" if ok else "got %r, want %r" % (got, want)))

    before = status_json(guests[0], "before")
    expect("status-before/vmclock-driver", before["vmclock"]["driver"],
           "vmgen_vmclock")
    expect("status-before/vmclock-notifies", before["vmclock"]["notifies"],
           True)
    expect("status-before/vmgenid-driver", before["vmgenid"]["driver"],
           "vmgen_vmgenid")
    expect("status-before/vmgenid-mode", before["vmgenid"]["mode"],
           "observer")
    expect("status-before/vmgenid-notifies", before["vmgenid"]["notifies"],
           True)
    expect("status-before/kernel-vmgenid",
           before["vmgenid"]["kernel_driver"], True)
    for m in ("vmgen_vmclock", "vmgen_vmgenid"):
        expect("status-before/%s-live" % m,
               before["modules"][m]["state"], "live")
    expect("status-before/auto-source", before["auto"]["source"],
           "vmclock+vmgenid")
    expect("status-before/no-pass", before["daemon"]["pass"] or 0, 0)
    if len(guests) < 2:
        out.append(("status-after", "fail", "no clone"))
        return out
    after = status_json(guests[1], "after")
    for sect, key in (("vmclock", "generation"),
                      ("vmclock", "disruption_marker"),
                      ("vmgenid", "generation")):
        b, a = before[sect][key], after[sect][key]
        expect("status-after/%s-%s+1" % (sect, key), a,
               None if b is None else b + 1)
    expect("status-after/pass", after["daemon"]["pass"], 1)
    expect("status-after/last-event", after["daemon"]["last_event"],
           "restore")
    expect("status-after/last-status", after["daemon"]["last_status"], "ok")
    return out


def boot(prefix, img, vmlinuz, initrd, timeout):
    """Boot the image, serve its snapshot request with one clone; returns
    the results and the guests."""
    wdir = os.path.join(WORK, "guests")
    os.makedirs(wdir)
    kinfo = {"vmlinuz": vmlinuz, "amldir": os.path.join(TOP, "build",
                                                         "acpi")}
    events = queue.Queue()
    src = Guest(wdir, "guest", kinfo, initrd, ["emu-both"], append=APPEND,
                timeout=timeout, events=events, disk=img)
    everyone, live, results = [src], [src], []
    t0 = time.monotonic()
    try:
        src.start()
        while live:
            ev = events.get()
            if ev[0] == "exit":
                live.remove(ev[1])
                continue
            _, guest, req_id, count = ev
            log("%s: snapshot requested after %.0fs" % (
                prefix, time.monotonic() - t0))
            snap = os.path.join(wdir, "snapshot.mig")
            guest.save_snapshot(snap)
            # the clone opens the same disk: the source must be gone
            guest.proc.wait(timeout=60)
            for i in range(count):
                clone = Guest(wdir, "clone%d" % i, kinfo, initrd,
                              ["emu-both"], append=APPEND, timeout=timeout,
                              events=events, incoming=snap, disk=img)
                everyone.append(clone)
                live.append(clone)
                clone.start()
                clone.resume_clone(req_id, i, count)
    except Exception as e:
        traceback.print_exc()
        results.append((prefix + "/rig", "fail", str(e)))
    finally:
        for g in everyone:
            g.stop()
    log("%s: guests done after %.0fs" % (prefix, time.monotonic() - t0))
    carried = src.open_group() if src.snapshotted else None
    for g in everyone:
        if g is src:
            results += g.results(prefix)
        else:
            results += g.results("%s[%s]" % (prefix, g.name), carried)
    if len(everyone) < 2:
        results.append((prefix + "/clone", "fail", "no clone was restored"))
    try:
        for name, status, why in check_status(everyone):
            results.append(("%s/host/%s" % (prefix, name), status, why))
    except Exception as e:
        results.append((prefix + "/host/status-json", "fail", str(e)))
    snap = os.path.join(wdir, "snapshot.mig")
    if os.path.exists(snap):
        os.unlink(snap)
    return results


def run_all(prefix, debs=None, timeout=600, keep=False):
    """The whole test; returns its results, named PREFIX/..."""
    for need in (os.path.join(TOP, "selftests", "build", "rigctl"),
                 os.path.join(TOP, "selftests", "emu", "vmgen-emu")):
        if not os.path.exists(need):
            return [(prefix + "/image", "fail",
                     "missing %s: run make -C selftests" % need)]
    os.makedirs(os.path.dirname(WORK), exist_ok=True)
    with open(WORK + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _run_all(prefix, debs, timeout, keep)


def _run_all(prefix, debs, timeout, keep):
    t_all = time.monotonic()
    timings = {}
    results = []
    if os.path.exists(WORK):
        shutil.rmtree(WORK)
    os.makedirs(WORK)
    run(["sh", os.path.join(TOP, "selftests/rig/acpi/build.sh"),
         os.path.join(TOP, "build", "acpi")], quiet=True)
    img = None
    try:
        t0 = time.monotonic()
        tarball = run([os.path.join(HERE, "rootfs.sh")],
                      capture=True).strip().splitlines()[-1]
        timings["cached rootfs"] = time.monotonic() - t0
        img, vmlinuz, initrd, rel, root = prepare_image(
            tarball, os.path.abspath(debs) if debs else None, timings)
        results.append((prefix + "/image", "pass", ""))
        results += host_results(prefix, root, rel)
        if not keep:
            shutil.rmtree(root)
    except Exception as e:
        traceback.print_exc()
        results.append((prefix + "/image", "fail", str(e)))
        img = None
    if img:
        t0 = time.monotonic()
        log("%s: booting kernel %s" % (prefix, rel))
        results += boot(prefix, img, vmlinuz, initrd, timeout)
        timings["guests"] = time.monotonic() - t0
        if not keep:
            os.unlink(img)
    timings["total"] = time.monotonic() - t_all
    log("%s: times: %s" % (prefix, ", ".join(
        "%s %.0fs" % kv for kv in timings.items())))
    return results


def main():
    from run import report
    ap = argparse.ArgumentParser()
    ap.add_argument("--debs", help="install these .debs instead of "
                    "building them with make deb")
    ap.add_argument("--timeout", type=int, default=600,
                    help="hard timeout of each guest (s)")
    ap.add_argument("--results", help="also append results to this file")
    ap.add_argument("--keep", action="store_true",
                    help="keep the unpacked tree and the disk image")
    args = ap.parse_args()
    results = run_all("systemd-guest", args.debs, args.timeout, args.keep)
    ok = report(results)
    if args.results:
        with open(args.results, "a") as f:
            report(results, f)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
