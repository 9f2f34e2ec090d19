"""Frame transform of ``freq_expansion``: STFT, causal cutoff tracking, chunked expansion."""

from __future__ import annotations

import torch

from aural.nn.spectral import hann_window, stft_frames
from aural.stages.freq_expansion.model import BandwidthExtender

MAX_BATCH_CHUNKS = 16


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
