"""The collector's configuration: every option, its default and its meaning.

Defaults are the embedded setup: SQLite ledger and HTTP ingest on localhost, /metrics on the
same port; MQTT ingest, PostgreSQL and the time-series sink are switched on here.
docs/collector-config.md is generated from these declarations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from collector.compliance.settings import ComplianceConfig
from collector.inventory.settings import InventoryConfig
from collector.model.profiles import SHIPPED
from collector.model.settings import CarbonConfig, ModelConfig
from collector.policy.settings import PolicyConfig
from collector.sinks.settings import TsdbConfig
from collector.sources.agents.settings import AgentsMqttConfig, LabelsConfig, ValidationConfig
from collector.sources.lorawan.settings import LorawanConfig
from collector.sources.snmp.settings import SnmpConfig
from collector.web.settings import EnrolmentConfig, HttpConfig, WebConfig
from collector.yearly.settings import DatacenterYearConfig, YearlyConfig
from energy_common.configspec import check_url, load_file, opt, section


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
        for i, d in enumerate(self.snmp.devices):
            for key, server in d.outlets.items():
                if server not in names:
                    raise ValueError(
                        f"snmp.devices[{i}].outlets.{key}: {server!r} is not in model.hypervisors"
                    )

    def profiles_path(self) -> Path:
        return Path(self.model.profiles_file) if self.model.profiles_file else SHIPPED


def load_config(path: str | None) -> CollectorConfig:
    return load_file(CollectorConfig, path)
