"""Channel-count conversion."""

from __future__ import annotations

import torch


def convert_channels(audio: torch.Tensor, num_channels: int) -> torch.Tensor:
    """Convert ``(channels, samples)`` audio to ``num_channels``.

    Down to mono averages the channels; up from mono copies the channel. Any other
    change has no single right answer and is refused.
    """
    have = audio.shape[0]
    if have == num_channels:
        return audio
    if num_channels == 1:
        return audio.mean(dim=0, keepdim=True)
    if have == 1:
        return audio.expand(num_channels, -1).clone()
    raise ValueError(f"cannot convert {have} channels to {num_channels}; only to or from mono")
