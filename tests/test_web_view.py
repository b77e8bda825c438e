"""The web view in headless Chromium (Debian's chromium + chromedriver over WebDriver)
against a collector holding a simulated year and the last days of the same fleet: every
page in both languages, its figures against the ledger, no host name before the ops login,
no script and no request beyond the page itself, screenshots saved in build/screenshots."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from browser import Browser
from collector_helpers import make_config, running, url, wait_for
from test_lorawan import LORA, ONLINE, STATS, UP, iso, pulse
from year_helpers import AGENTS, PARIS, YEAR

from collector.datacenter.facility import pue
from collector.datacenter.readings import import_readings
from collector.render.fmt import energy, num, pct, unit
from collector.simulate import SimConfig, Simulation, send_http
from collector.yearly.build import settings
from collector.yearly.figures import yearly_figures

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "build" / "screenshots"
LIVE_BUDGET = 60 * 1024
REPORT_BUDGET = 150 * 1024
PAGES = ["/", "/night", "/datacenters", "/lorawan", "/report", f"/report/{YEAR}"]
GATEWAY = "7276ff002e062cc4"
METER_EUI = "0018b21000006c3a"

COVERAGE_MIN = 0.9  # compliance.coverage_min's default: each side's share a PUE needs


@pytest.fixture(scope="module")
def site(simulated_year, broker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("web")
    ledger_url = simulated_year.copy_ledger(tmp)
    lora = {
        **LORA,
        "mqtt": {"host": "127.0.0.1", "port": broker.port, "client_id": "web", "group": "web"},
    }
    cfg = make_config(tmp, ledger_url, compliance={"enabled": True}, lorawan=lora)
    with running(cfg) as c:
        # the same fleet (same seed, same ids) over its last two days, up to now
        recent = Simulation(
            SimConfig(agents=AGENTS, days=2, seed=7, report_interval_s=6 * 3600, seq_start=10**6)
        )
        n = send_http((b for _, _, _, b in recent.reports()), url(c), workers=8)
        assert n > 0
        wait_for(lambda: c.pipeline.q.qsize() == 0, 30, "recent reports committed")
        c.rollup_touched()
        # dc1's sub-meter round for the whole hours of this month so far (40 kW of IT, 60 kW
        # for the site), so the datacenter page has this month's figures whatever today's
        # date (never a bill for time that has not happened: import-readings refuses it). In
        # a month's first hour there is no whole hour yet: the round is the day before, and
        # this month's PUE has nothing to divide by.
        end = int(time.time()) // 3600 * 3600
        month0 = datetime.fromtimestamp(end, PARIS).replace(day=1, hour=0).timestamp()
        start = month0 if end > month0 else end - 86400
        hours = (end - start) / 3600
        first, last = (datetime.fromtimestamp(t, PARIS).isoformat() for t in (start, end))
        bill = tmp / "bill.csv"
        bill.write_text(
            "meter,datacenter,role,start,end,kwh\n"
            f"dc1-it,dc1,it,{first},{last},{40 * hours:.6f}\n"
            f"dc1-site,dc1,facility,{first},{last},{60 * hours:.6f}\n"
        )
        import_readings(c.ledger, bill)
        # a gateway and a meter through the broker, like a network server
        wait_for(lambda: c.lora_mqtt.connected, 10, "lora subscribed")
        pub = mqtt.Client(
            callback_api_version=mqtt.CallbackAPIVersion.VERSION2,
            client_id="ns-web",
            protocol=mqtt.MQTTv5,
        )
        pub.connect("127.0.0.1", broker.port)
        pub.loop_start()
        now = time.time()
        pub.publish(f"eu868/gateway/{GATEWAY}/state/conn", ONLINE, qos=1).wait_for_publish(5)
        stats = json.loads(STATS)
        stats["time"] = iso(now - 30)
        pub.publish(
            f"eu868/gateway/{GATEWAY}/event/stats", json.dumps(stats).encode(), qos=1
        ).wait_for_publish(5)
        for i, v in enumerate((1000, 1100)):
            pub.publish(
                UP.format(METER_EUI), pulse(METER_EUI, now - 1200 + 600 * i, v), qos=1
            ).wait_for_publish(5)
        wait_for(lambda: c.lora.processed >= 4, 20, "lorawan messages processed")
        pub.loop_stop()
        pub.disconnect()
        browser = Browser(tmp / "browser")
        try:
            yield c, browser, recent
        finally:
            browser.close()


def _base(c) -> str:
    return f"http://127.0.0.1:{c.http.port}"


def _hostnames(c) -> list[str]:
    return [h for (h,) in c.ledger.execute("SELECT hostname FROM hosts")]


def _login(c, b, passphrase: str) -> bool:
    """Signs in through the form; True once the browser has left the login page."""
    b.get(_base(c) + "/login?lang=fr")
    b.type("#token", passphrase)
    b.click("button[type=submit]")
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if "/login" not in b.url:
            return True
        if b.texts("[role=alert]"):
            return False
        time.sleep(0.05)
    return False


def _logout(c, b) -> None:
    b.get(_base(c) + "/logout")


def test_every_page_in_both_languages_is_light_scriptless_and_names_no_host(site):
    c, b, _ = site
    SHOTS.mkdir(parents=True, exist_ok=True)
    names = _hostnames(c)
    assert len(names) == AGENTS
    for lang in ("fr", "en"):
        for path in PAGES:
            b.get(f"{_base(c)}{path}?lang={lang}")
            assert b.script("return document.documentElement.lang") == lang, path
            assert b.script("return document.scripts.length") == 0, path
            # RGESN: one response, nothing fetched beyond it (no font, CDN, image, favicon)
            assert b.script("return performance.getEntriesByType('resource').length") == 0
            size = b.script("return new Blob([document.documentElement.outerHTML]).size")
            assert size <= (REPORT_BUDGET if path.startswith("/report/") else LIVE_BUDGET), path
            text = b.script("return document.body.innerText")
            assert b.texts("h1") and b.texts("h1")[0].strip(), path
            for name in names:
                assert name not in text, (path, name)
            # every chart has its numbers in a table, and a title for screen readers
            charts = b.script("return document.querySelectorAll('svg[role=img] title').length")
            assert charts == b.script("return document.querySelectorAll('svg').length")
            shot = SHOTS / f"{(path.strip('/') or 'fleet').replace('/', '-')}-{lang}.png"
            b.screenshot(shot)
            assert shot.stat().st_size > 10_000


def test_fleet_page_figures_are_the_ledgers(site):
    c, b, _ = site
    b.get(_base(c) + "/?lang=fr")
    tiles = dict(t.split("\n", 1) for t in b.texts(".tiles li"))
    st = c.status()
    assert tiles["Machines"] == num(AGENTS, "fr")
    text = b.script("return document.body.innerText")
    assert "PC fixes" in text and "PC portables" in text  # kinds said in the page's language
    agents_today = tiles["Énergie aujourd'hui, machines avec agent"]
    assert agents_today == unit(st["today_kwh"], "kWh", "fr", 1)
    # the datacenters beside it, said apart and not added (servers and VMs run inside them)
    dc_today = tiles["Énergie aujourd'hui, salles serveurs (non ajoutée)"]
    assert dc_today == unit(st["today_datacenters_kwh"], "kWh", "fr", 1)
    assert tiles["Machines ayant rendu compte aujourd'hui"] == num(
        st["hosts_reporting_today"], "fr"
    )
    (kwh_today,) = c.ledger.execute(
        "SELECT SUM(wh_measured + wh_modelled + wh_attributed) / 1000 FROM host_days WHERE day = ?",
        (datetime.now(PARIS).date().isoformat(),),
    )[0]
    assert st["today_kwh"] == pytest.approx(kwh_today, abs=1e-3) and kwh_today > 0


def test_report_page_says_the_reports_figures(site):
    c, b, _ = site
    doc = yearly_figures(c.ledger, YEAR, settings(c.cfg), "public")
    b.get(f"{_base(c)}/report/{YEAR}?lang=fr")
    tiles = dict(t.split("\n", 1) for t in b.texts(".tiles li"))
    assert tiles["Énergie totale"] == energy(doc["indicators"]["total_kwh"], "fr")
    assert tiles["Veille hors heures ouvrées"] == pct(doc["indicators"]["compliance_rate"], "fr")
    totals = [t for t in b.texts("tfoot tr") if t.startswith("Total")]
    assert num(doc["indicators"]["total_kwh"], "fr") in totals[0]
    # the open data it links to is served, and is the same year
    href = b.script("return document.querySelector('a[href*=datapackage]').getAttribute('href')")
    with urllib.request.urlopen(_base(c) + href) as resp:
        package = json.load(resp)
    assert package["name"] == f"reen-indicateurs-{YEAR}"
    with urllib.request.urlopen(
        _base(c) + href.replace("datapackage.json", "energy_monthly.csv")
    ) as resp:
        assert resp.headers["content-type"].startswith("text/csv")
        assert resp.read().startswith(b"month,kind,kwh\n")


def test_datacenter_page_gives_this_months_pue(site):
    c, b, _ = site
    b.get(_base(c) + "/datacenters?lang=en")
    rows = {r.split("\t")[0]: r.split("\t") for r in b.texts("tbody tr")}
    assert set(rows) == {"dc1", "dc2", "dc3"}
    now = datetime.now(PARIS)
    month0 = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    p = pue(c.ledger, "dc1", month0.timestamp(), now.timestamp(), coverage_min=COVERAGE_MIN)
    # the round's 60/40, plus what the LoRaWAN pulse meter (dc1's facility) added this month
    if now - month0 < timedelta(hours=1):  # no whole hour of this month yet: no round in it
        why = " (no IT reading)" if p.facility.coverage else ""  # bare when neither read
        assert p.value is None and rows["dc1"][4] == f"–{why}"
    elif p.value is not None:
        assert p.it.wh > 0 and p.it.meters == 1
        assert 1.5 <= p.value <= 1.5 + 1000 / p.it.wh + 1e-9  # the pulses: 1 kWh at most
        # with its basis: the site side is a bill spread over its hours and the pulse meter
        assert rows["dc1"][4] == f"{num(p.value, 'en', 2)} (metered and billed)"
    else:
        # the pulse meter (a second site meter) read for the last 20 minutes of the month:
        # the site side covers about half of it, no PUE but the reason (the IT round covers
        # all the whole hours; in the month's first hours, less)
        side, share = (
            ("IT", p.it.coverage) if p.missing == "it_coverage" else ("site", p.facility.coverage)
        )
        assert p.missing == f"{side.lower()}_coverage" and share < COVERAGE_MIN
        why = f"{side} readings cover {pct(share, 'en')} of the period, 90% needed"
        assert rows["dc1"][4] == f"– ({why})"
    assert rows["dc2"][4] == "–"  # no bill this month: no invented figure


def test_lorawan_page_shows_the_gateway_and_the_meter(site):
    c, b, _ = site
    b.get(_base(c) + "/lorawan?lang=en")
    text = b.script("return document.body.innerText")
    assert GATEWAY in text and "online" in text
    assert "dc1-main" in text  # the pulse meter's name in LORA


def test_host_names_only_after_the_ops_login(site):
    c, b, recent = site
    left_on = [h.hostname for h in recent.hosts if h.left_on]
    assert left_on
    b.get(_base(c) + "/night?lang=fr")
    text = b.script("return document.body.innerText")
    assert not any(n in text for n in left_on)
    assert "qu'après la connexion exploitation" in text
    # a wrong passphrase: refused, said, no session
    assert not _login(c, b, "not-the-passphrase")
    assert "Phrase de passe refusée." in b.script("return document.body.innerText")
    b.get(_base(c) + "/night?lang=fr")
    assert not any(n in b.script("return document.body.innerText") for n in left_on)
    # the right one, from the file the collector generated (mode 0600)
    token_file = Path(c.cfg.state_dir) / "web-ops-token"
    assert token_file.stat().st_mode & 0o777 == 0o600
    assert _login(c, b, token_file.read_text().strip())
    assert b.url.endswith("/?lang=fr")  # back where it was, in its language
    b.get(_base(c) + "/night?lang=fr")
    text = b.script("return document.body.innerText")
    night = c.morning_report(language="fr")
    named = [r["hostname"] for r in night["left_on"]]
    assert named and all(n in text for n in named), text
    b.screenshot(SHOTS / "night-ops-fr.png")
    # the internal edition of the report is reachable now, and names recurring offenders
    b.get(f"{_base(c)}/report/{YEAR}?lang=en&edition=internal")
    assert "internal edition (names machines" in b.script("return document.body.innerText")
    _logout(c, b)
    b.get(f"{_base(c)}/report/{YEAR}?edition=internal")
    assert "/login" in b.url


def _get(target: str, cookie: str | None = None) -> tuple[int, str, str]:
    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):  # type: ignore[no-untyped-def]
            return None

    req = urllib.request.Request(target, headers={"Cookie": cookie} if cookie else {})
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req) as resp:
            return resp.status, resp.read().decode(), resp.headers.get("location", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode(), exc.headers.get("location", "")


def test_forged_cookies_and_open_redirects_are_refused(site):
    c, _, _ = site
    good = c.pages.login.cookie()
    expiry, sig = good.split(".")
    for forged in (
        f"{int(expiry) + 999999}.{sig}",  # extended expiry
        f"{expiry}.{'0' * len(sig)}",
        "garbage",
        f"{int(time.time()) - 10}.{c.pages.login._sign(str(int(time.time()) - 10))}",  # expired
    ):
        code, _, loc = _get(f"{_base(c)}/report/{YEAR}?edition=internal", f"energy_ops={forged}")
        assert code == 303 and loc.startswith("/login"), forged
    code, _, _ = _get(f"{_base(c)}/report/{YEAR}?edition=internal", f"energy_ops={good}")
    assert code == 200
    token = (Path(c.cfg.state_dir) / "web-ops-token").read_text().strip()
    for nxt, want in (
        ("//evil.example/x", "/"),
        ("https://evil.example", "/"),
        ("/night", "/night"),
    ):
        body = urllib.parse.urlencode({"token": token, "next": nxt}).encode()
        req = urllib.request.Request(_base(c) + "/login", data=body, method="POST")

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *a, **k):  # type: ignore[no-untyped-def]
                return None

        try:
            urllib.request.build_opener(NoRedirect).open(req)
        except urllib.error.HTTPError as exc:
            assert exc.code == 303 and exc.headers["location"] == want, nxt
            assert "HttpOnly" in exc.headers["set-cookie"]
            assert "SameSite=Strict" in exc.headers["set-cookie"]


def test_a_private_web_view_asks_for_the_login_everywhere(tmp_path):
    secret = tmp_path / "ops"
    secret.write_text("correct horse battery staple\n")
    cfg = make_config(tmp_path, web={"public": False, "ops_token_file": str(secret)})
    with running(cfg) as c:
        for path in PAGES:
            code, _, loc = _get(_base(c) + path)
            assert code == 303 and loc.startswith("/login?next="), path
        code, body, _ = _get(_base(c) + "/login")
        assert code == 200 and 'type="password"' in body
        assert not (Path(cfg.state_dir) / "web-ops-token").exists()  # configured, not made
        cookie = c.pages.login.cookie()
        code, body, _ = _get(_base(c) + "/", f"energy_ops={cookie}")
        assert code == 200 and "Le parc maintenant" in body


def test_the_web_view_can_be_switched_off(tmp_path):
    with running(make_config(tmp_path, web={"enabled": False})) as c:
        code, body, _ = _get(_base(c) + "/")
        assert code == 404 and json.loads(body) == {"error": "not found"}


def _axe_pages(c) -> list[str]:
    """Every page a reader can meet: the live pages, the report index and a report, the
    statement, the sign-in, and the error pages (a missing page, a bad edition)."""
    return [
        *PAGES,
        "/accessibilite",
        "/login",
        "/no-such-page",
        f"/report/{YEAR}?edition=neither",
    ]


def test_every_page_has_no_axe_violation_in_both_languages_signed_in_or_not(site):
    c, b, _ = site
    token = (Path(c.cfg.state_dir) / "web-ops-token").read_text().strip()
    seen = []
    for signed_in in (False, True):
        if signed_in:
            assert _login(c, b, token)
        for lang in ("fr", "en"):
            for path in _axe_pages(c):
                if signed_in and path == "/login":
                    continue
                sep = "&" if "?" in path else "?"
                b.get(f"{_base(c)}{path}{sep}lang={lang}")
                violations = b.axe()
                assert violations == [], (path, lang, signed_in, violations)
                if path == "/accessibilite" and not signed_in:
                    b.screenshot(SHOTS / f"accessibilite-{lang}.png")
                seen.append((path, lang, signed_in))
        if signed_in:
            b.get(f"{_base(c)}/report/{YEAR}?lang=fr&edition=internal")
            assert "édition interne" in b.script("return document.body.innerText")
            assert b.axe() == []
            _logout(c, b)
    assert len(seen) == 4 * len(_axe_pages(c)) - 2
    # and axe does find what it should: a page without language and an image without text
    b.get("data:text/html,<title>t</title><img src='data:,'><table><tr><th></th></tr></table>")
    found = {v["id"] for v in b.axe()}
    assert {"html-has-lang", "image-alt", "empty-table-header"} <= found


def test_pages_reflow_at_320_px_and_tables_scroll_in_their_own_box(site):
    c, b, _ = site
    b.set_width(320)
    try:
        for path in [*PAGES, "/accessibilite"]:
            b.get(f"{_base(c)}{path}?lang=fr")
            inner = b.script("return window.innerWidth")
            assert inner == 320
            page = b.script("return document.documentElement.scrollWidth")
            inner = b.script("return document.documentElement.clientWidth")
            wider = b.script(
                "return Array.from(document.querySelectorAll('body *'))"
                ".filter(e => !e.closest('.scroll') && e.getBoundingClientRect().right"
                " > document.documentElement.clientWidth + 1)"
                ".slice(0, 5).map(e => e.tagName + '.' + e.className + ' '"
                " + Math.round(e.getBoundingClientRect().right))"
            )
            # no horizontal scroll of the page itself
            assert page <= inner and not wider, (path, page, wider)
        # the report's wide tables do overflow, inside their box, which takes the focus
        b.get(f"{_base(c)}/report/{YEAR}?lang=fr")
        wide = b.script(
            "return Array.from(document.querySelectorAll('.scroll'))"
            ".filter(e => e.scrollWidth > e.clientWidth).map(e => e.tabIndex)"
        )
        assert wide and all(t == 0 for t in wide)
        b.screenshot(SHOTS / "report-320-fr.png")
    finally:
        b.set_width(None)


def test_no_automatic_refresh_and_a_reload_link_instead(site):
    c, b, _ = site
    for path in ("/", "/night", "/datacenters", "/lorawan"):
        b.get(f"{_base(c)}{path}?lang=fr")
        assert b.script("return document.querySelectorAll('meta[http-equiv]').length") == 0
        href = b.script(
            "return Array.from(document.querySelectorAll('header a'))"
            ".filter(a => a.innerText === 'Actualiser la page').map(a => a.getAttribute('href'))"
        )
        assert href == [f"{path}?lang=fr"], path


def test_the_other_language_link_says_its_language(site):
    c, b, _ = site
    for lang, other, word in (("fr", "en", "English"), ("en", "fr", "Français")):
        b.get(f"{_base(c)}/night?lang={lang}")
        link = b.script(
            "const a = document.querySelector('a[hreflang]');"
            "return [a.lang, a.getAttribute('hreflang'), a.innerText, a.getAttribute('href')]"
        )
        assert link == [other, other, word, f"/night?lang={other}"]


def test_an_empty_table_says_so_in_words(site):
    from collector.render.env import render

    page = render("web/datacenters.html", "fr", rows=[], nav=(), title="t", live=False, base_url="")
    assert "Aucune salle serveurs : ni compteur" in page
    assert '<td colspan="8" class="empty">' in page


def test_errors_are_pages_in_the_readers_language_with_a_way_back(site):
    c, b, _ = site
    for lang, title, back in (
        ("fr", "Page introuvable", "Retour à l'accueil"),
        ("en", "Page not found", "Back to the home page"),
    ):
        b.get(f"{_base(c)}/nowhere?lang={lang}")
        assert b.texts("h1") == [title]
        assert back in b.texts("main a")
    b.get(f"{_base(c)}/report/{YEAR}?edition=neither&lang=fr")
    assert b.texts("h1") == ["Demande incorrecte"]
    req = urllib.request.Request(f"{_base(c)}/nowhere", headers={"Accept": "text/html"})
    with pytest.raises(urllib.error.HTTPError) as err:
        urllib.request.urlopen(req)
    assert err.value.code == 404 and err.value.headers["content-type"].startswith("text/html")
    # a program still gets JSON
    code, body, _ = _get(f"{_base(c)}/nowhere")
    assert code == 404 and json.loads(body) == {"error": "not found"}


def _raw(c, request: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", c.http.port), timeout=10) as s:
        s.sendall(request)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
    return out


def test_absurd_addresses_and_headers_get_414_and_431(site):
    c, _, _ = site
    answer = _raw(c, b"GET /" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 414 "), answer[:80]
    assert b"Adresse trop longue" in answer
    answer = _raw(c, b"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + b"b" * 20_000 + b"\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:80]
    # an ordinary request on a new connection is still served
    assert _raw(c, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200"
    )


def test_the_report_says_whether_the_city_improved_on_its_first_page(site):
    c, b, _ = site
    s = settings(c.cfg)
    before = yearly_figures(c.ledger, YEAR, s, "public")
    now = yearly_figures(c.ledger, YEAR + 1, s, "public")
    # the first year says so
    assert before["previous_year"] == {"year": YEAR - 1, "first_year": True}
    b.get(f"{_base(c)}/report/{YEAR}?lang=fr")
    assert f"{YEAR} est la première année mesurée" in b.script("return document.body.innerText")
    # the next year is compared with it, figure by figure, from the ledger of both years
    py = now["previous_year"]
    assert py["first_year"] is False and py["year"] == YEAR
    rows = {r["key"]: r for r in py["headline"]}
    total = rows["total_kwh"]
    assert total["previous"] == before["indicators"]["total_kwh"]
    assert total["value"] == now["indicators"]["total_kwh"]
    assert total["change"] == pytest.approx(total["value"] - total["previous"], abs=1e-3)
    assert total["change_pct"] == pytest.approx(total["change"] / total["previous"], abs=1e-4)
    # two days against a whole year: fewer kWh, but no verdict on periods not alike
    assert total["verdict"] == "not_comparable" and py["in_progress"]
    assert not py["like_for_like"] and py["regressions"] == []
    kinds = {r["key"]: r for r in py["by_kind"]}
    assert kinds["desktop"]["previous"] == next(
        r["kwh"] for r in before["energy"]["by_kind"] if r["kind"] == "desktop"
    )
    b.get(f"{_base(c)}/report/{YEAR + 1}?lang=fr")
    text = b.script("return document.body.innerText")
    assert "Avons-nous progressé ?" in text and "sans verdict" in text
    assert "n'est pas terminée" in text
    # on the first page: the comparison comes before the table of contents
    assert text.index("Avons-nous progressé ?") < text.index("Sommaire")
    b.screenshot(SHOTS / f"report-{YEAR + 1}-fr.png")
    assert b.axe() == []
    # a regression is said in words: the same year against a thriftier one
    from collector.yearly import compare, html

    thrifty = json.loads(json.dumps(before))
    thrifty["indicators"]["total_kwh"] = before["indicators"]["total_kwh"] * 0.8
    thrifty["year"] = YEAR - 1
    doc = {**before, "previous_year": compare.previous_year(before, thrifty)}
    worse = {r["key"]: r for r in doc["previous_year"]["headline"]}["total_kwh"]
    assert worse["verdict"] == "worse" and worse["change_pct"] == pytest.approx(0.25, abs=1e-3)
    page = html.render(doc, "fr")
    assert "En recul : Énergie totale (kWh)." in page and "+25,0" in page


def test_the_report_page_links_its_pdf_which_is_a4_numbered_with_absolute_links(site):
    import subprocess

    c, b, _ = site
    b.get(f"{_base(c)}/report/{YEAR}?lang=fr")
    href = b.script(
        "return document.querySelector('a[href$=\".pdf?lang=fr\"]').getAttribute('href')"
    )
    assert href == f"/report/{YEAR}.pdf?lang=fr"
    b.get(f"{_base(c)}/report?lang=fr")
    assert f"/report/{YEAR}.pdf?lang=fr" in b.script(
        "return Array.from(document.querySelectorAll('main a'), a => a.getAttribute('href'))"
    )
    with urllib.request.urlopen(_base(c) + href, timeout=120) as resp:
        assert resp.headers["content-type"] == "application/pdf"
        pdf = resp.read()
    path = SHOTS / f"rapport-reen-{YEAR}.pdf"
    path.write_bytes(pdf)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True)
    assert "(A4)" in info.stdout
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert f"Indicateurs de sobriété numérique {YEAR}" in text and "1 / " in text
    # the open data link is absolute: it works from the PDF
    assert f"{_base(c)}/open-data/{YEAR}/datapackage.json".encode() in pdf


def test_the_keyboard_meets_the_skip_link_first_and_the_page_in_its_order(site):
    """What axe does not check: the first Tab lands on the skip link to the main content,
    and no element takes itself out of the document's order (no positive tabindex)."""
    c, b, _ = site
    for path in (f"/report/{YEAR}", "/", "/accessibilite"):
        b.get(f"{_base(c)}{path}?lang=fr")
        b._call(
            "POST",
            b._s("/actions"),
            {
                "actions": [
                    {
                        "type": "key",
                        "id": "kb",
                        "actions": [
                            {"type": "keyDown", "value": "\ue004"},
                            {"type": "keyUp", "value": "\ue004"},
                        ],
                    }
                ]
            },
        )
        first = b.script(
            "const a = document.activeElement; return [a.className, a.getAttribute('href'),"
            " a.innerText]"
        )
        assert first == ["skip", "#main", "Aller au contenu"], path
        assert b.script("return document.querySelectorAll('main#main').length") == 1
        assert (
            b.script(
                'return document.querySelectorAll(\'[tabindex]:not([tabindex="0"])'
                ':not([tabindex="-1"])\').length'
            )
            == 0
        )
