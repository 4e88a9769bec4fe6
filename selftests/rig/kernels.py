#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fetch and unpack Debian cloud kernels (image + headers + kbuild).

Package versions are resolved at run time from the suites' indexes, through a
private apt configuration used only for downloads: the host's own apt never
sees sid, trixie or bullseye.

    kernels.py fetch 5.10 6.1 6.12 7.x   -> prints one line per kernel
    kernels.py fetch arm64-6.1 arm64-6.12 -> Debian's arm64 cloud kernels
    kernels.py info 6.12                 -> KEY=value lines for shell use
    kernels.py update                    -> refresh the package indexes
    kernels.py aptopts                   -> apt options for the private config
"""
import json
import os
import re
import shutil
import subprocess
import sys

from rigcommon import CACHE, log, run

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"
MIRROR = "http://deb.debian.org/debian"
SECURITY = "http://deb.debian.org/debian-security"

# series -> (suite, archive, compiler note)
SERIES = {
    "5.10": ("bullseye-security", SECURITY),
    "6.1": ("bookworm-security", SECURITY),
    "6.12": ("bookworm-backports", MIRROR),
    "7.x": ("sid", MIRROR),
    # arm64 guests (selftests/rig/arm64/, docs/rig.md "arm64"): Debian's
    # arm64 cloud kernels, fetched through a private apt configuration of
    # their own (apt-arm64, native architecture arm64): the amd64 one keeps
    # exactly the suites above.
    "arm64-6.1": ("bookworm-security", SECURITY),
    "arm64-6.12": ("bookworm-backports", MIRROR),
}
# Kernels built here rather than fetched: series -> the script that builds it
# and prints its tree. debug-6.12 is linux-source-6.12 with KASAN, UBSAN,
# lockdep, kmemleak & co. (selftests/rig/debug-kernel.sh, docs/reliability.md).
LOCAL = {
    "debug-6.12": "selftests/rig/debug-kernel.sh",
}
# Plain bookworm in the arm64 configuration, for the guests' busybox-static.
ARM64_EXTRA_SUITES = [("bookworm", MIRROR)]

APT_DIR = os.path.join(CACHE, "apt")
KERNEL_DIR = os.path.join(CACHE, "kernels")


def arch_of(series):
    """The Debian architecture of a series' kernel: amd64 or arm64."""
    return "arm64" if series.startswith("arm64-") else "amd64"


def _apt_dir(arch):
    return APT_DIR if arch == "amd64" else APT_DIR + "-" + arch


def apt_opts(arch="amd64"):
    d = _apt_dir(arch)
    opts = [
        "-o", "Dir::Etc::SourceList=" + os.path.join(d, "sources.list"),
        "-o", "Dir::Etc::SourceParts=/dev/null",
        "-o", "Dir::State::Lists=" + os.path.join(d, "lists"),
        "-o", "Dir::State::Status=/dev/null",
        "-o", "Dir::Cache=" + os.path.join(d, "cache"),
        "-o", "APT::Get::List-Cleanup=0",
        "-o", "Debug::NoLocking=1",
    ]
    if arch != "amd64":
        # Only this download-only configuration sees arm64 indexes.
        opts += ["-o", "APT::Architecture=" + arch,
                 "-o", "APT::Architectures=" + arch]
    return opts


def apt_update(force=False, arch="amd64"):
    d = _apt_dir(arch)
    os.makedirs(os.path.join(d, "lists", "partial"), exist_ok=True)
    os.makedirs(os.path.join(d, "cache", "archives", "partial"),
                exist_ok=True)
    stamp = os.path.join(d, "updated")
    suites = [] if arch == "amd64" else list(ARM64_EXTRA_SUITES)
    for series, suite in SERIES.items():
        if arch_of(series) == arch and suite not in suites:
            suites.append(suite)
    lines = ["deb [signed-by=%s] %s %s main" % (KEYRING, url, suite)
             for suite, url in suites]
    srcs = os.path.join(d, "sources.list")
    with open(srcs, "w") as f:
        f.write("\n".join(lines) + "\n")
    if not force and os.path.exists(stamp):
        return
    run(["apt-get"] + apt_opts(arch) + ["-q", "update"], quiet=True)
    open(stamp, "w").close()


def madison(pkg, suite, arch="amd64"):
    out = run(["apt-cache"] + apt_opts(arch) + ["madison", pkg],
              capture=True)
    for line in out.splitlines():
        parts = [p.strip() for p in line.split("|")]
        if len(parts) >= 3 and (" %s/" % suite) in parts[2]:
            return parts[1]
    return None


