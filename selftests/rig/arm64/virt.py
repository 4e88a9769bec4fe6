# SPDX-License-Identifier: GPL-2.0
"""arm64 guests: QEMU's virt machine under TCG, booted with a device tree.

The machine's own DTB (dumped with -machine dumpdtb) gets three overlays:
the rig's virt-spare-uart.dtso (disables the second PL011, whose interrupt
line carries the host's notifications) and the nodes of dts/ (VMClock,
VMGenID or both, exactly the files a VMM author reads). Guest RAM is a
shared file as on x86; virt's RAM starts at 0x40000000, so a guest physical
address A is at file offset A - 0x40000000. The DT nodes sit at
0x4f000000 / 0x4f001000, i.e. file offsets 0x0f000000 / 0x0f001000: the
same numbers the x86 rig uses as addresses, so selftests/emu/vmgen-emu and
guest.Emulator work unchanged (their --vmclock-gpa is a file offset).

Everything here is used through a few hooks in kernels.py, build.py,
guest.py and run.py; see docs/rig.md, "arm64".
"""
import os
import subprocess

import guest as guest_mod
import kernels
from rigcommon import CACHE, TOP, log, run

QEMU = "qemu-system-aarch64"
CROSS = "aarch64-linux-gnu-"
MACHINE = "virt,gic-version=3"
# "max" with the cheap pointer-authentication algorithm: every v8.x
# feature, about as fast under TCG as cortex-a57.
CPU = "max,pauth-impdef=on"
RAM_BASE = 0x40000000
# QEMU virt's second non-secure UART: created when a second -serial is
# given, at this address with this SPI (checked against the dumped DTB).
UART1_NODE = "/pl011@9040000"
UART1_SPI = 8

HERE = os.path.dirname(os.path.abspath(__file__))
DTS = os.path.join(TOP, "dts")
OUT = os.path.join(TOP, "build", "arm64")
BIN = os.path.join(OUT, "bin")
# dtc cannot know an overlay's target: these checks only misfire on them.
OVERLAY_WARNINGS_OFF = ["-Wno-reg_format", "-Wno-ranges_format",
                        "-Wno-avoid_default_addr_size",
                        "-Wno-interrupts_property"]
# Which overlays each emulated-device set gets (guest.py device names).
DT_KINDS = {
    "none": [],
    "vclk": ["vmgen-vmclock"],
    "vgen": ["vmgen-vmgenid"],
    "both": ["vmgen"],
}
DEVICE_KIND = {"emu-vmclock": "vclk", "emu-vmgenid": "vgen",
               "emu-both": "both"}

_done = {}


def _once(key, fn):
    if key not in _done:
        _done[key] = fn()
    return _done[key]


# -- guest userspace --

def busybox():
    """Debian's busybox-static for arm64, unpacked in the cache."""
    def fetch():
        dest = os.path.join(CACHE, "arm64", "busybox")
        bb = os.path.join(dest, "root", "bin", "busybox")
        if os.path.exists(bb):
            return bb
        kernels.apt_update(arch="arm64")
        debs = os.path.join(dest, "debs")
        os.makedirs(debs, exist_ok=True)
        run(["apt-get"] + kernels.apt_opts("arm64") +
            ["-q", "download", "busybox-static"], cwd=debs, quiet=True)
        for deb in os.listdir(debs):
            run(["dpkg-deb", "-x", os.path.join(debs, deb),
                 os.path.join(dest, "root")])
        return bb
    return _once("busybox", fetch)


def guest_binaries():
    """Cross-builds the static guest programs into build/arm64/bin: the
    same selftests the x86 guests carry, plus rig_uartirq."""
    def build():
        os.makedirs(BIN, exist_ok=True)
        rel = os.path.relpath(BIN, os.path.join(TOP, "selftests"))
        # Named targets only: "all" would cross-build the host emulator.
        run(["make", "-s", "-C", os.path.join(TOP, "selftests"),
             "CC=" + CROSS + "gcc", "OUT=" + rel,
             os.path.join(rel, "rig_selftest"), os.path.join(rel, "rigctl"),
             "subdirs"], quiet=True)
        run([CROSS + "gcc", "-static", "-O2", "-g", "-Wall", "-Wextra",
             "-std=gnu11", "-o", os.path.join(BIN, "rig_uartirq"),
             os.path.join(HERE, "rig_uartirq.c")], quiet=True)
        log("arm64 guest binaries: %s" % " ".join(sorted(os.listdir(BIN))))
        return BIN
    return _once("binaries", build)


# -- device trees --

def _dtc(args, what):
    res = subprocess.run(["dtc"] + args, capture_output=True, text=True)
    if res.returncode or res.stderr.strip():
        raise RuntimeError("dtc %s: %s" % (what, res.stderr.strip()))


def _machine_args():
    return ["-M", MACHINE, "-accel", "tcg", "-cpu", CPU,
            "-m", str(guest_mod.RAM_MB), "-smp", "1"]


