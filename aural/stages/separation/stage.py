"""SeparationStage: the voice of a speech recording, by a learned mask on a streamed STFT.

Provisional form: the stage outputs the ``voice`` stem as a signal. With :class:`Stems`
(issue 12) it outputs ``voice`` and ``background`` (= input - voice).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, LearnedStage

if TYPE_CHECKING:
    from torch import nn

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class SeparationParams:
    strength: float = param(1.0, help="0: the voice stem is the whole input; 1: the separated voice",
                            min=0.0, max=1.0)


@register_stage
class SeparationStage(LearnedStage):
    """Separate the voice from its background (noise, ambience, music) with a learned mask."""

    name = "separation"
    summary = "Learned voice / background separation (mel U-Net voice mask on the STFT)."
    Params = SeparationParams
    contract = IOContract(sample_rate=SAMPLE_RATE, keep_high_band=True)
    model_module = "aural.stages.separation.model"
    task_module = "aural.stages.separation.task"

    def __init__(self, params: Any = None, *, weights: str | None = "default", model: nn.Module | None = None,
                 **param_values: Any):
        from aural.nn.streaming import spectral_stream

        super().__init__(params, **param_values)
        self.model = self._resolve_model(weights, model)
        self._transform, self._engine = spectral_stream(lambda spec: spec * self.model.gains(spec), self.model.config,
                                                        strength=self.params.strength)
