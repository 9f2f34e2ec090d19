"""Streaming engine of ``mel_unet``: :class:`MelUNet` gains on chunks of a streamed STFT."""

from __future__ import annotations

import torch

from aural.nn.spectral import hann_window, stft_frames
from aural.nn.streaming import StreamingFrameProcessor
from aural.stages.mel_unet.model import MelUNet

MAX_BATCH_CHUNKS = 16


class ChunkedGains:
    """Frame transform for :class:`StreamingFrameProcessor`: STFT, chunked gains, inverse FFT."""

    def __init__(self, model: MelUNet):
        self.model = model
        config = model.config
        self.n_fft = config.n_fft
        self.chunk = config.chunk_frames
        self.context = config.context_frames
        self.window = hann_window(config.n_fft)

    @property
    def max_held_frames(self) -> int:
        return self.chunk + self.context - 1

    def reset(self, num_channels: int) -> None:
        bins = self.n_fft // 2 + 1
        self._history = torch.zeros(num_channels, self.context, bins, dtype=torch.complex64)
        self._queue = torch.zeros(num_channels, 0, bins, dtype=torch.complex64)

    @torch.inference_mode()
    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        self._queue = torch.cat([self._queue, stft_frames(frames, self.window)], dim=1)
        channels, queued, bins = self._queue.shape
        num_chunks = max(0, (queued - self.context) // self.chunk)
        if num_chunks == 0:
            return frames.new_zeros(channels, 0, self.n_fft)
        full = torch.cat([self._history, self._queue], dim=1)
        span = self.chunk + 2 * self.context
        windows = full.unfold(1, span, self.chunk)[:, :num_chunks]          # (C, N, bins, span)
        windows = windows.permute(0, 1, 3, 2).reshape(channels * num_chunks, span, bins)
        gains = torch.cat([self.model.gains(part) for part in windows.split(MAX_BATCH_CHUNKS)])
        centre = slice(self.context, self.context + self.chunk)
        masked = (windows[:, centre] * gains[:, centre]).reshape(channels, num_chunks * self.chunk, bins)
        done = num_chunks * self.chunk
        self._history = full[:, done:done + self.context].clone()
        self._queue = self._queue[:, done:].clone()
        return torch.fft.irfft(masked, n=self.n_fft, dim=-1)


def build_engine(model: MelUNet, strength: float) -> tuple[StreamingFrameProcessor, ChunkedGains]:
    """The overlap-add stream around ``model``'s gains, mixed with the dry input by ``strength``."""
    gains = ChunkedGains(model)
    window = hann_window(model.config.n_fft)
    engine = StreamingFrameProcessor(
        gains, frame_length=model.config.n_fft, hop_length=model.config.hop_length,
        synthesis_window=window, analysis_window=window, max_held_frames=gains.max_held_frames,
        strength=strength)
    return engine, gains
