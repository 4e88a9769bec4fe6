#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Write the fuzz targets' seed corpora and dictionaries: tests/corpus/.

    tests/gen-corpus.py [DIR]      (default: corpus/ next to this script)

The output is committed; run this again after changing it, and commit what
it wrote.  Seeds are small, meaningful inputs: uevents as vmgen's modules
send them (kmod/vmgen_vmclock.c, kmod/vmgen_vmgenid.c, in the kernel's
order: ACTION, DEVPATH, SUBSYSTEM, the module's keys, then MAJOR, MINOR,
DEVNAME and SEQNUM), state files as vmgend writes them (counters_format()),
hook environment inputs in fuzz-hookenv.c's layout, and VMClock pages as
include/uapi/vmgen/vmclock-abi.h lays them out, valid and not.
"""
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))

# ---- uevents ----

VMGENID = "/devices/virtual/misc/vmgenid"
VMCLOCK_ACPI = "/devices/platform/AMZNC10C:00/misc/vmclock0"
VMCLOCK_DT = "/devices/platform/fe000000.vmclock/misc/vmclock0"


def uevent(action, devpath, subsystem, keys, dev=None, seqnum=1000):
    env = ["ACTION=" + action, "DEVPATH=" + devpath,
           "SUBSYSTEM=" + subsystem] + keys
    if dev:
        env += ["MAJOR=10", "MINOR=%d" % dev[1], "DEVNAME=" + dev[0]]
    env.append("SEQNUM=%d" % seqnum)
    return ("%s@%s\0" % (action, devpath) + "".join(k + "\0" for k in env)
            ).encode()


UEVENTS = {
    "vmgenid-change": uevent(
        "change", VMGENID, "misc",
        ["NEW_VMGENID=1", "VMGENID_GENERATION=1",
         "VMGENID_NOTIFY_NS=5377919315"], ("vmgenid", 123), 2817),
    "vmgenid-change-max": uevent(
        "change", VMGENID, "misc",
        ["NEW_VMGENID=1", "VMGENID_GENERATION=18446744073709551615",
         "VMGENID_NOTIFY_NS=18446744073709551615"], ("vmgenid", 123),
        18446744073709551615),
    "vmclock-change-acpi": uevent(
        "change", VMCLOCK_ACPI, "misc",
        ["VMCLOCK_GENERATION=2", "VMCLOCK_DISRUPTION_MARKER=3",
         "VMCLOCK_NOTIFY_NS=8406735761"], ("vmclock0", 124), 2818),
    # a page without VM_GEN_COUNTER_PRESENT: no generation key
    "vmclock-change-dt-marker": uevent(
        "change", VMCLOCK_DT, "misc",
        ["VMCLOCK_DISRUPTION_MARKER=1", "VMCLOCK_NOTIFY_NS=0"],
        ("vmclock0", 125), 77),
    "vmclock-add": uevent("add", VMCLOCK_ACPI, "misc", [],
                          ("vmclock0", 124), 1500),
    "vmgenid-remove": uevent("remove", VMGENID, "misc", [],
                             ("vmgenid", 123), 3000),
    "net-lo": uevent("change", "/devices/virtual/net/lo", "net",
                     ["INTERFACE=lo", "IFINDEX=1"], None, 9),
    # not kernel messages, or broken ones
    "libudev": b"libudev\0\xfe\xed\xca\xfe" + struct.pack(
        "<IIIIIIII", 40, 40, 0, 0, 0, 0, 0, 0) + b"ACTION=change\0",
    "dup-key": uevent("change", VMGENID, "misc",
                      ["VMGENID_GENERATION=1", "VMGENID_GENERATION=2"],
                      ("vmgenid", 123)),
    "overflow": uevent("change", VMGENID, "misc",
                       ["VMGENID_GENERATION=18446744073709551616"],
                       ("vmgenid", 123)),
    "action-mismatch": b"change@/devices/virtual/misc/vmgenid\0ACTION=add\0"
                       b"DEVPATH=/devices/virtual/misc/vmgenid\0"
                       b"SUBSYSTEM=misc\0",
    "unterminated": uevent("change", VMCLOCK_ACPI, "misc",
                           ["VMCLOCK_GENERATION=2"], ("vmclock0", 124))[:-1],
}

UEVENT_DICT = [b"change@", b"add@", b"remove@", b"ACTION=", b"DEVPATH=",
               b"SUBSYSTEM=", b"misc", b"DEVNAME=", b"vmgenid", b"vmclock0",
               b"SEQNUM=", b"NEW_VMGENID=1", b"VMGENID_GENERATION=",
               b"VMGENID_NOTIFY_NS=", b"VMCLOCK_GENERATION=",
               b"VMCLOCK_DISRUPTION_MARKER=", b"VMCLOCK_NOTIFY_NS=",
               b"/misc/", b"libudev\0", b"18446744073709551615",
               b"18446744073709551616"]

# ---- state files ----


def state(gen=None, marker=None, vmgenid=None, pass_no=0):
    out = ""
    if gen is not None:
        out += "vmclock_generation=%d\n" % gen
    if marker is not None:
        out += "disruption_marker=%d\n" % marker
    if vmgenid is not None:
        out += "vmgenid_generation=%d\n" % vmgenid
    return (out + "pass=%d\n" % pass_no).encode()


STATES = {
    "generation-both": state(5, 6, 2, 7),
    "handled-vmclock": state(3, 3, None, 3),
    "handled-first-start": state(0, 1, 0, 0),
    "handled-marker-only": state(None, 1, None, 0),
    "handled-vmgenid-only": state(None, None, 4, 12),
    "max": state(2**64 - 1, 2**64 - 1, 2**64 - 1, 2**64 - 1),
    "empty": b"",
    "overflow": b"vmclock_generation=18446744073709551616\npass=1\n",
    "crlf": b"disruption_marker=5\r\npass=2\r\n",
    "future-key": b"vmclock_generation=1\nnew_thing=9\npass=1\n",
    "not-a-number": b"pass=one\n",
    "blank-lines": b"\npass=1\n\n\nvmgenid_generation=2\n",
}

STATE_DICT = [b"vmclock_generation=", b"disruption_marker=",
              b"vmgenid_generation=", b"pass=", b"=", b"\n",
              b"18446744073709551615", b"18446744073709551616"]

# ---- hook environments (fuzz-hookenv.c's layout) ----

DEFAULT_PATH = b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GEN, MARKER, VMGENID_BIT, GEN_FLAG = 1, 2, 4, 8


def hookenv(mode, old_have, cur_have, old, cur, notify_ns, pass_no, event,
            source, path):
    return (struct.pack("<BBB3Q3QqQ", mode, old_have, cur_have, *old, *cur,
                        notify_ns, pass_no) +
            event + b"\0" + source + b"\0" + path)


ALL = GEN | MARKER | VMGENID_BIT
HOOKENVS = {
    "restore-both": hookenv(1, ALL, ALL | GEN_FLAG, (1, 1, 0), (2, 2, 1),
                            8406735761, 3, b"restore", b"vmclock+vmgenid",
                            DEFAULT_PATH),
    "migration-vmclock": hookenv(1, GEN | MARKER | GEN_FLAG,
                                 GEN | MARKER | GEN_FLAG, (5, 7, 0),
                                 (5, 8, 0), 5377919315, 9, b"migration",
                                 b"vmclock", b"/usr/bin:/bin"),
    "unknown-poll": hookenv(0, MARKER, MARKER, (0, 1, 0), (0, 2, 0), 0, 1,
                            b"unknown", b"poll", b""),
    "vmgenid-first": hookenv(1, VMGENID_BIT, VMGENID_BIT, (0, 0, 0),
                             (0, 0, 2), -1, 1, b"restore", b"vmgenid",
                             DEFAULT_PATH),
    "max-values": hookenv(17, 0xff, 0xff, (2**64 - 1,) * 3, (2**64 - 1,) * 3,
                          -2**63, 2**64 - 1, b"restore",
                          b"vmclock+vmgenid", DEFAULT_PATH),
    "ctl-event": hookenv(1, ALL, ALL, (1, 1, 1), (2, 2, 2), 1, 1,
                         b"restore\n", b"vmclock", DEFAULT_PATH),
    "del-path": hookenv(1, ALL, ALL, (1, 1, 1), (2, 2, 2), 1, 1,
                        b"restore", b"vmclock", b"/usr/bin:\x7f"),
    "long-path": hookenv(1, ALL, ALL, (1, 1, 1), (2, 2, 2), 1, 1,
                         b"restore", b"vmclock", b"/p" * 520),
    "long-event": hookenv(1, 0, 0, (0, 0, 0), (0, 0, 0), 0, 0,
                          b"e" * 84, b"s" * 82, DEFAULT_PATH),
    "null-path": hookenv(3, ALL, ALL, (1, 1, 1), (2, 2, 2), 1, 1,
                         b"restore", b"vmclock", DEFAULT_PATH),
}

HOOKENV_DICT = [b"restore", b"migration", b"unknown", b"vmclock",
                b"vmgenid", b"vmclock+vmgenid", b"poll", b"/usr/local/sbin:",
                b"\x00", b"\x7f", b"\x1f", b"\x0a", b"\xff\xff\xff\xff"]

# ---- VMClock pages ----

MAGIC = 0x4b4c4356
F_GEN, F_NOTIFY = 1 << 8, 1 << 9


def page(length=4096, magic=MAGIC, size=None, version=1, counter_id=0xff,
         seq=2, marker=1, flags=F_GEN | F_NOTIFY, gen=1, time_sec=0):
    hdr = struct.pack("<IIHBBIQQ", magic, length if size is None else size,
                      version, counter_id, 0, seq, marker, flags)
    body = bytearray(max(length, 0x70))
    body[:len(hdr)] = hdr
    struct.pack_into("<Q", body, 0x48, time_sec)
    struct.pack_into("<Q", body, 0x68, gen)
    return bytes(body[:length])


PAGES = {
    # fakedev vmclock-init, then a restore
    "fakedev-4k": page(4096, gen=1, marker=1, seq=2),
    "abi-0x70": page(0x70, size=0x70, gen=7, marker=9, seq=4),
    # QEMU's vmclock: no generation counter, no notifications
    "qemu-like": page(0x68, size=0x68, counter_id=1, flags=0, marker=1,
                      time_sec=1767225600),
    "gen-beyond-size": page(0x70, size=0x68, gen=5),
    "min-len": page(0x20, size=0x20),
    "too-short": page(0x1f),
    "bad-magic": page(0x70, magic=0x12345678),
    "version-2": page(0x70, version=2),
    "size-too-small": page(0x70, size=0x10),
    "seq-odd": page(0x70, seq=3),
    "flags-all": page(0x70, flags=0xffffffffffffffff, gen=2**64 - 1,
                      marker=2**64 - 1, seq=0xfffffffe),
}

VMCLOCK_DICT = [struct.pack("<I", MAGIC), struct.pack("<I", 0x70),
                struct.pack("<I", 0x68), struct.pack("<I", 4096),
                struct.pack("<H", 1), struct.pack("<Q", F_GEN | F_NOTIFY),
                struct.pack("<I", 1), b"\xff" * 8]


def write_dict(path, entries):
    with open(path, "w") as f:
        f.write("# generated by tests/gen-corpus.py\n")
        for i, e in enumerate(entries):
            f.write('kw%d="%s"\n' % (i, "".join(
                chr(b) if 0x20 <= b < 0x7f and b not in b'"\\'
                else "\\x%02x" % b for b in e)))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    for name, seeds, words in (("uevent", UEVENTS, UEVENT_DICT),
                               ("state", STATES, STATE_DICT),
                               ("hookenv", HOOKENVS, HOOKENV_DICT),
                               ("vmclock", PAGES, VMCLOCK_DICT)):
        d = os.path.join(out, name)
        if os.path.isdir(d):
            shutil.rmtree(d)
        os.makedirs(d)
        for seed, data in seeds.items():
            with open(os.path.join(d, seed), "wb") as f:
                f.write(data)
        write_dict(os.path.join(out, name + ".dict"), words)


if __name__ == "__main__":
    main()
