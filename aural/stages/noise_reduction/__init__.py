"""The ``noise_reduction`` stage: a waveform convolutional autoencoder."""

from __future__ import annotations

from aural.stages.noise_reduction.stage import NoiseReductionParams, NoiseReductionStage

__all__ = ["NoiseReductionParams", "NoiseReductionStage"]
