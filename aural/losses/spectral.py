"""Spectral losses: multi-resolution STFT, log-mel L1, and one-sided compressed-magnitude
terms (residual noise, speech distortion)."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from aural.losses import LOSSES
from aural.nn.spectral import hann_window, mel_filterbank, stft


def _magnitude(audio: torch.Tensor, n_fft: int, hop_length: int, window: torch.Tensor) -> torch.Tensor:
    spec = stft(audio.float(), n_fft, hop_length, window)
    return (spec.real.pow(2) + spec.imag.pow(2)).clamp_min(1e-10).sqrt()


class STFTLoss(nn.Module):
    """Spectral convergence plus L1 of log magnitudes at one resolution."""

    def __init__(self, n_fft: int, hop_length: int):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", hann_window(n_fft), persistent=False)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        length = max(estimate.shape[-1], self.n_fft)
        pad = length - estimate.shape[-1]
        if pad:
            estimate = nn.functional.pad(estimate, (0, pad))
            target = nn.functional.pad(target, (0, pad))
        est = _magnitude(estimate, self.n_fft, self.hop_length, self.window)
        ref = _magnitude(target, self.n_fft, self.hop_length, self.window)
        convergence = torch.linalg.vector_norm(ref - est, dim=(-2, -1)) / \
            torch.linalg.vector_norm(ref, dim=(-2, -1)).clamp_min(1e-6)
        log_distance = (torch.log(est) - torch.log(ref)).abs().mean(dim=(-2, -1))
        return (convergence + log_distance).mean()


@LOSSES.register("mrstft")
class MultiResolutionSTFTLoss(nn.Module):
    """Mean of :class:`STFTLoss` over several FFT sizes (hop = n_fft / 4)."""

    def __init__(self, fft_sizes: Sequence[int] = (256, 512, 1024, 2048)):
        super().__init__()
        if not fft_sizes:
            raise ValueError("fft_sizes must not be empty")
        self.losses = nn.ModuleList(STFTLoss(int(n), int(n) // 4) for n in fft_sizes)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return sum(loss(estimate, target) for loss in self.losses) / len(self.losses)


@LOSSES.register("mel")
class MelLoss(nn.Module):
    """L1 distance of log10 mel power spectra."""

    def __init__(self, sample_rate: int = 16000, n_fft: int = 1024, hop_length: int = 256, n_mels: int = 80):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.register_buffer("window", hann_window(n_fft), persistent=False)
        self.register_buffer("filterbank", mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate), persistent=False)

    def _log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        pad = max(0, self.n_fft - audio.shape[-1])
        if pad:
            audio = nn.functional.pad(audio, (0, pad))
        power = _magnitude(audio, self.n_fft, self.hop_length, self.window).pow(2)
        return torch.log10(power @ self.filterbank.T + 1e-8)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (self._log_mel(estimate) - self._log_mel(target)).abs().mean()


class _OneSidedSpectralLoss(nn.Module):
    """Squared one-sided difference of power-law compressed STFT magnitudes, relative to the
    target's energy: ``sum(relu(side * (|est|^c - |ref|^c))^2) / sum(|ref|^(2c))``.
    Compression (``c`` = 0.3) lets quiet frames (noise between words, soft consonants) count."""

    side = 1.0

    def __init__(self, n_fft: int = 512, hop_length: int = 128, compression: float = 0.3):
        super().__init__()
        if not 0.0 < compression <= 1.0:
            raise ValueError("compression must be in (0, 1]")
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.compression = compression
        self.register_buffer("window", hann_window(n_fft), persistent=False)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        est = _magnitude(estimate, self.n_fft, self.hop_length, self.window).pow(self.compression)
        ref = _magnitude(target, self.n_fft, self.hop_length, self.window).pow(self.compression)
        error = torch.relu(self.side * (est - ref)).pow(2).sum(dim=(-2, -1))
        return (error / ref.pow(2).sum(dim=(-2, -1)).clamp_min(1e-8)).mean()


@LOSSES.register("residual_noise")
class ResidualNoiseLoss(_OneSidedSpectralLoss):
    """Energy the estimate has above the target: residual noise, reverberation tails,
    artefacts, never what is missing. Added to a symmetric loss, it trades a little speech
    distortion for deeper noise suppression."""

    side = 1.0


@LOSSES.register("speech_distortion")
class SpeechDistortionLoss(_OneSidedSpectralLoss):
    """Energy the estimate lacks against the target: over-suppressed speech, never what is
    left over. Added to a symmetric loss, it protects speech (intelligibility, STOI) at the
    cost of some residual noise (the asymmetric loss of VoiceFilter-Lite, Wang et al. 2020)."""

    side = -1.0
