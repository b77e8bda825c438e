"""The energy and CO2e model: profiles, provenance, VM attribution, carbon, local days."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from collector.accounting import Accountant, LocalDays
from collector.model.carbon import CarbonModel, load_eco2mix
from collector.model.energy import Hypervisor, embodied_kg_per_day, interval_energy
from collector.model.profiles import SHIPPED, Profile, ProfileBook
from collector.records import Entity, Interval, RecordBatch
from energy_common.configspec import ConfigError

PARIS = ZoneInfo("Europe/Paris")
BOOK = ProfileBook.load(SHIPPED)
T = datetime(2026, 11, 23, 9, 0, tzinfo=PARIS).timestamp()


def desktop(**kw) -> Entity:
    return Entity(id="a", name="PC-1", kind="desktop", **kw)


def test_linear_model_by_state():
    p = Profile(idle_w=20, max_w=100, suspended_w=2, off_w=0.5, monitor_on_w=15, monitor_off_w=0.3)
    assert p.power_w("active", 0.25) == pytest.approx(20 + 80 * 0.25 + 15)
    assert p.power_w("idle", 0.0) == pytest.approx(20.3)
    assert p.power_w("suspended", None) == pytest.approx(2.3)
    assert p.power_w("off", None) == pytest.approx(0.8)
    assert p.power_w("unknown", 0.9) == pytest.approx(20.3)  # the idle figure, CPU ignored


def test_overrides_by_model_then_tag():
    p = BOOK.profile_for("desktop", "Dell Inc. OptiPlex 7080", {"role": "kiosk"})
    assert (p.idle_w, p.max_w, p.monitor_on_w) == (18, 110, 25)
    assert BOOK.profile_for("desktop", "Unknown box", {}).idle_w == 25


def test_measured_battery_is_not_double_counted():
    iv = Interval(T, T + 3600, "active", 0.2, measured_j=36000.0, measured_source="battery")
    e = interval_energy(
        iv, Entity(id="l", name="L", kind="laptop"), BOOK.profile_for("laptop", None, {})
    )
    assert e.wh_measured == pytest.approx(10.0)
    assert e.wh_modelled == 0  # laptops: no external monitor allowance by default


def test_rapl_adds_only_the_rest_of_the_machine():
    p = Profile(idle_w=20, max_w=100, rapl_rest_w=12)
    iv = Interval(T, T + 3600, "idle", 0.1, measured_j=7200.0, measured_source="rapl")
    e = interval_energy(iv, desktop(), p)
    assert (e.wh_measured, e.wh_modelled) == (pytest.approx(2.0), pytest.approx(12.0))


def test_vm_attributed_from_mapped_hypervisor_by_vcpu_share_and_cpu_use():
    hv = Hypervisor("hv-01", cpus=32, idle_w=160, max_w=480)
    vm = Entity(id="v", name="vm-app", kind="vm", cpus=4, memory_bytes=8 << 30)
    e = interval_energy(Interval(T, T + 3600, "active", 0.5), vm, BOOK.defaults["vm"], hv)
    assert e.wh_attributed == pytest.approx(4 / 32 * (160 + 320 * 0.5))
    assert e.wh_measured == e.wh_modelled == 0


def test_vm_without_mapping_uses_per_vcpu_default():
    vm = Entity(id="v", name="vm-x", kind="vm", cpus=2, memory_bytes=4 << 30)
    e = interval_energy(Interval(T, T + 3600, "idle", 0.0), vm, BOOK.defaults["vm"])
    assert e.wh_attributed == pytest.approx(2 * 0.74 + 4 * 0.392)


def test_embodied_is_amortised_linearly():
    assert embodied_kg_per_day(Profile(embodied_kgco2e=365.25 * 5, lifetime_years=5)) == 1.0


def test_static_carbon_factor_and_basis():
    c = CarbonModel(0.052, "ademe:2022")
    assert c.kg(10.0, T, T + 3600) == (pytest.approx(0.52), "ademe:2022")


def test_hourly_series_weights_hours_and_fills_gaps_with_static():
    h = int(T // 3600 * 3600)
    c = CarbonModel(0.1, "static", {h: 0.02, h + 3600: 0.04})
    kg, basis = c.kg(2.0, h, h + 7200)
    assert kg == pytest.approx(2.0 * 0.03) and basis == "rte-eco2mix:taux_co2"
    kg, basis = c.kg(3.0, h, h + 3 * 3600)
    assert kg == pytest.approx(3.0 * (0.02 + 0.04 + 0.1) / 3)
    assert basis == "rte-eco2mix:taux_co2+static"


def test_eco2mix_open_data_csv(tmp_path):
    f = tmp_path / "eco2mix.csv"
    f.write_text(
        "date_heure;taux_co2;consommation\n"
        "2026-11-23T09:00:00+01:00;30;60000\n"
        "2026-11-23T09:15:00+01:00;34;60100\n"
        "2026-11-23T10:00:00+01:00;;60200\n"
    )
    series = load_eco2mix(f)
    h = int(datetime(2026, 11, 23, 8, 0, tzinfo=ZoneInfo("UTC")).timestamp())
    assert series == {h: pytest.approx(0.032)}


def test_eco2mix_download_file_in_paris_time(tmp_path):
    f = tmp_path / "eCO2mix_RTE_En-cours-TR.xls"
    f.write_bytes(
        "Périmètre\tNature\tDate\tHeures\tConsommation\tTaux de Co2\n"
        "France\tDonnées temps réel\t2026-07-01\t00:00\t45000\t20\n"
        "France\tDonnées temps réel\t2026-07-01\t00:30\t44000\t24\n"
        "RTE ne pourra être tenu responsable\n".encode("latin-1")
    )
    series = load_eco2mix(f)
    h = int(datetime(2026, 6, 30, 22, 0, tzinfo=ZoneInfo("UTC")).timestamp())
    assert series == {h: pytest.approx(0.022)}


def test_days_split_at_local_midnight_across_dst():
    days = LocalDays("Europe/Paris")
    # the night of the autumn change has 25 hours between two local midnights
    a = datetime(2026, 10, 24, 12, 0, tzinfo=PARIS).timestamp()
    b = datetime(2026, 10, 26, 12, 0, tzinfo=PARIS).timestamp()
    parts = days.split(a, b)
    assert [(d, round((z - s) / 3600, 3)) for d, s, z in parts] == [
        ("2026-10-24", 12.0),
        ("2026-10-25", 25.0),
        ("2026-10-26", 12.0),
    ]


@pytest.mark.parametrize("tz", ["Europe/Paris", "America/Santiago", "Asia/Gaza", "UTC"])
def test_days_split_the_same_with_the_ordinary_day_shortcut(tz):
    """Intervals inside an ordinary day skip the time-zone arithmetic: the answer must be the
    general split's, on days with and without a clock change (some zones change at 00:00)."""
    import random

    fast, general = LocalDays(tz), LocalDays(tz)
    general._remember = lambda d: None  # never takes the shortcut
    rnd = random.Random(7)
    for _ in range(20000):
        a = 1774000000 + rnd.uniform(0, 400 * 86400)
        b = a + rnd.choice([1, 300, 3600, 7200, 86400]) * rnd.random()
        assert fast.split(a, b) == general.split(a, b), (a, b)
    assert fast._plain  # the shortcut was there to take


