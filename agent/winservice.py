"""The agent as a Windows service: `python.exe -m agent service` is what the Service Control
Manager starts (the MSI registers it; `sc create` does too).

It speaks to the SCM through advapi32 with ctypes (StartServiceCtrlDispatcherW,
RegisterServiceCtrlHandlerExW, SetServiceStatus): no pythonservice.exe host, no pywin32, one
process. The service main reports START_PENDING, loads the configuration, reports RUNNING and
runs the agent; stop, shutdown and preshutdown controls stop it cleanly (a last report, the
stop marked clean, so the next start reports the time in between as `off`). A fatal error is
reported as a service-specific exit code, which the SCM's recovery actions (set by the MSI:
restart after 60 s, with FailureActionsOnNonCrashFailures) answer with a restart.

Logs go to `%ProgramData%\\EnergyAgent\\logs\\agent.log` (rotated) and, from warning up, to the
Application event log (source EnergyAgent). A service never reports to standard output: with no
destination configured (as Group Policy installs the MSI, with no property) it spools and says
so once; the settings it reads again while running (agent/reload.py) name one later.
"""

from __future__ import annotations

import ctypes
import logging
import logging.handlers
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent.windirs import agent_dir

SERVICE_NAME = "EnergyAgent"

SERVICE_WIN32_OWN_PROCESS = 0x10
SERVICE_STOPPED, SERVICE_START_PENDING, SERVICE_STOP_PENDING, SERVICE_RUNNING = 1, 2, 3, 4
SERVICE_ACCEPT_STOP, SERVICE_ACCEPT_SHUTDOWN, SERVICE_ACCEPT_PRESHUTDOWN = 0x1, 0x4, 0x100
SERVICE_CONTROL_STOP, SERVICE_CONTROL_INTERROGATE = 0x1, 0x4
SERVICE_CONTROL_SHUTDOWN, SERVICE_CONTROL_PRESHUTDOWN = 0x5, 0xF
NO_ERROR, ERROR_CALL_NOT_IMPLEMENTED = 0, 120
ERROR_FAILED_SERVICE_CONTROLLER_CONNECT = 1063
ERROR_SERVICE_SPECIFIC_ERROR = 1066
EVENTLOG_ERROR_TYPE, EVENTLOG_WARNING_TYPE, EVENTLOG_INFORMATION_TYPE = 1, 2, 4
STOP_WAIT_HINT_MS = 15_000  # the agent's last report and flush take at most a few seconds

log = logging.getLogger("energy_agent")


def program_data() -> Path:
    return Path(agent_dir())


class ServiceStatus:
    """What the service tells the SCM; `report` is SetServiceStatus (or a fake in tests)."""

    def __init__(self, report: Callable[[int, int, int, int, int], None]) -> None:
        self._report = report
        self.checkpoint = 0

    def set(self, state: int, exit_code: int = 0, wait_hint_ms: int = 0) -> None:
        pending = state in (SERVICE_START_PENDING, SERVICE_STOP_PENDING)
        self.checkpoint = self.checkpoint + 1 if pending else 0
        accepted = (
            0
            if state == SERVICE_START_PENDING
            else SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PRESHUTDOWN
        )
        self._report(state, accepted, exit_code, self.checkpoint, wait_hint_ms)


