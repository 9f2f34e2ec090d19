"""DeepFilterNet3's voice estimate of a 16 kHz stream, for the ``separation`` stage to blend in.

The ``deepfilter`` stage runs as a one-stage pipeline would run it on the stream (resampled up
to its 48 kHz, one DeepFilterNet3 stream per channel, its latency dropped, back down), so output
sample n lines up with input sample n. The resamplers hold back a few hundred samples and DeepFilterNet3 a frame
and its own delay; :meth:`DeepFilterVoice.take` gives the estimate ``delay_samples`` behind the
input, which must cover that (the separation network's latency does, many times over).

DeepFilterNet3 erases quiet band-limited speech (see :mod:`aural.stages.deepfilter`): the
separation stage's analysis pass feeds :meth:`DeepFilterVoice.analyze`, the block stream's
analysis pass, so the ``deepfilter`` stage measures the input as in any pipeline.
"""

from __future__ import annotations

import torch

from aural.config import PipelineSpec, StageSpec
from aural.pipeline import Pipeline
from aural.stages.deepfilter import DeepFilterStage

MIN_DELAY_SAMPLES = 2560  # at 16 kHz: at most 2,332 measured (DeepFilterNet3's 1,919 samples at 48 kHz, the resamplers' hold-back), with room


class DeepFilterVoice:
    """Push a ``(channels, n)`` stream at ``sample_rate``; take the DeepFilterNet3 output
    ``delay_samples`` behind it. Without the extra ``deepfilter``, construction raises the error
    that names it."""

    def __init__(self, sample_rate: int):
        self._denoiser = DeepFilterStage()
        self._pipeline = Pipeline(PipelineSpec(name="deepfilter", stages=(StageSpec(self._denoiser.name,
                                                                                    self._denoiser.params),)),
                                  [self._denoiser])
        self.sample_rate = sample_rate

    def reset(self, num_channels: int, delay_samples: int) -> None:
        if delay_samples < MIN_DELAY_SAMPLES:
            raise ValueError(f"DeepFilterNet3's voice needs a delay of at least {MIN_DELAY_SAMPLES} samples, "
                             f"not {delay_samples}")
        self._stream = self._pipeline.block_stream(self.sample_rate, num_channels)
        self._ready = torch.zeros(num_channels, delay_samples)

    def analyze(self, audio: torch.Tensor) -> None:
        """A block of the input's analysis pass (before any :meth:`push`)."""
        self._stream.analyze(audio)

    def finish_analysis(self) -> None:
        self._stream.finish_analysis()

    @property
    def level_gain_db(self) -> float:
        """How far the input is raised for DeepFilterNet3 (0 dB before an analysis pass)."""
        return self._denoiser.level_gain_db

    def push(self, audio: torch.Tensor) -> None:
        self._ready = torch.cat([self._ready, self._stream(audio)], dim=1)

    def take(self, num_samples: int) -> torch.Tensor:
        if num_samples > self._ready.shape[1]:
            raise RuntimeError(f"DeepFilterNet3's voice: {num_samples} samples asked, {self._ready.shape[1]} ready")
        taken, self._ready = self._ready[:, :num_samples], self._ready[:, num_samples:]
        return taken
