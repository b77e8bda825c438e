"""Delivering the morning report: e-mail (SMTP, STARTTLS or implicit TLS, auth) and webhooks
(the JSON document, or `{"text": …}` for Mattermost and Teams incoming webhooks).

Each delivery runs on its own thread with retries and a doubling delay, and logs every
attempt, so a receiver that is down never blocks the collector.
"""

from __future__ import annotations

import json
import logging
import smtplib
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from collector.compliance.report import WORDS, to_csv, to_text
from collector.compliance.settings import ReportConfig, SmtpConfig, WebhookConfig

log = logging.getLogger("energy_collector.report")


def send_email(cfg: SmtpConfig, rep: dict[str, Any], language: str) -> None:
    if not cfg.host or not cfg.recipients:
        return
    msg = EmailMessage()
    day = rep["periods"][0][0] if rep["periods"] else ""
    msg["Subject"] = f"{WORDS[language]['title']} ({day})"
    msg["From"] = cfg.sender
    msg["To"] = ", ".join(cfg.recipients)
    msg.set_content(to_text(rep, language))
    msg.add_attachment(
        to_csv(rep).encode(),
        maintype="text",
        subtype="csv",
        filename=f"machines-allumees-{day}.csv",
    )
    password = None
    if cfg.password_file:
        password = Path(cfg.password_file).read_text().splitlines()[0].strip()
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if cfg.ssl:
        smtp = smtplib.SMTP_SSL(cfg.host, cfg.port, timeout=30, context=context)
    else:
        smtp = smtplib.SMTP(cfg.host, cfg.port, timeout=30)
    with smtp:
        if cfg.starttls and not cfg.ssl:
            smtp.starttls(context=context)
        if cfg.username:
            smtp.login(cfg.username, password or "")
        smtp.send_message(msg)


def send_webhook(cfg: WebhookConfig, rep: dict[str, Any], language: str) -> None:
    doc: Any = {"text": to_text(rep, language)} if cfg.format == "text" else rep
    req = urllib.request.Request(
        cfg.url,
        data=json.dumps(doc).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        if resp.status >= 300:
            raise OSError(f"HTTP {resp.status}")


class Deliverer:
    def __init__(self, cfg: ReportConfig) -> None:
        self.cfg = cfg
        self.threads: list[threading.Thread] = []
        self.results: list[tuple[str, bool]] = []  # (target, delivered) for status and tests

    def deliver(self, rep: dict[str, Any]) -> list[threading.Thread]:
        lang = self.cfg.language
        jobs: list[tuple[str, Callable[[], None]]] = []
        if self.cfg.smtp.host and self.cfg.smtp.recipients:
            jobs.append(
                (
                    f"smtp://{self.cfg.smtp.host}:{self.cfg.smtp.port}",
                    lambda: send_email(self.cfg.smtp, rep, lang),
                )
            )
        for hook in self.cfg.webhooks:
            jobs.append((hook.url, lambda h=hook: send_webhook(h, rep, lang)))  # type: ignore[misc]
        started = []
        for target, job in jobs:
            th = threading.Thread(
                target=self._retry, args=(target, job), daemon=True, name=f"report→{target}"
            )
            th.start()
            started.append(th)
        self.threads.extend(started)
        return started

    def _retry(self, target: str, job: Callable[[], None]) -> None:
        delay = self.cfg.retry_delay_s
        for attempt in range(1, self.cfg.retries + 1):
            try:
                job()
            except Exception as exc:
                log.warning(
                    "morning report to %s: attempt %d/%d failed: %s",
                    target,
                    attempt,
                    self.cfg.retries,
                    exc,
                )
                if attempt < self.cfg.retries:
                    time.sleep(delay)
                    delay *= 2
                continue
            log.info("morning report delivered to %s", target)
            self.results.append((target, True))
            return
        log.error("morning report to %s: given up after %d attempts", target, self.cfg.retries)
        self.results.append((target, False))
