"""Off-hours compliance on a hand-computed week that crosses the autumn DST change and a
public holiday (All Saints' Day, Monday 1 November 2027), with a Tuesday patch-night
maintenance window and an exempt server. Every figure below was computed by hand."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from collector_helpers import make_config, running

from collector.compliance.calendar import Calendar, Maintenance, parse_range
from collector.compliance.report import Rules, morning_report, to_csv, to_text
from energy_common.schema import Host, Report, Segment, encode_report

PARIS = ZoneInfo("Europe/Paris")
IDS = {n: f"00000000-0000-4000-8000-00000000000{i}" for i, n in enumerate("ABCDE", 1)}


def t(day: int, hh: float, month: int = 10) -> float:
    h, m = int(hh), round((hh - int(hh)) * 60)
    return datetime(2027, month, day, h, m, tzinfo=PARIS).timestamp()


def nov(day: int, hh: float) -> float:
    return t(day, hh, 11)


START, END = t(28, 8), nov(3, 10)
# the three off-hours periods of the window (default calendar: Mon–Thu until 18:30, Fri 17:30)
P1 = (t(28, 18.5), t(29, 8))  # Thursday night, 13.5 h
P2 = (t(29, 17.5), nov(2, 8))  # Friday → Tuesday: weekend + All Saints' Day, 87.5 h (DST +1 h)
P3 = (nov(2, 18.5), nov(3, 8))  # Tuesday night with the 22:00–02:00 patch window, 13.5 h


def office_day_off_at_night(day_starts: list[float], day_ends: list[float]) -> list[tuple]:
    segs = [(START, day_ends[0], "active", 0.1)]
    for end, nxt in zip(day_ends, day_starts[1:], strict=False):
        segs.append((end, nxt, "off", None))
        segs.append((nxt, day_ends[day_starts.index(nxt)], "active", 0.1))
    return segs


def scenario() -> dict[str, tuple[str, list[tuple]]]:
    starts = [t(28, 8), t(29, 8), nov(2, 8), nov(3, 8)]
    ends = [t(28, 18), t(29, 17), nov(2, 18), END]
    a = office_day_off_at_night(starts, ends)
    b = [(START, t(28, 18), "active", 0.1), (t(28, 18), END, "idle", 0.0)]  # never off
    c = [
        (START, t(28, 19.25), "active", 0.1),  # 45 min past the end of the day
        (t(28, 19.25), t(29, 8), "suspended", None),
        (t(29, 8), t(29, 17), "active", 0.1),
        (t(29, 17), nov(2, 8), "suspended", None),
        (nov(2, 8), nov(2, 18), "active", 0.1),
        (nov(2, 18), nov(2, 22), "suspended", None),
        (nov(2, 22), nov(3, 1), "active", 0.5),  # woken for patches: inside the window
        (nov(3, 1), nov(3, 8), "suspended", None),
        (nov(3, 8), END, "active", 0.1),
    ]
    d = [(START, END, "active", 0.3)]  # a server: exempt
    e = [
        (START, t(28, 18), "active", 0.1),
        (t(28, 18), t(29, 8), "off", None),
        (t(29, 8), t(29, 17.5), "active", 0.1),
        (t(29, 17.5), nov(2, 8), "idle", 0.0),
        (nov(2, 8), nov(2, 18), "active", 0.1),
        (nov(2, 18), nov(3, 8), "off", None),
        (nov(3, 8), END, "active", 0.1),
    ]
    return {
        "A": ("desktop", a),
        "B": ("desktop", b),
        "C": ("laptop", c),
        "D": ("server", d),
        "E": ("desktop", e),
    }


def reports() -> list[bytes]:
    out = []
    for name, (kind, segs) in scenario().items():
        host = Host(hostname=f"PC-{name}", kind=kind, site="mairie", department="DSI")
        for seq, (a, b, state, util) in enumerate(segs):
            clean = True if state == "off" else None
            rep = Report(
                IDS[name],
                seq,
                b,
                host,
                START - 3600,
                (Segment(a, b, state, clean=clean, cpu_util=util),),
            )
            out.append(encode_report(rep))
    return out


CONFIG = {
    "validation": {"clock_skew_s": 10**9},  # the scenario lies in 2027
    "compliance": {
        "calendars": [
            {"name": "default", "maintenance": [{"weekday": "tue", "hours": "22:00-02:00"}]}
        ],
        "tolerance_s": 900,
    },
}


@pytest.fixture(scope="module")
def collector(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("compliance")
    with running(make_config(tmp, **CONFIG)) as c:
        outcomes = c.pipeline.process([(r, None) for r in reports()])
        assert {o.result for o in outcomes} == {"accepted"}
        yield c


def periods(c, name):
    return {
        round(ps): row
        for ps, *row in c.ledger.execute(
            "SELECT period_start, period_end, period_kind, on_s, excused_s, covered_s, wasted_wh "
            "FROM host_periods WHERE host_id = ? ORDER BY period_start",
            (IDS[name],),
        )
    }


def test_calendar_periods_and_dst_lengths():
    cal = Calendar(
        "x",
        working={i: ((8, 12.5), (13.5, 18.5)) for i in range(4)} | {4: ((8, 12.5), (13.5, 17.5))},
    )
    p = cal.period_at(t(31, 12))
    assert (p.start, p.end, p.kind) == (*P2, "holiday")
    assert (p.end - p.start) / 3600 == 87.5
    assert cal.period_at(t(28, 12.75)) is None  # lunch: neither working nor off-hours
    assert parse_range("22:00-02:00") == (22.0, 2.0)


class _Forgetful(dict):
    """A calendar's hour memory that remembers nothing: every answer from the time zone."""

    def __setitem__(self, key: object, value: object) -> None:
        pass


