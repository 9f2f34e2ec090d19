"""The dehum stage: registered, two passes in a pipeline, clean input untouched."""

from __future__ import annotations

import numpy as np
import torch

from aural.config import parse_pipeline
from aural.pipeline import Pipeline
from aural.signal import Signal
from aural.stages import get_stage
from aural.stages.dehum import DehumStage
from aural.systems.probe import voiced

SAMPLE_RATE = 48000


def humming_voice(duration_s: float = 6.0) -> tuple[np.ndarray, np.ndarray]:
    voice = voiced(SAMPLE_RATE, duration_s, seed=1).astype(np.float64)
    t = np.arange(len(voice)) / SAMPLE_RATE
    hum = sum(0.6 ** (k - 1) * np.sin(2 * np.pi * 50.0 * k * t + k) for k in range(1, 9))
    return voice, hum * np.sqrt(np.mean(voice ** 2) / np.mean(hum ** 2)) * 0.1


def test_registered():
    assert get_stage("dehum") is DehumStage
    assert DehumStage.needs_analysis


def test_pipeline_runs_both_passes_and_removes_hum():
    voice, hum = humming_voice()
    pipeline = Pipeline.from_spec(parse_pipeline({"aural": 1, "stages": [{"stage": "dehum"}]}))
    out = pipeline.process(Signal(torch.tensor(voice + hum, dtype=torch.float32)[None], SAMPLE_RATE))
    residual = out.audio[0].double().numpy() - voice
    assert 10 * np.log10(np.mean(hum ** 2) / np.mean(residual ** 2)) >= 25.0
    assert [entry for entry in out.history if entry["step"] == "dehum"][0]["hum_s"] > 0


def test_hum_time_is_never_longer_than_the_recording():
    voice, hum = humming_voice(2.5)  # analysis windows are centred at 0, 1, 2 and 3 s
    out = DehumStage().process(Signal(torch.tensor(voice + hum, dtype=torch.float32)[None], SAMPLE_RATE))
    assert 0 < out.history[-1]["hum_s"] <= 2.5


def test_strength_zero_and_clean_input_pass_unchanged():
    voice, hum = humming_voice(3.0)
    audio = torch.tensor(voice + hum, dtype=torch.float32)[None]
    assert torch.equal(DehumStage(strength=0.0).process(Signal(audio, SAMPLE_RATE)).audio, audio)
    clean = torch.tensor(voice, dtype=torch.float32)[None]
    out = DehumStage().process(Signal(clean, SAMPLE_RATE))
    assert torch.equal(out.audio, clean) and out.history[-1]["hum_s"] == 0
