"""InfluxDB line protocol pieces shared by every source that writes to the time-series sink."""

from __future__ import annotations

_ESC = str.maketrans({",": r"\,", " ": r"\ ", "=": r"\="})


def tag(v: str) -> str:
    """A tag value, escaped; never empty (the protocol has no empty tags): `none`."""
    return (v or "none").translate(_ESC)
