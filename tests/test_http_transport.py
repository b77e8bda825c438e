"""HTTP transport against a local HTTP(S) server: token, retries, rejections, TLS."""

from __future__ import annotations

import json
import ssl
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from fakes import FakePlatform
from services import make_tls

from agent.config import AgentConfig, HttpConfig
from agent.service import Agent
from agent.transport import HttpTransport
from energy_common.schema import parse_report


class Receiver:
    """A collector stand-in; `answer` decides the status code of the next requests."""

    def __init__(self, tls: dict | None = None) -> None:
        self.bodies: list[dict] = []
        self.auth: list[str | None] = []
        self.answer = 204
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.auth.append(self.headers.get("Authorization"))
                code = outer.answer
                if code < 300:
                    outer.bodies.append(json.loads(body))
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        scheme = "http"
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls["cert"], tls["key"])
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
            scheme = "https"
        self.url = f"{scheme}://localhost:{self.server.server_address[1]}/api/v1/reports"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def make_agent(tmp_path, http: HttpConfig) -> Agent:
    cfg = AgentConfig(state_dir=str(tmp_path / "state"), transport="http", http=http)
    p = FakePlatform()
    agent = Agent(cfg, platform=p, transport=HttpTransport(http))
    agent.startup()
    agent._fake = p  # type: ignore[attr-defined]
    return agent


def produce(agent: Agent, n: int) -> None:
    for _ in range(n):
        agent._fake.run(60)  # type: ignore[attr-defined]
        agent.step()
        agent.report()


def test_reports_posted_with_bearer_token(tmp_path, receiver):
    agent = make_agent(tmp_path, HttpConfig(url=receiver.url, token="s3cret"))
    produce(agent, 3)
    agent.transport.pump(agent.spool)
    assert [b["seq"] for b in receiver.bodies] == [0, 1, 2]
    assert set(receiver.auth) == {"Bearer s3cret"}
    assert len(agent.spool) == 0
    for b in receiver.bodies:
        parse_report(json.dumps(b))


def test_server_error_keeps_reports_then_drains_in_order(tmp_path, receiver):
    agent = make_agent(tmp_path, HttpConfig(url=receiver.url))
    receiver.answer = 503
    produce(agent, 3)
    agent.transport.pump(agent.spool)
    assert agent.spool.seqs() == [0, 1, 2] and receiver.bodies == []
    receiver.answer = 200
    agent.transport._retry_at = 0  # skip the backoff wait
    agent.transport.pump(agent.spool)
    assert [b["seq"] for b in receiver.bodies] == [0, 1, 2]


def test_unreachable_collector_keeps_reports(tmp_path):
    agent = make_agent(tmp_path, HttpConfig(url="http://127.0.0.1:9/nowhere", timeout_s=1))
    produce(agent, 2)
    agent.transport.pump(agent.spool)
    assert agent.spool.seqs() == [0, 1]


def test_a_stop_does_not_wait_on_an_unreachable_collector(tmp_path):
    """flush() at stop gives reports a chance to leave, but none to a destination that is
    away: a service stop (and so a shutdown or an MSI uninstall) is not held for it."""
    agent = make_agent(tmp_path, HttpConfig(url="http://127.0.0.1:9/nowhere", timeout_s=1))
    produce(agent, 2)
    attempts = []
    real_pump = agent.transport.pump
    agent.transport.pump = lambda spool: attempts.append(1) or real_pump(spool)  # type: ignore[method-assign]
    agent.transport.flush(agent.spool, timeout_s=30)
    assert len(attempts) == 1  # one try, then backing off: no waiting out the 30 s
    assert agent.spool.seqs() == [0, 1]
    assert not agent.transport.can_deliver()


def test_rejected_report_is_kept_aside_and_does_not_block(tmp_path, receiver):
    agent = make_agent(tmp_path, HttpConfig(url=receiver.url))
    receiver.answer = 400
    produce(agent, 1)
    agent.transport.pump(agent.spool)
    assert len(agent.spool) == 0
    assert (tmp_path / "state/spool/rejected/000000000000.json").exists()
    receiver.answer = 204
    produce(agent, 1)
    agent.transport.pump(agent.spool)
    assert [b["seq"] for b in receiver.bodies] == [1]


def test_https_verified_against_ca_file(tmp_path):
    certs = make_tls(tmp_path / "tls")
    r = Receiver(tls=certs)
    try:
        agent = make_agent(tmp_path, HttpConfig(url=r.url, ca_file=str(certs["ca"])))
        produce(agent, 1)
        agent.transport.pump(agent.spool)
        assert [b["seq"] for b in r.bodies] == [0]
        # the wrong CA: nothing sent, nothing lost
        other = make_tls(tmp_path / "other")
        agent2 = make_agent(tmp_path / "b", HttpConfig(url=r.url, ca_file=str(other["ca"])))
        produce(agent2, 1)
        agent2.transport.pump(agent2.spool)
        assert agent2.spool.seqs() == [0] and len(r.bodies) == 1
    finally:
        r.close()