def test_remembered_hours_answer_as_the_time_zone_does():
    """Calendars remember which working span or off-hours period holds each whole hour; over
    a year with DST changes, holidays, a closure, a lunch break, a half-hour end and a
    maintenance window, every answer equals the one worked out from the time zone."""

    def calendar() -> Calendar:
        return Calendar(
            "x",
            working={i: ((8, 12.5), (13.5, 18.5)) for i in range(4)} | {4: ((7.5, 16.25),)},
            closures=((datetime(2027, 12, 24).date(), datetime(2028, 1, 2).date()),),
            maintenance=(Maintenance(1, 22.0, 2.0),),
        )

    cal, fresh = calendar(), calendar()
    fresh._hours = _Forgetful()
    t0 = datetime(2027, 3, 1, tzinfo=PARIS).timestamp()
    for i in range(0, 366 * 86400, 1877):  # not a divisor of an hour: every minute of it
        x = t0 + i
        assert cal.period_at(x) == fresh.period_at(x), x
        b = x + (i % 97) * 1200.0  # up to ~32 hours: across spans and periods
        assert cal.parts(x, b) == fresh.parts(x, b), (x, b)
    assert len(cal._hours) > 5000  # and it did remember


def test_host_left_on_every_night(collector):
    rows = periods(collector, "B")
    assert [(round(r[2]), round(r[3])) for r in rows.values()] == [
        (46800, 1800),  # P1: 13.5 h − 30 min grace
        (313200, 1800),  # P2: 87.5 h − 30 min grace
        (32400, 16200),
    ]  # P3: 13.5 h − 30 min grace − 4 h maintenance
    # wasted = on-time × (idle 25 W + monitor off 0.3 W − (sleep 1.5 W + monitor 0.3 W))
    assert [round(r[5], 3) for r in rows.values()] == [305.5, 2044.5, 211.5]


def test_clean_host_is_compliant_and_covered(collector):
    rows = periods(collector, "A")
    assert [r[2] for r in rows.values()] == [0, 0, 0]
    for start, (end, _, _, _, covered, _) in rows.items():
        assert covered == pytest.approx(end - start)


