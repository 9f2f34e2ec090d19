"""MelUNet: two 2-D U-Nets on log-mel frames predicting gains for the complex STFT.

Pass one (``denoise``) sees the noisy log-mel and predicts a suppression gain in [0, 1]
per mel band and frame; pass two (``enhance``) sees the log-mel after that gain together
with the noisy one and predicts a correction gain in [0, ``max_gain``] (it can restore
bands the first pass or the phone over-attenuated). Band gains are spread onto the linear
STFT bins and multiply the noisy complex spectrum, keeping its phase.

An optional post-filter (``post_filter_beta`` > 0; Valin et al., PercepNet, as in
DeepFilterNet) deepens the attenuation of bins the network already judged noisy
(``g * sin(pi g / 2)`` shaping) and leaves bins near unity gain nearly untouched. It is part
of the model, so training sees it and the network learns around it.

With ``deep_filter_bins`` > 0 a :class:`~aural.nn.deep_filter.DeepFilterHead` then filters the
lowest bins of the gained spectrum across frames with predicted complex taps (harmonics
inside a noisy bin, phase); it starts as the identity, so a trained model grows one by
fine-tuning (``grown_from_identity`` names its tensors for ``aural train --init``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

import torch
from torch import nn

from aural.nn.blocks import ACTIVATIONS
from aural.nn.config import ModelConfig
from aural.nn.deep_filter import DeepFilterHead
from aural.nn.spectral import hann_window, mel_filterbank, mel_to_linear_weights, through_stft
from aural.nn.unet import UNet2d

LOG_FLOOR = 1e-8
DENOISE_BIAS = 2.0  # an untrained first pass passes ~88 % of every band

PowerGains = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class MelUNetConfig(ModelConfig):
    """Architecture and framing of :class:`MelUNet` (stored as JSON next to the weights)."""

    architecture: ClassVar[str] = "MelUNet"

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 128
    n_mels: int = 64
    f_min: float = 40.0
    channels: tuple[int, ...] = (8, 16, 32, 64)
    bottleneck_channels: int = 96
    activation: str = "gelu"
    max_gain: float = 2.0
    post_filter_beta: float = 0.0   # 0: off; 0.02 as in DeepFilterNet
    chunk_frames: int = 48     # streaming: frames masked per network call
    context_frames: int = 16   # streaming: frames of context on each side of a chunk
    deep_filter_bins: int = 0  # 0: off; else the lowest bins get a deep filter
    deep_filter_order: int = 5
    deep_filter_lookahead: int = 1
    deep_filter_channels: tuple[int, ...] = (8, 16, 32)
    deep_filter_bottleneck_channels: int = 48

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        object.__setattr__(self, "deep_filter_channels", tuple(int(c) for c in self.deep_filter_channels))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.n_fft % self.hop_length:
            raise ValueError("n_fft must be a multiple of hop_length")
        if self.max_gain < 1.0:
            raise ValueError("max_gain must be >= 1")
        if self.post_filter_beta < 0.0:
            raise ValueError("post_filter_beta must be >= 0")
        if not 0 <= self.deep_filter_bins <= self.n_fft // 2 + 1:
            raise ValueError(f"deep_filter_bins must be in [0, {self.n_fft // 2 + 1}]")
        if not 0 <= self.deep_filter_lookahead < min(self.deep_filter_order, self.context_frames + 1):
            raise ValueError("deep_filter_lookahead must be >= 0, below deep_filter_order and at most context_frames")



class MelUNet(nn.Module):
    """Waveform ``(batch, samples)`` or ``(batch, channels, samples)`` in and out (training);
    :meth:`gains` maps complex STFT frames to real gains, :meth:`enhanced_spectrum` to the
    enhanced frames (streamed inference)."""

    grown_from_identity = ("deep_filter.",)

    def __init__(self, config: MelUNetConfig | None = None):
        super().__init__()
        self.config = config = config or MelUNetConfig()
        num_bins = config.n_fft // 2 + 1
        filterbank = mel_filterbank(num_bins, config.n_mels, config.sample_rate, f_min=config.f_min)
        self.register_buffer("window", hann_window(config.n_fft), persistent=False)
        self.register_buffer("filterbank", filterbank, persistent=False)
        self.register_buffer("spread", mel_to_linear_weights(filterbank), persistent=False)
        self.denoise = UNet2d(1, 1, config.channels, config.bottleneck_channels, config.activation)
        self.enhance = UNet2d(2, 1, config.channels, config.bottleneck_channels, config.activation)
        for net in (self.denoise, self.enhance):
            nn.init.zeros_(net.head.weight)
            nn.init.zeros_(net.head.bias)
        self.deep_filter = DeepFilterHead(config.deep_filter_order, config.deep_filter_lookahead,
                                          config.deep_filter_channels, config.deep_filter_bottleneck_channels,
                                          config.activation) if config.deep_filter_bins else None

    def log_mel(self, power: torch.Tensor) -> torch.Tensor:
        """``(batch, frames, bins)`` power -> ``(batch, 1, frames, n_mels)`` scaled log-mel."""
        mel = power @ self.filterbank.T
        return ((torch.log10(mel + LOG_FLOOR) + 5.0) / 2.0).unsqueeze(1)

    def gains(self, spec: torch.Tensor, power_gains: PowerGains | None = None) -> torch.Tensor:
        """Complex ``(batch, frames, bins)`` -> real gains of the same shape, computed from its
        power by ``power_gains`` (default :meth:`power_gains`; :meth:`inference_power_gains`)."""
        return (power_gains or self.power_gains)(spec.real.pow(2) + spec.imag.pow(2))

    def power_gains(self, power: torch.Tensor) -> torch.Tensor:
        """Power ``(batch, frames, bins)`` -> real gains of the same shape."""
        noisy = self.log_mel(power)
        first = torch.sigmoid(self.denoise(noisy) + DENOISE_BIAS).squeeze(1) @ self.spread.T
        cleaned = self.log_mel(power * first.pow(2))
        second = self.config.max_gain * torch.sigmoid(self.enhance(torch.cat([cleaned, noisy], dim=1)))
        return post_filter(first * (second.squeeze(1) @ self.spread.T), self.config.post_filter_beta)

    def inference_power_gains(self, frames: int, cache_key: tuple[Any, ...] | None = None) -> PowerGains:
        """:meth:`power_gains` for windows of ``frames`` frames, run by onnxruntime where it
        can (:func:`aural.nn.onnx_runtime.onnx_function`; other shapes run here)."""
        from aural.nn.onnx_runtime import BoundMethod, config_cache_key, onnx_function

        generator = torch.Generator().manual_seed(0)  # a noisy power spectrum, to check the export on
        power = torch.rand(1, frames, self.config.n_fft // 2 + 1, generator=generator).pow(4) * 1e-2
        return onnx_function(BoundMethod(self, "power_gains"), (power,), label="MelUNet",
                             cache_key=config_cache_key(cache_key, self.config))

    def enhanced_spectrum(self, spec: torch.Tensor, power_gains: PowerGains | None = None) -> torch.Tensor:
        """Complex ``(batch, frames, bins)`` -> the enhanced complex frames: gains, then the
        low band's deep filter if the model has one."""
        gained = spec * self.gains(spec, power_gains)
        if self.deep_filter is None:
            return gained
        bins = self.config.deep_filter_bins
        low = self.deep_filter(spec[..., :bins], gained[..., :bins])
        return torch.cat([low, gained[..., bins:]], dim=-1)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return through_stft(audio, self.config.n_fft, self.config.hop_length, self.window, self.enhanced_spectrum)


def post_filter(gains: torch.Tensor, beta: float) -> torch.Tensor:
    """Deeper attenuation where ``gains`` < 1: ``(1 + beta) g / (1 + beta / sin^2(pi g / 2))``;
    gains >= 1 (restoring bands) pass unchanged. ``beta`` 0 returns ``gains``."""
    if beta <= 0.0:
        return gains
    attenuating = gains.clamp(1e-4, 1.0)
    shaped = (1.0 + beta) * attenuating / (1.0 + beta / torch.sin(0.5 * torch.pi * attenuating).pow(2))
    return torch.where(gains < 1.0, shaped, gains)


def build_model(config: Mapping[str, Any] | None = None) -> MelUNet:
    """The model factory: a :class:`MelUNet` from its JSON config."""
    return MelUNet(MelUNetConfig.from_dict(config or {}))
