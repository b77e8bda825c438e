"""The agent's configuration: every option, its default and its meaning.

Defaults work with no file at all (reports printed to stdout, state in ~/.local/state or the
systemd StateDirectory). docs/agent-config.md is generated from these declarations.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from agent.windirs import agent_dir
from energy_common.configspec import ConfigError, check_url, load_file, merge, opt, section
from energy_common.schema import KINDS
from energy_common.tls import TlsConfig

__all__ = ["AgentConfig", "ConfigError", "load_config"]


def _default_state_dir() -> str:
    # systemd's StateDirectory= sets STATE_DIRECTORY; otherwise a per-user location.
    env = os.environ.get("STATE_DIRECTORY")
    if env:
        return env.split(":")[0]
    if os.name == "nt":
        return agent_dir()
    base = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return os.path.join(base, "energy-agent")


@dataclass
class MqttConfig:
    host: str = opt("localhost", "Broker host name or address.")
    port: int = opt(1883, "Broker port (8883 is usual with TLS).", minimum=1, maximum=65535)
    username: str | None = opt(
        None, "User name; `{agent_id}` is replaced by the agent id (for an ACL on %u)."
    )
    password: str | None = opt(None, "Password (prefer password_file).", secret=True)
    password_file: str | None = opt(None, "File holding the password (first line).")
    client_id: str | None = opt(None, "MQTT client id; default `energy-agent-<agent_id>`.")
    keepalive_s: int = opt(60, "MQTT keepalive in seconds.", minimum=5, maximum=3600)
    topic_prefix: str = opt("energy/v1/agents", "Topics are `<prefix>/<agent_id>/report|status`.")
    reconnect_max_s: float = opt(
        120.0, "Longest wait between reconnection attempts (backoff from 1 s).", minimum=1
    )
    max_inflight: int = opt(
        20,
        "Reports sent and not yet acknowledged by the collector at once.",
        minimum=1,
        maximum=1000,
    )
    ack_timeout_s: float = opt(
        60.0,
        "A report the collector has not acknowledged (on `<prefix>/<agent_id>/ack`) this "
        "long after the broker took it is sent again; the wait doubles per attempt up to "
        "ack_timeout_max_s. Resends are harmless: the collector counts each report once.",
        minimum=0.1,
    )
    ack_timeout_max_s: float = opt(
        900.0, "Longest wait for the collector's acknowledgement before a resend.", minimum=1
    )
    enrolment_secret_file: str | None = opt(
        None,
        "File holding the site enrolment secret: on first start the agent trades it (at "
        "enrolment_url) for MQTT credentials of its own, scoped to its topics, kept in "
        "`<state_dir>/credentials.json` (0600). Takes precedence over username/password.",
    )
    enrolment_url: str | None = opt(
        None, "The collector's enrolment endpoint, e.g. https://collector:8750/api/v1/enrol."
    )
    tls: TlsConfig = section(TlsConfig, "TLS for the broker connection.")


@dataclass
class HttpConfig:
    url: str = opt(
        "http://127.0.0.1:8750/api/v1/reports", "Collector endpoint reports are POSTed to."
    )
    token: str | None = opt(None, "Bearer token (prefer token_file).", secret=True)
    token_file: str | None = opt(None, "File holding the bearer token (first line).")
    timeout_s: float = opt(10.0, "Request timeout in seconds.", minimum=0.5, maximum=300)
    ca_file: str | None = opt(None, "CA bundle for https:// URLs (system store if unset).")
    insecure: bool = opt(False, "Skip certificate verification (testing only).")
    enrolment_secret_file: str | None = opt(
        None,
        "File holding the site enrolment secret (the installer drops it): on first start the "
        "agent trades it for a token of its own, kept in `<state_dir>/credentials.json` (0600), "
        "and uses that from then on. Takes precedence over token/token_file.",
    )
    enrolment_url: str | None = opt(
        None, "Enrolment endpoint; default: `url` with `/reports` replaced by `/enrol`."
    )


@dataclass
class SpoolConfig:
    max_bytes: int = opt(
        50 * 1024 * 1024, "Spool size bound; oldest reports dropped past it.", minimum=64 * 1024
    )
    max_age_s: int = opt(
        30 * 86400, "Reports older than this are dropped from the spool.", minimum=3600
    )


@dataclass
class SleepBlockersConfig:
    enabled: bool = opt(True, "Report what keeps the machine awake (systemd-inhibit, powercfg).")
    reasons: bool = opt(True, "Include the reason text the application gave.")
    interval_s: int = opt(600, "How often to look for sleep blockers.", minimum=60)


@dataclass
class PolicyConfig:
    enabled: bool = opt(
        True,
        "Follow the off-hours sleep policy the collector sends (docs/policy.md). False: "
        "the agent never warns, sleeps or shuts the machine down, whatever it is sent.",
    )
    notice_dir: str | None = opt(
        None,
        "Where the warning for the user's session is posted and answered. Default: "
        "`%ProgramData%\\EnergyAgent\\notice` on Windows; `$RUNTIME_DIRECTORY/notice` "
        "under systemd, else `<state_dir>/notice`.",
    )
    lang: str = opt("fr", "Language of the warning shown to the user.", choices=("fr", "en"))
    wake_proxy: bool = opt(
        True,
        "Send Wake-on-LAN magic packets on this machine's own LAN when the collector asks "
        "(wake for maintenance).",
    )
    report_wake: bool = opt(
        True,
        "Send the machine's LAN interfaces (MAC, IPv4/prefix) and wake settings in reports, "
        "so the collector can wake it for maintenance through a proxy on its subnet.",
    )
    check_interval_s: float = opt(
        30.0, "How often the policy is checked (idle time, blockers, answers).", minimum=1
    )


@dataclass
class AgentConfig:
    site: str | None = opt(None, "Site name (building), as the collector's calendars know it.")
    department: str | None = opt(None, "Department (direction/service) owning the machine.")
    tags: dict[str, str] = opt({}, "Free key/value labels, e.g. `{floor: '3', role: kiosk}`.")
    report_hardware_ids: bool = opt(
        True,
        "Send the machine's serial number, SMBIOS UUID and physical MACs, so the collector "
        "can match it to the asset register (docs/inventory.md); false keeps them on the PC.",
    )
    kind: str = opt(
        "auto",
        "Device kind; `auto` detects laptop (battery), vm, else desktop.",
        choices=("auto", *KINDS),
    )
    state_dir: str | None = opt(
        None,
        "Where the agent id, state and spool live. Default: `$STATE_DIRECTORY` (systemd "
        "StateDirectory=), `%ProgramData%\\EnergyAgent` on Windows, else "
        "`~/.local/state/energy-agent`.",
    )
    transport: str = opt(
        "stdout",
        "Where reports go. A service has no standard output: a service left on `stdout` "
        "keeps its reports in the spool until its settings name a destination.",
        choices=("stdout", "mqtt", "http"),
    )
    reload_interval_s: float = opt(
        120.0,
        "How often the running agent reads its settings again (this file and, on Windows, "
        "the MSI's and Group Policy's registry values) and takes up what changed, without a "
        "restart; 0: only at start.",
        minimum=0,
        maximum=86400,
    )
    sample_interval_s: float = opt(
        15.0,
        "Clock, CPU and suspend sampling period; bounds the "
        "placement error of a suspend's start and end.",
        minimum=0.2,
        maximum=300,
    )
    report_interval_s: float = opt(300.0, "Regular report period.", minimum=1, maximum=86400)
    min_report_interval_s: float = opt(
        30.0,
        "Shortest gap between reports sent on state changes (wake and boot are always immediate).",
        minimum=0,
        maximum=3600,
    )
    heartbeat_interval_s: float = opt(
        60.0,
        "How often last-alive and pending segments are "
        "saved (bounds what a crash leaves `unknown`).",
        minimum=5,
        maximum=3600,
    )
    idle_threshold_s: float = opt(
        300.0, "No user input for this long makes the machine idle.", minimum=10
    )
    idle_poll_interval_s: float = opt(
        30.0, "How often user input idle time is read.", minimum=1, maximum=600
    )
    busy_cpu_threshold: float = opt(
        0.25,
        "Without an interactive session, CPU utilisation above this counts as active.",
        minimum=0,
        maximum=1,
    )
    suspend_threshold_s: float = opt(2.0, "Suspend shorter than this is clock noise.", minimum=0.1)
    measure_energy: bool = opt(True, "Read RAPL and battery discharge where the host has them.")
    log_level: str = opt("info", "Log level.", choices=("debug", "info", "warning", "error"))
    mqtt: MqttConfig = section(MqttConfig, "MQTT transport.")
    http: HttpConfig = section(HttpConfig, "HTTP transport.")
    spool: SpoolConfig = section(SpoolConfig, "On-disk spool of unsent reports.")
    sleep_blockers: SleepBlockersConfig = section(SleepBlockersConfig, "Sleep blockers.")
    policy: PolicyConfig = section(PolicyConfig, "The off-hours sleep policy and wake proxy.")

    def validate(self) -> None:
        if self.idle_poll_interval_s >= self.idle_threshold_s:
            raise ValueError("idle_poll_interval_s: must be shorter than idle_threshold_s")
        if self.mqtt.password and self.mqtt.password_file:
            raise ValueError("mqtt.password_file: set either password or password_file")
        if self.mqtt.enrolment_secret_file and not self.mqtt.enrolment_url:
            raise ValueError("mqtt.enrolment_url: needed with mqtt.enrolment_secret_file")
        if not self.mqtt.host.strip():
            raise ValueError("mqtt.host: empty")
        for key, url in (
            ("http.url", self.http.url),
            ("http.enrolment_url", self.http.enrolment_url),
            ("mqtt.enrolment_url", self.mqtt.enrolment_url),
        ):
            if url is not None:
                check_url(key, url)

    @property
    def state_path(self) -> Path:
        return Path(self.state_dir or _default_state_dir())

    @property
    def notice_path(self) -> Path:
        if self.policy.notice_dir:
            return Path(self.policy.notice_dir)
        if os.name == "nt":
            return Path(agent_dir()) / "notice"
        runtime = os.environ.get("RUNTIME_DIRECTORY")
        if runtime:
            return Path(runtime.split(":")[0]) / "notice"
        return self.state_path / "notice"


DEFAULT_CONFIG = (
    "/etc/energy-agent/agent.yaml" if os.name != "nt" else os.path.join(agent_dir(), "agent.yaml")
)


def config_path(arg: str | None) -> str | None:
    """The file to read: the argument, else $ENERGY_AGENT_CONFIG, else DEFAULT_CONFIG if it
    exists; None means the built-in defaults."""
    path = arg or os.environ.get("ENERGY_AGENT_CONFIG")
    if path:
        return path
    return DEFAULT_CONFIG if os.path.exists(DEFAULT_CONFIG) else None


def load_config(path: str | None) -> AgentConfig:
    """The YAML file (or the defaults) with, on Windows, the MSI's properties and then the
    Group Policy values on top (agent/winpolicy.py)."""
    from agent.winpolicy import (
        INSTALL_KEY,
        POLICY_KEY,
        installer_values,
        policy_overlay,
        read_registry,
    )

    installed, _ = read_registry(INSTALL_KEY)
    values, tags = installer_values(installed)
    overlay = policy_overlay(AgentConfig, values, tags.items(), INSTALL_KEY)
    overlay = merge(overlay, policy_overlay(AgentConfig, *read_registry(POLICY_KEY)))
    what = f"HKLM\\{INSTALL_KEY} + HKLM\\{POLICY_KEY}"
    return load_file(AgentConfig, path, (what, overlay))