def depends(pkg, arch="amd64"):
    out = run(["apt-cache"] + apt_opts(arch) + ["depends", pkg],
              capture=True)
    deps = []
    for line in out.splitlines():
        m = re.match(r"\s*\|?(Pre)?Depends: (\S+)", line)
        if m and not m.group(2).startswith("<"):
            deps.append(m.group(2))
    return deps


def kernel_packages(series):
    """Resolve the concrete package names for one series' cloud kernel."""
    suite, _ = SERIES[series]
    arch = arch_of(series)
    meta_ver = madison("linux-image-cloud-" + arch, suite, arch)
    if not meta_ver:
        raise SystemExit("no linux-image-cloud-%s in %s" % (arch, suite))
    image = [d for d in depends("linux-image-cloud-%s=%s" % (arch, meta_ver),
                                arch) if d.startswith("linux-image-")][0]
    headers = [d for d in depends("linux-headers-cloud-%s=%s"
                                  % (arch, meta_ver), arch)
               if d.startswith("linux-headers-")][0]
    abi = image[len("linux-image-"):]
    wanted = [image, headers]
    # The image may be split (7.x: linux-binary/linux-modules/linux-base-ABI),
    # and the headers pull in -common and kbuild.
    for d in depends(image, arch) + depends(headers, arch):
        if (d.startswith(("linux-binary-", "linux-modules-",
                          "linux-headers-", "linux-kbuild-"))
                or d == "linux-base-" + abi):
            wanted.append(d)
    for d in list(wanted):
        if d.startswith("linux-headers-") and d.endswith("-common"):
            wanted += [x for x in depends(d, arch)
                       if x.startswith("linux-kbuild-")]
    seen = []
    for w in wanted:
        if w not in seen:
            seen.append(w)
    return meta_ver, abi, seen


def fix_headers(root, abi):
    """Make the unpacked header tree usable where it is.

    Debian's arch header Makefile includes the -common Makefile by absolute
    path; point it into the unpacked tree instead."""
    kdir = os.path.join(root, "usr/src/linux-headers-" + abi)
    mk = os.path.join(kdir, "Makefile")
    with open(mk) as f:
        text = f.read()
    new = re.sub(r"(?<=[ =])/usr/src/", root + "/usr/src/", text)
    if new != text:
        with open(mk, "w") as f:
            f.write(new)
    return kdir


def locate_image(root):
    """Return (release, vmlinuz, config) for either package layout: /boot
    (up to 6.x) or /usr/lib/modules/RELEASE (7.x's split packages)."""
    boot = os.path.join(root, "boot")
    if os.path.isdir(boot):
        name = [x for x in os.listdir(boot) if x.startswith("vmlinuz-")][0]
        release = name[len("vmlinuz-"):]
        return (release, os.path.join(boot, name),
                os.path.join(boot, "config-" + release))
    mods = os.path.join(root, "usr/lib/modules")
    for release in os.listdir(mods):
        d = os.path.join(mods, release)
        if os.path.exists(os.path.join(d, "vmlinuz")):
            return (release, os.path.join(d, "vmlinuz"),
                    os.path.join(d, "config"))
    raise SystemExit("no kernel image found under " + root)


def fetch_local(series):
    """A kernel LOCAL builds: its tree is KDIR, its drivers are built in (no
    modules besides ours), and guests get more time (KASAN under TCG)."""
    import time
    from rigcommon import TOP
    t0 = time.monotonic()
    out = run([os.path.join(TOP, LOCAL[series])], capture=True)
    took = time.monotonic() - t0
    kdir = out.strip().splitlines()[-1]
    # Build times for docs/reliability.md (selftests/rig/figures.py): the
    # script's own record of its last cold build, and this run's time.
    figs = os.path.join(TOP, "build", "rig", series)
    os.makedirs(figs, exist_ok=True)
    with open(os.path.join(figs, "kernel-build.figures"), "w") as f:
        for kind in ("cold", "incremental"):
            p = os.path.join(os.path.dirname(kdir), "build-time." + kind)
            if os.path.exists(p):
                with open(p) as b:
                    f.write(b.read())
        f.write("# figure: debug_kernel.this_run_s=%.3f\n" % took)
    with open(os.path.join(kdir, "include/config/kernel.release")) as f:
        release = f.read().strip()
    cfg = {}
    with open(os.path.join(kdir, ".config")) as f:
        for line in f:
            m = re.match(r"(CONFIG_\w+)=(.*)", line)
            if m:
                cfg[m.group(1)] = m.group(2)
    cc_version = re.search(r"gcc[^ ]* \(.*?\) (\d+)",
                           cfg.get("CONFIG_CC_VERSION_TEXT", ""))
    return {
        "series": series,
        "arch": "amd64",
        "suite": "local",
        "version": release,
        "abi": release,
        "release": release,
        "kdir": kdir,
        "vmlinuz": os.path.join(kdir, "arch/x86/boot/bzImage"),
        "moddir": os.path.join(os.path.dirname(kdir), "mods/lib/modules",
                               release),
        "gcc_major": int(cc_version.group(1)) if cc_version else 0,
        "vmgenid": cfg.get("CONFIG_VMGENID", "n"),
        "ptp_vmclock": cfg.get("CONFIG_PTP_1588_CLOCK_VMCLOCK", "n"),
        "debug": True,
        "timeout_scale": 4,
    }


