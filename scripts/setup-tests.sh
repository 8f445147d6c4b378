#!/usr/bin/env bash
# What the test suite needs beyond cargo: ONNX Runtime (fetched, SHA-256
# checked); Python's tifffile, roifile, geojson and pypdf (pinned, in
# target/pytools) to open the --export files as labs do and to read the
# printed report.html; and, to render and print report.html, Debian's
# Chromium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/fetch-onnxruntime.sh
if [ ! -x target/pytools/bin/python ] || ! target/pytools/bin/python -c "import tifffile, roifile, geojson, pypdf" 2>/dev/null; then
    echo "setup-tests: installing tifffile, roifile, geojson and pypdf into target/pytools" >&2
    python3 -m venv target/pytools
    target/pytools/bin/pip install -q --disable-pip-version-check \
        numpy==2.4.6 tifffile==2026.3.3 roifile==2026.2.10 geojson==3.3.0 pypdf==7.1.1
fi
if [ -x /usr/bin/chromium ] || [ -n "${CELLVIA_CHROMIUM:-}" ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup-tests: installing Debian's chromium for the report.html render test" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -q --no-install-recommends chromium >/dev/null ||
        { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends chromium >/dev/null; }
else
    echo "setup-tests: no Chromium and no root apt-get here: the report.html render test will be SKIPPED (it fails under CI)" >&2
fi
