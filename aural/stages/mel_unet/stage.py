"""MelUNetStage: :class:`MelUNet` gains on a streamed STFT, noisy phase kept.

The STFT (periodic Hann, ``n_fft`` 512, hop 128 at 16 kHz) is computed frame by frame as
audio arrives. Frames are masked in chunks of ``chunk_frames`` with ``context_frames`` of
real context on each side (zeros before the start), so memory stays bounded and the output
does not depend on how the input is split into blocks. Inverse: Hann-windowed overlap-add
normalised by the summed squared window. Latency: ``n_fft - 1 + (chunk + context - 1) * hop``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage

if TYPE_CHECKING:  # the network loads with the stage: importing this module stays cheap
    import torch
    from torch import nn

SAMPLE_RATE = 16000
# Below this share of speech (Silero VAD's 32 ms chunks) an input holds none. Instrumental music reads
# 0-6 % (a few chunks of a melody taken for a voice), every speech recording measured 31 % or more
# (benchmarks/results/steady_inputs.md).
NO_SPEECH_SHARE = 0.10


@dataclass(frozen=True)
class MelUNetParams:
    strength: float = param(1.0, help="dry/wet mix: 0 returns the input unchanged, 1 the enhanced signal",
                            min=0.0, max=1.0)
    pause_attenuation_db: float = param(
        0.0, help="in pauses (no speech by Silero VAD) the input this far down instead of the network's output: "
                  "steady room tone in place of a fluttering residual; scaled by strength; 0: off", min=0.0, max=60.0)
    attenuation_limit_db: float | None = param(None, unit="dB", min=1.0, max=100.0,
                                               help="most the network lowers any STFT bin (its gains floored "
                                                    "there); null: no limit")
    pause_hold_ms: float = param(320.0, unit="ms", min=0.0, max=10000.0,
                                 help="with pause_attenuation_db: how long a pause (the file's start included) "
                                      "keeps the network's output before the gate closes")
    no_speech_limit_db: float | None = param(None, unit="dB", min=1.0, max=100.0,
                                             help="where Silero VAD finds speech in under 10 % of the input (noise "
                                                  "alone, a tone, instrumental music), the most the network lowers "
                                                  "any bin: a steady result, nothing gated (the input is read twice); "
                                                  "null: off")


@register_stage
class MelUNetStage(LearnedStage):
    """Denoise and enhance speech with two mel-spectrogram U-Nets predicting STFT gains."""

    name = "mel_unet"
    summary = "Learned two-pass (denoise, enhance) mel U-Net gains on the STFT, noisy phase kept."
    Params = MelUNetParams
    contract = IOContract(sample_rate=SAMPLE_RATE, keep_high_band=True)
    model_module = "aural.stages.mel_unet.model"
    task_module = "aural.stages.mel_unet.task"

    def __init__(self, params: Any = None, *, weights: str | None = "default", model: nn.Module | None = None,
                 **param_values: Any):
        from functools import partial

        from aural.nn.speech_presence import PauseGate, SpeechPresence, SpeechShare
        from aural.nn.streaming import chunk_window_frames, spectral_stream

        super().__init__(params, **param_values)
        self.model = self._resolve_model(weights, model)
        attenuation_db = self.params.pause_attenuation_db
        pause_gate = None
        if attenuation_db:
            presence = SpeechPresence(sample_rate=self.model.config.sample_rate, hold_ms=self.params.pause_hold_ms,
                                      speech_before_start=True)
            pause_gate = PauseGate(attenuation_db, presence=presence)
        power_gains = self.model.inference_power_gains(chunk_window_frames(self.model.config), self._weights_key())
        self.inference_engine = getattr(power_gains, "engine", "torch")
        self._speech_share = SpeechShare() if self.params.no_speech_limit_db is not None else None
        self._gain_floor = _gain_floor(self.params.attenuation_limit_db)
        if self.params.attenuation_limit_db is not None or self._speech_share is not None:
            power_gains = floored(power_gains, lambda: self._gain_floor)
        self._transform, self._engine = spectral_stream(partial(self.model.enhanced_spectrum, power_gains=power_gains),
                                                        self.model.config, strength=self.params.strength,
                                                        pause_gate=pause_gate)

    @property  # type: ignore[override]  # (a class constant elsewhere; here it depends on the params)
    def needs_analysis(self) -> bool:
        """With ``no_speech_limit_db``: how much of the input is speech."""
        return self._speech_share is not None

    def reset(self) -> None:
        super().reset()
        self._gain_floor = _gain_floor(self.params.attenuation_limit_db)
        self.speech_share: float | None = None
        if self._speech_share is not None:
            self._speech_share.reset()

    def analyze_block(self, audio: torch.Tensor) -> None:
        if self._speech_share is not None:
            self._speech_share.push(audio)

    def finish_analysis(self) -> bool:
        if self._speech_share is not None:
            self.speech_share = self._speech_share.share
            if self.speech_share is not None and self.speech_share < NO_SPEECH_SHARE:
                self._gain_floor = max(self._gain_floor, _gain_floor(self.params.no_speech_limit_db))
        return False

    def describe(self) -> dict[str, Any]:
        if self._speech_share is None:
            return super().describe()
        return {**super().describe(), "speech_share": getattr(self, "speech_share", None),
                "gain_floor_db": 20 * math.log10(self._gain_floor) if self._gain_floor > 0 else None}


def _gain_floor(limit_db: float | None) -> float:
    """The gain floor of an attenuation limit (0: none)."""
    return 0.0 if limit_db is None else 10 ** (-limit_db / 20)


def floored(gains: Any, floor: Callable[[], float]) -> Any:
    """``gains`` (a function returning gains) with every gain at least ``floor()`` (read at each call)."""
    return lambda power: gains(power).clamp_min(floor())
