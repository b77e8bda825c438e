"""Generates docs/agent-config.md from the option declarations (`python -m agent.docs`)."""

from __future__ import annotations

from agent.config import AgentConfig
from agent.configspec import reference

INTRO = """# Agent configuration reference

Generated from `agent/config.py` by `python -m agent.docs > docs/agent-config.md`; a test
keeps it current. Every option is optional: with no file the agent prints its reports to
stdout. The file is YAML; nested keys below are written as nested mappings
(`mqtt.tls.enabled: true` is `mqtt: {tls: {enabled: true}}`). An example for production is
`configs/agent.example.yaml`.
"""


def table(cls: type) -> str:
    return "| key | default | meaning |\n|---|---|---|\n" + "\n".join(reference(cls)) + "\n"


def render() -> str:
    return INTRO + "\n" + table(AgentConfig)


if __name__ == "__main__":
    print(render(), end="")
