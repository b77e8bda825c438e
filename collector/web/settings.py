"""Settings of the HTTP side (collector/web/): the listener, its tokens and TLS, agent
enrolment with Mosquitto's dynamic security, and the web view."""

from __future__ import annotations

from dataclasses import dataclass

from energy_common.configspec import opt, section
from energy_common.tls import TlsConfig


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
