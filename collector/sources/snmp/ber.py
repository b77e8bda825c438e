"""SNMPv2c messages (RFC 3416 PDUs, RFC 1901 community framing) in the BER subset they use
(X.690: definite lengths, primitive encodings). The poller's hot path: pyasn1 builds an
object per tag and spent ~80 % of a PDU poll's CPU decoding responses; this reads the bytes
directly into (oid, value) pairs. SNMPv3 (USM) stays with pysnmp.

Values decode to plain Python: int (INTEGER, Counter32/64, Gauge32, TimeTicks), str
(OCTET STRING as UTF-8, hex when binary; OID dotted; IpAddress dotted quad), bytes-hex for
Opaque, None for NULL, noSuchObject, noSuchInstance. `END_OF_MIB` marks endOfMibView.
Anything malformed raises `BerError`, never IndexError or a silent partial result.
"""

from __future__ import annotations

from typing import Any

GET, GETNEXT, RESPONSE, GETBULK = 0xA0, 0xA1, 0xA2, 0xA5
_INT, _OCTETS, _NULL, _OID, _SEQ = 0x02, 0x04, 0x05, 0x06, 0x30
_IPADDR, _COUNTER32, _GAUGE32, _TIMETICKS, _OPAQUE, _COUNTER64 = 0x40, 0x41, 0x42, 0x43, 0x44, 0x46
_NO_SUCH_OBJECT, _NO_SUCH_INSTANCE, _END_OF_MIB_VIEW = 0x80, 0x81, 0x82
_UNSIGNED = frozenset((_COUNTER32, _GAUGE32, _TIMETICKS, _COUNTER64))
V2C = 1


class BerError(ValueError):
    """The bytes are not a well-formed SNMPv2c message."""


class _EndOfMib:
    __slots__ = ()

    def __repr__(self) -> str:
        return "END_OF_MIB"


END_OF_MIB: Any = _EndOfMib()


# -- encoding ------------------------------------------------------------------------------


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _len(len(body)) + body


def _int(v: int) -> bytes:
    return _tlv(_INT, v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True))


def encode_oid(oid: str) -> bytes:
    try:
        arcs = [int(a) for a in oid.strip(".").split(".")]
    except ValueError:
        raise BerError(f"not a numeric OID: {oid!r}") from None
    if len(arcs) < 2 or arcs[0] > 2 or (arcs[0] < 2 and arcs[1] > 39) or min(arcs) < 0:
        raise BerError(f"not a valid OID: {oid!r}")
    out = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        out += bytes(reversed(chunk))
    return _tlv(_OID, bytes(out))


def encode_request(
    pdu: int,
    community: bytes,
    request_id: int,
    oids: list[str],
    non_repeaters: int = 0,
    max_repetitions: int = 0,
) -> bytes:
    """A GET, GETNEXT or GETBULK request for `oids` (values NULL)."""
    binds = b"".join(_tlv(_SEQ, encode_oid(o) + b"\x05\x00") for o in oids)
    if pdu == GETBULK:
        head = _int(request_id) + _int(non_repeaters) + _int(max_repetitions)
    else:
        head = _int(request_id) + _int(0) + _int(0)
    body = _int(V2C) + _tlv(_OCTETS, community) + _tlv(pdu, head + _tlv(_SEQ, binds))
    return _tlv(_SEQ, body)


# -- decoding ------------------------------------------------------------------------------


