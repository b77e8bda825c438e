"""The Windows service's life apart from ctypes: what it tells the SCM and how controls stop
the agent (the SCM itself is exercised under Wine in test_windows_runtime.py)."""

from __future__ import annotations

import threading

from agent.winservice import (
    ERROR_CALL_NOT_IMPLEMENTED,
    ERROR_SERVICE_SPECIFIC_ERROR,
    NO_ERROR,
    SERVICE_ACCEPT_PRESHUTDOWN,
    SERVICE_ACCEPT_SHUTDOWN,
    SERVICE_ACCEPT_STOP,
    SERVICE_CONTROL_INTERROGATE,
    SERVICE_CONTROL_PRESHUTDOWN,
    SERVICE_CONTROL_SHUTDOWN,
    SERVICE_CONTROL_STOP,
    SERVICE_RUNNING,
    SERVICE_START_PENDING,
    SERVICE_STOP_PENDING,
    SERVICE_STOPPED,
    AgentService,
    ServiceStatus,
)


class FakeAgent:
    def __init__(self, fail: bool = False) -> None:
        self.stopped = threading.Event()
        self.fail = fail
        self.signals: bool | None = None

    def stop(self) -> None:
        self.stopped.set()

    def run(self, handle_signals: bool = True) -> None:
        self.signals = handle_signals
        if self.fail:
            raise RuntimeError("spool directory not writable")
        assert self.stopped.wait(10)


def start(agent: FakeAgent) -> tuple[AgentService, list[tuple[int, ...]], threading.Thread]:
    said: list[tuple[int, ...]] = []
    svc = AgentService(ServiceStatus(lambda *a: said.append(a)), lambda: agent)
    t = threading.Thread(target=svc.run)
    t.start()
    return svc, said, t


def test_start_pending_then_running_then_each_stop_control_stops_cleanly():
    for control in (SERVICE_CONTROL_STOP, SERVICE_CONTROL_SHUTDOWN, SERVICE_CONTROL_PRESHUTDOWN):
        agent = FakeAgent()
        svc, said, t = start(agent)
        while not said or said[-1][0] != SERVICE_RUNNING:
            threading.Event().wait(0.01)
        assert svc.control(SERVICE_CONTROL_INTERROGATE) == NO_ERROR
        assert svc.control(control) == NO_ERROR
        t.join(10)
        states = [s[0] for s in said]
        assert states == [
            SERVICE_START_PENDING,
            SERVICE_RUNNING,
            SERVICE_STOP_PENDING,
            SERVICE_STOPPED,
        ]
        # no controls while starting; stop, shutdown and preshutdown once running
        assert said[0][1] == 0
        assert (
            said[1][1] == SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PRESHUTDOWN
        )
        # pending states count checkpoints and give a wait hint; settled ones do not
        assert said[0][3] == 1 and said[0][4] > 0 and said[2][4] > 0
        assert said[1][3] == 0 and said[3][2] == 0
        assert agent.signals is False  # signal handlers belong to the main thread only


def test_unknown_controls_are_not_implemented():
    agent = FakeAgent()
    svc, _, t = start(agent)
    assert svc.control(0x0D) == ERROR_CALL_NOT_IMPLEMENTED  # power event: not accepted
    svc.control(SERVICE_CONTROL_STOP)
    t.join(10)


def test_a_failing_agent_stops_with_a_service_specific_error_for_the_recovery_actions():
    svc, said, t = start(FakeAgent(fail=True))
    t.join(10)
    assert said[-1][0] == SERVICE_STOPPED
    assert said[-1][2] == ERROR_SERVICE_SPECIFIC_ERROR
    assert svc.exit_code == 1


def test_a_stop_while_starting_stops_the_agent_at_once():
    agent = FakeAgent()
    said: list[tuple[int, ...]] = []
    svc: AgentService

    def make() -> FakeAgent:
        svc.control(SERVICE_CONTROL_STOP)  # the SCM asks before the agent exists
        return agent

    svc = AgentService(ServiceStatus(lambda *a: said.append(a)), make)
    svc.run()
    assert agent.stopped.is_set()
    assert [s[0] for s in said] == [SERVICE_START_PENDING, SERVICE_STOP_PENDING, SERVICE_STOPPED]
