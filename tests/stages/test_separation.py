"""The separation stage: voice and background stems that add up to the input, at any rate."""

import numpy as np
import pytest
import torch

from aural.errors import WeightsError
from aural.signal import Signal
from aural.stages.separation import SeparationStage, separate
from aural.stages.separation.model import build_model
from aural.stems import Stems
from helpers import separation_preset_shipped, speech_like


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return build_model()


def masked_model(cutoff_hz: float):
    """A network whose voice mask is 1 below ``cutoff_hz`` and 0 above (16 kHz STFT bins)."""
    net = build_model()
    bins = net.config.n_fft // 2 + 1
    keep = (torch.arange(bins) * 16000 / net.config.n_fft < cutoff_hz).float()
    net.power_gains = lambda power: keep.expand(power.shape).clone()
    return net


def band_power_db(audio: torch.Tensor, rate: int, low_hz: float, high_hz: float) -> float:
    spectrum = np.abs(np.fft.rfft(audio.numpy().astype(np.float64), axis=-1)) ** 2
    freqs = np.fft.rfftfreq(audio.shape[-1], 1 / rate)
    return 10 * np.log10(spectrum[..., (freqs >= low_hz) & (freqs < high_hz)].sum() + 1e-20)


def tones(rate: int, channels: int = 1, seconds: float = 1.0) -> Signal:
    t = torch.arange(int(rate * seconds)) / rate
    mono = 0.3 * torch.sin(2 * torch.pi * 300 * t) + 0.3 * torch.sin(2 * torch.pi * 3000 * t)
    return Signal(mono.repeat(channels, 1), rate)


