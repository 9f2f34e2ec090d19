"""A streamed delay line in whole samples (numpy only: the compressor, the true-peak limiter and mix_master use it)."""

from __future__ import annotations

import numpy as np


class SampleDelay:
    """``(channels, samples)`` blocks out ``delay_samples`` later (zeros first)."""

    def __init__(self, delay_samples: int, num_channels: int):
        self.delay_samples = delay_samples
        self.num_channels = num_channels
        self.reset()

    def reset(self) -> None:
        self._held = np.zeros((self.num_channels, self.delay_samples), dtype=np.float64)

    def process(self, audio: np.ndarray) -> np.ndarray:
        """The next block, ``delay_samples`` late; a new array (``concatenate`` copies)."""
        count = audio.shape[-1]
        joined = np.concatenate([self._held, np.asarray(audio, dtype=np.float64)], axis=-1)
        self._held = joined[:, count:].copy()
        return joined[:, :count]
