"""Weights: presets, sha256 checks, clear errors, safetensors only; `aural train` + `aural export`."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from helpers import run_cli, speech_like, write_audio
from aural import weights
from aural.errors import WeightsError
from aural.signal import Signal
from aural.stages.noise_reduction.model import ConvAutoencoder, ConvAutoencoderConfig, build_model
from aural.stages.noise_reduction.stage import NoiseReductionStage

SMALL = ConvAutoencoderConfig(channels=(4, 8), bottleneck_layers=1)


pytestmark = pytest.mark.usefixtures("one_thread")


def make_preset(models, preset="default", seed=0):
    torch.manual_seed(seed)
    model = ConvAutoencoder(SMALL)
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.1)
    config = {"stage": "noise_reduction", "architecture": "ConvAutoencoder", "sample_rate": 16000,
              "model": SMALL.to_dict()}
    sha = weights.save(models / "noise_reduction" / f"{preset}.safetensors", model.state_dict(), config)
    weights.record_preset("noise_reduction", preset, {"weights": f"noise_reduction/{preset}.safetensors",
                                                      "config": f"noise_reduction/{preset}.json", "sha256": sha}, models)
    return model


def test_preset_resolves_loads_and_matches_checksum(tmp_path):
    model = make_preset(tmp_path)
    loaded = weights.load("noise_reduction", "default", tmp_path)
    assert loaded.ref.preset == "default" and loaded.config["model"]["channels"] == [4, 8]
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.tensors[key], value)
    built, _, info = weights.load_model("noise_reduction", "default", build_model, tmp_path)
    assert info["weights"] == "default" and len(info["sha256"]) == 64 and not built.training


def test_checksum_mismatch_and_missing_files_are_one_line_errors(tmp_path):
    make_preset(tmp_path)
    path = tmp_path / "noise_reduction" / "default.safetensors"
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="sha256 mismatch") as info:
        weights.check("noise_reduction", "default", tmp_path)
    assert "\n" not in str(info.value)
    path.unlink()
    with pytest.raises(WeightsError, match="missing"):
        weights.check("noise_reduction", "default", tmp_path)
    with pytest.raises(WeightsError, match="no weights preset 'loud'"):
        weights.resolve("noise_reduction", "loud", tmp_path)
    with pytest.raises(WeightsError, match="does not exist|missing"):
        weights.check("noise_reduction", str(tmp_path / "nowhere.safetensors"))


def test_tampered_config_is_refused_by_its_manifest_checksum(tmp_path):
    make_preset(tmp_path)
    config_path = tmp_path / "noise_reduction" / "default.json"
    manifest = weights.read_manifest(tmp_path)
    manifest["models"]["noise_reduction"]["default"]["config_sha256"] = weights.sha256_file(config_path)
    weights.write_manifest(manifest, tmp_path)
    weights.load("noise_reduction", "default", tmp_path)  # untouched: loads
    config = json.loads(config_path.read_text())
    config["max_gain"] = 50
    config_path.write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="default.json: sha256 mismatch") as info:
        weights.load("noise_reduction", "default", tmp_path)
    assert "\n" not in str(info.value)


def test_shipped_configs_match_their_manifest_checksums():
    manifest = weights.read_manifest()
    for stage, presets in manifest["models"].items():
        for preset, entry in presets.items():
            assert entry.get("config_sha256"), f"{stage}/{preset} has no config_sha256"
            weights.check(stage, preset)


def test_wrong_stage_bad_file_and_mismatched_architecture(tmp_path):
    make_preset(tmp_path)
    with pytest.raises(WeightsError, match="for stage 'noise_reduction', not 'mel_unet'"):
        weights.load("mel_unet", str(tmp_path / "noise_reduction" / "default.safetensors"))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x80\x04not safetensors")  # a pickle header: must never be unpickled
    with pytest.raises(WeightsError, match="not a readable safetensors file"):
        weights.load("noise_reduction", str(junk))
    config = json.loads((tmp_path / "noise_reduction" / "default.json").read_text())
    config["model"]["channels"] = [8, 16]
    (tmp_path / "noise_reduction" / "default.json").write_text(json.dumps(config))
    with pytest.raises(WeightsError, match="do not fit"):
        weights.load_model("noise_reduction", str(tmp_path / "noise_reduction" / "default.safetensors"), build_model)


def test_path_weights_without_sidecar_use_embedded_config(tmp_path):
    model = make_preset(tmp_path)
    path = tmp_path / "noise_reduction" / "default.safetensors"
    (tmp_path / "noise_reduction" / "default.json").unlink()
    stage = NoiseReductionStage(weights=str(path))
    audio = speech_like(0.5, 16000).audio
    assert torch.equal(stage.process(Signal(audio, 16000)).audio,
                       NoiseReductionStage(model=model).process(Signal(audio, 16000)).audio)


def test_manifest_keeps_other_entries(tmp_path):
    make_preset(tmp_path, "default")
    weights.record_preset("gan_refiner", "default", {"weights": "x", "sha256": "0" * 64}, tmp_path)
    make_preset(tmp_path, "light", seed=1)
    data = yaml.safe_load((tmp_path / "manifest.yaml").read_text())
    assert set(data["models"]) == {"noise_reduction", "gan_refiner"}
    assert set(data["models"]["noise_reduction"]) == {"default", "light"}


def test_cli_train_then_export_then_load(tmp_path, capsys, monkeypatch):
    import aural.stages.noise_reduction  # noqa: F401  (registers the stage)

    for i in range(6):
        clean = speech_like(0.6, 16000, seed=i)
        noisy = Signal(clean.audio + 0.03 * torch.randn(clean.audio.shape, generator=torch.Generator().manual_seed(i)),
                       16000)
        write_audio(tmp_path / "pairs" / "clean" / f"f{i}.wav", clean)
        write_audio(tmp_path / "pairs" / "noisy" / f"f{i}.wav", noisy)
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "stage": "noise_reduction", "steps": 2, "batch_size": 2, "segment_samples": 4096, "val_every": 2,
        "losses": [{"name": "l1", "weight": 1.0}], "model": {"channels": [4, 8], "bottleneck_layers": 1}}))
    run = tmp_path / "run"
    status, _, err = run_cli(["train", "noise_reduction", "--data", str(tmp_path / "pairs"), "--out", str(run),
                              "--recipe", str(recipe), "--threads", "1", "--no-progress"], capsys)
    assert status == 2 and "pass --val-data" in err  # six files: none falls in the 10 % split
    status, _, err = run_cli(["train", "noise_reduction", "--data", str(tmp_path / "pairs"), "--out", str(run),
                              "--val-data", str(tmp_path / "pairs"), "--recipe", str(recipe), "--threads", "1",
                              "--no-progress"], capsys)
    assert status == 0, err
    assert "export with: aural export" in err
    status, _, err = run_cli(["train", "noise_reduction", "--data", str(tmp_path / "pairs"), "--out", str(run)], capsys)
    assert status == 2 and "--resume" in err
    status, _, err = run_cli(["train", "noise_reduction", "--out", str(run), "--resume", "--steps", "3",
                              "--no-progress"], capsys)
    assert status == 0, err
    assert json.loads((run / "log.jsonl").read_text().splitlines()[-1])["step"] == 3

    models = tmp_path / "models"
    (tmp_path / "eval.md").write_text("| system | pesq_wb |\n|---|---|\n| tiny | 1.23 |\n")
    status, out, err = run_cli(["export", str(run), "--preset", "tiny", "--models-dir", str(models),
                                "--evaluation", str(tmp_path / "eval.md")], capsys)
    assert status == 0, err
    entry = yaml.safe_load((models / "manifest.yaml").read_text())["models"]["noise_reduction"]["tiny"]
    assert entry["sha256"] == weights.sha256_file(models / "noise_reduction" / "tiny.safetensors")
    card = (models / "noise_reduction" / "tiny.md").read_text()
    assert "snr/val" in card and "Training data" in card and "step" in card
    assert "## Evaluation" in card and "| tiny | 1.23 |" in card
    loaded = weights.load("noise_reduction", "tiny", models)
    assert loaded.config["exported"]["step"] in (2, 3)
    monkeypatch.setenv("AURAL_MODELS", str(models))
    out = NoiseReductionStage(weights="tiny").process(speech_like(0.3, 16000))
    assert out.num_samples == 4800


def test_cli_train_refuses_dsp_stage(capsys, tmp_path):
    status, _, err = run_cli(["train", "dynamics", "--data", str(tmp_path), "--out", str(tmp_path / "r")], capsys)
    assert status == 2
    assert err.strip().count("\n") == 0 and "DSP stage" in err


def test_cli_train_on_the_fly_from_clean_speech(tmp_path, capsys):
    import aural.stages.mel_unet  # noqa: F401  (registers the stage)

    for i in range(4):
        clean = speech_like(0.8, 16000, seed=10 + i)
        floor = 1e-4 * torch.randn(clean.audio.shape, generator=torch.Generator().manual_seed(i))
        write_audio(tmp_path / "clean" / f"s{i}.wav", clean.replace(clean.audio + floor))
        write_audio(tmp_path / "pairs" / "clean" / f"s{i}.wav", speech_like(0.5, 16000, seed=20 + i))
        write_audio(tmp_path / "pairs" / "noisy" / f"s{i}.wav", speech_like(0.5, 16000, seed=20 + i).gain_db(-3))
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({
        "stage": "mel_unet", "steps": 1, "batch_size": 2, "segment_samples": 4096, "val_every": 1,
        "losses": [{"name": "l1", "weight": 1.0}],
        "model": {"channels": [4, 8], "bottleneck_channels": 8, "chunk_frames": 16, "context_frames": 8},
        "data": {"reference": "dry"}}))
    status, _, err = run_cli(["train", "mel_unet", "--data", str(tmp_path / "clean"), "--profile", "archival",
                              "--val-data", str(tmp_path / "pairs"), "--out", str(tmp_path / "run"),
                              "--recipe", str(recipe), "--no-progress"], capsys)
    assert status == 0, err
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    assert "on the fly" in run["data"]["degradation"] and run["data"]["training items"] == 200
    assert "targets dry" in run["data"]["degradation"] and run["recipe"]["data"] == {"reference": "dry"}

    # Fine-tuning: the checkpoint fixes the architecture, the explicit recipe adds its model options.
    recipe.write_text(yaml.safe_dump({
        "stage": "mel_unet", "steps": 1, "batch_size": 2, "segment_samples": 4096, "val_every": 1,
        "losses": [{"name": "l1", "weight": 1.0}], "model": {"post_filter_beta": 0.02}}))
    status, _, err = run_cli(["train", "mel_unet", "--data", str(tmp_path / "pairs"), "--val-data",
                              str(tmp_path / "pairs"), "--out", str(tmp_path / "tuned"), "--recipe", str(recipe),
                              "--init", str(tmp_path / "run" / "last.safetensors"), "--lr", "0.0001",
                              "--no-progress"], capsys)
    assert status == 0, err
    tuned = json.loads((tmp_path / "tuned" / "run.json").read_text())
    model = tuned["weights_config"]["model"]
    assert model["channels"] == [4, 8] and model["post_filter_beta"] == 0.02
    assert tuned["recipe"]["optimizer"]["lr"] == 0.0001
    status, _, err = run_cli(["export", str(tmp_path / "tuned"), "--preset", "tuned", "--models-dir",
                              str(tmp_path / "models")], capsys)
    assert status == 0, err
    assert "Fine-tuned: the run started from the weights" in (tmp_path / "models" / "mel_unet" / "tuned.md").read_text()


def unusable_weights(tmp_path):
    """Weights files that `aural run` cannot use, by what is wrong with them."""
    import pickle
    from pathlib import Path

    good = tmp_path / "good.safetensors"
    model = make_preset(tmp_path)
    weights.save(good, model.state_dict(), {"stage": "noise_reduction", "model": SMALL.to_dict()})
    files = {}
    files["pickle"] = tmp_path / "pickle.safetensors"
    files["pickle"].write_bytes(pickle.dumps({"encoder.weight": [1.0, 2.0]}))
    files["torch_save"] = tmp_path / "torch_save.safetensors"
    torch.save(model.state_dict(), files["torch_save"])
    files["truncated"] = tmp_path / "truncated.safetensors"
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["wrong_shapes"] = tmp_path / "wrong_shapes.safetensors"
    wide = ConvAutoencoder(ConvAutoencoderConfig(channels=(8, 16), bottleneck_layers=1))
    weights.save(files["wrong_shapes"], wide.state_dict(), {"stage": "noise_reduction", "model": SMALL.to_dict()})
    files["passwd"] = Path("/etc/passwd")
    return good, files


def test_inspect_reads_headers_and_never_unpickles(tmp_path, monkeypatch):
    import pickle

    good, files = unusable_weights(tmp_path)
    monkeypatch.setattr(pickle, "loads", lambda *a, **k: pytest.fail("unpickled"))
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("torch.load"))
    assert weights.inspect("noise_reduction", str(good), build_model).weights_path == good
    header = weights.read_header(good)
    assert header.shapes and set(header.metadata) == {"format", "config"}
    expected = {"pickle": "header length", "torch_save": "header length", "truncated": "truncated",
                "wrong_shapes": "do not fit the noise_reduction model", "passwd": "header length"}
    for kind, path in files.items():
        if not path.exists():
            continue
        with pytest.raises(WeightsError, match=expected[kind]) as info:
            weights.inspect("noise_reduction", str(path), build_model)
        assert str(info.value).startswith(str(path)) and "\n" not in str(info.value), kind


def test_cli_validate_rejects_unusable_weights_in_one_run(tmp_path, capsys):
    _, files = unusable_weights(tmp_path)
    files = {k: v for k, v in files.items() if v.exists()}
    stages = "".join(f"  - stage: noise_reduction\n    weights: {path}\n" for path in files.values())
    pipeline = tmp_path / "p.yaml"
    pipeline.write_text("aural: 1\nstages:\n" + stages)
    status, out, err = run_cli(["validate", str(pipeline)], capsys)
    assert status == 2 and out == ""
    lines = err.splitlines()
    assert len(lines) == len(files)
    for i, (line, path) in enumerate(zip(lines, files.values())):
        assert line.startswith(f"aural: {pipeline}:{4 + 2 * i} stages[{i}].weights: {path}: ")
    assert "weights do not fit" in err and "truncated" in err and "Traceback" not in err
