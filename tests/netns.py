"""Test hosts on one machine: network namespaces and veth pairs made with iproute2, and a
raw-socket capture of Wake-on-LAN packets on an interface. Everything made here is removed
by `close()` (deleting a namespace deletes its veth ends, and so their peers)."""

from __future__ import annotations

import secrets
import subprocess
import sys
from pathlib import Path

from services import require_binary

CAPTURE = r"""
import json, socket, struct, sys, time
iface, out, stop_after = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
s.bind((iface, 0))
s.settimeout(0.2)
deadline = time.time() + stop_after
with open(out, "a", buffering=1) as f:
    print("ready", flush=True)
    while time.time() < deadline:
        try:
            frame = s.recv(2048)
        except socket.timeout:
            continue
        at = time.time()
        if len(frame) < 42 or frame[12:14] != b"\x08\x00":
            continue
        ihl = (frame[14] & 0x0F) * 4
        if frame[23] != 17:
            continue
        udp = 14 + ihl
        dport = struct.unpack("!H", frame[udp + 2:udp + 4])[0]
        if dport != 9:
            continue
        f.write(json.dumps({
            "at": at,
            "dst_mac": frame[0:6].hex(":"),
            "src_ip": socket.inet_ntoa(frame[26:30]),
            "dst_ip": socket.inet_ntoa(frame[30:34]),
            "payload": frame[udp + 8:].hex(),
        }) + "\n")
"""


class Netns:
    def __init__(self) -> None:
        self.ip = require_binary("ip")
        self.tag = secrets.token_hex(3)
        self.made: list[str] = []

    def run(self, *args: str) -> None:
        subprocess.run([self.ip, *args], check=True, capture_output=True, timeout=20)

    def add(self, name: str) -> str:
        ns = f"en{name}{self.tag}"
        self.run("netns", "add", ns)
        self.made.append(ns)
        self.run("-n", ns, "link", "set", "lo", "up")
        return ns

    def veth(self, a: str, a_ns: str | None, a_addr: str, b: str, b_ns: str, b_addr: str) -> None:
        """A veth pair a<->b, `a` in namespace a_ns (None: this one), with addresses."""
        a, b = f"{a}{self.tag}", f"{b}{self.tag}"
        self.run("link", "add", a, "type", "veth", "peer", "name", b)
        if a_ns:
            self.run("link", "set", a, "netns", a_ns)
        self.run("link", "set", b, "netns", b_ns)
        for name, ns, addr in ((a, a_ns, a_addr), (b, b_ns, b_addr)):
            pre = ["-n", ns] if ns else []
            self.run(*pre, "addr", "add", addr, "dev", name)
            self.run(*pre, "link", "set", name, "up")

    def name(self, base: str) -> str:
        return f"{base}{self.tag}"

    def mac(self, ns: str, iface: str) -> str:
        out = subprocess.run(
            [self.ip, "-n", ns, "-o", "link", "show", self.name(iface)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return out.split("link/ether", 1)[1].split()[0]

    def popen(self, ns: str, args: list[str], **kw: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen([self.ip, "netns", "exec", ns, *args], **kw)  # type: ignore[call-overload]

    def capture(self, ns: str, iface: str, out: Path, seconds: float) -> subprocess.Popen[bytes]:
        script = out.with_suffix(".py")
        script.write_text(CAPTURE)
        proc = self.popen(
            ns,
            [sys.executable, str(script), self.name(iface), str(out), str(seconds)],
            stdout=subprocess.PIPE,
        )
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == b"ready"
        return proc

    def close(self) -> None:
        for ns in reversed(self.made):
            subprocess.run([self.ip, "netns", "del", ns], capture_output=True, timeout=20)
        self.made = []
