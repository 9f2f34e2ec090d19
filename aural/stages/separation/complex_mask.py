"""ComplexMaskNet: a bounded complex ratio mask per STFT bin, for ``separation``.

A mask that only scales magnitudes keeps the mixture's phase, and even the ideal one ends near
11 dB SI-SDRi on the held-out mixtures; the ideal complex mask bounded at 1.5 reaches 29.8 dB
(``benchmarks/results/separation_oracle.md``). This network sees the phase and changes it: per
bin and frame it predicts a complex mask ``M`` and the voice is ``M * X`` (complex product).

``M`` is bounded in DCCRN's "E" form: the network's two outputs ``(r, i)`` per bin give
``|M| = max_gain * tanh(|r + ji|)`` and ``angle(M) = angle(r + ji)`` (phase free). Features are
the power-law compressed (``compression``) real, imaginary and magnitude of every bin of the
frame; a 1x1 convolution, non-causal dilated residual blocks over frames (bins as channels, as
in ``gan_refiner``'s SpectralRefiner) and a 1x1 output to ``2 x bins``. The output layer starts
at zero weights with a bias that makes every bin's mask ``initial_gain`` (real): an untrained
network is a fixed mask. ``context_frames`` must cover the receptive radius, so streamed chunks
give the numbers a whole file does.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from aural.nn.blocks import compressed_spectrum_features, frame_conv_stack
from aural.nn.config import ModelConfig
from aural.nn.spectral import hann_window, through_stft

NETWORK = "complex_mask"
MAGNITUDE_FLOOR = 1e-9
RAW_FLOOR = 1e-6  # keeps |r + ji| differentiable at zero


@dataclass(frozen=True)
class ComplexMaskConfig(ModelConfig):
    """Architecture and framing of :class:`ComplexMaskNet` (JSON beside the weights)."""

    architecture: ClassVar[str] = "ComplexMaskNet"

    network: str = NETWORK   # how the separation model factory tells it from the MelUNet
    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 128
    channels: int = 256
    dilations: tuple[int, ...] = (1, 2, 4, 8, 16, 1, 2, 4, 8, 16)   # receptive radius 62 frames (0.5 s)
    kernel_size: int = 3
    compression: float = 0.3
    max_gain: float = 1.5     # bound of the mask's magnitude
    initial_gain: float = 1.0  # the untrained network's (real) mask
    chunk_frames: int = 128   # streaming: frames per network call
    context_frames: int = 64  # streaming: frames of context each side (>= the receptive radius)

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
        if self.network != NETWORK:
            raise ValueError(f"network must be {NETWORK!r}, got {self.network!r}")
        if self.n_fft % self.hop_length:
            raise ValueError("n_fft must be a multiple of hop_length")
        if self.kernel_size % 2 == 0:
            raise ValueError("kernel_size must be odd (a centred, non-causal convolution)")
        if not 0.1 <= self.compression <= 1.0:
            raise ValueError("compression must be in 0.1..1")
        if self.max_gain < 1.0:
            raise ValueError("max_gain must be >= 1")
        if not 0.0 < self.initial_gain < self.max_gain:
            raise ValueError("initial_gain must be in (0, max_gain)")
        if self.receptive_radius > self.context_frames:
            raise ValueError(f"context_frames ({self.context_frames}) must cover the receptive radius "
                             f"({self.receptive_radius} frames)")

    @property
    def receptive_radius(self) -> int:
        """Frames each side that one output frame depends on."""
        return sum(d * (self.kernel_size // 2) for d in self.dilations)


class ComplexMaskNet(nn.Module):
    """Waveform in, voice waveform out for training (:meth:`forward`); :meth:`gains` maps complex
    STFT frames to the complex mask (streamed inference)."""

    def __init__(self, config: ComplexMaskConfig | None = None):
        super().__init__()
        self.config = config = config or ComplexMaskConfig()
        bins = config.n_fft // 2 + 1
        self.register_buffer("window", hann_window(config.n_fft), persistent=False)
        self.input, self.blocks, self.output = frame_conv_stack(3 * bins, config.channels, 2 * bins,
                                                                config.kernel_size, config.dilations)
        with torch.no_grad():  # real part: |M| = max_gain * tanh(bias) = initial_gain
            self.output.bias[:bins] = math.atanh(config.initial_gain / config.max_gain)

    def gains(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex ``(batch, frames, bins)`` -> complex mask of the same shape (``|M| <= max_gain``)."""
        c = self.config.compression
        _, features = compressed_spectrum_features(spec, c, MAGNITUDE_FLOOR)
        raw = self.output(self.blocks(self.input(features))).transpose(1, 2)
        real, imag = raw.float().chunk(2, dim=-1)
        norm = (real.pow(2) + imag.pow(2) + RAW_FLOOR ** 2).sqrt()
        scale = self.config.max_gain * torch.tanh(norm) / norm
        return torch.complex(real * scale, imag * scale)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return through_stft(audio, self.config.n_fft, self.config.hop_length, self.window,
                            lambda spec: spec * self.gains(spec))


def build_complex_mask(config: Mapping[str, Any] | None = None) -> ComplexMaskNet:
    return ComplexMaskNet(ComplexMaskConfig.from_dict(config or {}))
