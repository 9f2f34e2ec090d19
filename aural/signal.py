"""Signal: audio as an immutable value.

A :class:`Signal` holds ``audio`` as a ``(channels, samples)`` float32 tensor, its
``sample_rate`` and read-only ``meta`` (source path, and a ``history`` of what touched it).
Every operation returns a new Signal; nothing here modifies ``audio`` in place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Mapping

import torch

MIN_SAMPLE_RATE = 1000
MAX_SAMPLE_RATE = 768000


def _freeze(meta: Mapping[str, Any] | None) -> Mapping[str, Any]:
    meta = dict(meta or {})
    meta["history"] = tuple(meta.get("history", ()))
    return MappingProxyType(meta)


@dataclass(frozen=True, eq=False)
class Signal:
    """Audio ``(channels, samples)`` float32 at ``sample_rate`` with read-only ``meta``."""

    audio: torch.Tensor
    sample_rate: int
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        audio = self.audio
        if not isinstance(audio, torch.Tensor):
            audio = torch.as_tensor(audio)
        if audio.ndim == 1:
            audio = audio.unsqueeze(0)
        if audio.ndim != 2:
            raise ValueError(f"Signal audio must be (channels, samples), got shape {tuple(audio.shape)}")
        if audio.shape[0] < 1:
            raise ValueError("Signal audio needs at least one channel")
        if audio.dtype != torch.float32:
            audio = audio.to(torch.float32)
        if not isinstance(self.sample_rate, int) or isinstance(self.sample_rate, bool):
            raise TypeError(f"sample_rate must be an int, got {self.sample_rate!r}")
        if not MIN_SAMPLE_RATE <= self.sample_rate <= MAX_SAMPLE_RATE:
            raise ValueError(f"sample_rate {self.sample_rate} Hz is outside {MIN_SAMPLE_RATE}..{MAX_SAMPLE_RATE}")
        object.__setattr__(self, "audio", audio)
        object.__setattr__(self, "meta", _freeze(self.meta))

    # -- facts -----------------------------------------------------------------------------
    @property
    def num_channels(self) -> int:
        return int(self.audio.shape[0])

    @property
    def num_samples(self) -> int:
        return int(self.audio.shape[1])

    @property
    def duration_s(self) -> float:
        return self.num_samples / self.sample_rate

    @property
    def history(self) -> tuple[Mapping[str, Any], ...]:
        return self.meta["history"]

    def __repr__(self) -> str:
        return (
            f"Signal(channels={self.num_channels}, samples={self.num_samples}, "
            f"sample_rate={self.sample_rate}, duration_s={self.duration_s:.3f})"
        )

    # -- new values ------------------------------------------------------------------------
    def replace(self, audio: torch.Tensor | None = None, sample_rate: int | None = None,
                **meta_updates: Any) -> "Signal":
        """A new Signal with other audio, rate or meta entries."""
        meta = dict(self.meta)
        meta.update(meta_updates)
        return Signal(self.audio if audio is None else audio,
                      self.sample_rate if sample_rate is None else sample_rate, meta)

    def with_history(self, step: str, **details: Any) -> "Signal":
        """A new Signal whose history records ``step`` (a stage or conversion) and its details."""
        entry = MappingProxyType({"step": step, **details})
        return self.replace(history=(*self.history, entry))

    def slice(self, start: int, stop: int | None = None) -> "Signal":
        """Samples ``start:stop`` (a view-free copy, so later edits cannot alias)."""
        return self.replace(self.audio[:, start:stop].clone())

    def gain_db(self, gain_db: float) -> "Signal":
        return self.replace(self.audio * float(10.0 ** (gain_db / 20.0)))

    def to_mono(self) -> "Signal":
        return self.to_channels(1)

    def to_channels(self, num_channels: int) -> "Signal":
        """Mix down to mono, or up from mono by copying; other counts must already match."""
        from aural.dsp.channels import convert_channels

        if num_channels == self.num_channels:
            return self
        return self.replace(convert_channels(self.audio, num_channels)).with_history(
            "channels", from_channels=self.num_channels, to_channels=num_channels)

    def resample(self, sample_rate: int) -> "Signal":
        """High-quality resampling (soxr); the history records it."""
        from aural.dsp.resample import resample

        if sample_rate == self.sample_rate:
            return self
        audio = resample(self.audio, self.sample_rate, sample_rate)
        return self.replace(audio, sample_rate).with_history(
            "resample", from_sample_rate=self.sample_rate, to_sample_rate=sample_rate)

    def peak_db(self) -> float:
        peak = float(self.audio.abs().max()) if self.num_samples else 0.0
        return 20.0 * math.log10(peak) if peak > 0 else -math.inf

    def rms_db(self) -> float:
        if not self.num_samples:
            return -math.inf
        rms = float(self.audio.double().pow(2).mean().sqrt())
        return 20.0 * math.log10(rms) if rms > 0 else -math.inf
