"""The voice networks of ``separation``, chosen by the ``network`` key of the model config.

- absent (or ``mel_unet``): a :class:`~aural.stages.mel_unet.model.MelUNet` whose gains are a
  voice mask in [0, 1] (the shipped weights). Separation reuses the two-pass mel U-Net of
  ``mel_unet`` (its weights are a good start: both learn what speech is), configured as a mask:
  ``max_gain`` 1 (the voice is a part of the mixture, never louder than it) and no post-filter
  (it trades the background's integrity for a quieter voice stem).
- ``complex_mask``: a :class:`~aural.stages.separation.complex_mask.ComplexMaskNet`, a bounded
  complex mask per STFT bin (it changes phase, which a real mask cannot: see its module).
- ``voice_fusion``: not a voice network but the :class:`~aural.stages.separation.fusion.VoiceFusion`
  that ``deepfilter_fusion`` runs after one (trained and exported as a ``separation`` preset, ``fusion``).

Either way the stage multiplies the STFT by ``model.gains(spec)`` (real or complex) and the
background stem is the input minus the voice, so the stems add up to the input whatever the
network predicts.
"""

from __future__ import annotations

from typing import Any, Mapping

from torch import nn

SAMPLE_RATE = 16000
DEFAULT_CONFIG = {"sample_rate": SAMPLE_RATE, "n_mels": 128, "max_gain": 1.0, "post_filter_beta": 0.0}
NETWORKS = ("mel_unet", "complex_mask", "voice_fusion")


def build_model(config: Mapping[str, Any] | None = None) -> nn.Module:
    """The model factory: the network its JSON config names (``network``; default the MelUNet)."""
    config = dict(config or {})
    network = config.get("network", "mel_unet")
    if network == "complex_mask":
        from aural.stages.separation.complex_mask import build_complex_mask

        return build_complex_mask({"sample_rate": SAMPLE_RATE, **config})
    if network == "voice_fusion":
        from aural.stages.separation.fusion import build_fusion

        return build_fusion(config)
    if network != "mel_unet":
        raise ValueError(f"unknown separation network {network!r}; known: {', '.join(NETWORKS)}")
    from aural.stages.mel_unet.model import MelUNet, MelUNetConfig

    config.pop("network", None)
    return MelUNet(MelUNetConfig.from_dict({**DEFAULT_CONFIG, **config}))
