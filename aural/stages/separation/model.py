"""The voice network of ``separation``: a :class:`~aural.stages.mel_unet.model.MelUNet` whose
gains are a voice mask in [0, 1].

Separation reuses the two-pass mel U-Net of ``mel_unet`` (its weights are a good start: both
learn what speech is), configured as a mask: ``max_gain`` 1 (the voice is a part of the
mixture, never louder than it) and no post-filter (it trades the background's integrity for a
quieter voice stem). The background stem is the input minus the voice, so the stems add up
to the input whatever the network predicts.
"""

from __future__ import annotations

from typing import Any, Mapping

from aural.stages.mel_unet.model import MelUNet, MelUNetConfig

SAMPLE_RATE = 16000
DEFAULT_CONFIG = {"sample_rate": SAMPLE_RATE, "n_mels": 128, "max_gain": 1.0, "post_filter_beta": 0.0}


def build_model(config: Mapping[str, Any] | None = None) -> MelUNet:
    """The model factory: a voice-mask :class:`MelUNet` from its JSON config."""
    return MelUNet(MelUNetConfig.from_dict({**DEFAULT_CONFIG, **(config or {})}))
