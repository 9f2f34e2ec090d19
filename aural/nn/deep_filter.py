"""Deep filtering of the low band (Schröter et al., DeepFilterNet, 2022).

A real gain per bin cannot separate a harmonic from the noise in the same bin, nor use the
phase relations between neighbouring frames. A deep filter gives every low bin a short
complex FIR filter across frames, ``out[t] = sum_k c[t, k] * x[t - order + 1 + lookahead + k]``,
with coefficients predicted per frame. :class:`DeepFilterHead` predicts them from the spectrum
a mask has already cleaned and starts as the identity filter (the current frame's tap is one,
every other tap zero), so a trained mask model grows one without changing its output.
"""

from __future__ import annotations

import torch
from torch import nn

from aural.nn.unet import UNet2d

LOG_FLOOR = 1e-8


def deep_filter(spec: torch.Tensor, coefs: torch.Tensor, lookahead: int) -> torch.Tensor:
    """Complex ``spec`` ``(batch, frames, bins)`` filtered by complex ``coefs``
    ``(batch, frames, bins, order)`` across frames: frame ``t`` takes frames ``t - order + 1 +
    lookahead`` to ``t + lookahead`` (zeros beyond the edges)."""
    order = coefs.shape[-1]
    if not 0 <= lookahead < order:
        raise ValueError(f"lookahead must be in [0, {order - 1}], got {lookahead}")
    parts = torch.view_as_real(spec)                       # (batch, frames, bins, 2)
    padded = nn.functional.pad(parts, (0, 0, 0, 0, order - 1 - lookahead, lookahead))
    taps = torch.view_as_complex(padded.unfold(1, order, 1).transpose(-1, -2).contiguous())
    return (taps * coefs).sum(dim=-1)


class DeepFilterHead(nn.Module):
    """Low-band deep filter: ``(noisy, masked)`` complex ``(batch, frames, bins)`` -> filtered
    ``masked`` of the same shape.

    A 2-D U-Net sees four maps of the low band: the log power of the masked and of the noisy
    spectrum, and the masked spectrum's real and imaginary parts normalised by the frame's
    RMS (so it sees phase at any level; frame by frame, so streamed chunks match whole files).
    Its output, through ``tanh``, is added to the identity filter.
    """

    def __init__(self, order: int = 5, lookahead: int = 1, channels: tuple[int, ...] = (8, 16, 32),
                 bottleneck_channels: int = 48, activation: str = "gelu"):
        super().__init__()
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        self.order = order
        self.lookahead = lookahead
        self.net = UNet2d(4, 2 * order, channels, bottleneck_channels, activation)
        nn.init.zeros_(self.net.head.weight)
        nn.init.zeros_(self.net.head.bias)
        identity = torch.zeros(order, dtype=torch.complex64)
        identity[order - 1 - lookahead] = 1.0
        self.register_buffer("identity", identity, persistent=False)

    def coefficients(self, noisy: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        """Complex ``(batch, frames, bins, order)`` filter taps."""
        masked_power = masked.real.pow(2) + masked.imag.pow(2)
        noisy_power = noisy.real.pow(2) + noisy.imag.pow(2)
        frame_rms = masked_power.mean(dim=-1, keepdim=True).add(LOG_FLOOR).sqrt()
        features = torch.stack([
            (torch.log10(masked_power + LOG_FLOOR) + 5.0) / 2.0,
            (torch.log10(noisy_power + LOG_FLOOR) + 5.0) / 2.0,
            masked.real / frame_rms,
            masked.imag / frame_rms,
        ], dim=1)                                           # (batch, 4, frames, bins)
        out = torch.tanh(self.net(features))                # (batch, 2 * order, frames, bins)
        real, imag = out[:, :self.order], out[:, self.order:]
        return torch.complex(real, imag).permute(0, 2, 3, 1) + self.identity

    def forward(self, noisy: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        return deep_filter(masked, self.coefficients(noisy, masked), self.lookahead)
