"""HTTP: agents POST reports; the same server answers /metrics, /api/v1/status, /healthz.

POST /api/v1/reports answers only after the ledger has committed the report (200 with
`{"result": "accepted" | "duplicate"}`), 400 with the rejection reason whatever went wrong
with this report alone (the agent then keeps it aside and moves on), 401 without the right
bearer token (the agent keeps everything and retries), 413 for a body over the limit, 503
only when the report could not be committed in time: the ledger is down, or the queue is
long (the agent retries later; the queued report is committed meanwhile).
"""

from __future__ import annotations

import hmac
import json
import logging
import ssl
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from collector.pipeline import Outcome, Pipeline

log = logging.getLogger("energy_collector.http")

# extra GET routes: query parameters → (status code, body, content type)
Route = Callable[[dict[str, str]], tuple[int, bytes, str]]

WAIT_FOR_LEDGER_S = 30.0


class IngestServer:
    def __init__(
        self,
        pipeline: Pipeline,
        listen: str,
        port: int,
        token: str | None,
        max_body: int,
        status: Callable[[], dict[str, Any]],
        tls: tuple[str, str] | None = None,
        routes: dict[str, Route] | None = None,
    ) -> None:
        self.pipeline = pipeline
        handler = self._handler(pipeline, token, max_body, status, routes or {})
        self.server = ThreadingHTTPServer((listen, port), handler)
        self.server.daemon_threads = True
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*tls)
            self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, name="http", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    @staticmethod
    def _handler(
        pipeline: Pipeline,
        token: str | None,
        max_body: int,
        status: Callable[[], dict[str, Any]],
        routes: dict[str, Route],
    ) -> type[BaseHTTPRequestHandler]:
        expected = f"Bearer {token}".encode() if token else None

        class Handler(BaseHTTPRequestHandler):
            server_version = "energy-collector"
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                log.debug("%s " + fmt, self.client_address[0], *args)

            def _send(self, code: int, body: bytes, ctype: str = "application/json") -> None:
                self.send_response(code)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, code: int, doc: dict[str, Any]) -> None:
                self._send(code, json.dumps(doc).encode())

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0]
                if path == "/metrics":
                    self._send(200, generate_latest(pipeline.metrics.registry), CONTENT_TYPE_LATEST)
                elif path == "/api/v1/status":
                    self._json(200, status())
                elif path == "/healthz":
                    self._send(200, b"ok\n", "text/plain")
                elif path in routes:
                    from urllib.parse import parse_qsl

                    query = dict(parse_qsl(self.path.partition("?")[2]))
                    try:
                        code, body, ctype = routes[path](query)
                    except ValueError as exc:
                        code, body, ctype = (
                            400,
                            json.dumps({"error": str(exc)}).encode(),
                            "application/json",
                        )
                    self._send(code, body, ctype)
                else:
                    self._json(404, {"error": "not found"})

            def do_POST(self) -> None:
                if self.path.split("?", 1)[0] != "/api/v1/reports":
                    self._json(404, {"error": "not found"})
                    return
                if expected is not None:
                    got = (self.headers.get("Authorization") or "").encode()
                    if not hmac.compare_digest(got, expected):
                        self.close_connection = True
                        self._json(401, {"error": "missing or wrong bearer token"})
                        return
                try:
                    length = int(self.headers.get("Content-Length", ""))
                except ValueError:
                    self.close_connection = True
                    self._json(411, {"error": "Content-Length required"})
                    return
                if length > max_body:
                    pipeline.metrics.rejections.labels("oversized").inc()
                    pipeline.metrics.reports.labels("rejected").inc()
                    self.close_connection = True
                    self._json(
                        413,
                        {
                            "result": "rejected",
                            "reason": "oversized",
                            "detail": f"{length} bytes > {max_body}",
                        },
                    )
                    return
                body = self.rfile.read(length)
                done = threading.Event()
                box: list[Outcome] = []

                def finished(outcome: Outcome) -> None:
                    box.append(outcome)
                    done.set()

                pipeline.submit(body, finished)
                if not done.wait(WAIT_FOR_LEDGER_S):
                    # still queued: it will be committed, and the retry answered `duplicate`
                    why = (
                        "ledger unavailable"
                        if pipeline.committer.down
                        else f"ingest queue busy ({pipeline.q.qsize()} waiting)"
                    )
                    self._json(503, {"error": f"{why}; retry later"})
                    return
                o = box[0]
                if o.result == "rejected":
                    self._json(400, {"result": "rejected", "reason": o.reason, "detail": o.detail})
                else:
                    self._json(200, {"result": o.result})

        return Handler
