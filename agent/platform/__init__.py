"""The agent's view of the operating system: one interface, one module per platform.

Callers use `get_platform()`; platform quirks stay in `_linux.py` and `_windows.py`.
"""

from __future__ import annotations

import sys

from agent.platform._common import (
    Clocks,
    CpuTimes,
    HostFacts,
    Platform,
    RaplDomain,
    SleepBlocker,
    lan_interfaces,
)

__all__ = [
    "Clocks",
    "CpuTimes",
    "HostFacts",
    "Platform",
    "RaplDomain",
    "SleepBlocker",
    "get_platform",
    "lan_interfaces",
]


def get_platform() -> Platform:
    if sys.platform.startswith("linux"):
        from agent.platform._linux import LinuxPlatform

        return LinuxPlatform()
    if sys.platform == "win32":
        from agent.platform._windows import WindowsPlatform

        return WindowsPlatform()
    raise RuntimeError(f"unsupported platform: {sys.platform}")
