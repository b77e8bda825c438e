"""MQTT credentials for enrolled agents, through Mosquitto's dynamic-security plugin.

Mosquitto 2.0's plugin has no `%u` in role ACLs (eclipse-mosquitto/mosquitto#2222): each
agent gets a role of its own, `agent-<id>`, allowing exactly its topics (publish its report
and status, subscribe to and receive its ack), and a client `<id>` with a random password and
that role. Revoking deletes both (the plugin disconnects the client at once). Commands go to
`$CONTROL/dynamic-security/v1` as the plugin's admin user; each waits for its answer.
"""

from __future__ import annotations

import json
import secrets
import threading
import uuid
from typing import Any

import paho.mqtt.client as mqtt

from collector.web.settings import DynsecConfig
from energy_common.tls import ssl_context

CONTROL = "$CONTROL/dynamic-security/v1"


class DynsecError(RuntimeError):
    pass


def agent_acls(prefix: str, agent_id: str) -> list[dict[str, Any]]:
    base = f"{prefix}/{agent_id}"
    return [
        {"acltype": "publishClientSend", "topic": f"{base}/report", "allow": True},
        {"acltype": "publishClientSend", "topic": f"{base}/status", "allow": True},
        {"acltype": "subscribePattern", "topic": f"{base}/ack", "allow": True},
        {"acltype": "publishClientReceive", "topic": f"{base}/ack", "allow": True},
    ]


class Dynsec:
    def __init__(self, cfg: DynsecConfig, password: str | None, prefix: str) -> None:
        self.cfg = cfg
        self.password = password
        self.prefix = prefix
        self._lock = threading.Lock()  # one command at a time: simple, and enrolments are rare

    def run(self, commands: list[dict[str, Any]], timeout_s: float = 10.0) -> list[dict[str, Any]]:
        """Send commands; return their responses; raise DynsecError if any failed."""
        with self._lock:
            for c in commands:
                c["correlationData"] = uuid.uuid4().hex
            want = {c["correlationData"] for c in commands}
            got: dict[str, dict[str, Any]] = {}
            done = threading.Event()
            ready = threading.Event()
            client = mqtt.Client(
                callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
                client_id=f"energy-collector-dynsec-{uuid.uuid4().hex[:8]}",
                protocol=mqtt.MQTTv5,
            )
            client.username_pw_set(self.cfg.username, self.password)
            if self.cfg.tls.enabled:
                client.tls_set_context(ssl_context(self.cfg.tls))

            def on_connect(c: Any, u: Any, f: Any, reason: Any, p: Any) -> None:
                if not reason.is_failure:
                    c.subscribe(f"{CONTROL}/response", qos=1)

            def on_subscribe(c: Any, u: Any, mid: Any, codes: Any, p: Any) -> None:
                ready.set()

            def on_message(c: Any, u: Any, msg: Any) -> None:
                try:
                    for r in json.loads(msg.payload).get("responses", []):
                        if r.get("correlationData") in want:
                            got[r["correlationData"]] = r
                except ValueError:
                    return
                if want <= got.keys():
                    done.set()

            client.on_connect = on_connect
            client.on_subscribe = on_subscribe
            client.on_message = on_message
            try:
                client.connect(self.cfg.host, self.cfg.port, keepalive=30)
            except OSError as exc:
                raise DynsecError(f"broker {self.cfg.host}:{self.cfg.port}: {exc}") from None
            client.loop_start()
            try:
                if not ready.wait(timeout_s):
                    raise DynsecError("no answer from the broker's dynamic-security plugin")
                client.publish(CONTROL, json.dumps({"commands": commands}), qos=1)
                if not done.wait(timeout_s):
                    raise DynsecError("the dynamic-security plugin did not answer in time")
            finally:
                client.disconnect()
                client.loop_stop()
        failed = [r for r in got.values() if r.get("error")]
        if failed:
            raise DynsecError("; ".join(f"{r.get('command')}: {r['error']}" for r in failed))
        return [got[c["correlationData"]] for c in commands]

    def create_agent(self, agent_id: str) -> str:
        """The agent's MQTT password (its user name is its id)."""
        password = secrets.token_urlsafe(24)
        role = f"agent-{agent_id}"
        self.run(
            [
                {
                    "command": "createRole",
                    "rolename": role,
                    "acls": agent_acls(self.prefix, agent_id),
                },
                {
                    "command": "createClient",
                    "username": agent_id,
                    "password": password,
                    "roles": [{"rolename": role}],
                },
            ]
        )
        return password

    def delete_agent(self, agent_id: str) -> None:
        """Remove the agent's client and role; what was already gone is fine."""
        for cmd in (
            {"command": "deleteClient", "username": agent_id},
            {"command": "deleteRole", "rolename": f"agent-{agent_id}"},
        ):
            try:
                self.run([cmd])
            except DynsecError as exc:
                if "not found" not in str(exc).lower():
                    raise
