# SPDX-License-Identifier: GPL-2.0
"""One QEMU guest under the rig: devices, console, control port, QMP."""
import json
import os
import queue
import re
import socket
import subprocess
import threading
import time

from rigcommon import TOP, log

EMU = os.path.join(TOP, "selftests/emu/vmgen-emu")
VMCLOCK_GPA = 0x0F000000
VMGENID_GPA = 0x0F001000
RAM_MB = 512

# What the kernel log must never show (LKRG-style gate).
BAD_PATTERNS = re.compile(
    r"BUG:|WARNING:|Oops|Call Trace|Kernel panic|UBSAN:|KASAN:|"
    r"general protection fault|Unable to handle kernel|"
    r"possible circular locking|possible recursive locking|"
    r"inconsistent lock state|suspicious RCU usage|"
    r"INFO: task .* blocked for more than|"
    r"kmemleak: \d+ new suspected memory leaks")
# Taint bits allowed: O (out-of-tree, 4096) and E (unsigned, 8192).
ALLOWED_TAINT = 4096 | 8192


class Qmp:
    def __init__(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock = socket.socket(socket.AF_UNIX)
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.file = self.sock.makefile("rw")
        self._read()                      # greeting
        self.execute("qmp_capabilities")

    def _read(self):
        line = self.file.readline()
        if not line:
            raise RuntimeError("QMP connection closed")
        return json.loads(line)

    def execute(self, cmd, **args):
        msg = {"execute": cmd}
        if args:
            msg["arguments"] = args
        self.file.write(json.dumps(msg) + "\n")
        self.file.flush()
        while True:
            resp = self._read()
            if "return" in resp:
                return resp["return"]
            if "error" in resp:
                raise RuntimeError("QMP %s: %s" % (cmd, resp["error"]))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Emulator:
    """The host-side device emulator for one guest's RAM file."""

    def __init__(self, ram, uart):
        self.ram, self.uart = ram, uart
        self.proc = None
        self.lock = threading.Lock()

    def base_args(self):
        return [EMU, "--ram", self.ram, "--ram-size", str(RAM_MB << 20),
                "--vmclock-gpa", hex(VMCLOCK_GPA),
                "--vmgenid-gpa", hex(VMGENID_GPA), "--uart", self.uart]

    def oneshot(self, *cmds):
        args = self.base_args()
        for c in cmds:
            args += ["-c", c]
        out = subprocess.run(args, capture_output=True, text=True,
                             check=False)
        if out.returncode != 0 or "err" in out.stdout.split():
            raise RuntimeError("vmgen-emu %s: %s%s" % (cmds, out.stdout,
                                                         out.stderr))
        return out.stdout.strip()

    def command(self, line):
        with self.lock:
            if self.proc is None:
                self.proc = subprocess.Popen(self.base_args(),
                                             stdin=subprocess.PIPE,
                                             stdout=subprocess.PIPE,
                                             text=True, bufsize=1)
            self.proc.stdin.write(line.strip() + "\n")
            self.proc.stdin.flush()
            reply = self.proc.stdout.readline()
            return reply.strip() or "err emulator exited"

    def close(self):
        if self.proc:
            self.proc.stdin.close()
            self.proc.wait(timeout=10)
            self.proc = None


class Guest:
    """A QEMU q35 guest. devices: names from DEVICES in scenarios.py."""

    def __init__(self, workdir, name, kernel, initrd, devices, append="",
                 timeout=300, events=None, incoming=None, disk=None):
        self.workdir, self.name, self.kernel = workdir, name, kernel
        # disk: a raw image on virtio-blk (the systemd guest's root file
        # system, selftests/rig/systemd_guest.py); clones share it.
        self.disk = disk
        self.initrd, self.devices = initrd, devices
        self.append_extra, self.timeout = append, timeout
        self.incoming = incoming
        self.events = events if events is not None else queue.Queue()
        os.makedirs(workdir, exist_ok=True)
        self.console_path = os.path.join(workdir, name + ".console")
        self.ctl_path = os.path.join(workdir, name + ".ctl")
        self.qmp_path = os.path.join(workdir, name + ".qmp")
        self.uart_path = os.path.join(workdir, name + ".uart")
        self.ram_path = os.path.join(workdir, name + ".ram")
        self.console = []
        self.emu = None
        if self.emulated:
            self.emu = Emulator(self.ram_path, self.uart_path)
        self.proc = None
        self.qmp = None
        self.ctl = None
        self.ctl_lock = threading.Lock()
        self.snapshotted = False
        self.timed_out = False

    @property
    def emulated(self):
        return any(d.startswith("emu-") for d in self.devices)

    def qemu_args(self):
        if self.kernel.get("arch") == "arm64":
            from arm64 import virt      # QEMU virt with a device tree
            return virt.qemu_args(self)
        append = ["console=ttyS0", "panic_on_warn=1", "oops=panic",
                  "panic=-1", "softlockup_panic=1", "hung_task_panic=1",
                  "rdinit=/init", "no_timer_check"]
        args = ["qemu-system-x86_64", "-accel", "tcg", "-m", str(RAM_MB),
                "-smp", "1", "-cpu", "max", "-display", "none", "-no-reboot",
                "-nodefaults", "-serial", "stdio", "-monitor", "none",
                "-kernel", self.kernel["vmlinuz"], "-initrd", self.initrd,
                "-chardev", "socket,id=ctl,path=%s,server=on,wait=on"
                % self.ctl_path,
                "-device", "virtio-serial-pci",
                "-device", "virtserialport,chardev=ctl,name=vmgen.ctl",
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        machine = "q35"
        if self.emulated:
            machine += ",memory-backend=ram0"
            args += ["-object", "memory-backend-file,id=ram0,size=%dM,"
                     "mem-path=%s,share=on" % (RAM_MB, self.ram_path)]
            aml = {"emu-vmclock": "vclk", "emu-vmgenid": "vgen",
                   "emu-both": "both"}
            kind = [aml[d] for d in self.devices if d in aml][0]
            args += ["-acpitable", "file=%s" % os.path.join(
                self.kernel["amldir"], kind + ".aml")]
            args += ["-chardev", "socket,id=ev,path=%s,server=on,wait=off"
                     % self.uart_path,
                     "-device", "isa-serial,chardev=ev,iobase=0x2a0,irq=3"]
            append += ["memmap=8K$0x%x" % VMCLOCK_GPA, "pnpacpi=off",
                       "8250.nr_uarts=1"]
        if self.disk:
            args += ["-drive", "file=%s,if=virtio,format=raw" % self.disk]
        if "qemu-vmgenid" in self.devices:
            args += ["-device", "vmgenid,guid=auto,id=vmgenid0"]
        if "qemu-vmclock" in self.devices:
            args += ["-device", "vmclock"]
        args = args[:3] + ["-M", machine] + args[3:]
        if self.append_extra:
            append.append(self.append_extra)
        args += ["-append", " ".join(append)]
        if self.incoming:
            args += ["-S", "-incoming", "file:" + self.incoming]
        return args

    def start(self):
        for p in (self.ctl_path, self.qmp_path, self.uart_path):
            if os.path.exists(p):
                os.unlink(p)
        if self.emulated and not self.incoming:
            if os.path.exists(self.ram_path):
                os.unlink(self.ram_path)
            self.emu.oneshot(*self.initial_page_cmds)
        self.console_file = open(self.console_path, "w")
        self.start_time = time.monotonic()
        self.proc = subprocess.Popen(
            self.qemu_args(), stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.ctl = self._connect(self.ctl_path)
        self.qmp = Qmp(self.qmp_path)
        threading.Thread(target=self._console_reader, daemon=True).start()
        threading.Thread(target=self._ctl_reader, daemon=True).start()
        threading.Thread(target=self._watchdog, daemon=True).start()

    initial_page_cmds = ["vmclock-init", "vmgenid-set id=random notify=0"]

    def _connect(self, path, timeout=30):
        deadline = time.monotonic() + timeout
        while True:
            s = socket.socket(socket.AF_UNIX)
            try:
                s.connect(path)
                return s
            except OSError:
                s.close()
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    raise RuntimeError("%s: cannot connect to %s"
                                       % (self.name, path))
                time.sleep(0.02)

    def _console_reader(self):
        for raw in iter(self.proc.stdout.readline, b""):
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self.console.append(line)
            self.console_file.write(line + "\n")
            self.console_file.flush()
        self.proc.wait()
        self.console_file.close()
        self.events.put(("exit", self))

    def _watchdog(self):
        while self.proc.poll() is None:
            if time.monotonic() - self.start_time > self.timeout:
                self.timed_out = True
                log("%s: hard timeout after %ds, killing" % (self.name,
                                                            self.timeout))
                self.proc.kill()
                return
            time.sleep(0.5)

    def reply(self, req_id, text):
        with self.ctl_lock:
            try:
                self.ctl.sendall(("%s %s\n" % (req_id, text)).encode())
            except OSError:
                pass

    def _ctl_reader(self):
        buf = b""
        while True:
            try:
                data = self.ctl.recv(4096)
            except OSError:
                return
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                self._handle(line.decode("utf-8", "replace").strip())

    def _handle(self, line):
        words = line.split()
        if len(words) < 2:
            return
        req_id, target, rest = words[0], words[1], words[2:]
        if target == "ping":
            self.reply(req_id, "ok")
        elif target == "emu":
            if not self.emu:
                self.reply(req_id, "err this guest has no emulated devices")
            else:
                self.reply(req_id, self.emu.command(" ".join(rest)))
        elif target == "snapshot":
            try:
                n = int(rest[0]) if rest else 1
            except ValueError:
                n = 0
            if not 1 <= n <= 8:
                self.reply(req_id, "err snapshot wants 1..8 clones")
            else:
                self.events.put(("snapshot", self, req_id, n))
        else:
            self.reply(req_id, "err unknown request %r" % target)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.qmp:
            self.qmp.close()
        if self.emu:
            self.emu.close()
        for p in (self.ram_path,):
            if os.path.exists(p):
                os.unlink(p)

    # -- snapshot / restore, as a hypervisor does it --

    def save_snapshot(self, path):
        """Migrate to a file and stop this guest."""
        self.qmp.execute("migrate", uri="file:" + path)
        while True:
            st = self.qmp.execute("query-migrate").get("status")
            if st == "completed":
                break
            if st in ("failed", "cancelled"):
                raise RuntimeError("%s: migration %s" % (self.name, st))
            time.sleep(0.1)
        self.snapshotted = True
        self.qmp.execute("quit")

    def resume_clone(self, req_id, index, count):
        """Called on a clone started with incoming: bump the emulated
        devices while paused, answer the guest, then let it run."""
        while self.qmp.execute("query-status")["status"] != "paused":
            if self.proc.poll() is not None:
                raise RuntimeError("%s: died during incoming migration"
                                   % self.name)
            time.sleep(0.05)
        if self.emulated:
            if any(d in self.devices for d in ("emu-vmclock", "emu-both")):
                self.emu.command("vmclock-event notify=1")
            if any(d in self.devices for d in ("emu-vmgenid", "emu-both")):
                self.emu.command("vmgenid-set id=random notify=1")
        self.reply(req_id, "ok clone=%d clones=%d" % (index, count))
        self.qmp.execute("cont")

    # -- verdict --

    def open_group(self):
        """The test group still running when the console ended (a clone
        carries on with the group its source was in at the snapshot)."""
        group = None
        for line in self.console:
            m = re.search(r"@@vmgen-(test|exit) (\S+)", line)
            if m:
                group = m.group(2) if m.group(1) == "test" else None
        return group

    def results(self, prefix, start_group=None):
        """TAP results from the console, plus one result for the boot."""
        out = []
        group = start_group
        seen_in_group = 0
        done = None
        tainted = None
        for line in self.console:
            m = re.search(r"@@vmgen-test (\S+)", line)
            if m:
                group, seen_in_group = m.group(1), 0
                continue
            m = re.search(r"@@vmgen-exit (\S+) (\d+)", line)
            if m:
                rc = int(m.group(2))
                if rc not in (0, 4) or (seen_in_group == 0 and rc != 4):
                    out.append(("%s/%s" % (prefix, m.group(1)), "fail",
                                "exit status %d" % rc))
                elif seen_in_group == 0:
                    out.append(("%s/%s" % (prefix, m.group(1)), "skip",
                                "whole program skipped"))
                group = None
                continue
            m = re.search(r"@@vmgen-tainted (\d+)", line)
            if m:
                tainted = int(m.group(1))
            m = re.search(r"@@vmgen-done rc=(\d+)", line)
            if m:
                done = int(m.group(1))
            m = re.match(r"\s*(not ok|ok) \d+ (.*)$", line)
            if m and group:
                seen_in_group += 1
                desc = m.group(2)
                name = "%s/%s/%s" % (prefix, group,
                                     desc.split(" # ")[0].strip())
                if m.group(1) == "not ok":
                    out.append((name, "fail", ""))
                elif re.search(r"#\s*SKIP", desc, re.I):
                    out.append((name, "skip",
                                desc.split("SKIP", 1)[1].strip()))
                else:
                    out.append((name, "pass", ""))
        problems = []
        bad = [line for line in self.console if BAD_PATTERNS.search(line)]
        if bad:
            problems.append("kernel log: " + bad[0].strip())
        if self.timed_out:
            problems.append("hung: hard timeout %ds" % self.timeout)
        if not self.snapshotted:
            if done is None:
                problems.append("no completion sentinel (crash or panic?)")
            if tainted is not None and tainted & ~ALLOWED_TAINT:
                problems.append("taint %d beyond O/E" % tainted)
        out.append(("%s/boot-clean" % prefix,
                    "fail" if problems else "pass", "; ".join(problems)))
        return out
