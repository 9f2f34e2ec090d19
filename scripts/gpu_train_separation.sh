#!/usr/bin/env bash
# Train the complex-mask separation networks on one lent GPU, within a time budget.
#
# Here, once:   python scripts/train_default_weights.py --phase split
#               python scripts/train_separation.py lists
#               python scripts/pack_lists.py runs/separation/data gpu_data/separation --max-seconds 30 --quality 0.25
# There:        BUDGET_S=430 bash scripts/gpu_train_separation.sh     (carry gpu_data and .whl)
# Back here:    tar xzf of the parts, then `aural export runs/gpu/<name> --preset ...`
#
# Two runs share the GPU (scripts/recipes/separation_complex_gpu.yaml and its large variant),
# seven data workers each; each is stopped by SIGTERM at BUDGET_S (the trainer then writes its
# last checkpoint). The best checkpoints, cut to the weights that validated (the EMA when there
# is one), the logs and run records come back as $OUT/runs.tgz.part-* (each under 16 MiB).
set -uo pipefail
BUDGET_S=${BUDGET_S:-430}
DEVICE=${DEVICE:-cuda}
OUT=${OUT:-/tmp/gpu_out}
mkdir -p "$OUT"
if [ -d .whl ] && ! python3 -c "import soundfile, soxr" 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
export PYTHONPATH=$PWD:${PYTHONPATH:-} PYTHONUNBUFFERED=1 OMP_NUM_THREADS=1
command -v nvidia-smi >/dev/null && nvidia-smi -L

train() {  # name recipe
  timeout -s TERM "$BUDGET_S" python3 -m aural train separation --data gpu_data/separation/train \
    --val-data gpu_data/separation/val --out "runs/gpu/$1" --recipe "$2" --device "$DEVICE" \
    --no-progress ${EXTRA_ARGS:-} >"$OUT/$1.log" 2>&1
  echo "$1: exit $?" >>"$OUT/$1.log"
}
train complex scripts/recipes/separation_complex_gpu.yaml &
train complex_large scripts/recipes/separation_complex_large_gpu.yaml &
wait
tail -n 4 "$OUT"/*.log

python3 - <<'EOF'
"""Cut each run's best checkpoint to the weights that validated (ema.* or model.*)."""
from pathlib import Path
from safetensors import safe_open
from safetensors.torch import save_file

for run in sorted(Path("runs/gpu").iterdir()):
    source = run / "best.safetensors"
    if not source.exists():
        source = run / "last.safetensors"
    if not source.exists():
        print(f"{run}: no checkpoint")
        continue
    with safe_open(source, "pt") as f:
        metadata, keys = f.metadata(), list(f.keys())
        averaged = "ema.n_averaged" in keys and int(f.get_tensor("ema.n_averaged").item()) > 0
        prefix = "ema." if averaged else "model."
        tensors = {k: f.get_tensor(k).contiguous() for k in keys if k.startswith(prefix)}
    save_file(tensors, run / "weights.safetensors", metadata=metadata)
    for name in ("best.safetensors", "last.safetensors"):
        (run / name).unlink(missing_ok=True)
    (run / "weights.safetensors").rename(run / f"{source.stem}.safetensors")
    print(f"{run}: {source.name} cut to {prefix}* ({len(tensors)} tensors)")
EOF
tar czf - runs/gpu | split -b 15M - "$OUT/runs.tgz.part-"
ls -la "$OUT"
