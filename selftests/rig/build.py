#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Build vmgen's modules for one cached kernel and pack a guest initramfs.

The modules are built in a per-kernel copy of the sources (so several
kernels never share object files). Kernels built with a compiler newer than
the host's are built inside a debootstrap chroot that has it.
"""
import glob
import gzip
import os
import re
import shutil
import subprocess

from rigcommon import CACHE, TOP, log, run

BUILD = os.path.join(TOP, "build")
HOST_GCC = 12
# Kernel modules the guests need besides ours: the virtio stack for the rig's
# control port (modular on 5.10/6.1), the PTP core (modular on 5.10) and the
# kernel's own vmclock driver on 7.x.
GUEST_MODULES = ["virtio_pci", "virtio_console", "ptp", "ptp_vmclock"]
SOURCES = ["Kbuild", "kmod", "include"]


def kernel_build_dir(info):
    return os.path.join(BUILD, "kernels", info["series"])


def _copy_sources(dest):
    if os.path.exists(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    for name in SOURCES:
        src = os.path.join(TOP, name)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dest, name))
        else:
            shutil.copy2(src, dest)


class Chroot:
    """Bind-mounts the kernel cache and a build dir into the sid chroot."""

    def __init__(self, gcc_major, srcdir):
        self.dir = os.path.join(CACHE, "chroot-sid")
        run([os.path.join(TOP, "selftests/rig/sid-chroot.sh"), self.dir,
             str(gcc_major)])
        self.srcdir = srcdir
        self.mounts = []

    def _mount(self, args, target):
        os.makedirs(target, exist_ok=True)
        run(["mount"] + args + [target])
        self.mounts.append(target)

    def __enter__(self):
        self._mount(["--bind", os.path.join(CACHE, "kernels")],
                    self.dir + os.path.join(CACHE, "kernels"))
        self._mount(["--bind", self.srcdir], self.dir + "/src")
        self._mount(["-t", "proc", "proc"], self.dir + "/proc")
        return self

    def __exit__(self, *exc):
        for m in reversed(self.mounts):
            run(["umount", m], check=False)

    def make(self, args, log_path):
        with open(log_path, "w") as out:
            return subprocess.call(["chroot", self.dir, "make"] + args,
                                   stdout=out, stderr=subprocess.STDOUT)


def build_modules(info, extra_args=()):
    """Build the modules; returns the list of .ko paths."""
    dest = kernel_build_dir(info)
    src = os.path.join(dest, "src")
    _copy_sources(src)
    logf = os.path.join(dest, "modules.log")
    args = ["-C", info["kdir"], "modules"] + list(extra_args)
    if info.get("arch", "amd64") == "arm64":
        # Cross build; the kbuild host programs are amd64 (kernels.py).
        args += ["ARCH=arm64", "CROSS_COMPILE=aarch64-linux-gnu-"]
    if info["gcc_major"] > HOST_GCC:
        with Chroot(info["gcc_major"], src) as ch:
            rc = ch.make(args + ["M=/src"], logf)
    else:
        # 5.10 was built with gcc-10, which bookworm lacks; gcc-12 works.
        cc = ["CC=gcc"] if info["gcc_major"] < HOST_GCC else []
        with open(logf, "w") as out:
            rc = subprocess.call(["make"] + args + ["M=" + src] + cc,
                                 stdout=out, stderr=subprocess.STDOUT)
    with open(logf) as f:
        text = f.read()
    if rc != 0:
        raise RuntimeError("module build for %s failed:\n%s"
                           % (info["series"], text[-3000:]))
    kos = sorted(glob.glob(os.path.join(src, "kmod", "*.ko")))
    log("built %s for %s" % (" ".join(os.path.basename(k) for k in kos),
                             info["release"]))
    return kos, text


def _kernel_modules_dep(info):
    """modules.dep for the unpacked kernel (Debian leaves it to postinst)."""
    moddir = info["moddir"]
    dep = os.path.join(moddir, "modules.dep")
    if not os.path.exists(dep):
        base = moddir[:-len("/lib/modules/" + info["release"])]
        if base.endswith("/usr"):
            base = base[:-4]
            if not os.path.exists(os.path.join(base, "lib")):
                os.symlink("usr/lib", os.path.join(base, "lib"))
        run(["depmod", "-b", base, info["release"]])
    deps = {}
    with open(dep) as f:
        for line in f:
            path, _, rest = line.partition(":")
            name = re.sub(r"\.ko(\.xz|\.zst|\.gz)?$", "",
                          os.path.basename(path)).replace("-", "_")
            deps[name] = (path, rest.split())
    return deps


def _copy_module(moddir, relpath, stage_moddir):
    src = os.path.join(moddir, relpath)
    out_rel = re.sub(r"\.(xz|zst|gz)$", "", relpath)
    out = os.path.join(stage_moddir, out_rel)
    os.makedirs(os.path.dirname(out), exist_ok=True)
    if src.endswith(".xz"):
        run(["sh", "-c", 'xz -dc "$0" > "$1"', src, out])
    elif src.endswith(".zst"):
        run(["sh", "-c", 'zstd -qdc "$0" > "$1"', src, out])
    elif src.endswith(".gz"):
        with gzip.open(src) as i, open(out, "wb") as o:
            shutil.copyfileobj(i, o)
    else:
        shutil.copy2(src, out)


def stage_kernel_modules(info, kos, stage):
    """Put our modules and the kernel modules we need into stage, depmod."""
    moddir = info["moddir"]
    stage_moddir = os.path.join(stage, "lib/modules", info["release"])
    os.makedirs(stage_moddir, exist_ok=True)
    deps = _kernel_modules_dep(info)
    wanted = []
    for name in GUEST_MODULES:
        if name in deps:
            path, more = deps[name]
            wanted += more + [path]
    for rel in dict.fromkeys(wanted):
        _copy_module(moddir, rel, stage_moddir)
    for name in ("modules.builtin", "modules.order",
                 "modules.builtin.modinfo"):
        p = os.path.join(moddir, name)
        if os.path.exists(p):
            shutil.copy2(p, stage_moddir)
    extra = os.path.join(stage_moddir, "extra")
    os.makedirs(extra, exist_ok=True)
    for ko in kos:
        shutil.copy2(ko, extra)
    run(["depmod", "-b", stage, info["release"]])


def _install_busybox(stage, bb="/bin/busybox"):
    os.makedirs(os.path.join(stage, "bin"), exist_ok=True)
    shutil.copy2(bb, os.path.join(stage, "bin/busybox"))
    # The host's busybox-static names the applets (an arm64 one cannot run
    # here; Debian builds both from the same version and configuration).
    applets = run(["/bin/busybox", "--list"], capture=True).split()
    for a in applets:
        link = os.path.join(stage, "bin", a)
        if not os.path.exists(link):
            os.symlink("busybox", link)
    # Relative links: the stage is written from the host, where an
    # absolute /bin would be the host's own.
    os.makedirs(os.path.join(stage, "usr/bin"), exist_ok=True)
    for d, target in (("sbin", "bin"), ("usr/sbin", "../bin")):
        p = os.path.join(stage, d)
        if not os.path.lexists(p):
            os.symlink(target, p)


# The userspace as users run it: the host's dynamic build, with the shared
# libraries it needs (libc, libkmod and theirs) copied beside it.
USER_BINARIES = {"vmgend": "usr/sbin", "vmgenctl": "usr/bin",
                 "vmgen-reseed": "usr/lib/vmgen"}


def _copy_with_libs(path, stage, dest_dir):
    os.makedirs(os.path.join(stage, dest_dir), exist_ok=True)
    shutil.copy2(path, os.path.join(stage, dest_dir))
    out = run(["ldd", path], capture=True, check=False) or ""
    for line in out.splitlines():
        m = re.search(r"(/\S+) \(0x", line)
        if not m:
            continue
        lib = m.group(1)
        target = os.path.join(stage, lib.lstrip("/"))
        if not os.path.exists(target):
            os.makedirs(os.path.dirname(target), exist_ok=True)
            shutil.copy2(os.path.realpath(lib), target)


def _copy_binaries(stage, dirs=("selftests/build",)):
    """Static test and helper binaries, built once for all kernels, and on
    the host's architecture the userspace with its libraries."""
    dest = os.path.join(stage, "usr/bin")
    os.makedirs(dest, exist_ok=True)
    for d in dirs:
        for path in sorted(glob.glob(os.path.join(TOP, d, "*"))):
            if os.path.isfile(path) and os.access(path, os.X_OK):
                shutil.copy2(path, dest)
    if "selftests/build" in dirs:
        for name, where in USER_BINARIES.items():
            path = os.path.join(TOP, "user/build", name)
            if os.path.exists(path):
                _copy_with_libs(path, stage, where)
        hooks = os.path.join(TOP, "hooks")
        if os.path.isdir(hooks):
            shutil.copytree(hooks, os.path.join(
                stage, "usr/share/vmgen/examples/hooks.d"), dirs_exist_ok=True)