def fetch(series, refresh=False):
    if series in LOCAL:
        return fetch_local(series)
    dest = os.path.join(KERNEL_DIR, series)
    info_path = os.path.join(dest, "info.json")
    if os.path.exists(info_path) and not refresh:
        with open(info_path) as f:
            return json.load(f)
    arch = arch_of(series)
    apt_update(force=refresh, arch=arch)
    meta_ver, abi, pkgs = kernel_packages(series)
    host_pkgs = []
    if arch != "amd64":
        # The kbuild package holds host programs (fixdep, modpost, ...)
        # built for its own architecture: take the amd64 build of the same
        # source version, which the arm64 headers' scripts link then finds.
        host_pkgs = ["%s=%s" % (p, meta_ver) for p in pkgs
                     if p.startswith("linux-kbuild-")]
        pkgs = [p for p in pkgs if not p.startswith("linux-kbuild-")]
        apt_update(force=refresh)
    log("kernel %s: %s (%s)" % (series, abi, " ".join(pkgs + host_pkgs)))
    if os.path.exists(dest):
        shutil.rmtree(dest)
    debs = os.path.join(dest, "debs")
    root = os.path.join(dest, "root")
    os.makedirs(debs)
    os.makedirs(root)
    run(["apt-get"] + apt_opts(arch) + ["-q", "download"] + pkgs, cwd=debs,
        quiet=True)
    if host_pkgs:
        run(["apt-get"] + apt_opts() + ["-q", "download"] + host_pkgs,
            cwd=debs, quiet=True)
    for deb in sorted(os.listdir(debs)):
        run(["dpkg-deb", "-x", os.path.join(debs, deb), root])
    kdir = fix_headers(root, abi)
    release, vmlinuz, config = locate_image(root)
    cfg = {}
    with open(config) as f:
        for line in f:
            m = re.match(r"(CONFIG_\w+)=(.*)", line)
            if m:
                cfg[m.group(1)] = m.group(2)
    # The compiler the kernel was built with, from its own config.
    cc_version = re.search(r"gcc[^ ]* \(.*?\) (\d+)",
                           cfg.get("CONFIG_CC_VERSION_TEXT", ""))
    info = {
        "series": series,
        "arch": arch,
        "suite": SERIES[series][0],
        "version": meta_ver,
        "abi": abi,
        "release": release,
        "kdir": kdir,
        "vmlinuz": vmlinuz,
        "moddir": os.path.join(root, "lib/modules", release),
        "gcc_major": int(cc_version.group(1)) if cc_version else 0,
        "vmgenid": cfg.get("CONFIG_VMGENID", "n"),
        "ptp_vmclock": cfg.get("CONFIG_PTP_1588_CLOCK_VMCLOCK", "n"),
    }
    if not os.path.isdir(info["moddir"]):
        info["moddir"] = os.path.join(root, "usr/lib/modules", release)
    with open(info_path, "w") as f:
        json.dump(info, f, indent=1)
    return info


def main(argv):
    if argv[:1] == ["update"]:
        apt_update(force=True)
        if os.path.isdir(_apt_dir("arm64")):
            apt_update(force=True, arch="arm64")
        return 0
    if argv[:1] == ["aptopts"]:
        apt_update()
        print(" ".join(apt_opts()))
        return 0
    if len(argv) < 2 or argv[0] not in ("fetch", "info"):
        sys.stderr.write(__doc__)
        return 2
    for series in argv[1:]:
        if series not in SERIES and series not in LOCAL:
            sys.stderr.write("unknown kernel series %r (have: %s)\n"
                             % (series, " ".join(list(SERIES) + list(LOCAL))))
            return 2
        info = fetch(series)
        if argv[0] == "info":
            for k, v in info.items():
                print("%s=%s" % (k.upper(), v))
        else:
            print("%-5s %s gcc-%d vmgenid=%s ptp_vmclock=%s" % (
                series, info["release"], info["gcc_major"], info["vmgenid"],
                info["ptp_vmclock"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
