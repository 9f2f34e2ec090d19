"""DeepFilterNet3's voice estimate of a 16 kHz stream, for the ``separation`` stage to blend in.

The stream goes up to DeepFilterNet3's 48 kHz (soxr), through the ``deepfilter`` stage (libDF,
one state per channel), with its latency dropped, and back down to 16 kHz, so output sample n
lines up with input sample n. The resamplers hold back a few hundred samples and libDF a frame
and its own delay; :meth:`DeepFilterVoice.take` gives the estimate ``delay_samples`` behind the
input, which must cover that (the separation network's latency does, many times over).
"""

from __future__ import annotations

import torch

from aural.dsp.resample import StreamingResampler
from aural.stages.deepfilter import SAMPLE_RATE as DEEPFILTER_SAMPLE_RATE
from aural.stages.deepfilter import DeepFilterStage

MIN_DELAY_SAMPLES = 2048  # at 16 kHz: libDF's 1,919 samples at 48 kHz plus the resamplers' hold-back, with room


class DeepFilterVoice:
    """Push a 16 kHz ``(channels, n)`` stream; take the DeepFilterNet3 output ``delay_samples`` behind it."""

    def __init__(self, denoiser: DeepFilterStage, sample_rate: int, num_channels: int, delay_samples: int):
        if delay_samples < MIN_DELAY_SAMPLES:
            raise ValueError(f"DeepFilterNet3's voice needs a delay of at least {MIN_DELAY_SAMPLES} samples, "
                             f"not {delay_samples}")
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.delay_samples = delay_samples
        self._denoiser = denoiser
        self.reset()

    def reset(self) -> None:
        self._up = StreamingResampler(self.sample_rate, DEEPFILTER_SAMPLE_RATE, self.num_channels)
        self._down = StreamingResampler(DEEPFILTER_SAMPLE_RATE, self.sample_rate, self.num_channels)
        self._denoiser.configure(DEEPFILTER_SAMPLE_RATE, self.num_channels)
        self._skip = self._denoiser.latency_samples
        self._ready = torch.zeros(self.num_channels, self.delay_samples)

    def push(self, audio: torch.Tensor) -> None:
        denoised = self._denoiser.process_block(self._up.process(audio))
        drop = min(self._skip, denoised.shape[1])
        self._skip -= drop
        self._ready = torch.cat([self._ready, self._down.process(denoised[:, drop:])], dim=1)

    def take(self, num_samples: int) -> torch.Tensor:
        if num_samples > self._ready.shape[1]:
            raise RuntimeError(f"DeepFilterNet3's voice: {num_samples} samples asked, {self._ready.shape[1]} ready")
        taken, self._ready = self._ready[:, :num_samples], self._ready[:, num_samples:]
        return taken
