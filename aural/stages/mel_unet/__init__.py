"""The ``mel_unet`` stage: two-pass mel-spectrogram U-Net gains on the STFT."""

from __future__ import annotations

from aural.stages.mel_unet.stage import MelUNetParams, MelUNetStage

__all__ = ["MelUNetParams", "MelUNetStage"]
