"""NoiseReductionStage: :class:`ConvAutoencoder` over Hann-windowed 2048-sample frames.

Frames start every 1024 samples (50 % overlap). The model sees each frame as cut; its
output is multiplied by a periodic Hann window and overlap-added, normalised by the summed
window, so frame edges never show as clicks and an identity model returns its input.
Channels run independently as one batch. Latency is ``window_samples - 1`` samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage

if TYPE_CHECKING:  # the network loads with the stage: importing this module stays cheap
    from torch import nn

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class NoiseReductionParams:
    strength: float = param(1.0, help="dry/wet mix: 0 returns the input unchanged, 1 the denoised signal",
                            min=0.0, max=1.0)


@register_stage
class NoiseReductionStage(LearnedStage):
    """Remove background noise with a convolutional autoencoder on the waveform."""

    name = "noise_reduction"
    summary = "Learned noise removal: 1-D conv autoencoder on 2048-sample windows, Hann overlap-add."
    Params = NoiseReductionParams
    contract = IOContract(sample_rate=SAMPLE_RATE, keep_high_band=True)
    model_module = "aural.stages.noise_reduction.model"
    task_module = "aural.stages.noise_reduction.task"

    def __init__(self, params: Any = None, *, weights: str | None = "default", model: nn.Module | None = None,
                 **param_values: Any):
        from aural.stages.noise_reduction.engine import build_engine

        super().__init__(params, **param_values)
        self.model = self._resolve_model(weights, model)
        self._engine = build_engine(self.model, self.params.strength)
        self.window_samples = self._engine.frame_length
