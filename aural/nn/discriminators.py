"""Discriminators for adversarial training, small enough to train on a CPU.

- :class:`MultiPeriodDiscriminator` (HiFi-GAN): the waveform folded into ``(T / p, p)`` for
  a few prime periods ``p``, each seen by a stack of ``(k, 1)`` convolutions, so every
  discriminator judges one periodic structure.
- :class:`MultiResolutionSTFTDiscriminator` (UnivNet, DAC): log-magnitude spectrograms at
  several resolutions, each seen by 2-D convolutions strided along frequency.

Both map ``(batch, 1, samples)`` to a list of ``(logits, feature_maps)``, one per
sub-discriminator; :class:`CombinedDiscriminator` concatenates such lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from torch import nn
from torch.nn.utils.parametrizations import weight_norm

from aural.nn.spectral import hann_window, stft

Judgement = tuple[torch.Tensor, list[torch.Tensor]]
LEAK = 0.1


def _judge(layers: nn.ModuleList, head: nn.Module, x: torch.Tensor) -> Judgement:
    """Leaky-ReLU conv stack then a 1-channel head: ``(logits, every feature map)``."""
    features = []
    for layer in layers:
        x = nn.functional.leaky_relu(layer(x), LEAK)
        features.append(x)
    logits = head(x)
    features.append(logits)
    return logits.flatten(1), features


class PeriodDiscriminator(nn.Module):
    def __init__(self, period: int, channels: Sequence[int] = (16, 32, 64, 64)):
        super().__init__()
        self.period = period
        layers, previous = [], 1
        for index, width in enumerate(channels):
            stride = 3 if index < len(channels) - 1 else 1
            layers.append(weight_norm(nn.Conv2d(previous, width, (5, 1), (stride, 1), padding=(2, 0))))
            previous = width
        self.layers = nn.ModuleList(layers)
        self.head = weight_norm(nn.Conv2d(previous, 1, (3, 1), padding=(1, 0)))

    def forward(self, audio: torch.Tensor) -> Judgement:
        batch, channels, length = audio.shape
        pad = -length % self.period
        if pad:
            audio = nn.functional.pad(audio, (0, pad), mode="reflect" if length > pad else "constant")
        return _judge(self.layers, self.head, audio.reshape(batch, channels, -1, self.period))


class MultiPeriodDiscriminator(nn.Module):
    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), channels: Sequence[int] = (16, 32, 64, 64)):
        super().__init__()
        self.discriminators = nn.ModuleList(PeriodDiscriminator(int(p), channels) for p in periods)

    def forward(self, audio: torch.Tensor) -> list[Judgement]:
        return [d(audio) for d in self.discriminators]


class SpectrogramDiscriminator(nn.Module):
    def __init__(self, n_fft: int, channels: int = 32, num_layers: int = 4):
        super().__init__()
        self.n_fft = n_fft
        self.hop_length = n_fft // 4
        self.register_buffer("window", hann_window(n_fft), persistent=False)
        layers = [weight_norm(nn.Conv2d(1, channels, (3, 9), padding=(1, 4)))]
        for _ in range(num_layers - 1):
            layers.append(weight_norm(nn.Conv2d(channels, channels, (3, 9), (1, 2), padding=(1, 4))))
        self.layers = nn.ModuleList(layers)
        self.head = weight_norm(nn.Conv2d(channels, 1, (3, 3), padding=(1, 1)))

    def forward(self, audio: torch.Tensor) -> Judgement:
        flat = audio.reshape(-1, audio.shape[-1])
        if flat.shape[-1] < self.n_fft:
            flat = nn.functional.pad(flat, (0, self.n_fft - flat.shape[-1]))
        spec = stft(flat.float(), self.n_fft, self.hop_length, self.window)
        return _judge(self.layers, self.head, torch.log10(spec.real.pow(2) + spec.imag.pow(2) + 1e-8).unsqueeze(1))


class MultiResolutionSTFTDiscriminator(nn.Module):
    def __init__(self, fft_sizes: Sequence[int] = (512, 1024, 2048), channels: int = 32):
        super().__init__()
        self.discriminators = nn.ModuleList(SpectrogramDiscriminator(int(n), channels) for n in fft_sizes)

    def forward(self, audio: torch.Tensor) -> list[Judgement]:
        return [d(audio) for d in self.discriminators]


@dataclass(frozen=True)
class DiscriminatorConfig:
    """Which discriminators judge, and their sizes (recipe ``adversarial.discriminators``)."""

    periods: tuple[int, ...] = (2, 3, 5, 7, 11)
    period_channels: tuple[int, ...] = (16, 32, 64, 64)
    fft_sizes: tuple[int, ...] = (512, 1024, 2048)
    stft_channels: int = 32


class CombinedDiscriminator(nn.Module):
    """Every sub-discriminator of an MPD and an MRSD (either may be left out)."""

    def __init__(self, config: DiscriminatorConfig = DiscriminatorConfig()):
        super().__init__()
        parts = []
        if config.periods:
            parts.append(MultiPeriodDiscriminator(config.periods, config.period_channels))
        if config.fft_sizes:
            parts.append(MultiResolutionSTFTDiscriminator(config.fft_sizes, config.stft_channels))
        if not parts:
            raise ValueError("at least one discriminator is needed (periods or fft_sizes)")
        self.parts = nn.ModuleList(parts)

    def forward(self, audio: torch.Tensor) -> list[Judgement]:
        return [judgement for part in self.parts for judgement in part(audio)]
