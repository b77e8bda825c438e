#!/usr/bin/env bash
# Builds dist/energy-agent-<version>-x64.msi on Linux with Debian's wixl (msitools): the
# official Windows CPython (scripts/windows-runtime.sh), the agent's Windows wheels and the
# agent itself, the EnergyAgent service and the per-user idle helper. docs/windows.md says
# what it installs, its properties and how to sign it.
#   bash scripts/build-msi.sh [VERSION]      default: the agent's __version__
#   OUT_DIR=… puts it elsewhere than dist/
set -euo pipefail
cd "$(dirname "$0")/.."
VERSION=${1:-$(sed -n 's/^__version__ = "\(.*\)"/\1/p' agent/__init__.py)}
for tool in wixl wixl-heat; do
  command -v "$tool" >/dev/null || { echo "build-msi: $tool missing: run scripts/setup.sh" >&2; exit 2; }
done
bash scripts/windows-runtime.sh
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
stage="$work/python"
cp -r build/windows/python "$stage"
rm -f "$stage"/.layout-*
# the agent's own code and what it shares with the collector, without caches or anything a
# checkout may hold beside them
python3 - "$stage/Lib/site-packages" <<'PY'
import shutil, sys
for pkg in ("agent", "energy_common"):
    shutil.copytree(pkg, f"{sys.argv[1]}/{pkg}", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
PY
# Byte-code compiled by the Windows CPython itself (under Wine) with unchecked hashes: loaded
# without looking at the sources and never rewritten, so the service (which cannot write in
# Program Files) starts without compiling, and uninstall removes every file it installed.
if command -v wine >/dev/null; then
  WINEPREFIX="$work/wineprefix" WINEDEBUG=-all wine "$stage/python.exe" -m compileall -q \
    --invalidation-mode unchecked-hash "$(echo "Z:$stage/Lib/site-packages" | tr / '\\')" \
    </dev/null 2>&1 | { grep -v '^wine: ' || true; }
  WINEPREFIX="$work/wineprefix" wineserver -k 2>/dev/null || true
else
  echo "build-msi: wine not found: the MSI carries no byte-code (Python compiles at each start)" >&2
fi
(cd "$work" && find python -type f | sort | wixl-heat --var var.SourceDir -p python/ \
  --directory-ref PYTHONDIR --component-group PythonFiles --win64 > files.wxs)
python3 scripts/windows/make_wxs.py "$VERSION" "$work/files.wxs" "$work/product.wxs"
OUT_DIR=${OUT_DIR:-dist}
mkdir -p "$OUT_DIR"
out="$OUT_DIR/energy-agent-$VERSION-x64.msi"
# wixl resolves Source paths from its working directory (an absolute SourceDir is not found)
(cd "$work" && wixl -a x64 -D SourceDir=python -D Win64=yes -o agent.msi product.wxs)
mv "$work/agent.msi" "$out"
echo "build-msi: $out ($(du -k "$out" | cut -f1) KiB)"
