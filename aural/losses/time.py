"""Waveform losses: L1, MSE, negative SNR and negative scale-invariant SDR."""

from __future__ import annotations

import torch
from torch import nn

from aural.losses import LOSSES


@LOSSES.register("l1")
class L1Loss(nn.Module):
    """Mean absolute sample error."""

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (estimate - target).abs().mean()


@LOSSES.register("mse")
class MSELoss(nn.Module):
    """Mean squared sample error."""

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (estimate - target).pow(2).mean()


def si_sdr(estimate: torch.Tensor, target: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale-invariant SDR in dB over the last axis (zero-mean signals), one value per row."""
    estimate = estimate - estimate.mean(dim=-1, keepdim=True)
    target = target - target.mean(dim=-1, keepdim=True)
    scale = (estimate * target).sum(-1, keepdim=True) / (target.pow(2).sum(-1, keepdim=True) + eps)
    projection = scale * target
    noise = estimate - projection
    ratio = (projection.pow(2).sum(-1) + eps) / (noise.pow(2).sum(-1) + eps)
    return 10.0 * torch.log10(ratio)


@LOSSES.register("si_sdr")
class SISDRLoss(nn.Module):
    """Negative SI-SDR in dB, averaged over items and channels."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return -si_sdr(estimate, target, self.eps).mean()


@LOSSES.register("snr")
class SNRLoss(nn.Module):
    """Negative SNR in dB of the estimate against the target, averaged over items and channels.

    Unlike ``si_sdr`` it counts a wrong level as error: a separated stem must keep its level,
    since the other stem is what the mixture leaves (``background = mixture - voice``)."""

    def __init__(self, eps: float = 1e-8):
        super().__init__()
        self.eps = eps

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        signal = target.pow(2).sum(-1) + self.eps
        error = (estimate - target).pow(2).sum(-1) + self.eps
        return -(10.0 * torch.log10(signal / error)).mean()
