"""The live fleet view behind /metrics and `status`: staleness, clean stops, Last Will."""

from __future__ import annotations

from collector.metrics import Fleet, HostView

NOW = 1_790_000_000.0


def view(state="active", last_end=NOW - 60, power=40.0):
    return HostView("mairie", "DSI", "desktop", state, power, last_end)


def states(fleet, now=NOW):
    return {hid: s for hid, _, s in fleet.snapshot(now)}


def test_silent_agent_becomes_unknown_after_stale_delay():
    f = Fleet(stale_after_s=900)
    f.update("a", view(last_end=NOW - 100))
    f.update("b", view(last_end=NOW - 1000))
    assert states(f) == {"a": "active", "b": "unknown"}


def test_clean_stop_means_off_and_last_will_means_unknown():
    f = Fleet(stale_after_s=900)
    f.update("a", view())
    f.update("b", view())
    f.set_status("a", "stopped")
    f.set_status("b", "vanished")
    assert states(f) == {"a": "off", "b": "unknown"}
    f.update("b", view(last_end=NOW - 10))  # reports again: online
    assert states(f)["b"] == "active"


def test_status_before_first_report_is_kept():
    f = Fleet(stale_after_s=900)
    f.set_status("a", "vanished")  # retained Last Will arrives at subscribe time
    f.update("a", view())
    assert states(f)["a"] == "unknown"


def test_older_report_does_not_override_newer_state():
    f = Fleet(stale_after_s=900)
    f.update("a", view("idle", NOW - 10))
    f.update("a", view("active", NOW - 400))
    assert states(f)["a"] == "idle"


def test_a_host_that_went_to_sleep_or_off_stays_so_until_it_reports_again():
    """Asleep is not unknown: a host whose last report ended suspended or off keeps that
    state however long it is silent (and whatever its Last Will says: suspending drops the
    connection); only a host that should have reported is unknown."""
    f = Fleet(stale_after_s=900)
    f.update("sleeper", view("suspended", NOW - 86400))
    f.update("shut", view("off", NOW - 3 * 86400))
    f.update("silent", view("idle", NOW - 1000))
    f.set_status("sleeper", "vanished")
    assert states(f) == {"sleeper": "suspended", "shut": "off", "silent": "unknown"}
    f.update("sleeper", view("active", NOW - 10))  # it woke and reported
    assert states(f)["sleeper"] == "active"


def test_the_fleet_reads_the_clock_it_is_given():
    now = [NOW]
    f = Fleet(stale_after_s=900, clock=lambda: now[0])
    f.update("a", view("idle", NOW - 60))
    assert {h: s for h, _, s in f.snapshot()} == {"a": "idle"}
    now[0] += 3600
    assert {h: s for h, _, s in f.snapshot()} == {"a": "unknown"}
