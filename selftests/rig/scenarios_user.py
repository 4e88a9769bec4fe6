# SPDX-License-Identifier: GPL-2.0
"""Rig scenarios for user (see scenarios.py for the Scenario fields)."""
from scenarios import ALL, LOAD_VMCLOCK, Scenario  # noqa: F401

SCENARIOS = []
