"""Spleeter 2-stem's vocal mask as one module (the U-Nets from :func:`aural.spleeter.load_estimator`)."""

from __future__ import annotations

from typing import Any

import torch


class VocalMask(torch.nn.Module):
    """Spleeter's two U-Nets as one module: ``(batch, 2, frames, MASK_BINS)`` stereo magnitudes ->
    the vocals' soft mask ``v^2 / (v^2 + a^2)``, same shape, in [0, 1] (frames a multiple of 64,
    the U-Nets' stride)."""

    def __init__(self, estimator: Any):
        super().__init__()
        self.vocals, self.accompaniment = estimator.instruments

    def forward(self, magnitude: torch.Tensor) -> torch.Tensor:
        vocals, accompaniment = self.vocals(magnitude).square(), self.accompaniment(magnitude).square()
        return (vocals + 5e-11) / (vocals + accompaniment + 1e-10)
