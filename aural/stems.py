"""Stems: named signals of one rate, channel count and length that add up to their mixture.

A separation stage turns one :class:`~aural.signal.Signal` into :class:`Stems` (``voice`` and
``background``); later stages may process one stem (``apply_to``) and ``mix_master`` sums them
with gains. Like a Signal, Stems are immutable values: every operation returns new Stems.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Iterator, Mapping

import torch

from aural.signal import Signal


def estimate_and_rest(estimate: torch.Tensor, mixture: torch.Tensor, strength: float) -> torch.Tensor:
    """``(2, channels, n)`` blocks of a two-stem separation: the first stem ``strength`` of the
    way from ``mixture`` to ``estimate`` (0: the whole mixture), then the mixture minus it, so the
    two add up to the mixture whatever the estimate."""
    first = mixture + strength * (estimate - mixture)
    return torch.stack([first, mixture - first])


class Stems(Mapping[str, Signal]):
    """``name -> Signal``, in a fixed order; every stem has the same rate, channels and length."""

    def __init__(self, stems: Mapping[str, Signal]):
        if not stems:
            raise ValueError("Stems need at least one stem")
        items = dict(stems)
        first = next(iter(items.values()))
        for name, signal in items.items():
            if not isinstance(name, str) or not name:
                raise ValueError(f"stem names must be non-empty strings, got {name!r}")
            if not isinstance(signal, Signal):
                raise TypeError(f"stem {name!r} must be a Signal, got {type(signal).__name__}")
            if (signal.sample_rate, signal.num_channels, signal.num_samples) != (
                    first.sample_rate, first.num_channels, first.num_samples):
                raise ValueError(f"stem {name!r} is {signal!r}; every stem must match {first!r}")
        self._stems = MappingProxyType(items)

    @classmethod
    def from_audio(cls, audio: Mapping[str, torch.Tensor], sample_rate: int, meta: Mapping | None = None) -> "Stems":
        """Stems from ``name -> (channels, samples)`` tensors sharing ``meta`` (e.g. the mixture's)."""
        return cls({name: Signal(tensor, sample_rate, meta or {}) for name, tensor in audio.items()})

    # -- mapping ---------------------------------------------------------------------------
    def __getitem__(self, name: str) -> Signal:
        try:
            return self._stems[name]
        except KeyError:
            raise KeyError(f"no stem {name!r} (stems: {', '.join(self._stems)})") from None

    def __iter__(self) -> Iterator[str]:
        return iter(self._stems)

    def __len__(self) -> int:
        return len(self._stems)

    def __repr__(self) -> str:
        first = self._first
        return (f"Stems({', '.join(self._stems)}; channels={first.num_channels}, samples={first.num_samples}, "
                f"sample_rate={first.sample_rate})")

    # -- facts -----------------------------------------------------------------------------
    @property
    def _first(self) -> Signal:
        return next(iter(self._stems.values()))

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self._stems)

    @property
    def sample_rate(self) -> int:
        return self._first.sample_rate

    @property
    def num_channels(self) -> int:
        return self._first.num_channels

    @property
    def num_samples(self) -> int:
        return self._first.num_samples

    # -- new values ------------------------------------------------------------------------
    def mixture(self) -> Signal:
        """The sum of every stem (its meta is the first stem's)."""
        total = torch.stack([signal.audio for signal in self._stems.values()]).sum(dim=0)
        return self._first.replace(total)

    def replace(self, name: str, signal: Signal) -> "Stems":
        """New Stems with stem ``name`` (which must exist) replaced by ``signal``."""
        self[name]  # noqa: B018 - raises the clear KeyError for an unknown stem
        return Stems({**self._stems, name: signal})
