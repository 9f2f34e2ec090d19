"""ConvAutoencoder: a 1-D convolutional encoder-decoder on waveform windows.

Two outputs: ``residual`` (or ``direct``), where the autoencoder runs on the samples and
returns a correction (or the estimate); and ``mask``, where a learned analysis filterbank
(a strided Conv1d, ReLU: ``basis_size`` filters of ``basis_kernel`` samples, half
overlapping) turns the window into non-negative frames, the autoencoder runs on those
frames and predicts a [0, 1] mask for them, and a transposed convolution (the synthesis
filterbank) turns the masked frames back into samples (Conv-TasNet's encoder/decoder).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Mapping

import torch
from torch import nn

from aural.nn.blocks import ACTIVATIONS, ConvBlock1d, make_activation
from aural.nn.config import ModelConfig


@dataclass(frozen=True)
class ConvAutoencoderConfig(ModelConfig):
    """Architecture of :class:`ConvAutoencoder` (stored as JSON next to the weights)."""

    architecture: ClassVar[str] = "ConvAutoencoder"

    channels: tuple[int, ...] = (32, 64, 128, 256)
    kernel_size: int = 8
    stride: int = 4
    bottleneck_layers: int = 2
    activation: str = "gelu"
    output: str = "residual"   # residual: input + correction; direct: the clean estimate; mask: see above
    basis_size: int = 256      # mask: filters of the learned filterbank
    basis_kernel: int = 32     # mask: filter length in samples (hop: half of it)
    normalize: bool = True     # scale each window to unit RMS inside the model
    window_samples: int = 2048
    sample_rate: int = 16000

    def __post_init__(self) -> None:
        object.__setattr__(self, "channels", tuple(int(c) for c in self.channels))
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, got {self.activation!r}")
        if self.output not in ("residual", "direct", "mask"):
            raise ValueError(f"output must be 'residual', 'direct' or 'mask', got {self.output!r}")
        if self.output == "mask" and (self.basis_kernel < 2 or self.basis_kernel % 2):
            raise ValueError("basis_kernel must be an even number >= 2")
        if self.kernel_size < self.stride or (self.kernel_size - self.stride) % 2:
            raise ValueError("kernel_size must be stride plus an even number")
        if self.window_samples % self.total_stride:
            raise ValueError(f"window_samples must be a multiple of {self.total_stride} "
                             "(the filterbank hop times stride ** depth)")

    @property
    def total_stride(self) -> int:
        hop = self.basis_kernel // 2 if self.output == "mask" else 1
        return hop * self.stride ** len(self.channels)



class _ResidualDilated(nn.Module):
    def __init__(self, channels: int, dilation: int, activation: str):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, 3, dilation=dilation, padding=dilation)
        self.act = make_activation(activation, channels)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(self.act(self.conv(x)))


class ConvAutoencoder(nn.Module):
    """``(batch, 1, samples)`` -> ``(batch, 1, samples)`` for ``samples`` a multiple of
    ``stride ** depth`` (2048-sample windows in the stage).

    Encoder: strided :class:`~aural.nn.blocks.ConvBlock1d` levels; bottleneck: dilated
    residual convolutions; decoder: pointwise GLU then transposed convolution per level, with
    the encoder output of the same scale added (skip connections). With ``output="residual"``
    the last layer starts small, so an untrained model is close to the identity.
    """

    def __init__(self, config: ConvAutoencoderConfig | None = None):
        super().__init__()
        self.config = config = config or ConvAutoencoderConfig()
        k, s = config.kernel_size, config.stride
        masking = config.output == "mask"
        if masking:
            hop = config.basis_kernel // 2
            self.analysis = nn.Conv1d(1, config.basis_size, config.basis_kernel, stride=hop, bias=False)
            self.synthesis = nn.ConvTranspose1d(config.basis_size, 1, config.basis_kernel, stride=hop, bias=False)
        widths = (config.basis_size if masking else 1, *config.channels)
        self.encoder = nn.ModuleList(
            ConvBlock1d(widths[i], widths[i + 1], kernel_size=k, stride=s, activation=config.activation)
            for i in range(len(config.channels)))
        self.bottleneck = nn.Sequential(*(
            _ResidualDilated(widths[-1], 2 ** i, config.activation) for i in range(config.bottleneck_layers)))
        self.decoder = nn.ModuleList()
        for i in reversed(range(len(config.channels))):
            layers: list[nn.Module] = [
                nn.Conv1d(widths[i + 1], 2 * widths[i + 1], 1), nn.GLU(dim=1),
                nn.ConvTranspose1d(widths[i + 1], max(widths[i], 1), k, stride=s, padding=(k - s) // 2)]
            if i > 0:
                layers.append(make_activation(config.activation, widths[i]))
            self.decoder.append(nn.Sequential(*layers))
        if config.output == "residual":
            # a small (not zero) last layer: the model starts near the identity, yet every layer
            # gets gradients from the first step (zero made the identity a sticky plateau)
            last = self.decoder[-1][2]
            with torch.no_grad():
                last.weight.mul_(0.05)
                last.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.config.total_stride:
            raise ValueError(f"input length {x.shape[-1]} is not a multiple of {self.config.total_stride}")
        scale = x.pow(2).mean(dim=-1, keepdim=True).sqrt().add(1e-4) if self.config.normalize else None
        h = x / scale if scale is not None else x
        if self.config.output == "mask":
            frames = self._analyse(h)
            out = self.synthesis(frames * torch.sigmoid(self._autoencode(frames)))
            out = out[..., self.config.basis_kernel // 2:][..., :x.shape[-1]]
            return out * scale if scale is not None else out
        h = self._autoencode(h)
        if scale is not None:
            h = h * scale
        return x + h if self.config.output == "residual" else h

    def _analyse(self, x: torch.Tensor) -> torch.Tensor:
        """Non-negative filterbank frames, one per hop (half a filter), the first starting half
        a filter before the window (so the time axis stays a multiple of the strides)."""
        half = self.config.basis_kernel // 2
        return torch.relu(self.analysis(nn.functional.pad(x, (half, half))))[..., :x.shape[-1] // half]

    def _autoencode(self, h: torch.Tensor) -> torch.Tensor:
        skips = []
        for block in self.encoder:
            h = block(h)
            skips.append(h)
        h = self.bottleneck(h)
        for block, skip in zip(self.decoder, reversed(skips)):
            h = block(h + skip)
        return h


def build_model(config: Mapping[str, Any] | None = None) -> ConvAutoencoder:
    """The model factory: a :class:`ConvAutoencoder` from its JSON config."""
    return ConvAutoencoder(ConvAutoencoderConfig.from_dict(config or {}))


def overlap_add_forward(model: nn.Module, audio: torch.Tensor, window_samples: int) -> torch.Tensor:
    """Whole-signal inference as the stage streams it: ``(batch, samples)`` in and out.

    Frames of ``window_samples`` every ``window_samples // 2`` (the signal thought of as
    preceded by half a window of zeros), model output times a periodic Hann window,
    overlap-added and divided by the summed window.
    """
    from aural.nn.spectral import hann_window, overlap_add

    hop = window_samples // 2
    length = audio.shape[-1]
    padded = nn.functional.pad(audio, (window_samples - hop, hop + (-length % hop)))
    frames = padded.unfold(-1, window_samples, hop)                       # (batch, frames, window)
    batch, count, _ = frames.shape
    out = model(frames.reshape(batch * count, 1, window_samples)).reshape(batch, count, window_samples)
    window = hann_window(window_samples).to(audio)
    summed = overlap_add(out * window, hop)
    norm = overlap_add(window.expand(count, window_samples), hop)
    start = window_samples - hop
    return (summed / norm.clamp_min(1e-8))[:, start:start + length]
