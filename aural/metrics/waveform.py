"""Waveform metrics on aligned mono signals at the reference's rate.

- ``snr``: ``10 log10(sum ref^2 / sum (ref - est)^2)`` dB, no rescaling.
- ``si_sdr``: scale-invariant SDR (Le Roux et al., 2019) of zero-mean signals:
  ``alpha = <est, ref> / <ref, ref>``, ``10 log10(|alpha ref|^2 / |est - alpha ref|^2)`` dB.
- ``mse``, ``mae``, ``rmse``: of ``est - ref`` in full-scale units.
- ``pearson``: correlation coefficient of the two waveforms.

A value that is not finite (an estimate identical to its reference) is reported with a
reason, never as a number.
"""

from __future__ import annotations

import math

import numpy as np

from aural.metrics.base import SILENCE_RMS_DB, MetricError, register_metric, require_not_silent, rms_db


def _ratio_db(signal_energy: float, noise_energy: float) -> float:
    if noise_energy <= 0.0:
        raise MetricError("infinite: the estimate equals the reference")
    return 10.0 * math.log10(signal_energy / noise_energy)


@register_metric("snr", intrusive=True, higher_is_better=True, package="numpy", unit="dB")
def snr(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Signal-to-noise ratio of the estimate against the reference (dB)."""
    require_not_silent(reference)
    noise = estimate - reference
    return _ratio_db(float(np.dot(reference, reference)), float(np.dot(noise, noise)))


@register_metric("si_sdr", intrusive=True, higher_is_better=True, package="numpy", unit="dB")
def si_sdr(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Scale-invariant signal-to-distortion ratio (dB)."""
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    require_not_silent(reference)
    alpha = float(np.dot(estimate, reference)) / float(np.dot(reference, reference))
    target = alpha * reference
    noise = estimate - target
    return _ratio_db(float(np.dot(target, target)), float(np.dot(noise, noise)))


@register_metric("mse", intrusive=True, higher_is_better=False, package="numpy")
def mse(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Mean squared error of the waveforms."""
    return float(np.mean(np.square(estimate - reference)))


@register_metric("mae", intrusive=True, higher_is_better=False, package="numpy")
def mae(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Mean absolute error of the waveforms."""
    return float(np.mean(np.abs(estimate - reference)))


@register_metric("rmse", intrusive=True, higher_is_better=False, package="numpy")
def rmse(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Root mean squared error of the waveforms."""
    return math.sqrt(mse(reference, estimate, sample_rate))


@register_metric("pearson", intrusive=True, higher_is_better=True, package="numpy")
def pearson(reference: np.ndarray, estimate: np.ndarray, sample_rate: int) -> float:
    """Pearson correlation of the waveforms."""
    reference = reference - reference.mean()
    estimate = estimate - estimate.mean()
    require_not_silent(reference)
    if rms_db(estimate) < SILENCE_RMS_DB:
        raise MetricError("undefined: the estimate is constant (or silent)")
    denominator = math.sqrt(float(np.dot(reference, reference)) * float(np.dot(estimate, estimate)))
    return float(np.dot(reference, estimate)) / denominator
