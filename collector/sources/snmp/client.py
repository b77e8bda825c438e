"""A small asyncio SNMP client over pysnmp 7: GETBULK walks of the needed subtrees only,
SNMP v2c or v3 (USM authPriv: SHA/SHA-2 and AES), per-device timeout and retries.

Values come back as plain Python: integers (Integer, Counter32/64, Gauge32, TimeTicks),
strings (OctetString, decoded as UTF-8, hex when binary), or None for noSuchObject /
noSuchInstance / endOfMibView.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_walk_cmd,
    get_cmd,
)
from pysnmp.proto import rfc1902, rfc1905

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
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason  # timeout | error | garbage


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
    if isinstance(value, (rfc1905.NoSuchObject, rfc1905.NoSuchInstance, rfc1905.EndOfMibView)):
        return None
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


class Client:
    def __init__(self) -> None:
        self.engine = SnmpEngine()
        self._transports: dict[tuple[str, int, float, int], Any] = {}
        self._credentials: dict[Target, Any] = {}

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

    async def get(self, t: Target, oids: list[str]) -> dict[str, Any]:
        transport = await self._transport(t)
        err, status, _index, binds = await get_cmd(
            self.engine,
            self._auth(t),
            transport,
            ContextData(contextName=t.context),
            *[ObjectType(ObjectIdentity(o)) for o in oids],
            lookupMib=False,
        )
        self._check(t, err, status)
        return {str(oid): _py(val) for oid, val in binds}

    async def walk(self, t: Target, root: str) -> dict[str, Any]:
        """Every OID under `root` (GETBULK), nothing past its subtree."""
        transport = await self._transport(t)
        out: dict[str, Any] = {}
        async for err, status, _index, binds in bulk_walk_cmd(
            self.engine,
            self._auth(t),
            transport,
            ContextData(contextName=t.context),
            0,
            t.max_repetitions,
            ObjectType(ObjectIdentity(root)),
            lexicographicMode=False,
            lookupMib=False,
        ):
            self._check(t, err, status)
            for oid, val in binds:
                key = str(oid)
                if not key.startswith(root + "."):
                    return out
                out[key] = _py(val)
        return out

    @staticmethod
    def _check(t: Target, err: Any, status: Any) -> None:
        if err:
            text = str(err)
            reason = (
                "timeout" if "timeout" in text.lower() or "No SNMP response" in text else "error"
            )
            raise SnmpError(reason, f"{t.host}:{t.port}: {text}")
        if status:
            raise SnmpError("error", f"{t.host}:{t.port}: {status.prettyPrint()}")
