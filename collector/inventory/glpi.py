"""GLPI's legacy REST API (`apirest.php`, GLPI 9.5 to 11), read-only and incremental.

As GLPI documents it (apirest.md in glpi-project/glpi): `initSession` with the API client's
`App-Token` and the user's `Authorization: user_token …` gives a `session_token`, sent as
`Session-Token` on every call; `GET /:itemtype/?range=a-b` pages a listing (206 Partial
Content with `Content-Range: a-b/total`, the server's ceiling in `Accept-Range`); errors are
`["ERROR_…", "message"]`. Listings are sorted on search option 19 (last update, `date_mod`)
descending, so a sync reads pages only until it meets what it already had; a server that does
not honour the sort is noticed (rows out of order) and then read in full. Infocoms (purchase,
delivery, use, warranty and decommission dates) and network ports (MACs) are read the same
way, since changing them does not touch the asset's own `date_mod`. A listing of ids alone
tells which assets were purged or put in the trash. Nothing is ever written to GLPI.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from collector.inventory.assets import (
    Asset,
    add_months,
    clean_mac,
    clean_serial,
    clean_uuid,
    kind_of,
    parse_date,
    register_kg,
)

log = logging.getLogger("energy_collector.inventory.glpi")

SORT_DATE_MOD = 19  # the "Last update" search option of every GLPI asset and of Infocom


class GlpiError(RuntimeError):
    """GLPI refused or could not answer; the message names the call and GLPI's error."""


@dataclass
class Changes:
    """What a sync read: assets changed since the watermark, their infocoms and MACs, the ids
    still present per item type, and the new watermark (GLPI's own clock, `date_mod`)."""

    assets: dict[str, Asset] = field(default_factory=dict)  # "Computer/12" → asset
    infocoms: dict[str, dict[str, Any]] = field(default_factory=dict)  # "Computer/12" → dates
    macs: dict[str, set[str]] = field(default_factory=dict)  # "Computer/12" → MACs
    present: dict[str, set[int]] = field(default_factory=dict)  # itemtype → ids in GLPI
    watermark: str = ""
    requests: int = 0
    full: bool = False  # read everything (first run, or the sort was not honoured)


class Http:
    """Tiny JSON-over-HTTP helper shared by both GLPI clients (urllib: no extra dependency)."""

    def __init__(self, timeout_s: float, ca_file: str | None) -> None:
        self.timeout_s = timeout_s
        self.ctx = ssl.create_default_context(cafile=ca_file) if ca_file else None
        self.requests = 0

    def call(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        body: bytes | None = None,
    ) -> tuple[int, dict[str, str], Any]:
        self.requests += 1
        req = urllib.request.Request(url, data=body, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout_s, context=self.ctx) as resp:
                status, hdrs, raw = resp.status, dict(resp.headers), resp.read()
        except urllib.error.HTTPError as exc:
            status, hdrs, raw = exc.code, dict(exc.headers), exc.read()
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise GlpiError(f"{method} {_safe(url)}: no answer ({reason})") from None
        try:
            doc = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError):
            doc = raw[:200].decode("utf-8", "replace")
        return status, hdrs, doc


def _safe(url: str) -> str:
    return url.split("?", 1)[0]


def content_range(headers: dict[str, str]) -> tuple[int, int, int] | None:
    """`Content-Range: 0-49/200` → (0, 49, 200)."""
    value = next((v for k, v in headers.items() if k.lower() == "content-range"), "")
    try:
        span, total = value.strip().split("/")
        a, b = span.split("-")
        return int(a), int(b), int(total)
    except ValueError:
        return None


def next_start(rows: list[Any], headers: dict[str, str]) -> int | None:
    """Where the next page starts, or None after the last one (`Content-Range` says)."""
    cr = content_range(headers)
    if not rows or cr is None or cr[1] + 1 >= cr[2]:
        return None
    return cr[1] + 1


def glpi_error(doc: Any) -> str:
    if isinstance(doc, list) and doc and isinstance(doc[0], str):
        return ": ".join(str(x) for x in doc[:2])
    if isinstance(doc, dict):
        return str(doc.get("status") or doc.get("error") or "") + (
            f": {doc.get('title') or doc.get('detail') or doc.get('error_description') or ''}"
        )
    return str(doc)[:200]


