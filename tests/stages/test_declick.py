"""The declick stage: registered, aligned output, clicks removed through a pipeline."""

from __future__ import annotations

import numpy as np
import torch

from aural.config import parse_pipeline
from aural.pipeline import Pipeline
from aural.signal import Signal
from aural.stages import get_stage
from aural.stages.declick import DeclickStage
from helpers import clicks, smooth_voice

SAMPLE_RATE = 48000


def test_registered_with_latency():
    assert get_stage("declick") is DeclickStage
    stage = DeclickStage()
    stage.configure(SAMPLE_RATE, 1)
    assert 0 < stage.latency_samples < 0.1 * SAMPLE_RATE


def test_pipeline_output_is_aligned_and_clicks_are_gone():
    voice = smooth_voice(4.0, seed=6)
    damage = clicks(len(voice), seed=6, count=20)
    pipeline = Pipeline.from_spec(parse_pipeline({"aural": 1, "stages": [{"stage": "declick"}]}))
    out = pipeline.process(Signal(torch.tensor(voice + damage, dtype=torch.float32)[None], SAMPLE_RATE))
    residual = out.audio[0].double().numpy() - voice
    assert out.num_samples == len(voice)
    assert 10 * np.log10(np.sum(damage ** 2) / np.sum(residual ** 2)) >= 15.0
    stage = DeclickStage()
    stage.process(Signal(torch.tensor(voice + damage, dtype=torch.float32)[None], SAMPLE_RATE))
    assert stage.repaired_samples > 0
