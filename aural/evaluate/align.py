"""Time alignment of an estimate to its reference by FFT cross-correlation.

The delay is the lag ``d`` (in samples, ``|d| <= max_lag``) that maximises
``sum_n ref[n] * est[n + d]`` over mono mixdowns at one rate, computed on at most the first
``window_s`` seconds (a constant delay is assumed). Positive ``d`` means the estimate lags
the reference. :func:`apply_delay` removes it and trims both signals to their overlap.
"""

from __future__ import annotations

import numpy as np
import scipy.fft

MAX_LAG_S = 0.5
WINDOW_S = 30.0


def find_delay(reference: np.ndarray, estimate: np.ndarray, max_lag: int) -> int:
    """Samples by which 1-D ``estimate`` lags 1-D ``reference`` (negative: it leads).

    Returns 0 when nothing correlates positively (a silent side, unrelated signals).
    """
    if max_lag <= 0 or reference.size == 0 or estimate.size == 0:
        return 0
    reference = np.asarray(reference, dtype=np.float64)
    estimate = np.asarray(estimate, dtype=np.float64)
    size = scipy.fft.next_fast_len(max(reference.size, estimate.size) + max_lag, real=True)
    spectrum = np.conj(scipy.fft.rfft(reference, size)) * scipy.fft.rfft(estimate, size)
    circular = scipy.fft.irfft(spectrum, size)
    lags = np.arange(-max_lag, max_lag + 1)
    correlation = circular[lags % size]
    best = int(np.argmax(correlation))
    if not correlation[best] > 0.0:
        return 0
    return int(lags[best])


def apply_delay(reference: np.ndarray, estimate: np.ndarray, delay: int) -> tuple[np.ndarray, np.ndarray]:
    """Remove ``delay`` (from :func:`find_delay`) and trim both to the overlap (last axis)."""
    if delay > 0:
        estimate = estimate[..., delay:]
    elif delay < 0:
        reference = reference[..., -delay:]
    length = min(reference.shape[-1], estimate.shape[-1])
    return reference[..., :length], estimate[..., :length]