class AgentService:
    """The service's life, apart from ctypes: run() is the service main, control() the SCM's
    handler. `make_agent` builds the agent (from the configuration) once START_PENDING is said."""

    def __init__(self, status: ServiceStatus, make_agent: Callable[[], Any]) -> None:
        self.status = status
        self.make_agent = make_agent
        self.agent: Any = None
        self._stopping = threading.Event()
        self.exit_code = 0

    def control(self, code: int) -> int:
        if code in (SERVICE_CONTROL_STOP, SERVICE_CONTROL_SHUTDOWN, SERVICE_CONTROL_PRESHUTDOWN):
            why = {SERVICE_CONTROL_STOP: "stop", SERVICE_CONTROL_SHUTDOWN: "shutdown"}.get(
                code, "preshutdown"
            )
            log.info("service: %s requested", why)
            self.status.set(SERVICE_STOP_PENDING, wait_hint_ms=STOP_WAIT_HINT_MS)
            self._stopping.set()
            if self.agent is not None:
                self.agent.stop()
            return NO_ERROR
        if code == SERVICE_CONTROL_INTERROGATE:
            return NO_ERROR
        return ERROR_CALL_NOT_IMPLEMENTED

    def run(self) -> int:
        self.status.set(SERVICE_START_PENDING, wait_hint_ms=30_000)
        try:
            self.agent = self.make_agent()
            if self._stopping.is_set():  # stopped while starting: never said RUNNING
                self.agent.stop()
            else:
                self.status.set(SERVICE_RUNNING)
            self.agent.run(handle_signals=False)
        except Exception:
            log.exception("service: the agent failed; the SCM's recovery actions restart it")
            self.exit_code = 1
            self.status.set(SERVICE_STOPPED, exit_code=ERROR_SERVICE_SPECIFIC_ERROR)
            return 1
        self.status.set(SERVICE_STOPPED)
        return 0


class EventLogHandler(logging.Handler):
    """Records to the Application event log (ReportEventW). The MSI registers the source with
    .NET's EventLogMessages.dll as message file, whose every message is "%1"."""

    def __init__(self, source: str = SERVICE_NAME, level: int = logging.WARNING) -> None:
        super().__init__(level)
        windll: Any = ctypes.windll  # type: ignore[attr-defined]
        self._advapi = windll.advapi32
        self._advapi.RegisterEventSourceW.restype = ctypes.c_void_p
        self._advapi.RegisterEventSourceW.argtypes = (ctypes.c_wchar_p, ctypes.c_wchar_p)
        self._advapi.ReportEventW.argtypes = (
            ctypes.c_void_p,
            ctypes.c_ushort,
            ctypes.c_ushort,
            ctypes.c_ulong,
            ctypes.c_void_p,
            ctypes.c_ushort,
            ctypes.c_ulong,
            ctypes.POINTER(ctypes.c_wchar_p),
            ctypes.c_void_p,
        )
        self._handle = self._advapi.RegisterEventSourceW(None, source)

    def emit(self, record: logging.LogRecord) -> None:
        if not self._handle:
            return
        kind = (
            EVENTLOG_ERROR_TYPE
            if record.levelno >= logging.ERROR
            else EVENTLOG_WARNING_TYPE
            if record.levelno >= logging.WARNING
            else EVENTLOG_INFORMATION_TYPE
        )
        strings = (ctypes.c_wchar_p * 1)(self.format(record)[:31_000])
        event_id = {EVENTLOG_ERROR_TYPE: 3, EVENTLOG_WARNING_TYPE: 2}.get(kind, 1)
        self._advapi.ReportEventW(self._handle, kind, 0, event_id, None, 1, 0, strings, None)

    def close(self) -> None:
        if self._handle:
            self._advapi.DeregisterEventSource(ctypes.c_void_p(self._handle))
            self._handle = None
        super().close()


def setup_logging(level: str, log_dir: Path, event_log: bool = True) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    root.setLevel(level.upper())
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    rotating = logging.handlers.RotatingFileHandler(
        log_dir / "agent.log", maxBytes=1_000_000, backupCount=3, encoding="utf-8"
    )
    rotating.setFormatter(fmt)
    root.addHandler(rotating)
    if event_log:
        try:
            handler = EventLogHandler()
        except (AttributeError, OSError) as exc:
            log.warning("service: no event log (%s); logging to %s only", exc, log_dir)
        else:
            handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
            root.addHandler(handler)