def test_accountant_splits_energy_with_the_days():
    acc = Accountant(BOOK, CarbonModel(0.05, "s"))
    a = datetime(2026, 11, 23, 22, 0, tzinfo=PARIS).timestamp()
    batch = RecordBatch("agent", 1, desktop(), (Interval(a, a + 4 * 3600, "idle", 0.0),), a)
    acc_rows, figures = acc.account(batch, a + 4 * 3600)
    assert [(r.day, r.seconds) for r in acc_rows.days] == [
        ("2026-11-23", 7200.0),
        ("2026-11-24", 7200.0),
    ]
    total = sum(r.wh_modelled for r in acc_rows.days)
    assert total == pytest.approx(figures[0].energy.wh) == pytest.approx(4 * 25.3)


@pytest.mark.parametrize(
    "text,msg",
    [
        ("defaults: {desktop: {idle_w: -1}}", "defaults.desktop.idle_w: expected a non-negative"),
        ("defaults: {desktop: {idle_watts: 1}}", "defaults.desktop.idle_watts: unknown profile"),
        ("defaults: {toaster: {idle_w: 1}}", "defaults.toaster: not a device kind"),
        ("defaults: {desktop: {idle_w: 1}}", "missing (every kind needs one)"),
        ("bogus: 1", "bogus: unknown section"),
    ],
)
def test_profile_file_errors_name_the_key(tmp_path, text, msg):
    f = tmp_path / "p.yaml"
    f.write_text(text)
    with pytest.raises(ConfigError, match=msg.replace("(", r"\(").replace(")", r"\)")):
        ProfileBook.load(f)
