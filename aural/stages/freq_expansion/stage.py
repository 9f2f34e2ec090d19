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

With ``regenerate_above_hz`` an analysis pass first measures how much of the input is full band
(:class:`~aural.stages.freq_expansion.cutoff.FullBandShare`); an input under ``full_band_share``
has its band above that frequency dropped and generated anew, as if it had been cut off there:
a phone's or laptop's top band carries its mic, codec and room, which the prediction from the
cleaned band below does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage

if TYPE_CHECKING:  # the network loads with the stage: importing this module stays cheap
    import torch
    from torch import nn

SAMPLE_RATE = 48000
SPEECH_BAND_HZ = 8000.0


@dataclass(frozen=True)
class FreqExpansionParams:
    strength: float = param(1.0, help="level of the generated band: 0 adds nothing, 1 the full prediction",
                            min=0.0, max=1.0)
    strength_below_8khz: float = param(1.0, help="level of the band generated below 8 kHz, relative to strength",
                                       min=0.0, max=1.0)
    regenerate_above_hz: float | None = param(
        None, unit="Hz", min=4000.0, max=16000.0,
        help="unless the input is full band, what lies above this is dropped and generated anew from the band "
             "below (a phone's or laptop's top band, coloured by its mic, codec and room, is further from a "
             "studio's than the prediction); an analysis pass decides per input; null: off")
    full_band_share: float = param(0.7, min=0.0, max=1.0,
                                   help="with regenerate_above_hz: an input counts as full band (its top band is "
                                        "kept) when at least this share of its frames holds content up to "
                                        "19.5 kHz")


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
        from aural.stages.freq_expansion.cutoff import FullBandShare

        super().__init__(params, **param_values)
        self.model = self._resolve_model(weights, model)
        self._band_weight = speech_band_weight(self.model.config, self.params.strength_below_8khz)
        self._transform, self._engine = spectral_stream(self._expand, self.model.config, strength=self.params.strength,
                                                        track=self.model.cutoff_tracker())
        config = self.model.config
        self._full_band = None if self.params.regenerate_above_hz is None else \
            FullBandShare(config.sample_rate, config.n_fft, config.hop_length, config.cutoff)
        self.input_full_band_share: float | None = None
        self._regenerate_bin: int | None = None

    @property  # type: ignore[override]  # (a class constant elsewhere; here it depends on the params)
    def needs_analysis(self) -> bool:
        """With ``regenerate_above_hz``: whether the input is full band."""
        return self._full_band is not None

    def reset(self) -> None:
        super().reset()
        self.input_full_band_share = None
        self._regenerate_bin = None
        if self._full_band is not None:
            self._full_band.reset()

    def analyze_block(self, audio: torch.Tensor) -> None:
        if self._full_band is not None:
            self._full_band.push(audio)

    def finish_analysis(self) -> bool:
        if self._full_band is not None:
            self.input_full_band_share = share = self._full_band.share
            if share is not None and share < self.params.full_band_share:
                config = self.model.config
                self._regenerate_bin = round(self.params.regenerate_above_hz * config.n_fft / config.sample_rate)
        return False

    def describe(self) -> dict[str, Any]:
        if self._full_band is None:
            return super().describe()
        regenerated = self._regenerate_bin is not None
        return {**super().describe(), "input_full_band_share": self.input_full_band_share,
                "regenerated_above_hz": self.params.regenerate_above_hz if regenerated else None}

    def _expand(self, spec: Any, cutoff: Any) -> Any:
        if self._regenerate_bin is not None:  # the top band goes, and the cutoff is at most its edge
            spec = spec.clone()
            spec[..., self._regenerate_bin:] = 0
            cutoff = cutoff.clamp(max=self._regenerate_bin)
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
