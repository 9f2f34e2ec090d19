"""MelUNetStage: :class:`MelUNet` gains on a streamed STFT, noisy phase kept.

The STFT (periodic Hann, ``n_fft`` 512, hop 128 at 16 kHz) is computed frame by frame as
audio arrives. Frames are masked in chunks of ``chunk_frames`` with ``context_frames`` of
real context on each side (zeros before the start), so memory stays bounded and the output
does not depend on how the input is split into blocks. Inverse: Hann-windowed overlap-add
normalised by the summed squared window. Latency: ``n_fft - 1 + (chunk + context - 1) * hop``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage

if TYPE_CHECKING:  # the network loads with the stage: importing this module stays cheap
    from torch import nn

SAMPLE_RATE = 16000


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

        from aural.nn.speech_presence import PauseGate, SpeechPresence
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
        if self.params.attenuation_limit_db is not None:
            power_gains = floored(power_gains, 10 ** (-self.params.attenuation_limit_db / 20))
        self._transform, self._engine = spectral_stream(partial(self.model.enhanced_spectrum, power_gains=power_gains),
                                                        self.model.config, strength=self.params.strength,
                                                        pause_gate=pause_gate)


def floored(gains: Any, floor: float) -> Any:
    """``gains`` (a function returning gains) with every gain at least ``floor``."""
    return lambda power: gains(power).clamp_min(floor)
