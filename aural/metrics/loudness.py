"""Loudness (ITU-R BS.1770-4 integrated, via pyloudnorm) and true peak.

These two are level measurements of the file as it would play, so unlike the other
metrics they use **all channels** (BS.1770 channel sum; the true peak of the loudest
channel), not the mono mixdown: a stereo master measured as a mixdown would read up to
3 dB quieter than the loudness it was normalised to.

``true_peak_db`` uses aural's one true-peak definition, :func:`aural.dsp.true_peak.true_peak_db`
(BS.1770-4 Annex 2: windowed-sinc oversampling, at least 8x, finer at low rates), the same
detector the true-peak limiter uses, and reports ``20 log10 max |x|`` in dBTP.
"""

from __future__ import annotations

import math

import numpy as np

from aural.metrics.base import MetricError, register_metric

BLOCK_S = 0.4


@register_metric("lufs", intrusive=False, higher_is_better=None, package="pyloudnorm",
                 unit="LUFS", min_duration_s=BLOCK_S, channels="all", requires=("pyloudnorm",))
def lufs(reference: np.ndarray | None, estimate: np.ndarray, sample_rate: int) -> float:
    """Integrated loudness, ITU-R BS.1770-4 (LUFS)."""
    import pyloudnorm

    data = estimate.T if estimate.ndim == 2 else estimate
    try:
        value = float(pyloudnorm.Meter(sample_rate, block_size=BLOCK_S).integrated_loudness(data))
    except ValueError as exc:
        raise MetricError(f"pyloudnorm: {exc}") from None
    if not math.isfinite(value):
        raise MetricError("undefined: silent (every block below the -70 LUFS gate)")
    return value


@register_metric("true_peak_db", intrusive=False, higher_is_better=None, package="aural",
                 unit="dBTP", channels="all", rate_note="oversampled at least 8x")
def true_peak_db(reference: np.ndarray | None, estimate: np.ndarray, sample_rate: int) -> float:
    """True peak, ITU-R BS.1770-4 Annex 2 (dBTP)."""
    from aural.dsp.true_peak import true_peak_db as measure

    audio = np.atleast_2d(estimate)
    if audio.shape[-1] == 0:
        raise MetricError("undefined: no samples")
    value = float(measure(audio, sample_rate))
    if not math.isfinite(value):
        raise MetricError("undefined: silent")
    return value
