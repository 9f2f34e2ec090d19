"""Small convolution blocks shared by the learned stages."""

from __future__ import annotations

import torch
from torch import nn

ACTIVATIONS = ("relu", "prelu", "gelu")


def make_activation(name: str, num_channels: int = 1) -> nn.Module:
    """``relu``, ``prelu`` (one slope per channel) or ``gelu``."""
    if name == "relu":
        return nn.ReLU()
    if name == "prelu":
        return nn.PReLU(num_channels)
    if name == "gelu":
        return nn.GELU()
    raise ValueError(f"unknown activation {name!r}; known: {', '.join(ACTIVATIONS)}")


class ConvBlock1d(nn.Module):
    """Conv1d -> activation -> pointwise Conv1d -> GLU: a strided feature block.

    With ``stride > 1`` the time axis shrinks by ``stride`` (``kernel_size = 2 * stride``
    and ``padding = stride // 2`` keep lengths that are multiples of ``stride`` exact).
    """

    def __init__(self, in_channels: int, out_channels: int, *, kernel_size: int, stride: int = 1,
                 activation: str = "gelu"):
        super().__init__()
        padding = (kernel_size - stride) // 2
        self.conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride=stride, padding=padding)
        self.act = make_activation(activation, out_channels)
        self.gate = nn.Conv1d(out_channels, 2 * out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.glu(self.gate(self.act(self.conv(x))), dim=1)


class ConvBlock2d(nn.Module):
    """Two 3x3 Conv2d layers with activations (and a residual 1x1 when channels change)."""

    def __init__(self, in_channels: int, out_channels: int, *, activation: str = "gelu"):
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.act1 = make_activation(activation, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.act2 = make_activation(activation, out_channels)
        self.skip = (nn.Identity() if in_channels == out_channels
                     else nn.Conv2d(in_channels, out_channels, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act1(self.conv1(x))
        return self.act2(self.conv2(y) + self.skip(x))


class DilatedResidualBlock(nn.Module):
    """Pre-norm dilated temporal convolution, GELU, pointwise projection, skip: ``(B, C, T)``.

    The norm is per frame over channels, so a block's output at a frame depends only on its
    receptive field (chunked streaming gives the same numbers as a whole signal).
    """

    def __init__(self, channels: int, kernel_size: int, dilation: int):
        super().__init__()
        self.norm = nn.LayerNorm(channels)
        self.conv = nn.Conv1d(channels, channels, kernel_size, dilation=dilation,
                              padding=dilation * (kernel_size // 2))
        self.project = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        normed = self.norm(x.transpose(1, 2)).transpose(1, 2)
        return x + self.project(nn.functional.gelu(self.conv(nn.functional.gelu(normed))))


def frame_conv_stack(in_channels: int, channels: int, out_channels: int, kernel_size: int,
                     dilations: tuple[int, ...]) -> tuple[nn.Conv1d, nn.Sequential, nn.Conv1d]:
    """``(input, blocks, output)`` of a spectral network over frames (bins as channels): a 1x1
    input convolution, :class:`DilatedResidualBlock` s, and a zero-initialised 1x1 output (an
    untrained network adds nothing)."""
    first = nn.Conv1d(in_channels, channels, 1)  # created in this order: seeded inits stay as they were
    blocks = nn.Sequential(*(DilatedResidualBlock(channels, kernel_size, d) for d in dilations))
    output = nn.Conv1d(channels, out_channels, 1)
    nn.init.zeros_(output.weight)
    nn.init.zeros_(output.bias)
    return first, blocks, output


def compressed_spectrum_features(spec: torch.Tensor, compression: float,
                                 floor: float = 1e-9) -> tuple[torch.Tensor, torch.Tensor]:
    """Complex ``(B, T, bins)`` -> (the power-law compressed spectrum ``|X|^c e^{j angle X}``,
    features ``(B, 3 * bins, T)``: its real part, imaginary part and magnitude per bin)."""
    magnitude = spec.abs().clamp_min(floor)
    level = magnitude.pow(compression)
    compressed = spec * (level / magnitude)
    return compressed, torch.cat([compressed.real, compressed.imag, level], dim=-1).transpose(1, 2)
