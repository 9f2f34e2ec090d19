"""SeparationStage: a speech recording into ``voice`` and ``background`` stems.

A learned voice mask (:mod:`aural.stages.separation.model`: a real mel mask, or a complex mask
per bin) on a streamed STFT at 16 kHz: ``voice = strength * mask * input + (1 - strength) * input`` (STFT, mask, inverse STFT, overlap
-add), and ``background`` is the input, delayed by the stage's latency, minus the voice, so the
stems add up to the input within float error whatever the network predicts. Stereo stays
linked: one mask, computed on the channel mean, applies to every channel.

``deepfilter_share`` (extra ``deepfilter``) blends DeepFilterNet3's output into the voice
estimate: ``voice = (1 - share) * network voice + share * DeepFilterNet3 voice``, DeepFilterNet3
run at 48 kHz on each channel (its share is not linked across channels) and aligned inside the
network's latency (:mod:`aural.stages.separation.deepfilter_voice`). The two err differently, so
the blend separates better than either. With ``deepfilter_fusion`` a small learned network
(:mod:`aural.stages.separation.fusion`, weights preset ``fusion``) chooses between the two per
STFT bin, and ``share`` weighs that fused estimate against the network's instead; it streams
after the blend on its own STFT and adds its latency. ``strength`` applies to the final estimate.
With DeepFilterNet3 in the blend the stage has an analysis pass: the input's loudness sets the
``deepfilter`` stage's ``quiet_input_lufs`` gain (quiet band-limited speech would be erased).

At other rates the pipeline runs the stage at 16 kHz: in a faster stream the band above 8 kHz
goes to the voice scaled by the mask's gain on the voice's top octave (4-8 kHz, every 10 ms),
the rest of it to the background; in a slower one (8 kHz) the voice comes back at the stream
rate and the background is again the input minus the voice (see :mod:`aural.pipeline`).
:func:`separate` does that for a whole Signal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import ParamError, param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage

if TYPE_CHECKING:
    import torch
    from torch import nn

    from aural.signal import Signal
    from aural.stages.separation.deepfilter_voice import DeepFilterVoice
    from aural.stages.separation.fusion import FusedVoice
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
    deepfilter_fusion: bool = param(False, help="with deepfilter_share > 0: a small learned network picks "
                                                "between DeepFilterNet3's and the network's voice per "
                                                "time-frequency bin, and deepfilter_share weighs that fused "
                                                "estimate against the network's (1: the fused estimate alone)")

    def __post_init__(self) -> None:
        if self.deepfilter_fusion and self.deepfilter_share == 0.0:
            raise ParamError("deepfilter_fusion", "deepfilter_fusion fuses DeepFilterNet3's voice in: "
                                                  "set deepfilter_share too (1: the fused estimate alone)")


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
                 fusion: nn.Module | None = None, **param_values: Any):
        """``fusion``: a :class:`~aural.stages.separation.fusion.VoiceFusion` instead of the
        preset ``fusion`` (with ``deepfilter_fusion``)."""
        from aural.nn.streaming import spectral_stream

        from aural.stages.separation.fusion import VoiceFusion

        super().__init__(params, **param_values)
        self.model = self._resolve_model(weights, model)
        if isinstance(self.model, VoiceFusion):
            from aural.errors import WeightsError

            raise WeightsError(f"{self.name}: weights {weights!r} are a VoiceFusion (what deepfilter_fusion runs), "
                               "not a voice network")
        self._transform, self._engine = spectral_stream(self._mask_linked, self.model.config, strength=1.0,
                                                        max_batch=1 << 30)
        self._gains = self.model.gains
        if hasattr(self.model, "inference_power_gains"):  # the MelUNet: onnxruntime where it can
            from functools import partial

            from aural.nn.streaming import chunk_window_frames

            power_gains = self.model.inference_power_gains(chunk_window_frames(self.model.config), self._weights_key())
            self.inference_engine = getattr(power_gains, "engine", "torch")
            self._gains = partial(self.model.gains, power_gains=power_gains)
        self._deepfilter: DeepFilterVoice | None = None
        self._fusion: FusedVoice | None = None
        if self.params.deepfilter_share > 0.0:
            from aural.stages.separation.deepfilter_voice import DeepFilterVoice

            self._deepfilter = DeepFilterVoice(SAMPLE_RATE)  # without the extra: the error naming it, now
            if self.params.deepfilter_fusion:
                from aural.stages.separation.fusion import FusedVoice

                self._fusion = FusedVoice(fusion, share=self.params.deepfilter_share)

    @property
    def latency_samples(self) -> int:
        return self._engine.latency_samples + (self._fusion.latency_samples if self._fusion else 0)

    @property  # type: ignore[override]  # (a class constant elsewhere; here it depends on the params)
    def needs_analysis(self) -> bool:
        """With DeepFilterNet3 in the blend: its input's loudness (``deepfilter``'s ``quiet_input_lufs``)."""
        return self._deepfilter is not None

    def analyze_block(self, audio: torch.Tensor) -> None:
        if self._deepfilter is not None:
            self._deepfilter.analyze(audio)

    def finish_analysis(self) -> bool:
        if self._deepfilter is not None:
            self._deepfilter.finish_analysis()
        return False

    def describe(self) -> dict[str, Any]:
        """What the history records; with DeepFilterNet3, its level gain, and with the fusion,
        the fusion's weights and engine."""
        if self._deepfilter is None:
            return super().describe()
        described = {**super().describe(), "deepfilter_level_gain_db": self._deepfilter.level_gain_db}
        if self._fusion is not None:
            described["fusion"] = {**self._fusion.weights_info, "engine": self._fusion.inference_engine}
        return described

    def _mask_linked(self, windows: torch.Tensor) -> torch.Tensor:
        """``(rows * chunks, frames, bins)`` windows, row 0 the channel mean (when there are
        several channels): every row masked by the mask of row 0."""
        import torch

        rows = self._rows
        shaped = windows.reshape(rows, -1, *windows.shape[1:])
        gains = torch.cat([self._gains(part) for part in shaped[0].split(MODEL_BATCH)])
        return (shaped * gains).reshape(windows.shape)

    def reset(self) -> None:
        from aural.nn.streaming import DelayLine

        channels = self.num_channels or 1
        self._rows = channels + 1 if channels > 1 else channels
        self._engine.reset(self._rows)
        self._transform.reset(self._rows)
        self._delay = DelayLine(channels, self._engine.latency_samples)
        if self._deepfilter is not None:
            self._deepfilter.reset(channels, self._engine.latency_samples)
        if self._fusion is not None:
            self._fusion.reset(channels)

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

        from aural.stems import estimate_and_rest

        channels = self.num_channels or 1
        tail = torch.zeros(channels, self._engine.latency_samples)
        if self._deepfilter is not None:
            self._deepfilter.push(tail)
        stems = self._stems(self._engine.finish()[self._rows - channels:], tail)
        if self._fusion is None:
            return stems
        return torch.cat([stems, estimate_and_rest(*self._fusion.finish(), self.params.strength)], dim=-1)

    def _stems(self, voice: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """``(2, channels, n)`` from the network's next voice estimate and the next input."""
        from aural.stems import estimate_and_rest

        delayed = self._delay(audio)
        if self._deepfilter is not None:
            denoised = self._deepfilter.take(audio.shape[1])
            if self._fusion is not None:
                voice, delayed = self._fusion.push(delayed, voice, denoised)
            else:
                voice = voice + self.params.deepfilter_share * (denoised - voice)
        return estimate_and_rest(voice, delayed, self.params.strength)


def separate(signal: Signal, *, weights: str | None = "default", model: nn.Module | None = None,
             strength: float = 1.0, deepfilter_share: float = 0.0, deepfilter_fusion: bool = False) -> Stems:
    """``signal`` (any rate, any channels) split into Stems ``voice`` and ``background`` at its
    own rate and length, adding up to it; ``model`` (e.g. ``build_model()`` or a trained one)
    instead of ``weights`` (a preset name or a .safetensors path)."""
    from aural.config import PipelineSpec, StageSpec
    from aural.pipeline import Pipeline

    stage = SeparationStage(weights=weights, model=model, strength=strength, deepfilter_share=deepfilter_share,
                            deepfilter_fusion=deepfilter_fusion)
    spec = PipelineSpec(name="separate", stages=(StageSpec(stage.name, stage.params, weights),))
    return Pipeline(spec, [stage]).process(signal)
