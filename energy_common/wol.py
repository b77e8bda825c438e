"""Wake-on-LAN as a proxy: the magic packet, sent on this machine's own LAN.

Routers do not forward broadcasts, so the collector asks an awake agent on the target's
subnet to send the packet there. The packet (AMD's Magic Packet format) is 6 bytes 0xFF then
the target's 48-bit MAC 16 times, in a UDP datagram to port 9 (discard). It goes to the
subnet-directed broadcast address (a.b.c.255 for a /24) from the address of the interface on
that subnet, and to the limited broadcast 255.255.255.255 from the same address, so it leaves
on that LAN whatever the routing table prefers.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket

log = logging.getLogger("energy_agent.wol")

WOL_PORT = 9
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def magic_packet(mac: str) -> bytes:
    mac = mac.lower().replace("-", ":")
    if not _MAC.match(mac) or mac in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff"):
        raise ValueError(f"not a unicast MAC address: {mac!r}")
    return b"\xff" * 6 + bytes.fromhex(mac.replace(":", "")) * 16


def send(mac: str, local: str, limited: bool = True) -> int:
    """Send the packet for `mac` from `local` ("10.1.2.3/24", this machine's interface on
    the target's subnet). Returns the datagrams sent; raises OSError/ValueError."""
    iface = ipaddress.IPv4Interface(local)
    if iface.network.prefixlen >= 31:
        raise ValueError(f"{local}: no broadcast address on a /{iface.network.prefixlen}")
    packet = magic_packet(mac)
    sent = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        s.bind((str(iface.ip), 0))
        targets = [str(iface.network.broadcast_address)]
        if limited:
            targets.append("255.255.255.255")
        for dest in targets:
            try:
                s.sendto(packet, (dest, WOL_PORT))
                sent += 1
            except OSError as exc:
                log.debug("wol: %s via %s: %s", mac, dest, exc)
    if sent == 0:
        raise OSError(f"no broadcast left {local}")
    return sent


def local_on(subnet: str, interfaces: list[dict[str, object]]) -> str | None:
    """This machine's interface ("ip/prefix") on `subnet` ("10.1.2.0/24"), if it has one."""
    net = ipaddress.IPv4Network(subnet, strict=False)
    for i in interfaces:
        try:
            iface = ipaddress.IPv4Interface(str(i.get("ipv4", "")))
        except ValueError:
            continue
        if iface.network == net:
            return iface.with_prefixlen
    return None
