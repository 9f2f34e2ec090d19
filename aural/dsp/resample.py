"""High-quality resampling through soxr, whole-signal and streaming."""

from __future__ import annotations

import numpy as np
import soxr
import torch

QUALITY = "VHQ"


def resample(audio: torch.Tensor, from_sample_rate: int, to_sample_rate: int) -> torch.Tensor:
    """Resample ``(channels, samples)`` audio; output length is ``round(n * to / from)``."""
    if from_sample_rate == to_sample_rate:
        return audio
    frames = audio.detach().cpu().numpy().T.astype(np.float32, copy=False)
    out = soxr.resample(np.ascontiguousarray(frames), from_sample_rate, to_sample_rate, quality=QUALITY)
    return torch.from_numpy(np.ascontiguousarray(out.T, dtype=np.float32))


class StreamingResampler:
    """Resample audio that arrives in blocks; the output stays aligned with the input.

    The concatenated output of ``process`` calls followed by ``flush`` equals (to float
    rounding) the whole-signal :func:`resample` of the concatenated input.
    """

    def __init__(self, from_sample_rate: int, to_sample_rate: int, num_channels: int):
        self.from_sample_rate = from_sample_rate
        self.to_sample_rate = to_sample_rate
        self.num_channels = num_channels
        self.reset()

    def reset(self) -> None:
        self._stream = soxr.ResampleStream(self.from_sample_rate, self.to_sample_rate,
                                           self.num_channels, dtype="float32", quality=QUALITY)

    def _run(self, audio: torch.Tensor, last: bool) -> torch.Tensor:
        frames = np.ascontiguousarray(audio.detach().cpu().numpy().T, dtype=np.float32)
        out = self._stream.resample_chunk(frames, last=last)
        return torch.from_numpy(np.ascontiguousarray(out.T, dtype=np.float32).reshape(self.num_channels, -1))

    def process(self, audio: torch.Tensor) -> torch.Tensor:
        return self._run(audio, last=False)

    def flush(self) -> torch.Tensor:
        return self._run(torch.zeros(self.num_channels, 0), last=True)
