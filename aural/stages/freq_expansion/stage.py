"""FreqExpansionStage: bandwidth extension to 48 kHz with :class:`BandwidthExtender`.

The stage runs at 48 kHz (the pipeline resamples 8-44.1 kHz input up to it; soxr leaves the
band above the old Nyquist empty, and the cutoff tracker finds that edge like any other).
STFT frames (periodic Hann, ``n_fft`` 1024, hop 256) are computed as audio arrives; the
causal cutoff tracker sees every frame once, in order, and the network expands chunks of
``chunk_frames`` with ``context_frames`` of real context each side, so the output does not
depend on how the input is split into blocks and memory stays bounded. Channels share one
cutoff track. ``strength`` scales the generated band only (0: the input unchanged);
``strength_below_8khz`` scales, on top of it, the part generated below 8 kHz: that is the band
a call (4-5.5 kHz) lacks and wideband speech metrics and listeners weigh most, where a
prediction that sounds too loud or too bright after a denoiser costs more than elsewhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage

if TYPE_CHECKING:  # the network loads with the stage: importing this module stays cheap
    from torch import nn

SAMPLE_RATE = 48000
SPEECH_BAND_HZ = 8000.0


@dataclass(frozen=True)
class FreqExpansionParams:
    strength: float = param(1.0, help="level of the generated band: 0 adds nothing, 1 the full prediction",
                            min=0.0, max=1.0)
    strength_below_8khz: float = param(1.0, help="level of the band generated below 8 kHz, relative to strength",
                                       min=0.0, max=1.0)


@register_stage
class FreqExpansionStage(LearnedStage):
    """Generate the band a phone, codec or resampler removed, up to 24 kHz; keep the rest."""

    name = "freq_expansion"
    summary = "Learned bandwidth extension to 48 kHz: finds the content's cutoff, adds the missing band."
    Params = FreqExpansionParams
    contract = IOContract(sample_rate=SAMPLE_RATE, output_at_native_rate=True)
    model_module = "aural.stages.freq_expansion.model"
    task_module = "aural.stages.freq_expansion.task"

    def __init__(self, params: Any = None, *, weights: str | None = "default", model: nn.Module | None = None,
                 **param_values: Any):
        from aural.nn.streaming import spectral_stream

        super().__init__(params, **param_values)
        self.model = self._resolve_model(weights, model)
        self._band_weight = speech_band_weight(self.model.config, self.params.strength_below_8khz)
        self._transform, self._engine = spectral_stream(self._expand, self.model.config, strength=self.params.strength,
                                                        track=self.model.cutoff_tracker())

    def _expand(self, spec: Any, cutoff: Any) -> Any:
        expanded = self.model.expand(spec, cutoff)[0]
        if self._band_weight is None:
            return expanded
        return spec + self._band_weight.to(spec.device, spec.real.dtype) * (expanded - spec)


def speech_band_weight(config: Any, strength_below_8khz: float) -> Any:
    """Per-STFT-bin factor on the generated band: ``strength_below_8khz`` below 8 kHz, 1 above
    (None when it is 1 everywhere)."""
    if strength_below_8khz == 1.0:
        return None
    import torch

    frequencies = torch.arange(config.n_fft // 2 + 1) * (config.sample_rate / config.n_fft)
    return torch.where(frequencies < SPEECH_BAND_HZ, strength_below_8khz, 1.0)
