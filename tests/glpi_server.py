"""A GLPI API server for the tests: GLPI itself cannot be installed on these machines.

Written from GLPI's own documentation and code, not from a recording: the legacy API as
apirest.md describes it (glpi-project/glpi: initSession with App-Token and
`Authorization: user_token …`, Session-Token on every call, `range=a-b` listings answered 200
or 206 with `Content-Range: a-b/total` and `Accept-Range: <itemtype> <max>`, `sort` by search
option (19: date_mod), `only_id`, `expand_dropdowns`, errors as `["ERROR_…", "message"]`),
and the high-level API of GLPI 11 as src/Glpi/Api/HL/ declares it (OAuth2 password grant on
/api.php/token, `/api.php/v2/Assets/{itemtype}` with start/limit/sort/RSQL `filter`,
dropdowns as {id, name}, `/Assets/{itemtype}/{id}/Infocom` with `date_buy`, `date_use`…).
Only what the collector reads is served; writes are refused and counted.
"""

from __future__ import annotations

import json
import secrets
import threading
import urllib.parse
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MAX_RANGE = 1000  # GLPI's default `api_max_range`… ceiling announced in Accept-Range
LEGACY_DROPDOWNS = ("model", "type", "manufacturer", "state", "location")


@dataclass
class GlpiData:
    """Items by itemtype: id → {name, serial, uuid, model, type, manufacturer, state,
    location, date_mod, is_deleted, <extra fields>}; infocoms and network ports as rows."""

    items: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict)
    infocoms: list[dict[str, Any]] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)


