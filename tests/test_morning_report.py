"""The morning report reaches a local SMTP server and HTTP receivers; a receiver that is down
is retried without blocking the collector; the HTTP API serves JSON and CSV."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from aiosmtpd.controller import Controller
from collector_helpers import make_config, running, url
from services import free_port
from test_compliance import CONFIG, nov, reports

from collector.compliance.delivery import Deliverer
from collector.compliance.report import to_text
from collector.compliance.settings import ReportConfig, SmtpConfig, WebhookConfig


class Inbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


class Hook:
    def __init__(self, fail_first: int = 0) -> None:
        self.bodies: list[dict] = []
        self.fail_first = fail_first
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if outer.fail_first > 0:
                    outer.fail_first -= 1
                    self.send_response(503)
                else:
                    outer.bodies.append(json.loads(body))
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture(scope="module")
def report_doc(tmp_path_factory):
    with running(make_config(tmp_path_factory.mktemp("r"), **CONFIG)) as c:
        c.pipeline.process([(r, None) for r in reports()])
        yield c.morning_report(nov(3, 10))


def wait(pred, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not pred():
        time.sleep(0.05)
    return pred()


def test_email_with_csv_attachment_reaches_smtp(report_doc):
    inbox = Inbox()
    port = free_port()
    ctl = Controller(inbox, hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        cfg = ReportConfig(
            smtp=SmtpConfig(
                host="127.0.0.1", port=port, starttls=False, recipients=["dsi@example.org"]
            ),
            retries=2,
            retry_delay_s=0.1,
        )
        d = Deliverer(cfg)
        for th in d.deliver(report_doc):
            th.join(10)
        assert d.results == [(f"smtp://127.0.0.1:{port}", True)]
        (raw,) = inbox.messages
        text = raw.decode("utf-8", errors="replace")
        assert "Subject: Rapport du matin" in text
        assert "machines-allumees-2027-11-02.csv" in text
    finally:
        ctl.stop()


def test_webhooks_json_and_text_with_retry(report_doc):
    generic, chat = Hook(), Hook(fail_first=2)
    try:
        cfg = ReportConfig(
            webhooks=[
                WebhookConfig(url=generic.url, format="json"),
                WebhookConfig(url=chat.url, format="text"),
            ],
            retries=4,
            retry_delay_s=0.05,
        )
        d = Deliverer(cfg)
        for th in d.deliver(report_doc):
            th.join(10)
        assert generic.bodies[0]["summary"]["rate"] == 0.75
        assert chat.bodies[0]["text"].startswith("**Rapport du matin")
        assert sorted(ok for _, ok in d.results) == [True, True]
    finally:
        generic.close()
        chat.close()


def test_receiver_down_is_retried_without_blocking(report_doc):
    cfg = ReportConfig(
        webhooks=[WebhookConfig(url=f"http://127.0.0.1:{free_port()}/x")],
        retries=3,
        retry_delay_s=0.2,
    )
    d = Deliverer(cfg)
    t0 = time.monotonic()
    threads = d.deliver(report_doc)
    assert time.monotonic() - t0 < 0.1  # the caller is not held up
    for th in threads:
        th.join(10)
    assert d.results == [(cfg.webhooks[0].url, False)]


def test_report_api_json_csv_and_english(tmp_path):
    with running(make_config(tmp_path, **CONFIG)) as c:
        c.pipeline.process([(r, None) for r in reports()])
        base = url(c, "/api/v1/compliance/report")
        with urllib.request.urlopen(f"{base}?date=2027-11-03") as r:
            doc = json.load(r)
        assert doc["summary"]["rate"] == 0.75 and doc["language"] == "fr"
        with urllib.request.urlopen(f"{base}?date=2027-11-03&format=csv") as r:
            assert r.headers["Content-Type"].startswith("text/csv")
            assert b"PC-B" in r.read()
        with urllib.request.urlopen(f"{base}?date=2027-11-03&format=text&lang=en") as r:
            assert b"Compliance rate" in r.read()
        with pytest.raises(urllib.error.HTTPError) as exc:
            urllib.request.urlopen(f"{base}?date=03/11/2027")
        assert exc.value.code == 400
        # the first and last days of the calendar: the night around them is out of range
        for day in ("0001-01-01", "9999-12-31"):
            with pytest.raises(urllib.error.HTTPError) as exc:
                urllib.request.urlopen(f"{base}?date={day}")
            assert exc.value.code == 400
            assert b"date: between 1970-01-02 and 9998-12-30" in exc.value.read()


def test_rates_over_a_week_by_department(tmp_path):
    with running(make_config(tmp_path, **CONFIG)) as c:
        c.pipeline.process([(r, None) for r in reports()])
        with urllib.request.urlopen(
            url(c, "/api/v1/compliance/rates") + "?from=2027-10-25&to=2027-10-31&by=department"
        ) as r:
            doc = json.load(r)
    # the week holds P1 (Thursday night) and P2 (the long weekend): 4 hosts × 2 periods;
    # left on: B twice, E once; C at exactly the tolerance is compliant
    (dsi,) = doc["rates"]
    assert (dsi["host_periods"], dsi["noncompliant"], dsi["compliant"]) == (8, 3, 5)
    assert dsi["rate"] == 0.625


def test_duplicated_identities_are_listed_for_ops(tmp_path):
    with running(make_config(tmp_path, **CONFIG)) as c:
        c.pipeline.process([(r, None) for r in reports()])
        c.ledger.write("UPDATE hosts SET duplicate_s = 7200 WHERE hostname = 'PC-B'")
        c.ledger.write("UPDATE hosts SET duplicate_s = 600 WHERE hostname = 'PC-C'")  # a reinstall
        rep = c.morning_report(nov(3, 10))
        assert [d["hostname"] for d in rep["duplicate_identities"]] == ["PC-B"]
        text = to_text(rep)
        assert "Identités d'agent dupliquées" in text and "PC-B" in text.split("dupliquées")[1]
        assert "2,0 h en double" in text
        assert "Duplicated agent identities" in to_text(rep, "en")
