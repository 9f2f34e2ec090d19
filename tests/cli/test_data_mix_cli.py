"""``aural data mix``: a reproducible separation folder whose stems add up to the mixture."""

from __future__ import annotations

import json

import numpy as np
import soundfile as sf
import torch

from aural.signal import Signal
from helpers import run_cli, speech_like, write_audio


def make_sources(root):
    for index in range(3):
        write_audio(root / "voices" / f"v{index}.wav", speech_like(2.0, 16000, seed=index))
    rng = np.random.default_rng(0)
    for index in range(2):
        noise = Signal(torch.from_numpy((0.1 * rng.standard_normal((1, 40000))).astype("float32")), 16000)
        write_audio(root / "noise" / f"n{index}.wav", noise)
    return root / "voices", root / "noise"


def mix_args(voices, noise, out, seed=3):
    return ["data", "mix", "--voices", str(voices), "--backgrounds", str(noise), "--out", str(out),
            "--count", "4", "--seed", str(seed), "--seconds", "1", "--snr-db", "-5", "5"]


def test_mix_is_reproducible_and_stems_sum_to_the_mixture(tmp_path, capsys):
    voices, noise = make_sources(tmp_path)
    code, _, err = run_cli(mix_args(voices, noise, tmp_path / "a"), capsys)
    assert code == 0, err
    assert "wrote 4 mixtures" in err
    code, _, _ = run_cli(mix_args(voices, noise, tmp_path / "b"), capsys)
    assert code == 0
    code, _, _ = run_cli(mix_args(voices, noise, tmp_path / "c", seed=4), capsys)
    items = sorted(p.name for p in (tmp_path / "a").iterdir() if p.is_dir())
    assert items == ["mix-0000", "mix-0001", "mix-0002", "mix-0003"]
    for item in items:
        stems = {name: sf.read(tmp_path / "a" / item / f"{name}.wav", dtype="float64")[0]
                 for name in ("mixture", "voice", "background")}
        assert stems["mixture"].shape == (16000,)
        np.testing.assert_allclose(stems["voice"] + stems["background"], stems["mixture"], atol=1e-7)
        for name in stems:  # the samples, not the bytes: libsndfile's PEAK chunk holds the time of writing
            np.testing.assert_array_equal(sf.read(tmp_path / "a" / item / f"{name}.wav", dtype="float32")[0],
                                          sf.read(tmp_path / "b" / item / f"{name}.wav", dtype="float32")[0])
    assert not np.array_equal(sf.read(tmp_path / "a" / "mix-0000" / "mixture.wav")[0],
                              sf.read(tmp_path / "c" / "mix-0000" / "mixture.wav")[0])
    manifest = [json.loads(line) for line in (tmp_path / "a" / "manifest.jsonl").read_text().splitlines()]
    assert [entry["item"] for entry in manifest] == items
    assert all(-5 <= entry["snr_db"] <= 5 and entry["voice"].endswith(".wav") for entry in manifest)


def test_mix_refuses_an_existing_set_and_bad_ranges(tmp_path, capsys):
    voices, noise = make_sources(tmp_path)
    assert run_cli(mix_args(voices, noise, tmp_path / "a"), capsys)[0] == 0
    code, _, err = run_cli(mix_args(voices, noise, tmp_path / "a"), capsys)
    assert code == 2 and "already holds mixtures" in err and "--overwrite" in err
    code, _, err = run_cli([*mix_args(voices, noise, tmp_path / "d")[:-3], "--snr-db", "5", "-5"], capsys)
    assert code == 2 and "low end is above the high end" in err
