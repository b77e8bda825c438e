#!/usr/bin/env bash
# The main job on the embedded default: sets everything up, then runs the collector (SQLite
# ledger, HTTP ingest on 127.0.0.1:8750) and this machine's agent reporting to it. No external
# server needed. Ctrl-C stops both cleanly.
#   fleet now:  .venv/bin/energy-collector status -c configs/collector.dev.yaml
#   metrics:    curl -s http://127.0.0.1:8750/metrics | grep ^energy_
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p run
# own session: a Ctrl-C reaches the agent first; stop() then ends the collector
setsid .venv/bin/energy-collector run -c configs/collector.dev.yaml &
collector=$!
agent=""
stop() {
  # the agent first: its last report still reaches the collector
  [ -n "$agent" ] && kill -TERM "$agent" 2>/dev/null && wait "$agent" 2>/dev/null
  kill -TERM "$collector" 2>/dev/null; wait "$collector" 2>/dev/null
  exit 0
}
trap stop INT TERM
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null http://127.0.0.1:8750/healthz 2>/dev/null && break
  kill -0 $collector 2>/dev/null || { echo "run.sh: the collector did not start" >&2; exit 1; }
  sleep 0.2
done
echo "run.sh: collector up on http://127.0.0.1:8750 (metrics, /api/v1/status); starting the agent"
echo "run.sh: fleet view: .venv/bin/energy-collector status -c configs/collector.dev.yaml"
.venv/bin/energy-agent run -c configs/agent.dev.yaml &
agent=$!
wait "$agent"
stop
