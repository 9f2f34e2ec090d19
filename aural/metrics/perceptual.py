"""PESQ (``pesq`` package) and STOI / ESTOI (``pystoi``).

PESQ exists only at 16 kHz (wide band, P.862.2) and 8 kHz (narrow band, P.862); STOI works
at 10 kHz. The caller resamples both aligned signals to these rates (soxr), so pystoi's own
resampler is never used. Both need at least 0.4 s; STOI also needs 30 frames (~0.4 s) of
speech that is not silent, and pystoi's silent "1e-5" fallback is turned into a reason.
"""

from __future__ import annotations

import warnings

import numpy as np

from aural.metrics.base import MetricError, register_metric, require_not_silent

MIN_DURATION_S = 0.4


def _pesq(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, mode: str) -> float:
    from pesq import PesqError, pesq

    require_not_silent(reference)
    try:
        return float(pesq(sample_rate, reference, estimate, mode, on_error=PesqError.RAISE_EXCEPTION))
    except PesqError as exc:
        message = exc.args[0] if exc.args else type(exc).__name__
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        raise MetricError(f"pesq failed: {message}") from None


@register_metric("pesq_wb", intrusive=True, higher_is_better=True, package="pesq",
                 sample_rate=16000, unit="MOS", min_duration_s=MIN_DURATION_S,
                 requires=("pesq",), extra="metrics")
def pesq_wb(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """PESQ wide band, ITU-T P.862.2 (MOS-LQO, 1.04 .. 4.64), at 16 kHz."""
    return _pesq(reference, estimate, sample_rate, "wb")


@register_metric("pesq_nb", intrusive=True, higher_is_better=True, package="pesq",
                 sample_rate=8000, unit="MOS", min_duration_s=MIN_DURATION_S,
                 requires=("pesq",), extra="metrics")
def pesq_nb(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """PESQ narrow band, ITU-T P.862 (MOS-LQO), at 8 kHz."""
    return _pesq(reference, estimate, sample_rate, "nb")


def _stoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int, extended: bool) -> float:
    from pystoi import stoi

    require_not_silent(reference)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(stoi(reference, estimate, sample_rate, extended=extended))
    for warning in caught:
        if "Not enough STFT frames" in str(warning.message):
            raise MetricError("undefined: fewer than 30 frames (~0.4 s) of non-silent reference")
    if not np.isfinite(value):
        raise MetricError("not finite")
    return value


@register_metric("stoi", intrusive=True, higher_is_better=True, package="pystoi",
                 sample_rate=10000, min_duration_s=MIN_DURATION_S,
                 requires=("pystoi",), extra="metrics")
def stoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Short-time objective intelligibility (0 .. 1), at 10 kHz."""
    return _stoi(reference, estimate, sample_rate, extended=False)


@register_metric("estoi", intrusive=True, higher_is_better=True, package="pystoi",
                 sample_rate=10000, min_duration_s=MIN_DURATION_S,
                 requires=("pystoi",), extra="metrics")
def estoi(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Extended STOI for modulated noise (0 .. 1), at 10 kHz."""
    return _stoi(reference, estimate, sample_rate, extended=True)
