"""GLPI 11's high-level API (`/api.php/v2`), read-only and incremental.

As GLPI's code declares it (src/Glpi/Api/HL/: Controller/AssetController.php,
Controller/ManagementController.php, Doc/SearchRoute.php): an OAuth2 password grant on
`/api.php/token` (client id and secret of an OAuth client, the user's login and password,
scope `api`) gives a bearer token; `GET /Assets/{itemtype}?start=&limit=&sort=date_mod:desc
&filter=date_mod=ge=…` lists assets changed since the last run (RSQL filter), with
`Content-Range: start-end/total`; dropdowns come as `{"id", "name"}` objects; an asset's
financial information is `GET /Assets/{itemtype}/{id}/Infocom` (404 when it has none), its
dates named `date_buy`, `date_use`, `date_delivery`, `date_warranty`, `date_decommission`.
Network ports (MACs) come from `/Network/NetworkPort` (API 2.3, with `itemtype`, `items_id`,
`mac`: Controller/NetworkController.php).
"""

from __future__ import annotations

import urllib.parse
from typing import Any

from collector.inventory.assets import (
    Asset,
    clean_mac,
    clean_serial,
    clean_uuid,
    kind_of,
    register_kg,
)
from collector.inventory.glpi import Changes, GlpiError, Http, glpi_error, next_start
from collector.inventory.glpi import infocom_dates as legacy_dates

V2_DATES = {
    "date_buy": "buy_date",
    "date_use": "use_date",
    "date_delivery": "delivery_date",
    "date_warranty": "warranty_date",
    "date_decommission": "decommission_date",
}


class V2Client:
    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str,
        username: str,
        password: str,
        page_size: int = 200,
        timeout_s: float = 30.0,
        ca_file: str | None = None,
    ) -> None:
        root = url.rstrip("/") + "/api.php"
        self.token_url = root + "/token"
        self.base = root + "/v2"
        self.creds = {
            "grant_type": "password",
            "client_id": client_id,
            "client_secret": client_secret,
            "username": username,
            "password": password,
            "scope": "api",
        }
        self.page_size = page_size
        self.http = Http(timeout_s, ca_file)
        self.token: str | None = None

    def open(self) -> None:
        body = urllib.parse.urlencode(self.creds).encode()
        status, _, doc = self.http.call(
            "POST",
            self.token_url,
            {"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
            body,
        )
        if status != 200 or not isinstance(doc, dict) or "access_token" not in doc:
            raise GlpiError(f"GLPI token (OAuth2 password grant): HTTP {status} {glpi_error(doc)}")
        self.token = str(doc["access_token"])

    def get(self, path: str, params: dict[str, Any]) -> tuple[int, dict[str, str], Any]:
        if self.token is None:
            self.open()
        url = f"{self.base}/{path}" + (f"?{urllib.parse.urlencode(params)}" if params else "")
        for attempt in (1, 2):
            status, hdrs, doc = self.http.call(
                "GET", url, {"Authorization": f"Bearer {self.token}", "Accept": "application/json"}
            )
            if status == 401 and attempt == 1:
                self.open()  # the token expired: one new token, once
                continue
            break
        if status not in (200, 206, 404):
            raise GlpiError(f"GLPI GET /{path}: HTTP {status} {glpi_error(doc)}")
        return status, hdrs, doc

    def _listing(self, path: str, since: str, only_id: bool = False) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        start = 0
        while True:
            params: dict[str, Any] = {"start": start, "limit": self.page_size}
            if not only_id:
                params["sort"] = "date_mod:desc"
            if since and not only_id:
                params["filter"] = f"date_mod=ge={since.replace(' ', 'T')}"
            status, hdrs, doc = self.get(path, params)
            rows = doc if isinstance(doc, list) else []
            out.extend(rows)
            nxt = next_start(rows, hdrs)
            if status == 404 or nxt is None:
                return out
            start = nxt

    def changes(
        self, itemtypes: list[str], since: str, kinds: dict[str, str], embodied_field: str = ""
    ) -> Changes:
        ch = Changes(watermark=since, full=not since)
        for it in itemtypes:
            for row in self._listing(f"Assets/{it}", since):
                a = asset_from_v2(it, row, kinds, embodied_field)
                ch.assets[a.source_id] = a
                ch.watermark = max(ch.watermark, a.date_mod or "")
                status, _, info = self.get(f"Assets/{it}/{row['id']}/Infocom", {})
                if status == 200 and isinstance(info, dict):
                    legacy: dict[str, Any] = {str(V2_DATES.get(k, k)): v for k, v in info.items()}
                    legacy.update(itemtype=it, items_id=row["id"])
                    ch.infocoms[a.source_id] = legacy_dates(legacy)
            ch.present[it] = {int(r["id"]) for r in self._listing(f"Assets/{it}", "", True)}
        # network ports (MACs): /Network/NetworkPort, API 2.3 and later (GLPI 11); an older
        # API answers 404 and matching then does without MACs
        wanted = set(itemtypes)
        for row in self._listing("Network/NetworkPort", since):
            mac = clean_mac(row.get("mac"))
            if mac and row.get("itemtype") in wanted and row.get("items_id"):
                ch.macs.setdefault(f"{row['itemtype']}/{row['items_id']}", set()).add(mac)
        ch.requests = self.http.requests
        return ch


def _dropdown(v: Any) -> str | None:
    if isinstance(v, dict):
        v = v.get("name")
    s = str(v or "").strip()
    return s or None


def asset_from_v2(
    itemtype: str, row: dict[str, Any], kinds: dict[str, str], embodied_field: str = ""
) -> Asset:
    type_name = _dropdown(row.get("type"))
    mod = str(row.get("date_mod") or "").replace("T", " ")[:19] or None
    return Asset(
        source="glpi",
        source_id=f"{itemtype}/{row['id']}",
        kind=kind_of(type_name, itemtype, kinds),
        name=str(row.get("name") or ""),
        serial=clean_serial(row.get("serial")),
        uuid=clean_uuid(row.get("uuid")),
        model=_dropdown(row.get("model")),
        manufacturer=_dropdown(row.get("manufacturer")),
        type=type_name,
        state=_dropdown(row.get("state")),
        location=_dropdown(row.get("location")),
        embodied_kgco2e=register_kg(row, embodied_field),
        date_mod=mod,
        deleted=bool(row.get("is_deleted")),
    )
