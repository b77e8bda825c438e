#!/usr/bin/env bash
# The main job on an embedded default: sets everything up, then runs the agent on this
# machine, printing each report as a JSON line (no server needed). Ctrl-C stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p run
exec .venv/bin/energy-agent run -c configs/agent.dev.yaml
