"""A small 2-D U-Net over (time, frequency) maps."""

from __future__ import annotations

import torch
from torch import nn

from aural.nn.blocks import ConvBlock2d


class UNet2d(nn.Module):
    """``(batch, in_channels, time, freq)`` -> ``(batch, out_channels, time, freq)``.

    Each encoder level is a :class:`ConvBlock2d` followed by a stride-2 convolution (time and
    frequency halve); the decoder upsamples with transposed convolutions and concatenates the
    encoder features of the same scale (skip connections). Inputs whose sides are not
    multiples of ``2 ** len(channels)`` are zero-padded and the output cropped back.
    """

    def __init__(self, in_channels: int, out_channels: int, channels: tuple[int, ...] = (8, 16, 32, 64),
                 bottleneck_channels: int = 96, activation: str = "gelu"):
        super().__init__()
        self.depth = len(channels)
        self.encoder = nn.ModuleList()
        self.down = nn.ModuleList()
        previous = in_channels
        for width in channels:
            self.encoder.append(ConvBlock2d(previous, width, activation=activation))
            self.down.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
            previous = width
        self.bottleneck = ConvBlock2d(previous, bottleneck_channels, activation=activation)
        self.up = nn.ModuleList()
        self.decoder = nn.ModuleList()
        previous = bottleneck_channels
        for width in reversed(channels):
            self.up.append(nn.ConvTranspose2d(previous, width, 2, stride=2))
            self.decoder.append(ConvBlock2d(2 * width, width, activation=activation))
            previous = width
        self.head = nn.Conv2d(previous, out_channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time, freq = x.shape[-2:]
        multiple = 2 ** self.depth
        pad_time, pad_freq = -time % multiple, -freq % multiple
        if pad_time or pad_freq:
            x = nn.functional.pad(x, (0, pad_freq, 0, pad_time))
        skips = []
        for block, down in zip(self.encoder, self.down):
            x = block(x)
            skips.append(x)
            x = down(x)
        x = self.bottleneck(x)
        for up, block, skip in zip(self.up, self.decoder, reversed(skips)):
            x = block(torch.cat([up(x), skip], dim=1))
        return self.head(x)[..., :time, :freq]
