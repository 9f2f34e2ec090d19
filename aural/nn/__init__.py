"""Shared network blocks and streaming helpers for learned stages.

Models built from these know nothing of training or files: tensors in, tensors out.
"""

from __future__ import annotations

from aural.nn.blocks import ConvBlock1d, ConvBlock2d, make_activation
from aural.nn.spectral import hann_window, mel_filterbank, stft, stft_frames
from aural.nn.streaming import StreamingFrameProcessor
from aural.nn.unet import UNet2d

__all__ = [
    "ConvBlock1d", "ConvBlock2d", "StreamingFrameProcessor", "UNet2d", "hann_window",
    "make_activation", "mel_filterbank", "stft", "stft_frames",
]
