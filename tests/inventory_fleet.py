"""A city's GLPI for the inventory tests, built by rules simple enough to count by hand:
300 computers, 250 monitors, 40 switches and 10 docking stations, each with its Infocom."""

from __future__ import annotations

from datetime import date

from glpi_server import GlpiData

COMPUTER_TYPES = [  # (first id, last id, GLPI type, model)
    (1, 200, "Desktop", "OptiPlex 7080"),
    (201, 260, "Laptop", "Latitude 5420"),
    (261, 280, "Thin Client", "Wyse 5070"),
    (281, 300, "Server", "PowerEdge R650"),
]


def computer_use_date(i: int) -> date:
    return date(2018 + i % 8, 3, 1)  # 2018 … 2025


def computer_retired(i: int) -> bool:
    return i % 25 == 0  # 12 computers, decommissioned on 2026-06-30


def computer_mac(i: int) -> str:
    return f"00:16:3e:00:{i // 256:02x}:{i % 256:02x}"


def computer_uuid(i: int) -> str:
    return f"4c4c4544-0000-4000-8000-{i:012d}"


def monitor_retired(i: int) -> bool:
    return i % 25 == 0  # 10 monitors, decommissioned on 2026-03-31


def build() -> GlpiData:
    d = GlpiData(items={"Computer": {}, "Monitor": {}, "NetworkEquipment": {}, "Peripheral": {}})
    ic = 0

    def infocom(itemtype: str, iid: int, use: date, decommission: date | None) -> None:
        nonlocal ic
        ic += 1
        d.infocoms.append(
            {
                "id": ic,
                "itemtype": itemtype,
                "items_id": iid,
                "buy_date": date(use.year, use.month, 1).replace(day=1).isoformat(),
                "delivery_date": use.isoformat(),
                "use_date": use.isoformat(),
                "warranty_date": use.isoformat(),
                "warranty_duration": 36,
                "decommission_date": decommission.isoformat() if decommission else None,
                "date_mod": f"2026-10-02 {8 + ic % 10:02d}:{ic % 60:02d}:00",
            }
        )

    for first, last, type_, model in COMPUTER_TYPES:
        for i in range(first, last + 1):
            retired = computer_retired(i)
            d.items["Computer"][i] = {
                "name": f"PC-{i:04d}",
                "serial": f"SN{i:05d}",
                "uuid": computer_uuid(i),
                "model": model,
                "type": type_,
                "manufacturer": "Dell Inc.",
                "state": "Réformé" if retired else ("Stock" if i % 30 == 7 else "Production"),
                "location": "Hôtel de ville",
                "date_mod": f"2026-11-01 {8 + i % 10:02d}:{i % 60:02d}:00",
            }
            if type_ == "Server":  # the maker's PCF, kept in a GLPI field by the city
                d.items["Computer"][i]["pcf_kgco2e"] = "1500.0"
            infocom("Computer", i, computer_use_date(i), date(2026, 6, 30) if retired else None)
            d.ports.append(
                {
                    "id": i,
                    "itemtype": "Computer",
                    "items_id": i,
                    "mac": computer_mac(i),
                    "date_mod": "2026-11-01 08:00:00",
                }
            )
    for i in range(1, 251):
        use = date(2017 + i % 9, 5, 1)  # 2017 … 2025
        d.items["Monitor"][i] = {
            "name": f"ECRAN-{i:04d}",
            "serial": f"MON{i:05d}",
            "model": "P2422H",
            "type": "Flat panel",
            "manufacturer": "Dell Inc.",
            "state": "Réformé" if monitor_retired(i) else "Production",
            "location": "Hôtel de ville",
            "date_mod": f"2026-10-15 {8 + i % 10:02d}:00:00",
        }
        infocom("Monitor", i, use, date(2026, 3, 31) if monitor_retired(i) else None)
    for i in range(1, 41):
        d.items["NetworkEquipment"][i] = {
            "name": f"SW-{i:03d}",
            "serial": f"FOC{i:05d}",
            "model": "Catalyst 9200",
            "type": "Switch",
            "manufacturer": "Cisco",
            "state": "Production",
            "location": "Local technique",
            "date_mod": "2026-09-01 12:00:00",
        }
        infocom("NetworkEquipment", i, date(2016 + i % 5, 9, 1), None)
    for i in range(1, 11):
        d.items["Peripheral"][i] = {
            "name": f"DOCK-{i:03d}",
            "serial": f"DK{i:05d}",
            "model": "WD19",
            "type": "Docking station",
            "manufacturer": "Dell Inc.",
            "state": "Production",
            "location": "Hôtel de ville",
            "date_mod": "2026-08-01 12:00:00",
        }
    return d
