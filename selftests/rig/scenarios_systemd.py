# SPDX-License-Identifier: GPL-2.0
"""The systemd guest as a scenario of the matrix (6.12 leg).

Not a busybox initramfs like the others: vmgen's Debian packages are
installed with dpkg in a Debian bookworm image whose own 6.12 cloud kernel
(bookworm-backports) DKMS builds the modules for, booted by systemd, then
snapshotted into one clone (selftests/rig/systemd_guest.py; docs/rig.md,
"The systemd guest"). run.py calls run() instead of booting a script.
Alone: make check-systemd, or make check KERNELS=6.12
SCENARIOS=systemd-guest.
"""
from scenarios import Scenario


class SystemdGuest(Scenario):
    def run(self, info):
        import systemd_guest
        return systemd_guest.run_all("%s/%s" % (info["series"], self.name),
                                     timeout=self.timeout)


SCENARIOS = [
    SystemdGuest("systemd-guest", ["emu-both"], "", kernels=("6.12",),
                 clones=1, timeout=600),
]
