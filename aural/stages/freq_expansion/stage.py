"""FreqExpansionStage: bandwidth extension to 48 kHz with :class:`BandwidthExtender`.

The stage runs at 48 kHz (the pipeline resamples 8-44.1 kHz input up to it; soxr leaves the
band above the old Nyquist empty, and the cutoff tracker finds that edge like any other).
STFT frames (periodic Hann, ``n_fft`` 1024, hop 256) are computed as audio arrives; the
causal cutoff tracker sees every frame once, in order, and the network expands chunks of
``chunk_frames`` with ``context_frames`` of real context each side, so the output does not
depend on how the input is split into blocks and memory stays bounded. Channels share one
cutoff track. ``strength`` scales the generated band only (0: the input unchanged).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from aural.nn.spectral import hann_window, stft_frames
from aural.nn.streaming import StreamingFrameProcessor
from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage
from aural.stages.freq_expansion.model import BandwidthExtender, build_model

SAMPLE_RATE = 48000
MAX_BATCH_CHUNKS = 16


@dataclass(frozen=True)
class FreqExpansionParams:
    strength: float = param(1.0, help="level of the generated band: 0 adds nothing, 1 the full prediction",
                            min=0.0, max=1.0)


class ChunkedExpansion:
    """Frame transform for :class:`StreamingFrameProcessor`: STFT, cutoff, chunked expansion, inverse FFT."""

    def __init__(self, model: BandwidthExtender):
        self.model = model
        config = model.config
        self.n_fft = config.n_fft
        self.chunk = config.chunk_frames
        self.context = config.context_frames
        self.window = hann_window(config.n_fft)
        self.tracker = model.cutoff_tracker()

    @property
    def max_held_frames(self) -> int:
        return self.chunk + self.context - 1

    def reset(self, num_channels: int) -> None:
        bins = self.n_fft // 2 + 1
        self.tracker.reset()
        self._history = torch.zeros(num_channels, self.context, bins, dtype=torch.complex64)
        self._history_cutoff = torch.full((self.context,), bins, dtype=torch.long)
        self._queue = torch.zeros(num_channels, 0, bins, dtype=torch.complex64)
        self._queue_cutoff = torch.zeros(0, dtype=torch.long)

    @torch.inference_mode()
    def __call__(self, frames: torch.Tensor) -> torch.Tensor:
        spec = stft_frames(frames, self.window)
        cutoff = self.tracker(spec.real.pow(2) + spec.imag.pow(2)) if spec.shape[1] else self._queue_cutoff[:0]
        self._queue = torch.cat([self._queue, spec], dim=1)
        self._queue_cutoff = torch.cat([self._queue_cutoff, cutoff])
        channels, queued, bins = self._queue.shape
        num_chunks = max(0, (queued - self.context) // self.chunk)
        if num_chunks == 0:
            return frames.new_zeros(channels, 0, self.n_fft)
        full = torch.cat([self._history, self._queue], dim=1)
        full_cutoff = torch.cat([self._history_cutoff, self._queue_cutoff])
        span = self.chunk + 2 * self.context
        windows = full.unfold(1, span, self.chunk)[:, :num_chunks]            # (C, N, bins, span)
        windows = windows.permute(0, 1, 3, 2).reshape(channels * num_chunks, span, bins)
        cutoffs = full_cutoff.unfold(0, span, self.chunk)[:num_chunks].repeat(channels, 1)
        expanded = torch.cat([self.model.expand(part, cut)[0] for part, cut in
                              zip(windows.split(MAX_BATCH_CHUNKS), cutoffs.split(MAX_BATCH_CHUNKS))])
        centre = slice(self.context, self.context + self.chunk)
        out = expanded[:, centre].reshape(channels, num_chunks * self.chunk, bins)
        done = num_chunks * self.chunk
        self._history = full[:, done:done + self.context].clone()
        self._history_cutoff = full_cutoff[done:done + self.context].clone()
        self._queue = self._queue[:, done:].clone()
        self._queue_cutoff = self._queue_cutoff[done:].clone()
        return torch.fft.irfft(out, n=self.n_fft, dim=-1)


@register_stage
class FreqExpansionStage(LearnedStage):
    """Generate the band a phone, codec or resampler removed, up to 24 kHz; keep the rest."""

    name = "freq_expansion"
    summary = "Learned bandwidth extension to 48 kHz: finds the content's cutoff, adds the missing band."
    Params = FreqExpansionParams
    contract = IOContract(sample_rate=SAMPLE_RATE, output_at_native_rate=True)
    model_factory = staticmethod(build_model)
    task_module = "aural.stages.freq_expansion.task"

    def __init__(self, params: Any = None, *, weights: str | None = "default", model: nn.Module | None = None,
                 **param_values: Any):
        super().__init__(params, **param_values)
        self.model = self._resolve_model(weights, model)
        self._expansion = ChunkedExpansion(self.model)
        window = hann_window(self.model.config.n_fft)
        self._engine = StreamingFrameProcessor(
            self._expansion, frame_length=self.model.config.n_fft, hop_length=self.model.config.hop_length,
            synthesis_window=window, analysis_window=window, max_held_frames=self._expansion.max_held_frames,
            strength=self.params.strength)

    @property
    def latency_samples(self) -> int:
        return self._engine.latency_samples

    def reset(self) -> None:
        self._engine.reset(self.num_channels or 1)
        self._expansion.reset(self.num_channels or 1)

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        if self.num_channels is None:
            raise RuntimeError(f"{self.name}: call configure() before process_block()")
        return self._engine.push(audio)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), **self.weights_info}
