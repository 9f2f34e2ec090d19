"""SpectralRefiner: a complex residual on the compressed STFT, trained adversarially.

What masking denoisers leave behind is small and structured: musical noise (isolated
time-frequency peaks), harmonics pulled down with the noise around them, codec swirl. The
refiner sees each frame's power-law compressed spectrum (magnitude ``|X|^c`` with the noisy
phase, ``c`` = ``compression``) and predicts a complex correction in that domain:

    Y_c = X_c + R(X_c),   Y = |Y_c|^(1/c) e^{j angle(Y_c)}

so it can both remove (subtract a peak) and restore (add back a harmonic), which a bounded
gain cannot. No bin comes out more than ``max_boost_db`` above its input, so the refiner
restores what is there but never generates from nothing: digital silence stays silent, and
quiet gaps cannot fill with texture. The correction starts at zero (an untrained refiner
passes its input), and the network is a stack of dilated temporal convolutions over frames
with bins as channels.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from aural.nn.blocks import compressed_spectrum_features, frame_conv_stack
from aural.nn.config import ModelConfig
from aural.nn.spectral import hann_window, through_stft

MAGNITUDE_FLOOR = 1e-9


@dataclass(frozen=True)
class RefinerConfig(ModelConfig):
    """Architecture and framing of :class:`SpectralRefiner` (JSON beside the weights)."""

    architecture: ClassVar[str] = "SpectralRefiner"

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 128
    channels: int = 128
    dilations: tuple[int, ...] = (1, 2, 4, 8, 1, 2)
    kernel_size: int = 3
    compression: float = 0.3
    max_boost_db: float = 12.0  # a bin's output magnitude stays within this of its input's
    chunk_frames: int = 128   # streaming: frames per network call (context is recomputed per chunk)
    context_frames: int = 20

    def __post_init__(self) -> None:
        object.__setattr__(self, "dilations", tuple(int(d) for d in self.dilations))
        if self.n_fft % self.hop_length:
            raise ValueError("n_fft must be a multiple of hop_length")
        if not 0.1 <= self.compression <= 1.0:
            raise ValueError("compression must be in 0.1..1")
        radius = sum(d * (self.kernel_size // 2) for d in self.dilations)
        if radius > self.context_frames:
            raise ValueError(f"context_frames ({self.context_frames}) must cover the receptive radius ({radius})")



class SpectralRefiner(nn.Module):
    """Waveform in and out for training (:meth:`forward`); :meth:`refine` on STFT frames."""

    def __init__(self, config: RefinerConfig | None = None):
        super().__init__()
        self.config = config = config or RefinerConfig()
        bins = config.n_fft // 2 + 1
        self.register_buffer("window", hann_window(config.n_fft), persistent=False)
        self.input, self.blocks, self.output = frame_conv_stack(3 * bins, config.channels, 2 * bins,
                                                                config.kernel_size, config.dilations)

    def refine(self, spec: torch.Tensor) -> torch.Tensor:
        """Complex ``(B, T, bins)`` -> refined complex spectrum of the same shape."""
        c = self.config.compression
        compressed, features = compressed_spectrum_features(spec, c, MAGNITUDE_FLOOR)
        residual = self.output(self.blocks(self.input(features))).transpose(1, 2)
        real, imag = residual.chunk(2, dim=-1)
        refined = torch.complex(compressed.real + real, compressed.imag + imag)
        refined_magnitude = refined.abs().clamp_min(MAGNITUDE_FLOOR)
        expanded = refined_magnitude.pow(1.0 / c)
        ceiling = spec.abs() * 10.0 ** (self.config.max_boost_db / 20.0)
        return refined * (torch.minimum(expanded, ceiling) / refined_magnitude)

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return through_stft(audio, self.config.n_fft, self.config.hop_length, self.window, self.refine)


def build_model(config: Mapping[str, Any] | None = None) -> SpectralRefiner:
    return SpectralRefiner(RefinerConfig.from_dict(config or {}))
