"""Builds the Grafana dashboards (JSON, Grafana 11 schema) in French and English.

    python dashboards/build.py        # writes dashboards/*.json

One definition per panel: its titles in both languages, its PromQL and what a test expects
back (tests/test_dashboards.py runs every query against a real Prometheus fed by the
collector and the fleet simulator). Dashboards are provisioned from dashboards/provisioning/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "prometheus", "uid": "energy-prometheus"}
# the dashboards' variables, as label matchers (every value: `.*`)
HOSTS_IN = 'site=~"$site", department=~"$department"'
HOSTS = "{" + HOSTS_IN + "}"
SITE = '{site=~"$site"}'
DATACENTERS = '{datacenter=~"$datacenter"}'


@dataclass(frozen=True)
class Panel:
    fr: str
    en: str
    exprs: tuple[str, ...]
    kind: str = "timeseries"  # stat | timeseries | bargauge | piechart | table
    unit: str = "short"
    legend: str = ""
    labels: tuple[str, ...] = ()  # labels every returned series must carry
    width: int = 12
    signed: bool = False  # may be negative (a saving that is a loss)


FLEET = [
    Panel(
        "Machines par état",
        "Machines by state",
        ("sum by (state) (energy_hosts" + HOSTS + ")",),
        "piechart",
        legend="{{state}}",
        labels=("state",),
        width=8,
    ),
    Panel(
        "Couverture des agents (rapportent / connus)",
        "Agent coverage (reporting / known)",
        (
            "sum(energy_hosts" + HOSTS + ") - "
            'sum(energy_hosts{state="unknown", ' + HOSTS_IN + "} "
            "or vector(0))",
            "sum(energy_hosts" + HOSTS + ")",
        ),
        "stat",
        width=8,
    ),
    Panel(
        "Puissance actuelle par site",
        "Power now by site",
        ("sum by (site) (energy_power_watts" + HOSTS + ")",),
        "bargauge",
        "watt",
        "{{site}}",
        ("site",),
        8,
    ),
    Panel(
        "Machines allumées hors des heures de travail",
        "Machines on outside working hours",
        ("sum by (site, department) (energy_offhours_hosts_on" + HOSTS + ")",),
        "timeseries",
        "short",
        "{{site}} / {{department}}",
        ("site", "department"),
    ),
    Panel(
        "Sites en heures de travail",
        "Sites in working hours",
        ("energy_site_working_hours" + SITE,),
        "stat",
        legend="{{site}}",
        labels=("site",),
    ),
    Panel(
        "Taux de conformité de la dernière période, par site",
        "Compliance rate of the last period, by site",
        (
            # weighted by hosts: a site of 3 PCs does not count as much as one of 300
            "sum by (site) (energy_compliance_compliant_hosts" + HOSTS + ") / "
            "sum by (site) (energy_compliance_judged_hosts" + HOSTS + " > 0)",
        ),
        "bargauge",
        "percentunit",
        "{{site}}",
        ("site",),
    ),
    Panel(
        "Taux de conformité de la dernière période, par direction",
        "Compliance rate of the last period, by department",
        (
            "sum by (department) (energy_compliance_compliant_hosts" + HOSTS + ") / "
            "sum by (department) (energy_compliance_judged_hosts" + HOSTS + " > 0)",
        ),
        "bargauge",
        "percentunit",
        "{{department}}",
        ("department",),
    ),
    Panel(
        "Énergie gaspillée hors horaires sur la période (kWh)",
        "Energy wasted off-hours over the range (kWh)",
        (
            "sum by (site) (increase(energy_offhours_wasted_wh_total"
            + HOSTS
            + "[$__range])) / 1000",
        ),
        "bargauge",
        "kwatth",
        "{{site}}",
        ("site",),
        8,
    ),
    Panel(
        "Coût gaspillé sur la période (€)",
        "Cost wasted over the range (€)",
        ("sum(increase(energy_offhours_wasted_eur_total" + HOSTS + "[$__range]))",),
        "stat",
        "currencyEUR",
        width=8,
    ),
    Panel(
        "CO2e gaspillé sur la période (kg)",
        "CO2e wasted over the range (kg)",
        ("sum(increase(energy_offhours_wasted_co2e_kg_total" + HOSTS + "[$__range]))",),
        "stat",
        "masskg",
        width=8,
    ),
    Panel(
        "Machines restées allumées par direction (dernière période)",
        "Machines left on by department (last period)",
        (
            "topk(10, sum by (site, department) (energy_compliance_noncompliant_hosts"
            + HOSTS
            + "))",
        ),
        "table",
        legend="{{site}} / {{department}}",
        labels=("site", "department"),
    ),
    Panel(
        "Applications empêchant la mise en veille (rapports sur la période)",
        "Applications keeping machines awake (reports over the range)",
        ("topk(10, sum by (app) (increase(energy_sleep_blocker_reports_total[$__range])))",),
        "bargauge",
        legend="{{app}}",
        labels=("app",),
    ),
    Panel(
        "Âge du parc (année de fabrication)",
        "Fleet age (manufacture year)",
        ("sum by (year) (energy_hosts_by_manufacture_year)",),
        "bargauge",
        legend="{{year}}",
        labels=("year",),
    ),
    Panel(
        "Énergie consommée par site et par heure (kWh)",
        "Energy used by site, per hour (kWh)",
        ("sum by (site) (increase(energy_consumed_wh_total" + HOSTS + "[1h])) / 1000",),
        "timeseries",
        "kwatth",
        "{{site}}",
        ("site",),
    ),
    Panel(
        "Mise en veille automatique : ce que les agents ont fait (sur la période)",
        "Automatic sleep: what the agents did (over the range)",
        ("sum by (mode, event) (increase(energy_policy_events_total" + HOSTS + "[$__range]))",),
        "bargauge",
        legend="{{mode}} / {{event}}",
        labels=("mode", "event"),
    ),
    Panel(
        "Énergie hors heures évitée ce mois, par rapport à la référence (kWh)",
        "Off-hours energy avoided this month against the baseline (kWh)",
        ('sum by (department) (energy_policy_avoided_kwh{department=~"$department"})',),
        "bargauge",
        "kwatth",
        "{{department}}",
        ("department",),
        signed=True,
    ),
]


LORAWAN = [
    Panel(
        "Passerelles connectées",
        "Gateways up",
        ("energy_lora_gateway_up",),
        "stat",
        legend="{{gateway}}",
        labels=("gateway",),
        width=8,
    ),
    Panel(
        "Trafic des passerelles (paquets/s)",
        "Gateway traffic (packets/s)",
        (
            "sum by (gateway, direction, status) "
            "(rate(energy_lora_gateway_packets_total[$__rate_interval]))",
        ),
        "timeseries",
        "pps",
        "{{gateway}} {{direction}} {{status}}",
        ("gateway", "direction", "status"),
        16,
    ),
    Panel(
        "Paquets reçus par facteur d'étalement",
        "Received packets by spreading factor",
        ("sum by (sf) (increase(energy_lora_gateway_rx_sf_packets_total[$__range]))",),
        "bargauge",
        legend="{{sf}}",
        labels=("sf",),
        width=8,
    ),
    Panel(
        "RSSI par passerelle (dBm)",
        "RSSI by gateway (dBm)",
        ("energy_lora_gateway_rssi_dbm",),
        "timeseries",
        "dBm",
        "{{gateway}}",
        ("gateway",),
        8,
    ),
    Panel(
        "SNR par passerelle (dB)",
        "SNR by gateway (dB)",
        ("energy_lora_gateway_snr_db",),
        "timeseries",
        "dB",
        "{{gateway}}",
        ("gateway",),
        8,
    ),
    Panel(
        "Énergie mesurée par compteur (kWh)",
        "Energy by meter (kWh)",
        ("sum by (meter, role) (increase(energy_lora_meter_wh_total[$__range])) / 1000",),
        "bargauge",
        "kwatth",
        "{{meter}} ({{role}})",
        ("meter", "role"),
    ),
    Panel(
        "Puissance des compteurs (W)",
        "Meter power (W)",
        ("energy_lora_meter_watts",),
        "timeseries",
        "watt",
        "{{meter}}",
        ("meter", "site", "role"),
    ),
    Panel(
        "Énergie du réseau LoRa par message délivré (Wh)",
        "LoRa network energy per delivered uplink (Wh)",
        (
            "sum(increase(energy_lora_network_wh_total[$__range])) / "
            "sum(increase(energy_lora_uplinks_total[$__range]))",
        ),
        "stat",
        "watth",
        width=8,
    ),
    Panel(
        "Dernier message des capteurs (s)",
        "Devices last seen (s ago)",
        ("time() - energy_lora_device_last_seen_timestamp_seconds",),
        "table",
        "s",
        "{{dev_eui}}",
        ("dev_eui",),
        8,
    ),
    Panel(
        "Batterie des capteurs (%)",
        "Device battery (%)",
        ("energy_lora_device_battery_percent",),
        "bargauge",
        "percent",
        "{{dev_eui}}",
        ("dev_eui",),
        8,
    ),
    Panel(
        "Messages rejetés ou ignorés",
        "Messages rejected or ignored",
        ("sum by (reason) (increase(energy_lora_rejected_total[$__range]))",),
        "bargauge",
        legend="{{reason}}",
        labels=("reason",),
    ),
]


DATACENTER = [
    Panel(
        "PUE sur la période (énergies)",
        "PUE over the range (from energies)",
        (
            "sum by (datacenter) (increase(energy_snmp_energy_wh_total"
            '{role="facility", datacenter=~"$datacenter"}'
            "[$__range])) / sum by (datacenter) "
            "(increase(energy_snmp_energy_wh_total"
            '{role="it", datacenter=~"$datacenter"}[$__range]) '
            "* on (datacenter, category) group_left energy_dc_pue_category)",
        ),
        "stat",
        legend="{{datacenter}}",
        labels=("datacenter",),
        width=8,
    ),
    Panel(
        "Rapport de puissance instantané (pas un PUE)",
        "Power ratio now (not a PUE)",
        ("energy_dc_power_ratio" + DATACENTERS,),
        "stat",
        legend="{{datacenter}}",
        labels=("datacenter",),
        width=8,
    ),
    Panel(
        "Équipements joignables",
        "Devices up",
        ("energy_snmp_up",),
        "stat",
        legend="{{device}}",
        labels=("device",),
        width=8,
    ),
    Panel(
        "Puissance IT et facility",
        "IT and facility power",
        ("sum by (datacenter, role) (energy_dc_power_watts" + DATACENTERS + ")",),
        "timeseries",
        "watt",
        "{{datacenter}} {{role}}",
        ("datacenter", "role"),
    ),
    Panel(
        "Énergie par rôle sur la période (kWh)",
        "Energy by role over the range (kWh)",
        (
            "sum by (datacenter, role) (increase(energy_snmp_energy_wh_total"
            + DATACENTERS
            + "[$__range])) / 1000",
        ),
        "bargauge",
        "kwatth",
        "{{datacenter}} {{role}}",
        ("datacenter", "role"),
    ),
    Panel(
        "CO2e d'usage par rôle sur la période (kg, facteur horaire ou statique)",
        "Usage CO2e by role over the range (kg, hourly or static factor)",
        (
            "sum by (datacenter, role) (increase(energy_snmp_co2e_grams_total"
            '{role!~".*:.*", datacenter=~"$datacenter"}'
            "[$__range])) / 1000",
        ),
        "bargauge",
        "masskg",
        "{{datacenter}} {{role}}",
        ("datacenter", "role"),
    ),
    Panel(
        "Pertes des onduleurs (W)",
        "UPS losses (W)",
        (
            'sum by (device) (energy_snmp_power_watts{table="input"}) - on (device) '
            'sum by (device) (energy_snmp_power_watts{table="output"})',
        ),
        "timeseries",
        "watt",
        "{{device}}",
        ("device",),
        8,
    ),
    Panel(
        "Charge des onduleurs (%, ligne la plus chargée)",
        "UPS load (%, busiest line)",
        ('max by (device) (energy_snmp_status{reading="output_load_percent"})',),
        "bargauge",
        "percent",
        "{{device}}",
        ("device",),
        8,
    ),
    Panel(
        "Onduleurs sur batterie ou bypass",
        "UPS on battery or bypass",
        ('sum by (device) (energy_snmp_state{reading="output_source", state=~"battery|bypass"})',),
        "stat",
        legend="{{device}}",
        labels=("device",),
        width=8,
    ),
    Panel(
        "Charge des batteries (%)",
        "Battery charge (%)",
        ('energy_snmp_status{reading="battery_charge_percent"}',),
        "bargauge",
        "percent",
        "{{device}}",
        ("device",),
        8,
    ),
    Panel(
        "Sorties des onduleurs (W)",
        "UPS output (W)",
        ('sum by (device) (energy_snmp_power_watts{table="output"})',),
        "timeseries",
        "watt",
        "{{device}}",
        ("device",),
        8,
    ),
    Panel(
        "Prises les plus chargées",
        "Busiest outlets",
        ('topk(10, energy_snmp_power_watts{table="outlet"})',),
        "table",
        "watt",
        "{{device}} {{label}}",
        ("device", "label"),
        8,
    ),
    Panel(
        "PUE du jour (registre, énergies)",
        "PUE today (ledger, from energies)",
        ("energy_dc_pue_today",),
        "stat",
        legend="{{datacenter}} cat. {{it_category}}",
        labels=("datacenter", "it_category"),
        width=8,
    ),
    Panel(
        "Couverture des mesures aujourd'hui",
        "Data coverage today",
        ("energy_dc_coverage_ratio",),
        "bargauge",
        "percentunit",
        "{{datacenter}} {{role}}",
        ("datacenter", "role"),
        8,
    ),
    Panel(
        "Baies les plus chargées",
        "Top racks",
        ("topk(10, energy_dc_rack_power_watts)",),
        "bargauge",
        "watt",
        "{{datacenter}} {{rack}}",
        ("datacenter", "rack"),
        8,
    ),
    Panel(
        "Trafic des équipements réseau (bit/s)",
        "Network gear traffic (bit/s)",
        ("sum by (device) (rate(energy_snmp_if_octets_total[$__rate_interval])) * 8",),
        "timeseries",
        "bps",
        "{{device}}",
        ("device",),
        8,
    ),
    Panel(
        "Ports réseau actifs",
        "Network ports up",
        ("sum by (device) (energy_snmp_if_up)",),
        "stat",
        legend="{{device}}",
        labels=("device",),
        width=8,
    ),
    Panel(
        "Puissance des équipements réseau",
        "Network gear power",
        ('sum by (device) (energy_snmp_power_watts{role="network", table="psu"})',),
        "bargauge",
        "watt",
        "{{device}}",
        ("device",),
        8,
    ),
    Panel(
        "Durée des interrogations (s)",
        "Poll duration (s)",
        ("energy_snmp_poll_duration_seconds",),
        "timeseries",
        "s",
        "{{device}}",
        ("device",),
        8,
    ),
]


INSTANT = ("stat", "bargauge", "piechart", "table")  # one value per series: the latest


def _panel(i: int, p: Panel, lang: str, y: int, x: int) -> dict[str, Any]:
    instant = p.kind in INSTANT
    return {
        "id": i + 1,
        "type": p.kind,
        "title": p.fr if lang == "fr" else p.en,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": p.width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": p.unit}, "overrides": []},
        "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
        "targets": [
            {
                "refId": chr(65 + j),
                "expr": e,
                "legendFormat": p.legend,
                "datasource": DATASOURCE,
                "instant": instant,
                "range": not instant,
                **({"format": "table"} if p.kind == "table" else {}),
            }
            for j, e in enumerate(p.exprs)
        ],
    }


VARIABLES = {
    # name: (French label, English label, the query giving its values)
    "site": ("Site", "Site", "label_values(energy_hosts, site)"),
    "department": ("Direction", "Department", "label_values(energy_hosts, department)"),
    "datacenter": (
        "Datacenter",
        "Datacenter",
        "label_values(energy_snmp_energy_wh_total, datacenter)",
    ),
}


def variable(name: str, lang: str) -> dict[str, Any]:
    fr, en, query = VARIABLES[name]
    return {
        "name": name,
        "label": fr if lang == "fr" else en,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": name},
        "definition": query,
        "refresh": 2,  # on time range change
        "includeAll": True,
        "allValue": ".*",
        "multi": True,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "sort": 1,
    }


def dashboard(
    uid: str, title: str, panels: list[Panel], lang: str, variables: tuple[str, ...] = ()
) -> dict[str, Any]:
    out, x, y = [], 0, 0
    for i, p in enumerate(panels):
        if x + p.width > 24:
            x, y = 0, y + 8
        out.append(_panel(i, p, lang, y, x))
        x += p.width
    return {
        "uid": f"{uid}-{lang}",
        "title": title,
        "tags": ["energy", "reen", lang],
        "timezone": "Europe/Paris",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-7d", "to": "now"},
        "templating": {"list": [variable(v, lang) for v in variables]},
        "panels": out,
    }


FLEET_VARS = ("site", "department")
DC_VARS = ("datacenter",)


def build() -> dict[str, dict[str, Any]]:
    return {
        "fleet.fr.json": dashboard(
            "energy-fleet", "Parc : énergie et mise en veille", FLEET, "fr", FLEET_VARS
        ),
        "fleet.en.json": dashboard(
            "energy-fleet", "Fleet: energy and sleep compliance", FLEET, "en", FLEET_VARS
        ),
        "datacenter.fr.json": dashboard(
            "energy-datacenter", "Datacenters : PUE et énergie", DATACENTER, "fr", DC_VARS
        ),
        "datacenter.en.json": dashboard(
            "energy-datacenter", "Datacenters: PUE and energy", DATACENTER, "en", DC_VARS
        ),
        "lorawan.fr.json": dashboard(
            "energy-lorawan", "Réseau LoRaWAN : passerelles, compteurs, empreinte", LORAWAN, "fr"
        ),
        "lorawan.en.json": dashboard(
            "energy-lorawan", "LoRaWAN network: gateways, meters, footprint", LORAWAN, "en"
        ),
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    for name, doc in build().items():
        (HERE / name).write_text(render(doc), encoding="utf-8")
        print(f"wrote dashboards/{name}")
