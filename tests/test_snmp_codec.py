"""The built-in SNMPv2c codec and client: bytes checked against pysnmp's own encoder and
decoder (pyasn1) on generated messages, broken bytes rejected with BerError only, walks
compared with Net-SNMP's snmpbulkwalk on every recording, and devices that misbehave on the
wire (garbage, OIDs that do not increase, replies from elsewhere) named as such."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import api, rfc1902, rfc1905
from services import SnmpSim, require_binary

from collector.sources.snmp import ber
from collector.sources.snmp.client import Client, SnmpError, Target, _py

V2 = api.PROTOCOL_MODULES[api.SNMP_VERSION_2C]
FIX = Path(__file__).parent / "fixtures/snmprec"

oids = st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=14).map(
    lambda arcs: "1.3." + ".".join(map(str, arcs))
) | st.tuples(st.integers(0, 2), st.integers(0, 39)).map(lambda a: f"{a[0]}.{a[1]}")
values = st.one_of(
    st.integers(-(2**31), 2**31 - 1).map(rfc1902.Integer32),
    st.integers(0, 2**32 - 1).map(rfc1902.Counter32),
    st.integers(0, 2**32 - 1).map(rfc1902.Gauge32),
    st.integers(0, 2**32 - 1).map(rfc1902.TimeTicks),
    st.integers(0, 2**64 - 1).map(rfc1902.Counter64),
    st.binary(max_size=300).map(rfc1902.OctetString),
    st.text(max_size=40).map(lambda s: rfc1902.OctetString(s.encode())),
    oids.map(rfc1902.ObjectIdentifier),
    st.binary(min_size=4, max_size=4).map(rfc1902.IpAddress),
    st.binary(max_size=20).map(rfc1902.Opaque),
    st.just(rfc1905.noSuchObject),
    st.just(rfc1905.noSuchInstance),
    st.just(rfc1905.endOfMibView),
    st.just(rfc1902.Null("")),
)


def pysnmp_response(rid: int, binds: list, community: bytes = b"public", status: int = 0):
    msg = V2.Message()
    V2.apiMessage.set_defaults(msg)
    V2.apiMessage.set_community(msg, community)
    pdu = V2.GetResponsePDU()
    V2.apiPDU.set_defaults(pdu)
    V2.apiPDU.set_request_id(pdu, rid)
    V2.apiPDU.set_error_status(pdu, status)
    V2.apiPDU.set_varbinds(pdu, binds)
    V2.apiMessage.set_pdu(msg, pdu)
    return encoder.encode(msg)


@settings(max_examples=300, deadline=None)
@given(
    st.integers(-(2**31), 2**31 - 1),
    st.lists(st.tuples(oids, values), max_size=30),
    st.binary(max_size=40),
)
def test_responses_decode_as_pysnmp_decodes_them(rid, binds, community):
    data = pysnmp_response(rid, binds, community)
    got = ber.decode_response(data)
    assert got.request_id == rid and got.community == community
    assert got.error_status == 0
    assert got.varbinds == [(oid, _py(val)) for oid, val in binds]


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from([ber.GET, ber.GETNEXT, ber.GETBULK]),
    st.integers(0, 2**31 - 1),
    st.lists(oids, min_size=1, max_size=20),
    st.integers(0, 200),
)
def test_requests_read_back_by_pysnmp(pdu_tag, rid, names, reps):
    data = ber.encode_request(pdu_tag, b"c0mm", rid, names, 0, reps)
    msg, rest = decoder.decode(data, asn1Spec=V2.Message())
    assert rest == b""
    assert str(V2.apiMessage.get_community(msg)) == "c0mm"
    pdu = V2.apiMessage.get_pdu(msg)
    assert int(V2.apiPDU.get_request_id(pdu)) == rid
    assert [str(o) for o, _ in V2.apiPDU.get_varbinds(pdu)] == names
    if pdu_tag == ber.GETBULK:
        assert int(V2.apiBulkPDU.get_max_repetitions(pdu)) == reps


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_are_a_ber_error_never_a_crash(data):
    with contextlib.suppress(ber.BerError):
        ber.decode_response(data)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(oids, values), min_size=1, max_size=8), st.data())
def test_cut_or_corrupted_responses_are_rejected_cleanly(binds, data):
    good = bytearray(pysnmp_response(7, binds))
    cut = data.draw(st.integers(0, len(good) - 1))
    with pytest.raises(ber.BerError):
        ber.decode_response(bytes(good[:cut]))
    pos = data.draw(st.integers(0, len(good) - 1))
    good[pos] ^= data.draw(st.integers(1, 255))
    with contextlib.suppress(ber.BerError):  # a flipped byte may still be a valid message
        ber.decode_response(bytes(good))


def test_error_status_and_other_pdus_are_refused():
    with pytest.raises(ber.BerError, match="not a Response"):
        ber.decode_response(ber.encode_request(ber.GET, b"public", 1, ["1.3.6.1"]))
    with pytest.raises(ber.BerError, match="indefinite"):
        ber.decode_response(b"\x30\x80" + b"\x00" * 10)
    with pytest.raises(ber.BerError):
        ber.encode_oid("1.3.six")
    null = [("1.3.6.1.2.1.1.5.0", rfc1902.Null(""))]
    resp = ber.decode_response(pysnmp_response(5, null, status=5))
    assert (resp.error_status, resp.varbinds) == (5, [("1.3.6.1.2.1.1.5.0", None)])


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = SnmpSim(tmp_path_factory.mktemp("snmpsim"), sorted(FIX.glob("*.snmprec"))).start()
    yield s
    s.stop()


def netsnmp_walk(port: int, community: str) -> dict[str, str]:
    out = subprocess.run(
        [
            require_binary("snmpbulkwalk"),
            "-v2c",
            "-c",
            community,
            "-On",
            "-Oe",
            "-Ot",
            "-Ox",
            "-Cr25",
            f"127.0.0.1:{port}",
            ".1.3.6",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"MIBS": "", "PATH": "/usr/bin:/bin"},
    ).stdout
    got: dict[str, str] = {}
    last = ""
    for line in out.splitlines():
        oid, sep, rest = line.partition(" = ")
        if sep and oid.startswith(".1.3.6"):
            last = oid.lstrip(".")
            got[last] = rest
        else:  # a long Hex-STRING goes on over the next lines
            got[last] += " " + line
    return got


# every recording, but those whose agent answers with a protocol error on purpose (snmpsim's
# `error` variation): no walk of them completes, with either stack
WALKABLE = [p.stem for p in sorted(FIX.glob("*.snmprec")) if ":error|" not in p.read_text()]


@pytest.mark.parametrize("name", WALKABLE)
def test_whole_recording_walk_matches_net_snmp(sim, name):
    ours = asyncio.run(Client().walk(Target("127.0.0.1", sim.port, community=name), "1.3.6"))
    theirs = netsnmp_walk(sim.port, name)  # walked after ours
    assert list(ours) == list(theirs)  # same OIDs, same order
    moving = {  # snmpsim's `numeric` variation: the value grows between the two walks
        line.split("|")[0]
        for line in (FIX / f"{name}.snmprec").read_text().splitlines()
        if ":" in line.split("|")[1]
    }
    for oid, text in theirs.items():
        kind, _, shown = text.partition(": ")
        v = ours[oid]
        if kind in ("INTEGER", "Counter32", "Gauge32", "Timeticks", "Counter64"):
            want = int(shown.strip("()").split(")")[0])
            assert v == want or (oid in moving and v < want), oid
        elif kind == "OID":
            assert v == shown.lstrip("."), oid
        elif kind == "Hex-STRING":
            raw = bytes.fromhex("".join(shown.split()))
            assert v in (raw.decode("utf-8", "replace"), raw.hex()), oid


def test_multi_column_walk_fits_repetitions_to_the_rows_and_survives_cut_answers(sim):
    cols = [f"1.3.6.1.4.1.318.1.1.26.9.4.3.1.{c}" for c in (3, 7, 11)]
    client = Client()
    sent: list[int] = []
    real = client.bulk

    async def counting(t, names, reps):
        sent.append(reps)
        return await real(t, names, reps)

    client.bulk = counting  # type: ignore[method-assign]

    async def run():
        t = Target("127.0.0.1", sim.port, community="apc-rpdu2")
        first = await client.walk_columns(t, cols)
        second = await client.walk_columns(t, cols)
        small = await client.walk_columns(
            Target("127.0.0.1", sim.port, community="apc-rpdu2", max_repetitions=5), cols
        )
        return first, second, small

    first, second, small = asyncio.run(run())
    assert len(first) == 3 * 24 and first == second == small
    assert first["1.3.6.1.4.1.318.1.1.26.9.4.3.1.7.1"] == 245  # W, as recorded
    # The first walk asks for two rows (a one-row table would end there), then the full 25.
    # snmpsim cuts an answer at 63 varbinds (as a real agent cuts at its message size): 25
    # rows asked, 21 come, the walk goes on from there. The second walk knows the table has
    # 24 rows: after the cut it asks only for the 3 missing plus one to see the end. With
    # max-repetitions 5, 24 rows take five requests.
    assert sent == [2, 25, 25, 25, 4, 5, 5, 5, 5, 5]


class BadAgent:
    """A UDP peer that answers every request with what `reply(request)` returns."""

    def __init__(self, reply):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.reply = reply
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        while not self.stop.is_set():
            try:
                data, addr = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            for out in self.reply(data):
                self.sock.sendto(out, addr)

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


def request_of(data: bytes):
    msg, _ = decoder.decode(data, asn1Spec=V2.Message())
    pdu = V2.apiMessage.get_pdu(msg)
    return int(V2.apiPDU.get_request_id(pdu)), [str(o) for o, _ in V2.apiPDU.get_varbinds(pdu)]


def walk_of(agent: BadAgent, timeout: float = 1.0):
    t = Target("127.0.0.1", agent.port, timeout_s=timeout, retries=0)
    return asyncio.run(Client().walk(t, "1.3.6.1.2.1.2.2.1.2"))


def test_a_device_answering_garbage_is_garbage_not_a_timeout():
    agent = BadAgent(lambda data: [b"\x30\x03\x02\x01\x01HTTP/1.1 400 Bad Request"])
    try:
        t0 = time.monotonic()
        with pytest.raises(SnmpError) as err:
            walk_of(agent, timeout=5)
        assert err.value.reason == "garbage"
        assert time.monotonic() - t0 < 2  # named at once, not after the timeout
    finally:
        agent.close()


def test_a_table_that_never_advances_is_garbage_not_a_hang():
    def same(data):
        rid, _ = request_of(data)
        return [pysnmp_response(rid, [("1.3.6.1.2.1.2.2.1.2.1", rfc1902.OctetString(b"eth0"))])]

    agent = BadAgent(same)
    try:
        with pytest.raises(SnmpError, match="not increasing") as err:
            walk_of(agent)
        assert err.value.reason == "garbage"
    finally:
        agent.close()


def test_replies_with_another_request_id_are_ignored_and_counted():
    def wrong(data):
        rid, names = request_of(data)
        return [pysnmp_response(rid + 1, [(names[0] + ".1", rfc1902.Integer32(1))])]

    agent = BadAgent(wrong)
    client = Client()
    try:
        t = Target("127.0.0.1", agent.port, timeout_s=0.3, retries=1)
        with pytest.raises(SnmpError) as err:
            asyncio.run(client.get(t, ["1.3.6.1.2.1.1.3.0"]))
        assert err.value.reason == "timeout"
        assert client.stray == 2  # one per try, none taken as the answer
    finally:
        agent.close()


def test_error_status_is_an_error_naming_it(sim):
    def gen_err(data):
        rid, names = request_of(data)
        return [pysnmp_response(rid, [(names[0], rfc1902.Null(""))], status=5)]

    agent = BadAgent(gen_err)
    try:
        with pytest.raises(SnmpError, match="genErr") as err:
            walk_of(agent)
        assert err.value.reason == "error"
    finally:
        agent.close()


def test_an_agent_saying_toobig_gets_fewer_rows_and_remembers_it():
    table = [
        (f"1.3.6.1.2.1.2.2.1.2.{i}", rfc1902.OctetString(f"eth{i}".encode())) for i in range(1, 13)
    ]
    asked: list[int] = []

    def small(data):
        msg, _ = decoder.decode(data, asn1Spec=V2.Message())
        pdu = V2.apiMessage.get_pdu(msg)
        rid = int(V2.apiPDU.get_request_id(pdu))
        reps = int(V2.apiBulkPDU.get_max_repetitions(pdu))
        asked.append(reps)
        if reps > 4:  # an old agent with a small buffer
            return [pysnmp_response(rid, [], status=1)]
        (name,) = [str(o) for o, _ in V2.apiPDU.get_varbinds(pdu)]
        after = [
            vb
            for vb in table
            if tuple(map(int, vb[0].split("."))) > tuple(map(int, name.split(".")))
        ]
        rows = after[:reps] or [(name, rfc1905.endOfMibView)]
        if len(rows) < reps and after:
            rows.append(("1.3.6.1.2.1.2.2.1.3.1", rfc1902.Integer32(6)))  # the next column
        return [pysnmp_response(rid, rows)]

    agent = BadAgent(small)
    client = Client()
    try:
        t = Target("127.0.0.1", agent.port, timeout_s=1, retries=0, max_repetitions=20)

        async def twice():
            first = await client.walk(t, "1.3.6.1.2.1.2.2.1.2")
            n = len(asked)
            second = await client.walk(t, "1.3.6.1.2.1.2.2.1.2")
            return first, second, n

        first, second, n = asyncio.run(twice())
        assert len(first) == 12 and first == second
        assert asked[:5] == [2, 20, 10, 5, 2]  # two rows first, then halved until it fits
        assert max(asked[n:]) <= 2  # the second walk starts where the first learnt
    finally:
        agent.close()
