"""Generates docs/agent-config.md from the option declarations (`python -m agent.docs`)."""

from __future__ import annotations

from agent.config import AgentConfig
from agent.configspec import reference

HEADER = """# Agent configuration reference

Generated from `agent/config.py` by `python -m agent.docs > docs/agent-config.md`; a test
keeps it current. Every option is optional: with no file the agent prints its reports to
stdout. The file is YAML; nested keys below are written as nested mappings
(`mqtt.tls.enabled: true` is `mqtt: {tls: {enabled: true}}`). An example for production is
`configs/agent.example.yaml`.

| key | default | meaning |
|---|---|---|
"""


def render() -> str:
    return HEADER + "\n".join(reference(AgentConfig)) + "\n"


if __name__ == "__main__":
    print(render(), end="")
