"""Who may do what over HTTP: agents write reports with the ingest token; reads (the JSON
API, /metrics) need the read token when one is configured. Tokens are compared in constant
time; the Authorization header is `Bearer <token>`."""

from __future__ import annotations

import hmac


class Auth:
    def __init__(self, write_token: str | None, read_token: str | None = None) -> None:
        self._write = f"Bearer {write_token}".encode() if write_token else None
        self._read = f"Bearer {read_token}".encode() if read_token else None

    def shared_write(self, header: str | None) -> bool:
        """The shared ingest token (http.token_file): posts for any agent id. For labs and
        migrations; enrolled agents each have their own (collector/web/enrolment.py)."""
        return self._write is not None and _same(header, self._write)

    @property
    def open_write(self) -> bool:
        return self._write is None

    def may_read(self, header: str | None) -> bool:
        return self._read is None or _same(header, self._read)


def _same(header: str | None, expected: bytes) -> bool:
    got = (header or "").encode("latin-1", "replace")
    return hmac.compare_digest(got, expected)
