"""Streaming engine of ``noise_reduction``: the autoencoder on Hann-windowed, 50 %-overlapped frames."""

from __future__ import annotations

import torch
from torch import nn

from aural.nn.spectral import hann_window
from aural.nn.streaming import StreamingFrameProcessor

DEFAULT_WINDOW_SAMPLES = 2048
MAX_BATCH_WINDOWS = 64  # windows per forward pass: bounds memory for any block size


class WindowDenoiser:
    """Frame transform for :class:`StreamingFrameProcessor`: every frame through the model."""

    def __init__(self, model: nn.Module):
        self.model = model

    @torch.inference_mode()
    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        channels, count, length = frames.shape
        flat = frames.reshape(channels * count, 1, length)
        out = torch.empty_like(flat)
        for start in range(0, flat.shape[0], MAX_BATCH_WINDOWS):
            out[start:start + MAX_BATCH_WINDOWS] = self.model(flat[start:start + MAX_BATCH_WINDOWS])
        return out.reshape(channels, count, length)


def build_engine(model: nn.Module, strength: float) -> StreamingFrameProcessor:
    """The overlap-add stream around ``model`` (hop: half its window), mixed by ``strength``."""
    config = getattr(model, "config", None)
    window_samples = int(getattr(config, "window_samples", DEFAULT_WINDOW_SAMPLES))
    return StreamingFrameProcessor(
        WindowDenoiser(model), frame_length=window_samples, hop_length=window_samples // 2,
        synthesis_window=hann_window(window_samples), strength=strength)