BAD_INPUTS = {
    "silence": lambda: Signal(torch.zeros(1, 16000), 16000),
    "voice only": lambda: speech_like(2.0, 16000),
    "background only": lambda: Signal(0.05 * torch.randn(1, 32000, generator=torch.Generator().manual_seed(1)), 16000),
    "two voices": lambda: Signal(speech_like(2.0, 16000, seed=1).audio + speech_like(2.0, 16000, seed=2).audio, 16000),
    "8 kHz": lambda: speech_like(1.5, 8000),
    "48 kHz stereo": lambda: speech_like(1.5, 48000, num_channels=2),
    "6 channels 44.1 kHz": lambda: speech_like(0.7, 44100, num_channels=6),
    "0.1 s": lambda: speech_like(0.1, 16000),
    "one sample": lambda: Signal(torch.full((1, 1), 0.5), 22050),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_stems_add_up_to_the_input(model, case):
    sig = BAD_INPUTS[case]()
    stems = separate(sig, model=model)
    assert isinstance(stems, Stems) and stems.names == ("voice", "background")
    assert (stems.sample_rate, stems.num_channels, stems.num_samples) == \
        (sig.sample_rate, sig.num_channels, sig.num_samples)
    for name in stems:
        assert torch.isfinite(stems[name].audio).all()
    assert torch.allclose(stems.mixture().audio, sig.audio, atol=1e-6)


def test_the_mask_decides_what_is_voice(model):
    """Mask 1 below 1 kHz: the 300 Hz tone is voice, the 3 kHz tone background."""
    stems = separate(tones(16000), model=masked_model(1000))
    middle = slice(2000, 14000)
    voice, background = stems["voice"].audio[:, middle], stems["background"].audio[:, middle]
    assert band_power_db(voice, 16000, 200, 400) - band_power_db(voice, 16000, 2500, 3500) > 40
    assert band_power_db(background, 16000, 2500, 3500) - band_power_db(background, 16000, 200, 400) > 40


def test_strength_blends_the_separated_voice_with_the_input():
    sig = tones(16000)
    net = masked_model(1000)
    full, half = separate(sig, model=net), separate(sig, model=net, strength=0.5)
    assert torch.allclose(half["voice"].audio, 0.5 * full["voice"].audio + 0.5 * sig.audio, atol=1e-5)
    none = separate(sig, model=net, strength=0.0)
    assert torch.allclose(none["voice"].audio, sig.audio, atol=1e-6)
    assert none["background"].audio.abs().max() < 1e-6


def test_stereo_is_linked_one_mask_for_every_channel():
    """A mask that passes bins louder than a sine of amplitude 0.22: a 0.3 tone left and another
    right each pass on their own, but their mean (0.15 each) does not, so a linked mask (one, from
    the channel mean) keeps both out of the voice; per-channel masks would let both in."""
    net = build_model()
    threshold = (0.22 * net.config.n_fft / 4) ** 2
    net.power_gains = lambda power: (power > threshold).float()
    t = torch.arange(16000) / 16000
    left, right = 0.3 * torch.sin(2 * torch.pi * 300 * t), 0.3 * torch.sin(2 * torch.pi * 3000 * t)
    middle = slice(2000, 14000)
    alone = separate(Signal(left[None], 16000), model=net)["voice"].audio[:, middle]
    assert alone.pow(2).mean() > 0.5 * left[middle].pow(2).mean()  # one channel: its tone passes
    stems = separate(Signal(torch.stack([left, right]), 16000), model=net)
    assert stems["voice"].audio[:, middle].abs().max() < 0.01
    assert torch.allclose(stems.mixture().audio, torch.stack([left, right]), atol=1e-6)
    same = separate(Signal(left[None].repeat(2, 1), 16000), model=net)
    assert torch.equal(same["voice"].audio[0], same["voice"].audio[1])


def test_high_band_of_a_faster_stream_follows_the_voice_mask():
    """48 kHz: an all-pass mask gives the voice the band above 8 kHz too, a zero mask gives it to
    the background; either way the stems add up to the input."""
    t = torch.arange(48000) / 48000
    sig = Signal((0.2 * torch.sin(2 * torch.pi * 500 * t) + 0.2 * torch.sin(2 * torch.pi * 12000 * t))[None], 48000)
    middle = slice(6000, 42000)
    keep = separate(sig, model=masked_model(9000))
    drop = separate(sig, model=masked_model(0))
    assert band_power_db(keep["background"].audio[:, middle], 48000, 11000, 13000) < \
        band_power_db(sig.audio[:, middle], 48000, 11000, 13000) - 30
    assert band_power_db(drop["voice"].audio[:, middle], 48000, 11000, 13000) < \
        band_power_db(sig.audio[:, middle], 48000, 11000, 13000) - 30
    for stems in (keep, drop):
        assert torch.allclose(stems.mixture().audio, sig.audio, atol=1e-6)


def test_streaming_in_odd_blocks_equals_whole_signal(model):
    stage = SeparationStage(model=model)
    sig = speech_like(2.0, 16000, num_channels=2)
    whole = stage.process(sig)
    stage.configure(16000, 2)
    parts = [stage.process_block(sig.audio[:, i:i + 4093]) for i in range(0, sig.num_samples, 4093)]
    parts.append(stage.flush())
    streamed = torch.cat(parts, dim=-1)[..., stage.latency_samples:stage.latency_samples + sig.num_samples]
    assert streamed.shape == (2, 2, sig.num_samples)
    assert torch.allclose(streamed[0], whole["voice"].audio, atol=1e-6)
    assert torch.allclose(streamed[1], whole["background"].audio, atol=1e-6)


@pytest.mark.skipif(separation_preset_shipped(), reason="the separation default preset is shipped")
def test_default_weights_missing_is_a_clear_error():
    with pytest.raises(WeightsError, match="separation: no weights preset 'default'"):
        SeparationStage(weights="default")


@pytest.mark.skipif(not separation_preset_shipped(), reason="no separation preset shipped yet")
def test_shipped_weights_raise_the_si_sdr_of_a_voice_in_noise():
    """The shipped preset loads and separates a generated voice from generated noise (both stems)."""
    from aural.losses.time import si_sdr
    from aural.systems.probe import voiced

    rate = 16000
    voice = torch.from_numpy(voiced(rate, 4.0, seed=3))
    noise = torch.randn(voice.shape[0], generator=torch.Generator().manual_seed(3))
    noise *= voice.pow(2).mean().sqrt() / noise.pow(2).mean().sqrt()          # 0 dB
    mixture = (voice + noise)[None]
    stems = separate(Signal(mixture, rate))
    for estimate, reference in ((stems["voice"].audio, voice), (stems["background"].audio, noise)):
        gain_db = float(si_sdr(estimate[0], reference) - si_sdr(mixture[0], reference))
        assert gain_db >= 6.0
