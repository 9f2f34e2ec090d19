"""Losses: closed forms, zero at the target, weights as data."""

from __future__ import annotations

import math

import pytest
import torch

from aural.losses import LOSSES, build_loss
from aural.losses.time import si_sdr


def test_registry_lists_builtins():
    assert {"l1", "mse", "snr", "si_sdr", "mrstft", "mel", "residual_noise", "speech_distortion", "stoi"} <= set(LOSSES.names())


def test_waveform_losses_closed_forms():
    target = torch.randn(2, 1, 1000)
    estimate = target + 0.5
    l1 = build_loss([{"name": "l1"}])
    mse = build_loss([{"name": "mse"}])
    assert l1(estimate, target)[0].item() == pytest.approx(0.5)
    assert mse(estimate, target)[0].item() == pytest.approx(0.25)


def test_snr_counts_a_wrong_level_that_si_sdr_forgives():
    target = torch.randn(3, 1, 8000)
    snr = build_loss([{"name": "snr"}])
    # half the level: error = target / 2, so SNR = 20 log10(2) = 6.02 dB
    assert snr(0.5 * target, target)[0].item() == pytest.approx(-20 * math.log10(2), abs=1e-3)
    assert build_loss([{"name": "si_sdr"}])(0.5 * target, target)[0].item() < -60
    assert snr(target, target)[0].item() < -60


def test_si_sdr_known_mixture_and_scale_invariance():
    torch.manual_seed(0)
    target = torch.randn(4, 16000)
    noise = torch.randn(4, 16000)
    noise = noise - (noise * target).sum(-1, keepdim=True) / target.pow(2).sum(-1, keepdim=True) * target
    noise = noise * (target.norm(dim=-1, keepdim=True) / noise.norm(dim=-1, keepdim=True)) * 10 ** (-10 / 20)
    estimate = target + noise  # orthogonal noise 10 dB below the target
    torch.testing.assert_close(si_sdr(estimate - estimate.mean(-1, keepdim=True), target), torch.full((4,), 10.0),
                               rtol=0, atol=0.05)
    torch.testing.assert_close(si_sdr(3 * estimate, target), si_sdr(estimate, target), rtol=0, atol=1e-3)
    loss = build_loss([{"name": "si_sdr"}])
    assert loss(estimate.unsqueeze(1), target.unsqueeze(1))[0].item() == pytest.approx(-10.0, abs=0.1)


@pytest.mark.parametrize("name", ["mrstft", "mel", "residual_noise"])
def test_spectral_losses_zero_at_target_and_grow_with_noise(name):
    torch.manual_seed(1)
    t = torch.arange(8000) / 16000
    target = (0.3 * torch.sin(2 * math.pi * 440 * t)).reshape(1, 1, -1)
    loss = build_loss([{"name": name}], sample_rate=16000)
    assert loss(target, target)[0].item() == pytest.approx(0.0, abs=1e-4)
    small = loss(target + 0.01 * torch.randn_like(target), target)[0].item()
    large = loss(target + 0.1 * torch.randn_like(target), target)[0].item()
    assert 0 < small < large


def test_residual_noise_counts_only_what_is_left_over():
    torch.manual_seed(2)
    t = torch.arange(16000) / 16000
    speech = (0.3 * torch.sin(2 * math.pi * 300 * t) * (t < 0.5)).reshape(1, 1, -1)  # a tone, then silence
    noise = 0.01 * torch.randn_like(speech)
    loss = build_loss([{"name": "residual_noise"}])
    assert loss(0.5 * speech, speech)[0].item() == pytest.approx(0.0, abs=1e-6)  # too little: not counted
    assert loss(speech + noise, speech)[0].item() > 0.05                        # noise in the silence: counted
    with pytest.raises(ValueError, match="compression"):
        build_loss([{"name": "residual_noise", "compression": 0.0}])


def test_speech_distortion_counts_only_what_is_missing():
    torch.manual_seed(3)
    t = torch.arange(16000) / 16000
    speech = (0.3 * torch.sin(2 * math.pi * 300 * t) * (t < 0.5)).reshape(1, 1, -1)
    noise = 0.01 * torch.randn_like(speech)
    loss = build_loss([{"name": "speech_distortion"}])
    assert loss(speech, speech)[0].item() == pytest.approx(0.0, abs=1e-6)
    assert loss(speech + noise * (t >= 0.6), speech)[0].item() == pytest.approx(0.0, abs=1e-6)  # noise in silence: not counted
    assert loss(0.5 * speech, speech)[0].item() > 0.02                                          # attenuated speech: counted
    assert loss(0.5 * speech, speech)[0].item() < loss(0.1 * speech, speech)[0].item()


