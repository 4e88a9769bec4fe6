# SPDX-License-Identifier: GPL-2.0
"""Shared helpers for the vmgen QEMU test rig."""
import os
import subprocess
import sys
import time

# Downloads, kernels and chroots live outside the tree so clean clones reuse
# them; override with VMGEN_CACHE.
CACHE = os.environ.get("VMGEN_CACHE", "/var/cache/vmgen")
TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_T0 = time.monotonic()


def log(msg):
    sys.stderr.write("[rig %6.1fs] %s\n" % (time.monotonic() - _T0, msg))
    sys.stderr.flush()


def run(cmd, cwd=None, capture=False, quiet=False, env=None, check=True):
    """Run a command; on failure show its output and raise."""
    res = subprocess.run(cmd, cwd=cwd, env=env, text=True,
                         stdout=subprocess.PIPE if (capture or quiet) else None,
                         stderr=subprocess.STDOUT if quiet else None)
    if check and res.returncode != 0:
        if quiet and res.stdout:
            sys.stderr.write(res.stdout[-4000:])
        raise RuntimeError("command failed (%d): %s" % (res.returncode,
                                                        " ".join(cmd)))
    return res.stdout if capture else res.returncode
