#!/usr/bin/env bash
# The whole test suite on a fresh machine: installs what the tests need (scripts/setup.sh),
# then lint, format check, type check and every test. The tests start their own services
# (Mosquitto…) on loopback test ports and stop them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff check"; ruff check .
echo "== ruff format --check"; ruff format --check .
echo "== mypy"; mypy
echo "== pytest"; pytest "$@"
