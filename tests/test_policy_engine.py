"""The agent's policy decisions (agent/policy.py), the notice files, and the collector's
policy documents (collector/policy/documents.py) against the real calendars."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from agent import notice
from agent.policy import EVENTS, MAX_OVERRIDE_S, Engine, Policy, PolicyError
from collector.compliance.calendar import Calendar, Maintenance
from collector.compliance.periods import Compliance
from collector.model.carbon import CarbonModel
from collector.policy.documents import Policies, off_hours_windows
from collector.policy.settings import OptOutConfig, PolicyConfig, PolicyRuleConfig
from collector.records import Entity
from energy_common.schema import POLICY_ACTIONS, POLICY_EVENTS, POLICY_MODES

PARIS = ZoneInfo("Europe/Paris")
T0 = 1_800_000_000.0  # a window opens here
WINDOW = (T0, T0 + 12 * 3600)


def policy(**kw: object) -> Policy:
    doc = {
        "version": "v1",
        "mode": "active",
        "action": "sleep",
        "idle_s": 1800,
        "warn_s": 300,
        "postpone_s": 3600,
        "windows": [list(WINDOW)],
        **kw,
    }
    return Policy.from_json(doc)


def engine(**kw: object) -> Engine:
    e = Engine()
    e.update(policy(**kw))
    return e


def test_schema_lists_match_the_engine():
    from agent import policy as p

    assert POLICY_EVENTS == EVENTS
    assert POLICY_MODES == p.MODES
    assert POLICY_ACTIONS == p.ACTIONS


def test_warns_after_idle_then_acts_after_the_warning():
    e = engine()
    # 20 minutes into the window, idle since before it: idle counts from the window start
    assert e.tick(T0 + 1200, 99999, []).kind == "none"
    step = e.tick(T0 + 1800, 99999, [])
    assert step.kind == "warn" and step.deadline == T0 + 2100
    assert e.tick(T0 + 2000, 99999, []).kind == "none"
    assert e.tick(T0 + 2100, 99999, []).kind == "act"
    e.acted(T0 + 2100, "sleep", None)
    rep = e.take_report()
    assert rep["events"] == {"acted": 1, "warned": 1}
    assert rep["actions"] == [{"at": T0 + 2100, "action": "sleep", "mode": "active"}]
    assert e.take_report() == {"version": "v1", "mode": "active"}  # counts went out once


def test_user_back_during_warning_withdraws_it():
    e = engine()
    assert e.tick(T0 + 1800, 99999, []).kind == "warn"
    assert e.tick(T0 + 1900, 5, []).kind == "withdraw"
    assert e.take_report()["events"] == {"warned": 1, "withdrawn": 1}


def test_outside_the_windows_nothing_happens():
    e = engine()
    assert e.tick(T0 - 10, 99999, []).kind == "none"
    assert e.tick(WINDOW[1] + 1, 99999, []).kind == "none"


def test_postpone_gives_one_hour_then_warns_again():
    e = engine()
    assert e.tick(T0 + 1800, 99999, []).kind == "warn"
    assert e.answer("postpone", T0 + 1900).kind == "withdraw"
    assert e.tick(T0 + 1900 + 3599, 99999, []).kind == "none"
    assert e.tick(T0 + 1900 + 3600, 99999, []).kind == "warn"
    assert e.take_report()["events"] == {"postponed": 1, "warned": 2}


def test_not_tonight_lasts_until_the_window_ends_and_no_longer():
    e = engine()
    e.tick(T0 + 1800, 99999, [])
    e.answer("not_tonight", T0 + 1900)
    assert e.tick(WINDOW[1] - 1, 99999, []).kind == "none"
    assert e.not_tonight_until == WINDOW[1]
    # a window longer than a day (a long weekend): the override still ends within 24 h
    long = engine(windows=[[T0, T0 + 3 * 86400]])
    long.tick(T0 + 1800, 99999, [])
    long.answer("not_tonight", T0 + 1900)
    assert long.not_tonight_until == T0 + 1900 + MAX_OVERRIDE_S
    assert long.tick(T0 + 1900 + MAX_OVERRIDE_S + 1800, 99999, []).kind == "warn"


def test_not_tonight_refused_when_the_policy_does_not_allow_it():
    e = engine(allow_not_tonight=False)
    e.tick(T0 + 1800, 99999, [])
    assert e.answer("not_tonight", T0 + 1900).kind == "none"
    assert e.tick(T0 + 2100, 99999, []).kind == "act"


def test_honoured_blocker_holds_and_counts_once_per_window():
    e = engine(honour=["Teams.exe", "execution:*"])
    update = [{"app": "svchost.exe (wuauserv)", "what": "execution:service"}]
    for t in (1800, 2400, 3000):
        assert e.tick(T0 + t, 99999, update).kind == "none"
    # a blocker the policy does not honour does not hold it
    assert e.tick(T0 + 3600, 99999, [{"app": "spotify", "what": "sleep"}]).kind == "warn"
    assert e.take_report()["events"] == {"blocked": 1, "warned": 1}


def test_unreadable_blockers_never_act_blind():
    e = engine(warn_s=0)
    assert e.tick(T0 + 1800, 99999, None).kind == "none"
    assert e.take_report()["events"] == {"blocked": 1}
    # a policy honouring nothing does not need them
    assert engine(warn_s=0, honour=[]).tick(T0 + 1800, 99999, None).kind == "act"


def test_opt_out_until_its_expiry():
    e = engine(opt_out_until=T0 + 3600)
    assert e.tick(T0 + 1800, 99999, []).kind == "none"
    assert e.tick(T0 + 3000, 99999, []).kind == "none"
    assert e.tick(T0 + 3600 + 1, 99999, []).kind == "warn"
    assert e.take_report()["events"] == {"opted_out": 1, "warned": 1}


def test_advise_mode_notes_once_per_window_and_never_warns():
    e = engine(mode="advise")
    assert e.tick(T0 + 1800, 99999, []).kind == "none"  # where a warning would have been
    assert e.tick(T0 + 2100, 99999, []).kind == "advise"
    assert e.tick(T0 + 5000, 99999, []).kind == "none"
    rep = e.take_report()
    assert rep["events"] == {"advised": 1}
    assert rep["actions"][0]["mode"] == "advise"


def test_failed_action_is_counted():
    e = engine(warn_s=0)
    assert e.tick(T0 + 1800, 99999, []).kind == "act"
    e.acted(T0 + 1800, "sleep", "Operation inhibited by backup")
    assert e.take_report()["events"] == {"failed": 1}


@pytest.mark.parametrize(
    "doc",
    [
        {"mode": "active"},
        {"version": "v", "mode": "sometimes"},
        {"version": "v", "action": "explode"},
        {"version": "v", "idle_s": 1},
        {"version": "v", "windows": [[2, 1]]},
        {"version": "v", "windows": "tonight"},
        {"version": "v", "honour": "all"},
        {"version": "v", "opt_out_until": "soon"},
        [],
    ],
)
def test_bad_policy_documents_are_refused(doc):
    with pytest.raises(PolicyError):
        Policy.from_json(doc)


def test_engine_survives_a_restart_and_a_corrupt_file(tmp_path):
    e = engine()
    e.tick(T0 + 1800, 99999, [])
    e.answer("postpone", T0 + 1900)
    path = tmp_path / "policy.json"
    e.save(path)
    back = Engine.load(path)
    assert back.policy == e.policy
    assert back.events["postponed"] == 1
    path.write_text("{not json")
    assert Engine.load(path).policy is None


def test_notice_files_carry_the_answer_to_the_current_warning_only(tmp_path):
    board = notice.NoticeBoard(tmp_path / "notice")
    board.post("sleep", T0 + 300, True, True)
    w = notice.read_warning(tmp_path / "notice")
    assert w is not None and w.id == board.current.id
    title, body = w.text(T0)
    assert title == "Mise en veille automatique"
    assert "Ce poste va se mettre en veille dans 5 min" in body
    stale = notice.Notice("old", "sleep", T0, True, True)
    notice.write_answer(tmp_path / "notice", stale, "not_tonight")
    notice.write_answer(tmp_path / "notice", w, "postpone")
    assert board.answers() == ["postpone"]
    assert board.answers() == []  # read once, then gone
    assert oct((tmp_path / "notice/answers").stat().st_mode & 0o7777) == "0o1733"
    board.withdraw()
    assert notice.read_warning(tmp_path / "notice") is None


def test_notice_helper_shows_each_warning_once(tmp_path):
    board = notice.NoticeBoard(tmp_path)
    board.post("shutdown", 4e9, True, False)
    shown = []
    loops = iter(range(3))

    def show(w, now):
        shown.append(w.text(now)[1])
        return "postpone"

    notice.run_helper(tmp_path, show, 0.01, stop=lambda: next(loops, None) is None)
    assert len(shown) == 1 and "s'éteindre" in shown[0]
    assert board.answers() == ["postpone"]


# -- the collector's documents ---------------------------------------------------------------


def paris(y, m, d, h=0, mi=0):
    return datetime(y, m, d, h, mi, tzinfo=PARIS).timestamp()


def calendar():
    week = ((8.0, 18.0),)
    return Calendar(
        "default",
        working={i: week for i in range(5)},
        maintenance=(Maintenance(1, 22.0, 2.0),),  # Tuesday 22:00 → Wednesday 02:00
        grace_s=1800,
    )


def test_windows_leave_out_grace_and_maintenance_and_follow_dst():
    cal = calendar()
    # the week of the end of DST (Sunday 2026-10-25): Monday 26 → Thursday 29
    # (from Monday 00:00, so the weekend before comes first: it touches the range)
    wins = off_hours_windows(cal, paris(2026, 10, 26), paris(2026, 10, 30))
    assert wins[1] == (paris(2026, 10, 26, 18, 30), paris(2026, 10, 27, 8))
    # Tuesday night: 18:30 → 22:00, then 02:00 → 08:00 (maintenance in between)
    assert wins[2] == (paris(2026, 10, 27, 18, 30), paris(2026, 10, 27, 22))
    assert wins[3] == (paris(2026, 10, 28, 2), paris(2026, 10, 28, 8))
    # the weekend across the DST change is one window of 25 + 24 + ... hours
    weekend = off_hours_windows(cal, paris(2026, 10, 23, 12), paris(2026, 10, 26, 12))
    assert weekend == [(paris(2026, 10, 23, 18, 30), paris(2026, 10, 26, 8))]
    assert weekend[0][1] - weekend[0][0] == (61.5 + 1) * 3600


def entity(**kw):
    return Entity(kw.pop("id", "a1"), "PC", kw.pop("kind", "desktop"), **kw)


def policies(**kw):
    cfg = PolicyConfig(
        enabled=True,
        rules=[
            PolicyRuleConfig(name="dsi", departments=["DSI"], mode="active", idle_minutes=20),
            PolicyRuleConfig(name="all", mode="advise"),
        ],
        **kw,
    )
    comp = Compliance(
        {"default": calendar()},
        "default",
        {},
        {},
        ["vm", "server"],
        ["always_on=true"],
        0.2,
        CarbonModel(0.052, "static"),
    )
    return Policies(cfg, comp)


def test_first_matching_rule_and_exemptions():
    p = policies()
    assert p.rule_for(entity(department="DSI")).name == "dsi"
    assert p.rule_for(entity(department="Culture")).name == "all"
    assert p.rule_for(entity(kind="vm")) is None
    assert p.rule_for(entity(tags={"always_on": "true"})) is None
    assert p.rule_for(entity(tags={"kiosk": "true"})) is None  # policy.exempt_tags


def test_document_version_changes_only_with_content():
    p = policies()
    now = paris(2026, 12, 2, 10)
    a = p.document(entity(department="DSI"), now)
    assert a["mode"] == "active" and a["idle_s"] == 1200
    assert Policy.from_json(a).window_at(paris(2026, 12, 2, 20)) is not None
    assert p.document(entity(department="DSI", id="other"), now + 3600) == a
    assert p.document(entity(department="DSI"), paris(2026, 12, 3, 10))["version"] != a["version"]
    # sent only when the agent holds another version, or none while there is one to hold
    assert p.control_for(entity(department="DSI"), {"version": a["version"]}, now) is None
    assert p.control_for(entity(department="DSI"), None, now) == a
    off = p.control_for(entity(kind="server"), None, now)
    assert off is None  # nothing to follow, nothing held: nothing sent
    assert p.control_for(entity(kind="server"), {"version": a["version"]}, now)["mode"] == "off"


def test_opt_out_is_in_the_machine_s_document_only():
    p = policies(opt_outs=[OptOutConfig(agent_id="a1", until="2026-12-04")])
    now = paris(2026, 12, 2, 10)
    mine = p.document(entity(), now)
    assert mine["opt_out_until"] == paris(2026, 12, 5)
    assert "opt_out_until" not in p.document(entity(id="a2"), now)


def test_linux_notification_offers_both_answers_and_reads_the_click(tmp_path, monkeypatch):
    fake = tmp_path / "notify-send"
    args = tmp_path / "args"
    fake.write_text(f'#!/bin/sh\nfor a in "$@"; do echo "$a" >> "{args}"; done\necho not_tonight\n')
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", f"{tmp_path}:/usr/bin:/bin")
    w = notice.Notice("id1", "hibernate", T0 + 300, True, True, "fr")
    assert notice.show_linux(w, T0) == "not_tonight"
    sent = args.read_text().splitlines()
    assert "--action=postpone=Reporter d'une heure" in sent
    assert "--action=not_tonight=Pas ce soir" in sent
    assert "--wait" in sent and sent[-2] == "Mise en veille automatique"
    assert sent[-1].startswith("Ce poste va se mettre en veille prolongée dans 5 min")


def test_windows_shutdown_is_planned_power_off_after_the_privilege():
    from fakes import FakeWinApi

    from agent.platform._windows import SHUTDOWN_POWEROFF, SHUTDOWN_REASON, WindowsPlatform

    calls = []

    class Api(FakeWinApi):
        def enable_shutdown_privilege(self):
            calls.append("privilege")
            return None

        def initiate_shutdown(self, message, grace_s):
            calls.append(("shutdown", message, grace_s))
            return None

        def set_suspend_state(self, hibernate):
            calls.append(("suspend", hibernate))
            return "SetSuspendState failed (5)"

    p = WindowsPlatform(api=Api())
    assert p.power_action("shutdown") is None
    assert (
        calls[0] == "privilege" and calls[1][0] == "shutdown" and "hors des heures" in calls[1][1]
    )
    assert p.power_action("hibernate") == "SetSuspendState failed (5)"
    assert calls[-1] == ("suspend", True)
    assert SHUTDOWN_POWEROFF == 0x8 and SHUTDOWN_REASON == 0x80000000  # planned, other/other

    class NoPrivilege(FakeWinApi):
        def enable_shutdown_privilege(self):
            return "SeShutdownPrivilege not held by the service account (1300)"

    assert "not held" in WindowsPlatform(api=NoPrivilege()).power_action("sleep")


def test_last_look_before_acting_holds_only_for_honoured_blockers():
    e = engine(honour=["backup*"])
    assert e.tick(T0 + 1800, 99999, []).kind == "warn"
    assert e.tick(T0 + 2100, 99999, []).kind == "act"
    # a blocker the policy does not honour appeared meanwhile: still clear
    assert e.last_look(T0 + 2100, [{"app": "spotify", "what": "sleep"}]) is True
    # a backup started meanwhile: held, counted once for the window
    assert e.last_look(T0 + 2100, [{"app": "backup-tool", "what": "sleep"}]) is False
    assert e.last_look(T0 + 2101, None) is False  # unreadable: never blind
    assert e.take_report()["events"] == {"blocked": 1, "warned": 1}


def test_a_machine_woken_in_the_night_gets_idle_minutes_from_the_wake():
    """Slept at the window's start, woken at 03:00 for patching (no input since the evening):
    it stays awake idle_s from the wake, and input after the wake restarts the count."""
    e = engine(warn_s=0)
    assert e.tick(T0 + 1800, 99999, []).kind == "act"
    e.acted(T0 + 1800, "sleep", None)
    wake = T0 + 7 * 3600  # seven hours suspended
    e.woke(wake)
    idle_since_evening = wake - T0 + 5  # the user left before the window opened
    for after in (1, 60, 1799):
        assert e.tick(wake + after, idle_since_evening + after, []).kind == "none", after
    # input 20 minutes after the wake (an admin checking the patch): 30 minutes from then
    assert e.tick(wake + 1800 + 60, 1800 + 60 - 1200, []).kind == "none"
    assert e.tick(wake + 1200 + 1799, 1799, []).kind == "none"
    assert e.tick(wake + 1200 + 1800, 1800, []).kind == "act"


def test_a_warning_on_show_when_the_machine_slept_is_withdrawn_at_wake():
    e = engine()
    assert e.tick(T0 + 1800, 99999, []).kind == "warn"
    e.woke(T0 + 5 * 3600)
    assert e.tick(T0 + 5 * 3600 + 2, 99999, []).kind == "withdraw"
    assert e.tick(T0 + 5 * 3600 + 1800, 99999, []).kind == "warn"