def test_laptop_grace_and_maintenance_window(collector):
    rows = list(periods(collector, "C").values())
    assert (rows[0][2], rows[0][3]) == (pytest.approx(900), pytest.approx(1800))  # at tolerance
    assert rows[0][5] == pytest.approx(900 * (8 + 27 * 0.1 - 0.8) / 3600)
    assert (rows[2][2], rows[2][3]) == (0, pytest.approx(3 * 3600))  # patch night excused


def test_exempt_server_has_no_periods(collector):
    assert periods(collector, "D") == {}


def test_days_in_ledger_have_25_hours_on_dst_day(collector):
    (secs,) = collector.ledger.execute(
        "SELECT SUM(seconds) FROM host_days WHERE host_id = ? AND day = '2027-10-31'", (IDS["B"],)
    )[0]
    assert secs == 25 * 3600


RULES = Rules(tolerance_s=900, coverage_min=0.9, repeat_offender_periods=3, tariff_eur_per_kwh=0.2)


def test_morning_report_after_the_holiday_weekend(collector):
    rep = morning_report(collector.ledger, collector.compliance, RULES, nov(2, 10))
    assert rep["periods"] == [("2027-10-29", "holiday")]
    assert rep["summary"]["hosts"] == 4  # the server is exempt
    assert (rep["summary"]["compliant"], rep["summary"]["noncompliant"]) == (2, 2)
    assert {r["hostname"] for r in rep["left_on"]} == {"PC-B", "PC-E"}
    e = next(r for r in rep["left_on"] if r["hostname"] == "PC-E")
    assert e["on_s"] == 313200
    assert e["eur"] == pytest.approx(2.0445 * 0.2, abs=1e-4)


def test_morning_report_after_patch_night_names_repeat_offender(collector):
    rep = morning_report(collector.ledger, collector.compliance, RULES, nov(3, 10))
    assert rep["summary"]["rate"] == 0.75
    assert [r["hostname"] for r in rep["left_on"]] == ["PC-B"]
    assert rep["repeat_offenders"] == [
        {"hostname": "PC-B", "site": "mairie", "department": "DSI", "periods_running": 3}
    ]
    text = to_text(rep, "fr")
    assert "Taux de conformité : 75,0 %" in text and "PC-B" in text  # French decimals
    english = to_text(rep, "en")
    assert "Compliance rate: 75.0 %" in english  # no French space before the colon
    assert " :" not in english and "Left on: 1" in english
    # French agrees in number: one machine left on is "restée allumée"
    assert "(1 restée allumée)" in text and "restées allumées)" not in text.split("Par site")[1]
    csv_text = to_csv(rep)
    assert csv_text.splitlines()[0].startswith("hostname,site,department")
    assert "PC-B,mairie,DSI,desktop,2027-11-02,night,32400.0" in csv_text


def test_host_without_reports_is_unknown_not_compliant(tmp_path):
    with running(make_config(tmp_path, **CONFIG)) as c:
        only_day = [r for r in reports()][:1]  # host A's first day only, then silence
        c.pipeline.process([(b, None) for b in only_day])
        rep = morning_report(c.ledger, c.compliance, RULES, nov(3, 10))
        assert rep["summary"] == {**rep["summary"], "hosts": 1, "compliant": 0, "unknown": 1}


def test_simulated_month_matches_ground_truth(tmp_path):
    from collector.simulate import SimConfig, Simulation

    sim = Simulation(SimConfig(agents=12, days=31, seed=99, left_on_share=0.4, reboot_share=0.1))
    with running(make_config(tmp_path)) as c:
        out = c.pipeline.process([(b, None) for _, _, _, b in sim.reports()])
        assert {o.result for o in out} == {"accepted"}
        cal = c.calendars["default"]
        truth = sim.truth_offhours(cal)
        got: dict[str, dict[float, float]] = {}
        for hid, start, on_s in c.ledger.execute(
            "SELECT host_id, period_start, on_s FROM host_periods"
        ):
            got.setdefault(hid, {})[start] = on_s
        assert set(got) == set(truth)  # VMs exempt: no rows
        periods = 0
        for hid, per in truth.items():
            for start, on_s in per.items():
                assert got[hid].get(start, 0.0) == pytest.approx(on_s, abs=0.01), (hid, start)
                periods += 1
        assert periods > 200  # about 22 periods (nights, weekends, holidays) per PC
        # verdicts follow: left-on desktops are non-compliant every night
        bad = {hid for hid, per in truth.items() if any(v > 900 for v in per.values())}
        left_on = {h.agent_id for h in sim.hosts if h.left_on}
        assert left_on <= bad


