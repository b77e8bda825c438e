"""The yearly report as one HTML page, French or English, from the figures document.

Scope and data quality come first; every chart is followed by the table of its numbers;
objectives not met and regressions are said in words, not only in colour. The page is
self-contained (inline CSS and SVG, no script, no font, no external resource) so it can be
published as a static file and printed to PDF as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from collector.render import charts
from collector.render.fmt import esc, month, num, pct, signed_pct
from collector.render.page import document, table

KIND = {
    "fr": {
        "desktop": "PC fixes",
        "laptop": "PC portables",
        "thin_client": "clients légers",
        "workstation": "stations de travail",
        "vm": "machines virtuelles",
        "server": "serveurs",
        "datacenter_it": "salles serveurs : informatique",
        "datacenter_facility": "salles serveurs : total du site",
        "datacenter_overhead": "salles serveurs : hors informatique",
        "network": "réseau (hors salles)",
        "lorawan": "réseau LoRaWAN",
    },
    "en": {
        "desktop": "desktop PCs",
        "laptop": "laptops",
        "thin_client": "thin clients",
        "workstation": "workstations",
        "vm": "virtual machines",
        "server": "servers",
        "datacenter_it": "datacenters: IT",
        "datacenter_facility": "datacenters: whole site",
        "datacenter_overhead": "datacenters: non-IT",
        "network": "network (outside datacenters)",
        "lorawan": "LoRaWAN network",
    },
}

INDICATOR = {
    "fr": {
        "total_kwh": "Énergie totale (kWh)",
        "endpoint_kwh": "Énergie des postes de travail (kWh)",
        "usage_kgco2e": "Émissions d'usage (kgCO2e)",
        "embodied_kgco2e": "Émissions de fabrication amorties (kgCO2e)",
        "wasted_kwh": "Énergie perdue hors heures ouvrées (kWh)",
        "compliance_rate": "Taux de mise en veille hors heures ouvrées",
        "pue": "PUE",
        "measured_share": "Part de l'énergie mesurée",
    },
    "en": {
        "total_kwh": "Total energy (kWh)",
        "endpoint_kwh": "Workstation energy (kWh)",
        "usage_kgco2e": "Usage emissions (kgCO2e)",
        "embodied_kgco2e": "Amortised embodied emissions (kgCO2e)",
        "wasted_kwh": "Energy wasted off-hours (kWh)",
        "compliance_rate": "Off-hours sleep compliance rate",
        "pue": "PUE",
        "measured_share": "Share of energy measured",
    },
}

T = {
    "fr": {
        "title": "Indicateurs de sobriété numérique {year}",
        "subtitle": "Rapport annuel REEN{org} · édition {edition} · établi le {when}",
        "public": "publique",
        "internal": "interne (nomme des postes : ne pas publier)",
        "in_progress": "Année en cours : chiffres arrêtés au {until}.",
        "summary": "L'essentiel",
        "total": "Énergie totale",
        "usage": "Émissions d'usage",
        "embodied": "Fabrication amortie",
        "compliance": "Veille hors heures ouvrées",
        "measured": "Énergie mesurée",
        "scope": "1. Périmètre et qualité des données",
        "scope_intro": "Avant tout chiffre : ce qui a été mesuré, ce qui a été modélisé, "
        "ce qui manque.",
        "hosts_known": "Machines connues",
        "hosts_reporting": "Machines ayant rendu compte",
        "days": "Jours couverts",
        "time_cov": "Couverture du temps des machines",
        "unknown": "Temps inconnu (machine allumée, agent muet)",
        "share_measured": "Énergie mesurée",
        "share_modelled": "Énergie modélisée",
        "share_attributed": "Énergie attribuée (machines virtuelles)",
        "kind": "Type",
        "known": "connues",
        "reporting": "ayant rendu compte",
        "dc": "Salle serveurs",
        "category": "Catégorie de mesure informatique",
        "it_cov": "Couverture informatique",
        "fac_cov": "Couverture site",
        "not_stated": "non déclarée",
        "dc_scope": "Salles serveurs : ce que les compteurs couvrent",
        "servers_note": "Les serveurs et machines virtuelles sont dans l'énergie des salles "
        "serveurs mesurée aux compteurs ; ils sont montrés « dont » et ne sont pas ajoutés "
        "une seconde fois au total.",
        "servers_counted": "Aucune salle serveurs n'a de compteur informatique : l'énergie "
        "des serveurs et machines virtuelles vient de leurs agents et entre dans le total.",
        "objectives": "2. Objectifs",
        "no_objectives": "Aucun objectif n'est configuré (section `yearly.objectives`).",
        "objective": "Objectif",
        "baseline": "Référence",
        "this_year": "Cette année",
        "change": "Évolution",
        "target": "Cible",
        "status": "Atteint ?",
        "met": "atteint",
        "not_met": "non atteint",
        "unknown_status": "non évaluable",
        "regression": "en recul par rapport à la référence",
        "energy": "3. Énergie et carbone",
        "monthly_kwh": "Énergie totale par mois (kWh)",
        "monthly_desc": "Barres : énergie totale comptée une fois, par mois de l'année.",
        "month": "Mois",
        "kwh": "kWh",
        "kgco2e": "kgCO2e d'usage",
        "emb": "kgCO2e de fabrication",
        "hosts": "Machines",
        "in_total": "Dans le total",
        "yes": "oui",
        "no": "non (« dont »)",
        "by_kind": "Par type d'équipement",
        "by_site": "Par site",
        "by_department": "Par direction",
        "site": "Site",
        "department": "Direction",
        "other_group": "autres (groupes de moins de {k} machines)",
        "embodied_note": "Les émissions de fabrication sont amorties linéairement sur la durée "
        "de vie de chaque type d'équipement et restent séparées des émissions d'usage : "
        "elles ne s'additionnent pas.",
        "factors": "Facteurs utilisés",
        "factor": "Facteur",
        "value": "Valeur",
        "source": "Version et source",
        "carbon_static": "Intensité carbone de l'électricité",
        "carbon_hourly": "Série horaire chargée",
        "tariff": "Prix de l'électricité",
        "profile": "Profil de puissance et fabrication",
        "offhours": "4. Veille hors heures ouvrées",
        "rate_chart": "Taux de mise en veille par mois (%)",
        "rate_desc": "Ligne : part des nuits, week-ends et jours fériés où les machines "
        "ont été mises en veille ou éteintes, par mois.",
        "host_periods": "Nuits et week-ends évalués",
        "compliant": "en veille",
        "noncompliant": "laissés allumés",
        "unknown_p": "inconnus",
        "rate": "Taux",
        "wasted": "kWh perdus",
        "eur": "€",
        "offhours_kg": "kgCO2e",
        "recurring": "Machines laissées allumées de façon répétée",
        "policy": "Mise en veille automatique : énergie évitée",
        "policy_table": "Énergie évitée par direction et par mois",
        "policy_method": "Énergie hors heures ouvrées évitée par rapport à une période de "
        "référence avant la politique : ce que ces heures auraient consommé au taux "
        "d'allumage de la référence, moins ce qu'elles ont consommé. Une valeur nulle ou "
        "négative est publiée telle quelle. En mode conseil, rien n'est fait : la colonne "
        "« conseil » dit ce que les mises en veille notées auraient évité.",
        "avoided_kwh": "kWh évités",
        "advised_kwh": "conseil : kWh évitables",
        "acted": "mises en veille",
        "no_policy_data": "Pas encore de données de la politique de mise en veille.",
        "recurring_text": "{n} machine(s) laissée(s) allumée(s) au moins {k} nuits ou "
        "week-ends dans l'année ({m} l'ont été au moins une fois).",
        "named": "Machines concernées (édition interne)",
        "hostname": "Machine",
        "periods_left_on": "Périodes allumée",
        "blockers": "Principales raisons déclarées (blocages de veille)",
        "app": "Application",
        "what": "Blocage",
        "blocker_periods": "Nuits et week-ends concernés",
        "no_blockers": "Aucun blocage de veille déclaré.",
        "datacenters": "5. Salles serveurs",
        "no_dc": "Aucune salle serveurs n'a de compteur dans le registre pour cette année.",
        "pue_chart": "PUE par mois",
        "pue_desc": "Lignes : PUE mensuel de chaque salle serveurs (énergie du site / "
        "énergie informatique).",
        "it": "kWh informatique",
        "facility": "kWh site",
        "pue": "PUE",
        "eu": "Indicateurs européens de l'année (règlement délégué (UE) 2024/1364)",
        "wue": "WUE (L/kWh)",
        "erf": "ERF",
        "ref": "REF",
        "fleet": "6. Le parc",
        "age_chart": "Âge des équipements physiques (années)",
        "age_desc": "Barres : nombre d'équipements par âge au 31 décembre.",
        "age": "Âge (années)",
        "age_unknown": "{n} équipement(s) sans date de fabrication connue.",
        "mean_age": "Âge moyen : {a} ans.",
        "renewals": "Renouvellements attendus (fin de durée de vie)",
        "renew_year": "Année",
        "renew_note": "L'allongement de la durée de vie est un levier de la loi REEN : "
        "chaque année de plus d'un poste en évite la fabrication d'un autre.",
        "method": "7. Méthode",
        "total_row": "Total",
        "open_data": "Données ouvertes",
        "open_data_text": "Les mêmes chiffres en CSV et JSON, décrits par un paquet "
        "Frictionless (datapackage.json) :",
    },
    "en": {
        "title": "Digital sobriety indicators {year}",
        "subtitle": "REEN yearly report{org} · {edition} edition · produced {when}",
        "public": "public",
        "internal": "internal (names machines: do not publish)",
        "in_progress": "Year in progress: figures as of {until}.",
        "summary": "At a glance",
        "total": "Total energy",
        "usage": "Usage emissions",
        "embodied": "Amortised manufacturing",
        "compliance": "Off-hours sleep",
        "measured": "Energy measured",
        "scope": "1. Scope and data quality",
        "scope_intro": "Before any figure: what was measured, what was modelled, what is missing.",
        "hosts_known": "Machines known",
        "hosts_reporting": "Machines that reported",
        "days": "Days covered",
        "time_cov": "Coverage of the machines' time",
        "unknown": "Unknown time (machine up, agent silent)",
        "share_measured": "Energy measured",
        "share_modelled": "Energy modelled",
        "share_attributed": "Energy attributed (virtual machines)",
        "kind": "Kind",
        "known": "known",
        "reporting": "reported",
        "dc": "Datacenter",
        "category": "IT measurement category",
        "it_cov": "IT coverage",
        "fac_cov": "Site coverage",
        "not_stated": "not stated",
        "dc_scope": "Datacenters: what the meters cover",
        "servers_note": "Servers and virtual machines are inside the datacenters' metered IT "
        'energy; they are shown as "of which" and not added to the total again.',
        "servers_counted": "No datacenter has an IT meter: the energy of servers and virtual "
        "machines comes from their agents and is in the total.",
        "objectives": "2. Objectives",
        "no_objectives": "No objective is configured (section `yearly.objectives`).",
        "objective": "Objective",
        "baseline": "Baseline",
        "this_year": "This year",
        "change": "Change",
        "target": "Target",
        "status": "Met?",
        "met": "met",
        "not_met": "not met",
        "unknown_status": "cannot be assessed",
        "regression": "worse than the baseline",
        "energy": "3. Energy and carbon",
        "monthly_kwh": "Total energy per month (kWh)",
        "monthly_desc": "Bars: total energy counted once, per month of the year.",
        "month": "Month",
        "kwh": "kWh",
        "kgco2e": "usage kgCO2e",
        "emb": "embodied kgCO2e",
        "hosts": "Machines",
        "in_total": "In the total",
        "yes": "yes",
        "no": 'no ("of which")',
        "by_kind": "By kind of equipment",
        "by_site": "By site",
        "by_department": "By department",
        "site": "Site",
        "department": "Department",
        "other_group": "others (groups under {k} machines)",
        "embodied_note": "Manufacturing emissions are amortised linearly over each kind's "
        "lifetime and kept apart from usage emissions: the two are not added.",
        "factors": "Factors used",
        "factor": "Factor",
        "value": "Value",
        "source": "Version and source",
        "carbon_static": "Carbon intensity of electricity",
        "carbon_hourly": "Hourly series loaded",
        "tariff": "Electricity price",
        "profile": "Power and manufacturing profile",
        "offhours": "4. Off-hours sleep",
        "rate_chart": "Sleep compliance per month (%)",
        "rate_desc": "Line: share of nights, weekends and holidays when machines were asleep "
        "or off, per month.",
        "host_periods": "Nights and weekends judged",
        "compliant": "asleep",
        "noncompliant": "left on",
        "unknown_p": "unknown",
        "rate": "Rate",
        "wasted": "kWh wasted",
        "eur": "€",
        "offhours_kg": "kgCO2e",
        "recurring": "Machines left on again and again",
        "policy": "Automatic sleep: energy avoided",
        "policy_table": "Energy avoided by department and month",
        "policy_method": "Off-hours energy avoided against a baseline period before the "
        "policy: what those hours would have used at the baseline's on-rate, minus what they "
        "used. Zero or negative values are published as they are. In advise mode nothing is "
        "done: the advise column says what the noted actions would have avoided.",
        "avoided_kwh": "kWh avoided",
        "advised_kwh": "advise: kWh avoidable",
        "acted": "put to sleep",
        "no_policy_data": "No data from the sleep policy yet.",
        "recurring_text": "{n} machine(s) left on at least {k} nights or weekends in the year "
        "({m} were left on at least once).",
        "named": "Machines concerned (internal edition)",
        "hostname": "Machine",
        "periods_left_on": "Periods left on",
        "blockers": "Main reasons reported (sleep blockers)",
        "app": "Application",
        "what": "Blocker",
        "blocker_periods": "Nights and weekends concerned",
        "no_blockers": "No sleep blocker reported.",
        "datacenters": "5. Datacenters",
        "no_dc": "No datacenter has a meter in the ledger for this year.",
        "pue_chart": "PUE per month",
        "pue_desc": "Lines: monthly PUE of each datacenter (site energy / IT energy).",
        "it": "IT kWh",
        "facility": "site kWh",
        "pue": "PUE",
        "eu": "EU indicators of the year (Delegated Regulation (EU) 2024/1364)",
        "wue": "WUE (L/kWh)",
        "erf": "ERF",
        "ref": "REF",
        "fleet": "6. The fleet",
        "age_chart": "Age of physical equipment (years)",
        "age_desc": "Bars: number of devices per age on 31 December.",
        "age": "Age (years)",
        "age_unknown": "{n} device(s) without a known manufacturing date.",
        "mean_age": "Mean age: {a} years.",
        "renewals": "Renewals due (end of lifetime)",
        "renew_year": "Year",
        "renew_note": "Extending lifetimes is a REEN lever: each extra year of a PC avoids "
        "manufacturing another.",
        "method": "7. Method",
        "total_row": "Total",
        "open_data": "Open data",
        "open_data_text": "The same figures as CSV and JSON, described by a Frictionless "
        "package (datapackage.json):",
    },
}

METHOD = {
    "fr": [
        (
            "Énergie des postes",
            "Chaque agent rend compte de la chronologie de sa machine (active, inactive, en "
            "veille, éteinte, inconnue) et, quand la machine le permet, d'une mesure (batterie, "
            "compteur RAPL du processeur, compteur EMI de Windows). Sans mesure, la puissance "
            "est modélisée : P = repos + (max − repos) × charge processeur, plus l'écran, par "
            "état, selon les profils de puissance ; le temps inconnu est compté à la puissance "
            "de repos. Les machines virtuelles reçoivent une part de la puissance de leur "
            "hôte (mesurée à la prise quand elle est relevée, sinon au prorata des vCPU).",
        ),
        (
            "Compter une fois",
            "Chaque compte rendu est compté une seule fois (clé agent, séquence) ; une même "
            "identité vue deux fois sur la même période n'est comptée qu'une fois. Les jours "
            "sont des jours civils en heure de Paris (23 et 25 heures aux changements d'heure).",
        ),
        (
            "Carbone",
            "Émissions d'usage = kWh × intensité carbone de l'électricité (facteur annuel "
            "ADEME Base Empreinte, ou série horaire RTE éCO2mix quand elle est chargée : sa "
            "portée est plus étroite, la production française seule). Émissions de "
            "fabrication : facteur par type d'équipement amorti sur sa durée de vie, tenu à "
            "part.",
        ),
        (
            "Veille hors heures ouvrées",
            "Pour chaque nuit, week-end et jour férié du calendrier de son site, une machine "
            "est « en veille » si ses comptes rendus couvrent au moins la part minimale de la "
            "période et qu'elle n'a pas été allumée plus que la tolérance (hors maintenance) ; "
            "« laissée allumée » au-delà de la tolérance ; « inconnue » sinon, jamais comptée "
            "en veille. Le taux = en veille / périodes évaluées. L'énergie perdue est celle "
            "des heures allumées, valorisée au prix de l'électricité configuré.",
        ),
        (
            "Salles serveurs",
            "PUE (ISO/IEC 30134-2) = énergie du site / énergie informatique sur la même "
            "période, avec la couverture de chaque côté et la catégorie du point de mesure "
            "informatique (1 sortie onduleur, 2 sortie PDU, 3 entrée des serveurs). Compteurs "
            "SNMP, LoRaWAN et relevés de factures sont traités de la même façon. WUE, ERF et "
            "REF selon le règlement délégué (UE) 2024/1364 quand l'eau, l'énergie réutilisée et "
            "renouvelable de l'année sont fournies.",
        ),
        (
            "Parc",
            "Âge au 31 décembre d'après la date de fabrication déclarée par la machine ; "
            "renouvellement attendu = année de fabrication + durée de vie du profil.",
        ),
        (
            "Vie privée",
            "Aucun nom d'utilisateur, titre de fenêtre, nom de processus ou frappe ne quitte "
            "un poste. L'édition publique et les données ouvertes ne nomment aucune machine ; "
            "les groupes de moins de quelques machines sont regroupés.",
        ),
    ],
    "en": [
        (
            "Workstation energy",
            "Each agent reports its machine's timeline (active, idle, suspended, off, unknown) "
            "and, where the machine allows, a measurement (battery, CPU RAPL counter, Windows "
            "EMI counter). Without one, power is modelled: P = idle + (max − idle) × CPU load, "
            "plus the monitor, per state, from the power profiles; unknown time is counted at "
            "idle power. Virtual machines get a share of their host's power (measured at the "
            "outlet where it is polled, else by vCPU share).",
        ),
        (
            "Counting once",
            "Each report is counted once (agent, sequence); one identity seen twice over the "
            "same period is counted once. Days are calendar days in Paris time (23 and 25 "
            "hours at the clock changes).",
        ),
        (
            "Carbon",
            "Usage emissions = kWh × carbon intensity of electricity (ADEME Base Empreinte "
            "yearly factor, or the RTE éCO2mix hourly series where loaded: its scope is "
            "narrower, French production only). Manufacturing emissions: a factor per kind of "
            "device amortised over its lifetime, kept apart.",
        ),
        (
            "Off-hours sleep",
            "For each night, weekend and holiday of its site's calendar, a machine is "
            '"asleep" when its reports cover at least the minimum share of the period and it '
            'was not on longer than the tolerance (maintenance excepted); "left on" beyond the '
            'tolerance; "unknown" otherwise, never counted asleep. Rate = asleep / periods '
            "judged. Wasted energy is that of the hours left on, priced at the configured "
            "tariff.",
        ),
        (
            "Datacenters",
            "PUE (ISO/IEC 30134-2) = site energy / IT energy over the same period, with each "
            "side's coverage and the category of the IT measurement point (1 UPS output, 2 PDU "
            "output, 3 server input). SNMP, LoRaWAN meters and bill readings are treated alike. "
            "WUE, ERF and REF per Delegated Regulation (EU) 2024/1364 when the year's water, "
            "reused and renewable energy are given.",
        ),
        (
            "Fleet",
            "Age on 31 December from the manufacturing date the machine reports; renewal due = "
            "year of manufacture + the profile's lifetime.",
        ),
        (
            "Privacy",
            "No user name, window title, process name or keystroke leaves a PC. The public "
            "edition and the open data name no machine; groups of only a few machines are "
            "merged.",
        ),
    ],
}


def _group_name(v: str, w: dict[str, str], k: int) -> str:
    if v == "*":
        return esc(w["other_group"].format(k=k))
    return esc(v) if v else "–"


def render(
    doc: dict[str, Any],
    lang: str = "fr",
    open_data_href: str | None = None,
    nav: Sequence[tuple[str, str, bool]] = (),
    other_lang: tuple[str, str] | None = None,
) -> str:
    """The whole page; `nav` and `other_lang` when the web view serves it."""
    w, kinds, ind = T[lang], KIND[lang], INDICATOR[lang]
    sc, en, oh = doc["scope"], doc["energy"], doc["offhours"]
    k = doc.get("open_data", {}).get("min_group_hosts", 3)
    months = [r["month"] for r in en["by_month"]]
    mlabels = [month(m, lang) for m in months]
    out: list[str] = []

    def n(x: float | None, d: int = 0) -> str:
        return num(x, lang, d)

    def p(x: float | None) -> str:
        return pct(x, lang)

    if sc["in_progress"]:
        out.append(f'<p class="note">{esc(w["in_progress"].format(until=sc["covered_until"]))}</p>')
    # -- at a glance
    i = doc["indicators"]
    tiles = [
        (w["total"], f"{n(i['total_kwh'])} kWh"),
        (w["usage"], f"{n(i['usage_kgco2e'])} kgCO2e"),
        (w["embodied"], f"{n(i['embodied_kgco2e'])} kgCO2e"),
        (w["compliance"], p(i["compliance_rate"])),
        (w["measured"], p(i["measured_share"])),
    ]
    out.append(f'<h2 id="summary">{esc(w["summary"])}</h2><ul class="tiles">')
    out += [f"<li>{esc(a)}<strong>{esc(b)}</strong></li>" for a, b in tiles]
    out.append("</ul>")

    # -- 1. scope
    sh = sc["energy_shares"]
    out.append(f'<h2 id="scope">{esc(w["scope"])}</h2><p>{esc(w["scope_intro"])}</p>')
    out.append(
        table(
            w["scope"],
            ("", w["value"]),
            [
                (esc(w["hosts_known"]), n(sc["hosts_known"])),
                (esc(w["hosts_reporting"]), n(sc["hosts_reporting"])),
                (esc(w["days"]), f"{n(sc['days_with_data'])} / {n(sc['days_in_year'])}"),
                (esc(w["time_cov"]), p(sc["time_coverage"])),
                (esc(w["unknown"]), f"{n(sc['unknown_hours'])} h ({p(sc['unknown_share'])})"),
                (esc(w["share_measured"]), p(sh["measured"])),
                (esc(w["share_modelled"]), p(sh["modelled"])),
                (esc(w["share_attributed"]), p(sh["attributed"])),
            ],
        )
    )
    out.append(
        table(
            w["by_kind"],
            (w["kind"], w["known"], w["reporting"]),
            [
                (esc(kinds.get(r["kind"], r["kind"])), n(r["known"]), n(r["reporting"]))
                for r in sc["by_kind"]
            ],
        )
    )
    if sc["datacenters"]:
        out.append(
            table(
                w["dc_scope"],
                (w["dc"], w["category"], w["it_cov"], w["fac_cov"]),
                [
                    (
                        esc(d["datacenter"]),
                        esc(d["it_category"] or w["not_stated"]),
                        p(d["it_coverage"]),
                        p(d["facility_coverage"]),
                    )
                    for d in sc["datacenters"]
                ],
            )
        )
    note = w["servers_note"] if sc["servers_in_datacenter_energy"] else w["servers_counted"]
    out.append(f'<p class="note">{esc(note)}</p>')

    # -- 2. objectives
    out.append(f'<h2 id="objectives">{esc(w["objectives"])}</h2>')
    if not doc["objectives"]:
        out.append(f"<p>{esc(w['no_objectives'])}</p>")
    else:
        rows = []
        for o in doc["objectives"]:
            digits = 3 if o["indicator"] in ("pue",) else 0
            rate = o["indicator"] in ("compliance_rate", "measured_share")

            def f(x: float | None, rate: bool = rate, digits: int = digits) -> str:
                return p(x) if rate else n(x, digits)

            if o["met"] is True:
                status = f'<span class="ok">{esc(w["met"])}</span>'
            elif o["met"] is False:
                status = f'<span class="bad">{esc(w["not_met"])}</span>'
            else:
                status = esc(w["unknown_status"])
            if o["regression"]:
                status += f' · <span class="bad">{esc(w["regression"])}</span>'
            label = o["label"] or ind[o["indicator"]]
            if o["datacenter"]:
                label += f" ({o['datacenter']})"
            base = f(o["baseline"])
            if o["baseline_year"]:
                base += f" ({o['baseline_year']})"
            target = f(o["target"])
            if o["target_change"] is not None:
                target += f" ({signed_pct(o['target_change'], lang, 0)})"
            rows.append(
                (
                    esc(label),
                    base,
                    f(o["value"]),
                    signed_pct(o["change"], lang),
                    target,
                    status,
                )
            )
        out.append(
            table(
                w["objectives"],
                (
                    w["objective"],
                    w["baseline"],
                    w["this_year"],
                    w["change"],
                    w["target"],
                    w["status"],
                ),
                rows,
            )
        )

    # -- 3. energy and carbon
    out.append(f'<h2 id="energy">{esc(w["energy"])}</h2>')
    totals = [r["total_kwh"] for r in en["by_month"]]
    out.append(charts.bars(mlabels, totals, w["monthly_kwh"], w["monthly_desc"], "kWh", lang))
    out.append(
        table(
            w["monthly_kwh"],
            (w["month"], w["kwh"], w["kgco2e"]),
            [
                (esc(month(r["month"], lang)), n(r["total_kwh"]), n(r["usage_kgco2e"]))
                for r in en["by_month"]
            ],
            (
                esc(w["total_row"]),
                n(i["total_kwh"]),
                n(i["usage_kgco2e"]),
            ),
        )
    )
    out.append(
        table(
            w["by_kind"],
            (w["kind"], w["hosts"], w["kwh"], w["kgco2e"], w["emb"], w["in_total"]),
            [
                (
                    esc(kinds.get(r["kind"], r["kind"])),
                    n(r["hosts"]),
                    n(r["kwh"]),
                    n(r["usage_kgco2e"]),
                    n(r["embodied_kgco2e"]),
                    esc(w["yes"] if r["in_total"] else w["no"]),
                )
                for r in en["by_kind"]
            ],
        )
    )
    for key, col in (("by_site", "site"), ("by_department", "department")):
        out.append(
            table(
                w[key],
                (w[col], w["hosts"], w["kwh"], w["kgco2e"], w["emb"]),
                [
                    (
                        _group_name(r[col], w, k),
                        n(r["hosts"]),
                        n(r["kwh"]),
                        n(r["usage_kgco2e"]),
                        n(r["embodied_kgco2e"]),
                    )
                    for r in en[key]
                ],
            )
        )
    out.append(f'<p class="note">{esc(w["embodied_note"])}</p>')
    fa = doc["factors"]
    c = fa["carbon"]
    frows = [
        (
            esc(w["carbon_static"]),
            f"{n(c['static_kg_per_kwh'], 3)} kgCO2e/kWh",
            esc(c["static_basis"]),
        ),
        (esc(w["tariff"]), f"{n(fa['tariff_eur_per_kwh'], 3)} €/kWh", "yearly.tariff"),
    ]
    if c["hourly_basis"]:
        frows.append((esc(w["carbon_hourly"]), n(c["hourly_values"]), esc(c["hourly_basis"])))
    for pr in fa["profiles"]:
        frows.append(
            (
                esc(f"{w['profile']} : {kinds.get(pr['kind'], pr['kind'])}")
                if lang == "fr"
                else esc(f"{w['profile']}: {kinds.get(pr['kind'], pr['kind'])}"),
                f"{n(pr['idle_w'])}–{n(pr['max_w'])} W · {n(pr['embodied_kgco2e'])} kgCO2e / "
                f"{n(pr['lifetime_years'])} {'ans' if lang == 'fr' else 'years'}",
                esc(fa["profiles_source"]),
            )
        )
    out.append(table(w["factors"], (w["factor"], w["value"], w["source"]), frows))

    # -- 4. off-hours
    out.append(f'<h2 id="offhours">{esc(w["offhours"])}</h2>')
    rates = [r["rate"] for r in oh["by_month"]]
    out.append(
        charts.lines(
            mlabels,
            [(w["rate"], rates)],
            w["rate_chart"],
            w["rate_desc"],
            "%",
            lang,
            ymin=0.0,
            ymax=100.0,
            scale=100.0,
        )
    )
    head = (
        w["month"],
        w["host_periods"],
        w["compliant"],
        w["noncompliant"],
        w["unknown_p"],
        w["rate"],
        w["wasted"],
        w["eur"],
        w["offhours_kg"],
    )

    def rate_cells(r: dict[str, Any]) -> list[str]:
        return [
            n(r["host_periods"]),
            n(r["compliant"]),
            n(r["noncompliant"]),
            n(r["unknown"]),
            p(r["rate"]),
            n(r["wasted_kwh"]),
            n(r["eur"]),
            n(r["kgco2e"]),
        ]

    y = oh["year"]
    out.append(
        table(
            w["rate_chart"],
            head,
            [(esc(month(r["month"], lang)), *rate_cells(r)) for r in oh["by_month"]],
            (esc(w["total_row"]), *rate_cells(y)),
        )
    )
    for key, col in (("by_site", "site"), ("by_department", "department")):
        out.append(
            table(
                f"{w['offhours']} · {w[key]}",
                (w[col], *head[1:]),
                [(_group_name(r[col], w, k), *rate_cells(r)) for r in oh[key]],
            )
        )
    ro = oh["recurring_offenders"]
    out.append(f"<h3>{esc(w['recurring'])}</h3>")
    out.append(
        "<p>"
        + esc(
            w["recurring_text"].format(
                n=n(ro["hosts"]), k=ro["threshold_periods"], m=n(ro["hosts_left_on_at_least_once"])
            )
        )
        + "</p>"
    )
    if ro["by_department"]:
        out.append(
            table(
                f"{w['recurring']} · {w['by_department']}",
                (w["department"], w["hosts"]),
                [(_group_name(r["department"], w, k), n(r["hosts"])) for r in ro["by_department"]],
            )
        )
    if ro.get("named"):
        out.append(
            table(
                w["named"],
                (w["hostname"], w["site"], w["department"], w["periods_left_on"]),
                [
                    (
                        esc(r["hostname"]),
                        esc(r["site"]),
                        esc(r["department"]),
                        n(r["periods_left_on"]),
                    )
                    for r in ro["named"]
                ],
            )
        )
    if oh["top_blockers"]:
        out.append(
            table(
                w["blockers"],
                (w["app"], w["what"], w["hosts"], w["blocker_periods"]),
                [
                    (esc(b["app"]), esc(b["what"]), n(b["hosts"]), n(b["host_periods"]))
                    for b in oh["top_blockers"]
                ],
            )
        )
    else:
        out.append(f"<p>{esc(w['no_blockers'])}</p>")

    pol = doc.get("policy")
    if pol is not None:
        out.append(f"<h3>{esc(w['policy'])}</h3><p>{esc(w['policy_method'])}</p>")
        if pol["rows"]:
            cols = (
                w["department"],
                w["month"],
                w["avoided_kwh"],
                w["eur"],
                w["offhours_kg"],
                w["advised_kwh"],
                w["acted"],
            )

            t = pol["total"]
            out.append(
                table(
                    w["policy_table"],
                    cols,
                    [
                        (
                            _group_name(r["department"], w, k),
                            esc(month(r["month"], lang)),
                            n(r["avoided_kwh"], 1),
                            n(r["avoided_eur"], 1),
                            n(r["avoided_kgco2e"], 1),
                            n(r["advised_kwh"], 1),
                            n(r["acted"]),
                        )
                        for r in pol["rows"]
                    ],
                    (
                        esc(w["total_row"]),
                        "",
                        n(t["avoided_kwh"], 1),
                        n(t["avoided_eur"], 1),
                        n(t["avoided_kgco2e"], 1),
                        n(t["advised_kwh"], 1),
                        n(t["acted"]),
                    ),
                )
            )
        else:
            out.append(f"<p>{esc(w['no_policy_data'])}</p>")

    # -- 5. datacenters
    out.append(f'<h2 id="datacenters">{esc(w["datacenters"])}</h2>')
    dcs = doc["datacenters"]
    if not dcs:
        out.append(f"<p>{esc(w['no_dc'])}</p>")
    else:
        out.append(
            charts.lines(
                mlabels,
                [(d["datacenter"], [m["pue"] for m in d["months"]]) for d in dcs],
                w["pue_chart"],
                w["pue_desc"],
                "PUE",
                lang,
                ymin=1.0,
            )
        )
        for d in dcs:
            out.append(
                table(
                    f"{w['dc']} {d['datacenter']}",
                    (w["month"], w["it"], w["facility"], w["pue"], w["it_cov"], w["fac_cov"]),
                    [
                        (
                            esc(month(m["month"], lang)),
                            n(m["it_kwh"]),
                            n(m["facility_kwh"]),
                            n(m["pue"], 3),
                            p(m["it_coverage"]),
                            p(m["facility_coverage"]),
                        )
                        for m in d["months"]
                    ],
                )
            )
        out.append(
            table(
                w["eu"],
                (w["dc"], w["it"], w["facility"], w["pue"], w["wue"], w["erf"], w["ref"]),
                [
                    (
                        esc(d["datacenter"]),
                        n((d["year"] or {}).get("it_kwh")),
                        n((d["year"] or {}).get("facility_kwh")),
                        n((d["year"] or {}).get("pue"), 3),
                        n((d["year"] or {}).get("wue_l_per_kwh"), 3),
                        n((d["year"] or {}).get("erf"), 3),
                        n((d["year"] or {}).get("ref"), 3),
                    )
                    for d in dcs
                ],
            )
        )

    # -- 6. fleet
    fl = doc["fleet"]
    out.append(f'<h2 id="fleet">{esc(w["fleet"])}</h2>')
    labels = [a["age_years"] for a in fl["age_distribution"]]
    counts = [a["hosts"] for a in fl["age_distribution"]]
    out.append(charts.bars(labels, counts, w["age_chart"], w["age_desc"], w["hosts"], lang))
    out.append(
        table(
            w["age_chart"],
            (w["age"], w["hosts"]),
            [(esc(a), n(c)) for a, c in zip(labels, counts, strict=True)],
        )
    )
    extra = []
    if fl["mean_age_years"] is not None:
        extra.append(w["mean_age"].format(a=n(fl["mean_age_years"], 1)))
    if fl["age_unknown"]:
        extra.append(w["age_unknown"].format(n=n(fl["age_unknown"])))
    if extra:
        out.append(f"<p>{esc(' '.join(extra))}</p>")
    out.append(
        table(
            w["renewals"],
            (w["renew_year"], w["hosts"]),
            [(esc(r["year"]), n(r["hosts"])) for r in fl["renewals_due"]],
        )
    )
    out.append(f'<p class="note">{esc(w["renew_note"])}</p>')

    # -- 7. method
    out.append(f'<h2 id="method">{esc(w["method"])}</h2>')
    for head_text, text in METHOD[lang]:
        out.append(f"<h3>{esc(head_text)}</h3><p>{esc(text)}</p>")
    if open_data_href:
        out.append(
            f"<h3>{esc(w['open_data'])}</h3><p>{esc(w['open_data_text'])} "
            f'<a href="{esc(open_data_href)}">datapackage.json</a></p>'
        )

    org = f" · {doc['organisation']}" if doc.get("organisation") else ""
    subtitle = esc(
        w["subtitle"].format(org=org, edition=w[doc["edition"]], when=doc["generated_at"][:10])
    )
    return document(
        lang,
        w["title"].format(year=doc["year"]),
        "".join(out),
        nav=nav,
        subtitle=subtitle,
        other_lang=other_lang,
    )
