"""SRMR and SRMRnorm: the filterbanks, reverberation lowering the ratio, segments, bad input."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.signal
import torch

from aural import io
from aural.degrade.impulse import convolve_aligned
from aural.degrade.reverb import synthetic_rir
from aural.dsp.resample import resample
from aural.evaluate import score_signals
from aural.metrics import get_metric, reference_free_metric_names
from aural.metrics.reverberation import (erb_centres_hz, gammatone_sos, hilbert_envelope, modulation_filters,
                                         srmr_value)
from aural.signal import Signal
from helpers import requires_shared_data, shared_data, speech_like

RT60S = (0.3, 0.6, 1.0)


def reverberant(audio: torch.Tensor, rt60_s: float, sample_rate: int = 16000) -> np.ndarray:
    kernel = synthetic_rir({"rt60_s": rt60_s, "drr_db": 0.0, "predelay_ms": 5.0, "seed": 1, "max_length_s": 2.0},
                           sample_rate)
    return convolve_aligned(audio, kernel, 0)[0].double().numpy()


def test_filterbanks_follow_the_toolbox():
    centres = erb_centres_hz(16000)
    assert len(centres) == 23 and centres[0] == pytest.approx(125.0) and centres[-1] < 8000
    assert np.all(np.diff(centres) > 0)
    for centre in (125.0, 1000.0, 6000.0):
        _, response = scipy.signal.sosfreqz(gammatone_sos(centre, 16000), worN=[centre / 2, centre, centre * 1.5],
                                            fs=16000)
        assert abs(response[1]) == pytest.approx(1.0, abs=1e-9) and np.all(abs(response[[0, 2]]) < 0.3)
    modulation_centres, filters, lower = modulation_filters(16000)
    assert modulation_centres[0] == 4.0 and modulation_centres[-1] == pytest.approx(128.0)
    _, peak = scipy.signal.freqz(*filters[3], worN=[modulation_centres[3]], fs=16000)
    assert abs(peak[0]) == pytest.approx(1.0, abs=1e-6) and np.all(lower < modulation_centres)


def test_envelope_matches_scipy_hilbert():
    x = np.random.default_rng(0).standard_normal((2, 1000))
    assert np.allclose(hilbert_envelope(x), np.abs(scipy.signal.hilbert(x, axis=1)), atol=1e-12)


@pytest.mark.parametrize("seed", [0, 1])
def test_srmrnorm_falls_as_the_room_gets_longer(seed):
    clean = speech_like(3.0, 16000, seed=seed).audio
    values = [srmr_value(clean[0].double().numpy(), normalised=True)]
    values += [srmr_value(reverberant(clean, rt60_s), normalised=True) for rt60_s in RT60S]
    assert all(a > b * 1.1 for a, b in zip(values, values[1:])), values
    # standard SRMR: dry above the longest room (its 128 Hz band also holds pitch, see the module doc)
    assert srmr_value(clean[0].double().numpy()) > srmr_value(reverberant(clean, 1.0))


@requires_shared_data("speech/librispeech_5703-47212-0000.flac")
def test_real_held_out_speech_ranks_rooms():
    signal = io.read(shared_data("speech/librispeech_5703-47212-0000.flac"))
    clean = resample(signal.audio.mean(0, keepdim=True), signal.sample_rate, 16000)[:, :6 * 16000]
    values = [srmr_value(clean[0].double().numpy(), normalised=True)]
    values += [srmr_value(reverberant(clean, rt60_s), normalised=True) for rt60_s in RT60S]
    assert values == sorted(values, reverse=True), values


def test_segments_give_the_whole_file_value():
    audio = reverberant(speech_like(4.0, 16000, seed=2).audio, 0.5)
    for normalised in (False, True):
        whole = srmr_value(audio, normalised=normalised)
        assert srmr_value(audio, normalised=normalised, segment_s=0.7) == pytest.approx(whole, rel=2e-3)


def test_level_does_not_change_it():
    audio = speech_like(2.0, 16000, seed=3).audio[0].double().numpy()
    assert srmr_value(audio * 0.05, normalised=True) == pytest.approx(srmr_value(audio, normalised=True), rel=1e-9)


def test_registered_and_scored_by_evaluate():
    for name in ("srmr", "srmrnorm"):
        metric = get_metric(name)
        assert not metric.intrusive and metric.higher_is_better is True and metric.sample_rate == 16000
        assert name in reference_free_metric_names()
    at_48k = speech_like(2.0, 48000, seed=4)
    result = score_signals(None, at_48k, ["srmrnorm", "srmr"])
    assert set(result.values) == {"srmrnorm", "srmr"} and result.values["srmrnorm"] > 1
    assert "resampled to 16000 Hz" in result.rates["srmrnorm"]
    silent = score_signals(None, Signal(torch.zeros(1, 32000), 16000), ["srmrnorm"])
    assert "silent" in silent.reasons["srmrnorm"]
    short = score_signals(None, speech_like(0.5, 16000), ["srmr"])
    assert "at least 1 s" in short.reasons["srmr"]
