"""Score one estimate (against its reference) with named metrics.

How signals are prepared, in this order:

1. **Channels**: both sides are mixed down to mono (channel mean); ``lufs`` and
   ``true_peak_db`` alone measure all channels of the estimate.
2. **Rates**: for intrusive metrics the estimate is resampled to the reference's rate.
3. **Delay**: found by FFT cross-correlation of the mono mixdowns (``|delay| <= max_lag_s``,
   first 30 s) and removed; both sides are trimmed to their overlap.
4. **Per-metric rate**: a metric with its own rate (PESQ 16/8 kHz, STOI 10 kHz, DNSMOS 16 kHz)
   gets both aligned sides resampled to it (soxr VHQ); ``ScoreResult.rates`` says so.

A metric that is unavailable, undefined or fails gets a reason instead of a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import torch

from aural.dsp.resample import resample
from aural.evaluate.align import MAX_LAG_S, WINDOW_S, apply_delay, find_delay
from aural.metrics import Metric, MetricError, default_metric_names, get_metric
from aural.signal import Signal

FULL_BAND_FRACTION = 0.95  # a cutoff this close to the input's Nyquist: nothing is missing

LENGTH_NOTE_S = 0.001  # length differences above this are noted
#: Values are rounded to this many significant digits. numpy reductions may differ in the
#: last bit from run to run (SIMD paths depend on memory alignment; pystoi's ESTOI shows
#: it), and a rerun must give identical numbers.
SIGNIFICANT_DIGITS = 10


@dataclass
class ScoreResult:
    """Values and reasons of one scored estimate.

    ``values``: metric -> finite float (10 significant digits). ``reasons``: metric -> why it has no value.
    ``rates``: metric -> the rate it was computed at (e.g. "resampled to 16000 Hz from
    48000 Hz"). ``notes``: what was done to the pair (resampling, mixdown, delay, trimming).
    ``delay_s``: the delay removed (estimate behind reference), None without a reference.
    """

    values: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    rates: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    delay_s: float | None = None


def resolve_metrics(metric_names: Sequence[str] | None) -> list[Metric]:
    """Metric records for ``metric_names`` (all registered when None); unknown names raise
    :class:`aural.registry.UnknownNameError` (a usage error listing close matches)."""
    names = list(metric_names) if metric_names is not None else default_metric_names()
    return [get_metric(name) for name in names]


def _mono(signal: Signal) -> np.ndarray:
    return signal.audio.double().mean(dim=0).numpy()


def _resample_np(audio: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    if from_rate == to_rate:
        return audio
    tensor = torch.from_numpy(np.ascontiguousarray(np.atleast_2d(audio), dtype=np.float32))
    out = resample(tensor, from_rate, to_rate).numpy().astype(np.float64)
    return out if audio.ndim == 2 else out[0]


class _Prepared:
    """Mono, aligned and per-rate resampled arrays, computed once per rate."""

    def __init__(self, reference: Signal | None, estimate: Signal, max_lag_s: float,
                 labels: tuple[str, str], notes: list[str], input: Signal | None = None):
        ref_label, est_label = labels
        self.labels = labels
        self.estimate = estimate
        self.estimate_mono = _mono(estimate)
        self._cache: dict[tuple[str, int], np.ndarray] = {}
        self.delay_s: float | None = None
        self.input = input
        self._input_cutoff_hz: float | None = None
        self.reference_rate = reference.sample_rate if reference is not None else None
        if estimate.num_channels > 1:
            notes.append(f"{est_label}: {estimate.num_channels} channels scored as a mono mixdown")
        if reference is None:
            return
        if reference.num_channels > 1:
            notes.append(f"{ref_label}: {reference.num_channels} channels scored as a mono mixdown")
        rate = reference.sample_rate
        ref = _mono(reference)
        est = self.estimate_mono
        if estimate.sample_rate != rate:
            notes.append(f"sample rates differ ({ref_label} {rate} Hz, {est_label} "
                         f"{estimate.sample_rate} Hz): {est_label} resampled to {rate} Hz")
            est = _resample_np(est, estimate.sample_rate, rate)
        max_lag = int(round(max_lag_s * rate))
        window = int(WINDOW_S * rate)
        delay = find_delay(ref[:window], est[:window + max_lag], max_lag)
        self.delay_s = delay / rate
        if delay:
            where = "behind" if delay > 0 else "ahead of"
            notes.append(f"{est_label} is {abs(delay) / rate * 1000:.1f} ms {where} {ref_label}: "
                         f"delay removed")
        ref_available, est_available = ref.size - max(-delay, 0), est.size - max(delay, 0)
        ref, est = apply_delay(ref, est, delay)
        if abs(ref_available - est_available) > LENGTH_NOTE_S * rate:
            notes.append(f"lengths differ ({ref_label} {reference.duration_s:.2f} s, {est_label} "
                         f"{estimate.duration_s:.2f} s): trimmed to the {ref.size / rate:.2f} s overlap")
        self._cache[("ref", rate)] = ref
        self._cache[("est", rate)] = est

    def input_cutoff_hz(self, sample_rate: int) -> float:
        """Where the processed input's content stops (Hz), found once, as ``freq_expansion`` finds
        it (at most the input's Nyquist: an 8 kHz file stops at 4 kHz), compared at ``sample_rate``."""
        if self.input is None:
            raise MetricError("needs the processed input (aural bench and aural evaluate pass it)")
        if self._input_cutoff_hz is None:
            from aural.stages.freq_expansion.cutoff import detect_cutoff_hz

            self._input_cutoff_hz = detect_cutoff_hz(self.input.audio, self.input.sample_rate)
        if self._input_cutoff_hz >= FULL_BAND_FRACTION * sample_rate / 2:
            raise MetricError(f"undefined: the processed input is full band at {sample_rate} Hz (nothing above a cutoff)")
        return self._input_cutoff_hz

    def pair(self, sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
        for side in ("ref", "est"):
            if (side, sample_rate) not in self._cache:
                self._cache[(side, sample_rate)] = _resample_np(
                    self._cache[(side, self.reference_rate)], self.reference_rate, sample_rate)
        return self._cache[("ref", sample_rate)], self._cache[("est", sample_rate)]

    def alone(self, sample_rate: int, all_channels: bool) -> np.ndarray:
        key = ("all" if all_channels else "mono", sample_rate)
        if key not in self._cache:
            audio = self.estimate.audio.double().numpy() if all_channels else self.estimate_mono
            self._cache[key] = _resample_np(audio, self.estimate.sample_rate, sample_rate)
        return self._cache[key]


def _rate_words(rate: int, sources: dict[str, int]) -> str:
    if all(source == rate for source in sources.values()):
        return f"at {rate} Hz"
    origin = ", ".join(f"{label} {source} Hz" for label, source in sources.items())
    return f"resampled to {rate} Hz ({origin})"


def score_signals(reference: Signal | None, estimate: Signal,
                  metric_names: Sequence[str] | None = None, *, max_lag_s: float = MAX_LAG_S,
                  labels: tuple[str, str] = ("reference", "estimate"),
                  input: Signal | None = None) -> ScoreResult:
    """Score ``estimate`` (against ``reference`` when given) with ``metric_names``.

    ``input`` is what was processed into ``estimate``; metrics that need it (``needs_input``:
    ``lsd_above_cutoff``) get where its content stops, and without it the reason "needs the
    processed input".

    ``reference`` None scores only non-intrusive metrics; intrusive ones get the reason
    "needs a reference". ``labels`` name the two sides in notes. Deterministic: the same
    signals give the same numbers. Unknown metric names raise a usage error before any
    work; nothing else raises for bad audio (it becomes reasons and notes).
    """
    metrics = resolve_metrics(metric_names)
    result = ScoreResult()
    prepared = _Prepared(reference, estimate, max_lag_s, labels, result.notes, input)
    result.delay_s = prepared.delay_s
    for metric in metrics:
        reason = metric.unavailable_reason()
        if reason is None:
            try:
                value = _compute(metric, prepared, reference, estimate, result)
                result.values[metric.name] = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
                continue
            except MetricError as exc:
                reason = str(exc)
            except Exception as exc:  # a package failing on odd input must not stop the run
                reason = f"failed: {type(exc).__name__}: {exc}".splitlines()[0]
        result.reasons[metric.name] = reason
    return result


def _compute(metric: Metric, prepared: _Prepared, reference: Signal | None, estimate: Signal,
             result: ScoreResult) -> float:
    if metric.intrusive:
        if reference is None:
            raise MetricError("needs a reference")
        from_rate = reference.sample_rate
        rate = metric.sample_rate or from_rate
        ref, est = prepared.pair(from_rate)
        if ref.size == 0:
            raise MetricError("undefined: no audio overlaps the reference")
        overlap_s = ref.size / from_rate
        if overlap_s < metric.min_duration_s:
            raise MetricError(f"needs at least {metric.min_duration_s:g} s of audio overlapping "
                              f"the reference, got {overlap_s:.2f} s")
        ref, est = prepared.pair(rate)
        args: tuple[np.ndarray | None, np.ndarray] = (ref, est)
    else:
        from_rate = estimate.sample_rate
        rate = metric.sample_rate or from_rate
        if estimate.num_samples == 0:
            raise MetricError("undefined: no audio")
        if estimate.duration_s < metric.min_duration_s:
            raise MetricError(f"needs at least {metric.min_duration_s:g} s of audio, "
                              f"got {estimate.duration_s:.2f} s")
        args = (None, prepared.alone(rate, metric.channels == "all"))
    ref_label, est_label = prepared.labels
    sources = {est_label: estimate.sample_rate}
    if metric.intrusive:
        sources = {ref_label: reference.sample_rate, **sources}
    result.rates[metric.name] = _rate_words(rate, sources)
    if metric.needs_input:
        value = float(metric.compute(args[0], args[1], rate, input_cutoff_hz=prepared.input_cutoff_hz(rate)))
    else:
        value = float(metric.compute(args[0], args[1], rate))
    if not np.isfinite(value):
        raise MetricError(f"not finite ({value})")
    return value