def test_weights_are_data_and_terms_are_reported():
    target = torch.zeros(1, 1, 512)
    estimate = torch.ones(1, 1, 512)
    loss = build_loss([{"name": "l1", "weight": 2.0}, {"name": "mse", "weight": 0.5}])
    total, parts = loss(estimate, target)
    assert total.item() == pytest.approx(2.5)
    assert set(parts) == {"loss/l1", "loss/mse"}


def test_bad_specs_name_the_entry():
    with pytest.raises(ValueError, match=r"losses\[0\].*did you mean 'mse'|unknown loss"):
        build_loss([{"name": "msee"}])
    with pytest.raises(ValueError, match=r"losses\[1\]: mrstft has no option 'n_fft'"):
        build_loss([{"name": "l1"}, {"name": "mrstft", "n_fft": 3}])
    with pytest.raises(ValueError, match="weight"):
        build_loss([{"name": "l1", "weight": -1}])


def _speech_like(seconds: float = 2.0, sample_rate: int = 16000, seed: int = 0) -> torch.Tensor:
    """Harmonics of a gliding pitch under a syllable-rate (4 Hz) envelope with pauses."""
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(int(seconds * sample_rate)) / sample_rate
    pitch = 140 + 30 * torch.sin(2 * math.pi * 0.7 * t)
    phase = 2 * math.pi * torch.cumsum(pitch, 0) / sample_rate
    voiced = sum(torch.sin(k * phase) / math.sqrt(k) for k in range(1, 40))  # harmonics to ~5 kHz
    envelope = torch.relu(torch.sin(2 * math.pi * 4 * t)) * (torch.sin(2 * math.pi * 0.5 * t) > -0.5)
    return (0.1 * voiced * envelope + 0.001 * torch.randn(t.shape, generator=generator)).reshape(1, 1, -1)


def test_stoi_loss_zero_at_target_scale_invariant_and_grows_with_noise():
    speech = _speech_like()
    loss = build_loss([{"name": "stoi"}], sample_rate=16000)
    assert loss(speech, speech)[0].item() == pytest.approx(0.0, abs=1e-4)
    assert loss(3.0 * speech, speech)[0].item() == pytest.approx(0.0, abs=1e-4)
    noise = torch.randn(speech.shape, generator=torch.Generator().manual_seed(5))
    noise = noise * speech.norm() / noise.norm()
    values = [loss(speech + noise * 10 ** (-snr_db / 20), speech)[0].item() for snr_db in (20, 5, -5)]
    assert 0 < values[0] < values[1] < values[2]


def test_stoi_loss_follows_pystoi():
    """1 - loss ranks noisy versions as the reference implementation does, at a close value."""
    pystoi = pytest.importorskip("pystoi")
    speech = _speech_like(seconds=3.0)
    noise = torch.randn(speech.shape, generator=torch.Generator().manual_seed(6))
    noise = noise * speech.norm() / noise.norm()
    loss = build_loss([{"name": "stoi"}], sample_rate=16000)
    ours, reference = [], []
    for snr_db in (15, 5, 0, -5):
        noisy = speech + noise * 10 ** (-snr_db / 20)
        ours.append(1 - loss(noisy, speech)[0].item())
        reference.append(pystoi.stoi(speech.flatten().numpy(), noisy.flatten().numpy(), 16000))
    assert ours == sorted(ours, reverse=True) and reference == sorted(reference, reverse=True)
    assert max(abs(a - b) for a, b in zip(ours, reference)) < 0.03


def test_stoi_loss_has_gradients_and_checks_its_rate():
    speech = _speech_like(seconds=1.0)
    estimate = (0.5 * speech).requires_grad_()
    build_loss([{"name": "stoi"}], sample_rate=16000)(estimate + 0.01, speech)[0].backward()
    assert estimate.grad is not None and estimate.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="sample rate"):
        build_loss([{"name": "stoi", "sample_rate": 8000}])
