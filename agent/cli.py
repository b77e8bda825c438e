"""`energy-agent`: run the agent, print one report, check a configuration, or run the
per-user idle helper (Windows)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path

from agent import __version__
from agent.config import DEFAULT_CONFIG, AgentConfig, ConfigError, config_path, load_config
from energy_common.configspec import read_secret


def _load(arg: str | None) -> AgentConfig:
    return load_config(config_path(arg))


def cmd_run(args: argparse.Namespace) -> int:
    from agent.service import Agent

    cfg = _load(args.config)
    logging.basicConfig(
        level=cfg.log_level.upper(),
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("energy_agent").info(
        "configuration: %s", config_path(args.config) or "built-in defaults"
    )
    Agent(cfg, reload=lambda: _load(args.config)).run()
    return 0


def cmd_once(args: argparse.Namespace) -> int:
    """Sample for a few seconds and print the report this machine would send. Read-only: it
    neither creates an id nor touches the running agent's state or spool."""
    from agent.platform import get_platform
    from agent.state import load_state
    from agent.timeline import Sample, Timeline
    from energy_common.schema import Host, Report, parse_report, report_to_json

    cfg = _load(args.config)
    platform = get_platform()
    id_file = cfg.state_path / "agent_id"
    agent_id = (
        id_file.read_text().strip() if id_file.exists() else "00000000-0000-4000-8000-000000000000"
    )
    state = load_state(cfg.state_path)
    facts = platform.host_facts()

    def take() -> Sample:
        c = platform.clocks()
        return Sample(c, platform.cpu_times(), platform.last_input(c, cfg.idle_threshold_s))

    first = take()
    time.sleep(args.seconds)
    second = take()
    tl = Timeline(
        first.clocks.wall,
        idle_threshold_s=cfg.idle_threshold_s,
        busy_cpu_threshold=cfg.busy_cpu_threshold,
        suspend_threshold_s=cfg.suspend_threshold_s,
    )
    tl.advance(first, second)
    blockers = []
    unreadable: tuple[str, ...] = ()
    if cfg.sleep_blockers.enabled:
        found = platform.sleep_blockers(cfg.sleep_blockers.reasons)
        if found is None:
            unreadable = ("sleep_blockers",)
        blockers = [
            {k: v for k, v in (("app", b.app), ("what", b.what), ("reason", b.reason)) if v}
            for b in found or ()
        ]
    kind = facts.detected_kind if cfg.kind == "auto" else cfg.kind
    report = Report(
        agent_id=agent_id,
        seq=state.next_seq if state else 0,
        sent_at=second.clocks.wall,
        host=Host(
            hostname=facts.hostname,
            kind=kind,
            model=facts.model,
            os=facts.os,
            site=cfg.site,
            department=cfg.department,
            manufactured=facts.manufactured,
            cpus=facts.cpus,
            memory_bytes=facts.memory_bytes,
            tags=dict(cfg.tags),
            serial=facts.serial if cfg.report_hardware_ids else None,
            smbios_uuid=facts.smbios_uuid if cfg.report_hardware_ids else None,
            macs=facts.macs if cfg.report_hardware_ids else (),
        ),
        boot_time=platform.boot_time(),
        segments=tuple(tl.take()),
        sleep_blockers=tuple(blockers),
        agent_version=__version__,
        unreadable=unreadable,
    )
    doc = report_to_json(report)
    parse_report(doc)  # what we print must be what the collector accepts
    print(json.dumps(doc, indent=2))
    return 0


def cmd_check_config(args: argparse.Namespace) -> int:
    path = config_path(args.config)
    cfg = load_config(path)
    # the resolved state directory (not `None` for the default), and every secret file read
    # now rather than at the service's first start
    for value, file, what in (
        (cfg.mqtt.password, cfg.mqtt.password_file, "mqtt.password_file"),
        (cfg.http.token, cfg.http.token_file, "http.token_file"),
        (None, cfg.http.enrolment_secret_file, "http.enrolment_secret_file"),
        (None, cfg.mqtt.enrolment_secret_file, "mqtt.enrolment_secret_file"),
    ):
        if value is not None or file is not None:
            read_secret(value, file, what)
    print(
        f"{path or '<built-in defaults>'}: OK (transport: {cfg.transport}, "
        f"state_dir: {cfg.state_path.resolve()})"
    )
    return 0


def cmd_idle_helper(args: argparse.Namespace) -> int:
    from agent.platform._windows import default_helper_dir, run_idle_helper

    if sys.platform != "win32":
        print("energy-agent idle-helper: Windows only (Linux reads logind)", file=sys.stderr)
        return 2
    import threading

    from agent import notice

    # the same logon program shows the policy's warnings (a message box of its own thread)
    notice_dir = Path(args.notice_dir) if args.notice_dir else _notice_dir(args)
    threading.Thread(
        target=notice.run_helper,
        args=(notice_dir, notice.show_windows),
        name="notice-helper",
        daemon=True,
    ).start()
    run_idle_helper(Path(args.dir) if args.dir else default_helper_dir(), args.interval)
    return 0


def _notice_dir(args: argparse.Namespace) -> Path:
    return _load(getattr(args, "config", None)).notice_path


def cmd_notice_helper(args: argparse.Namespace) -> int:
    """The per-user helper showing the sleep policy's warnings (Linux: run from the XDG
    autostart entry in configs/xdg/; Windows: part of idle-helper)."""
    from agent import notice

    directory = Path(args.dir) if args.dir else _notice_dir(args)
    notice.run_helper(directory, notice.default_show(), args.interval)
    return 0


def cmd_service(args: argparse.Namespace) -> int:
    if sys.platform != "win32":
        print("energy-agent service: Windows only (on Linux, systemd runs `run`)", file=sys.stderr)
        return 2
    from agent.winservice import program_data, serve, setup_logging

    try:
        return serve(args.config)
    except Exception:
        # started by the SCM there is no console: say it where ops look
        if sys.stderr is None:
            setup_logging("info", program_data() / "logs")
        logging.getLogger("energy_agent").exception("service: could not start")
        return 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="energy-agent", description=__doc__)
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, func, text in (
        ("run", cmd_run, "run the agent (the service)"),
        ("once", cmd_once, "print one report as JSON and exit"),
        ("check-config", cmd_check_config, "validate the configuration"),
        ("service", cmd_service, "run as a Windows service (what the SCM starts)"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument(
            "-c",
            "--config",
            help=f"YAML file (default {DEFAULT_CONFIG} if present, "
            "else built-in defaults; or $ENERGY_AGENT_CONFIG)",
        )
        p.set_defaults(func=func)
        if name == "once":
            p.add_argument("--seconds", type=float, default=2.0, help="sampling time")
    p = sub.add_parser("idle-helper", help="per-user input idle helper (Windows)")
    p.add_argument("--dir", help="where session files are written")
    p.add_argument("--interval", type=float, default=15.0)
    p.add_argument("--notice-dir", help="where the policy's warnings are posted")
    p.add_argument("-c", "--config", help="YAML file (for policy.notice_dir)")
    p.set_defaults(func=cmd_idle_helper)
    p = sub.add_parser("notice-helper", help="per-user helper showing sleep warnings")
    p.add_argument("--dir", help="the notice directory (default: from the configuration)")
    p.add_argument("--interval", type=float, default=5.0)
    p.add_argument("-c", "--config", help="YAML file (for policy.notice_dir)")
    p.set_defaults(func=cmd_notice_helper)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"energy-agent: invalid configuration: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
