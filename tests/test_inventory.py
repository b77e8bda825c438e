"""The inventory end to end: a real FusionInventory agent's file, a CSV (good and bad rows),
the tests' GLPI; matching against agents reporting to a real collector; embodied CO2e and
lifetimes against hand computations; the CLI, check-config and /metrics."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.request
import uuid
from datetime import date, datetime, timezone
from pathlib import Path

import inventory_fleet
import pytest
from collector_helpers import make_config, post, running, scrape, url, wait_for
from glpi_server import GlpiServer

from collector.cli import main as cli
from collector.inventory import store
from collector.inventory.agentfiles import read_agent_file
from collector.inventory.csvfile import InventoryFileError, read_csv
from collector.inventory.factors import kind_factors, model_factors
from collector.inventory.figures import lives, year_figures
from collector.inventory.matching import devices
from collector.inventory.settings import InventoryConfig
from collector.inventory.summary import matching, section
from collector.inventory.sync import sync
from collector.ledger import Ledger
from collector.model.profiles import ProfileBook

ROOT = Path(__file__).resolve().parent.parent
BOOK = ProfileBook.load(ROOT / "collector/model/power-profiles.yaml")

HEADER = (
    "asset_id,kind,type,name,serial,mac,model,state,use_date,decommission_date,"
    "embodied_kgco2e,lifetime_years\n"
)


def _csv(tmp_path: Path, rows: str, name: str = "register.csv") -> Path:
    p = tmp_path / name
    p.write_text(HEADER + rows, encoding="utf-8")
    return p


HAND = (
    "A,desktop,,PC-A,SNA,,OptiPlex 7080,Production,2022-01-01,,,\n"
    "B,laptop,,PC-B,SNB,,Latitude 5420,Réformé,2020-06-01,2026-06-30,,\n"
    "C,monitor,,ECRAN-C,SNC,,P2422H,Production,2017-03-01,,,\n"
    "D,,Switch,SW-D,SND,,Catalyst 9200,Production,2024-01-01,,500,10\n"
    "E,desktop,,PC-E,SNE,,OptiPlex 7080,Production,,,,\n"
)


def test_embodied_and_lifetimes_equal_the_hand_computation(tmp_path: Path) -> None:
    led = Ledger(f"sqlite:{tmp_path / 'l.db'}")
    cfg = InventoryConfig(
        enabled=True, csv_files=[str(_csv(tmp_path, HAND))], models={"p2422h": "150"}
    )
    assert sync(cfg, led, now=1_800_000_000.0).ok
    ls = lives(devices(store.load(led)), kind_factors(cfg, BOOK), model_factors(cfg), [])
    fig = year_figures(ls, 2026)
    # by hand, year 2026 (365 days), shares = kg × days in service / (life in days):
    # A desktop 285 kg (profile default), 5 y expected, age 4.997 y: 285×365/(5×365.25)
    a = 285 * 365 / (5 * 365.25)  # 56.961
    # B laptop 176 kg, real life 2020-06-01 → 2026-06-30 = 2220 days, 181 days in 2026
    b = 176 * 181 / 2220  # 14.350
    # C monitor 150 kg (inventory.models), in service since 2017-03-01: 3592 days old on
    # 2026-12-31, past its 6.6 y: spread over its age
    c = 150 * 365 / 3592  # 15.242
    # D switch: the register's 500 kg over its register lifetime of 10 y
    d = 500 * 365 / (10 * 365.25)  # 49.966
    # E desktop without dates: in service all year over the default 5 y
    e = a
    assert fig["embodied_kgco2e"] == pytest.approx(a + b + c + d + e, abs=1e-3)
    assert fig["embodied_kgco2e"] == pytest.approx(193.479, abs=1e-3)
    kinds = {r["kind"]: r for r in fig["by_kind"]}
    assert kinds["desktop"]["in_service"] == 2 and kinds["desktop"]["age_unknown"] == 1
    assert kinds["desktop"]["mean_age_years"] == pytest.approx(1825 / 365.25, abs=0.01)
    assert kinds["monitor"]["past_expected"] == 1 and kinds["monitor"]["past_expected_share"] == 1
    assert kinds["laptop"]["in_service"] == 0 and kinds["laptop"]["retired_in_year"] == 1
    assert kinds["network"]["embodied_kgco2e"] == pytest.approx(d, abs=1e-3)
    assert fig["retired_in_year"] == [{"kind": "laptop", "age_years": 6.1, "retired": "2026-06-30"}]
    assert fig["mean_age_at_retirement_years"] == 6.1
    assert fig["embodied_basis"] == {"default": 3, "model": 1, "register": 1}
    # one more year of life for A, C, D, E: kg/L − kg/(L+1) each
    life_c = 3592 / 365.25
    saving = (285 / 5 - 285 / 6) * 2 + (150 / life_c - 150 / (life_c + 1)) + (50 - 500 / 11)
    assert fig["one_more_year_saving_kgco2e"] == pytest.approx(saving, abs=1e-3)  # 24.95
    # the year in progress stops at today
    mid = year_figures(ls, 2026, today=date(2026, 3, 31))
    assert mid["as_of"] == "2026-03-31"
    assert {r["kind"]: r["retired_in_year"] for r in mid["by_kind"]}["laptop"] == 0


def test_csv_bad_rows_are_each_named_and_nothing_is_imported(tmp_path: Path) -> None:
    bad = _csv(
        tmp_path,
        "A,desktop,,PC-A,SNA,,M,Production,2022-01-01,,,\n"
        "B,tablet,,PC-B,,,M,Production,2022-01-01,,,\n"
        "C,desktop,,PC-C,,zz:zz,M,Production,2022-13-01,,,\n"
        "D,desktop,,PC-D,,,M,Production,2022-01-01,2021-01-01,,\n"
        "A,desktop,,PC-A2,,,M,Production,2022-01-01,,,\n"
        "F,monitor,,E,,,M,Production,2022-01-01,,-5,\n",
    )
    with pytest.raises(InventoryFileError) as err:
        read_csv(bad)
    errors = err.value.errors
    assert errors == [
        "line 3: kind: 'tablet' is not one of desktop, laptop, thin_client, workstation, "
        "server, monitor, network, peripheral, other",
        "line 4: use_date: '2022-13-01' is not a date (YYYY-MM-DD)",
        "line 5: decommission_date: 2021-01-01 is before the asset's start of service 2022-01-01",
        "line 6: asset_id: 'A' already on line 2",
        "line 7: embodied_kgco2e: -5 is outside 0..100000",
    ]
    led = Ledger(f"sqlite:{tmp_path / 'l.db'}")
    res = sync(InventoryConfig(enabled=True, csv_files=[str(bad)]), led, now=1.0)
    assert not res.ok and "line 3" in (res.sources[0].error or "")
    assert store.load(led) == []
    header = tmp_path / "h.csv"
    header.write_text("asset_id,kind,colour\n")
    with pytest.raises(InventoryFileError, match="header: unknown column"):
        read_csv(header)


@pytest.fixture(scope="module")
def fusion_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This machine's inventory written by the real FusionInventory agent (Debian 2.6)."""
    exe = shutil.which("fusioninventory-agent")
    assert exe, "fusioninventory-agent missing: run scripts/setup.sh"
    out = tmp_path_factory.mktemp("fusion")
    subprocess.run(
        [exe, "--local", str(out), "--no-category=software,process,environment,user,printer"],
        check=True,
        capture_output=True,
        timeout=120,
    )
    (f,) = out.glob("*.ocs")
    return f


