"""The collector's configuration: every option, its default and its meaning.

Defaults are the embedded setup: SQLite ledger and HTTP ingest on localhost, /metrics on the
same port; MQTT ingest, PostgreSQL and the time-series sink are switched on here.
docs/collector-config.md is generated from these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collector.inventory.settings import InventoryConfig
from collector.policy.settings import PolicyConfig
from energy_common.configspec import ConfigError, check_url, load_file, opt, section
from energy_common.tls import TlsConfig

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
REPO_CONFIGS = Path(__file__).resolve().parent.parent / "configs"

__all__ = ["CollectorConfig", "ConfigError", "load_config"]


@dataclass
class LedgerConfig:
    url: str = opt(
        "sqlite:run/collector/ledger.db",
        "Ledger database: `sqlite:PATH` (embedded) "
        "or `postgresql://user:pass@host/db` (production, several collectors).",
    )
    timezone: str = opt(
        "Europe/Paris",
        "Time zone of the ledger's days (per-host per-day totals are split at local midnight).",
    )
    retention_days: int = opt(
        400,
        "Processed-report keys (deduplication) older than this are "
        "purged; a replay older than that would count again.",
        minimum=7,
    )
    batch_max: int = opt(2000, "Most reports committed in one transaction.", minimum=1)
    batch_wait_s: float = opt(
        0.0, "Extra wait to fill a batch (0: take what is queued).", minimum=0, maximum=5
    )


@dataclass
class HttpConfig:
    listen: str = opt("127.0.0.1", "Address of the HTTP ingest, /metrics and status API.")
    port: int = opt(8750, "Port (0 picks a free one).", minimum=0, maximum=65535)
    token: str | None = opt(
        None,
        "Bearer token agents must send (prefer token_file). Unset: "
        "no authentication (loopback only).",
        secret=True,
    )
    token_file: str | None = opt(None, "File holding the bearer token (first line; blank: error).")
    read_token: str | None = opt(
        None,
        "Bearer token for reads: the JSON API and /metrics (prefer read_token_file). Unset: "
        "reads are open (loopback only). Give Prometheus `authorization: {credentials_file}`.",
        secret=True,
    )
    read_token_file: str | None = opt(None, "File holding the read token (first line).")
    max_body_bytes: int = opt(
        262144, "Larger request bodies are refused (413), whatever they declare.", minimum=1024
    )
    body_timeout_s: float = opt(
        20.0, "A request body must arrive within this (408 otherwise).", minimum=0.5
    )
    max_connections: int = opt(
        512, "Connections and requests served at once; more are answered 503.", minimum=8
    )
    keepalive_s: float = opt(15.0, "Idle keep-alive connections are closed after this.", minimum=1)
    header_timeout_s: float = opt(
        10.0,
        "A request line and headers must arrive within this of the connection (or of the "
        "previous answer); else the connection is closed (slow clients hold nothing).",
        minimum=0.5,
    )
    tls_cert: str | None = opt(None, "PEM certificate: serve HTTPS.")
    tls_key: str | None = opt(None, "PEM private key for tls_cert.")
    allow_insecure: bool = opt(
        False,
        "Allow listening beyond loopback without TLS, an ingest token and a read token "
        "(check-config refuses it otherwise).",
    )

    def loopback(self) -> bool:
        return self.listen in ("127.0.0.1", "::1", "localhost") or self.listen.startswith("127.")


@dataclass
class DynsecConfig:
    enabled: bool = opt(
        False,
        "Give each enrolled agent MQTT credentials of its own through Mosquitto's "
        "dynamic-security plugin (configs/mosquitto/dynsec.conf).",
    )
    host: str = opt("localhost", "Broker host.")
    port: int = opt(1883, "Broker port.", minimum=1, maximum=65535)
    username: str = opt("admin", "The plugin's admin user (mosquitto_ctrl dynsec init).")
    password_file: str | None = opt(None, "File holding the admin user's password.")
    tls: TlsConfig = section(TlsConfig, "TLS for the broker connection.")


@dataclass
class EnrolmentConfig:
    secret_file: str | None = opt(
        None,
        "File holding the site enrolment secret agents present once to get their own token "
        "(POST /api/v1/enrol). Unset: enrolment is off.",
    )
    previous_secret_file: str | None = opt(
        None, "The secret being rotated out, still accepted until this is removed."
    )
    dynsec: DynsecConfig = section(DynsecConfig, "MQTT credentials per agent (dynamic security).")


@dataclass
class MqttIngestConfig:
    enabled: bool = opt(False, "Subscribe to agent reports on an MQTT broker.")
    host: str = opt("localhost", "Broker host.")
    port: int = opt(1883, "Broker port.", minimum=1, maximum=65535)
    username: str | None = opt(None, "User name.")
    password: str | None = opt(None, "Password (prefer password_file).", secret=True)
    password_file: str | None = opt(None, "File holding the password.")
    client_id: str = opt(
        "energy-collector-1",
        "Fixed client id: the broker keeps this "
        "collector's persistent session (queued QoS 1 reports) across restarts. "
        "Unique per collector process.",
    )
    group: str = opt(
        "energy-collectors",
        "Shared subscription group: collectors in one group split the reports between them.",
    )
    topic_prefix: str = opt(
        "energy/v1/agents", "Reports on `<prefix>/+/report`, status on `<prefix>/+/status`."
    )
    session_expiry_s: int = opt(
        3600,
        "How long the broker keeps this collector's session (and queues messages for it) "
        "while it is away. A LoRaWAN network server does not resend what a collector missed: "
        "keep it long there.",
        minimum=0,
    )
    max_inflight: int = opt(
        1000, "Unacknowledged messages the broker may send at once.", minimum=1, maximum=65535
    )
    keepalive_s: int = opt(30, "MQTT keepalive.", minimum=5)
    tls: TlsConfig = section(TlsConfig, "TLS for the broker connection.")


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


@dataclass
class HypervisorConfig:
    name: str = opt("", "Physical host name as VMs map to it.")
    cpus: int = opt(1, "Logical CPUs of the physical host.", minimum=1)
    idle_w: float = opt(150.0, "Idle power of the host (W).", minimum=0)
    max_w: float = opt(400.0, "Power at full CPU (W).", minimum=0)


@dataclass
class ModelConfig:
    profiles_file: str | None = opt(
        None, "Power profiles YAML (default: configs/power-profiles.yaml shipped with the code)."
    )
    vm_hosts: dict[str, str] = opt({}, "VM hostname → physical host name (a hypervisor below).")
    hypervisors: list[HypervisorConfig] = opt([], "Physical hosts VMs are attributed from.")


@dataclass
class CarbonConfig:
    static_kg_per_kwh: float = opt(
        0.052, "Grid factor (kgCO2e/kWh) when no hourly value applies.", minimum=0, maximum=2
    )
    static_basis: str = opt(
        "ademe-base-empreinte-v23:electricite-mix-moyen-consommation",
        "Label stored beside every figure that used the static factor.",
    )
    hourly_file: str | None = opt(
        None,
        "RTE éCO2mix export (`taux_co2`); reloaded when "
        "it changes. Scope: direct emissions of French production.",
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


@dataclass
class ClosureConfig:
    start: str = opt("", "First closed day, YYYY-MM-DD.")
    end: str = opt("", "Last closed day, YYYY-MM-DD.")


@dataclass
class MaintenanceConfig:
    weekday: str = opt("tue", "Day the window starts.", choices=WEEKDAY_NAMES)
    hours: str = opt("22:00-02:00", "Local HH:MM-HH:MM; an end before the start crosses midnight.")


@dataclass
class CalendarConfig:
    name: str = opt("default", "Calendar name, referred to by `sites` and `departments`.")
    timezone: str = opt("Europe/Paris", "IANA time zone; DST follows it.")
    working_hours: dict[str, str] = opt(
        {
            "mon": "08:00-12:30,13:30-18:30",
            "tue": "08:00-12:30,13:30-18:30",
            "wed": "08:00-12:30,13:30-18:30",
            "thu": "08:00-12:30,13:30-18:30",
            "fri": "08:00-12:30,13:30-17:30",
        },
        "Weekday (mon…sun) → comma-separated HH:MM-HH:MM ranges; days left out are not worked.",
    )
    holidays_country: str | None = opt(
        "FR", "Public holidays of this country (`holidays` package); null for none."
    )
    holidays_subdiv: str | None = opt(
        None, "Subdivision, e.g. `57`, `67` or `68` for Alsace-Moselle's extra days."
    )
    closures: list[ClosureConfig] = opt([], "Closure periods (summer, Christmas).")
    maintenance: list[MaintenanceConfig] = opt(
        [], "Weekly windows when being on is expected (patch night, Wake-on-LAN)."
    )
    grace_s: float = opt(
        1800.0, "After the end of the working day, this long is not counted.", minimum=0
    )


@dataclass
class SmtpConfig:
    host: str | None = opt(None, "SMTP server; unset: no e-mail.")
    port: int = opt(587, "SMTP port.", minimum=1, maximum=65535)
    starttls: bool = opt(True, "Upgrade with STARTTLS.")
    ssl: bool = opt(False, "Implicit TLS (port 465) instead of STARTTLS.")
    username: str | None = opt(None, "Login.")
    password_file: str | None = opt(None, "File holding the password.")
    sender: str = opt("energie@example.org", "From address.")
    recipients: list[str] = opt([], "To addresses.")


@dataclass
class WebhookConfig:
    url: str = opt("", "URL to POST to.")
    format: str = opt(
        "json",
        '`json`: the report document; `text`: {"text": …} for '
        "Mattermost and Teams incoming webhooks.",
        choices=("json", "text"),
    )


@dataclass
class ReportConfig:
    time: str = opt("07:30", "Local time of the morning report on working days.")
    language: str = opt("fr", "Wording of the report.", choices=("fr", "en"))
    smtp: SmtpConfig = section(SmtpConfig, "E-mail delivery.")
    webhooks: list[WebhookConfig] = opt([], "Webhook deliveries.")
    retries: int = opt(5, "Delivery attempts before giving up (logged).", minimum=1)
    retry_delay_s: float = opt(60.0, "First retry delay; doubles each time.", minimum=0.01)


@dataclass
class ComplianceConfig:
    enabled: bool = opt(True, "Compute off-hours compliance.")
    default_calendar: str = opt("default", "Calendar for sites not listed in `sites`.")
    calendars: list[CalendarConfig] = opt(
        [], "Calendars; empty: one `default` calendar with the defaults above."
    )
    sites: dict[str, str] = opt({}, "Site → calendar name.")
    departments: dict[str, str] = opt({}, "Department → calendar name (overrides the site's).")
    exempt_kinds: list[str] = opt(["vm", "server"], "Device kinds expected on at night.")
    exempt_tags: list[str] = opt(
        ["always_on=true"],
        "Host tags (key=value) that exempt a machine (24/7 kiosks, security desks).",
    )
    tolerance_s: float = opt(
        900.0, "On-time per period allowed before it is non-compliant.", minimum=0
    )
    coverage_min: float = opt(
        0.9,
        "Share of a period the reports must cover for a verdict; "
        "below it (and compliant so far) the host-period is unknown.",
        minimum=0,
        maximum=1,
    )
    tariff_eur_per_kwh: float = opt(0.20, "Electricity price for wasted euros.", minimum=0)
    repeat_offender_periods: int = opt(
        3, "Non-compliant periods running that make a repeat offender.", minimum=2
    )
    report: ReportConfig = section(ReportConfig, "The morning report.")

    def validate(self) -> None:
        from collector.compliance.settings import build_calendars

        build_calendars(self)


@dataclass
class MeterFieldConfig:
    name: str = opt("energy", "Field name, referred to by `meters[].field`.")
    path: str = opt(
        "",
        "Where the value is in the decoded payload: dotted path with list "
        "indices, e.g. `bytes.counterValues[0]`.",
    )
    meaning: str = opt(
        "energy_index",
        "What it is (`voltage`: shown by `lorawan explain`, never a meter's reading).",
        choices=("energy_index", "pulse_count", "power", "current", "voltage"),
    )
    unit: str = opt(
        "Wh",
        "Unit of the value after `scale`: Wh, kWh, MWh (energy_index), W, kW (power), A, mA "
        "(current), V (voltage); ignored for pulse_count.",
        choices=("Wh", "kWh", "MWh", "W", "kW", "A", "mA", "V"),
    )
    scale: float = opt(1.0, "Multiplier applied first (e.g. 0.1 for tenths).")
    wh_per_pulse: float = opt(
        1.0, "For `pulse_count`: Wh per pulse (the meter's constant).", minimum=0
    )
    voltage_v: float = opt(230.0, "For `current`: nominal voltage.", minimum=0)
    power_factor: float = opt(0.9, "For `current`: assumed power factor.", minimum=0, maximum=1)
    wrap_at: float | None = opt(None, "Raw value at which the register rolls over, if known.")
    resets_to_zero: bool = opt(True, "After a device reboot the register restarts at 0.")
    compute: str | None = opt(
        None,
        "Instead of `path`: the value computed from other fields of the same uplink, e.g. "
        "`Current1 * Multiplier1` or `EAST or HCHC + HCHP or BASE` (sums `+` of products `*` "
        "of paths and numbers; `or`: the first alternative whose fields are all present).",
    )
    sentinels: list[float] = opt(
        [], 'Raw values the codec uses for "no reading" (e.g. 65535): counted, never energy.'
    )
    max: float | None = opt(
        None, "Raw values above this are impossible for the device: counted, never energy."
    )
    when: dict[str, str] = opt(
        {},
        "Read only from uplinks where each of these payload paths is a text starting with one "
        'of the `|`-separated prefixes (e.g. `{bytes.type: "0x46|0x5a"}`: frames that carry '
        "this channel).",
    )

    def validate(self) -> None:
        from collector.sources.lorawan.compute import parse

        units = {
            "energy_index": ("Wh", "kWh", "MWh"),
            "power": ("W", "kW"),
            "current": ("A", "mA"),
            "voltage": ("V",),
        }.get(self.meaning)
        if units is not None and self.unit not in units:
            raise ValueError(
                f"unit: {self.unit!r} is not a unit of {self.meaning} ({', '.join(units)})"
            )
        if self.compute is not None and self.path:
            raise ValueError("compute: give either path or compute, not both")
        if self.compute is None and not self.path:
            raise ValueError("path: missing (or give compute)")
        if self.compute is not None:
            try:
                parse(self.compute)
            except ValueError as exc:
                raise ValueError(f"compute: {exc}") from None


@dataclass
class MeterProfileConfig:
    name: str = opt("", "Profile name, referred to by `meters[].profile`.")
    match: str = opt(
        "",
        "Selects this profile for meters that name none, before the shipped device library: "
        "The Things Stack's `version_ids.model_id` (e.g. `ws52x`), or a substring of "
        "ChirpStack's device-profile name (`deviceInfo.deviceProfileName`).",
    )
    version: str = opt(
        "1", "Codec version this mapping is for (field names change between versions)."
    )
    fields: list[MeterFieldConfig] = opt([], "The decoded fields used.")


@dataclass
class MeterConfig:
    dev_eui: str | None = opt(None, "Device EUI (hex).")
    device_profile: str | None = opt(None, "Or: every device whose profile name contains this.")
    name: str | None = opt(None, "Meter name (default: the device name).")
    profile: str | None = opt(
        None,
        "Meter profile: a `profiles[].name`, or a shipped model `brand/model` (default: a "
        "user profile whose `match` fits, else the shipped model the uplink names).",
    )
    field: str | None = opt(
        None, "Profile field to use (default: the device's register, else the first)."
    )
    wh_per_pulse: float | None = opt(
        None,
        "For pulse counters: the metered installation's Wh per pulse (overrides the profile's; "
        "required with a shipped pulse-counter model).",
        minimum=0,
    )
    site: str = opt("", "Site or building.")
    datacenter: str | None = opt(None, "Datacenter this meter belongs to.")
    role: str = opt(
        "building",
        "What it measures.",
        choices=("facility", "it", "cooling", "lighting", "building", "host_plug", "other"),
    )
    host: str | None = opt(None, "For `host_plug`: hostname of the PC it measures.")
    room: str | None = opt(None, "Room (zone) of the datacenter it belongs to, for partial PUE.")
    category: int | None = opt(
        None,
        "For `it` meters: the ISO/IEC 30134-2 category of IT energy it measures (1 UPS "
        "output, 2 PDU output, 3 IT equipment input).",
        minimum=1,
        maximum=3,
    )
    max_power_w: float = opt(1_000_000.0, "Readings implying more are glitches.", minimum=1)


@dataclass
class GatewayPowerConfig:
    id: str = opt("", "Gateway id (EUI, hex).")
    model: str = opt("", "Model, for the record.")
    power_w: float = opt(5.0, "Mean electrical power of the gateway.", minimum=0)


@dataclass
class LorawanConfig:
    enabled: bool = opt(False, "Subscribe to a LoRaWAN network server's MQTT integration.")
    mqtt: MqttIngestConfig = section(
        MqttIngestConfig, "Broker of the network server (`topic_prefix` unused here)."
    )
    topics: list[str] = opt(
        [
            "application/+/device/+/event/+",
            "+/gateway/+/event/stats",
            "+/gateway/+/state/conn",
            "gateway/+/event/stats",
            "gateway/+/state/conn",
            "v3/+/devices/+/up",
        ],
        "Topic filters, subscribed in the shared group `mqtt.group` "
        "(ChirpStack v4/v3 events, Gateway Bridge with and without a "
        "region prefix, The Things Stack v3 uplinks).",
    )
    profiles: list[MeterProfileConfig] = opt(
        [], "Meter profiles of your own; they override the shipped device library."
    )
    shipped_profiles: bool = opt(
        True, "Use the shipped device library (collector/sources/lorawan/devices/)."
    )
    meters: list[MeterConfig] = opt([], "Devices that are meters.")
    gateways: list[GatewayPowerConfig] = opt([], "Gateway power figures.")
    default_gateway_power_w: float = opt(5.0, "Power of gateways not listed.", minimum=0)
    marshaler: str = opt(
        "json",
        "Payload encoding of ChirpStack events and Gateway Bridge "
        "messages (ChirpStack `marshaler`); protobuf needs `chirpstack-api`.",
        choices=("json", "protobuf"),
    )
    gateway_stale_s: float = opt(
        300.0, "A gateway without stats for this long is offline.", minimum=10
    )
    max_gap_s: float = opt(
        7200.0, "Power readings further apart are not integrated (gap).", minimum=60
    )

    def validate(self) -> None:
        names = {p.name for p in self.profiles}
        fields = {p.name: {f.name for f in p.fields} for p in self.profiles}
        meanings = {(p.name, f.name): f.meaning for p in self.profiles for f in p.fields}
        by_eui: dict[str, list[int]] = {}
        for i, m in enumerate(self.meters):
            if not (m.dev_eui or m.device_profile):
                raise ValueError(f"meters[{i}]: give dev_eui or device_profile")
            if m.profile and m.profile not in names:
                from collector.sources.lorawan.library import shipped_fields

                shipped = shipped_fields() if self.shipped_profiles else {}
                if m.profile not in shipped:
                    raise ValueError(
                        f"meters[{i}].profile: no profile named {m.profile!r} in "
                        "lorawan.profiles nor in the shipped device library"
                    )
                fields[m.profile] = shipped[m.profile]
            if m.field and meanings.get((m.profile or "", m.field)) == "voltage":
                raise ValueError(
                    f"meters[{i}].field: {m.field!r} is a voltage, not energy: name a "
                    "register, power or current field"
                )
            if m.profile and m.field and m.field not in fields[m.profile]:
                raise ValueError(
                    f"meters[{i}].field: profile {m.profile!r} has no field {m.field!r}"
                )
            if m.role == "host_plug" and not m.host:
                # was checked only for the last channel of multi-channel devices
                raise ValueError(f"meters[{i}].host: a host_plug meter names its host")
            if m.dev_eui:
                by_eui.setdefault(m.dev_eui.lower(), []).append(i)
        for eui, idx in by_eui.items():
            if len(idx) < 2:
                continue
            # a multi-channel device: one meter per channel, each its own field and name
            seen_fields: set[str] = set()
            seen_names: set[str] = set()
            for i in idx:
                m = self.meters[i]
                if not m.field:
                    raise ValueError(
                        f"meters[{i}].field: device {eui} appears {len(idx)} times; each "
                        "entry is one channel and names its field"
                    )
                if m.field in seen_fields:
                    raise ValueError(f"meters[{i}].field: {m.field!r} of {eui} used twice")
                if not m.name or m.name in seen_names:
                    raise ValueError(
                        f"meters[{i}].name: each channel of {eui} needs a name of its own"
                    )
                seen_fields.add(m.field)
                seen_names.add(m.name)
        for p in self.profiles:
            if not p.fields:
                raise ValueError(f"profiles[{p.name}].fields: at least one field")


OUTLET_ROLES = ("cooling", "lighting", "network", "building", "other")


@dataclass
class SnmpDeviceConfig:
    name: str = opt("", "Device name (meters are named `<name>:<table>:<index>`).")
    host: str = opt("", "Address.")
    port: int = opt(161, "UDP port.", minimum=1, maximum=65535)
    version: str = opt("2c", "SNMP version.", choices=("2c", "3"))
    community: str = opt("public", "v2c community (prefer community_file).", secret=True)
    community_file: str | None = opt(None, "File holding the v2c community.")
    user: str | None = opt(None, "v3 user (USM).")
    auth_protocol: str = opt(
        "SHA", "v3 authentication.", choices=("SHA", "SHA224", "SHA256", "SHA384", "SHA512", "MD5")
    )
    auth_key: str | None = opt(None, "v3 authentication key (prefer auth_key_file).", secret=True)
    auth_key_file: str | None = opt(None, "File holding the v3 authentication key.")
    priv_protocol: str = opt("AES", "v3 privacy.", choices=("AES", "AES192", "AES256", "DES"))
    priv_key: str | None = opt(None, "v3 privacy key (prefer priv_key_file).", secret=True)
    priv_key_file: str | None = opt(None, "File holding the v3 privacy key.")
    context: str = opt("", "v3 context name.")
    profile: str | None = opt(None, "Force a profile (default: by sysObjectID / sysDescr).")
    site: str = opt("", "Site.")
    datacenter: str | None = opt(None, "Datacenter.")
    room: str | None = opt(None, "Room.")
    rack: str | None = opt(None, "Rack.")
    role: str = opt(
        "it",
        "What its energy is.",
        choices=("it", "facility", "cooling", "lighting", "network", "building", "other"),
    )
    category: int = opt(
        2,
        "ISO/IEC 30134-2 IT measurement category (1 UPS output, 2 PDU "
        "output, 3 IT equipment input).",
        minimum=1,
        maximum=3,
    )
    outlets: dict[str, str] = opt(
        {},
        "Outlet → the physical server it feeds (a `model.hypervisors[].name`), so its VMs "
        "are attributed measured power. Keys: the outlet's label as the PDU names it, or "
        "`<table>:<index>` (`outlet:7`). A server on two PDUs is mapped on both.",
    )
    outlet_roles: dict[str, str] = opt(
        {},
        "Outlet → what it feeds when that is not the device's role (an in-row cooler or the "
        "lighting on an IT PDU): its energy is carved out of the device's total and counted "
        "under that role. Keys as in `outlets`; roles: " + ", ".join(OUTLET_ROLES) + ".",
    )
    interval_s: float | None = opt(
        None,
        "Poll period of this device (default: `snmp.interval_s`); the poller wakes at the "
        "shortest period configured.",
        minimum=1,
    )
    timeout_s: float = opt(2.0, "Per-request timeout.", minimum=0.1)
    retries: int = opt(1, "Retries per request.", minimum=0, maximum=10)
    max_repetitions: int = opt(
        25,
        "GETBULK max-repetitions ceiling (each table asks for the rows it had last poll + 1).",
        minimum=1,
        maximum=200,
    )
    stack: str = opt(
        "native",
        "v2c through the built-in codec (`native`) or through pysnmp (`pysnmp`), for a device "
        "the native one trips on; v3 always uses pysnmp.",
        choices=("native", "pysnmp"),
    )


@dataclass
class SnmpConfig:
    enabled: bool = opt(False, "Poll SNMP devices.")
    interval_s: float = opt(60.0, "Poll period.", minimum=1)
    concurrency: int = opt(50, "Devices polled at once.", minimum=1)
    backoff_max_s: float = opt(900.0, "Longest wait before retrying a dead device.", minimum=1)
    max_power_w: float = opt(
        200_000.0,
        "The most one meter can draw: register steps and imported readings (bills) implying "
        "more are refused; a power reading above it is no reading.",
        minimum=1,
    )
    network_models: dict[str, str] = opt(
        {},
        "Typical power (W, without PoE) of network models that have no power sensor, by model "
        "(entPhysicalModelName, e.g. `WS-C2960X-48FPD-L`, or the shipped table's name): "
        "overrides collector/sources/snmp/network-models.yaml. The PoE the device delivers "
        "is added; the result is labelled modelled.",
    )
    devices: list[SnmpDeviceConfig] = opt([], "Devices.")


@dataclass
class DatacenterYearConfig:
    datacenter: str = opt("", "Datacenter name (as in snmp.devices[].datacenter).")
    year: int = opt(2026, "Reporting year.", minimum=2000)
    water_m3: float | None = opt(None, "Water used on site that year (m³), for WUE.", minimum=0)
    reused_energy_kwh: float | None = opt(
        None, "Energy reused outside the datacenter (kWh), for ERF.", minimum=0
    )
    renewable_energy_kwh: float | None = opt(
        None, "Renewable energy consumed (kWh), for REF.", minimum=0
    )


OBJECTIVE_INDICATORS = (
    "total_kwh",
    "endpoint_kwh",
    "usage_kgco2e",
    "embodied_kgco2e",
    "wasted_kwh",
    "compliance_rate",
    "pue",
    "measured_share",
)
NUMECOEVAL_TYPES = {
    "desktop": "Desktop",
    "laptop": "Laptop",
    "thin_client": "Thin client",
    "workstation": "Desktop",
    "server": "Server",
}


@dataclass
class ObjectiveConfig:
    indicator: str = opt(
        "total_kwh",
        "What is measured: total or workstation kWh, usage or embodied kgCO2e, off-hours "
        "wasted kWh, the compliance rate (0..1), a PUE, the share of energy measured (0..1).",
        choices=OBJECTIVE_INDICATORS,
    )
    label: str = opt("", "Wording of the objective in the report (default: the indicator).")
    baseline_year: int | None = opt(
        None, "Year the change is measured against (read from the ledger).", minimum=2000
    )
    baseline_value: float | None = opt(
        None,
        "The baseline figure itself, when the ledger does not hold that year (an audit "
        "before the collector ran); wins over the ledger.",
    )
    change: float | None = opt(
        None, "Target as a relative change against the baseline: -0.10 for −10 %."
    )
    target: float | None = opt(None, "Target as a value (a rate 0..1, a PUE); wins over `change`.")
    datacenter: str | None = opt(None, "For `pue`: one datacenter (default: all of them).")

    def validate(self) -> None:
        if self.target is None and self.change is None:
            raise ValueError("target: give `target` or `change`")
        if self.change is not None and self.baseline_year is None and self.baseline_value is None:
            raise ValueError("change: needs `baseline_year` or `baseline_value`")


@dataclass
class YearlyConfig:
    organisation: str = opt("", "Name on the yearly report (the city, the metropolis).")
    language: str = opt(
        "fr", "Default language of the report and the web view.", choices=("fr", "en")
    )
    objectives: list[ObjectiveConfig] = opt([], "Objectives of the sobriety strategy.")
    recurring_offender_periods: int = opt(
        24,
        "Off-hours periods left on in a year that make a machine a recurring offender "
        "(counted; named in the internal edition only).",
        minimum=1,
    )
    min_group_hosts: int = opt(
        3,
        "Public edition and open data: sites and departments with fewer machines are "
        "merged into one 'others' group, so no figure describes one person's PC.",
        minimum=1,
    )
    lorawan_in_total: bool = opt(True, "Add the LoRaWAN gateways' energy to the total.")
    public_url: str = opt(
        "",
        "The address where the folder written by `energy-collector report --out` is published "
        "(https://…/reen/2026): the report's links to its open data and accessibility "
        "statement are made absolute with it, so they work in the PDF too.",
    )
    numecoeval_types: dict[str, str] = opt(
        dict(NUMECOEVAL_TYPES),
        "Device kind → NumEcoEval equipment `type` (align with your instance's referential "
        "ref_TypeEquipement).",
    )


@dataclass
class WebConfig:
    enabled: bool = opt(True, "Serve the web view: /, /night, /datacenters, /lorawan, /report.")
    public: bool = opt(
        True,
        "Pages that name no host are open to whoever reaches the port; false: every page "
        "asks for the ops login.",
    )
    ops_token_file: str | None = opt(
        None,
        "File holding the ops passphrase of the login that shows host names. Default: the "
        "read token; without one, a passphrase generated into <state_dir>/web-ops-token.",
    )
    session_hours: float = opt(12.0, "Life of an ops login.", minimum=0.05, maximum=720)
    public_url: str = opt(
        "",
        "The address the pages are published at (https://…): links in the printed report "
        "and the PDF are made absolute with it.",
    )
    accessibility_status: str = opt(
        "none",
        "Compliance with RGAA 4.1 stated on the accessibility page: `full`, `partial`, or "
        "`none` (the law's wording for a service not audited yet).",
        choices=("full", "partial", "none"),
    )
    accessibility_audit: str = opt(
        "",
        "The RGAA audit behind the status: who made it and when (empty: not audited).",
    )
    accessibility_contact: str = opt(
        "",
        "Where a reader reports an accessibility problem (an e-mail address or a form's URL).",
    )
    accessibility_date: str = opt(
        "", "Date the accessibility statement was made (YYYY-MM-DD; default: today)."
    )


@dataclass
class CollectorConfig:
    state_dir: str = opt("run/collector", "Working directory (TSDB buffer, default ledger).")
    stale_after_s: float = opt(
        900.0,
        "An agent with no report for this long, and no clean stop, is counted `unknown`.",
        minimum=60,
    )
    log_level: str = opt("info", "Log level.", choices=("debug", "info", "warning", "error"))
    ledger: LedgerConfig = section(LedgerConfig, "Ledger (exact accounting).")
    http: HttpConfig = section(HttpConfig, "HTTP ingest, /metrics and the status API.")
    mqtt: AgentsMqttConfig = section(AgentsMqttConfig, "MQTT ingest of agent reports.")
    tsdb: TsdbConfig = section(TsdbConfig, "Time-series sink.")
    model: ModelConfig = section(ModelConfig, "Energy model.")
    carbon: CarbonConfig = section(CarbonConfig, "Carbon intensity.")
    validation: ValidationConfig = section(ValidationConfig, "Report validation.")
    labels: LabelsConfig = section(LabelsConfig, "Bounds on label values taken from reports.")
    enrolment: EnrolmentConfig = section(
        EnrolmentConfig, "Agent enrolment: one token per agent, bound to its id."
    )
    compliance: ComplianceConfig = section(ComplianceConfig, "Off-hours sleep compliance.")
    lorawan: LorawanConfig = section(LorawanConfig, "LoRaWAN meters and gateways.")
    snmp: SnmpConfig = section(SnmpConfig, "SNMP polling of PDUs, UPSes, network gear.")
    datacenter_years: list[DatacenterYearConfig] = opt(
        [], "Yearly inputs of the EU indicators (water, reused and renewable energy)."
    )
    yearly: YearlyConfig = section(YearlyConfig, "The yearly REEN report and open data.")
    web: WebConfig = section(WebConfig, "The web view (server-rendered pages).")
    policy: PolicyConfig = section(
        PolicyConfig, "Off-hours sleep policies, wake for maintenance, savings."
    )
    inventory: InventoryConfig = section(
        InventoryConfig, "The asset register: GLPI, agents' files, CSV (docs/inventory.md)."
    )

    def validate(self) -> None:
        if bool(self.http.tls_cert) != bool(self.http.tls_key):
            raise ValueError("http.tls_key: tls_cert and tls_key go together")
        h = self.http
        if self.mqtt.enabled and not self.mqtt.host.strip():
            raise ValueError("mqtt.host: empty")
        if self.tsdb.enabled:
            check_url("tsdb.url", self.tsdb.url)
        if self.enrolment.dynsec.enabled and not self.enrolment.dynsec.password_file:
            raise ValueError("enrolment.dynsec.password_file: needed with dynsec.enabled")
        if not h.loopback() and not h.allow_insecure:
            missing = [
                what
                for what, ok in (
                    ("TLS (tls_cert, tls_key)", h.tls_cert),
                    (
                        "an ingest token (token_file) or enrolment (enrolment.secret_file)",
                        h.token or h.token_file or self.enrolment.secret_file,
                    ),
                    ("a read token (read_token_file)", h.read_token or h.read_token_file),
                )
                if not ok
            ]
            if missing:
                raise ValueError(
                    f"http.listen: {h.listen} is reachable beyond this machine without "
                    f"{', '.join(missing)}; add them or set http.allow_insecure: true"
                )
        if not (
            self.ledger.url.startswith("sqlite:")
            or self.ledger.url.startswith(("postgresql://", "postgres://"))
        ):
            raise ValueError("ledger.url: use sqlite:PATH or postgresql://…")
        names = {h.name for h in self.model.hypervisors}
        for vm, host in self.model.vm_hosts.items():
            if host not in names:
                raise ValueError(f"model.vm_hosts.{vm}: {host!r} is not in model.hypervisors")
        known_profiles: set[str] | None = None
        device_names: set[str] = set()
        for i, d in enumerate(self.snmp.devices):
            if d.name in device_names:
                raise ValueError(f"snmp.devices[{i}].name: {d.name!r} is used twice")
            device_names.add(d.name)
            if d.profile:
                if known_profiles is None:
                    from collector.sources.snmp.profiles import load_profiles

                    known_profiles = set(load_profiles())
                if d.profile not in known_profiles:
                    raise ValueError(
                        f"snmp.devices[{i}].profile: no profile named {d.profile!r} "
                        f"(known: {', '.join(sorted(known_profiles))})"
                    )
            for key, server in d.outlets.items():
                if server not in names:
                    raise ValueError(
                        f"snmp.devices[{i}].outlets.{key}: {server!r} is not in model.hypervisors"
                    )
            for key, role in d.outlet_roles.items():
                if role not in OUTLET_ROLES:
                    raise ValueError(
                        f"snmp.devices[{i}].outlet_roles.{key}: {role!r}: use one of "
                        + ", ".join(OUTLET_ROLES)
                    )
        for model, watts in self.snmp.network_models.items():
            try:
                ok = 0 < float(watts) < 100_000
            except ValueError:
                ok = False
            if not ok:
                raise ValueError(
                    f"snmp.network_models.{model}: {watts!r}: expected watts (a number above 0)"
                )

    def profiles_path(self) -> Path:
        return (
            Path(self.model.profiles_file)
            if self.model.profiles_file
            else REPO_CONFIGS / "power-profiles.yaml"
        )


def load_config(path: str | None) -> CollectorConfig:
    return load_file(CollectorConfig, path)
