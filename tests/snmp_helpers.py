"""Shared by the SNMP tests: snmpsim serving some of the recordings in
tests/fixtures/snmprec (apc-rpdu2 always: SnmpSim asks for it to know the agent is up)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from services import SnmpSim

FIX = Path(__file__).parent / "fixtures/snmprec"


def serve(tmp_path_factory: Any, names: tuple[str, ...]) -> Iterator[SnmpSim]:
    files = [FIX / f"{n}.snmprec" for n in dict.fromkeys((*names, "apc-rpdu2"))]
    s = SnmpSim(tmp_path_factory.mktemp("snmpsim"), files).start()
    s.started = time.time()  # type: ignore[attr-defined]
    yield s
    s.stop()


def device(sim: Any, name: str, community: str, **kw: Any) -> dict[str, Any]:
    """A `snmp.devices[]` entry for a recording served by `sim` (datacenter dc1)."""
    return {
        "name": name,
        "host": "127.0.0.1",
        "port": sim.port,
        "community": community,
        "datacenter": "dc1",
        "timeout_s": 2,
        "retries": 0,
        **kw,
    }
