"""The web view: the embedded collector's face for people without Grafana.

Server-rendered pages from templates (collector/render/templates/web/), French or English
(`?lang=`, else the browser's Accept-Language, else `yearly.language`), no script: the fleet
now, last night, the datacenters, LoRaWAN, the yearly report with its PDF and open data, the
accessibility statement. Live pages are built at most once a minute (cached per page, language
and login) and offer a reload link (no automatic refresh a reader cannot stop: RGAA 13.1).
Host names appear only after the ops login (collector/web/session.py); with `web.public:
false` every page asks for it. Errors a browser meets are pages in the reader's language.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from collector.render import statement
from collector.render.env import gettext, render
from collector.render.fmt import LANGS
from collector.render.words import N_
from collector.web import live
from collector.web.session import COOKIE, OpsLogin
from collector.web.signin import SignInPages
from collector.yearly import html as report_html
from collector.yearly import opendata
from collector.yearly.build import ReportError, print_pdf
from collector.yearly.figures import year_missing, yearly_figures

if TYPE_CHECKING:
    from collector.app import Collector

LIVE_S = 60  # live pages: built at most once a minute
REPORT_S = 600  # yearly report and open data: rebuilt at most every 10 minutes
OPEN_FILE = re.compile(r"^(schemas/)?[a-z_]+\.(csv|json)$|^datapackage\.json$")

TITLES = {
    "/": N_("The fleet now"),
    "/night": N_("Last night"),
    "/datacenters": N_("Datacenters"),
    "/lorawan": N_("LoRaWAN"),
    "/report": N_("Yearly report"),
    "/login": N_("Ops sign-in"),
    "/logout": N_("Sign out"),
    "/accessibilite": N_("Accessibility statement"),
}
SITE_TITLE = N_("Digital energy")


class Pages:
    def __init__(self, collector: Collector, login: OpsLogin) -> None:
        self.c = collector
        self.login = login
        self.public = collector.cfg.web.public
        self.default_lang = collector.cfg.yearly.language
        self._cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
        self._locks: dict[tuple[Any, ...], threading.Lock] = {}
        self._locks_lock = threading.Lock()
        # open data and PDFs served from here, rewritten at most every REPORT_S; one folder
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
        paths = ["/", "/night", "/datacenters", "/lorawan", "/report"]
        paths.append("/logout" if authed else "/login")
        return [(f"{p}?lang={lang}", gettext(lang, TITLES[p]), p == current) for p in paths]

    def context(self, request: Request, path: str, query: str = "") -> dict[str, Any]:
        """What every page's frame needs: navigation, the other language's link, footer."""
        lang, authed = self.lang(request), self.authed(request)
        other = "en" if lang == "fr" else "fr"
        return {
            "nav": self.nav(lang, path, authed),
            "other_href": f"{path}?lang={other}{query}",
            "self_href": f"{path}?lang={lang}{query}",
            "site_title": gettext(lang, SITE_TITLE),
            "organisation": self.c.cfg.yearly.organisation,
            "statement_status": self.c.cfg.web.accessibility_status,
            "statement_href": f"/accessibilite?lang={lang}",
            "base_url": "",
            "signed_in": authed,
        }

    def page(
        self,
        request: Request,
        path: str,
        template: str,
        data: dict[str, Any],
        live_page: bool = False,
        status: int = 200,
        max_age: int = LIVE_S,
    ) -> Response:
        lang = self.lang(request)
        ctx = self.context(request, path)
        ctx.update(
            title=gettext(lang, TITLES.get(path, "")) if "title" not in data else data["title"],
            live=live_page,
            updated=datetime.now(self.c.tz).strftime("%H:%M"),
        )
        ctx.update(data)
        return _html(render(template, lang, **ctx), max_age, status=status)

    def error(self, request: Request, status: int, message: str) -> Response:
        """An error a reader understands, in their language, with a way back."""
        lang = self.lang(request)
        titles = {
            400: N_("Bad request"),
            404: N_("Page not found"),
            405: N_("Not allowed"),
            503: N_("Not available for now"),
        }
        N_("This page does not exist.")  # the messages collector/web/routes.py gives
        N_("This address cannot be used that way.")
        title = gettext(lang, titles.get(status, N_("Error")))
        return self.page(
            request,
            request.url.path,
            "web/error.html",
            {"title": title, "message": gettext(lang, message)},
            status=status,
        )

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
        self, path: str, template: str, build: Callable[..., dict[str, Any]], by_login: bool
    ) -> Callable[[Request], Awaitable[Response]]:
        """A live page: its data read at most once a minute per language (and per login
        state when it names hosts to the signed-in)."""

        async def handle(request: Request) -> Response:
            lang, authed = self.lang(request), self.authed(request) and by_login

            def make() -> dict[str, Any]:
                if build is live.night:
                    return build(self.c, authed, lang)
                return build(self.c, authed)

            # keyed by the collector's minute too: a page never shows another minute's figures
            minute = int(self.c.clock() // LIVE_S)
            key = (path, lang, authed, minute)
            data = await run_in_threadpool(self.cached, key, LIVE_S, make)
            return self.page(request, path, template, data, live_page=True)

        return handle

    def routes(self) -> list[Route]:
        g = self.guard
        return [
            Route("/", g(self.live("/", "web/fleet.html", live.fleet, False)), methods=["GET"]),
            Route(
                "/night",
                g(self.live("/night", "web/night.html", live.night, True)),
                methods=["GET"],
            ),
            Route(
                "/datacenters",
                g(self.live("/datacenters", "web/datacenters.html", live.datacenters, False)),
                methods=["GET"],
            ),
            Route(
                "/lorawan",
                g(self.live("/lorawan", "web/lorawan.html", live.lorawan, True)),
                methods=["GET"],
            ),
            Route("/report", g(self.report_index), methods=["GET"]),
            Route("/report/{year:int}", g(self.report), methods=["GET"]),
            Route("/report/{year:int}.json", g(self.report_json), methods=["GET"]),
            Route("/report/{year:int}.pdf", g(self.report_pdf), methods=["GET"]),
            Route("/open-data/{year:int}/{name:path}", g(self.open_data), methods=["GET"]),
            Route("/accessibilite", self.statement, methods=["GET"]),
            *SignInPages(self).routes(),
        ]

    # -- the accessibility statement -------------------------------------------------------

    async def statement(self, request: Request) -> Response:
        lang = self.lang(request)
        data = statement.context(self.c.cfg, lang)
        return self.page(request, "/accessibilite", "web/accessibility.html", data)

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
            s = settings(self.c.cfg, self.c.clock())
            return yearly_figures(self.c.ledger, year, s, edition)

        key = ("figures", year, edition, int(self.c.clock() // REPORT_S))
        return dict(self.cached(key, REPORT_S, make))

    async def report_index(self, request: Request) -> Response:
        years = await run_in_threadpool(self.years)
        data = {"years": years, "authed": self.authed(request)}
        return self.page(request, "/report", "web/report_index.html", data)

    def _edition(self, request: Request) -> str | Response:
        edition = request.query_params.get("edition", "public")
        if edition not in ("public", "internal"):
            return self.error(request, 400, N_("The edition is either public or internal."))
        if edition == "internal" and not self.authed(request):
            return RedirectResponse(f"/login?{urlencode({'next': str(request.url.path)})}", 303)
        return edition

    def _year(self, request: Request, as_json: bool = False) -> int | Response:
        """The year asked for, or a 404 (the page in the reader's language, JSON for the
        API) when it has not begun or the ledger holds nothing of it (figures.year_missing)."""
        year = int(request.path_params["year"])
        why = (
            ("future" if year > 2100 else "no data")
            if not 2000 <= year <= 2100
            else year_missing(self.c.ledger, year, self.c.cfg.ledger.timezone, self.c.clock())
        )
        if why is None:
            return year
        if as_json:
            return JSONResponse({"error": f"{year}: {why}", "year": year, "reason": why}, 404)
        if why == "future":
            return self.error(request, 404, N_("This year has not begun: there is no report."))
        return self.error(request, 404, N_("The ledger holds no data of this year: no report."))

    async def report(self, request: Request) -> Response:
        year = self._year(request)
        edition = self._edition(request)
        if isinstance(year, Response) or isinstance(edition, Response):
            return year if isinstance(year, Response) else edition  # type: ignore[return-value]
        lang = self.lang(request)
        doc = await run_in_threadpool(self.figures, year, edition)
        href = f"/open-data/{year}/datapackage.json" if edition == "public" else None
        q = "&edition=internal" if edition == "internal" else ""
        ctx = self.context(request, f"/report/{year}", q)
        ctx["nav"] = self.nav(lang, "/report", self.authed(request))
        ctx["pdf_href"] = f"/report/{year}.pdf?lang={lang}" if edition == "public" else None
        html = report_html.render(doc, lang, href, frame=ctx)
        return _html(html, REPORT_S, private=edition == "internal")

    async def report_json(self, request: Request) -> Response:
        year = self._year(request, as_json=True)
        edition = self._edition(request)
        if isinstance(year, Response) or isinstance(edition, Response):
            return year if isinstance(year, Response) else edition  # type: ignore[return-value]
        doc = await run_in_threadpool(self.figures, year, edition)
        return JSONResponse(doc, headers=_cache_headers(REPORT_S, edition == "internal"))

    async def report_pdf(self, request: Request) -> Response:
        """The public edition printed by headless Chromium, its links made absolute."""
        year = self._year(request)
        if isinstance(year, Response):
            return year
        lang = self.lang(request)
        base = self.c.cfg.web.public_url.rstrip("/") or str(request.base_url).rstrip("/")

        def make() -> Path:
            doc = self.figures(year, "public")
            folder = self._data_dir / f"pdf-{year}-{lang}-{time.time_ns()}"
            folder.mkdir(parents=True)
            page = folder / "report.html"
            href = f"{base}/open-data/{year}/datapackage.json"
            page.write_text(report_html.render(doc, lang, href, base_url=base), encoding="utf-8")
            print_pdf(page, folder / "report.pdf")
            return folder / "report.pdf"

        try:
            pdf = await run_in_threadpool(self.cached, ("pdf", year, lang), REPORT_S, make)
        except ReportError as exc:
            return self.error(request, 503, str(exc))
        name = f"rapport-reen-{year}.pdf" if lang == "fr" else f"reen-report-{year}.pdf"
        headers = _cache_headers(REPORT_S, False)
        headers["content-disposition"] = f'inline; filename="{name}"'
        return FileResponse(pdf, media_type="application/pdf", headers=headers)

    async def open_data(self, request: Request) -> Response:
        year = int(request.path_params["year"])
        name = str(request.path_params["name"])
        if not OPEN_FILE.match(name):
            return JSONResponse({"error": "not found"}, 404)
        known = self._year(request, as_json=True)
        if isinstance(known, Response):
            return known

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


def _cache_headers(max_age: int, private: bool) -> dict[str, str]:
    """Pages differ by login and language: a browser must not answer a signed-in request
    with the page it kept from before the login (Vary), and live pages are asked for again
    each time (the server builds them at most once a minute anyway)."""
    if max_age <= LIVE_S:
        control = "no-cache"
    else:
        control = f"{'private' if private else 'public'}, max-age={max_age}"
    return {"cache-control": control, "vary": "Cookie, Accept-Language"}


def _html(text: str, max_age: int, private: bool = True, status: int = 200) -> Response:
    headers = _cache_headers(max_age, private)
    headers["x-content-type-options"] = "nosniff"
    headers["content-security-policy"] = (
        "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
        "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
    headers["referrer-policy"] = "same-origin"
    return Response(text, status, media_type="text/html; charset=utf-8", headers=headers)
