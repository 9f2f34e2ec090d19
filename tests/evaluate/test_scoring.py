"""score_signals and rows: mismatched inputs are handled and noted; deltas; determinism."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aural.evaluate import columns, pipeline_row, score_row, score_signals
from aural.signal import Signal
from helpers import speech_like

FAST = ["snr", "si_sdr", "lsd", "lsd_hf", "pearson", "mse", "lufs", "true_peak_db"]


def noisy(signal: Signal, level: float = 0.01, seed: int = 0) -> Signal:
    rng = np.random.default_rng(seed)
    noise = torch.from_numpy(rng.standard_normal(tuple(signal.audio.shape)).astype(np.float32))
    return signal.replace(signal.audio + level * noise)


def test_mismatched_channels_are_mixed_down_and_noted():
    clean = speech_like(1.0, 16000, num_channels=2)
    estimate = noisy(clean.to_mono())
    result = score_signals(clean, estimate, ["snr"])
    assert "reference: 2 channels scored as a mono mixdown" in result.notes
    expected = score_signals(clean.to_mono(), estimate, ["snr"]).values["snr"]
    assert result.values["snr"] == pytest.approx(expected)


def test_mismatched_lengths_are_trimmed_and_noted():
    clean = speech_like(2.0, 16000)
    estimate = noisy(clean).slice(0, 24000)
    result = score_signals(clean, estimate, ["snr"])
    assert any("lengths differ" in n and "1.50 s overlap" in n for n in result.notes)
    assert result.values["snr"] == pytest.approx(
        score_signals(clean.slice(0, 24000), estimate, ["snr"]).values["snr"])


def test_identical_signals():
    clean = speech_like(1.0, 16000)
    result = score_signals(clean, clean, ["snr", "lsd", "pearson", "mse"])
    assert result.values == {"lsd": 0.0, "pearson": 1.0, "mse": 0.0}
    assert result.reasons["snr"].startswith("infinite")
    assert result.notes == [] and result.delay_s == 0.0


def test_deterministic():
    clean = speech_like(2.0, 44100, seed=5)
    estimate = noisy(clean.resample(22050), 0.02)
    first = score_signals(clean, estimate, FAST + ["estoi"])
    second = score_signals(clean, estimate, FAST + ["estoi"])
    assert first.values == second.values and first.reasons == second.reasons


def test_score_row_plain_columns():
    clean = speech_like(1.0, 16000)
    row = score_row("a/b", clean, noisy(clean), ["snr", "lufs"])
    assert row.file == "a/b" and set(row.values) == {"snr", "lufs"}
    assert columns(["snr", "lufs"], pipeline=False) == ["snr", "lufs"]


def test_pipeline_row_has_input_output_and_delta():
    clean = speech_like(1.0, 16000)
    source = noisy(clean, 0.05)
    output = noisy(clean, 0.01, seed=1)
    row = pipeline_row("x", clean, source, output, ["snr", "lufs", "pesq_wb"])
    assert columns(["snr"], pipeline=True) == ["input_snr", "output_snr", "delta_snr"]
    assert row.values["delta_snr"] == pytest.approx(row.values["output_snr"] - row.values["input_snr"])
    assert row.values["delta_snr"] > 10
    assert row.values["delta_lufs"] == pytest.approx(row.values["output_lufs"] - row.values["input_lufs"])
    silent_out = Signal(torch.zeros(1, 16000), 16000)
    row = pipeline_row("y", clean, source, silent_out, ["pearson", "lufs"])
    assert "pearson" not in {k[len("delta_"):] for k in row.values if k.startswith("delta_")}
    assert row.reasons["delta_pearson"].startswith("no output value: undefined")
    assert row.reasons["delta_lufs"].startswith("no output value")


def test_pipeline_row_without_reference_scores_non_intrusive_only():
    source = speech_like(1.0, 16000)
    row = pipeline_row("z", None, source, source.gain_db(-6.0), ["snr", "lufs"])
    assert row.reasons["input_snr"] == "needs a reference"
    assert row.values["delta_lufs"] == pytest.approx(-6.0, abs=1e-3)
