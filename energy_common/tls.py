"""TLS settings of a client connection (agent to broker or collector, collector to broker) and
the SSL context made from them."""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from typing import Protocol

from energy_common.configspec import opt


@dataclass
class TlsConfig:
    enabled: bool = opt(False, "Use TLS.")
    ca_file: str | None = opt(None, "CA bundle to verify the server (system store if unset).")
    cert_file: str | None = opt(None, "Client certificate (PEM) for mutual TLS.")
    key_file: str | None = opt(None, "Client private key (PEM) for mutual TLS.")
    insecure: bool = opt(False, "Skip server certificate verification (testing only).")


class ServerCheck(Protocol):
    """What verifying a server needs: a TlsConfig, or an HTTP section's `ca_file`/`insecure`."""

    ca_file: str | None
    insecure: bool


def ssl_context(tls: ServerCheck) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=tls.ca_file)
    if isinstance(tls, TlsConfig) and tls.cert_file:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    if tls.insecure:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx
