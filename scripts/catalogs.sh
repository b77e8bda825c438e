#!/usr/bin/env bash
# Extracts the words of the pages and the report into the message catalogs
# (collector/render/locale/<lang>/LC_MESSAGES/messages.po), keeping what translators wrote.
# The catalogs are compiled in memory when the collector first uses them; the tests check
# that every word is in the catalogs and translated (tests/test_catalogs.py).
set -euo pipefail
cd "$(dirname "$0")/.."
BABEL=.venv/bin/pybabel
POT=build/messages.pot
mkdir -p build
"$BABEL" -q extract -F babel.cfg -k N_ -k gettext:2 --no-location --sort-output \
  --project energy-monitoring -o "$POT" .
for lang in fr en; do
  po=collector/render/locale/$lang/LC_MESSAGES/messages.po
  if [ -f "$po" ]; then
    "$BABEL" -q update -i "$POT" -o "$po" -l "$lang" --no-fuzzy-matching --ignore-obsolete
  else
    "$BABEL" -q init -i "$POT" -o "$po" -l "$lang"
  fi
done
