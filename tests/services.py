"""Real services for the tests, started on loopback test ports with data in a temp dir.

Each service is started by this module and stopped by its PID: nothing already running on the
machine is touched. The binaries come from Debian packages that scripts/setup.sh installs.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_port() -> int:
    """A UDP port nobody holds: free_port() checks TCP only, and an snmpsim of a parallel
    test session on the same UDP port would answer our readiness GET in our simulator's
    place (seen: every community but apc-rpdu2 timing out)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes] | None, sig: int, timeout: float) -> None:
    """Stop a process we started: signal, wait, then kill; never leave it behind."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(sig)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def wait_port(port: int, timeout: float = 10.0, host: str = "127.0.0.1") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout} s")


def require_binary(name: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.path.exists(p)), None
    )
    if path is None:
        raise RuntimeError(f"{name} is not installed: run scripts/setup.sh (make test does)")
    return path


class Mosquitto:
    """A throw-away Mosquitto broker. `stop()`/`start()` keep its port and persistence."""

    def __init__(self, workdir: Path, port: int | None = None, extra_conf: str = "") -> None:
        self.binary = require_binary("mosquitto")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.conf = self.dir / "mosquitto.conf"
        lines = [
            f"listener {self.port} 127.0.0.1",
            "allow_anonymous true",
            "persistence true",
            f"persistence_location {self.dir}/",
            f"log_dest file {self.dir}/mosquitto.log",
            "log_type error",
            "log_type warning",
            "log_type notice",
            "max_queued_messages 0",
            "max_inflight_messages 0",
        ]
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to 'mosquitto' and cannot write here
        self.conf.write_text("\n".join(lines) + "\n" + extra_conf)
        self.proc: subprocess.Popen[bytes] | None = None

    @classmethod
    def production(
        cls,
        workdir: Path,
        passwd: Path | None = None,
        acl: Path | None = None,
        dynsec: Path | None = None,
    ) -> Mosquitto:
        """A broker running the shipped configs/mosquitto/energy.conf: every directive as
        shipped but the listener, the paths and the credential files (test ones; anonymous
        when none are given). `dynsec`: the plugin lines of configs/mosquitto/dynsec.conf
        instead of the password and ACL files, with this plugin state file."""
        m = cls(workdir)
        configs = Path(__file__).parent.parent / "configs/mosquitto"
        shipped = (configs / "energy.conf").read_text()
        if dynsec is not None:
            # the plugin's path has the architecture in it (x86_64-linux-gnu in the shipped
            # file): take this machine's
            found = sorted(Path("/usr/lib").glob("*/mosquitto_dynamic_security.so"))
            if not found:
                raise RuntimeError("mosquitto's dynamic-security plugin is missing: setup.sh")
            plugin = []
            for line in (configs / "dynsec.conf").read_text().splitlines():
                if line.startswith("plugin_opt_config_file"):
                    line = f"plugin_opt_config_file {dynsec}"
                elif line.startswith("plugin "):
                    line = f"plugin {found[0]}"
                plugin.append(line)
            shipped = shipped.replace("password_file", "\n".join(plugin) + "\n#password_file")
        swap = {
            "listener": f"listener {m.port} 127.0.0.1",
            "persistence_location": f"persistence_location {m.dir}/",
            "log_dest": f"log_dest file {m.dir}/mosquitto.log",
            "password_file": f"password_file {passwd}" if passwd else "",
            "acl_file": f"acl_file {acl}" if acl and dynsec is None else "",
            "allow_anonymous": "allow_anonymous false"
            if passwd or dynsec
            else "allow_anonymous true",
            "cafile": "",
            "certfile": "",
            "keyfile": "",
        }
        lines = []
        for line in shipped.splitlines():
            key = line.split(" ", 1)[0]
            lines.append(swap.get(key, line) if not line.startswith("#") else line)
        if os.geteuid() == 0:
            lines.append("user root")  # else it drops to 'mosquitto' and cannot write here
        m.conf.write_text("\n".join(lines) + "\n")
        return m

    def kill(self) -> None:
        """SIGKILL: a broker crash (whatever it had not saved is gone)."""
        stop_process(self.proc, signal.SIGKILL, 10)
        self.proc = None

    def start(self) -> Mosquitto:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_port(self.port)
        except TimeoutError:
            log = self.dir / "mosquitto.log"
            raise RuntimeError(
                f"mosquitto did not start: {log.read_text()[-2000:]}"
                if log.exists()
                else "mosquitto did not start"
            ) from None
        return self

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM, 10)
        self.proc = None


def make_tls(workdir: Path, host: str = "localhost") -> dict[str, Path]:
    """A throw-away CA and a server certificate for `host` and 127.0.0.1 (openssl CLI)."""
    workdir.mkdir(parents=True, exist_ok=True)
    ca_key, ca = workdir / "ca.key", workdir / "ca.pem"
    key, csr, cert = workdir / "server.key", workdir / "server.csr", workdir / "server.pem"
    ext = workdir / "ext.cnf"
    # Extensions a real PKI sets: Python 3.13 (the Windows runtime) verifies with
    # VERIFY_X509_STRICT and refuses a CA without key usage, or a leaf without key ids.
    ext.write_text(
        f"subjectAltName=DNS:{host},IP:127.0.0.1\n"
        "basicConstraints=critical,CA:FALSE\n"
        "keyUsage=critical,digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth,clientAuth\n"
        "subjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid,issuer\n"
    )

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True)

    run(
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(ca_key),
        "-out",
        str(ca),
        "-days",
        "2",
        "-subj",
        "/CN=energy-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )
    run(
        "req",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        str(key),
        "-out",
        str(csr),
        "-subj",
        f"/CN={host}",
    )
    run(
        "x509",
        "-req",
        "-in",
        str(csr),
        "-CA",
        str(ca),
        "-CAkey",
        str(ca_key),
        "-CAcreateserial",
        "-out",
        str(cert),
        "-days",
        "2",
        "-extfile",
        str(ext),
    )
    for p in (key, cert, ca):
        p.chmod(0o644)
    return {"ca": ca, "cert": cert, "key": key}


def mosquitto_tls_conf(port: int, tls: dict[str, Path]) -> str:
    return (
        f"listener {port} 127.0.0.1\n"
        f"cafile {tls['ca']}\ncertfile {tls['cert']}\nkeyfile {tls['key']}\n"
    )


class Postgres:
    """A throw-away PostgreSQL cluster on a free port, data in a temp dir.

    `initdb` and `postgres` refuse to run as root: as root they run as the `postgres` user.
    Set ENERGY_TEST_POSTGRES_URL to use an existing server instead (each test database is
    created there and dropped after).
    """

    def __init__(self, workdir: Path | None = None) -> None:
        # the server runs as `postgres`, who cannot enter root's 0700 pytest temp dirs:
        # its data lives in a temp dir of its own, removed at stop
        import tempfile

        self.dir = Path(tempfile.mkdtemp(prefix="energy-test-pg-"))
        self.dir.chmod(0o755)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        bins = sorted(Path("/usr/lib/postgresql").glob("*/bin"))
        if not bins:
            raise RuntimeError("PostgreSQL is not installed: run scripts/setup.sh")
        self.bin = bins[-1]

    def _as_owner(self, cmd: list[str]) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd

    def halt(self) -> None:
        """Stop the server now (fast shutdown: open transactions are aborted), keeping its
        data. The signal goes to the postmaster itself: `runuser` does not pass SIGINT on."""
        pid = int((self.dir / "data" / "postmaster.pid").read_text().split()[0])
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        stop_process(self.proc, signal.SIGINT, 5)
        self.proc = None

    def resume(self) -> Postgres:
        """Start the halted server again, same data and port."""
        return self._serve()

    def start(self) -> Postgres:
        data = self.dir / "data"
        self.dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run(
            self._as_owner(
                [
                    str(self.bin / "initdb"),
                    "-D",
                    str(data),
                    "-A",
                    "trust",
                    "-U",
                    "postgres",
                    "--no-sync",
                ]
            ),
            check=True,
            capture_output=True,
        )
        return self._serve()

    def _serve(self) -> Postgres:
        data = self.dir / "data"
        self.proc = subprocess.Popen(
            self._as_owner(
                [
                    str(self.bin / "postgres"),
                    "-D",
                    str(data),
                    "-p",
                    str(self.port),
                    "-k",
                    str(self.dir),
                    "-c",
                    "listen_addresses=127.0.0.1",
                    "-c",
                    "fsync=off",
                    "-c",
                    "max_connections=50",
                ]
            ),
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "postgres.log", "ab"),
        )
        wait_port(self.port, 30)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            ok = (
                subprocess.run(
                    [str(self.bin / "pg_isready"), "-h", "127.0.0.1", "-p", str(self.port)],
                    capture_output=True,
                ).returncode
                == 0
            )
            if ok:
                return self
            time.sleep(0.1)
        raise RuntimeError("postgres did not become ready")

    def url(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGINT, 20)
        self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)


def fresh_database(admin_url: str, name: str) -> str:
    import psycopg

    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'DROP DATABASE IF EXISTS "{name}"')
        c.execute(f'CREATE DATABASE "{name}"')
    base = admin_url.rsplit("/", 1)[0]
    return f"{base}/{name}"


class VictoriaMetrics:
    """A throw-away VictoriaMetrics (accepts the InfluxDB v2 write API; PromQL to read)."""

    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.binary = require_binary("victoria-metrics")
        self.dir = workdir
        self.port = port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> VictoriaMetrics:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"-storageDataPath={self.dir / 'data'}",
                f"-httpListenAddr=127.0.0.1:{self.port}",
                "-search.latencyOffset=0s",
                "-retentionPeriod=100y",
                "-loggerLevel=ERROR",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "vm.log", "ab"),
        )
        wait_port(self.port, 20)
        return self

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM, 20)
        self.proc = None

    def query(self, promql: str, at: float) -> list[dict]:
        import json
        import urllib.parse
        import urllib.request

        urllib.request.urlopen(f"{self.url}/internal/force_flush").read()
        q = urllib.parse.urlencode({"query": promql, "time": f"{at:.3f}"})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}") as r:
            return list(json.load(r)["data"]["result"])


class Prometheus:
    """A throw-away Prometheus scraping the given targets every second."""

    def __init__(
        self,
        workdir: Path,
        targets: list[str],
        rule_files: list[Path] = (),
        credentials_file: Path | None = None,
    ) -> None:
        self.binary = require_binary("prometheus")
        self.dir = workdir
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        conf = self.dir / "prometheus.yml"
        rules = "".join(f"  - {p}\n" for p in rule_files)
        conf.write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
            + (f"rule_files:\n{rules}" if rules else "")
            + "scrape_configs:\n  - job_name: energy-collector\n"
            + (
                "    authorization:\n      type: Bearer\n"
                f"      credentials_file: {credentials_file}\n"
                if credentials_file
                else ""
            )
            + "    static_configs:\n"
            + f"      - targets: {targets!r}\n"
        )
        self.conf = conf
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Prometheus:
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--config.file={self.conf}",
                f"--storage.tsdb.path={self.dir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "prometheus.log", "ab"),
        )
        wait_port(self.port, 30)
        return self

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM, 20)
        self.proc = None

    def ready(self) -> bool:
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def query(self, promql: str, at: float | None = None) -> list[dict]:
        import json
        import urllib.parse
        import urllib.request

        params = {"query": promql} if at is None else {"query": promql, "time": f"{at:.3f}"}
        q = urllib.parse.urlencode(params)
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=10) as r:
            doc = json.load(r)
        if doc.get("status") != "success":
            raise RuntimeError(f"{promql}: {doc}")
        return list(doc["data"]["result"])


class SnmpSim:
    """snmpsim serving .snmprec recordings (community = file base name; the same name as the
    SNMPv3 context), with one SNMPv3 user (SHA / AES). `restart()` restarts the counters."""

    V3_USER, V3_AUTH, V3_PRIV = "energy", "auth-key-123", "priv-key-456"
    V3_USER_SHA2 = "energy-sha2"  # a second user: HMAC-SHA-256 and AES-256, same keys

    def __init__(self, workdir: Path, recordings: list[Path]) -> None:
        self.binary = shutil.which("snmpsim-command-responder") or str(
            Path(sys.executable).parent / "snmpsim-command-responder"
        )
        self.dir = workdir
        self.data = workdir / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        for r in recordings:
            shutil.copy(r, self.data / r.name)
        self.port = free_udp_port()
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SnmpSim:
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        self.proc = subprocess.Popen(
            [
                self.binary,
                f"--data-dir={self.data}",
                f"--agent-udpv4-endpoint=127.0.0.1:{self.port}",
                f"--v3-user={self.V3_USER}",
                f"--v3-auth-key={self.V3_AUTH}",
                "--v3-auth-proto=SHA",
                f"--v3-priv-key={self.V3_PRIV}",
                "--v3-priv-proto=AES",
                f"--v3-user={self.V3_USER_SHA2}",
                f"--v3-auth-key={self.V3_AUTH}",
                "--v3-auth-proto=SHA256",
                f"--v3-priv-key={self.V3_PRIV}",
                "--v3-priv-proto=AES256",
                f"--cache-dir={self.dir / 'cache'}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=open(self.dir / "snmpsim.log", "ab"),
            env=env,
        )
        # UDP: wait until it answers a GET
        deadline = time.monotonic() + 30
        import asyncio

        from collector.sources.snmp.client import Client, SnmpError, Target

        while time.monotonic() < deadline:
            try:
                asyncio.run(
                    Client().get(
                        Target(
                            "127.0.0.1", self.port, community="apc-rpdu2", timeout_s=0.5, retries=0
                        ),
                        ["1.3.6.1.2.1.1.3.0"],
                    )
                )
                return self
            except SnmpError:
                time.sleep(0.2)
        raise RuntimeError(f"snmpsim did not answer: {(self.dir / 'snmpsim.log').read_text()}")

    def stop(self) -> None:
        stop_process(self.proc, signal.SIGTERM, 10)
        self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()
