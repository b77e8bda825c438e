"""Generates docs/agent-config.md from the option declarations (`python -m agent.docs`)."""

from __future__ import annotations

from agent.config import AgentConfig
from energy_common.configspec import table

INTRO = """# Agent configuration reference

Generated from `agent/config.py` by `python -m agent.docs > docs/agent-config.md`; a test
keeps it current. Every option is optional: with no file the agent prints its reports to
stdout. The file is YAML; nested keys below are written as nested mappings
(`mqtt.tls.enabled: true` is `mqtt: {tls: {enabled: true}}`). An example for production is
`configs/agent.example.yaml`.

**On Windows** the registry adds two layers on top of the file, in this order (the last
wins): the MSI's properties, written at install under `HKLM\\Software\\EnergyAgent\\Install`,
then Group Policy under `HKLM\\Software\\Policies\\EnergyAgent` (templates in
`configs/windows/`). A registry value is named after the key below (`site`, `mqtt.port`,
`mqtt.tls.enabled`…); DWORDs set numbers and booleans (0 is false); tags are the values of the
subkey `Tags`. A value naming no option, or of the wrong type, is logged and ignored. See
docs/windows.md for the MSI properties and the policies the templates offer. The running agent
reads the file and the registry again every `reload_interval_s` and takes up what changed (a
new `state_dir` only at the next start).
"""


def render() -> str:
    return INTRO + "\n" + table(AgentConfig)


if __name__ == "__main__":
    print(render(), end="")
