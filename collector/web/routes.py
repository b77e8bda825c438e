"""The routes: agent reports in (answered after the ledger commit), the JSON API and
/metrics out. Authentication: agents write with their bearer token; reads need the read
token when one is configured (collector/web/auth.py).

POST /api/v1/reports answers 200 `{"result": "accepted" | "duplicate"}` after the commit,
400 with the rejection reason whatever went wrong with this report alone (the agent keeps it
aside and moves on), 401 without the right bearer token (the agent keeps everything and
retries), 408 when the body does not arrive within `http.body_timeout_s`, 413 for a body over
the limit (whatever Content-Length says), 503 only when the report could not be committed in
time: the ledger is down, or the queue is long (the agent retries; the queued report is
committed meanwhile, and the retry answered `duplicate`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from collector.sources.agents.pipeline import Outcome, Pipeline
from collector.web.auth import Auth
from collector.web.enrolment import Credentials, EnrolmentError
from collector.web.openapi import SPEC

# extra GET routes: query parameters → (status code, body, content type)
ApiRoute = Callable[[dict[str, str]], tuple[int, bytes, str]]

WAIT_FOR_LEDGER_S = 30.0


class _TooLarge(Exception):
    pass


def build_app(
    pipeline: Pipeline,
    auth: Auth,
    max_body: int,
    status: Callable[[], dict[str, Any]],
    routes: dict[str, ApiRoute] | None = None,
    body_timeout_s: float = 20.0,
    credentials: Credentials | None = None,
    pages: list[Route] | None = None,
    html_error: Callable[[Request, int, str], Response] | None = None,
) -> Starlette:
    metrics = pipeline.metrics

    def rejected(reason: str, detail: str, code: int) -> JSONResponse:
        metrics.rejections.labels(reason).inc()
        metrics.reports.labels("rejected").inc()
        return JSONResponse({"result": "rejected", "reason": reason, "detail": detail}, code)

    async def read_body(request: Request) -> bytes:
        body = bytearray()

        async def consume() -> None:
            async for chunk in request.stream():
                body.extend(chunk)
                if len(body) > max_body:
                    raise _TooLarge

        await asyncio.wait_for(consume(), body_timeout_s)
        return bytes(body)

    async def writer(request: Request) -> tuple[Response | None, str | None]:
        """Who is posting: (a refusal, or None; the agent id the token is bound to, or None
        for the shared ingest token and an open loopback collector)."""
        header = request.headers.get("authorization")
        if auth.shared_write(header):
            return None, None
        token = _bearer(header)
        if token and credentials is not None:
            cred = await run_in_threadpool(credentials.lookup, token)
            if cred is not None:
                if cred.revoked:
                    return JSONResponse({"error": f"agent {cred.agent_id} is revoked"}, 403), None
                return None, cred.agent_id
        if auth.open_write and not (credentials is not None and credentials.enabled):
            return None, None  # no authentication configured at all (loopback only)
        return JSONResponse({"error": "missing or wrong bearer token"}, 401), None

    async def enrol(request: Request) -> Response:
        if credentials is None or not credentials.enabled:
            return JSONResponse({"error": "enrolment is not configured"}, 404)
        if not credentials.is_site_secret(_bearer(request.headers.get("authorization")) or ""):
            return JSONResponse({"error": "missing or wrong enrolment secret"}, 401)
        try:
            doc = json.loads(await read_body(request))
            agent_id, hostname = doc["agent_id"], doc.get("hostname", "")
            if not isinstance(agent_id, str) or not isinstance(hostname, str):
                raise TypeError
        except (_TooLarge, asyncio.TimeoutError, ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'body: {"agent_id": UUID, "hostname": name}'}, 400)
        try:
            answer = await run_in_threadpool(credentials.enrol, agent_id, hostname)
        except EnrolmentError as exc:
            return JSONResponse({"error": str(exc)}, exc.code)
        return JSONResponse(answer, 201)

    async def ingest(request: Request) -> Response:
        refusal, sender = await writer(request)
        if refusal is not None:
            return refusal
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body:
            return rejected("oversized", f"{declared} bytes > {max_body}", 413)
        try:
            body = await read_body(request)
        except _TooLarge:
            return rejected("oversized", f"more than {max_body} bytes", 413)
        except asyncio.TimeoutError:
            return JSONResponse({"error": f"body not received within {body_timeout_s} s"}, 408)
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Outcome] = loop.create_future()

        def finished(outcome: Outcome) -> None:  # on the ingest thread
            loop.call_soon_threadsafe(_settle, answer, outcome)

        pipeline.submit(body, finished, sender)
        try:
            o = await asyncio.wait_for(asyncio.shield(answer), WAIT_FOR_LEDGER_S)
        except asyncio.TimeoutError:
            # still queued: it will be committed, and the retry answered `duplicate`
            why = (
                "ledger unavailable"
                if pipeline.committer.down
                else f"ingest queue busy ({pipeline.q.qsize()} waiting)"
            )
            return JSONResponse({"error": f"{why}; retry later"}, 503)
        if o.result == "rejected":
            return JSONResponse({"result": "rejected", "reason": o.reason, "detail": o.detail}, 400)
        # with a newer policy or wake requests for this agent, when there are some
        return JSONResponse({"result": o.result, **(o.control or {})})

    def reader(fn: Callable[[Request], Any]) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            if not auth.may_read(request.headers.get("authorization")):
                return JSONResponse({"error": "missing or wrong bearer token"}, 401)
            return await fn(request)

        return handle

    async def metrics_route(request: Request) -> Response:
        body = await run_in_threadpool(generate_latest, metrics.registry)
        return Response(body, 200, media_type=CONTENT_TYPE_LATEST)

    async def status_route(request: Request) -> Response:
        return JSONResponse(await run_in_threadpool(status))

    async def healthz(request: Request) -> Response:
        return Response(b"ok\n", 200, media_type="text/plain")

    def api(fn: ApiRoute) -> Callable[[Request], Any]:
        async def handle(request: Request) -> Response:
            query = dict(request.query_params)
            try:
                code, body, ctype = await run_in_threadpool(fn, query)
            except ValueError as exc:
                return JSONResponse({"error": str(exc)}, 400)
            return Response(body, code, media_type=ctype)

        return handle

    async def openapi(request: Request) -> Response:
        return JSONResponse(SPEC)

    table = [
        Route("/api/v1/reports", ingest, methods=["POST"]),
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        Route("/api/v1/enrol", enrol, methods=["POST"]),
        Route("/metrics", reader(metrics_route), methods=["GET"]),
        Route("/api/v1/status", reader(status_route), methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
    for path, fn in (routes or {}).items():
        table.append(Route(path, reader(api(fn)), methods=["GET"]))
    table += pages or []  # the web view (collector/web/pages.py): its own login

    def for_a_reader(request: Request) -> bool:
        """A browser asks for HTML: it gets a page in its reader's language with a way
        back; programs keep their JSON."""
        return html_error is not None and "text/html" in request.headers.get("accept", "")

    async def not_found(request: Request, exc: Exception) -> Response:
        if html_error is not None and for_a_reader(request):
            return html_error(request, 404, "This page does not exist.")
        return JSONResponse({"error": "not found"}, 404)

    async def not_allowed(request: Request, exc: Exception) -> Response:
        # RFC 9110: a 405 says which methods the resource has
        headers = getattr(exc, "headers", None)
        if html_error is not None and for_a_reader(request):
            resp = html_error(request, 405, "This address cannot be used that way.")
            resp.headers.update(headers or {})
            return resp
        return JSONResponse({"error": "method not allowed"}, 405, headers)

    return Starlette(routes=table, exception_handlers={404: not_found, 405: not_allowed})


def _bearer(header: str | None) -> str | None:
    if header and header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return None


def _settle(fut: asyncio.Future[Outcome], outcome: Outcome) -> None:
    if not fut.done():
        fut.set_result(outcome)
