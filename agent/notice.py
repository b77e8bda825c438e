"""The warning in the user's session before the policy acts, and the user's answer.

The service cannot draw on a user's desktop (Windows session 0; a Linux system service has no
display), so it writes one small file, `warning.json`, into the notice directory; a helper
running in each user session (`energy-agent notice-helper`: started at logon by the MSI on
Windows, by an XDG autostart entry on Linux) shows it and writes the answer back as
`answer-<random>.json`. Nothing else crosses: no user name, no session detail.

On Windows the notice directory is the idle helper's directory (users may write there); on
Linux it is `$RUNTIME_DIRECTORY/notice` (the unit's RuntimeDirectory) with an `answers`
folder users may drop files in but not list (mode 1733).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("energy_agent.notice")

WARNING_FILE = "warning.json"
ANSWER_PREFIX = "answer-"
MAX_ANSWER_BYTES = 512

# The user-facing text: French first (the city's staff), English for the others.
TEXT = {
    "fr": {
        "title": "Mise en veille automatique",
        "sleep": "Ce poste va se mettre en veille dans {minutes} min",
        "hibernate": "Ce poste va se mettre en veille prolongée dans {minutes} min",
        "shutdown": "Ce poste va s'éteindre dans {minutes} min",
        "why": "Hors des heures de travail, la Ville met en veille les postes inutilisés "
        "pour économiser l'énergie. Enregistrez votre travail.",
        "postpone": "Reporter d'une heure",
        "not_tonight": "Pas ce soir",
        "buttons": "Oui : reporter d'une heure. Non : pas ce soir. Annuler : laisser faire.",
    },
    "en": {
        "title": "Automatic sleep",
        "sleep": "This computer will go to sleep in {minutes} min",
        "hibernate": "This computer will hibernate in {minutes} min",
        "shutdown": "This computer will shut down in {minutes} min",
        "why": "Outside working hours the city puts unused computers to sleep to save "
        "energy. Please save your work.",
        "postpone": "Postpone one hour",
        "not_tonight": "Not tonight",
        "buttons": "Yes: postpone one hour. No: not tonight. Cancel: go ahead.",
    },
}


@dataclass(frozen=True)
class Notice:
    id: str
    action: str
    deadline: float
    postpone: bool
    not_tonight: bool
    lang: str = "fr"

    def text(self, now: float) -> tuple[str, str]:
        t = TEXT.get(self.lang, TEXT["fr"])
        minutes = max(1, round((self.deadline - now) / 60))
        return t["title"], t[self.action].format(minutes=minutes) + ". " + t["why"]


class NoticeBoard:
    """The service's side: post a warning, take it back, collect the answers to it."""

    def __init__(self, directory: Path, lang: str = "fr") -> None:
        self.dir = directory
        self.lang = lang
        self.current: Notice | None = None
        try:
            directory.mkdir(parents=True, exist_ok=True)
            answers = directory / "answers"
            answers.mkdir(exist_ok=True)
            if os.name != "nt":
                directory.chmod(0o755)
                answers.chmod(0o1733)  # anyone may drop an answer; nobody may list them
        except OSError as exc:
            log.warning("notice: %s unusable (%s); warnings cannot be shown", directory, exc)

    def post(self, action: str, deadline: float, postpone: bool, not_tonight: bool) -> None:
        w = Notice(secrets.token_hex(8), action, deadline, postpone, not_tonight, self.lang)
        doc = {
            "id": w.id,
            "action": w.action,
            "deadline": round(w.deadline, 3),
            "postpone": w.postpone,
            "not_tonight": w.not_tonight,
            "lang": w.lang,
        }
        try:
            tmp = self.dir / (WARNING_FILE + ".tmp")
            tmp.write_text(json.dumps(doc), encoding="utf-8")
            if os.name != "nt":
                tmp.chmod(0o644)
            os.replace(tmp, self.dir / WARNING_FILE)
            self.current = w
        except OSError as exc:
            log.warning("notice: cannot post the warning (%s)", exc)

    def withdraw(self) -> None:
        self.current = None
        try:
            (self.dir / WARNING_FILE).unlink()
        except FileNotFoundError:
            pass
        except OSError as exc:
            log.warning("notice: cannot withdraw the warning (%s)", exc)

    def answers(self) -> list[str]:
        """Answers to the warning on show (`postpone`, `not_tonight`); others are dropped.
        No warning on show: nothing to read (the folders are not even listed)."""
        if self.current is None:
            return []
        out = []
        for folder in (self.dir / "answers", self.dir):
            try:
                files = sorted(folder.glob(ANSWER_PREFIX + "*.json"))
            except OSError:
                continue
            for f in files:
                try:
                    if f.stat().st_size <= MAX_ANSWER_BYTES:
                        doc = json.loads(f.read_text(encoding="utf-8"))
                        ok = self.current is not None and doc.get("id") == self.current.id
                        if ok and doc.get("answer") in ("postpone", "not_tonight"):
                            out.append(str(doc["answer"]))
                except (OSError, ValueError, AttributeError):
                    pass
                with contextlib.suppress(OSError):
                    f.unlink()
        return out


