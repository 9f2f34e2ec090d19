"""Augmentations of the clean source itself, before the studio/phone pair is made.

A speed change alters the length, so it cannot be a chain transform (those keep the shape, and
the studio reference is made from the source itself, dry or with the room's early reflections):
the on-the-fly training dataset
(:class:`aural.train.datasets.OnTheFlyDataset`) applies it to the clean crop, and the reference
and the degraded side both come from the changed crop, so they stay aligned.

Pitch shifting without a speed change is left out: it needs a phase vocoder or PSOLA, whose
artefacts would land in the studio reference; a speed change shifts pitch and tempo together
with nothing but a clean resampler (Kaldi-style speed perturbation).
"""

from __future__ import annotations

import math

import numpy as np
import torch

from aural.dsp.resample import resample


def draw_speed(rng: np.random.Generator, probability: float, bounds: tuple[float, float] = (0.9, 1.1)) -> float:
    """A speed factor: 1.0, or with ``probability`` one drawn uniformly in ``bounds`` (3 digits)."""
    taken = rng.random() < probability
    factor = round(float(rng.uniform(*bounds)), 3)
    return factor if taken else 1.0


def source_samples(num_samples: int, factor: float) -> int:
    """Input samples a speed change by ``factor`` needs to yield ``num_samples``."""
    return int(math.ceil(num_samples * factor)) + 1


def change_speed(audio: torch.Tensor, sample_rate: int, factor: float) -> torch.Tensor:
    """``audio`` played ``factor`` times faster (pitch up by ``factor``): ``len / factor`` samples.

    The audio is taken to be at ``round(sample_rate * factor)`` Hz and resampled to ``sample_rate``
    (soxr, linear phase).
    """
    if factor == 1.0:
        return audio
    return resample(audio, int(round(sample_rate * factor)), sample_rate)
