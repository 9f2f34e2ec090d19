"""NoiseReductionStage: :class:`ConvAutoencoder` over Hann-windowed 2048-sample frames.

Frames start every 1024 samples (50 % overlap). The model sees each frame as cut; its
output is multiplied by a periodic Hann window and overlap-added, normalised by the summed
window, so frame edges never show as clicks and an identity model returns its input.
Channels run independently as one batch. Latency is ``window_samples - 1`` samples.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from aural.nn.spectral import hann_window
from aural.nn.streaming import StreamingFrameProcessor
from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage
from aural.stages.noise_reduction.model import build_model

SAMPLE_RATE = 16000
MAX_BATCH_WINDOWS = 64  # windows per forward pass: bounds memory for any block size


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
    model_factory = staticmethod(build_model)
    task_module = "aural.stages.noise_reduction.task"

    def __init__(self, params: Any = None, *, weights: str | None = "default", model: nn.Module | None = None,
                 **param_values: Any):
        super().__init__(params, **param_values)
        self.model = self._resolve_model(weights, model)
        config = getattr(model, "config", None)
        self.window_samples = int(getattr(config, "window_samples", 2048))
        self._engine = StreamingFrameProcessor(
            self._denoise_frames, frame_length=self.window_samples, hop_length=self.window_samples // 2,
            synthesis_window=hann_window(self.window_samples), strength=self.params.strength)

    @property
    def latency_samples(self) -> int:
        return self._engine.latency_samples

    def reset(self) -> None:
        self._engine.reset(self.num_channels or 1)

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        if self.num_channels is None:
            raise RuntimeError(f"{self.name}: call configure() before process_block()")
        return self._engine.push(audio)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.weights_info}

    @torch.inference_mode()
    def _denoise_frames(self, frames: torch.Tensor) -> torch.Tensor:
        channels, count, length = frames.shape
        flat = frames.reshape(channels * count, 1, length)
        out = torch.empty_like(flat)
        for start in range(0, flat.shape[0], MAX_BATCH_WINDOWS):
            out[start:start + MAX_BATCH_WINDOWS] = self.model(flat[start:start + MAX_BATCH_WINDOWS])
        return out.reshape(channels, count, length)
