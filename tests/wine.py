"""A Windows runtime for the tests: Debian's Wine running the official Windows CPython.

`scripts/windows-runtime.sh` (run by scripts/setup.sh) lays out the embeddable CPython with the
agent's Windows wheels in build/windows/python. `WinePrefix` is a throw-away WINEPREFIX with its
own persistent wineserver, started and stopped by this module (by PID, then `wineserver -k` for
that prefix only). `runtime_with_agent` copies the layout and this checkout's agent package into
a folder, as the MSI installs them.

Traps (see ../shared/STACK-NOTES.md): python.exe must get a pipe or /dev/null as stdout/stderr,
never a regular file.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from services import require_binary

ROOT = Path(__file__).resolve().parent.parent
LAYOUT = ROOT / "build" / "windows" / "python"


def winpath(path: Path | str) -> str:
    """A Linux path as Wine sees it (drive Z: is /)."""
    return "Z:" + str(Path(path).resolve()).replace("/", "\\")


def ensure_layout() -> Path:
    if not (LAYOUT / "python.exe").exists():
        subprocess.run(["bash", str(ROOT / "scripts" / "windows-runtime.sh")], check=True)
    return LAYOUT


def runtime_with_agent(dest: Path) -> Path:
    """The embedded Python with this checkout's agent in its site-packages."""
    shutil.copytree(ensure_layout(), dest)
    for pkg in ("agent", "energy_common"):
        shutil.copytree(
            ROOT / pkg,
            dest / "Lib" / "site-packages" / pkg,
            ignore=shutil.ignore_patterns("__pycache__"),
        )
    return dest


class WinePrefix:
    def __init__(self, prefix: Path) -> None:
        self.prefix = prefix
        self.wine = require_binary("wine")
        self.server: subprocess.Popen[bytes] | None = None
        self.env = {
            **os.environ,
            "WINEPREFIX": str(prefix),
            "WINEDEBUG": "-all",
            "WINEDLLOVERRIDES": "mscoree,mshtml=",  # no Mono/Gecko install prompts
            "LANG": "C.UTF-8",
        }

    def start(self) -> WinePrefix:
        """Create the prefix (wineboot, then wait for that first server to finish: a prefix
        still auto-starting its services answers "database locked" or "no such service"),
        then start this prefix's own persistent wineserver, which we stop."""
        self.prefix.mkdir(parents=True, exist_ok=True)
        server = shutil.which("wineserver") or "/usr/lib/wine/wineserver"
        if not os.path.exists(server):
            server = require_binary("wineserver64")
        self._server_path = server
        # services.exe, winedevice… hold whatever output they were given: a file
        # (prefix/wine.log), never a pipe.
        with open(self.prefix / "wine.log", "ab") as out:
            try:
                subprocess.run(
                    [self.wine, "wineboot", "--init"],
                    env={**self.env, "WINEDEBUG": os.environ.get("ENERGY_WINEDEBUG", "-all")},
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    timeout=180,
                    check=True,
                )
                subprocess.run([server, "-w"], env=self.env, timeout=180, check=True)
            except BaseException:
                subprocess.run([server, "-k"], env=self.env, timeout=30, check=False)
                raise
            self.server = subprocess.Popen(
                [server, "-f", "-p"],
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
            )
            # the first command starts services.exe on our server, with this log as output
            subprocess.run(
                [self.wine, "cmd", "/c", "exit"],
                env={**self.env, "WINEDEBUG": os.environ.get("ENERGY_WINEDEBUG", "-all")},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=out,
                timeout=120,
                check=False,
            )
        return self

    def popen(self, args: list[str], **kw: object) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [self.wine, *args],
            env={**self.env, **kw.pop("env", {})},  # type: ignore[dict-item]
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            **kw,  # type: ignore[call-overload]
        )

    def run(
        self, args: list[str], timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self.wine, *args],
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            timeout=timeout,
        )
        return subprocess.CompletedProcess(
            done.args, done.returncode, done.stdout.decode("utf-8", "replace"), ""
        )

    def drive_c(self) -> Path:
        return self.prefix / "drive_c"

    def stop(self) -> None:
        if self.server is None:
            return
        subprocess.run(
            [self._server_path, "-k"], env=self.env, timeout=30, check=False, capture_output=True
        )
        try:
            self.server.wait(15)
        except subprocess.TimeoutExpired:
            self.server.kill()
            self.server.wait()
        self.server = None
