"""The ops login of the web view: one passphrase (web.ops_token_file, else the read token,
else one generated into the state directory), exchanged for a signed cookie.

The cookie is `<expiry>.<HMAC-SHA256(key, expiry)>` with a key derived from the passphrase:
nothing is stored server-side, every collector sharing the passphrase accepts it, and changing
the passphrase ends every session. HttpOnly, SameSite=Strict (no cross-site request carries
it), Secure when the collector serves TLS.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

from energy_common.configspec import read_secret

COOKIE = "energy_ops"


def ops_passphrase(
    token_file: str | None, read_token: str | None, state_dir: Path
) -> tuple[str, Path | None]:
    """The passphrase, and the file it was generated into (None when configured)."""
    if token_file:
        text = read_secret(None, token_file, "web.ops_token_file")
        assert text is not None
        return text, None
    if read_token:
        return read_token, None
    path = state_dir / "web-ops-token"
    if path.exists() and path.read_text().strip():
        return path.read_text().strip(), path
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(18)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(token + "\n")
    return token, path


class OpsLogin:
    def __init__(self, passphrase: str, session_s: float, secure: bool) -> None:
        self._pass = passphrase.encode()
        self._key = hmac.new(self._pass, b"energy-web-session-v1", hashlib.sha256).digest()
        self.session_s = session_s
        self.secure = secure

    def check(self, candidate: str) -> bool:
        return hmac.compare_digest(candidate.strip().encode(), self._pass)

    def cookie(self, now: float | None = None) -> str:
        expiry = str(int((now or time.time()) + self.session_s))
        return f"{expiry}.{self._sign(expiry)}"

    def valid(self, value: str | None, now: float | None = None) -> bool:
        if not value or "." not in value:
            return False
        expiry, sig = value.split(".", 1)
        if not expiry.isdigit() or not hmac.compare_digest(sig, self._sign(expiry)):
            return False
        return int(expiry) > (now or time.time())

    def header(self, value: str, max_age: int) -> str:
        attrs = f"{COOKIE}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Strict"
        return attrs + ("; Secure" if self.secure else "")

    def _sign(self, expiry: str) -> str:
        return hmac.new(self._key, expiry.encode(), hashlib.sha256).hexdigest()
