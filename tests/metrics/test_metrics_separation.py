"""Separation metrics: known SI-SDR of constructed signals, improvement sign, silent stems, SDR."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aural.metrics.base import MetricError
from aural.metrics.separation import CAP_DB, score_stems, sdr_available, sdr_db, si_sdr_db, stem_scores

RATE = 16000


def orthogonal_pair(ratio_db: float, n: int = RATE, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A zero-mean reference and a zero-mean noise orthogonal to it, at ``ratio_db`` below it."""
    rng = np.random.default_rng(seed)
    reference = rng.standard_normal(n)
    reference -= reference.mean()
    noise = rng.standard_normal(n)
    noise -= noise.mean()
    noise -= np.dot(noise, reference) / np.dot(reference, reference) * reference
    noise *= math.sqrt(np.dot(reference, reference) / np.dot(noise, noise)) * 10 ** (-ratio_db / 20)
    return reference, noise


@pytest.mark.parametrize("ratio_db", [-10.0, 0.0, 7.5, 25.0])
def test_si_sdr_of_a_reference_plus_orthogonal_noise_is_their_ratio_at_any_scale(ratio_db):
    reference, noise = orthogonal_pair(ratio_db)
    assert si_sdr_db(reference, reference + noise) == pytest.approx(ratio_db, abs=1e-9)
    assert si_sdr_db(reference, 0.01 * (reference + noise)) == pytest.approx(ratio_db, abs=1e-9)


def test_improvement_is_the_gain_over_the_mixture_and_negative_when_worse():
    voice, background = orthogonal_pair(0.0)  # mixture at 0 dB: voice SI-SDR of the mixture is 0 dB
    mixture = voice + background
    better = voice + 0.1 * background      # background 20 dB down
    values, reasons = stem_scores(voice, better, mixture, ("si_sdr", "si_sdri"))
    assert not reasons
    assert values["si_sdr"] == pytest.approx(20.0, abs=1e-9)
    assert values["si_sdri"] == pytest.approx(20.0, abs=1e-9)
    worse, _ = stem_scores(voice, voice + 3.0 * background, mixture, ("si_sdri",))
    assert worse["si_sdri"] == pytest.approx(-20 * math.log10(3.0), abs=1e-9)
    same, _ = stem_scores(voice, mixture, mixture, ("si_sdri",))
    assert same["si_sdri"] == 0.0


def test_exact_and_silent_estimates_are_capped_and_silent_references_have_a_reason():
    reference, _ = orthogonal_pair(0.0)
    assert si_sdr_db(reference, reference) == CAP_DB
    assert si_sdr_db(reference, np.zeros_like(reference)) == -CAP_DB
    with pytest.raises(MetricError, match="silent"):
        si_sdr_db(np.zeros_like(reference), reference)
    values, reasons = score_stems({"voice": reference, "background": np.zeros_like(reference)},
                                  {"voice": reference, "background": np.zeros_like(reference)}, reference,
                                  ("si_sdr", "si_sdri"))
    assert values == {"voice_si_sdr": CAP_DB, "voice_si_sdri": 0.0}
    assert set(reasons) == {"background_si_sdr", "background_si_sdri"}
    assert all("silent" in reason for reason in reasons.values())


def test_a_stem_the_system_did_not_give_has_a_reason():
    reference, noise = orthogonal_pair(0.0)
    values, reasons = score_stems({"voice": reference, "background": noise}, {"voice": reference}, reference + noise,
                                  ("si_sdr",))
    assert values == {"voice_si_sdr": CAP_DB}
    assert reasons == {"background_si_sdr": "the system gave no background stem"}


@pytest.mark.skipif(sdr_available() is not None, reason="fast-bss-eval is not installed")
def test_sdr_matches_si_sdr_for_white_noise_and_forgives_a_short_filter():
    reference, noise = orthogonal_pair(10.0, n=4 * RATE)
    # white noise is (nearly) outside the span of 512 shifts of the reference: SDR ~ SI-SDR
    assert sdr_db(reference, reference + noise) == pytest.approx(10.0, abs=0.3)
    # a short FIR filter of the reference is distortion BSS Eval allows: SDR stays high, SI-SDR drops
    filtered = np.convolve(reference, [1.0, 0.6, -0.3])[:reference.size]  # causal, as BSS Eval models
    assert si_sdr_db(reference, filtered) < 5.0
    assert sdr_db(reference, filtered) > 30.0
    assert sdr_db(reference, np.zeros_like(reference)) == -CAP_DB
    with pytest.raises(MetricError, match="silent"):
        sdr_db(np.zeros_like(reference), reference)
