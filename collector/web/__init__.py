"""The collector's HTTP side, in one room: the server (uvicorn, ASGI), authentication, the
ingest route and the JSON API (Starlette). `collector/app.py` only wires it."""
