"""`aural export`: no silent replacement, a warning for negative validation gains,
byte-identical re-export, and stage names that cannot leave --models-dir."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors import safe_open
from safetensors.torch import save as save_bytes

from helpers import run_cli
from aural import weights
from aural.stages.noise_reduction.model import ConvAutoencoder, ConvAutoencoderConfig
from aural.train.checkpoint import save_checkpoint

SMALL = ConvAutoencoderConfig(channels=(4, 8), bottleneck_layers=1)

pytestmark = pytest.mark.usefixtures("one_thread")


def make_run(run_dir, *, stage="noise_reduction", snr_gain=1.5, seed=0):
    """A run folder with a best checkpoint, as `aural train` writes it."""
    torch.manual_seed(seed)
    model = ConvAutoencoder(SMALL)
    optimizer = torch.optim.Adam(model.parameters())
    config = {"stage": stage, "architecture": "ConvAutoencoder", "sample_rate": 16000, "model": SMALL.to_dict()}
    metrics = {"snr/val": 10.0 + snr_gain, "snr_input/val": 10.0, "snr_gain/val": snr_gain, "loss/val": 0.5}
    save_checkpoint(run_dir / "best.safetensors", model=model, optimizer=optimizer, scheduler=None, step=7,
                    extra={"weights_config": config, "metrics": metrics, "run": {"recipe": {"steps": 7}}})
    return run_dir


def files_of(models):
    return {p.relative_to(models).as_posix(): p.read_bytes() for p in sorted(models.rglob("*")) if p.is_file()}


def test_export_refuses_an_existing_preset_without_force(tmp_path, capsys):
    models = tmp_path / "models"
    make_run(tmp_path / "a", seed=0)
    make_run(tmp_path / "b", seed=1)
    assert run_cli(["export", str(tmp_path / "a"), "--models-dir", str(models)], capsys)[0] == 0
    before = files_of(models)
    status, _, err = run_cli(["export", str(tmp_path / "b"), "--models-dir", str(models)], capsys)
    assert status == 2
    assert err.count("\n") == 1 and "preset 'default' exists" in err and "--force" in err
    assert files_of(models) == before  # nothing touched
    status, _, err = run_cli(["export", str(tmp_path / "b"), "--models-dir", str(models), "--force"], capsys)
    assert status == 0, err
    after = files_of(models)
    assert after["noise_reduction/default.safetensors"] != before["noise_reduction/default.safetensors"]
    entry = yaml.safe_load(after["manifest.yaml"])["models"]["noise_reduction"]["default"]
    assert entry["sha256"] == weights.sha256_file(models / "noise_reduction" / "default.safetensors")


def test_a_manifest_entry_alone_also_counts_as_existing(tmp_path, capsys):
    models = tmp_path / "models"
    weights.record_preset("noise_reduction", "default", {"weights": "elsewhere.safetensors"}, models)
    make_run(tmp_path / "a")
    status, _, err = run_cli(["export", str(tmp_path / "a"), "--models-dir", str(models)], capsys)
    assert status == 2 and "exists" in err


def test_export_warns_when_validation_gain_is_negative(tmp_path, capsys):
    make_run(tmp_path / "bad", snr_gain=-1.75)
    status, _, err = run_cli(["export", str(tmp_path / "bad"), "--models-dir", str(tmp_path / "m")], capsys)
    assert status == 0
    assert "warning" in err and "snr_gain/val -1.750" in err and "worse than the input" in err
    make_run(tmp_path / "good", snr_gain=1.0)
    status, _, err = run_cli(["export", str(tmp_path / "good"), "--models-dir", str(tmp_path / "m2")], capsys)
    assert status == 0 and "warning" not in err


def test_same_checkpoint_exports_byte_identical_files(tmp_path, capsys):
    """Exported in this process and in another one (safetensors' metadata order varies by process)."""
    make_run(tmp_path / "run")
    status, _, err = run_cli(["export", str(tmp_path / "run"), "--models-dir", str(tmp_path / "one")], capsys)
    assert status == 0, err
    root = Path(__file__).resolve().parents[2]
    path = os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    done = subprocess.run([sys.executable, "-m", "aural", "export", str(tmp_path / "run"), "--models-dir",
                           str(tmp_path / "two")], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    one, two = files_of(tmp_path / "one"), files_of(tmp_path / "two")
    assert set(one) == {"manifest.yaml", "noise_reduction/default.safetensors", "noise_reduction/default.json",
                        "noise_reduction/default.md"}
    assert one == two


def test_canonical_header_does_not_depend_on_metadata_order(tmp_path):
    tensors = {"b": torch.ones(3), "a": torch.zeros(2, dtype=torch.float64)}
    payload = save_bytes(tensors, metadata={"format": "x", "config": "{}"})
    size = int.from_bytes(payload[:8], "little")
    header = json.loads(payload[8:8 + size])
    for order in (["format", "config"], ["config", "format"]):
        header["__metadata__"] = {key: header["__metadata__"][key] for key in order}
        text = json.dumps(header, separators=(",", ":")).encode()
        variant = len(text).to_bytes(8, "little") + text + payload[8 + size:]
        canonical = weights.canonical_safetensors(variant)
        assert canonical == weights.canonical_safetensors(payload)
        (tmp_path / "w.safetensors").write_bytes(canonical)
        with safe_open(str(tmp_path / "w.safetensors"), framework="pt") as handle:
            assert handle.metadata() == {"format": "x", "config": "{}"}
            assert torch.equal(handle.get_tensor("b"), torch.ones(3))


@pytest.mark.parametrize("stage", ["../escape_x", "/tmp/escape_abs", "not_a_stage", "dynamics"])
def test_export_refuses_unregistered_or_path_like_stage_names(tmp_path, capsys, stage):
    make_run(tmp_path / "run", stage=stage)
    models = tmp_path / "deep" / "models"
    status, _, err = run_cli(["export", str(tmp_path / "run"), "--models-dir", str(models)], capsys)
    assert status == 2 and err.count("\n") == 1
    assert repr(stage) in err
    assert not any(p.is_file() for p in tmp_path.rglob("*") if "run" not in p.parts)  # nothing written anywhere
    assert not (tmp_path / "deep" / "escape_x").exists()


@pytest.mark.parametrize("preset", ["../x", "a/b", ""])
def test_export_refuses_path_like_preset_names(tmp_path, capsys, preset):
    make_run(tmp_path / "run")
    status, _, err = run_cli(["export", str(tmp_path / "run"), "--preset", preset, "--models-dir",
                              str(tmp_path / "m")], capsys)
    assert status == 2 and "preset name" in err and not (tmp_path / "m").exists()
