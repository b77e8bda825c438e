"""Enrolment: the site secret traded once for this agent's own credentials.

`<state_dir>/credentials.json` (0600, written atomically) holds what the collector gave: an
HTTP token and, where the broker runs Mosquitto's dynamic-security plugin, an MQTT user name
and password scoped to this agent's topics. The site secret is then no longer needed.
"""

from __future__ import annotations

import json
import logging
import os
import ssl
from pathlib import Path
from typing import Any

log = logging.getLogger("energy_agent.enrolment")


class EnrolmentFailed(Exception):
    pass


def load(state_dir: Path | None, agent_id: str) -> dict[str, Any] | None:
    if state_dir is None:
        return None
    try:
        doc = json.loads((state_dir / "credentials.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("agent_id") == agent_id else None


def save(state_dir: Path | None, doc: dict[str, Any]) -> None:
    if state_dir is None:
        return
    path = state_dir / "credentials.json"
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, json.dumps(doc).encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def enrol(
    url: str,
    secret: str,
    agent_id: str,
    hostname: str,
    context: ssl.SSLContext | None,
    timeout_s: float,
) -> dict[str, Any]:
    """POST the enrolment; the collector's answer ({agent_id, token[, mqtt]})."""
    import urllib.error
    import urllib.request

    body = json.dumps({"agent_id": agent_id, "hostname": hostname}).encode()
    req = urllib.request.Request(url, data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    req.add_header("Authorization", f"Bearer {secret}")
    try:
        with urllib.request.urlopen(req, timeout=timeout_s, context=context) as r:
            doc = json.loads(r.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read(300).decode(errors="replace")
        raise EnrolmentFailed(f"{url}: HTTP {exc.code} {detail}") from None
    except (OSError, ValueError) as exc:
        raise EnrolmentFailed(f"{url}: {getattr(exc, 'reason', exc)}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("token"), str):
        raise EnrolmentFailed(f"{url}: no token in the answer")
    return doc
