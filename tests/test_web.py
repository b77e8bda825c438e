"""The HTTP side under attack: a client that never starts TLS, a body that lies about its
size or never arrives, hundreds of half-sent requests, reads without credentials, a blank
token file, an open listener without TLS or tokens."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
import urllib.request

import pytest
from collector_helpers import make_config, post, running, url
from services import make_tls

from agent.config import ConfigError
from collector.simulate import SimConfig, Simulation


@pytest.fixture(scope="module")
def body() -> bytes:
    sim = Simulation(SimConfig(agents=1, days=1, seed=5))
    return next(iter(sim.reports()))[3]


def raw(port: int, data: bytes, timeout: float = 10.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        out = b""
        while True:
            try:
                chunk = s.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            out += chunk
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                n = next(
                    (
                        int(line.split(b":")[1])
                        for line in head.split(b"\r\n")
                        if line.lower().startswith(b"content-length:")
                    ),
                    0,
                )
                if len(rest) >= n:
                    break
        return out


def test_a_client_that_never_sends_a_client_hello_blocks_no_one(tmp_path, body):
    certs = make_tls(tmp_path / "tls")
    cfg = make_config(tmp_path, http={"tls_cert": str(certs["cert"]), "tls_key": str(certs["key"])})
    with running(cfg) as c:
        silent = [socket.create_connection(("127.0.0.1", c.http.port)) for _ in range(20)]
        try:
            ctx = ssl.create_default_context(cafile=str(certs["ca"]))
            t0 = time.monotonic()
            req = urllib.request.Request(
                f"https://localhost:{c.http.port}/api/v1/reports", data=body, method="POST"
            )
            with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
                assert json.loads(r.read())["result"] == "accepted"
            assert time.monotonic() - t0 < 5
        finally:
            for s in silent:
                s.close()


def test_a_body_larger_than_the_limit_is_refused_whatever_it_declares(tmp_path, body):
    with running(make_config(tmp_path, http={"max_body_bytes": 4096})) as c:
        port = c.http.port
        # a negative length is a malformed request, not a way round the limit
        head = b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n"
        assert raw(port, head).startswith(b"HTTP/1.1 400")
        # chunked, no length at all: cut at the limit, not read to the end
        chunk = b"x" * 1000
        big = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(50)) + b"0\r\n\r\n"
        head = b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        answer = raw(port, head + big)
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        declared = b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
        assert raw(port, declared).startswith(b"HTTP/1.1 413")
        assert post(url(c), body)[1]["result"] == "accepted"  # and it still serves


def test_half_sent_requests_time_out_and_hold_no_one(tmp_path, body):
    with running(make_config(tmp_path, http={"body_timeout_s": 1.0})) as c:
        port = c.http.port
        head = b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n"
        held = []
        for _ in range(200):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(head + b"{")  # and never the rest
            held.append(s)
        try:
            t0 = time.monotonic()
            assert post(url(c), body)[1]["result"] == "accepted"
            assert time.monotonic() - t0 < 3
            held[0].settimeout(5)
            assert held[0].recv(100).startswith(b"HTTP/1.1 408")
        finally:
            for s in held:
                s.close()


def test_keep_alive_serves_several_requests_on_one_connection(tmp_path):
    with (
        running(make_config(tmp_path)) as c,
        socket.create_connection(("127.0.0.1", c.http.port), timeout=5) as s,
    ):
        for _ in range(3):
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            got = b""
            while not got.endswith(b"ok\n"):
                got += s.recv(4096)
            assert got.startswith(b"HTTP/1.1 200")


def test_reads_need_the_read_token_and_writes_the_ingest_token(tmp_path, body):
    (tmp_path / "read").write_text("r3ad\n")
    (tmp_path / "write").write_text("wr1te\n")
    http = {"read_token_file": str(tmp_path / "read"), "token_file": str(tmp_path / "write")}
    with running(make_config(tmp_path, http=http)) as c:
        for path in ("/metrics", "/api/v1/status", "/api/v1/compliance/rates?from=2026-01-01"):
            req = urllib.request.Request(url(c, path))
            with pytest.raises(urllib.error.HTTPError) as exc:
                urllib.request.urlopen(req, timeout=5)
            assert exc.value.code == 401, path
            req.add_header("Authorization", "Bearer wr1te")  # an agent's token reads nothing
            with pytest.raises(urllib.error.HTTPError):
                urllib.request.urlopen(req, timeout=5)
        req = urllib.request.Request(url(c, "/metrics"), headers={"Authorization": "Bearer r3ad"})
        with urllib.request.urlopen(req, timeout=5) as r:
            assert b"energy_reports_total" in r.read()
        with urllib.request.urlopen(url(c, "/healthz"), timeout=5) as r:
            assert r.status == 200  # liveness stays open: it says nothing
        assert post(url(c), body, token="r3ad")[0] == 401  # the read token writes nothing
        assert post(url(c), body, token="wr1te")[1]["result"] == "accepted"


def test_a_blank_token_file_is_an_error_not_no_authentication(tmp_path):
    from collector.app import Collector

    (tmp_path / "token").write_text("\nsecond line\n")
    cfg = make_config(tmp_path, http={"token_file": str(tmp_path / "token")})
    with pytest.raises(ConfigError, match="first line is empty"):
        Collector(cfg)


def test_listening_beyond_loopback_needs_tls_and_tokens(tmp_path):
    with pytest.raises(ConfigError, match=r"http.listen: 0.0.0.0 is reachable"):
        make_config(tmp_path, http={"listen": "0.0.0.0"})
    make_config(tmp_path, http={"listen": "0.0.0.0", "allow_insecure": True})
    (tmp_path / "t").write_text("x\n")
    make_config(
        tmp_path,
        http={
            "listen": "0.0.0.0",
            "tls_cert": "c.pem",
            "tls_key": "k.pem",
            "token_file": str(tmp_path / "t"),
            "read_token_file": str(tmp_path / "t"),
        },
    )


def test_many_parallel_posts_are_all_answered(tmp_path):
    sim = Simulation(SimConfig(agents=20, days=1, seed=6))
    bodies = [b for _, _, _, b in sim.reports()][:400]
    with running(make_config(tmp_path)) as c:
        results: list[str] = []
        lock = threading.Lock()

        def send(chunk: list[bytes]) -> None:
            for b in chunk:
                r = post(url(c), b)[1]["result"]
                with lock:
                    results.append(r)

        threads = [threading.Thread(target=send, args=(bodies[i::16],)) for i in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == ["accepted"] * len(bodies)


def test_prometheus_scrapes_with_the_read_token_and_is_refused_without(tmp_path):
    from collector_helpers import wait_for
    from services import Prometheus

    (tmp_path / "read").write_text("r3ad\n")
    (tmp_path / "wrong").write_text("nope\n")
    http = {"read_token_file": str(tmp_path / "read")}
    with running(make_config(tmp_path, http=http)) as c:
        target = [f"127.0.0.1:{c.http.port}"]
        good = Prometheus(tmp_path / "p1", target, credentials_file=tmp_path / "read").start()
        bad = Prometheus(tmp_path / "p2", target, credentials_file=tmp_path / "wrong").start()
        try:
            wait_for(lambda: good.query("up == 1"), 30, "scraped with the read token")
            wait_for(lambda: bad.query("up == 0"), 30, "refused with another token")
            assert good.query("energy_reports_total")
        finally:
            good.stop()
            bad.stop()


def test_a_client_sending_its_headers_a_byte_at_a_time_is_cut_off(tmp_path, body):
    with running(make_config(tmp_path, http={"header_timeout_s": 1.0})) as c:
        s = socket.create_connection(("127.0.0.1", c.http.port), timeout=10)
        try:
            t0 = time.monotonic()
            closed = False
            for ch in b"POST /api/v1/reports HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 40:
                try:
                    s.sendall(bytes([ch]))
                except OSError:
                    closed = True
                    break
                s.settimeout(0.1)
                try:
                    if s.recv(100) == b"":
                        closed = True
                        break
                except TimeoutError:
                    pass
            assert closed, "the server kept a connection whose headers never ended"
            assert time.monotonic() - t0 < 4
        finally:
            s.close()
        assert post(url(c), body)[1]["result"] == "accepted"
