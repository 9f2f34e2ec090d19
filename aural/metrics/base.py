"""The metric record, its registry and the error that carries a reason instead of a number."""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Callable, Literal

import numpy as np

from aural.registry import Registry

BUILTIN_MODULES = (
    "aural.metrics.waveform",
    "aural.metrics.spectral",
    "aural.metrics.perceptual",
    "aural.metrics.loudness",
    "aural.metrics.dnsmos",
    "aural.metrics.recording",
    "aural.metrics.reverberation",
)

#: Below this RMS a signal counts as silent and ratio metrics are undefined (-90 dBFS).
SILENCE_RMS_DB = -90.0

MetricFn = Callable[[np.ndarray | None, np.ndarray, int], float]


class MetricError(Exception):
    """A metric that has no value for this input; the message is the reason shown to users."""


@dataclass(frozen=True)
class Metric:
    """One metric and the facts a report needs about it.

    ``compute(reference, estimate, sample_rate) -> float`` receives float64 numpy arrays
    that are already aligned, trimmed to the same length and at ``sample_rate``: 1-D mono
    mixdowns when ``channels == "mono"``, ``(channels, samples)`` when ``channels == "all"``.
    ``reference`` is None for non-intrusive metrics. It raises :class:`MetricError` when
    the value is undefined for this input.
    """

    name: str
    compute: MetricFn
    intrusive: bool
    higher_is_better: bool | None     # None: a level, neither direction is better
    package: str                      # whose version the report records
    sample_rate: int | None = None    # rate it is computed at; None: the signal's own rate
    unit: str = ""
    summary: str = ""
    min_duration_s: float = 0.0
    channels: Literal["mono", "all"] = "mono"
    requires: tuple[str, ...] = field(default_factory=tuple)  # importable modules it needs
    extra: str | None = None          # the pip extra that installs ``requires``
    rate_note: str = ""               # anything more about rates, e.g. oversampling
    needs_input: bool = False         # also takes ``input_cutoff_hz``: where the processed input's content stops

    def unavailable_reason(self) -> str | None:
        """Why this metric cannot run here (a missing optional package), or None."""
        missing = [module for module in self.requires if importlib.util.find_spec(module) is None]
        if not missing:
            return None
        hint = f" (pip install 'aural[{self.extra}]')" if self.extra else ""
        return f"unavailable: needs {', '.join(missing)}{hint}"

    def rate_policy(self) -> str:
        """How the sample rate is handled, in words, for reports."""
        where = ("at the reference's rate (the other side resampled to it)" if self.intrusive
                 else "at the file's own rate")
        if self.sample_rate is not None:
            where = f"both sides resampled to {self.sample_rate} Hz" if self.intrusive \
                else f"resampled to {self.sample_rate} Hz"
        layout = "all channels" if self.channels == "all" else "mono mixdown"
        note = f"; {self.rate_note}" if self.rate_note else ""
        return f"{where}{note}; {layout}"


METRICS: Registry[Metric] = Registry("metric", builtin_modules=BUILTIN_MODULES,
                                     entry_point_group="aural.metrics")


def register_metric(name: str, *, intrusive: bool, higher_is_better: bool | None, package: str,
                    sample_rate: int | None = None, unit: str = "", summary: str = "",
                    min_duration_s: float = 0.0, channels: Literal["mono", "all"] = "mono",
                    requires: tuple[str, ...] = (), extra: str | None = None,
                    rate_note: str = "", needs_input: bool = False) -> Callable[[MetricFn], MetricFn]:
    """Decorator for built-in metric functions: registers a :class:`Metric` record."""
    def decorate(fn: MetricFn) -> MetricFn:
        METRICS.add(name, Metric(
            name=name, compute=fn, intrusive=intrusive, higher_is_better=higher_is_better,
            package=package, sample_rate=sample_rate, unit=unit,
            summary=summary or (fn.__doc__ or "").strip().splitlines()[0],
            min_duration_s=min_duration_s, channels=channels, requires=requires, extra=extra,
            rate_note=rate_note, needs_input=needs_input))
        return fn
    return decorate


def rms_db(audio: np.ndarray) -> float:
    if audio.size == 0:
        return -np.inf
    rms = float(np.sqrt(np.mean(np.square(audio, dtype=np.float64))))
    return 20.0 * np.log10(rms) if rms > 0 else -np.inf


def require_not_silent(audio: np.ndarray, what: str = "reference") -> None:
    """Raise :class:`MetricError` when ``audio`` is below :data:`SILENCE_RMS_DB`."""
    if rms_db(audio) < SILENCE_RMS_DB:
        raise MetricError(f"undefined: {what} is silent (below {SILENCE_RMS_DB:g} dBFS RMS)")
