"""The ops sign-in pages: the form, its answer (a signed cookie, after half a second's wait
for a wrong passphrase) and the sign-out; `next` only ever leads back into this site."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from collector.web.pages import Pages


class SignInPages:
    def __init__(self, pages: Pages) -> None:
        self.p = pages

    def routes(self) -> list[Route]:
        return [
            Route("/login", self.login_form, methods=["GET"]),
            Route("/login", self.login_post, methods=["POST"]),
            Route("/logout", self.logout, methods=["GET", "POST"]),
        ]

    def _login_page(self, request: Request, error: bool, nxt: str) -> Response:
        resp = self.p.page(
            request,
            "/login",
            "web/login.html",
            {"error": error, "next": nxt},
            status=401 if error else 200,
        )
        resp.headers["cache-control"] = "no-store"
        return resp

    async def login_form(self, request: Request) -> Response:
        nxt = request.query_params.get("next") or f"/?lang={self.p.lang(request)}"
        return self._login_page(request, False, _safe_next(nxt))

    async def login_post(self, request: Request) -> Response:
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > 4096:
                return JSONResponse({"error": "form too large"}, 413)
        form = parse_qs(body.decode("utf-8", "replace"))
        token = (form.get("token") or [""])[0]
        nxt = _safe_next((form.get("next") or [""])[0] or f"/?lang={self.p.lang(request)}")
        if not self.p.login.check(token):
            await asyncio.sleep(0.5)  # slows guessing down; the passphrase is long anyway
            return self._login_page(request, True, nxt)
        resp = RedirectResponse(nxt, 303)
        resp.headers["set-cookie"] = self.p.login.header(
            self.p.login.cookie(), int(self.p.login.session_s)
        )
        return resp

    async def logout(self, request: Request) -> Response:
        resp = RedirectResponse(f"/?lang={self.p.lang(request)}", 303)
        resp.headers["set-cookie"] = self.p.login.header("", 0)
        return resp


def _safe_next(nxt: str | None) -> str:
    """Only a path of this site (never //host or a scheme): no open redirect."""
    if not nxt or not nxt.startswith("/") or nxt.startswith("//") or "\\" in nxt:
        return "/"
    return nxt
