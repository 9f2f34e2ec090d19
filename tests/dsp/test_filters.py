"""RBJ biquads against their closed forms, K-weighting against pyloudnorm, streaming state."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.signal

from aural.dsp import filters
from aural.dsp.delay import SampleDelay

RATES = [8000, 44100, 48000, 192000]


def gain_db(sos, freq_hz, sample_rate):
    return 20 * math.log10(abs(filters.response(sos, [freq_hz], sample_rate)[0]))


def magnitude(sos, freq_hz, sample_rate):
    return abs(filters.response(sos, [freq_hz], sample_rate)[0])


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("q", [0.5, filters.BUTTERWORTH_Q, 2.0])
def test_highpass_and_lowpass_gain_is_q_at_the_corner(sample_rate, q):
    corner = 0.1 * sample_rate / 2
    hp = filters.highpass(corner, sample_rate, q=q)
    lp = filters.lowpass(corner, sample_rate, q=q)
    assert magnitude(hp, corner, sample_rate) == pytest.approx(q, rel=1e-9)
    assert magnitude(lp, corner, sample_rate) == pytest.approx(q, rel=1e-9)
    assert magnitude(hp, 0.0, sample_rate) == pytest.approx(0.0, abs=1e-12)
    assert magnitude(hp, sample_rate / 2, sample_rate) == pytest.approx(1.0, rel=1e-9)
    assert magnitude(lp, 0.0, sample_rate) == pytest.approx(1.0, rel=1e-9)
    assert magnitude(lp, sample_rate / 2, sample_rate) == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("boost_db", [-12.0, -3.0, 4.0, 9.0])
def test_shelves_reach_their_gain_and_half_of_it_at_the_corner(sample_rate, boost_db):
    corner = 0.15 * sample_rate / 2
    low = filters.low_shelf(corner, boost_db, sample_rate)
    high = filters.high_shelf(corner, boost_db, sample_rate)
    assert gain_db(low, 0.0, sample_rate) == pytest.approx(boost_db, abs=1e-9)
    assert gain_db(low, sample_rate / 2, sample_rate) == pytest.approx(0.0, abs=1e-9)
    assert gain_db(low, corner, sample_rate) == pytest.approx(boost_db / 2, abs=1e-9)
    assert gain_db(high, 0.0, sample_rate) == pytest.approx(0.0, abs=1e-9)
    assert gain_db(high, sample_rate / 2, sample_rate) == pytest.approx(boost_db, abs=1e-9)
    assert gain_db(high, corner, sample_rate) == pytest.approx(boost_db / 2, abs=1e-9)


@pytest.mark.parametrize("sample_rate", RATES)
@pytest.mark.parametrize("boost_db", [-9.0, 3.0, 12.0])
@pytest.mark.parametrize("q", [0.7, 1.0, 4.0])
def test_peaking_gain_at_centre_and_unity_at_the_ends(sample_rate, boost_db, q):
    centre = 0.2 * sample_rate / 2
    bell = filters.peaking(centre, boost_db, sample_rate, q=q)
    assert gain_db(bell, centre, sample_rate) == pytest.approx(boost_db, abs=1e-9)
    assert gain_db(bell, 0.0, sample_rate) == pytest.approx(0.0, abs=1e-9)
    assert gain_db(bell, sample_rate / 2, sample_rate) == pytest.approx(0.0, abs=1e-9)
    # the bell is the largest deviation anywhere
    freqs = np.linspace(1.0, sample_rate / 2 - 1.0, 4001)
    deviation = 20 * np.log10(np.abs(filters.response(bell, freqs, sample_rate)))
    assert np.max(np.abs(deviation)) <= abs(boost_db) + 1e-9


def test_frequency_outside_the_band_is_refused():
    with pytest.raises(ValueError, match="Nyquist"):
        filters.high_shelf(5000.0, 3.0, 8000)
    with pytest.raises(ValueError):
        filters.highpass(0.0, 48000)


@pytest.mark.parametrize("sample_rate", [8000, 16000, 44100, 48000, 96000])
def test_k_weighting_equals_pyloudnorm_filters(sample_rate):
    from pyloudnorm.iirfilter import IIRfilter

    shelf = IIRfilter(4.0, 1 / np.sqrt(2), 1500.0, sample_rate, "high_shelf")
    high_pass = IIRfilter(0.0, 0.5, 38.0, sample_rate, "high_pass")
    expected = np.concatenate([np.concatenate([f.b, f.a])[None] for f in (shelf, high_pass)])
    np.testing.assert_allclose(filters.k_weighting(sample_rate), expected, rtol=1e-12, atol=1e-14)


def test_k_weighting_matches_the_bs1770_response_at_48k():
    # The coefficients printed in ITU-R BS.1770-4 (48 kHz), as a reference response.
    spec = np.array([[1.53512485958697, -2.69169618940638, 1.19839281085285, 1.0, -1.69065929318241, 0.73248077421585],
                     [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621]])
    freqs = np.geomspace(20, 20000, 200)
    ours = 20 * np.log10(np.abs(filters.response(filters.k_weighting(48000), freqs, 48000)))
    reference = 20 * np.log10(np.abs(filters.response(spec, freqs, 48000)))
    assert np.max(np.abs(ours - reference)) < 0.05


@pytest.mark.parametrize("block", [1, 7, 4093])
def test_streaming_filter_equals_whole_signal_filtering(block):
    rng = np.random.default_rng(0)
    audio = rng.standard_normal((2, 6000))
    sos = np.concatenate([filters.highpass(80.0, 48000), filters.peaking(3000.0, 6.0, 48000)])
    whole = scipy.signal.sosfilt(sos, audio, axis=-1)
    stream = filters.SosFilter(sos, 2)
    parts = [stream.process(audio[:, i:i + block]) for i in range(0, audio.shape[1], block)]
    parts.insert(3, stream.process(audio[:, :0]))  # an empty block changes nothing
    assert np.array_equal(np.concatenate(parts, axis=1), whole)
    stream.reset()
    assert np.array_equal(stream.process(audio), whole)


def test_empty_cascade_passes_audio_through_as_a_copy():
    audio = np.arange(6.0).reshape(2, 3)
    out = filters.SosFilter(np.zeros((0, 6)), 2).process(audio)
    assert np.array_equal(out, audio) and out is not audio


@pytest.mark.parametrize("sample_rate, corner_hz", [(16000, 90.0), (48000, 90.0), (44100, 25.0)])
def test_linear_phase_taps_keep_the_magnitude_and_delay_every_frequency_alike(sample_rate, corner_hz):
    sos = filters.highpass(corner_hz, sample_rate)
    num_taps = 2 * round(4 * sample_rate / corner_hz) + 1  # eight periods of the corner
    taps = filters.linear_phase_taps(sos, sample_rate, num_taps)
    assert taps.shape == (num_taps,) and np.allclose(taps, taps[::-1])  # symmetric: linear phase
    freqs = corner_hz * np.array([0.6, 1.0, 1.5, 2.0, 5.0, 20.0])
    _, fir = scipy.signal.freqz(taps, worN=freqs, fs=sample_rate)
    np.testing.assert_allclose(20 * np.log10(np.abs(fir)), 20 * np.log10(np.abs(filters.response(sos, freqs, sample_rate))),
                               atol=0.15)
    _, delay = scipy.signal.group_delay((taps, [1.0]), w=freqs, fs=sample_rate)
    np.testing.assert_allclose(delay, (num_taps - 1) / 2, atol=1e-6)


def test_linear_phase_taps_need_an_odd_length():
    with pytest.raises(ValueError, match="odd"):
        filters.linear_phase_taps(filters.highpass(90.0, 16000), 16000, 100)


@pytest.mark.parametrize("block", [1, 61, 4093])
def test_streaming_fir_and_delay_equal_whole_signal_filtering(block):
    audio = np.random.default_rng(1).standard_normal((2, 9000))
    taps = filters.linear_phase_taps(filters.highpass(90.0, 16000), 16000, 1423)
    fir, delay = filters.FirFilter(taps, 2), SampleDelay(711, 2)
    pieces = [(fir.process(audio[:, i:i + block]), delay.process(audio[:, i:i + block]))
              for i in range(0, audio.shape[1], block)]
    np.testing.assert_allclose(np.concatenate([p[0] for p in pieces], axis=1),
                               scipy.signal.lfilter(taps, [1.0], audio, axis=-1), rtol=0, atol=1e-12)
    delayed = np.concatenate([p[1] for p in pieces], axis=1)
    assert np.array_equal(delayed[:, 711:], audio[:, :-711]) and not delayed[:, :711].any()
    assert fir.process(audio[:, :0]).shape == (2, 0)