def _header(buf: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at `pos`, checked against `end`."""
    if pos + 2 > end:
        raise BerError("truncated")
    tag = buf[pos]
    if tag & 0x1F == 0x1F:
        raise BerError("multi-byte tags are not used by SNMP")
    n = buf[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        if k == 0:
            raise BerError("indefinite length is not allowed in SNMP")
        if k > 4 or pos + k > end:
            raise BerError("bad length")
        n = int.from_bytes(buf[pos : pos + k], "big")
        pos += k
    if pos + n > end:
        raise BerError("length past the end of the message")
    return tag, pos, pos + n


def _signed(b: bytes) -> int:
    if not b:
        raise BerError("empty INTEGER")
    return int.from_bytes(b, "big", signed=True)


_OID_CACHE: dict[bytes, str] = {}  # the same columns come back every poll, from every unit
_OID_CACHE_MAX = 1 << 16


def _cached_oid(b: bytes) -> str:
    name = _OID_CACHE.get(b)
    if name is None:
        name = decode_oid(b)
        if len(_OID_CACHE) >= _OID_CACHE_MAX:
            _OID_CACHE.clear()
        _OID_CACHE[b] = name
    return name


def decode_oid(b: bytes) -> str:
    if not b or b[-1] & 0x80:
        raise BerError("bad OID")
    arcs: list[int] = []
    v = 0
    for byte in b:
        v = (v << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(v)
            v = 0
    first = arcs[0]
    head = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    return ".".join(map(str, (*head, *arcs[1:])))


def _value(tag: int, b: bytes) -> Any:
    if tag == _INT:
        return _signed(b)
    if tag in _UNSIGNED:
        if not b:
            raise BerError("empty unsigned value")
        return int.from_bytes(b, "big")
    if tag == _OCTETS:
        try:
            return b.decode("utf-8")
        except UnicodeDecodeError:
            return b.hex()
    if tag == _OID:
        return decode_oid(b)
    if tag in (_NULL, _NO_SUCH_OBJECT, _NO_SUCH_INSTANCE):
        return None
    if tag == _END_OF_MIB_VIEW:
        return END_OF_MIB
    if tag == _IPADDR:
        if len(b) != 4:
            raise BerError("IpAddress is not 4 octets")
        return ".".join(map(str, b))
    if tag == _OPAQUE:
        return b.hex()
    raise BerError(f"unknown value tag 0x{tag:02x}")


class Response:
    __slots__ = ("community", "error_index", "error_status", "request_id", "varbinds")

    def __init__(
        self,
        community: bytes,
        request_id: int,
        error_status: int,
        error_index: int,
        varbinds: list[tuple[str, Any]],
    ) -> None:
        self.community = community
        self.request_id = request_id
        self.error_status = error_status
        self.error_index = error_index
        self.varbinds = varbinds


def _pdu(buf: bytes) -> tuple[bytes, int, int, int]:
    """The message framing: (community, PDU tag, PDU content start, PDU content end)."""
    end = len(buf)
    tag, p, mend = _header(buf, 0, end)
    if tag != _SEQ or mend != end:
        raise BerError("not an SNMP message")
    tag, a, p = _header(buf, p, mend)
    if tag != _INT or _signed(buf[a:p]) != V2C:
        raise BerError("not an SNMPv2c message")
    tag, a, p = _header(buf, p, mend)
    if tag != _OCTETS:
        raise BerError("bad community")
    community = bytes(buf[a:p])
    tag, p, pend = _header(buf, p, mend)
    return community, tag, p, pend


def request_id_of(buf: bytes) -> int | None:
    """The request-id of a message too broken to decode whole, when it can be read."""
    try:
        _, _, p, pend = _pdu(buf)
        tag, a, b = _header(buf, p, pend)
        return _signed(buf[a:b]) if tag == _INT else None
    except BerError:
        return None


def decode_response(buf: bytes) -> Response:
    """A v2c Response-PDU. Raises BerError on anything else."""
    community, tag, p, pend = _pdu(buf)
    if tag != RESPONSE:
        raise BerError(f"PDU 0x{tag:02x} is not a Response")
    fields = []
    for _ in range(3):
        tag, a, p = _header(buf, p, pend)
        if tag != _INT:
            raise BerError("bad PDU header")
        fields.append(_signed(buf[a:p]))
    tag, p, lend = _header(buf, p, pend)
    if tag != _SEQ:
        raise BerError("bad varbind list")
    binds: list[tuple[str, Any]] = []
    while p < lend:
        tag, p, vend = _header(buf, p, lend)
        if tag != _SEQ:
            raise BerError("bad varbind")
        tag, a, q = _header(buf, p, vend)
        if tag != _OID:
            raise BerError("varbind name is not an OID")
        name = _cached_oid(buf[a:q])
        tag, a, p = _header(buf, q, vend)
        if p != vend:
            raise BerError("trailing bytes in a varbind")
        binds.append((name, _value(tag, buf[a:p])))
    return Response(community, fields[0], fields[1], fields[2], binds)
