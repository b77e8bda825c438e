"""Generates docs/collector-config.md from the option declarations
(`python -m collector.docs`)."""

from __future__ import annotations

from collector.config import CollectorConfig
from energy_common.configspec import table

INTRO = """# Collector configuration reference

Generated from the sections the rooms declare (each room's `settings.py`, assembled by
`collector/config.py`) by `python -m collector.docs > docs/collector-config.md`; a test keeps
it current. Every option is optional: with no file the collector runs the
embedded default (SQLite ledger in `run/collector/`, HTTP ingest and /metrics on
127.0.0.1:8750). Nested keys are nested YAML mappings. A production example is
`configs/collector.example.yaml`; power profiles live in `collector/model/power-profiles.yaml`.
`model.hypervisors` is a list of mappings with the `model.hypervisors[].*` keys.
"""


def render() -> str:
    return INTRO + "\n" + table(CollectorConfig)


if __name__ == "__main__":
    print(render(), end="")
