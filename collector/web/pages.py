"""The web view: the embedded collector's face for people without Grafana.

Server-rendered pages, French or English (`?lang=`, else the browser's Accept-Language, else
`yearly.language`), no script: the fleet now, last night, the datacenters, LoRaWAN, and the
yearly report with its open data. Live pages refresh themselves once a minute and are built at
most once a minute (cached per page, language and login). Host names appear only after the
ops login (collector/web/session.py); with `web.public: false` every page asks for it.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from collector.datacenter.facility import pue
from collector.render.fmt import LANGS, esc, num, pct
from collector.render.page import document, table
from collector.web.session import COOKIE, OpsLogin
from collector.yearly import html as report_html
from collector.yearly import opendata
from collector.yearly.figures import yearly_figures

if TYPE_CHECKING:
    from collector.app import Collector

LIVE_S = 60  # live pages: built at most once a minute, refreshed by the browser as often
REPORT_S = 600  # yearly report and open data: rebuilt at most every 10 minutes
OPEN_FILE = re.compile(r"^(schemas/)?[a-z_]+\.(csv|json)$|^datapackage\.json$")
HEX16 = re.compile(r"^[0-9a-fA-F]{16}$")

W = {
    "fr": {
        "fleet": "Le parc maintenant",
        "night": "La nuit dernière",
        "datacenters": "Salles serveurs",
        "lorawan": "LoRaWAN",
        "report": "Rapport annuel",
        "login": "Connexion exploitation",
        "logout": "Se déconnecter",
        "other": "English",
        "site_title": "Énergie du numérique",
        "updated": "Mis à jour le {t} · actualisé chaque minute",
        "hosts": "Machines",
        "power": "Puissance appelée",
        "today_kwh": "Énergie aujourd'hui",
        "today_co2": "Émissions aujourd'hui",
        "reporting": "Machines ayant rendu compte aujourd'hui",
        "by_state": "Par état",
        "state": "État",
        "count": "Nombre",
        "by_kind": "Par type",
        "kind": "Type",
        "by_site": "Par site",
        "site": "Site",
        "department": "Direction",
        "active": "actives",
        "idle": "inactives",
        "suspended": "en veille",
        "off": "éteintes",
        "unknown": "inconnues",
        "no_compliance": "Le suivi hors heures ouvrées est désactivé (compliance.enabled).",
        "period": "Dernière période hors des heures de travail terminée, jugée : {p}",
        "in_progress": "En cours, pas encore jugée : {p}",
        "rate": "Taux de mise en veille",
        "left_on": "Laissées allumées",
        "wasted": "Énergie perdue",
        "judged": "Machines jugées",
        "compliant": "en veille",
        "noncompliant": "allumées",
        "unknown_v": "inconnues",
        "by_department": "Par direction",
        "hostname": "Machine",
        "on_h": "Heures allumée",
        "names_hidden": "Les noms des machines ne sont montrés qu'après la connexion exploitation.",
        "no_dc": "Aucune salle serveurs : ni compteur dans le registre, ni équipement SNMP "
        "configuré.",
        "dc": "Salle",
        "it_w": "Informatique (W)",
        "facility_w": "Site (W)",
        "pue_today": "PUE du jour",
        "pue_month": "PUE du mois",
        "it_cov": "Couverture informatique (mois)",
        "category": "Catégorie",
        "devices": "Équipements SNMP répondant",
        "gateways": "Passerelles",
        "gateway": "Passerelle",
        "online_h": "En ligne aujourd'hui (h)",
        "uplinks": "Trames reçues aujourd'hui",
        "up": "État",
        "up_yes": "en ligne",
        "up_no": "hors ligne",
        "meters": "Compteurs",
        "meter": "Compteur",
        "role": "Rôle",
        "last": "Dernier relevé",
        "value": "Index",
        "no_lora": "Aucune passerelle ni compteur LoRaWAN connu.",
        "years": "Années disponibles",
        "public_ed": "édition publique",
        "internal_ed": "édition interne (nomme des machines)",
        "json": "JSON",
        "open_data": "données ouvertes",
        "no_years": "Aucune donnée encore.",
        "passphrase": "Phrase de passe d'exploitation",
        "sign_in": "Se connecter",
        "bad_login": "Phrase de passe refusée.",
        "login_help": "Pour voir les noms des machines. La phrase de passe est celle de "
        "web.ops_token_file (ou le jeton de lecture) ; sans configuration, le fichier "
        "web-ops-token du répertoire d'état.",
        "signed_in": "Connecté·e (exploitation)",
        "night_k": "nuit",
        "weekend_k": "week-end",
        "holiday_k": "jour férié",
        "closure_k": "fermeture",
    },
    "en": {
        "fleet": "The fleet now",
        "night": "Last night",
        "datacenters": "Datacenters",
        "lorawan": "LoRaWAN",
        "report": "Yearly report",
        "login": "Ops sign-in",
        "logout": "Sign out",
        "other": "Français",
        "site_title": "Digital energy",
        "updated": "Updated {t} · refreshed every minute",
        "hosts": "Machines",
        "power": "Power drawn",
        "today_kwh": "Energy today",
        "today_co2": "Emissions today",
        "reporting": "Machines that reported today",
        "by_state": "By state",
        "state": "State",
        "count": "Count",
        "by_kind": "By kind",
        "kind": "Kind",
        "by_site": "By site",
        "site": "Site",
        "department": "Department",
        "active": "active",
        "idle": "idle",
        "suspended": "asleep",
        "off": "off",
        "unknown": "unknown",
        "no_compliance": "Off-hours compliance is switched off (compliance.enabled).",
        "period": "Last completed off-hours period, judged: {p}",
        "in_progress": "In progress, not judged yet: {p}",
        "rate": "Sleep compliance",
        "left_on": "Left on",
        "wasted": "Energy wasted",
        "judged": "Machines judged",
        "compliant": "asleep",
        "noncompliant": "left on",
        "unknown_v": "unknown",
        "by_department": "By department",
        "hostname": "Machine",
        "on_h": "Hours on",
        "names_hidden": "Machine names are shown after the ops sign-in only.",
        "no_dc": "No datacenter: no meter in the ledger and no SNMP device configured.",
        "dc": "Datacenter",
        "it_w": "IT (W)",
        "facility_w": "Site (W)",
        "pue_today": "PUE today",
        "pue_month": "PUE this month",
        "it_cov": "IT coverage (month)",
        "category": "Category",
        "devices": "SNMP devices answering",
        "gateways": "Gateways",
        "gateway": "Gateway",
        "online_h": "Online today (h)",
        "uplinks": "Uplinks today",
        "up": "State",
        "up_yes": "online",
        "up_no": "offline",
        "meters": "Meters",
        "meter": "Meter",
        "role": "Role",
        "last": "Last reading",
        "value": "Index",
        "no_lora": "No LoRaWAN gateway or meter known.",
        "years": "Years available",
        "public_ed": "public edition",
        "internal_ed": "internal edition (names machines)",
        "json": "JSON",
        "open_data": "open data",
        "no_years": "No data yet.",
        "passphrase": "Ops passphrase",
        "sign_in": "Sign in",
        "bad_login": "Passphrase refused.",
        "login_help": "To see machine names. The passphrase is web.ops_token_file's (or the "
        "read token); with neither configured, the web-ops-token file in the state directory.",
        "signed_in": "Signed in (ops)",
        "night_k": "night",
        "weekend_k": "weekend",
        "holiday_k": "holiday",
        "closure_k": "closure",
    },
}
STATES = ("active", "idle", "suspended", "off", "unknown")


class Pages:
    def __init__(self, collector: Collector, login: OpsLogin) -> None:
        self.c = collector
        self.login = login
        self.public = collector.cfg.web.public
        self.default_lang = collector.cfg.yearly.language
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._locks_lock = threading.Lock()
        # open-data files served from here, rewritten at most every REPORT_S; one folder
        # whatever the number of restarts
        self._data_dir = self._state() / "open-data"
        shutil.rmtree(self._data_dir, ignore_errors=True)

    def _state(self) -> Path:
        p = Path(self.c.cfg.state_dir) / "web"
        p.mkdir(parents=True, exist_ok=True)
        return p

    # -- plumbing --------------------------------------------------------------------------

    def lang(self, request: Request) -> str:
        q = request.query_params.get("lang")
        if q in LANGS:
            return str(q)
        for part in request.headers.get("accept-language", "").split(","):
            code = part.split(";")[0].strip().lower()[:2]
            if code in LANGS:
                return code
        return self.default_lang

    def authed(self, request: Request) -> bool:
        return self.login.valid(request.cookies.get(COOKIE))

    def cached(self, key: tuple[Any, ...], ttl: float, make: Callable[[], Any]) -> Any:
        """`make()` at most once per `ttl` per key, even with many readers at once (one
        builds, the others wait for it); different keys build side by side."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        with self._locks_lock:
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            hit = self._cache.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            value = make()
            self._cache[key] = (time.monotonic() + ttl, value)
        if len(self._cache) > 256:  # bounded: drop what has expired
            now = time.monotonic()
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now}
        return value

    def nav(self, lang: str, current: str, authed: bool) -> list[tuple[str, str, bool]]:
        w = W[lang]
        items = [
            ("/", w["fleet"]),
            ("/night", w["night"]),
            ("/datacenters", w["datacenters"]),
            ("/lorawan", w["lorawan"]),
            ("/report", w["report"]),
        ]
        items.append(("/logout", w["logout"]) if authed else ("/login", w["login"]))
        return [(f"{h}?lang={lang}", t, h == current) for h, t in items]

    def page(
        self, request: Request, path: str, title_key: str, body: str, refresh: bool = True
    ) -> Response:
        lang, authed = self.lang(request), self.authed(request)
        w = W[lang]
        other = "en" if lang == "fr" else "fr"
        when = datetime.now(self.c.tz).strftime("%Y-%m-%d %H:%M")
        sub = esc(w["updated"].format(t=when))
        if authed:
            sub += f" · {esc(w['signed_in'])}"
        html = document(
            lang,
            f"{w[title_key]} · {w['site_title']}",
            body,
            nav=self.nav(lang, path, authed),
            subtitle=sub,
            other_lang=(f"{path}?lang={other}", w["other"]),
            refresh_s=LIVE_S if refresh else None,
        )
        return _html(html, LIVE_S)

    def guard(
        self, fn: Callable[[Request], Awaitable[Response]]
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            if not self.public and not self.authed(request):
                nxt = urlencode({"next": request.url.path, "lang": self.lang(request)})
                return RedirectResponse(f"/login?{nxt}", 303)
            return await fn(request)

        return handle

    def live(
        self, path: str, title_key: str, build: Callable[[str, bool], str], by_login: bool
    ) -> Callable[[Request], Awaitable[Response]]:
        """A live page: its body built at most once a minute per language (and per login
        state when it names hosts to the signed-in)."""

        async def handle(request: Request) -> Response:
            lang, authed = self.lang(request), self.authed(request) and by_login
            body = await run_in_threadpool(
                self.cached, (path, lang, authed), LIVE_S, lambda: build(lang, authed)
            )
            return self.page(request, path, title_key, body)

        return handle

    def routes(self) -> list[Route]:
        g = self.guard
        return [
            Route("/", g(self.live("/", "fleet", self._fleet, False)), methods=["GET"]),
            Route("/night", g(self.live("/night", "night", self._night, True)), methods=["GET"]),
            Route(
                "/datacenters",
                g(self.live("/datacenters", "datacenters", self._datacenters, False)),
                methods=["GET"],
            ),
            Route(
                "/lorawan",
                g(self.live("/lorawan", "lorawan", self._lorawan, True)),
                methods=["GET"],
            ),
            Route("/report", g(self.report_index), methods=["GET"]),
            Route("/report/{year:int}", g(self.report), methods=["GET"]),
            Route("/report/{year:int}.json", g(self.report_json), methods=["GET"]),
            Route("/open-data/{year:int}/{name:path}", g(self.open_data), methods=["GET"]),
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login_post, methods=["POST"]),
            Route("/logout", self.logout, methods=["GET", "POST"]),
        ]

    # -- the fleet now --------------------------------------------------------------------

    def _fleet(self, lang: str, authed: bool) -> str:
        w = W[lang]
        st = self.c.status()
        snap = self.c.fleet.snapshot()
        by_kind: dict[str, Counter[str]] = {}
        by_site: dict[str, Counter[str]] = {}
        for _, h, state in snap:
            by_kind.setdefault(h.kind, Counter())[state] += 1
            by_site.setdefault(h.site or "–", Counter())[state] += 1
        tiles = [
            (w["hosts"], num(st["hosts"], lang)),
            (w["power"], f"{num(st['power_w'] / 1000, lang, 2)} kW"),
            (w["today_kwh"], f"{num(st['today_kwh'], lang, 1)} kWh"),
            (w["today_co2"], f"{num(st['today_kgco2e'], lang, 2)} kgCO2e"),
            (w["reporting"], num(st["hosts_reporting_today"], lang)),
        ]
        out = ['<ul class="tiles">']
        out += [f"<li>{esc(a)}<strong>{esc(b)}</strong></li>" for a, b in tiles]
        out.append("</ul>")
        out.append(
            table(
                w["by_state"],
                (w["state"], w["count"]),
                [(esc(w[s]), num(st["by_state"].get(s, 0), lang)) for s in STATES],
            )
        )
        head = [w["kind"], *(w[s] for s in STATES)]
        kinds = report_html.KIND[lang]
        rows = [
            (esc(kinds.get(k, k)), *(num(c[s], lang) for s in STATES))
            for k, c in sorted(by_kind.items())
        ]
        out.append(table(w["by_kind"], head, rows))
        head[0] = w["site"]
        rows = [(esc(k), *(num(c[s], lang) for s in STATES)) for k, c in sorted(by_site.items())]
        out.append(table(w["by_site"], head, rows))
        return "".join(out)

    # -- last night -----------------------------------------------------------------------

    def _night(self, lang: str, authed: bool) -> str:
        w = W[lang]
        if self.c.compliance is None:
            return f"<p>{esc(w['no_compliance'])}</p>"
        rep = self.c.morning_report(language=lang)
        s = rep["summary"]
        periods = ", ".join(f"{d} ({w.get(k + '_k', k)})" for d, k in rep["periods"])
        out = [f"<p>{esc(w['period'].format(p=periods))}</p>"]
        running = ", ".join(
            f"{p['period_day']} ({w.get(p['period_kind'] + '_k', p['period_kind'])})"
            for p in rep["in_progress"]
        )
        if running:
            out.append(f"<p>{esc(w['in_progress'].format(p=running))}</p>")
        out.append('<ul class="tiles">')
        for a, b in (
            (w["rate"], pct(s["rate"], lang)),
            (w["left_on"], num(s["noncompliant"], lang)),
            (w["judged"], num(s["hosts"], lang)),
            (w["wasted"], f"{num(s['wasted_kwh'], lang, 1)} kWh · {num(s['eur'], lang, 2)} €"),
        ):
            out.append(f"<li>{esc(a)}<strong>{esc(b)}</strong></li>")
        out.append("</ul>")
        head = (w["department"], w["judged"], w["compliant"], w["noncompliant"], w["unknown_v"])
        for key, col in (("by_department", "department"), ("by_site", "site")):
            out.append(
                table(
                    w[key],
                    (w[col], *head[1:], w["rate"], w["wasted"]),
                    [
                        (
                            esc(r[col] or "–"),
                            num(r["hosts"], lang),
                            num(r["compliant"], lang),
                            num(r["noncompliant"], lang),
                            num(r["unknown"], lang),
                            pct(r["rate"], lang),
                            f"{num(r['wasted_kwh'], lang, 1)} kWh",
                        )
                        for r in rep[key]
                    ],
                )
            )
        if authed:
            out.append(
                table(
                    w["left_on"],
                    (w["hostname"], w["site"], w["department"], w["on_h"], w["wasted"]),
                    [
                        (
                            esc(r["hostname"]),
                            esc(r["site"]),
                            esc(r["department"]),
                            num(r["on_s"] / 3600, lang, 1),
                            f"{num(r['wasted_kwh'], lang, 2)} kWh",
                        )
                        for r in rep["left_on"]
                    ],
                )
            )
        else:
            out.append(f'<p class="note">{esc(w["names_hidden"])}</p>')
        return "".join(out)

    # -- datacenters ----------------------------------------------------------------------

    def _datacenters(self, lang: str, authed: bool) -> str:
        w = W[lang]
        live = self.c.snmp.status() if self.c.cfg.snmp.devices else {}
        names = sorted(
            {
                n
                for (n,) in self.c.ledger.execute(
                    "SELECT DISTINCT datacenter FROM meters WHERE datacenter IS NOT NULL "
                    "AND datacenter <> ''"
                )
            }
            | set(live)
        )
        if not names:
            return f"<p>{esc(w['no_dc'])}</p>"
        now = datetime.now(self.c.tz)
        day0 = now.replace(hour=0, minute=0, second=0, microsecond=0)
        month0 = day0.replace(day=1)
        rows = []
        for dc in names:
            today = pue(self.c.ledger, dc, day0.timestamp(), now.timestamp())
            month = pue(self.c.ledger, dc, month0.timestamp(), now.timestamp())
            lv = live.get(dc, {})
            rows.append(
                (
                    esc(dc),
                    num(lv.get("it_w"), lang),
                    num(lv.get("facility_w"), lang),
                    num(today.value, lang, 2),
                    num(month.value, lang, 2),
                    pct(month.it.coverage if month.it.meters else None, lang),
                    esc(month.category or "–"),
                    esc(f"{lv['up']}/{lv['devices']}" if lv else "–"),
                )
            )
        return table(
            w["datacenters"],
            (
                w["dc"],
                w["it_w"],
                w["facility_w"],
                w["pue_today"],
                w["pue_month"],
                w["it_cov"],
                w["category"],
                w["devices"],
            ),
            rows,
        )

    # -- LoRaWAN --------------------------------------------------------------------------

    def _lorawan(self, lang: str, authed: bool) -> str:
        w = W[lang]
        today = datetime.now(self.c.tz).date().isoformat()
        gws = {
            g: (online_s, uplinks)
            for g, online_s, uplinks in self.c.ledger.execute(
                "SELECT gateway, online_s, uplinks FROM lora_gateway_days WHERE day = ?", (today,)
            )
        }
        lora = self.c.lora
        if lora is not None:
            for gid in lora.gw_last_stats:
                gws.setdefault(gid, (0.0, 0))
        meters = [
            m
            for m in self.c.ledger.execute(
                "SELECT m.meter, m.dev_eui, m.site, m.role, m.host, s.value, s.time FROM meters m "
                "LEFT JOIN meter_state s ON s.meter = m.meter ORDER BY m.meter"
            )
            if HEX16.match(m[1] or "")
        ]
        if not gws and not meters:
            return f"<p>{esc(w['no_lora'])}</p>"
        out = []
        if gws:
            rows: list[tuple[str, ...]] = []
            for g, (online_s, uplinks) in sorted(gws.items()):
                up = None
                if lora is not None and g in lora.gw_last_stats:
                    fresh = time.time() - lora.gw_last_stats[g] <= lora.cfg.gateway_stale_s
                    up = fresh and lora.gw_online.get(g, True)
                rows.append(
                    (
                        esc(g),
                        esc("–" if up is None else w["up_yes"] if up else w["up_no"]),
                        num(online_s / 3600, lang, 1),
                        num(uplinks, lang),
                    )
                )
            out.append(
                table(w["gateways"], (w["gateway"], w["up"], w["online_h"], w["uplinks"]), rows)
            )
        if meters:
            rows = []  # same list type: tuples of cells
            for name, _, site, role, host, value, when in meters:
                label = esc(name)
                if role == "host_plug" and host and authed:
                    label += f" ({esc(host)})"
                stamp = (
                    datetime.fromtimestamp(when, self.c.tz).strftime("%Y-%m-%d %H:%M")
                    if when
                    else "–"
                )
                rows.append((label, esc(site or "–"), esc(role), num(value, lang, 1), esc(stamp)))
            out.append(
                table(w["meters"], (w["meter"], w["site"], w["role"], w["value"], w["last"]), rows)
            )
        return "".join(out)

    # -- the yearly report ----------------------------------------------------------------

    def years(self) -> list[int]:
        found = set()
        for (d,) in self.c.ledger.execute(
            "SELECT MIN(day) FROM host_days UNION SELECT MAX(day) FROM host_days"
        ):
            if d:
                found.add(int(d[:4]))
        if found:
            found = set(range(min(found), max(found) + 1))
        return sorted(found, reverse=True)

    def figures(self, year: int, edition: str) -> dict[str, Any]:
        from collector.yearly.build import settings

        def make() -> dict[str, Any]:
            return yearly_figures(self.c.ledger, year, settings(self.c.cfg), edition)

        return dict(self.cached(("figures", year, edition), REPORT_S, make))

    async def report_index(self, request: Request) -> Response:
        lang, authed = self.lang(request), self.authed(request)
        w = W[lang]
        years = await run_in_threadpool(self.years)
        if not years:
            return self.page(request, "/report", "report", f"<p>{esc(w['no_years'])}</p>", False)
        items = []
        for y in years:
            links = [
                f'<a href="/report/{y}?lang={lang}">{esc(w["public_ed"])}</a>',
                f'<a href="/report/{y}.json">{esc(w["json"])}</a>',
                f'<a href="/open-data/{y}/datapackage.json">{esc(w["open_data"])}</a>',
            ]
            if authed:
                internal = f"/report/{y}?lang={lang}&amp;edition=internal"
                links.append(f'<a href="{internal}">{esc(w["internal_ed"])}</a>')
            items.append(f"<li><strong>{y}</strong> · {' · '.join(links)}</li>")
        body = f"<h2>{esc(w['years'])}</h2><ul>{''.join(items)}</ul>"
        return self.page(request, "/report", "report", body, refresh=False)

    def _edition(self, request: Request) -> str | Response:
        edition = request.query_params.get("edition", "public")
        if edition not in ("public", "internal"):
            return JSONResponse({"error": "edition: public or internal"}, 400)
        if edition == "internal" and not self.authed(request):
            return RedirectResponse(f"/login?{urlencode({'next': str(request.url.path)})}", 303)
        return edition

    async def report(self, request: Request) -> Response:
        year = int(request.path_params["year"])
        if not 2000 <= year <= 2100:
            return JSONResponse({"error": "year: 2000 to 2100"}, 404)
        edition = self._edition(request)
        if isinstance(edition, Response):
            return edition
        lang = self.lang(request)
        doc = await run_in_threadpool(self.figures, year, edition)
        href = f"/open-data/{year}/datapackage.json" if edition == "public" else None
        other = "en" if lang == "fr" else "fr"
        q = "&edition=internal" if edition == "internal" else ""
        html = report_html.render(
            doc,
            lang,
            href,
            nav=self.nav(lang, "/report", self.authed(request)),
            other_lang=(f"/report/{year}?lang={other}{q}", W[lang]["other"]),
        )
        return _html(html, REPORT_S, private=edition == "internal")

    async def report_json(self, request: Request) -> Response:
        year = int(request.path_params["year"])
        if not 2000 <= year <= 2100:
            return JSONResponse({"error": "year: 2000 to 2100"}, 404)
        edition = self._edition(request)
        if isinstance(edition, Response):
            return edition
        doc = await run_in_threadpool(self.figures, year, edition)
        return JSONResponse(doc, headers=_cache_headers(REPORT_S, edition == "internal"))

    async def open_data(self, request: Request) -> Response:
        year = int(request.path_params["year"])
        name = str(request.path_params["name"])
        if not 2000 <= year <= 2100 or not OPEN_FILE.match(name):
            return JSONResponse({"error": "not found"}, 404)

        def make() -> Path:
            # a new folder each time, then the old ones go: a reader never sees a half-written
            # file (one already open keeps its data)
            folder = self._data_dir / f"{year}-{time.time_ns()}"
            opendata.write_package(self.figures(year, "public"), folder)
            for old in self._data_dir.glob(f"{year}-*"):
                if old != folder:
                    shutil.rmtree(old, ignore_errors=True)
            return folder

        folder = await run_in_threadpool(self.cached, ("open-data", year), REPORT_S, make)
        path = folder / name
        if not path.is_file():
            return JSONResponse({"error": "not found"}, 404)
        media = "text/csv; charset=utf-8" if name.endswith(".csv") else "application/json"
        return FileResponse(path, media_type=media, headers=_cache_headers(REPORT_S, False))

    # -- ops login ------------------------------------------------------------------------

    def _login_page(self, request: Request, error: bool, nxt: str) -> Response:
        lang = self.lang(request)
        w = W[lang]
        body = [f"<p>{esc(w['login_help'])}</p>"]
        if error:
            body.append(f'<p class="bad" role="alert">{esc(w["bad_login"])}</p>')
        body.append(
            f'<form method="post" action="/login?lang={lang}"><p><label for="token">'
            f"{esc(w['passphrase'])}</label><br>"
            '<input id="token" name="token" type="password" autocomplete="current-password" '
            f'required size="32"><input type="hidden" name="next" value="{esc(nxt)}"></p>'
            f'<p><button type="submit">{esc(w["sign_in"])}</button></p></form>'
        )
        resp = self.page(request, "/login", "login", "".join(body), refresh=False)
        resp.headers["cache-control"] = "no-store"
        if error:
            resp.status_code = 401
        return resp

    async def login_form(self, request: Request) -> Response:
        nxt = request.query_params.get("next") or f"/?lang={self.lang(request)}"
        return self._login_page(request, False, _safe_next(nxt))

    async def login_post(self, request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > 4096:
                return JSONResponse({"error": "form too large"}, 413)
        form = parse_qs(body.decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        nxt = _safe_next((form.get("next") or [""])[0] or f"/?lang={self.lang(request)}")
        if not self.login.check(token):
            await asyncio.sleep(0.5)  # slows guessing down; the passphrase is long anyway
            return self._login_page(request, True, nxt)
        resp = RedirectResponse(nxt, 303)
        resp.headers["set-cookie"] = self.login.header(
            self.login.cookie(), int(self.login.session_s)
        )
        return resp

    async def logout(self, request: Request) -> Response:
        resp = RedirectResponse(f"/?lang={self.lang(request)}", 303)
        resp.headers["set-cookie"] = self.login.header("", 0)
        return resp


def _safe_next(nxt: str | None) -> str:
    """Only a path of this site (never //host or a scheme): no open redirect."""
    if not nxt or not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt:
        return "/"
    return nxt


def _cache_headers(max_age: int, private: bool) -> dict[str, str]:
    """Pages differ by login and language: a browser must not answer a signed-in request
    with the page it kept from before the login (Vary), and live pages are asked for again
    each time (the server builds them at most once a minute anyway)."""
    if max_age <= LIVE_S:
        control = "no-cache"
    else:
        control = f"{'private' if private else 'public'}, max-age={max_age}"
    return {"cache-control": control, "vary": "Cookie, Accept-Language"}


def _html(text: str, max_age: int, private: bool = True) -> Response:
    headers = _cache_headers(max_age, private)
    headers["x-content-type-options"] = "nosniff"
    headers["content-security-policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    headers["referrer-policy"] = "same-origin"
    return Response(text, 200, media_type="text/html; charset=utf-8", headers=headers)
