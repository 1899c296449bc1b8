#!/bin/sh
# Creates (or reuses) the Python venv that scripts/build_generation_fixtures.py needs, from the local pip mirror.
#   scripts/generation_venv.sh VENV
# torch comes as the CPU wheel (the default one pulls ~2.3 GB of CUDA wheels). ~40 s on a cold machine.
set -eu
VENV=${1:?usage: generation_venv.sh VENV}
PACKAGES="torch==2.13.0+cpu transformers==5.18.0 onnx onnxruntime onnxscript"
if "$VENV/bin/python" -c "import torch, transformers, onnx, onnxruntime, onnxscript" 2>/dev/null; then exit 0; fi
python3 -m venv "$VENV"
if [ -z "${PIP_INDEX_URL:-}" ]; then
  # the local mirror first: skips minutes of DNS retries against an unreachable default index
  MIRROR=$(pip config get global.extra-index-url 2>/dev/null | cut -d' ' -f1 || true)
  if [ -n "$MIRROR" ]; then export PIP_INDEX_URL="$MIRROR"; fi
fi
# shellcheck disable=SC2086
"$VENV/bin/pip" install --quiet --retries 0 --disable-pip-version-check $PACKAGES 2>&1 | grep -v "is ignored" >&2 || true
"$VENV/bin/python" -c "import torch, transformers, onnx, onnxruntime, onnxscript" 2>/dev/null || {
  echo "generation_venv: pip could not install $PACKAGES into $VENV" >&2
  exit 1
}
