"""A small asyncio SNMP client: multi-column GETBULK walks of the needed columns only, with
max-repetitions fitted to the rows seen last time, per-device timeout and retries.

SNMP v2c goes through the built-in codec (`ber.py`) on one UDP socket shared by all devices;
SNMPv3 (USM authPriv: SHA/SHA-2 and AES) and v2c devices configured with `stack: pysnmp`
go through pysnmp 7. Both give the same plain Python values: integers (Integer,
Counter32/64, Gauge32, TimeTicks), strings (OctetString, decoded as UTF-8, hex when binary),
or None for noSuchObject / noSuchInstance.
"""

from __future__ import annotations

import asyncio
import random
import socket
from dataclasses import dataclass
from typing import Any

from pyasn1.type import univ
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
)
from pysnmp.proto import rfc1902, rfc1905

from collector.sources.snmp import ber

AUTH = {
    "SHA": "usmHMACSHAAuthProtocol",
    "SHA224": "usmHMAC128SHA224AuthProtocol",
    "SHA256": "usmHMAC192SHA256AuthProtocol",
    "SHA384": "usmHMAC256SHA384AuthProtocol",
    "SHA512": "usmHMAC384SHA512AuthProtocol",
    "MD5": "usmHMACMD5AuthProtocol",
}
PRIV = {
    "AES": "usmAesCfb128Protocol",
    "AES192": "usmAesCfb192Protocol",
    "AES256": "usmAesCfb256Protocol",
    "DES": "usmDESPrivProtocol",
}


class SnmpError(Exception):
    def __init__(self, reason: str, detail: str, status: str | None = None) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # timeout | error | garbage
        self.status = status  # the PDU's error-status name (tooBig, genErr…), if any


@dataclass(frozen=True)
class Target:
    host: str
    port: int = 161
    version: str = "2c"
    community: str = "public"
    user: str | None = None
    auth_protocol: str = "SHA"
    auth_key: str | None = None
    priv_protocol: str = "AES"
    priv_key: str | None = None
    context: str = ""
    timeout_s: float = 2.0
    retries: int = 1
    max_repetitions: int = 25
    stack: str = "native"  # v2c: the built-in codec, or "pysnmp"

    def credentials(self) -> Any:
        if self.version == "3":
            import pysnmp.hlapi.v3arch.asyncio as hl

            return UsmUserData(
                self.user or "",
                authKey=self.auth_key,
                privKey=self.priv_key,
                authProtocol=getattr(hl, AUTH[self.auth_protocol]) if self.auth_key else None,
                privProtocol=getattr(hl, PRIV[self.priv_protocol]) if self.priv_key else None,
            )
        return CommunityData(self.community, mpModel=1)


def _py(value: Any) -> Any:
    if isinstance(value, rfc1905.EndOfMibView):
        return ber.END_OF_MIB
    if isinstance(value, (rfc1905.NoSuchObject, rfc1905.NoSuchInstance)):
        return None
    if isinstance(value, (rfc1902.Null, univ.Null)):
        return None
    if isinstance(value, rfc1902.Opaque):
        return bytes(value).hex()
    if isinstance(value, rfc1902.IpAddress):
        return ".".join(str(b) for b in bytes(value))
    if isinstance(value, rfc1902.OctetString):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return raw.hex()
    if isinstance(value, rfc1902.ObjectIdentifier):
        return str(value)
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


ERROR_STATUS = [
    "noError",
    "tooBig",
    "noSuchName",
    "badValue",
    "readOnly",
    "genErr",
    "noAccess",
    "wrongType",
    "wrongLength",
    "wrongEncoding",
    "wrongValue",
    "noCreation",
    "inconsistentValue",
    "resourceUnavailable",
    "commitFailed",
    "undoFailed",
    "authorizationError",
    "notWritable",
    "inconsistentName",
]
MAX_VARBINDS_PER_WALK = 100_000  # a device that never ends its table is garbage, not a hang


def _arcs(oid: str) -> tuple[int, ...]:
    try:
        return tuple(map(int, oid.split(".")))
    except ValueError:  # an empty index (the column OID itself): before any row
        return ()


class _Pending:
    __slots__ = ("addr", "future")

    def __init__(self, addr: tuple[Any, ...], future: asyncio.Future[ber.Response]) -> None:
        self.addr = addr
        self.future = future