def _reg(dtb, node):
    cells = [int(x) for x in run(["fdtget", "-t", "u", dtb, node, "reg"],
                                 capture=True).split()]
    return (cells[0] << 32) | cells[1]


def build_dtbs():
    """DTBs for every device set: {"none"|"vclk"|"vgen"|"both": path}."""
    def build():
        out = os.path.join(OUT, "dtb")
        os.makedirs(out, exist_ok=True)
        base = os.path.join(out, "virt.dtb")
        # Same machine, CPU, memory and UART count as the guests.
        args = _machine_args()
        args[1] += ",dumpdtb=" + base
        run([QEMU] + args + ["-display", "none", "-nodefaults",
                             "-serial", "null", "-serial", "null"],
            quiet=True)
        spi = run(["fdtget", "-t", "u", base, UART1_NODE, "interrupts"],
                  capture=True).split()
        if spi[:2] != ["0", str(UART1_SPI)]:
            raise RuntimeError("%s: expected SPI %d, DTB says %s"
                               % (UART1_NODE, UART1_SPI, spi))
        overlays = {}
        for name, src in (
                ("spare-uart", os.path.join(HERE, "virt-spare-uart.dtso")),
                ("vmgen", os.path.join(DTS, "vmgen.dtso")),
                ("vmgen-vmclock", None), ("vmgen-vmgenid", None)):
            if src is None:
                # One device alone: the same .dtsi in an overlay of its own.
                src = os.path.join(out, name + ".dtso")
                with open(src, "w") as f:
                    f.write('/dts-v1/;\n/plugin/;\n\n&{/} {\n'
                            '/include/ "%s.dtsi"\n};\n' % name)
            overlays[name] = os.path.join(out, name + ".dtbo")
            _dtc(["-@", "-I", "dts", "-O", "dtb", "-i", DTS] +
                 OVERLAY_WARNINGS_OFF + ["-o", overlays[name], src], src)
        # The whole example tree must compile too.
        _dtc(["-I", "dts", "-O", "dtb", "-i", DTS, "-o",
              os.path.join(out, "vmgen-example.dtb"),
              os.path.join(DTS, "vmgen-example.dts")], "vmgen-example.dts")
        dtbs = {}
        for kind, names in DT_KINDS.items():
            dtbs[kind] = os.path.join(out, kind + ".dtb")
            run(["fdtoverlay", "-i", base, "-o", dtbs[kind],
                 overlays["spare-uart"]] + [overlays[n] for n in names])
        # The nodes must sit where the emulator writes (file offsets).
        for node, offset in (("/vmclock@4f000000", guest_mod.VMCLOCK_GPA),
                             ("/vmgenid@4f001000", guest_mod.VMGENID_GPA)):
            addr = _reg(dtbs["both"], node)
            if addr - RAM_BASE != offset:
                raise RuntimeError("%s at 0x%x, the emulator writes file "
                                   "offset 0x%x" % (node, addr, offset))
        return dtbs
    return _once("dtbs", build)


# -- the guest's command line --

def qemu_args(g):
    """QEMU arguments for guest.Guest g on arm64."""
    unsupported = [d for d in g.devices if d not in DEVICE_KIND]
    if unsupported:
        raise RuntimeError("arm64 virt has no %s" % ", ".join(unsupported))
    append = ["console=ttyAMA0", "panic_on_warn=1", "oops=panic",
              "panic=-1", "softlockup_panic=1", "hung_task_panic=1",
              "rdinit=/init"]
    machine = MACHINE
    args = [QEMU, "-accel", "tcg", "-m", str(guest_mod.RAM_MB), "-smp", "1",
            "-cpu", CPU, "-display", "none", "-no-reboot", "-nodefaults",
            "-serial", "stdio", "-monitor", "none",
            "-kernel", g.kernel["vmlinuz"], "-initrd", g.initrd,
            "-chardev", "socket,id=ctl,path=%s,server=on,wait=on"
            % g.ctl_path,
            "-device", "virtio-serial-pci",
            "-device", "virtserialport,chardev=ctl,name=vmgen.ctl",
            "-qmp", "unix:%s,server=on,wait=off" % g.qmp_path]
    kind = "none"
    if g.emulated:
        machine += ",memory-backend=ram0"
        args += ["-object", "memory-backend-file,id=ram0,size=%dM,"
                 "mem-path=%s,share=on" % (guest_mod.RAM_MB, g.ram_path)]
        kind = [DEVICE_KIND[d] for d in g.devices][0]
        # The second -serial is virt's UART1: the notification line.
        args += ["-chardev", "socket,id=ev,path=%s,server=on,wait=off"
                 % g.uart_path, "-serial", "chardev:ev"]
    else:
        args += ["-serial", "null"]
    args += ["-dtb", g.kernel["dtbs"][kind]]
    args = args[:1] + ["-M", machine] + args[1:]
    if g.append_extra:
        append.append(g.append_extra)
    args += ["-append", " ".join(append)]
    if g.incoming:
        args += ["-S", "-incoming", "file:" + g.incoming]
    return args
