"""Settings of the agents' reports: validation bounds and the bounds on label values taken
from reports."""

from __future__ import annotations

from dataclasses import dataclass

from collector.mqttsettings import MqttIngestConfig
from energy_common.configspec import opt


@dataclass
class AgentsMqttConfig(MqttIngestConfig):
    """The agents' reports: every report stays on its agent until a collector acknowledges
    it, so the broker's session only saves resends, while a dead member of a shared group
    keeps being handed its share (Mosquitto 2.0 round-robins over offline sessions too)
    until its session expires."""

    session_expiry_s: int = opt(
        30,
        "How long the broker keeps this collector's session (and queues reports for it) while "
        "it is away. Short on purpose: a restart within it finds its queue; a collector gone "
        "for good stops being handed its share of the shared group this long after the "
        "broker sees it gone (at once for a killed process, 1.5 × keepalive_s for a lost "
        "host), and the agents resend what it never acknowledged to the others "
        "(docs/collector.md, measured in tests/test_delivery.py).",
        minimum=0,
    )


@dataclass
class ValidationConfig:
    clock_skew_s: float = opt(
        300.0, "Reports ending further than this in the future are rejected.", minimum=0
    )
    max_span_days: float = opt(400.0, "Longest time one report may cover.", minimum=1)
    min_time: str = opt(
        "2020-01-01T00:00:00Z",
        "Reports with a time before this (a PC whose clock was reset) are rejected (`past`).",
    )
    max_power_w: float = opt(
        5000.0,
        "Mean power of one host above this, measured or modelled, is absurd (`value`).",
        minimum=1,
    )
    duplicate_identity_min_s: float = opt(
        3600.0,
        "An agent id whose reports overlapped another timeline of the same id (a cloned "
        "image) for this long in all is flagged as a duplicated identity (each second is "
        "counted once regardless). Shorter: a reinstall re-reporting its last minutes.",
        minimum=0,
    )


@dataclass
class LabelsConfig:
    sites: list[str] = opt(
        [],
        "Site label values expected on /metrics (compliance.sites are added). Other values "
        "from reports take free places up to max_values, then fold into `other`.",
    )
    departments: list[str] = opt(
        [], "Department label values expected on /metrics (compliance.departments are added)."
    )
    max_values: int = opt(
        100,
        "Most distinct values per label (site, department, LoRaWAN device and gateway) "
        "before the rest fold into `other`: reports cannot grow /metrics without bound.",
        minimum=1,
    )
    max_blocker_apps: int = opt(
        30, "Most distinct sleep-blocker application names on /metrics; then `other`.", minimum=1
    )
