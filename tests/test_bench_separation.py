"""``aural bench`` and ``aural evaluate`` on a tiny separation folder: per-stem rows and tables."""

from __future__ import annotations

import csv
import json

import torch

from aural import weights
from aural.signal import Signal
from helpers import run_cli, speech_like, write_audio


def make_folder(root, count=2):
    for index in range(count):
        voice = speech_like(1.5, 16000, seed=index)
        noise = Signal(0.03 * torch.randn(1, voice.num_samples, generator=torch.Generator().manual_seed(index)), 16000)
        for name, signal in (("mixture", voice.replace(voice.audio + noise.audio)), ("voice", voice),
                             ("background", noise)):
            write_audio(root / f"item{index}" / f"{name}.wav", signal, subtype="FLOAT")
    return root


def test_bench_on_a_separation_folder_has_a_row_per_system_and_stem(tmp_path, capsys):
    folder = make_folder(tmp_path / "mixes")
    code, out, err = run_cli(["bench", "--pairs", str(folder), "--systems", "mixture,identity",
                              "--out", str(tmp_path / "bench")], capsys)
    assert code == 0, err
    assert "stem `voice`" in out and "stem `background`" in out
    rows = list(csv.DictReader((tmp_path / "bench" / "bench.csv").open()))
    table = {(r["stem"], r["system"]): r for r in rows}
    assert set(table) == {(s, n) for s in ("voice", "background") for n in ("mixture", "identity")}
    assert float(table["voice", "mixture"]["si_sdri"]) == 0.0
    # identity as a speech enhancer: voice = the mixture, background = mixture - mixture = silence
    assert float(table["voice", "identity"]["si_sdr"]) == float(table["voice", "mixture"]["si_sdr"])
    assert float(table["background", "identity"]["si_sdr"]) == -40.0
    assert float(table["voice", "mixture"]["sdr"]) > 0  # the voice dominates these mixtures
    document = json.loads((tmp_path / "bench" / "bench.json").read_text())
    assert document["mode"] == "separation" and set(document["systems"]["mixture"]["scores"]) == {"item0", "item1"}
    scores = list(csv.DictReader((tmp_path / "bench" / "systems" / "mixture" / "scores.csv").open()))
    assert [r["file"] for r in scores] == ["item0", "item1"] and "background_sdr" in scores[0]
    assert "## Stem `background`" in (tmp_path / "bench" / "bench.md").read_text()


def test_stem_systems_are_refused_on_ordinary_pairs(tmp_path, capsys):
    write_audio(tmp_path / "pairs" / "studio" / "a.wav", speech_like(1.0, 16000))
    write_audio(tmp_path / "pairs" / "phone" / "a.wav", speech_like(1.0, 16000))
    code, _, err = run_cli(["bench", "--pairs", str(tmp_path / "pairs"), "--systems", "identity,mixture"], capsys)
    assert code == 2 and "mixture separates stems" in err


def test_bench_goes_on_past_a_broken_item_and_exits_1(tmp_path, capsys):
    folder = make_folder(tmp_path / "mixes")
    (folder / "item1" / "voice.wav").write_bytes(b"not audio")
    code, out, err = run_cli(["bench", "--pairs", str(folder), "--systems", "mixture", "--metrics", "si_sdr"], capsys)
    assert code == 1 and "item1" in err and "voice.wav" in err
    assert "| `mixture` |" in out and out.count("| 1 |") == 2  # one item scored, in each stem table
    code, _, err = run_cli(["bench", "--pairs", str(folder), "--metrics", "pesq_wb"], capsys)
    assert code == 2 and "si_sdr, si_sdri, sdr" in err


def test_evaluate_runs_the_separation_stage_on_the_folder(tmp_path, capsys):
    from aural.stages.separation.model import build_model
    from aural.stages.separation.task import SAMPLE_RATE, STAGE

    small = {"channels": [4, 8], "bottleneck_channels": 8, "chunk_frames": 16, "context_frames": 8, "n_mels": 32}
    model = build_model(small)
    path = tmp_path / "sep.safetensors"
    weights.save(path, model.state_dict(), {"stage": STAGE, "architecture": "MelUNet", "sample_rate": SAMPLE_RATE,
                                            "model": model.config.to_dict()})
    folder = make_folder(tmp_path / "mixes")
    code, out, err = run_cli(["evaluate", f"stage:separation@{path}", "--pairs", str(folder), "--out",
                              str(tmp_path / "eval"), "--save-outputs"], capsys)
    assert code == 0, err
    assert "## Stem `voice`" in out and "scored 2 mixtures (0 failed)" in out
    rows = list(csv.DictReader((tmp_path / "eval" / "scores.csv").open()))
    assert [r["file"] for r in rows] == ["item0", "item1"]
    assert all(r[c] for r in rows for c in ("voice_si_sdr", "voice_si_sdri", "background_sdr"))
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert summary["mode"] == "separation" and summary["columns"]["voice_si_sdr"]["count"] == 2
    assert (tmp_path / "eval" / "outputs" / "item0" / "background.wav").is_file()
