"""uvicorn in a thread of its own, on a socket bound before it starts (so port 0 works).

uvicorn runs on asyncio: a TLS handshake, a slow client or a half-sent body holds a
coroutine, never the accept loop or a thread. Bounds: `limit_concurrency` connections and
tasks at once (then 503), keep-alive idle timeout, a header size cap (h11), and the routes'
own body limit and read timeout (collector/web/routes.py).
"""

from __future__ import annotations

import logging
import socket
import ssl
import threading
import time

import uvicorn
from starlette.applications import Starlette

log = logging.getLogger("energy_collector.http")


class WebServer:
    def __init__(
        self,
        app: Starlette,
        listen: str,
        port: int,
        tls: tuple[str, str] | None = None,
        max_connections: int = 512,
        keepalive_s: float = 15.0,
    ) -> None:
        family = socket.AF_INET6 if ":" in listen else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((listen, port))
        self.sock.listen(1024)
        self.sock.setblocking(False)
        self.port = int(self.sock.getsockname()[1])
        self.tls = tls is not None
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
            ssl_version=ssl.PROTOCOL_TLS_SERVER,
            limit_concurrency=max_connections,
            timeout_keep_alive=int(keepalive_s),
            h11_max_incomplete_event_size=16 * 1024,  # request line + headers
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