class GlpiServer:
    def __init__(
        self,
        data: GlpiData,
        app_token: str = "app-token-1",
        user_token: str = "user-token-1",
        oauth: tuple[str, str, str, str] = ("client-1", "secret-1", "glpi-reader", "pw-1"),
    ) -> None:
        self.data = data
        self.app_token = app_token
        self.user_token = user_token
        self.oauth = oauth
        self.sessions: set[str] = set()
        self.bearers: set[str] = set()
        self.log: list[tuple[str, str]] = []  # (method, path with query)
        self.writes = 0
        self.honour_sort = True
        self.lock = threading.Lock()
        handler = type("Handler", (_Handler,), {"glpi": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> GlpiServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def expire_sessions(self) -> None:
        self.sessions.clear()
        self.bearers.clear()

    def calls(self, prefix: str) -> int:
        return sum(1 for _, p in self.log if p.split("?")[0].startswith(prefix))

    # -- shared ----------------------------------------------------------------------------

    def _rows(self, what: str) -> list[dict[str, Any]] | None:
        if what == "Infocom":
            return list(self.data.infocoms)
        if what == "NetworkPort":
            return list(self.data.ports)
        if what in self.data.items:
            return [
                {"id": i, **v} for i, v in self.data.items[what].items() if not v.get("is_deleted")
            ]
        return None

    def _sorted(self, rows: list[dict[str, Any]], desc: bool) -> list[dict[str, Any]]:
        if not self.honour_sort:
            return sorted(rows, key=lambda r: r["id"])
        return sorted(rows, key=lambda r: (str(r.get("date_mod") or ""), r["id"]), reverse=desc)

    # -- legacy ------------------------------------------------------------------------------

    def legacy(self, h: _Handler, path: str, q: dict[str, str]) -> None:
        if h.headers.get("App-Token") != self.app_token:
            h.reply(400, ["ERROR_APP_TOKEN_PARAMETERS_MISSING", "missing parameter app_token"])
            return
        if path == "initSession":
            auth = h.headers.get("Authorization", "")
            if not auth:
                h.reply(
                    400, ["ERROR_LOGIN_PARAMETERS_MISSING", "parameter(s) login, password missing"]
                )
            elif auth != f"user_token {self.user_token}":
                h.reply(401, ["ERROR_GLPI_LOGIN_USER_TOKEN", "parameter user_token seems invalid"])
            else:
                new = secrets.token_hex(20)
                with self.lock:
                    self.sessions.add(new)
                h.reply(200, {"session_token": new})
            return
        token = h.headers.get("Session-Token") or ""
        if not token:
            h.reply(400, ["ERROR_SESSION_TOKEN_MISSING", "parameter session_token is missing"])
            return
        if token not in self.sessions:
            h.reply(401, ["ERROR_SESSION_TOKEN_INVALID", "session_token seems invalid"])
            return
        if path == "killSession":
            self.sessions.discard(token)
            h.reply(200, None)
            return
        itemtype = path.strip("/")
        rows = self._rows(itemtype)
        if rows is None or "/" in itemtype:
            h.reply(400, ["ERROR_ITEMTYPE_NOT_FOUND_NOR_COMMONDBTM", f"{itemtype} not found"])
            return
        if q.get("sort", "1") == "19":
            rows = self._sorted(rows, q.get("order", "ASC").upper() == "DESC")
        else:
            rows = sorted(rows, key=lambda r: r["id"])
        try:
            a, b = (int(x) for x in q.get("range", "0-49").split("-"))
        except ValueError:
            h.reply(400, ["ERROR_RANGE_EXCEED_TOTAL", "range is not valid"])
            return
        total = len(rows)
        b = min(b, a + MAX_RANGE - 1, total - 1)
        if total and a >= total:
            h.reply(400, ["ERROR_RANGE_EXCEED_TOTAL", "Provided range exceed total count of data"])
            return
        page = rows[a : b + 1]
        expand = q.get("expand_dropdowns") == "true"
        if q.get("only_id") == "true":
            out = [{"id": r["id"]} for r in page]
        else:
            out = [self._legacy_row(itemtype, r, expand) for r in page]
        headers = {
            "Content-Range": f"{a}-{max(b, a)}/{total}" if total else "0-0/0",
            "Accept-Range": f"{itemtype} {MAX_RANGE}",
        }
        h.reply(206 if len(page) < total else 200, out, headers)

    def _legacy_row(self, itemtype: str, r: dict[str, Any], expand: bool) -> dict[str, Any]:
        if itemtype in ("Infocom", "NetworkPort"):
            return dict(r)
        low = itemtype.lower()
        names = {
            "model": f"{low}models_id",
            "type": f"{low}types_id",
            "manufacturer": "manufacturers_id",
            "state": "states_id",
            "location": "locations_id",
        }
        out = {k: v for k, v in r.items() if k not in LEGACY_DROPDOWNS}
        for k, col in names.items():
            v = r.get(k)
            out[col] = (v or "&nbsp;") if expand else (abs(hash(v)) % 1000 if v else 0)
        out["is_deleted"] = 1 if r.get("is_deleted") else 0
        return out

    # -- high-level API (v2) -----------------------------------------------------------------

    def token(self, h: _Handler, body: bytes) -> None:
        form = dict(urllib.parse.parse_qsl(body.decode()))
        cid, secret, user, pw = self.oauth
        if form.get("grant_type") != "password":
            h.reply(400, {"error": "unsupported_grant_type", "error_description": "password only"})
        elif (form.get("client_id"), form.get("client_secret")) != (cid, secret):
            h.reply(401, {"error": "invalid_client", "error_description": "Client auth failed"})
        elif (form.get("username"), form.get("password")) != (user, pw):
            h.reply(400, {"error": "invalid_grant", "error_description": "Invalid credentials"})
        else:
            tok = secrets.token_hex(24)
            with self.lock:
                self.bearers.add(tok)
            h.reply(200, {"token_type": "Bearer", "expires_in": 3600, "access_token": tok})

    def v2(self, h: _Handler, path: str, q: dict[str, str]) -> None:
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self.bearers:
            h.reply(
                401,
                {
                    "status": "ERROR_UNAUTHENTICATED",
                    "title": "You are not authenticated",
                    "detail": None,
                },
            )
            return
        parts = path.strip("/").split("/")
        if len(parts) == 4 and parts[0] == "Assets" and parts[3] == "Infocom":
            it, iid = parts[1], int(parts[2])
            row = next(
                (r for r in self.data.infocoms if r["itemtype"] == it and r["items_id"] == iid),
                None,
            )
            if row is None:
                h.reply(
                    404,
                    {"status": "ERROR_ITEM_NOT_FOUND", "title": "Item not found", "detail": None},
                )
                return
            v2 = {"id": row["id"], "itemtype": it, "items_id": iid}
            for legacy, name in (
                ("buy_date", "date_buy"),
                ("use_date", "date_use"),
                ("delivery_date", "date_delivery"),
                ("warranty_date", "date_warranty"),
                ("decommission_date", "date_decommission"),
            ):
                v2[name] = row.get(legacy)
            v2["warranty_duration"] = row.get("warranty_duration", 0)
            h.reply(200, v2)
            return
        if parts == ["Network", "NetworkPort"]:
            rows = self._rows("NetworkPort") or []
        elif len(parts) != 2 or parts[0] != "Assets" or parts[1] not in self.data.items:
            h.reply(
                404, {"status": "ERROR_ITEM_NOT_FOUND", "title": "Route not found", "detail": None}
            )
            return
        else:
            rows = self._rows(parts[1]) or []
        flt = q.get("filter", "")
        if flt:
            field_, _, value = flt.partition("=ge=")
            if field_ != "date_mod" or not value:
                h.reply(
                    400,
                    {
                        "status": "ERROR_RSQL_QUERY",
                        "title": "RSQL filter not supported by this test server",
                        "detail": flt,
                    },
                )
                return
            value = value.replace("T", " ")
            rows = [r for r in rows if str(r.get("date_mod") or "") >= value]
        sort = q.get("sort", "id")
        rows = (
            self._sorted(rows, sort.endswith(":desc"))
            if sort.startswith("date_mod")
            else sorted(rows, key=lambda r: r["id"])
        )
        start, limit = int(q.get("start", 0)), int(q.get("limit", 100))
        page = rows[start : start + limit]
        out = []
        for r in page:
            if parts[0] == "Network":
                out.append({**r, "date_mod": str(r.get("date_mod") or "").replace(" ", "T")})
                continue
            o = {k: v for k, v in r.items() if k not in LEGACY_DROPDOWNS}
            for k in LEGACY_DROPDOWNS:
                o[k] = {"id": abs(hash(r[k])) % 1000, "name": r[k]} if r.get(k) else None
            o["date_mod"] = str(r.get("date_mod") or "").replace(" ", "T") or None
            out.append(o)
        end = start + len(page) - 1
        h.reply(
            206 if len(page) < len(rows) else 200,
            out,
            {"Content-Range": f"{start}-{max(end, start)}/{len(rows)}"},
        )


class _Handler(BaseHTTPRequestHandler):
    glpi: GlpiServer

    def log_message(self, *args: object) -> None:
        pass

    def reply(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        body = b"" if doc is None else json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=UTF-8")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _route(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        with self.glpi.lock:
            self.glpi.log.append((method, self.path))
        if url.path == "/api.php/token" and method == "POST":
            self.glpi.token(self, body)
        elif method != "GET":
            with self.glpi.lock:
                self.glpi.writes += 1
            self.reply(405, ["ERROR_METHOD_NOT_ALLOWED", "read-only test server"])
        elif url.path.startswith("/apirest.php/"):
            self.glpi.legacy(self, url.path.removeprefix("/apirest.php/"), q)
        elif url.path.startswith("/api.php/v2/"):
            self.glpi.v2(self, url.path.removeprefix("/api.php/v2/"), q)
        else:
            self.reply(404, ["ERROR_ITEMTYPE_NOT_FOUND_NOR_COMMONDBTM", url.path])

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def do_PUT(self) -> None:
        self._route("PUT")

    def do_DELETE(self) -> None:
        self._route("DELETE")