def serve(config_path: str | None) -> int:
    """Hand the process to the SCM. Returns 2 when not started by the SCM.

    The dispatcher is reached before anything heavy is imported: the SCM (and Wine's, which
    is quicker to give up) waits only so long for a new service process to connect."""
    advapi = ctypes.WinDLL("advapi32", use_last_error=True)  # type: ignore[attr-defined]
    winfunctype: Any = ctypes.WINFUNCTYPE  # type: ignore[attr-defined]
    service_main_t = winfunctype(None, ctypes.c_ulong, ctypes.POINTER(ctypes.c_wchar_p))
    handler_t = winfunctype(
        ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_void_p
    )

    class SERVICE_STATUS(ctypes.Structure):
        _fields_ = tuple(
            (name, ctypes.c_ulong)
            for name in (
                "dwServiceType",
                "dwCurrentState",
                "dwControlsAccepted",
                "dwWin32ExitCode",
                "dwServiceSpecificExitCode",
                "dwCheckPoint",
                "dwWaitHint",
            )
        )

    class SERVICE_TABLE_ENTRYW(ctypes.Structure):
        _fields_ = (("lpServiceName", ctypes.c_wchar_p), ("lpServiceProc", service_main_t))

    advapi.RegisterServiceCtrlHandlerExW.restype = ctypes.c_void_p
    advapi.RegisterServiceCtrlHandlerExW.argtypes = (ctypes.c_wchar_p, handler_t, ctypes.c_void_p)
    advapi.SetServiceStatus.argtypes = (ctypes.c_void_p, ctypes.POINTER(SERVICE_STATUS))
    handle: list[int] = []
    result = [0]

    def report(state: int, accepted: int, exit_code: int, checkpoint: int, hint: int) -> None:
        st = SERVICE_STATUS(
            SERVICE_WIN32_OWN_PROCESS,
            state,
            accepted,
            exit_code,
            1 if exit_code == ERROR_SERVICE_SPECIFIC_ERROR else 0,
            checkpoint,
            hint,
        )
        if handle and not advapi.SetServiceStatus(handle[0], ctypes.byref(st)):
            log.warning("service: SetServiceStatus failed (error %d)", ctypes.get_last_error())  # type: ignore[attr-defined]

    def make_agent() -> Any:
        # imported here: the dispatcher must be reached before anything heavy is loaded
        from agent.config import config_path as resolve
        from agent.config import load_config
        from agent.service import Agent

        def load() -> Any:
            # the YAML may appear later (a Group Policy file item): its path is looked up again
            return load_config(resolve(config_path))

        cfg = load()
        setup_logging(cfg.log_level, cfg.state_path / "logs")
        log.info("service: configuration %s", resolve(config_path) or "built-in defaults")
        return Agent(cfg, reload=load, console=False)

    service = AgentService(ServiceStatus(report), make_agent)

    @handler_t
    def on_control(code: int, event_type: int, data: Any, context: Any) -> int:
        return service.control(code)

    @service_main_t
    def service_main(argc: int, argv: Any) -> None:
        h = advapi.RegisterServiceCtrlHandlerExW(SERVICE_NAME, on_control, None)
        if not h:
            return
        handle.append(h)
        result[0] = service.run()
        # STOPPED is said: leave at once, from here, so that an uninstall or upgrade waiting
        # on the stop finds no file of ours still mapped (state is saved, the spool closed)
        logging.shutdown()
        os._exit(result[0])

    table = (SERVICE_TABLE_ENTRYW * 2)(
        SERVICE_TABLE_ENTRYW(SERVICE_NAME, service_main), SERVICE_TABLE_ENTRYW()
    )
    if not advapi.StartServiceCtrlDispatcherW(table):
        err = ctypes.get_last_error()  # type: ignore[attr-defined]
        if err == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT:
            print(
                "energy-agent service: this is what the Service Control Manager starts; "
                "from a console use `energy-agent run`",
                file=sys.stderr,
            )
            return 2
        print(f"energy-agent service: StartServiceCtrlDispatcherW failed ({err})", file=sys.stderr)
        return 1
    return result[0]
