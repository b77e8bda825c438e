"""Settings of the time-series sink (InfluxDB v2 write API)."""

from __future__ import annotations

from dataclasses import dataclass

from energy_common.configspec import opt


@dataclass
class TsdbConfig:
    enabled: bool = opt(
        False,
        "Write time series through the InfluxDB v2 write API "
        "(InfluxDB 2/3; VictoriaMetrics accepts it too).",
    )
    url: str = opt("http://127.0.0.1:8086", "Base URL (InfluxDB) or VictoriaMetrics' address.")
    token: str | None = opt(None, "API token (prefer token_file).", secret=True)
    token_file: str | None = opt(None, "File holding the API token.")
    org: str = opt("energy", "Organisation.")
    bucket: str = opt("energy", "Bucket.")
    batch_size: int = opt(5000, "Points per write.", minimum=1)
    flush_interval_s: float = opt(1.0, "Longest time a point waits before a write.", minimum=0.05)
    timeout_s: float = opt(10.0, "Write timeout.", minimum=0.5)
    buffer_max_bytes: int = opt(
        256 * 1024 * 1024,
        "On-disk buffer for points the TSDB did not take; oldest dropped (counted) past this.",
        minimum=1024 * 1024,
    )
