"""Transforms whose random parameters are drawn apart from their application, and chains.

``params = transform.draw(rng, context)`` returns plain JSON-able data;
``transform.apply(audio, sample_rate, params)`` is deterministic. A :class:`Chain` draws a
list of ``{"transform": name, "params": {...}}`` records (what a manifest stores) and
applies such a list, so a recorded list reproduces the exact degraded signal.

``apply`` takes ``offset_samples``: the position of ``audio[:, 0]`` in the whole signal.
Position-dependent transforms (noise segments, lost packets, level steps) use it, so a long
signal can be rendered in chunks: each chunk gets ``context_samples`` of extra audio on
either side and the chain's output matches the whole-signal result away from the edges.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Sequence

import numpy as np
import torch

from aural.registry import Registry

TRANSFORMS: Registry[type["Transform"]] = Registry(
    "degradation transform",
    builtin_modules=("aural.degrade.transforms", "aural.degrade.noise", "aural.degrade.reverb",
                     "aural.degrade.codecs", "aural.degrade.mains", "aural.degrade.impulsive",
                     "aural.degrade.wind", "aural.degrade.breathing", "aural.degrade.eq"))

Params = dict[str, Any]


@dataclass
class Resources:
    """What transforms read besides the audio: folders of recordings and the ffmpeg binary.

    ``noise``, ``rir`` and ``mic_ir`` are :class:`aural.degrade.banks.AudioBank` or ``None``
    (then the transforms use their synthetic fallbacks); ``ffmpeg`` is a path or ``None``.
    """

    noise: Any = None
    rir: Any = None
    mic_ir: Any = None
    ffmpeg: str | None = None


@dataclass
class DrawContext:
    """Facts a transform may use when drawing its parameters.

    ``speech_level_db`` is the active speech level of the clean input (dBFS, see
    :func:`aural.degrade.level.active_level_db`); noise gains and clipping drives are set
    relative to it.
    """

    sample_rate: int
    num_samples: int
    num_channels: int = 1
    speech_level_db: float = -26.0
    resources: Resources = field(default_factory=Resources)


class Transform:
    """One degradation. Subclasses set ``name`` and implement :meth:`draw` and :meth:`apply`.

    Constructor arguments are the ranges :meth:`draw` samples from; :meth:`apply` must use
    nothing but its arguments, so that ``type(t)().apply(...)`` of recorded params gives the
    same audio as the instance that drew them.
    """

    name: ClassVar[str]

    def draw(self, rng: np.random.Generator, context: DrawContext) -> Params:
        raise NotImplementedError

    def apply(self, audio: torch.Tensor, sample_rate: int, params: Params, *,
              offset_samples: int = 0, resources: Resources | None = None) -> torch.Tensor:
        raise NotImplementedError

    def context_samples(self, params: Params, sample_rate: int) -> tuple[int, int]:
        """Samples of input this transform needs before and after a chunk to render it."""
        return 0, 0


@dataclass(frozen=True)
class Step:
    """A transform in a chain, applied with ``probability``."""

    transform: Transform
    probability: float = 1.0


class Chain:
    """An ordered list of :class:`Step`; draws and applies a list of records."""

    def __init__(self, steps: Sequence[Step | Transform]):
        self.steps = tuple(s if isinstance(s, Step) else Step(s) for s in steps)

    def draw(self, rng: np.random.Generator, context: DrawContext) -> list[Params]:
        """Records ``[{"transform": name, "params": {...}}]`` of the steps that apply."""
        records = []
        for step in self.steps:
            # each step draws from its own child generator: whether one step applies, or
            # how many numbers it draws, never shifts the draws of the others
            taken = rng.random() < step.probability
            child = np.random.default_rng(int(rng.integers(2**63)))
            if taken:
                params = step.transform.draw(child, context)
                records.append({"transform": step.transform.name, "params": params})
        return records

    @staticmethod
    def apply(audio: torch.Tensor, sample_rate: int, records: Sequence[Params], *,
              offset_samples: int = 0, resources: Resources | None = None) -> torch.Tensor:
        for record in records:
            transform = transform_for(record["transform"])
            out = transform.apply(audio, sample_rate, record["params"],
                                  offset_samples=offset_samples, resources=resources)
            if out.shape != audio.shape:
                raise RuntimeError(f"transform {record['transform']} changed the shape "
                                   f"{tuple(audio.shape)} -> {tuple(out.shape)}")
            audio = out
        return audio

    @staticmethod
    def context_samples(records: Sequence[Params], sample_rate: int) -> tuple[int, int]:
        """Total input context (before, after) a chunk needs for the recorded chain."""
        before = after = 0
        for record in records:
            b, a = transform_for(record["transform"]).context_samples(record["params"], sample_rate)
            before, after = before + b, after + a
        return before, after


_INSTANCES: dict[str, Transform] = {}


def transform_for(name: str) -> Transform:
    """A default instance of the registered transform ``name`` (for applying records)."""
    if name not in _INSTANCES:
        _INSTANCES[name] = TRANSFORMS.get(name)()
    return _INSTANCES[name]


# -- drawing helpers (all return plain Python numbers) -----------------------------------------
def uniform(rng: np.random.Generator, bounds: Sequence[float], digits: int = 3) -> float:
    low, high = bounds
    return round(float(rng.uniform(low, high)), digits)


def log_uniform(rng: np.random.Generator, bounds: Sequence[float], digits: int = 1) -> float:
    low, high = bounds
    return round(float(math.exp(rng.uniform(math.log(low), math.log(high)))), digits)


def choice(rng: np.random.Generator, options: Sequence[Any] | dict[Any, float]) -> Any:
    """One of ``options`` (uniform), or of a mapping option -> weight."""
    if isinstance(options, dict):
        keys = list(options)
        weights = np.asarray([options[k] for k in keys], dtype=np.float64)
        return keys[int(rng.choice(len(keys), p=weights / weights.sum()))]
    return options[int(rng.integers(len(options)))]


def db_to_gain(gain_db: float) -> float:
    return float(10.0 ** (gain_db / 20.0))


def fit_length(audio: torch.Tensor, num_samples: int) -> torch.Tensor:
    """Crop or zero-pad ``(channels, samples)`` audio at the end to ``num_samples``."""
    have = audio.shape[-1]
    if have == num_samples:
        return audio
    if have > num_samples:
        return audio[..., :num_samples].contiguous()
    return torch.nn.functional.pad(audio, (0, num_samples - have))
