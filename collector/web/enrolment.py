"""Agent credentials: enrolment with a site secret, one bearer token per agent bound to its
agent id, revocation.

An agent installed with the site's enrolment secret (dropped by the MSI or the Linux
package) POSTs `{"agent_id", "hostname"}` to /api/v1/enrol once with that secret as its
bearer token, and gets a token of its own, which it keeps in its state directory (0600). The
ledger stores only the token's SHA-256 (`agent_credentials`). A report posted with an agent's
token must carry that agent's id (else `identity`). An agent id that is already enrolled
cannot enrol again with the site secret (that would let any holder of the secret take over a
PC's identity): ops reset it first (`energy-collector agents reset ID`); a reinstalled PC has
a new agent id and simply enrols. Revoked agents are refused (403) until reset. The secret
rotates by naming the new one in `enrolment.secret_file` and the old one in
`enrolment.previous_secret_file` until every installer carries the new one.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

from collector.config import CollectorConfig
from collector.ledger import Ledger
from collector.web.dynsec import Dynsec, DynsecError
from energy_common.configspec import read_secret
from energy_common.schema import REPORT_SCHEMA, ReportError, validate

UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
CACHE_S = 30.0  # a revocation reaches every collector within this


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


@dataclass(frozen=True)
class Credential:
    agent_id: str
    revoked: bool


class EnrolmentError(Exception):
    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


class Credentials:
    """The agents' tokens, in the ledger (shared by every collector on it), cached briefly."""

    def __init__(self, ledger: Ledger, secrets_: list[str], dynsec: Dynsec | None = None) -> None:
        self.ledger = ledger
        self.dynsec = dynsec
        self.secrets = [s.encode() for s in secrets_ if s]
        self._cache: dict[str, tuple[float, Credential | None]] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return bool(self.secrets)

    def is_site_secret(self, presented: str) -> bool:
        got = presented.encode("utf-8", "replace")
        # compare with every secret, always: no timing hint of which one matched
        return any([hmac.compare_digest(got, s) for s in self.secrets])

    def lookup(self, token: str) -> Credential | None:
        h = token_hash(token)
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(h)
            if hit is not None and now - hit[0] < CACHE_S:
                return hit[1]
        rows = self.ledger.execute(
            "SELECT agent_id, revoked_at FROM agent_credentials WHERE token_sha256 = ?", (h,)
        )
        cred = Credential(rows[0][0], rows[0][1] is not None) if rows else None
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[h] = (now, cred)
        return cred

    def enrol(self, agent_id: str, hostname: str) -> dict[str, Any]:
        """The new agent's credentials: `token` (HTTP), and `mqtt` {username, password}
        when the broker's dynamic-security plugin is configured."""
        if not UUID.match(agent_id):
            raise EnrolmentError(400, "agent_id: a lower-case UUID")
        try:  # the same rules as the hostname in a report
            validate(hostname, REPORT_SCHEMA["properties"]["host"]["properties"]["hostname"])
        except ReportError as exc:
            raise EnrolmentError(400, f"hostname: {exc.detail}") from None
        rows = self.ledger.execute(
            "SELECT revoked_at FROM agent_credentials WHERE agent_id = ?", (agent_id,)
        )
        if rows:
            if rows[0][0] is not None:
                raise EnrolmentError(403, f"agent {agent_id} is revoked; ops can reset it")
            raise EnrolmentError(
                409, f"agent {agent_id} is already enrolled; ops can reset it to enrol again"
            )
        token = secrets.token_urlsafe(32)
        try:
            self.ledger.write(
                "INSERT INTO agent_credentials (agent_id, token_sha256, hostname, enrolled_at) "
                "VALUES (?, ?, ?, ?)",
                (agent_id, token_hash(token), hostname, time.time()),
            )
        except Exception as exc:  # two enrolments of one id at once: one wins
            raise EnrolmentError(409, f"agent {agent_id} is already enrolled") from exc
        out: dict[str, Any] = {"agent_id": agent_id, "token": token}
        if self.dynsec is not None:
            try:
                out["mqtt"] = {"username": agent_id, "password": self.dynsec.create_agent(agent_id)}
            except DynsecError as exc:
                # nothing half-made stays: the agent enrols again later
                self.ledger.write("DELETE FROM agent_credentials WHERE agent_id = ?", (agent_id,))
                raise EnrolmentError(503, f"broker credentials not created: {exc}") from None
        return out


def revoke(ledger: Ledger, agent_id: str, dynsec: Dynsec | None = None) -> bool:
    """Refuse the agent from now on: its HTTP token (within CACHE_S on every collector) and
    its MQTT client (at once: the plugin disconnects it)."""
    n = ledger.write(
        "UPDATE agent_credentials SET revoked_at = ? WHERE agent_id = ? AND revoked_at IS NULL",
        (time.time(), agent_id),
    )
    if dynsec is not None:
        dynsec.delete_agent(agent_id)
    return n > 0


def reset(ledger: Ledger, agent_id: str, dynsec: Dynsec | None = None) -> bool:
    """Forget an agent's credentials: it may enrol again (a PC restored with its old id)."""
    if dynsec is not None:
        dynsec.delete_agent(agent_id)
    return ledger.write("DELETE FROM agent_credentials WHERE agent_id = ?", (agent_id,)) > 0


def listing(ledger: Ledger) -> list[tuple[str, str, float, float | None]]:
    rows = ledger.execute(
        "SELECT agent_id, hostname, enrolled_at, revoked_at FROM agent_credentials "
        "ORDER BY enrolled_at"
    )
    return [
        (str(a), str(h or ""), float(e), None if r is None else float(r)) for a, h, e, r in rows
    ]


def dynsec_for(cfg: CollectorConfig) -> Dynsec | None:
    """The dynamic-security client the configuration asks for (CollectorConfig), or None."""

    d = cfg.enrolment.dynsec
    if not d.enabled:
        return None
    password = read_secret(None, d.password_file, "enrolment.dynsec.password_file")
    return Dynsec(d, password, cfg.mqtt.topic_prefix)
