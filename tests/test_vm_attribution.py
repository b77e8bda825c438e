"""VMs attributed their host's measured power: PDU outlets (polled from snmpsim) mapped to a
physical server, the server's power per hour in the ledger, each VM's vCPU share of it,
overcommitted hosts never handing out more than they drew, and the model as the fallback
when the outlets were not read over the VM's interval."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from collector_helpers import make_config, metric, running, scrape, url
from services import SnmpSim

from collector.meters.store import ServerHours as Hours
from collector.meters.store import integrate
from energy_common.schema import Host, Report, Segment, encode_report

FIX = Path(__file__).parent / "fixtures/snmprec"
# outlets 1 and 2 of the recording: "esx-prod-01 PSU1" 245 W, "esx-prod-02 PSU1" 238 W
HOST_W = 245 + 238


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    s = SnmpSim(tmp_path_factory.mktemp("snmpsim"), [FIX / "apc-rpdu2.snmprec"]).start()
    yield s
    s.stop()


def config(tmp_path, sim):
    pdu = {
        "name": "pdu-a",
        "host": "127.0.0.1",
        "port": sim.port,
        "community": "apc-rpdu2",
        "datacenter": "dc1",
        "timeout_s": 2,
        "retries": 0,
        # both PSUs of one server (pretend): by index, and by the label the PDU shows
        "outlets": {"outlet:1": "esx-a", "esx-prod-02 PSU1": "esx-a", "outlet:99": "esx-a"},
    }
    return make_config(
        tmp_path,
        snmp={"interval_s": 5, "devices": [pdu]},
        model={
            "hypervisors": [{"name": "esx-a", "cpus": 32, "idle_w": 150, "max_w": 400}],
            "vm_hosts": {"vm-a": "esx-a", "vm-b": "esx-a"},
        },
    )


def vm_report(name: str, cpus: int, start: float, end: float, seq: int = 0) -> bytes:
    n = {"vm-a": "a", "vm-b": "b"}[name]
    return encode_report(
        Report(
            f"00000000-0000-4000-8000-00000000000{n}",
            seq,
            end,
            Host(hostname=name, kind="vm", cpus=cpus),
            start - 600,
            (Segment(start, end, "active", cpu_util=0.5),),
        )
    )


def attributed_wh(c, name: str) -> float:
    (wh,) = c.ledger.execute(
        "SELECT SUM(d.wh_attributed) FROM host_days d JOIN hosts h ON h.host_id = d.host_id "
        "WHERE h.hostname = ?",
        (name,),
    )[0]
    return float(wh)


def poll_for(c, seconds: float) -> tuple[float, float]:
    first = c.snmp.run_cycle()[0].time
    last = first
    while last - first < seconds:
        time.sleep(0.5)
        last = c.snmp.run_cycle()[0].time
    return first, last


def test_vms_get_their_vcpu_share_of_the_hosts_measured_power(tmp_path, sim):
    with running(config(tmp_path, sim)) as c:
        t0, t1 = poll_for(c, 3.0)
        (server,) = {s for (s,) in c.ledger.execute("SELECT server FROM meters") if s}
        assert server == "esx-a"
        assert c.accountant.host_power.mean_w("esx-a", t0, t1) == pytest.approx(HOST_W)
        # vm-a, 8 of the host's 32 CPUs, over the measured time
        (out,) = c.pipeline.process([(vm_report("vm-a", 8, t0, t1), None)])
        assert out.result == "accepted"
        # (report times travel at millisecond precision)
        want = HOST_W * 8 / 32 * (t1 - t0) / 3600
        assert attributed_wh(c, "vm-a") == pytest.approx(want, rel=1e-3)
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_vm_attribution_intervals_total", basis="measured") == 1
        # the mapping entry that names no outlet is reported, not ignored
        assert metric(text, "energy_snmp_outlet_mappings_unmatched", device="pdu-a") == 1


def test_an_overcommitted_host_never_attributes_more_than_it_drew(tmp_path, sim):
    with running(config(tmp_path, sim)) as c:
        # shares are of the vCPUs the ledger knows: once both VMs have reported (here an
        # hour ago, modelled), 48 vCPUs run on the host's 32 CPUs
        past = time.time() - 3 * 3600
        c.pipeline.process([(vm_report("vm-b", 40, past, past + 60), None)])
        c.pipeline.process([(vm_report("vm-a", 8, past, past + 60), None)])
        before = attributed_wh(c, "vm-a"), attributed_wh(c, "vm-b")
        t0, t1 = poll_for(c, 3.0)
        c.pipeline.process([(vm_report("vm-b", 40, t0, t1, seq=1), None)])
        c.pipeline.process([(vm_report("vm-a", 8, t0, t1, seq=1), None)])
        hours = (t1 - t0) / 3600
        a = attributed_wh(c, "vm-a") - before[0]
        b = attributed_wh(c, "vm-b") - before[1]
        assert a == pytest.approx(HOST_W * 8 / 48 * hours, rel=1e-3)
        assert b == pytest.approx(HOST_W * 40 / 48 * hours, rel=1e-3)
        assert a + b == pytest.approx(HOST_W * hours, rel=1e-3)  # all of it, never more


def test_without_readings_over_the_interval_the_model_attributes(tmp_path, sim):
    with running(config(tmp_path, sim)) as c:
        poll_for(c, 1.0)
        start = time.time() - 7 * 86400  # a week ago: no outlet readings then
        c.pipeline.process([(vm_report("vm-a", 8, start, start + 600), None)])
        # model: 8/32 × (150 + 250 × 0.5) W
        assert attributed_wh(c, "vm-a") == pytest.approx(8 / 32 * 275 * 600 / 3600)
        text = scrape(url(c, "/metrics"))
        assert metric(text, "energy_vm_attribution_intervals_total", basis="modelled") == 1


def test_outlet_power_is_integrated_per_clock_hour():
    hours: Hours = {}
    # 200 W → 400 W linearly over 30 min straddling 10:00
    t0 = 9 * 3600 + 45 * 60
    integrate(hours, "srv", "pdu:outlet:1", t0, 200.0, t0 + 1800, 400.0)
    before = hours[("srv", "pdu:outlet:1", 9 * 3600.0)]
    after = hours[("srv", "pdu:outlet:1", 10 * 3600.0)]
    assert before == [pytest.approx((200 + 300) / 2 * 0.25), 900]
    assert after == [pytest.approx((300 + 400) / 2 * 0.25), 900]