# -- the helper in the user's session ------------------------------------------------------------

Show = Callable[[Notice, float], str | None]  # the warning → "postpone" | "not_tonight" | None


def read_warning(directory: Path) -> Notice | None:
    try:
        doc = json.loads((directory / WARNING_FILE).read_text(encoding="utf-8"))
        return Notice(
            str(doc["id"]),
            str(doc["action"]) if doc["action"] in ("sleep", "hibernate", "shutdown") else "sleep",
            float(doc["deadline"]),
            bool(doc.get("postpone", True)),
            bool(doc.get("not_tonight", True)),
            str(doc.get("lang", "fr")) if doc.get("lang") in TEXT else "fr",
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def write_answer(directory: Path, warning: Notice, answer: str) -> None:
    folder = directory / "answers"
    if not folder.is_dir():
        folder = directory
    path = folder / f"{ANSWER_PREFIX}{secrets.token_hex(8)}.json"
    path.write_text(json.dumps({"id": warning.id, "answer": answer}), encoding="utf-8")


def run_helper(
    directory: Path,
    show: Show,
    interval_s: float = 5.0,
    stop: Callable[[], bool] = lambda: False,
) -> None:
    """Show each new warning once; write the user's answer, if any."""
    seen: set[str] = set()
    while not stop():
        w = read_warning(directory)
        if w is not None and w.id not in seen and w.deadline > time.time():
            seen.add(w.id)
            answer = show(w, time.time())
            if answer in ("postpone", "not_tonight"):
                try:
                    write_answer(directory, w, answer)
                except OSError as exc:
                    log.warning("notice helper: cannot write the answer (%s)", exc)
        time.sleep(interval_s)


def show_linux(w: Notice, now: float) -> str | None:
    """A desktop notification (freedesktop Notifications through `notify-send`) with two
    actions; `--wait` returns the action the user clicked (libnotify 0.7.9 and later)."""
    title, body = w.text(now)
    t = TEXT.get(w.lang, TEXT["fr"])
    cmd = ["notify-send", "--app-name=energy-agent", "--urgency=critical", "--wait"]
    cmd.append(f"--expire-time={max(int((w.deadline - now) * 1000), 1000)}")
    if w.postpone:
        cmd.append(f"--action=postpone={t['postpone']}")
    if w.not_tonight:
        cmd.append(f"--action=not_tonight={t['not_tonight']}")
    try:
        done = subprocess.run(
            [*cmd, title, body], capture_output=True, text=True, timeout=w.deadline - now + 5
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        log.warning("notice helper: notify-send failed (%s)", exc)
        return None
    answer = done.stdout.strip().splitlines()[-1:] if done.stdout.strip() else []
    return answer[0] if answer and answer[0] in ("postpone", "not_tonight") else None


def show_windows(w: Notice, now: float) -> str | None:
    """MessageBoxW in the user's session: Yes = postpone, No = not tonight, Cancel = go
    ahead. The box closes by itself when the service acts (the PC sleeps)."""
    import ctypes

    title, body = w.text(now)
    t = TEXT.get(w.lang, TEXT["fr"])
    mb_yesnocancel, mb_iconwarning, mb_topmost, mb_setforeground = 0x3, 0x30, 0x40000, 0x10000
    flags = mb_yesnocancel | mb_iconwarning | mb_topmost | mb_setforeground
    windll = ctypes.windll  # type: ignore[attr-defined]
    code = windll.user32.MessageBoxW(None, body + "\n\n" + t["buttons"], title, flags)
    return {6: "postpone", 7: "not_tonight"}.get(code)


def default_show() -> Show:
    return show_windows if sys.platform == "win32" else show_linux
