"""Headless Chromium driven over W3C WebDriver by Debian's chromedriver: no browser download,
no Selenium. The driver is started on a free loopback port and stopped by its PID (its
Chromium children with it); each test gets a fresh browser profile in a temp dir."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"  # the W3C web element key
AXE = Path(__file__).resolve().parent / "js" / "node_modules" / "axe-core" / "axe.min.js"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class WebDriverError(Exception):
    pass


class Browser:
    def __init__(self, profile: Path, width: int = 1200, height: int = 900) -> None:
        driver = shutil.which("chromedriver") or "/usr/bin/chromedriver"
        chromium = shutil.which("chromium") or "/usr/bin/chromium"
        if not Path(driver).exists() or not Path(chromium).exists():
            raise RuntimeError("chromium and chromium-driver are needed: bash scripts/setup.sh")
        self.width, self.height = width, height
        self.port = _free_port()
        self.log = profile / "chromedriver.log"
        profile.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [driver, f"--port={self.port}", f"--log-path={self.log}"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        self.base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + 20
        while True:
            try:
                self._call("GET", "/status")
                break
            except (urllib.error.URLError, ConnectionError, OSError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("chromedriver did not start") from None
                time.sleep(0.1)
        args = [
            "--headless=new",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            f"--user-data-dir={profile / 'chromium'}",
            f"--window-size={width},{height}",
        ]
        if os.geteuid() == 0:
            args.append("--no-sandbox")
        caps = {
            "capabilities": {
                "alwaysMatch": {
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": chromium, "args": args},
                }
            }
        }
        try:
            self.session = self._call("POST", "/session", caps)["sessionId"]
        except Exception:
            self.close()
            raise

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                doc = json.load(resp)
        except urllib.error.HTTPError as exc:
            doc = json.loads(exc.read() or b"{}")
            raise WebDriverError(f"{method} {path}: {doc.get('value', doc)}") from None
        return doc.get("value", doc) if isinstance(doc, dict) else doc

    def _s(self, path: str) -> str:
        return f"/session/{self.session}{path}"

    def get(self, url: str) -> None:
        self._call("POST", self._s("/url"), {"url": url})

    @property
    def title(self) -> str:
        return str(self._call("GET", self._s("/title")))

    @property
    def url(self) -> str:
        return str(self._call("GET", self._s("/url")))

    def script(self, source: str, *args: Any) -> Any:
        return self._call("POST", self._s("/execute/sync"), {"script": source, "args": list(args)})

    def find(self, css: str) -> str:
        found = self._call("POST", self._s("/element"), {"using": "css selector", "value": css})
        return str(found[ELEMENT])

    def texts(self, css: str) -> list[str]:
        return list(
            self.script(
                "return Array.from(document.querySelectorAll(arguments[0]), e => e.innerText)", css
            )
        )

    def type(self, css: str, text: str) -> None:
        self._call("POST", self._s(f"/element/{self.find(css)}/value"), {"text": text})

    def click(self, css: str) -> None:
        self._call("POST", self._s(f"/element/{self.find(css)}/click"), {})

    def screenshot(self, path: Path) -> Path:
        """The whole page, not only the viewport (the window is grown to the page's height)."""
        self._call("POST", self._s("/window/rect"), {"width": self.width, "height": self.height})
        h = int(self.script("return document.documentElement.scrollHeight"))
        self._call(
            "POST", self._s("/window/rect"), {"width": self.width, "height": min(h + 140, 16000)}
        )
        png = base64.b64decode(self._call("GET", self._s("/screenshot")))
        path.write_bytes(png)
        self._call("POST", self._s("/window/rect"), {"width": self.width, "height": self.height})
        return path

    def script_async(self, source: str, *args: Any) -> Any:
        """WebDriver's async script: the last argument is the callback to call with the result."""
        return self._call("POST", self._s("/execute/async"), {"script": source, "args": list(args)})

    def axe(self, context: str = "document") -> list[dict[str, Any]]:
        """axe-core's violations of WCAG 2.0/2.1 A and AA (plus empty-table-header, a
        best-practice rule RGAA asks for) on the page now open. axe-core comes from npm
        (scripts/setup.sh), injected into the page by the test, never served by it."""
        if not AXE.exists():
            raise RuntimeError(f"{AXE} is missing: bash scripts/setup.sh installs axe-core")
        self.script(AXE.read_text() + "\nreturn true;")
        result = self.script_async(
            "const done = arguments[arguments.length - 1];"
            f"axe.run({context}, {{runOnly: {{type: 'tag', values: "
            "['wcag2a','wcag2aa','wcag21a','wcag21aa']}, rules: {'empty-table-header': "
            "{enabled: true}}}).then(r => done(r.violations.map(v => ({id: v.id, impact: "
            "v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.html)}))))"
            ".catch(e => done([{id: 'axe-error', help: String(e), nodes: []}]));"
        )
        return list(result)

    def set_width(self, width: int | None) -> None:
        """The viewport as a phone's (width in CSS px), through the DevTools protocol:
        a window cannot be made that narrow; None goes back to the window's own size."""
        if width is None:
            self._call(
                "POST",
                self._s("/goog/cdp/execute"),
                {"cmd": "Emulation.clearDeviceMetricsOverride", "params": {}},
            )
            return
        params = {"width": width, "height": 640, "deviceScaleFactor": 1, "mobile": False}
        self._call(
            "POST",
            self._s("/goog/cdp/execute"),
            {"cmd": "Emulation.setDeviceMetricsOverride", "params": params},
        )

    def print_pdf(self) -> bytes:
        return base64.b64decode(self._call("POST", self._s("/print"), {"background": True}))

    def close(self) -> None:
        if getattr(self, "session", None):
            with contextlib.suppress(Exception):  # the browser may be gone already
                self._call("DELETE", self._s(""))
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(5)