class _Socket(asyncio.DatagramProtocol):
    """One UDP socket for every v2c device; replies are matched by request-id and source."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.client._received(data, addr)


class Client:
    def __init__(self) -> None:
        self.engine = SnmpEngine()
        self._transports: dict[tuple[str, int, float, int], Any] = {}
        self._credentials: dict[Target, Any] = {}
        self._sockets: dict[int, asyncio.DatagramTransport] = {}
        self._addresses: dict[tuple[str, int], tuple[int, tuple[Any, ...]]] = {}
        self._pending: dict[int, _Pending] = {}
        self._next_id = random.randrange(1, 1 << 30)
        self._rows: dict[tuple[str, int, str, tuple[str, ...]], int] = {}
        self._caps: dict[tuple[str, int], int] = {}  # max-repetitions an agent can answer
        self.stray = 0  # datagrams matching no request (late, duplicated, or forged)

    # -- the native v2c path ---------------------------------------------------------------

    async def _address(self, t: Target) -> tuple[int, tuple[Any, ...]]:
        key = (t.host, t.port)
        got = self._addresses.get(key)
        if got is None:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(t.host, t.port, type=socket.SOCK_DGRAM)
            except OSError as exc:
                raise SnmpError("error", f"{t.host}:{t.port}: cannot resolve: {exc}") from None
            family, _, _, _, sockaddr = infos[0]
            got = self._addresses[key] = (family, sockaddr)
        return got

    async def _socket(self, family: int) -> asyncio.DatagramTransport:
        sock = self._sockets.get(family)
        if sock is None or sock.is_closing():
            loop = asyncio.get_running_loop()
            local = ("::", 0) if family == socket.AF_INET6 else ("0.0.0.0", 0)
            sock, _ = await loop.create_datagram_endpoint(
                lambda: _Socket(self), local_addr=local, family=family
            )
            self._sockets[family] = sock
        return sock

    def _received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        try:
            resp = ber.decode_response(data)
        except ber.BerError as exc:
            rid = ber.request_id_of(data)
            p = self._pending.get(rid) if rid is not None else None
            if p is None:  # unreadable id: blame the one request waiting on that address
                p = next((q for q in self._pending.values() if q.addr[:2] == addr[:2]), None)
            if p is not None and p.addr[:2] == addr[:2] and not p.future.done():
                p.future.set_exception(SnmpError("garbage", f"{addr[0]}:{addr[1]}: {exc}"))
            else:
                self.stray += 1
            return
        p = self._pending.get(resp.request_id)
        if p is None or p.addr[:2] != addr[:2] or p.future.done():
            self.stray += 1
            return
        p.future.set_result(resp)

    async def _native(
        self, t: Target, pdu: int, oids: list[str], max_repetitions: int = 0
    ) -> list[tuple[str, Any]]:
        family, addr = await self._address(t)
        sock = await self._socket(family)
        rid = self._next_id
        self._next_id = rid + 1 if rid < 0x7FFFFFFF else 1
        try:
            data = ber.encode_request(pdu, t.community.encode(), rid, oids, 0, max_repetitions)
        except ber.BerError as exc:
            raise SnmpError("error", f"{t.host}:{t.port}: {exc}") from None
        future: asyncio.Future[ber.Response] = asyncio.get_running_loop().create_future()
        self._pending[rid] = _Pending(addr, future)
        try:
            for _ in range(t.retries + 1):
                sock.sendto(data, addr)
                try:
                    resp = await asyncio.wait_for(asyncio.shield(future), t.timeout_s)
                    break
                except asyncio.TimeoutError:
                    continue
            else:
                raise SnmpError(
                    "timeout", f"{t.host}:{t.port}: no SNMP response in {t.retries + 1} tries"
                )
        finally:
            del self._pending[rid]
            if not future.done():
                future.cancel()
        if resp.error_status:
            name = (
                ERROR_STATUS[resp.error_status]
                if resp.error_status < len(ERROR_STATUS)
                else str(resp.error_status)
            )
            raise SnmpError("error", f"{t.host}:{t.port}: {name} at {resp.error_index}", name)
        return resp.varbinds

    # -- the pysnmp path (v3, or v2c when asked) -------------------------------------------

    async def _transport(self, t: Target) -> Any:
        # one transport target per device, resolved once (not one per request)
        key = (t.host, t.port, t.timeout_s, t.retries)
        tr = self._transports.get(key)
        if tr is None:
            tr = self._transports[key] = await UdpTransportTarget.create(
                (t.host, t.port), timeout=t.timeout_s, retries=t.retries
            )
        return tr

    def _auth(self, t: Target) -> Any:
        c = self._credentials.get(t)
        if c is None:
            c = self._credentials[t] = t.credentials()
        return c

    async def _pysnmp(
        self, t: Target, oids: list[str], max_repetitions: int | None
    ) -> list[tuple[str, Any]]:
        transport = await self._transport(t)
        binds = [ObjectType(ObjectIdentity(o)) for o in oids]
        if max_repetitions is None:
            err, status, _i, got = await get_cmd(
                self.engine,
                self._auth(t),
                transport,
                ContextData(contextName=t.context),
                *binds,
                lookupMib=False,
            )
        else:
            err, status, _i, got = await bulk_cmd(
                self.engine,
                self._auth(t),
                transport,
                ContextData(contextName=t.context),
                0,
                max_repetitions,
                *binds,
                lookupMib=False,
            )
        self._check(t, err, status)
        return [(str(oid), _py(val)) for oid, val in got]

    # -- requests --------------------------------------------------------------------------

    def _native_ok(self, t: Target) -> bool:
        return t.version != "3" and t.stack == "native"

    async def get(self, t: Target, oids: list[str]) -> dict[str, Any]:
        if self._native_ok(t):
            binds = await self._native(t, ber.GET, oids)
        else:
            binds = await self._pysnmp(t, oids, None)
        return {oid: (None if val is ber.END_OF_MIB else val) for oid, val in binds}

    async def bulk(self, t: Target, oids: list[str], max_repetitions: int) -> list[Any]:
        """One GETBULK: `max_repetitions` rows of `oids`, row-major, as the agent sent them."""
        if self._native_ok(t):
            return await self._native(t, ber.GETBULK, oids, max_repetitions)
        return await self._pysnmp(t, oids, max_repetitions)

    async def walk(self, t: Target, root: str) -> dict[str, Any]:
        """Every OID under `root` (GETBULK), nothing past its subtree."""
        return await self.walk_columns(t, [root])

    async def walk_columns(self, t: Target, roots: list[str]) -> dict[str, Any]:
        """Every OID under each of `roots`, walked side by side (one GETBULK carries a row
        of every column still going), nothing past their subtrees. max-repetitions is the
        row count seen last time plus one (so one request usually ends every column),
        capped by the device's `max_repetitions`."""
        roots = [r.strip(".") for r in roots]
        key = (t.host, t.port, t.context or t.community, tuple(roots))  # per agent view
        out: dict[str, Any] = {}
        # per column still going: its prefix, the last OID asked from, and that OID's row
        # index as numbers (what must keep increasing)
        cols: list[tuple[str, str, tuple[int, ...]]] = [(r + ".", r, ()) for r in roots]
        rows_seen = dict.fromkeys(roots, 0)
        hint = self._rows.get(key)  # rows per column last time
        done = 0  # rows every going column has had so far in this walk
        agent = (t.host, t.port)
        while cols:
            reps = self._caps.get(agent, t.max_repetitions)
            if hint is None and done == 0:
                # first walk of this table: two rows first (a one-row table ends there),
                # the full count only for tables that go on
                reps = min(reps, 2)
            elif hint is not None and done < hint:  # a table that grew gets the full count
                reps = max(1, min(reps, hint - done + 1))
            try:
                binds = await self.bulk(t, [last for _, last, _ in cols], reps)
            except SnmpError as exc:
                # an old agent that cannot fit the answer says tooBig (RFC 3416 lets it
                # truncate instead): ask it for half as many rows from now on, down to one
                if exc.status != "tooBig" or reps == 1:
                    raise
                self._caps[agent] = max(reps // 2, 1)
                continue
            n = len(cols)
            now = list(cols)
            going = [True] * n
            progressed = False
            for i, (oid, val) in enumerate(binds):
                c = i % n
                if not going[c]:
                    continue
                prefix, _, last_key = now[c]
                if val is ber.END_OF_MIB or not oid.startswith(prefix):
                    going[c] = False
                    continue
                row_key = _arcs(oid[len(prefix) :])
                if row_key <= last_key:
                    raise SnmpError("garbage", f"{t.host}:{t.port}: OID {oid} not increasing")
                out[oid] = val
                rows_seen[prefix[:-1]] += 1
                now[c] = (prefix, oid, row_key)
                progressed = True
            if not progressed and any(going):
                # every answer repeated, skipped or absent: the table cannot advance
                raise SnmpError("garbage", f"{t.host}:{t.port}: GETBULK made no progress")
            # a column cut short by the message size (still inside its subtree) goes on
            done += len(binds) // n
            cols = [now[c] for c in range(n) if going[c]]
            if len(out) > MAX_VARBINDS_PER_WALK:
                raise SnmpError("garbage", f"{t.host}:{t.port}: table never ends")
        self._rows[key] = max(rows_seen.values(), default=0)
        return out

    def close(self) -> None:
        for sock in self._sockets.values():
            sock.close()
        self._sockets.clear()

    @staticmethod
    def _check(t: Target, err: Any, status: Any) -> None:
        if err:
            text = str(err)
            reason = (
                "timeout" if "timeout" in text.lower() or "No SNMP response" in text else "error"
            )
            raise SnmpError(reason, f"{t.host}:{t.port}: {text}")
        if status:
            name = status.prettyPrint()
            raise SnmpError("error", f"{t.host}:{t.port}: {name}", name)
