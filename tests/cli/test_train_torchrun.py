"""``torchrun --nproc-per-node 2 -m aural train ...``: DDP on CPU (gloo) from the command line."""

import json

import pytest
import torch
import yaml

from aural.signal import Signal
from helpers import speech_like, torchrun, write_audio


def _pairs(folder, count):
    for index in range(count):
        clean = speech_like(0.6, 16000, seed=index)
        noise = 0.03 * torch.randn(clean.audio.shape, generator=torch.Generator().manual_seed(index))
        write_audio(folder / "clean" / f"f{index}.wav", clean)
        write_audio(folder / "noisy" / f"f{index}.wav", Signal(clean.audio + noise, 16000))


@pytest.mark.slow
def test_torchrun_two_ranks_train_one_run_with_identical_weights(tmp_path):
    from safetensors.torch import load_file

    _pairs(tmp_path / "pairs", 8)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "stage": "noise_reduction", "steps": 3, "batch_size": 2, "segment_samples": 4096, "val_every": 3,
        "losses": [{"name": "l1", "weight": 1.0}], "model": {"channels": [4, 8], "bottleneck_layers": 1}}))
    run = tmp_path / "run"
    done = torchrun(["-m", "aural", "train", "noise_reduction", "--data", str(tmp_path / "pairs"),
                     "--val-data", str(tmp_path / "pairs"), "--recipe", str(recipe), "--out", str(run),
                     "--device", "cpu", "--no-progress"])
    assert done.returncode == 0, done.stderr[-3000:]
    # rank 0 alone speaks and writes: one run folder, one set of checkpoints and log lines
    assert done.stderr.count("training noise_reduction: 8 training items") == 1, done.stderr[-3000:]
    assert done.stderr.count("export with: aural export") == 1
    rows = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    final = rows[-1]
    # the trainer broadcast rank 0's weights at the end and compared every rank's with them
    assert (final["step"], final["ddp/world_size"], final["ddp/max_weight_diff"]) == (3, 2.0, 0.0)
    assert sum("ddp/world_size" in row for row in rows) == 1
    last = load_file(str(run / "last.safetensors"))
    assert last and all(torch.isfinite(tensor).all() for tensor in last.values())
    assert json.loads((run / "run.json").read_text())["stage"] == "noise_reduction"
