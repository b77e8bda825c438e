"""Network interfaces from IF-MIB (RFC 2863): status, speed and traffic of every port, so a
switch's power can be read beside what it carries. Counters done right: HC (64-bit) octets
where the device has ifXTable, else the 32-bit ones with their wraps; a sysUpTime drop or a
change of ifCounterDiscontinuityTime starts a new segment (no delta across it), and so does
a step the port's speed cannot explain (no spike).

From the MIB text:
  ifSpeed 1.3.6.1.2.1.2.2.1.5 (Gauge32, bits per second; saturates at 4294967295)
  ifOperStatus 1.3.6.1.2.1.2.2.1.8 (up(1), down(2), testing(3), unknown(4), dormant(5),
    notPresent(6), lowerLayerDown(7))
  ifInOctets .10, ifOutOctets .16 (Counter32)
  ifName 1.3.6.1.2.1.31.1.1.1.1; ifHCInOctets .6, ifHCOutOctets .10 (Counter64);
  ifHighSpeed .15 ("in units of 1,000,000 bits per second");
  ifCounterDiscontinuityTime .19 ("the value of sysUpTime on the most recent occasion at
    which any one or more of this interface's counters suffered a discontinuity")
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

IF_DESCR = "1.3.6.1.2.1.2.2.1.2"
IF_SPEED = "1.3.6.1.2.1.2.2.1.5"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_IN_OCTETS = "1.3.6.1.2.1.2.2.1.10"
IF_OUT_OCTETS = "1.3.6.1.2.1.2.2.1.16"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_HC_IN_OCTETS = "1.3.6.1.2.1.31.1.1.1.6"
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"
IF_HIGH_SPEED = "1.3.6.1.2.1.31.1.1.1.15"
IF_DISCONTINUITY = "1.3.6.1.2.1.31.1.1.1.19"
ROOTS = [
    IF_OPER_STATUS,
    IF_SPEED,
    IF_IN_OCTETS,
    IF_OUT_OCTETS,
    IF_NAME,
    IF_HC_IN_OCTETS,
    IF_HC_OUT_OCTETS,
    IF_HIGH_SPEED,
    IF_DISCONTINUITY,
]
WRAP32, WRAP64 = 2**32, 2**64
GAUGE32_MAX = 2**32 - 1
OPER_STATUS = {
    1: "up",
    2: "down",
    3: "testing",
    4: "unknown",
    5: "dormant",
    6: "notPresent",
    7: "lowerLayerDown",
}
# a step beyond what the line rate allows (with room for polling jitter) is not traffic
RATE_SLACK = 1.5


@dataclass(frozen=True)
class Port:
    index: str
    name: str
    status: str | None  # OPER_STATUS name
    speed_bps: float | None
    in_octets: int | None
    out_octets: int | None
    wrap: int  # range of the octet counters read (2^64 HC, 2^32 otherwise)
    discontinuity: int | None  # ifCounterDiscontinuityTime, TimeTicks


def _column(walked: dict[str, Any], root: str) -> dict[str, Any]:
    n = len(root) + 1
    return {oid[n:]: v for oid, v in walked.items() if oid.startswith(root + ".")}


def _int(v: Any) -> int | None:
    return v if isinstance(v, int) and not isinstance(v, bool) and v >= 0 else None


def ports(walked: dict[str, Any]) -> list[Port]:
    """Every interface in one walk of ROOTS. HC counters win per port when both exist."""
    col = {root: _column(walked, root) for root in ROOTS}
    col[IF_DESCR] = _column(walked, IF_DESCR)
    indexes = set()
    for root in (IF_OPER_STATUS, IF_NAME, IF_IN_OCTETS, IF_HC_IN_OCTETS):
        indexes |= set(col[root])
    out = []
    for i in sorted(indexes, key=lambda x: [int(p) for p in x.split(".") if p.isdigit()]):
        hc_in, hc_out = _int(col[IF_HC_IN_OCTETS].get(i)), _int(col[IF_HC_OUT_OCTETS].get(i))
        hc = hc_in is not None or hc_out is not None
        speed = _int(col[IF_SPEED].get(i))
        high = _int(col[IF_HIGH_SPEED].get(i))
        if high and (speed is None or speed >= GAUGE32_MAX or high * 1e6 > speed):
            speed_bps: float | None = high * 1e6  # past 4.29 Gb/s ifSpeed saturates
        else:
            speed_bps = float(speed) if speed is not None else None
        name = col[IF_NAME].get(i) or col[IF_DESCR].get(i) or i
        status = col[IF_OPER_STATUS].get(i)
        out.append(
            Port(
                i,
                str(name),
                OPER_STATUS.get(status) if isinstance(status, int) else None,
                speed_bps,
                hc_in if hc else _int(col[IF_IN_OCTETS].get(i)),
                hc_out if hc else _int(col[IF_OUT_OCTETS].get(i)),
                WRAP64 if hc else WRAP32,
                _int(col[IF_DISCONTINUITY].get(i)),
            )
        )
    return out


@dataclass
class CounterState:
    value: int | None = None
    time: float | None = None
    discontinuity: int | None = None
    wrap: int = WRAP64


def advance(
    st: CounterState,
    value: int | None,
    now: float,
    wrap: int,
    discontinuity: int | None,
    rebooted: bool,
    speed_bps: float | None,
) -> int | None:
    """Octets since the last reading, or None when no honest delta exists (first reading,
    counter discontinuity, reboot, a reset of a 64-bit counter, or a step the port's speed
    cannot explain). The state always moves on to the new reading (a new segment)."""
    prev, prev_t, prev_disc, prev_wrap = st.value, st.time, st.discontinuity, st.wrap
    if value is None:
        return None  # unavailable this poll: keep the last good reading
    st.value, st.time, st.discontinuity, st.wrap = value, now, discontinuity, wrap
    if prev is None or prev_t is None or rebooted or prev_wrap != wrap:
        return None
    if discontinuity != prev_disc:
        return None
    if value >= prev:
        delta = value - prev
    elif wrap == WRAP32:
        delta = value + WRAP32 - prev  # Counter32 wraps in minutes on a busy gigabit port
    else:
        return None  # a 64-bit counter does not wrap: it was reset
    dt = now - prev_t
    if speed_bps and dt > 0 and delta > speed_bps / 8 * dt * RATE_SLACK:
        return None
    return delta
