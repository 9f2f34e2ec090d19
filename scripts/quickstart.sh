#!/usr/bin/env bash
# Install aural into .venv (CPU torch first) and run phone_to_studio on the bundled example.
#   bash scripts/quickstart.sh            -> out/phone_memo.wav
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[dev]"
mkdir -p out
.venv/bin/aural run phone_to_studio data/examples/phone_memo.flac -o out/phone_memo.wav --overwrite
echo "quickstart: listen to out/phone_memo.wav (input: data/examples/phone_memo.flac)"
