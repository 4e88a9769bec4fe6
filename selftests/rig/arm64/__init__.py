# SPDX-License-Identifier: GPL-2.0
"""arm64 guests for the vmgen rig: QEMU virt under TCG, device tree.

See virt.py and docs/rig.md ("arm64")."""