def test_the_trend_ends_at_the_reports_own_day_and_times_are_the_sites(collector):
    """A report for an earlier morning shows the trend up to its own period, not the newest
    days in the ledger; generated_at is in the site's time zone (CEST before the end of
    DST, CET after), whatever the collector machine's zone. On Saturday the weekend is in
    progress: last night is Thursday's."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    paris = ZoneInfo("Europe/Paris")
    at = datetime(2027, 10, 30, 10, 0, tzinfo=paris).timestamp()
    rep = morning_report(collector.ledger, collector.compliance, RULES, at)
    days = [t["period_day"] for t in rep["trend"]]
    assert days and days[-1] == "2027-10-28" and all(d <= "2027-10-28" for d in days)
    assert rep["in_progress"] == [
        {"calendar": "default", "period_day": "2027-10-29", "period_kind": "holiday"}
    ]
    assert rep["generated_at"] == "2027-10-30T10:00:00+02:00"
    later = morning_report(collector.ledger, collector.compliance, RULES, nov(3, 10))
    assert later["generated_at"].endswith("+01:00")
    assert [t["period_day"] for t in later["trend"]][-1] == "2027-11-02"


@pytest.mark.parametrize(
    ("at", "judged"),
    [
        (nov(2, 18.6), "2027-10-29"),  # Tuesday 18:36: tonight has begun, nobody late yet
        (nov(2, 19.25), "2027-10-29"),  # 19:15: still the holiday weekend, not tonight
        (nov(3, 7.5), "2027-10-29"),  # 07:30, before the day starts: tonight is not over
        (nov(3, 8), "2027-11-02"),  # 08:00: Tuesday's night has ended, it is last night
        (nov(3, 12.75), "2027-11-02"),  # lunch break: still a working day
    ],
)
def test_last_night_is_the_last_completed_period_whatever_the_time(collector, at, judged):
    """The verdict is never about the period running now (that read 100 % at 19:11 and
    "everyone unknown" at 19:15); the running one is named as in progress."""
    rep = morning_report(collector.ledger, collector.compliance, RULES, at)
    assert [d for d, _ in rep["periods"]] == [judged]
    running = collector.compliance.calendars["default"].period_at(at)
    assert [p["period_day"] for p in rep["in_progress"]] == ([running.day] if running else [])
    expected = {"2027-10-29": (2, 2, 0), "2027-11-02": (3, 1, 0)}[judged]
    s = rep["summary"]
    assert (s["compliant"], s["noncompliant"], s["unknown"]) == expected


def test_summary_and_trend_agree_on_the_same_period(collector):
    """The trend's last point is the summary (same verdicts: coverage counts in both)."""
    rep = morning_report(collector.ledger, collector.compliance, RULES, nov(3, 10))
    last = rep["trend"][-1]
    assert last["period_day"] == "2027-11-02"
    s = rep["summary"]
    for k in ("hosts", "compliant", "noncompliant", "unknown", "rate"):
        assert last[k] == s[k], k
    assert [t["period_day"] for t in rep["trend"]] == ["2027-10-28", "2027-10-29", "2027-11-02"]


def test_every_trend_point_is_that_periods_own_summary(collector):
    """The trend's earlier points (counted in SQL for speed) equal the verdicts the report
    would give for that period as last night."""
    from collector.compliance.report import host_verdicts, summary

    rep = morning_report(collector.ledger, collector.compliance, RULES, nov(3, 10))
    for back, point in enumerate(reversed(rep["trend"])):
        rows = host_verdicts(collector.ledger, collector.compliance, RULES, nov(3, 10), back)
        assert point == {"period_day": max(r["period_day"] for r in rows), **summary(rows)}
