"""Separation metrics: how well an estimated stem matches its reference stem.

Per stem, on aligned mono float64 arrays at one rate:

- ``si_sdr``: scale-invariant SDR (Le Roux et al., 2019) of the zero-mean estimate, dB.
- ``si_sdri``: SI-SDR improvement, ``si_sdr(estimate) - si_sdr(mixture)``: what the system
  gained over handing back the mixture as that stem (the usual separation figure).
- ``sdr``: BSS Eval SDR (Vincent et al., 2006, the ``sources`` variant: a 512-tap filter of
  the reference is allowed as target) over the whole signal, from ``fast-bss-eval``
  (extra ``separation``). museval's ``SDR`` is the median over 1 s frames, so its numbers
  differ.

Silent stems (a voice-only item's background): every ratio needs a reference with energy,
so a reference stem below :data:`~aural.metrics.base.SILENCE_RMS_DB` has no value, with
a reason, and is left out of means. Every value is clipped to +-:data:`CAP_DB` (40 dB,
the trainer's ``METRIC_CAP_DB``): an exact estimate (the mixture of a voice-only item, as
its voice) would otherwise score +inf and a silent estimate -inf, either swamping a mean.
"""

from __future__ import annotations

import importlib.util
import math
from typing import Mapping

import numpy as np

from aural.metrics.base import MetricError, require_not_silent, rms_db, SILENCE_RMS_DB

CAP_DB = 40.0
SDR_FILTER_TAPS = 512
SEPARATION_METRICS = ("si_sdr", "si_sdri", "sdr")
LABELS = {"si_sdr": "SI-SDR", "si_sdri": "SI-SDRi", "sdr": "SDR"}
SUMMARIES = {"si_sdr": "scale-invariant SDR of the estimated stem against its reference (dB)",
             "si_sdri": "SI-SDR of the estimate minus SI-SDR of the mixture as the estimate (dB)",
             "sdr": f"BSS Eval SDR (fast-bss-eval, {SDR_FILTER_TAPS}-tap distortion filter, whole signal; dB)"}


def _capped(ratio_db: float) -> float:
    return float(min(CAP_DB, max(-CAP_DB, ratio_db)))


def si_sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """SI-SDR in dB, clipped to +-:data:`CAP_DB`; a silent reference raises :class:`MetricError`."""
    reference = np.asarray(reference, dtype=np.float64) - np.mean(reference)
    estimate = np.asarray(estimate, dtype=np.float64) - np.mean(estimate)
    require_not_silent(reference, "reference stem")
    alpha = float(np.dot(estimate, reference)) / float(np.dot(reference, reference))
    target = alpha * reference
    noise = estimate - target
    target_energy, noise_energy = float(np.dot(target, target)), float(np.dot(noise, noise))
    if target_energy <= 0.0:  # a silent estimate, or one orthogonal to the reference
        return -CAP_DB
    if noise_energy <= 0.0:
        return CAP_DB
    return _capped(10.0 * math.log10(target_energy / noise_energy))


def sdr_available() -> str | None:
    """None, or why :func:`sdr_db` cannot run here."""
    if importlib.util.find_spec("fast_bss_eval") is None:
        return "unavailable: needs fast_bss_eval (pip install 'aural[separation]')"
    return None


def sdr_db(reference: np.ndarray, estimate: np.ndarray) -> float:
    """BSS Eval SDR in dB (fast-bss-eval, torch backend), clipped to +-:data:`CAP_DB`."""
    if reason := sdr_available():
        raise MetricError(reason)
    require_not_silent(np.asarray(reference), "reference stem")
    if reference.shape[-1] <= 2 * SDR_FILTER_TAPS:
        raise MetricError(f"needs more than {2 * SDR_FILTER_TAPS} samples, got {reference.shape[-1]}")
    if rms_db(estimate) < SILENCE_RMS_DB:
        return -CAP_DB
    import fast_bss_eval
    import torch

    # The torch backend: the numpy one breaks on numpy 2 (np.linalg.solve broadcasting).
    value = fast_bss_eval.sdr(torch.from_numpy(np.asarray(reference, dtype=np.float64))[None],
                              torch.from_numpy(np.asarray(estimate, dtype=np.float64))[None],
                              filter_length=SDR_FILTER_TAPS, clamp_db=CAP_DB)
    value = float(value[0])
    if not math.isfinite(value):
        raise MetricError(f"not finite ({value})")
    return _capped(value)


def stem_scores(reference: np.ndarray, estimate: np.ndarray, mixture: np.ndarray,
                metric_names: tuple[str, ...] = SEPARATION_METRICS) -> tuple[dict[str, float], dict[str, str]]:
    """``(values, reasons)`` of one stem: metric -> dB, or metric -> why it has no value."""
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for name in metric_names:
        try:
            if name == "si_sdr":
                values[name] = si_sdr_db(reference, estimate)
            elif name == "si_sdri":
                values[name] = si_sdr_db(reference, estimate) - si_sdr_db(reference, mixture)
            elif name == "sdr":
                values[name] = sdr_db(reference, estimate)
            else:
                raise ValueError(f"unknown separation metric {name!r}; known: {', '.join(SEPARATION_METRICS)}")
        except MetricError as exc:
            reasons[name] = str(exc)
    return values, reasons


def score_stems(references: Mapping[str, np.ndarray], estimates: Mapping[str, np.ndarray], mixture: np.ndarray,
                metric_names: tuple[str, ...] = SEPARATION_METRICS) -> tuple[dict[str, float], dict[str, str]]:
    """Every stem of ``references``: ``<stem>_<metric>`` values and reasons."""
    values: dict[str, float] = {}
    reasons: dict[str, str] = {}
    for stem, reference in references.items():
        if stem not in estimates:
            for name in metric_names:
                reasons[f"{stem}_{name}"] = f"the system gave no {stem} stem"
            continue
        stem_values, stem_reasons = stem_scores(reference, estimates[stem], mixture, metric_names)
        values.update({f"{stem}_{k}": v for k, v in stem_values.items()})
        reasons.update({f"{stem}_{k}": v for k, v in stem_reasons.items()})
    return values, reasons
