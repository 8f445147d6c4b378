#!/usr/bin/env bash
# Puts ONNX Runtime's shared library where cellvia finds it by default:
# vendor/onnxruntime/libonnxruntime.so. The library is taken from the official
# `onnxruntime` wheel on the Python package index (pinned version, SHA-256
# checked); nothing else is downloaded. Safe to run again: it does nothing when
# the library is already in place.
set -euo pipefail

VERSION=1.31.1
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
dest="$root/vendor/onnxruntime"
lib="libonnxruntime.so.$VERSION"

case "$(uname -s)-$(uname -m)" in
  Linux-x86_64)
    platform=manylinux_2_28_x86_64
    sha256=5752bd508126ae7c49894d3b9d2e83f0c3d487319246d04c444b393308d7ad7f ;;
  Linux-aarch64)
    platform=manylinux_2_28_aarch64
    sha256=da05378364c44d4407e463982d2bf8d5e4cfea873283757e48beeb41df97b7f3 ;;
  *)
    echo "fetch-onnxruntime: no pinned wheel for $(uname -s)-$(uname -m); set ORT_DYLIB_PATH to an ONNX Runtime >= 1.24 library" >&2
    exit 1 ;;
esac

if [ -f "$dest/$lib" ] && [ -L "$dest/libonnxruntime.so" ]; then
  exit 0
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# The wheel is chosen by explicit tags, so every machine gets the same file.
python3 -m pip download --quiet --no-deps --only-binary=:all: \
  --python-version 3.11 --implementation cp --platform "$platform" \
  "onnxruntime==$VERSION" -d "$tmp"
wheel=$(ls "$tmp"/onnxruntime-"$VERSION"-*.whl)
actual=$(python3 -c 'import hashlib,sys; print(hashlib.sha256(open(sys.argv[1],"rb").read()).hexdigest())' "$wheel")
if [ "$actual" != "$sha256" ]; then
  echo "fetch-onnxruntime: SHA-256 mismatch for $(basename "$wheel"): got $actual, expected $sha256" >&2
  exit 1
fi
mkdir -p "$dest"
python3 - "$wheel" "$dest" "$lib" <<'PY'
import sys, zipfile, os
wheel, dest, lib = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    data = z.read("onnxruntime/capi/" + lib)
tmp = os.path.join(dest, lib + ".part")
with open(tmp, "wb") as f:
    f.write(data)
os.chmod(tmp, 0o755)
os.replace(tmp, os.path.join(dest, lib))
PY
ln -sfn "$lib" "$dest/libonnxruntime.so"
echo "fetch-onnxruntime: ONNX Runtime $VERSION in $dest"