class LegacyClient:
    def __init__(
        self,
        url: str,
        app_token: str | None,
        user_token: str,
        page_size: int = 200,
        timeout_s: float = 30.0,
        ca_file: str | None = None,
    ) -> None:
        self.base = url.rstrip("/") + "/apirest.php"
        self.app_token = app_token
        self.user_token = user_token
        self.page_size = page_size
        self.http = Http(timeout_s, ca_file)
        self.session: str | None = None

    # -- session -------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        h = {"Content-Type": "application/json"}
        if self.app_token:
            h["App-Token"] = self.app_token
        if self.session:
            h["Session-Token"] = self.session
        return h

    def open(self) -> None:
        h = self._headers()
        h["Authorization"] = f"user_token {self.user_token}"
        status, _, doc = self.http.call("GET", f"{self.base}/initSession", h)
        if status != 200 or not isinstance(doc, dict) or "session_token" not in doc:
            raise GlpiError(f"GLPI initSession: HTTP {status} {glpi_error(doc)}")
        self.session = str(doc["session_token"])

    def close(self) -> None:
        if self.session:
            with contextlib.suppress(GlpiError):
                self.http.call("GET", f"{self.base}/killSession", self._headers())
            self.session = None

    def get(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        url = f"{self.base}/{path}?{urllib.parse.urlencode(params)}"
        status, hdrs, doc = self.http.call("GET", url, self._headers())
        if status == 401 and glpi_error(doc).startswith("ERROR_SESSION_TOKEN_INVALID"):
            self.open()  # the session expired between two calls: one new session, once
            status, hdrs, doc = self.http.call("GET", url, self._headers())
        if status == 400 and glpi_error(doc).startswith("ERROR_RANGE_EXCEED_TOTAL"):
            return 200, {"Content-Range": "0-0/0"}, []
        if status not in (200, 206):
            raise GlpiError(f"GLPI GET {path}: HTTP {status} {glpi_error(doc)}")
        return status, hdrs, doc

    # -- listings ------------------------------------------------------------------------

    def pages(self, path: str, since: str, extra: dict[str, Any]) -> Iterator[dict[str, Any]]:
        """Rows of a listing, newest change first, until one older than `since` (when the
        server sorted them; else every row). Sets self.sorted."""
        start = 0
        last_mod: str | None = None
        self.sorted = True
        while True:
            params = {
                "range": f"{start}-{start + self.page_size - 1}",
                "sort": SORT_DATE_MOD,
                "order": "DESC",
                "get_hateoas": "false",
                **extra,
            }
            _, hdrs, doc = self.get(path, params)
            rows = doc if isinstance(doc, list) else []
            # a whole page is checked for order before its rows may end the listing
            mods = [str(r.get("date_mod") or "") for r in rows]
            if last_mod is not None:
                mods.insert(0, last_mod)
            if any(b > a for a, b in itertools.pairwise(mods)):
                self.sorted = False  # GLPI did not sort: read on to the end
            old = False
            for row in rows:
                mod = str(row.get("date_mod") or "")
                last_mod = mod
                if since and self.sorted and mod and mod < since:
                    old = True
                    continue
                yield row
            nxt = next_start(rows, hdrs)
            if old or nxt is None:
                return
            start = nxt

    def ids(self, itemtype: str) -> set[int]:
        out: set[int] = set()
        start = 0
        while True:
            params = {"range": f"{start}-{start + self.page_size - 1}", "only_id": "true"}
            _, hdrs, doc = self.get(f"{itemtype}/", params)
            rows = doc if isinstance(doc, list) else []
            out.update(int(r["id"]) for r in rows if "id" in r)
            nxt = next_start(rows, hdrs)
            if nxt is None:
                return out
            start = nxt

    # -- the sync ------------------------------------------------------------------------

    def changes(
        self, itemtypes: list[str], since: str, kinds: dict[str, str], embodied_field: str = ""
    ) -> Changes:
        ch = Changes(watermark=since, full=not since)
        if self.session is None:
            self.open()
        try:
            for it in itemtypes:
                for row in self.pages(f"{it}/", since, {"expand_dropdowns": "true"}):
                    a = asset_from_legacy(it, row, kinds, embodied_field)
                    ch.assets[a.source_id] = a
                    ch.watermark = max(ch.watermark, a.date_mod or "")
                ch.full |= not self.sorted
                ch.present[it] = self.ids(it)
            wanted = set(itemtypes)
            for row in self.pages("Infocom/", since, {}):
                if row.get("itemtype") in wanted:
                    ch.infocoms[f"{row['itemtype']}/{row['items_id']}"] = infocom_dates(row)
                    ch.watermark = max(ch.watermark, str(row.get("date_mod") or ""))
            ch.full |= not self.sorted
            for row in self.pages("NetworkPort/", since, {}):
                mac = clean_mac(row.get("mac"))
                if mac and row.get("itemtype") in wanted:
                    ch.macs.setdefault(f"{row['itemtype']}/{row['items_id']}", set()).add(mac)
            ch.full |= not self.sorted
        finally:
            self.close()
        ch.requests = self.http.requests
        return ch


def _name(v: Any) -> str | None:
    """A dropdown as GLPI expands it: its name, or nothing for 0 / '' / '&nbsp;'."""
    s = str(v or "").strip()
    return None if s in ("", "0", "&nbsp;", "-----") else s


def asset_from_legacy(
    itemtype: str, row: dict[str, Any], kinds: dict[str, str], embodied_field: str = ""
) -> Asset:
    low = itemtype.lower()
    type_name = _name(row.get(f"{low}types_id"))
    return Asset(
        source="glpi",
        source_id=f"{itemtype}/{row['id']}",
        kind=kind_of(type_name, itemtype, kinds),
        name=str(row.get("name") or ""),
        serial=clean_serial(row.get("serial")),
        uuid=clean_uuid(row.get("uuid")),
        model=_name(row.get(f"{low}models_id")),
        manufacturer=_name(row.get("manufacturers_id")),
        type=type_name,
        state=_name(row.get("states_id")),
        location=_name(row.get("locations_id")),
        embodied_kgco2e=register_kg(row, embodied_field),
        date_mod=str(row.get("date_mod") or "") or None,
        deleted=bool(int(row.get("is_deleted") or 0)),
    )


def infocom_dates(row: dict[str, Any]) -> dict[str, Any]:
    """An Infocom's dates (legacy field names; the v2 API's are mapped to these)."""
    what = f"Infocom of {row.get('itemtype')}/{row.get('items_id')}"
    warranty_start = parse_date(row.get("warranty_date"), f"{what}: warranty_date")
    months = int(row.get("warranty_duration") or 0)
    return {
        "buy_date": parse_date(row.get("buy_date"), f"{what}: buy_date"),
        "delivery_date": parse_date(row.get("delivery_date"), f"{what}: delivery_date"),
        "use_date": parse_date(row.get("use_date"), f"{what}: use_date"),
        "warranty_end": add_months(warranty_start, months)
        if warranty_start and months > 0
        else None,
        "decommission_date": parse_date(row.get("decommission_date"), f"{what}: decommission_date"),
    }
