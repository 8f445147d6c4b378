#!/usr/bin/env bash
# What the test suite needs beyond cargo: ONNX Runtime (fetched, SHA-256
# checked) and, for the report.html render test, Debian's Chromium.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/fetch-onnxruntime.sh
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
