"""Open data of the yearly report: each table as CSV (UTF-8) and JSON, a Table Schema per
table and a Frictionless `datapackage.json`; aggregated by month, site, department, kind or
datacenter, never by host. Beside it, for the city's own use, the inventory in NumEcoEval's
physical-equipment CSV (one line per machine, named by its agent id, not its host name).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from collector.ledger import Ledger
from collector.yearly.figures import HostYear

# name, Table Schema type, French title, description (with the unit)
Field = tuple[str, str, str, str]


@dataclass(frozen=True)
class Table:
    name: str
    title: str
    description: str
    fields: Sequence[Field]
    rows: list[dict[str, Any]]


NUMECOEVAL_COLUMNS = (
    "nomEquipementPhysique",
    "modele",
    "quantite",
    "nomCourtDatacenter",
    "dateAchat",
    "dateRetrait",
    "type",
    "statut",
    "paysDUtilisation",
    "consoElecAnnuelle",
    "utilisateur",
    "nomSourceDonnee",
    "nomEntite",
    "nbCoeur",
    "nbJourUtiliseAn",
    "goTelecharge",
    "modeUtilisation",
    "tauxUtilisation",
)

_RATE_FIELDS: list[Field] = [
    ("host_periods", "integer", "Périodes évaluées", "Nuits, week-ends et fériés évalués"),
    ("compliant", "integer", "En veille", "Périodes où la machine dormait ou était éteinte"),
    ("noncompliant", "integer", "Laissées allumées", "Allumée plus que la tolérance"),
    ("unknown", "integer", "Inconnues", "Couverture insuffisante, jamais comptée en veille"),
    ("rate", "number", "Taux de veille", "En veille / périodes évaluées (0 à 1)"),
    ("wasted_kwh", "number", "Énergie perdue (kWh)", "Énergie des heures laissées allumées"),
    ("eur", "number", "Coût (€)", "Énergie perdue au prix configuré"),
    ("kgco2e", "number", "Émissions (kgCO2e)", "Émissions d'usage de l'énergie perdue"),
]


def tables(doc: dict[str, Any]) -> list[Table]:
    year = doc["year"]
    en, oh = doc["energy"], doc["offhours"]
    kinds = sorted(
        {k for r in en["by_month"] for k in r if k not in ("month", "total_kwh", "usage_kgco2e")}
    )
    # what each month's `total` adds up (as the report's monthly stack, yearly/stacks.py): the
    # kinds of agents counted in the total, the datacenters' IT and overhead, the network,
    # LoRaWAN when counted; the other rows are "of which", named with their kWh below
    in_total = {r["kind"]: bool(r["in_total"]) for r in en["by_kind"]}
    in_total.update(datacenter_it=True, datacenter_overhead=True, network=True)
    year_kwh = {r["kind"]: r["kwh"] for r in en["by_kind"]}
    apart = [k for k in kinds if not in_total.get(k, False)]
    apart_said = ", ".join(f"`{k}` ({year_kwh.get(k) or 0} kWh sur l'année)" for k in apart)
    monthly = [
        {"month": r["month"], "kind": k, "kwh": r[k]}
        for r in en["by_month"]
        for k in kinds
        if r.get(k) is not None
    ] + [{"month": r["month"], "kind": "total", "kwh": r["total_kwh"]} for r in en["by_month"]]
    out = [
        Table(
            "energy_monthly",
            f"Énergie par mois et type d'équipement, {year}",
            "kWh par mois civil (heure de Paris) et type ; `total` est compté une fois : "
            "chaque mois, les autres lignes s'y additionnent"
            + (
                f", sauf {apart_said}, déjà dans l'énergie des salles serveurs ou hors total "
                "(« dont », à ne pas ajouter)."
                if apart
                else "."
            ),
            [
                ("month", "yearmonth", "Mois", "Mois civil"),
                ("kind", "string", "Type", "Type d'équipement ou de compteur, ou total"),
                ("kwh", "number", "Énergie (kWh)", "Énergie du mois"),
            ],
            monthly,
        ),
        Table(
            "carbon_monthly",
            f"Émissions d'usage par mois, {year}",
            "kgCO2e d'usage du total compté une fois, par mois.",
            [
                ("month", "yearmonth", "Mois", "Mois civil"),
                ("total_kwh", "number", "Énergie (kWh)", "Total compté une fois"),
                ("usage_kgco2e", "number", "Émissions d'usage (kgCO2e)", "kWh × facteur"),
            ],
            [
                {
                    "month": r["month"],
                    "total_kwh": r["total_kwh"],
                    "usage_kgco2e": r["usage_kgco2e"],
                }
                for r in en["by_month"]
            ],
        ),
        Table(
            "energy_by_site_department",
            f"Énergie par site, direction et origine, {year}",
            "Les lignes s'additionnent au total de l'année "
            f"({doc['indicators']['total_kwh']} kWh, compté une fois) : les machines avec un "
            "agent par site et direction (les groupes de moins de "
            f"{doc['open_data']['min_group_hosts']} machines sont réunis sous la direction "
            "`*`), puis les compteurs des salles serveurs et du réseau à leur site, mesurés ou "
            "facturés, et les passerelles LoRaWAN (sans site ni direction).",
            [
                ("year", "year", "Année", "Année civile"),
                ("site", "string", "Site", "Site ou bâtiment (vide : passerelles LoRaWAN)"),
                (
                    "department",
                    "string",
                    "Direction",
                    "Direction ou service (`*` : regroupés ; vide pour les compteurs)",
                ),
                (
                    "origin",
                    "string",
                    "Origine",
                    "agents (postes, serveurs et VM comptés au total), datacenter (compteurs "
                    "d'une salle serveurs), network (compteurs réseau hors salle), lorawan "
                    "(passerelles)",
                ),
                (
                    "basis",
                    "string",
                    "Base",
                    "measured (relevé) ou billed (facture) pour les compteurs, modelled pour "
                    "les passerelles et le réseau sans capteur de puissance (puissance du "
                    "modèle plus le PoE fourni) ; vide pour les agents (mesuré, modélisé ou "
                    "attribué)",
                ),
                ("hosts", "integer", "Machines", "Machines ayant rendu compte (agents)"),
                ("kwh", "number", "Énergie (kWh)", "Énergie de l'année"),
                ("usage_kgco2e", "number", "Émissions d'usage (kgCO2e)", "kWh × facteur"),
                (
                    "embodied_kgco2e",
                    "number",
                    "Fabrication amortie (kgCO2e)",
                    "Part de l'année des émissions de fabrication, à ne pas additionner à l'usage",
                ),
            ],
            doc["open_data"]["energy_by_site_department"],
        ),
        Table(
            "offhours_monthly",
            f"Veille hors heures ouvrées par mois, {year}",
            "Périodes hors heures ouvrées (nuits, week-ends, fériés) par mois.",
            [("month", "yearmonth", "Mois", "Mois de la période"), *_RATE_FIELDS],
            oh["by_month"],
        ),
        Table(
            "offhours_by_department",
            f"Veille hors heures ouvrées par direction, {year}",
            "Toute l'année ; `*` : directions de moins de quelques machines, regroupées.",
            [
                ("department", "string", "Direction", "Direction ou service"),
                ("hosts", "integer", "Machines", "Machines évaluées"),
                *_RATE_FIELDS,
            ],
            oh["by_department"],
        ),
        Table(
            "offhours_by_site",
            f"Veille hors heures ouvrées par site, {year}",
            "Toute l'année ; `*` : sites de moins de quelques machines, regroupés.",
            [
                ("site", "string", "Site", "Site ou bâtiment"),
                ("hosts", "integer", "Machines", "Machines évaluées"),
                *_RATE_FIELDS,
            ],
            oh["by_site"],
        ),
        Table(
            "datacenters_monthly",
            f"Salles serveurs par mois, {year}",
            "PUE (ISO/IEC 30134-2) = énergie du site / énergie informatique, avec la "
            "couverture de chaque côté et la catégorie de mesure informatique. Pas de PUE quand "
            "un côté couvre moins que le seuil de couverture du mois (pue_missing dit pourquoi).",
            [
                ("datacenter", "string", "Salle serveurs", "Nom de la salle"),
                ("month", "yearmonth", "Mois", "Mois civil"),
                ("it_kwh", "number", "Énergie informatique (kWh)", "Compteurs `it`"),
                ("facility_kwh", "number", "Énergie du site (kWh)", "Compteurs `facility`"),
                ("pue", "number", "PUE", "Site / informatique"),
                (
                    "pue_missing",
                    "string",
                    "Pourquoi pas de PUE",
                    "no_it, no_site : rien à diviser ; it_coverage, site_coverage : un côté "
                    "relevé sur trop peu du mois",
                ),
                ("it_category", "integer", "Catégorie", "1 onduleur, 2 PDU, 3 entrée serveur"),
                ("it_coverage", "number", "Couverture informatique", "Part du mois relevée"),
                ("facility_coverage", "number", "Couverture site", "Part du mois relevée"),
            ],
            [{"datacenter": d["datacenter"], **m} for d in doc["datacenters"] for m in d["months"]],
        ),
        Table(
            "fleet_age",
            f"Âge des équipements physiques au 31 décembre {year}",
            "Nombre d'équipements par âge en années révolues (8+ : huit ans et plus).",
            [
                ("age_years", "string", "Âge (années)", "Années révolues"),
                ("hosts", "integer", "Équipements", "Nombre"),
            ],
            doc["fleet"]["age_distribution"],
        ),
        Table(
            "objectives",
            f"Objectifs de la stratégie de sobriété, {year}",
            "Chaque objectif : référence, valeur de l'année, évolution, cible, atteint ou non.",
            [
                ("indicator", "string", "Indicateur", "Nom de l'indicateur"),
                ("label", "string", "Objectif", "Libellé"),
                ("datacenter", "string", "Salle serveurs", "Pour un PUE"),
                ("baseline_year", "year", "Année de référence", ""),
                ("baseline", "number", "Référence", "Valeur de référence"),
                ("value", "number", "Valeur", f"Valeur {year}"),
                ("change", "number", "Évolution", "(valeur − référence) / référence"),
                ("target", "number", "Cible", "Valeur cible"),
                ("met", "boolean", "Atteint", "Cible atteinte"),
            ],
            [
                {
                    k: o[k]
                    for k in (
                        "indicator",
                        "label",
                        "datacenter",
                        "baseline_year",
                        "baseline",
                        "value",
                        "change",
                        "target",
                        "met",
                    )
                }
                for o in doc["objectives"]
            ],
        ),
    ]
    pol = doc.get("policy")
    if pol is not None:
        out.append(
            Table(
                "veille-automatique",
                "Mise en veille automatique : énergie évitée",
                "Énergie hors heures ouvrées évitée par département et par mois, par rapport "
                f"à la période de référence {pol['baseline'] or '(non fixée)'} : ce que ces "
                "heures auraient consommé au taux d'allumage de la référence, moins ce "
                "qu'elles ont consommé (docs/policy.md).",
                [
                    ("department", "string", "Département", ""),
                    ("month", "yearmonth", "Mois", "AAAA-MM"),
                    (
                        "covered_h",
                        "number",
                        "Heures couvertes",
                        "Heures hors heures ouvrées "
                        "couvertes par les rapports, toutes machines (h)",
                    ),
                    ("used_kwh", "number", "Consommé", "kWh au-dessus de la veille"),
                    ("avoided_kwh", "number", "Évité", "kWh évités (vide sans référence)"),
                    ("avoided_eur", "number", "Euros évités", "€"),
                    ("avoided_kgco2e", "number", "CO2e évité", "kgCO2e"),
                    (
                        "advised_kwh",
                        "number",
                        "Évitable (conseil)",
                        "kWh que les mises en veille notées en mode conseil auraient évités",
                    ),
                    ("acted", "integer", "Mises en veille", "Nombre"),
                    ("postponed", "integer", "Reports", "Nombre"),
                    ("declined", "integer", "Pas ce soir", "Nombre"),
                ],
                [
                    {
                        k: r[k]
                        for k in (
                            "department",
                            "month",
                            "covered_h",
                            "used_kwh",
                            "avoided_kwh",
                            "avoided_eur",
                            "avoided_kgco2e",
                            "advised_kwh",
                            "acted",
                            "postponed",
                            "declined",
                        )
                    }
                    for r in pol["rows"]
                ],
            )
        )
    inv = doc.get("inventory")
    if inv is not None:
        out.extend(_inventory_tables(inv, year))
    return out


def _schema(t: Table) -> dict[str, Any]:
    fields = []
    for name, typ, title, desc in t.fields:
        f: dict[str, Any] = {"name": name, "type": typ, "title": title}
        if desc:
            f["description"] = desc
        fields.append(f)
    return {"fields": fields, "missingValues": [""]}


def _csv_value(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def write_package(doc: dict[str, Any], out: Path) -> Path:
    """The tables, their schemas and datapackage.json under `out`; returns the descriptor."""
    if doc["edition"] != "public":
        raise ValueError("open data is made from the public edition only")
    out.mkdir(parents=True, exist_ok=True)
    (out / "schemas").mkdir(exist_ok=True)
    resources = []
    for t in tables(doc):
        names = [f[0] for f in t.fields]
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(names)
        for r in t.rows:
            w.writerow([_csv_value(r.get(n)) for n in names])
        (out / f"{t.name}.csv").write_text(buf.getvalue(), encoding="utf-8")
        (out / f"{t.name}.json").write_text(
            json.dumps([{n: r.get(n) for n in names} for r in t.rows], ensure_ascii=False, indent=1)
            + "\n",
            encoding="utf-8",
        )
        schema_path = f"schemas/{t.name}.json"
        (out / schema_path).write_text(json.dumps(_schema(t), ensure_ascii=False, indent=1) + "\n")
        for fmt, media in (("csv", "text/csv"), ("json", "application/json")):
            resources.append(
                {
                    "name": t.name if fmt == "csv" else f"{t.name}-json",
                    "title": t.title,
                    "description": t.description,
                    "path": f"{t.name}.{fmt}",
                    "format": fmt,
                    "mediatype": media,
                    "encoding": "utf-8",
                    "schema": schema_path,
                }
            )
    org = doc.get("organisation") or ""
    package = {
        "name": f"reen-indicateurs-{doc['year']}",
        "title": f"Indicateurs de sobriété numérique {doc['year']}" + (f" – {org}" if org else ""),
        "description": "Indicateurs annuels de la stratégie de sobriété numérique (loi REEN) : "
        "énergie, émissions d'usage et de fabrication, veille hors heures ouvrées, salles "
        "serveurs, âge du parc. Agrégés par mois, site et direction, jamais par machine.",
        "licenses": [
            {
                "name": "etalab-2.0",
                "title": "Licence Ouverte / Open Licence 2.0",
                "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/",
            }
        ],
        "created": doc["generated_at"],
        "resources": resources,
    }
    path = out / "datapackage.json"
    path.write_text(json.dumps(package, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return path


def numecoeval_csv(ledger: Ledger, hosts: dict[str, HostYear], types: dict[str, str]) -> str:
    """NumEcoEval's physical-equipment input (semicolon-separated, its column names), one
    line per physical machine that reported in the year (`hosts`: figures.compute's), with
    its measured and modelled yearly kWh; VMs are left out (NumEcoEval counts them as
    virtual equipment of a host)."""
    cpus = dict(ledger.execute("SELECT host_id, cpus FROM hosts"))
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\n")
    w.writerow(NUMECOEVAL_COLUMNS)
    for hid, h in sorted(hosts.items()):
        if h.kind not in types or not h.months:
            continue
        bought = ""
        if h.manufactured and len(h.manufactured) >= 7 and h.manufactured[:4].isdigit():
            bought = f"{h.manufactured[:7]}-01"
        row = {
            "nomEquipementPhysique": hid,
            "modele": h.model or "",
            "quantite": "1",
            "dateAchat": bought,
            "type": types[h.kind],
            "statut": "actif",
            "paysDUtilisation": "France",
            "consoElecAnnuelle": f"{h.wh / 1000.0:.3f}",
            "nomSourceDonnee": "energy-collector",
            "nomEntite": h.department,
            "nbCoeur": str(cpus.get(hid) or ""),
            "nbJourUtiliseAn": str(h.on_days),
        }
        w.writerow([row.get(c, "") for c in NUMECOEVAL_COLUMNS])
    return buf.getvalue()


def _inventory_tables(inv: dict[str, Any], year: int) -> list[Table]:
    """The asset register's year (collector/inventory/): no asset or host is named."""
    return [
        Table(
            "inventaire-par-type",
            f"Inventaire du parc par type d'équipement, {year}",
            f"Équipements en service au {inv['as_of']}, âge moyen, part au-delà de la durée de "
            "vie prévue, réformés dans l'année et émissions de fabrication amorties de l'année "
            "(docs/inventory.md).",
            [
                (
                    "kind",
                    "string",
                    "Type",
                    "desktop, laptop, thin_client, workstation, server, "
                    "monitor, network, peripheral, other",
                ),
                ("in_service", "integer", "En service", "Nombre"),
                ("age_unknown", "integer", "Âge inconnu", "Sans date de mise en service"),
                ("mean_age_years", "number", "Âge moyen", "Années"),
                ("past_expected", "integer", "Au-delà de la durée prévue", "Nombre"),
                ("past_expected_share", "number", "Part au-delà", "0 à 1"),
                ("expected_lifetime_years", "number", "Durée de vie prévue", "Années"),
                ("retired_in_year", "integer", "Réformés", f"Nombre en {year}"),
                ("embodied_kgco2e", "number", "Fabrication", "kgCO2e amortis sur l'année"),
            ],
            [
                {
                    k: r[k]
                    for k in (
                        "kind",
                        "in_service",
                        "age_unknown",
                        "mean_age_years",
                        "past_expected",
                        "past_expected_share",
                        "expected_lifetime_years",
                        "retired_in_year",
                        "embodied_kgco2e",
                    )
                }
                for r in inv["by_kind"]
            ],
        ),
        Table(
            "reformes",
            f"Équipements réformés en {year}",
            "Un équipement réformé par ligne : son type, sa date de réforme et son âge.",
            [
                ("kind", "string", "Type", ""),
                ("retired", "date", "Réformé le", "AAAA-MM-JJ"),
                ("age_years", "number", "Âge", "Années, à la réforme"),
            ],
            [{k: r[k] for k in ("kind", "retired", "age_years")} for r in inv["retired_in_year"]],
        ),
    ]
