"""Shared fixtures: real services (tests/services.py) and fakes of what cannot run here."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from services import Mosquitto, VictoriaMetrics


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Mosquitto]:
    """One Mosquitto for the session; tests that stop it use `private_broker` instead."""
    m = Mosquitto(tmp_path_factory.mktemp("mosquitto")).start()
    yield m
    m.stop()


@pytest.fixture
def private_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    m = Mosquitto(tmp_path / "mosquitto").start()
    yield m
    m.stop()


@pytest.fixture(scope="session")
def postgres_admin_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A PostgreSQL server: $ENERGY_TEST_POSTGRES_URL if set, else a throw-away cluster."""
    import os

    from services import Postgres

    given = os.environ.get("ENERGY_TEST_POSTGRES_URL")
    if given:
        yield given
        return
    pg = Postgres().start()
    yield pg.url()
    pg.stop()


@pytest.fixture
def postgres_url(postgres_admin_url: str, request: pytest.FixtureRequest) -> str:
    import re

    from services import fresh_database

    name = "t_" + re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())[:50]
    return fresh_database(postgres_admin_url, name)


@pytest.fixture
def victoria(tmp_path: Path) -> Iterator[VictoriaMetrics]:
    vm = VictoriaMetrics(tmp_path / "vm").start()
    yield vm
    vm.stop()


@pytest.fixture(scope="session")
def wine_prefix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """One throw-away WINEPREFIX (with its own wineserver) for the session's Windows tests."""
    from wine import WinePrefix

    prefix = WinePrefix(tmp_path_factory.mktemp("wineprefix")).start()
    yield prefix
    prefix.stop()


@pytest.fixture(scope="session")
def win_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The official Windows CPython with this checkout's agent in its site-packages."""
    from wine import runtime_with_agent

    return runtime_with_agent(tmp_path_factory.mktemp("winpython") / "python") / "python.exe"


@pytest.fixture(scope="session")
def simulated_year(tmp_path_factory: pytest.TempPathFactory, broker: Mosquitto) -> object:
    """A year of 30 simulated agents and 3 datacenters' bills, filled once per session
    through a real collector (MQTT ingest, import-readings); tests copy its ledger."""
    from year_helpers import fill_year

    return fill_year(tmp_path_factory.mktemp("simulated-year"), broker.port)
