#!/usr/bin/env bash
# The main job on the embedded default: sets everything up, then runs the collector (SQLite
# ledger, HTTP ingest and the web view on 127.0.0.1:8750) and this machine's agent reporting
# to it, and, the first time, a simulated fleet beside it (last year and the last week, three
# datacenters' bills) so the web view and the yearly report have something to show. No
# external server needed. Ctrl-C stops everything it started.
#   web view:   http://127.0.0.1:8750/  (ops sign-in passphrase: run/collector/web-ops-token)
#   fleet now:  .venv/bin/energy-collector status -c configs/collector.dev.yaml
#   metrics:    curl -s http://127.0.0.1:8750/metrics | grep ^energy_
#   report:     .venv/bin/energy-collector report -c configs/collector.dev.yaml --format html,pdf
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p run
CONF=configs/collector.dev.yaml
INGEST=http://127.0.0.1:8750/api/v1/reports
# own session: a Ctrl-C reaches the agent first; stop() then ends the collector
setsid .venv/bin/energy-collector run -c "$CONF" &
collector=$!
agent=""
sim=""
stop() {
  # whatever each wait returns (a child ended by the signal returns 130 or 143), go on to the
  # next: under `set -e` the first such status ended the script and left the collector running
  set +e
  trap '' INT TERM
  if [ -n "$sim" ]; then
    pkill -TERM -P "$sim" 2>/dev/null  # the simulator itself, not only its subshell
    kill -TERM "$sim" 2>/dev/null
    wait "$sim" 2>/dev/null
  fi
  # the agent first: its last report still reaches the collector
  [ -n "$agent" ] && { kill -TERM "$agent" 2>/dev/null; wait "$agent" 2>/dev/null; }
  kill -TERM "$collector" 2>/dev/null
  wait "$collector" 2>/dev/null
  exit 0
}
trap stop INT TERM
for _ in $(seq 1 50); do
  curl -fsS -o /dev/null http://127.0.0.1:8750/healthz 2>/dev/null && break
  kill -0 $collector 2>/dev/null || { echo "run.sh: the collector did not start" >&2; exit 1; }
  sleep 0.2
done
echo "run.sh: collector up; web view on http://127.0.0.1:8750/ (ops sign-in passphrase in run/collector/web-ops-token)"
echo "run.sh: fleet view in a terminal: .venv/bin/energy-collector status -c $CONF"
if [ ! -f run/collector/.simulated ]; then
  last=$(( $(date +%Y) - 1 ))
  echo "run.sh: a simulated fleet of 40 agents (year $last, then the last 7 days) is arriving in the background; log: run/simulate.log"
  (
    set -e
    sim() { .venv/bin/energy-collector simulate --agents 40 --seed 11 --url "$INGEST" "$@"; }
    sim --year "$last" --interval 21600 --datacenters 3 --readings run/collector/bills-last.csv
    sim --days 7 --interval 3600 --seq-start 1000000 --datacenters 3 --readings run/collector/bills-now.csv
    .venv/bin/energy-collector import-readings -c "$CONF" run/collector/bills-last.csv run/collector/bills-now.csv
    touch run/collector/.simulated
    echo "run.sh: simulated fleet in; yearly report: http://127.0.0.1:8750/report/$last"
  ) > run/simulate.log 2>&1 &
  sim=$!
fi
.venv/bin/energy-agent run -c configs/agent.dev.yaml &
agent=$!
wait "$agent"
stop
