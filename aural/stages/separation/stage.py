"""SeparationStage: a speech recording into ``voice`` and ``background`` stems.

A learned voice mask (:mod:`aural.stages.separation.model`: a real mel mask, or a complex mask
per bin) on a streamed STFT at 16 kHz: ``voice = strength * mask * input + (1 - strength) * input`` (STFT, mask, inverse STFT, overlap
-add), and ``background`` is the input, delayed by the stage's latency, minus the voice, so the
stems add up to the input within float error whatever the network predicts. Stereo stays
linked: one mask, computed on the channel mean, applies to every channel.

``deepfilter_share`` (extra ``deepfilter``) blends DeepFilterNet3's output into the voice
estimate: ``voice = (1 - share) * network voice + share * DeepFilterNet3 voice`` (each with
``strength``), DeepFilterNet3 run at 48 kHz on each channel (its share is not linked across
channels) and aligned inside the network's latency (:mod:`aural.stages.separation.deepfilter_voice`).
The two err differently, so the blend separates better than either.

At other rates the pipeline runs the stage at 16 kHz: in a faster stream the band above 8 kHz
goes to the voice scaled by the mask's gain on the voice's top octave (4-8 kHz, every 10 ms),
the rest of it to the background; in a slower one (8 kHz) the voice comes back at the stream
rate and the background is again the input minus the voice (see :mod:`aural.pipeline`).
:func:`separate` does that for a whole Signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage

if TYPE_CHECKING:
    import torch
    from torch import nn

    from aural.signal import Signal
    from aural.stages.separation.deepfilter_voice import DeepFilterVoice
    from aural.stems import Stems

SAMPLE_RATE = 16000
STEMS = ("voice", "background")
MODEL_BATCH = 16  # windows per network call (bounds memory on long blocks)


@dataclass(frozen=True)
class SeparationParams:
    strength: float = param(1.0, help="0: the voice stem is the whole input (background silent); "
                                      "1: the separated voice", min=0.0, max=1.0)
    deepfilter_share: float = param(0.0, help="share of DeepFilterNet3's denoised input in the voice estimate, "
                                              "blended with the network's (needs the extra deepfilter; "
                                              "DeepFilterNet3 runs on each channel); 0: the network alone",
                                    min=0.0, max=1.0)


@register_stage
class SeparationStage(LearnedStage):
    """Separate the voice from its background (noise, ambience, music) with a learned mask.

    Outputs the stems ``voice`` and ``background``; ``background`` is the input minus ``voice``
    (time-aligned), so the stems add up to the input. One mask for all channels (computed on
    their mean), so the stereo image of each stem stays where it was. ``strength`` blends the
    separated voice with the whole input. At 16 kHz; in a faster pipeline the band above 8 kHz
    goes to the voice scaled by the mask's gain on 4-8 kHz, the rest to the background.
    """

    name = "separation"
    summary = "Learned voice / background separation into stems (a learned voice mask on the STFT)."
    Params = SeparationParams
    contract = IOContract(output="stems", stems=STEMS, sample_rate=SAMPLE_RATE, keep_high_band=True)
    model_module = "aural.stages.separation.model"
    task_module = "aural.stages.separation.task"

    @classmethod
    def unavailable_with(cls, params: Any) -> str | None:
        if params.deepfilter_share == 0.0:
            return None
        from aural.stages.deepfilter import DeepFilterStage

        runs_here, reason = DeepFilterStage.available()
        return None if runs_here else f"deepfilter_share needs DeepFilterNet3: {reason}"

    def __init__(self, params: Any = None, *, weights: str | None = "default", model: nn.Module | None = None,
                 **param_values: Any):
        from aural.nn.streaming import spectral_stream

        super().__init__(params, **param_values)
        self.model = self._resolve_model(weights, model)
        self._transform, self._engine = spectral_stream(self._mask_linked, self.model.config,
                                                        strength=self.params.strength, max_batch=1 << 30)
        self._deepfilter: DeepFilterVoice | None = None
        if self.params.deepfilter_share > 0.0:
            from aural.stages.separation.deepfilter_voice import DeepFilterVoice

            self._deepfilter = DeepFilterVoice(SAMPLE_RATE)  # without the extra: the error naming it, now

    def _mask_linked(self, windows: torch.Tensor) -> torch.Tensor:
        """``(rows * chunks, frames, bins)`` windows, row 0 the channel mean (when there are
        several channels): every row masked by the mask of row 0."""
        import torch

        rows = self._rows
        shaped = windows.reshape(rows, -1, *windows.shape[1:])
        gains = torch.cat([self.model.gains(part) for part in shaped[0].split(MODEL_BATCH)])
        return (shaped * gains).reshape(windows.shape)

    def reset(self) -> None:
        import torch

        channels = self.num_channels or 1
        self._rows = channels + 1 if channels > 1 else channels
        self._engine.reset(self._rows)
        self._transform.reset(self._rows)
        self._delay = torch.zeros(channels, self.latency_samples)
        if self._deepfilter is not None:
            self._deepfilter.reset(channels, self.latency_samples)

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        import torch

        if self.num_channels is None:
            raise RuntimeError(f"{self.name}: call configure() before process_block()")
        audio = audio.to(torch.float32)
        rows = torch.cat([audio.mean(dim=0, keepdim=True), audio]) if self._rows > audio.shape[0] else audio
        if self._deepfilter is not None:
            self._deepfilter.push(audio)
        return self._stems(self._engine.push(rows)[self._rows - audio.shape[0]:], audio)

    def flush(self) -> torch.Tensor:
        import torch

        channels = self.num_channels or 1
        tail = torch.zeros(channels, self.latency_samples)
        if self._deepfilter is not None:
            self._deepfilter.push(tail)
        return self._stems(self._engine.finish()[self._rows - channels:], tail)

    def _stems(self, voice: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """``(2, channels, n)``: the voice, and the input (delayed as the voice is) minus it."""
        import torch

        joined = torch.cat([self._delay, audio], dim=1)
        delayed, self._delay = joined[:, :audio.shape[1]], joined[:, audio.shape[1]:]
        if self._deepfilter is not None:
            share, strength = self.params.deepfilter_share, self.params.strength
            denoised = delayed + strength * (self._deepfilter.take(audio.shape[1]) - delayed)
            voice = (1.0 - share) * voice + share * denoised
        return torch.stack([voice, delayed - voice])


def separate(signal: Signal, *, weights: str | None = "default", model: nn.Module | None = None,
             strength: float = 1.0, deepfilter_share: float = 0.0) -> Stems:
    """``signal`` (any rate, any channels) split into Stems ``voice`` and ``background`` at its
    own rate and length, adding up to it; ``model`` (e.g. ``build_model()`` or a trained one)
    instead of ``weights`` (a preset name or a .safetensors path)."""
    from aural.config import PipelineSpec, StageSpec
    from aural.pipeline import Pipeline

    stage = SeparationStage(weights=weights, model=model, strength=strength, deepfilter_share=deepfilter_share)
    spec = PipelineSpec(name="separate", stages=(StageSpec(stage.name, stage.params, weights),))
    return Pipeline(spec, [stage]).process(signal)
