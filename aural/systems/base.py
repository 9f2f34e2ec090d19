"""The System interface: another enhancement system (or an aural pipeline) as Signal -> Signal.

A system runs at its ``native_sample_rate`` (``None``: any rate) on one channel at a time and
may delay its output by ``latency_samples`` (counted at the native rate). :meth:`System.process`
resamples to the native rate and back (soxr, linear phase, so resampling adds no delay),
feeds each channel ``latency_samples`` of trailing zeros (plus enough to fill the last frame)
and drops the first ``latency_samples`` of output: the result is aligned with the input and
exactly as long. Channels run independently, each from a fresh state.

Model loading (:meth:`System.load`) and per-call state creation (:meth:`System.prepare`) are
kept out of :meth:`System.process` so that a benchmark can time processing alone.
"""

from __future__ import annotations

from abc import ABC
from importlib import metadata
from typing import Any, Callable, ClassVar, Generic, TypeVar

import numpy as np
import torch

from aural.dsp.resample import resample
from aural.errors import StageError
from aural.signal import Signal

S = TypeVar("S")


def package_version(distribution: str) -> str:
    """The installed version of ``distribution`` or ``"not installed"``."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


class System(ABC):
    """An enhancement system compared with aural: ``process(signal) -> signal``, aligned.

    Subclasses set ``name``, ``summary``, ``native_sample_rate``, ``latency_samples`` and
    ``frame_samples`` (0: any length) and implement :meth:`process_channel` (or, for
    systems that take whole signals, override :meth:`process`).
    """

    name: ClassVar[str]
    summary: ClassVar[str] = ""
    native_sample_rate: ClassVar[int | None] = None
    latency_samples: ClassVar[int] = 0
    frame_samples: ClassVar[int] = 0
    #: Names of the stems :meth:`process` returns as :class:`~aural.stems.Stems`; empty: a Signal.
    stems: ClassVar[tuple[str, ...]] = ()

    # -- facts ------------------------------------------------------------------------------
    @classmethod
    def available(cls) -> tuple[bool, str]:
        """``(True, "")`` or ``(False, one-line reason)``; never raises."""
        return True, ""

    def versions(self) -> dict[str, str]:
        """Package and model versions for the report."""
        return {}

    def describe(self) -> dict[str, Any]:
        """What a report says about this system."""
        return {"name": self.name, "summary": self.summary, "native_sample_rate": self.native_sample_rate,
                "latency_samples": self.latency_samples, "versions": self.versions()}

    # -- lifecycle --------------------------------------------------------------------------
    def load(self) -> None:
        """Load models (idempotent). Benchmarks call it before timing."""

    def prepare(self, num_channels: int) -> None:
        """Create the per-channel state the next :meth:`process` call uses (not timed)."""

    def close(self) -> None:
        """Free native resources."""

    # -- processing -------------------------------------------------------------------------
    def process_channel(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """One channel at ``sample_rate`` (the native rate, or the input's when the system
        has none), float32 ``(samples,)``, length a multiple of ``frame_samples``; returns
        as many samples, delayed by ``latency_samples``.

        Systems that do not work channel by channel override :meth:`process` instead."""
        raise NotImplementedError(f"{type(self).__name__} implements neither process_channel nor process")

    def process(self, signal: Signal) -> Signal:
        """Enhance ``signal``; the output has its rate, channels and length, and is aligned."""
        self.load()
        if signal.num_samples == 0:
            return signal.with_history(f"system:{self.name}", **self._history())
        if not bool(torch.isfinite(signal.audio).all()):
            raise StageError(f"{self.name}: input holds non-finite samples")
        rate = self.native_sample_rate or signal.sample_rate
        audio = resample(signal.audio, signal.sample_rate, rate)
        self.prepare(signal.num_channels)
        channels = [self._run_aligned(channel, rate) for channel in audio.numpy()]
        out = torch.from_numpy(np.stack(channels).astype(np.float32, copy=False))
        out = fit_length(resample(out, rate, signal.sample_rate), signal.num_samples)
        return signal.replace(out.contiguous()).with_history(f"system:{self.name}", **self._history())

    def _run_aligned(self, channel: np.ndarray, sample_rate: int) -> np.ndarray:
        num_samples = channel.shape[0]
        padded = num_samples + self.latency_samples
        if self.frame_samples:
            padded += -padded % self.frame_samples
        x = np.zeros(padded, dtype=np.float32)
        x[:num_samples] = channel
        y = np.asarray(self.process_channel(x, sample_rate), dtype=np.float32)
        if y.shape != x.shape:
            raise StageError(f"{self.name}: returned {y.shape[0]} samples for {x.shape[0]}")
        return y[self.latency_samples:self.latency_samples + num_samples]

    def _history(self) -> dict[str, Any]:
        return {"latency_samples": self.latency_samples, "native_sample_rate": self.native_sample_rate,
                "versions": self.versions()}

    def __repr__(self) -> str:
        return f"<system {self.name}>"


def fit_length(audio: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Trim or zero-pad ``(channels, n)`` audio to ``num_samples`` (resampling rounds lengths)."""
    if audio.shape[1] >= num_samples:
        return audio[:, :num_samples]
    return torch.nn.functional.pad(audio, (0, num_samples - audio.shape[1]))


class StatePool(Generic[S]):
    """Native per-channel states made ahead of use (:meth:`System.prepare`) and freed after."""

    def __init__(self, create: Callable[[], S], destroy: Callable[[S], None]):
        self._create = create
        self._destroy = destroy
        self._ready: list[S] = []

    def fill(self, count: int) -> None:
        while len(self._ready) < count:
            self._ready.append(self._create())

    def take(self) -> S:
        return self._ready.pop() if self._ready else self._create()

    def release(self, state: S) -> None:
        self._destroy(state)

    def clear(self) -> None:
        while self._ready:
            self._destroy(self._ready.pop())


class NativeStateSystem(System):
    """A system backed by a C library with one native state per channel.

    Subclasses create ``self._pool`` (a :class:`StatePool`) in :meth:`load`; states are made
    ahead of each call by :meth:`prepare` (outside the timing) and freed by :meth:`close`.
    """

    _pool: StatePool | None = None

    def prepare(self, num_channels: int) -> None:
        self.load()
        self._pool.fill(num_channels)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.clear()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the library may be gone already
            pass