def _linux_macs() -> set[str]:
    out = set()
    for itf in Path("/sys/class/net").iterdir():
        if (itf / "device").exists():
            out.add((itf / "address").read_text().strip().lower())
    return out


def test_real_fusioninventory_file_is_read(fusion_file: Path) -> None:
    (computer, *screens) = read_agent_file(fusion_file)
    import socket

    assert computer.name == socket.gethostname()
    assert computer.source == "agent-file"
    # the MACs FusionInventory saw on physical interfaces are the kernel's
    assert set(computer.macs) == _linux_macs()
    assert all(s.kind == "monitor" for s in screens)
    doc = fusion_file.read_text()
    assert "<REQUEST>" in doc and "<HARDWARE>" in doc


@pytest.fixture(scope="module")
def ocs_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This machine's inventory written by the real OCS Inventory agent (Debian 2.10), in local
    mode (no server)."""
    exe = shutil.which("ocsinventory-agent")
    assert exe, "ocsinventory-agent missing: run scripts/setup.sh"
    out = tmp_path_factory.mktemp("ocs")
    subprocess.run(
        [exe, "--local", str(out), "--nosoftware", "--basevardir", str(out / "var")],
        check=True,
        capture_output=True,
        timeout=120,
        cwd=out,
    )
    (f,) = out.glob("*.ocs")
    return f


def test_real_ocs_inventory_file_is_read(ocs_file: Path, fusion_file: Path) -> None:
    """The OCS agent's XML, read like FusionInventory's: the same machine, the same MACs."""
    (computer, *screens) = read_agent_file(ocs_file)
    (fusion, *_) = read_agent_file(fusion_file)
    import socket

    assert computer.name == socket.gethostname() == fusion.name
    assert computer.source == "agent-file"
    # the two agents may disagree on what this machine is (FusionInventory has seen Docker
    # where OCS said Physical, and on another machine OCS wrote no VMSYSTEM at all): each
    # file's own VMSYSTEM decides, absent or Physical is no VM, a VM is no asset of its own
    said = re.search(r"<VMSYSTEM>([^<]*)</VMSYSTEM>", ocs_file.read_text())
    vm = said.group(1).strip().lower() if said else ""
    assert computer.extra["virtual"] == ("" if vm in ("", "physical") else vm)
    assert set(computer.macs) == _linux_macs()
    assert (computer.serial, computer.uuid) == (fusion.serial, fusion.uuid)
    assert all(s.kind == "monitor" for s in screens)
    assert "<REQUEST>" in ocs_file.read_text() and "<HARDWARE>" in ocs_file.read_text()


def test_ocs_interfaces_without_a_driver_have_no_hardware(tmp_path: Path) -> None:
    """The OCS agent writes no VIRTUALDEV: an interface it names no driver for (ifb, bridge,
    veth) is not the machine's, when it names drivers for others; a file with VIRTUALDEV
    keeps its own flags."""
    net = "<NETWORKS><DESCRIPTION>{d}</DESCRIPTION>{drv}<MACADDR>{m}</MACADDR></NETWORKS>"
    hw = "<HARDWARE><NAME>PC-1</NAME><VMSYSTEM>Physical</VMSYSTEM></HARDWARE>"
    nets = net.format(d="eth0", drv="<DRIVER>e1000e</DRIVER>", m="00:16:3E:00:00:01")
    nets += net.format(d="ifb0", drv="", m="DE:BB:64:0E:8A:50")
    p = tmp_path / "pc.ocs"
    p.write_text(f"<REQUEST><CONTENT><BIOS><SSN>S1</SSN></BIOS>{hw}{nets}</CONTENT></REQUEST>")
    (pc,) = read_agent_file(p)
    assert pc.macs == ("00:16:3e:00:00:01",)
    flagged = nets.replace("</DESCRIPTION>", "</DESCRIPTION><VIRTUALDEV>0</VIRTUALDEV>")
    p.write_text(f"<REQUEST><CONTENT><BIOS><SSN>S1</SSN></BIOS>{hw}{flagged}</CONTENT></REQUEST>")
    (pc,) = read_agent_file(p)
    assert pc.macs == ("00:16:3e:00:00:01", "de:bb:64:0e:8a:50")


def test_broken_agent_file_is_named(tmp_path: Path) -> None:
    p = tmp_path / "pc.ocs"
    p.write_text("<REQUEST><CONTENT><BIOS>")
    with pytest.raises(InventoryFileError, match=r"pc\.ocs: nothing imported:\n  not an inventory"):
        read_agent_file(p)
    p.write_text('{"content": {"bios": {}}}')
    j = tmp_path / "pc.json"
    j.write_text('{"deviceid": "x", "content": {"bios": {"ssn": "ABC"}}}')
    with pytest.raises(InventoryFileError, match="no CONTENT/HARDWARE"):
        read_agent_file(j)


def test_glpi_agent_json_is_read(tmp_path: Path) -> None:
    # the GLPI Agent's inventory format (glpi-project/inventory_format): lower-case keys
    j = tmp_path / "pc.json"
    j.write_text(
        json.dumps(
            {
                "deviceid": "PC-0009-2026-12-01-10-00-00",
                "itemtype": "Computer",
                "content": {
                    "bios": {"ssn": "SN00009", "smanufacturer": "Dell Inc.", "type": "Notebook"},
                    "hardware": {"name": "PC-0009", "uuid": "4C4C4544-0000-4000-8000-000000000009"},
                    "networks": [
                        {"description": "wlan0", "macaddr": "00:16:3E:00:00:09"},
                        {"description": "lo", "macaddr": "00:00:00:00:00:00", "virtualdev": 1},
                    ],
                    "monitors": [{"caption": "DELL P2422H", "serial": "MON00009"}],
                },
            }
        )
    )
    pc, screen = read_agent_file(j)
    assert (pc.kind, pc.serial, pc.uuid, pc.macs) == (
        "laptop",
        "SN00009",
        "4c4c4544-0000-4000-8000-000000000009",
        ("00:16:3e:00:00:09",),
    )
    assert (screen.kind, screen.serial) == ("monitor", "MON00009")


def _report(agent_id: str, seq: int, **host: object) -> bytes:
    now = time.time()
    t = lambda x: datetime.fromtimestamp(x, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")  # noqa: E731
    return json.dumps(
        {
            "schema": "energy-agent/1",
            "agent_id": agent_id,
            "seq": seq,
            "sent_at": t(now - 5),
            "host": {"kind": "desktop", **host},
            "boot_time": t(now - 900),
            "segments": [{"start": t(now - 600), "end": t(now - 5), "state": "active"}],
        }
    ).encode()


def test_matching_glpi_and_agent_files_to_reporting_agents(
    tmp_path: Path, fusion_file: Path
) -> None:
    import socket

    this_host = socket.gethostname()
    this_mac = sorted(_linux_macs())[0]
    files = tmp_path / "agent-files"
    files.mkdir()
    shutil.copy(fusion_file, files)
    with GlpiServer(inventory_fleet.build()) as glpi:
        (tmp_path / "app").write_text(glpi.app_token)
        (tmp_path / "user").write_text(glpi.user_token)
        inv = {
            "enabled": True,
            "agent_files": [str(files)],
            "glpi": {
                "url": glpi.url,
                "app_token_file": str(tmp_path / "app"),
                "user_token_file": str(tmp_path / "user"),
                "page_size": 100,
            },
        }
        cfg = make_config(tmp_path, inventory=inv, compliance={"enabled": False})
        ids = {k: str(uuid.uuid4()) for k in "ABCDEFG"}
        with running(cfg) as c:
            for key, host in (
                ("A", {"hostname": "renamed-pc", "serial": "SN00001"}),
                ("B", {"hostname": "pc-b", "smbios_uuid": inventory_fleet.computer_uuid(2)}),
                ("C", {"hostname": "pc-c", "macs": [inventory_fleet.computer_mac(3)]}),
                ("D", {"hostname": "PC-0004.mairie.local"}),
                ("E", {"hostname": this_host, "macs": [this_mac]}),
                ("F", {"hostname": "LAPTOP-PERSO", "serial": "XYZ123"}),
                ("G", {"hostname": "vm-app-1", "kind": "vm"}),
            ):
                status, _ = post(url(c), _report(ids[key], 1, **host))
                assert status == 200
            wait_for(lambda: c.ledger.execute("SELECT COUNT(*) FROM hosts")[0][0] == 7, 20, "hosts")
            c.sync_inventory()
            m = matching(c.ledger, cfg.inventory)
            pairs = {ag.host_id: (s.asset.key, key) for s, ag, key in m.pairs}
            assert pairs == {
                ids["A"]: ("glpi:Computer/1", "serial"),
                ids["B"]: ("glpi:Computer/2", "uuid"),
                ids["C"]: ("glpi:Computer/3", "mac"),
                ids["D"]: ("glpi:Computer/4", "hostname"),
                ids["E"]: (f"agent-file:{this_host}", "mac"),
            }
            assert [a.hostname for a in m.agents_unmatched] == ["LAPTOP-PERSO"]
            # GLPI's 300 computers, 12 retired, 4 matched: 284 in service never report
            assert len(m.assets_unmatched) == 300 - 12 - 4
            summary = m.summary()
            assert summary["assets_without_agent_by_state"]["Stock"] == len(
                [i for i in range(1, 301) if i % 30 == 7 and i % 25 and i > 4]
            )
            metrics = scrape(url(c, "/metrics"))
            assert 'energy_inventory_unmatched{side="agent"} 1.0' in metrics
            assert 'energy_inventory_unmatched{side="asset"} 284.0' in metrics
            assert 'energy_inventory_assets{kind="monitor"} 240.0' in metrics
            assert "energy_inventory_last_sync_timestamp_seconds" in metrics
            assert "PC-0" not in metrics and "renamed-pc" not in metrics  # no host named
            # the web view's yearly report page shows the register's section
            year = datetime.now().year
            with urllib.request.urlopen(url(c, f"/report/{year}?lang=fr"), timeout=60) as r:
                page = r.read().decode()
            assert "D'après l'inventaire" in page and "renamed-pc" not in page


def test_glpi_fleet_figures_by_construction(tmp_path: Path) -> None:
    led = Ledger(f"sqlite:{tmp_path / 'l.db'}")
    with GlpiServer(inventory_fleet.build()) as glpi:
        (tmp_path / "app").write_text(glpi.app_token)
        (tmp_path / "user").write_text(glpi.user_token)
        from collector.inventory.settings import GlpiConfig

        cfg = InventoryConfig(
            enabled=True,
            glpi=GlpiConfig(
                url=glpi.url,
                app_token_file=str(tmp_path / "app"),
                user_token_file=str(tmp_path / "user"),
                embodied_field="pcf_kgco2e",
            ),
        )
        assert sync(cfg, led, now=1_800_000_000.0).ok
    doc = section(led, cfg, BOOK, 2026, today=date(2026, 12, 31))
    kinds = {r["kind"]: r for r in doc["by_kind"]}
    assert {k: r["in_service"] for k, r in kinds.items()} == {
        "desktop": 200 - 8,  # ids 25, 50 … 200 retired
        "laptop": 60 - 2,  # 225, 250
        "thin_client": 20 - 1,  # 275
        "server": 20 - 1,  # 300
        "monitor": 250 - 10,
        "network": 40,
        "peripheral": 10,
    }
    assert len(doc["retired_in_year"]) == 12 + 10
    # retired computers: use date 2018 + id % 8 on 1 March, out on 30 June 2026
    ages = [
        (date(2026, 6, 30) - inventory_fleet.computer_use_date(i)).days / 365.25
        for i in range(25, 301, 25)
    ]
    monitor_ages = [
        (date(2026, 3, 31) - date(2017 + i % 9, 5, 1)).days / 365.25 for i in range(25, 251, 25)
    ]
    rounded = [round(a, 1) for a in ages + monitor_ages]
    assert doc["mean_age_at_retirement_years"] == pytest.approx(
        sum(rounded) / len(rounded), abs=0.01
    )
    # switches: bought 2016 + id % 5 on 1 September, 8 years expected: past it on 2026-12-31
    # are those from 2016, 2017 and 2018 (ids with id % 5 in 0, 1, 2): 24 of 40
    assert kinds["network"]["past_expected"] == 24
    # the servers' footprint from the GLPI field, everything else from the kinds' defaults
    assert doc["embodied_basis"] == {"default": 580, "register": 20}
    server = kinds["server"]
    # 19 in service all year, 1 retired on 30 June (id 300, in service since 2018-03-01):
    # 1500 kg each, over 6 years (the profile's) or their age once older
    expected = 0.0
    for i in range(281, 301):
        start = inventory_fleet.computer_use_date(i)
        end = date(2026, 6, 30) if i == 300 else None
        on = end or date(2026, 12, 31)
        life_days = (on - start).days if end else max(6 * 365.25, (on - start).days)
        days = ((end or date(2026, 12, 31)) - max(start, date(2026, 1, 1))).days + 1
        expected += 1500 * days / life_days
    assert server["embodied_kgco2e"] == pytest.approx(expected, abs=1e-2)
    assert doc["matching"]["matched"] == 0


def test_cli_sync_list_and_check_config(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    csv_path = _csv(tmp_path, HAND)
    conf = tmp_path / "collector.yaml"
    conf.write_text(
        f"ledger: {{url: 'sqlite:{tmp_path / 'l.db'}'}}\n"
        f"inventory: {{enabled: true, csv_files: ['{csv_path}']}}\n"
    )
    assert cli(["check-config", "-c", str(conf)]) == 0
    assert ": OK" in capsys.readouterr().out
    assert cli(["inventory", "sync", "-c", str(conf), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["sources"][0]["assets_read"] == 5
    assert cli(["inventory", "list", "-c", str(conf), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["asset"] for r in doc["assets"]] == [f"csv:{x}" for x in "ABCDE"]
    assert doc["matching"]["assets_without_agent"] == ["csv:A", "csv:E"]
    assert cli(["inventory", "list", "-c", str(conf)]) == 0
    assert "5 assets; 0 matched" in capsys.readouterr().out
    conf.write_text(
        f"ledger: {{url: 'sqlite:{tmp_path / 'l.db'}'}}\n"
        "inventory: {enabled: true, glpi: {url: 'https://glpi.example.org', "
        f"user_token_file: '{tmp_path / 'missing'}'}}}}\n"
    )
    assert cli(["check-config", "-c", str(conf)]) == 2
    assert "inventory.glpi.user_token_file: cannot read" in capsys.readouterr().err


def test_register_on_postgresql_equals_sqlite(tmp_path: Path, postgres_url: str) -> None:
    """The same sync through the ledger's transaction API on PostgreSQL (production) and
    SQLite gives the same register and the same figures."""
    cfg = InventoryConfig(
        enabled=True, csv_files=[str(_csv(tmp_path, HAND))], models={"p2422h": "150"}
    )
    docs = []
    for url_ in (postgres_url, f"sqlite:{tmp_path / 'l.db'}"):
        led = Ledger(url_)
        assert sync(cfg, led, now=1_800_000_000.0).ok
        (tmp_path / "register.csv").write_text(HEADER + HAND.split("E,")[0])  # E dropped
        assert sync(cfg, led, now=1_800_003_600.0).ok
        (tmp_path / "register.csv").write_text(HEADER + HAND)
        removed = [s.asset.source_id for s in store.load(led) if s.removed_at]
        assert removed == ["E"]
        docs.append(section(led, cfg, BOOK, 2026, today=date(2026, 12, 31)))
        led.close()
    assert docs[0] == docs[1]


def test_the_year_in_progress_counts_no_day_after_today(tmp_path: Path) -> None:
    led = Ledger(f"sqlite:{tmp_path / 'l.db'}")
    cfg = InventoryConfig(enabled=True, csv_files=[str(_csv(tmp_path, HAND))])
    assert sync(cfg, led, now=1_800_000_000.0).ok
    this_year = date.today().year
    doc = section(led, cfg, BOOK, this_year)
    assert doc["as_of"] == str(date.today())
    # A (in service since 2022-01-01) and E (no dates) count this year's days up to today
    # only, A over its expected 5 years or its age once older
    today = date.today()
    days = (today - date(this_year, 1, 1)).days + 1
    life_a = max(5.0, (today - date(2022, 1, 1)).days / 365.25)
    expected = 285 * days / (life_a * 365.25) + 285 * days / (5 * 365.25)
    (desktop,) = [r for r in doc["by_kind"] if r["kind"] == "desktop"]
    assert desktop["embodied_kgco2e"] == pytest.approx(expected, abs=0.01)
