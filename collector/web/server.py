"""uvicorn in a thread of its own, on a socket bound before it starts (so port 0 works).

uvicorn runs on asyncio: a TLS handshake, a slow client or a half-sent body holds a
coroutine, never the accept loop or a thread. Bounds: `limit_concurrency` connections and
tasks at once (then 503), keep-alive idle timeout, a deadline and a size cap for the request
line and headers, and the routes' own body limit and read timeout (collector/web/routes.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import threading
import time

import uvicorn
from starlette.applications import Starlette
from uvicorn.protocols.http.h11_impl import H11Protocol

log = logging.getLogger("energy_collector.http")

HEAD_LIMIT = 16 * 1024  # request line + headers (uvicorn's h11_max_incomplete_event_size)
TOO_LONG_URI = (
    "414 Adresse trop longue : cette adresse dépasse 16 Kio. Revenez à l'accueil.\n"
    "414 URI too long: this address is over 16 KiB. Go back to the home page.\n"
)
TOO_LARGE_HEADERS = (
    "431 En-têtes trop grands : la demande dépasse 16 Kio (cookies ?).\n"
    "431 Request headers too large: the request is over 16 KiB (cookies?).\n"
)


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol with a deadline for the request line and headers: uvicorn's
    keep-alive timer stops at the first byte received, so a client sending its headers a
    byte at a time (slowloris) would hold its connection for ever."""

    header_timeout_s = 10.0
    _head = b""
    _head_done = False

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # h11 writes an answer's head and body separately: with Nagle's algorithm the body
        # waits for the client's delayed ACK, ~40 ms per keep-alive answer (measured)
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._arm(self.header_timeout_s)

    def data_received(self, data: bytes) -> None:
        # the request head (line + headers) is bounded whether it comes in one piece (which
        # h11 accepts at any size) or byte by byte: past HEAD_LIMIT the answer is 414 for a
        # long address, 431 for long headers (RFC 9110, RFC 6585), then the connection closes
        if not self._head_done:
            self._head += data[: HEAD_LIMIT + 4 - len(self._head)]
            end = self._head.find(b"\r\n\r\n")
            if (end < 0 and len(self._head) > HEAD_LIMIT) or end > HEAD_LIMIT:
                line_end = self._head.find(b"\r\n")
                if line_end < 0 or line_end >= HEAD_LIMIT // 2:
                    return self._refuse(414, b"URI Too Long", TOO_LONG_URI)
                return self._refuse(431, b"Request Header Fields Too Large", TOO_LARGE_HEADERS)
            self._head_done = end >= 0
        super().data_received(data)

    def _refuse(self, code: int, reason: bytes, text: str) -> None:
        body = text.encode()
        head = (
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % (code, reason, len(body))
        )
        self.transport.write(head + body)
        self.transport.close()

    def on_response_complete(self) -> None:
        self._head, self._head_done = b"", False
        super().on_response_complete()
        # the next request may wait the keep-alive time, then has the header time
        self._arm(self.config.timeout_keep_alive + self.header_timeout_s)

    def _arm(self, after: float) -> None:
        self.loop.call_later(after, self._headers_due, self.cycle)

    def _headers_due(self, before: object) -> None:
        idle = self.cycle is before  # no new request since the timer was armed
        if idle and not self.transport.is_closing():
            self.transport.close()


class WebServer:
    def __init__(
        self,
        app: Starlette,
        listen: str,
        port: int,
        tls: tuple[str, str] | None = None,
        max_connections: int = 512,
        keepalive_s: float = 15.0,
        header_timeout_s: float = 10.0,
    ) -> None:
        family = socket.AF_INET6 if ":" in listen else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((listen, port))
        self.sock.listen(1024)
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.tls = tls is not None
        protocol = type("Protocol", (_Protocol,), {"header_timeout_s": header_timeout_s})
        config = uvicorn.Config(
            app,
            http=protocol,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
            ssl_version=ssl.PROTOCOL_TLS_SERVER,
            limit_concurrency=max_connections,
            timeout_keep_alive=int(keepalive_s),
            h11_max_incomplete_event_size=HEAD_LIMIT + 4,
            server_header=False,
            date_header=True,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._serve, name="http", daemon=True)

    def _serve(self) -> None:
        self.server.run(sockets=[self.sock])

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            if not self.thread.is_alive():
                raise RuntimeError("http: the server stopped at start (see the log)")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()