def cpio_gz(stage, out):
    files = subprocess.run(["find", ".", "-mindepth", "1"], cwd=stage,
                           check=True, capture_output=True).stdout
    res = subprocess.run(["cpio", "-o", "-H", "newc", "-R", "0:0",
                          "--quiet"],
                         cwd=stage, input=files, capture_output=True,
                         check=True)
    with gzip.open(out, "wb", compresslevel=1) as f:
        f.write(res.stdout)


def build_initramfs(info, kos):
    dest = kernel_build_dir(info)
    stage = os.path.join(dest, "stage")
    if os.path.exists(stage):
        shutil.rmtree(stage)
    for d in ("proc", "sys", "dev", "tmp", "run", "etc", "root"):
        os.makedirs(os.path.join(stage, d))
    if info.get("arch", "amd64") == "arm64":
        from arm64 import virt
        _install_busybox(stage, virt.busybox())
        stage_kernel_modules(info, kos, stage)
        _copy_binaries(stage, [virt.guest_binaries()])
    else:
        _install_busybox(stage)
        stage_kernel_modules(info, kos, stage)
        _copy_binaries(stage)
    guest = os.path.join(TOP, "selftests/rig/guest")
    shutil.copy2(os.path.join(guest, "init"), os.path.join(stage, "init"))
    os.makedirs(os.path.join(stage, "lib/vmgen"), exist_ok=True)
    shutil.copy2(os.path.join(guest, "rig.sh"),
                 os.path.join(stage, "lib/vmgen/rig.sh"))
    # Shipped config the scenarios exercise (modprobe.d, udev rules).
    os.makedirs(os.path.join(stage, "etc/vmgen"), exist_ok=True)
    for path in glob.glob(os.path.join(TOP, "kmod/modprobe.d/*.conf")) + \
            glob.glob(os.path.join(TOP, "udev/*.rules")):
        shutil.copy2(path, os.path.join(stage, "etc/vmgen"))
    with open(os.path.join(stage, "etc/passwd"), "w") as f:
        f.write("root:x:0:0:root:/root:/bin/sh\n"
                "nobody:x:65534:65534:nobody:/:/bin/sh\n")
    with open(os.path.join(stage, "etc/group"), "w") as f:
        f.write("root:x:0:\nnogroup:x:65534:\n")
    out = os.path.join(dest, "initramfs.cpio.gz")
    cpio_gz(stage, out)
    return out


def scenario_cpio(files, out):
    """A small cpio appended to the base initramfs: the kernel unpacks
    concatenated archives in order, so these files land on top."""
    stage = out + ".d"
    if os.path.exists(stage):
        shutil.rmtree(stage)
    for name, (text, mode) in files.items():
        path = os.path.join(stage, name.lstrip("/"))
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)
    cpio_gz(stage, out)
    shutil.rmtree(stage)
