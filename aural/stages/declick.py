"""The ``declick`` stage: impulsive clicks found by AR prediction and rebuilt (see aural.dsp.clicks)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, Stage

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DeclickParams:
    threshold: float = param(12.0, min=4.0, max=100.0,
                             help="how unpredictable (in robust spreads of the prediction error) a click must be; "
                                  "lower finds fainter clicks and risks touching consonants")
    max_click_ms: float = param(3.0, unit="ms", min=0.1, max=20.0,
                                help="longest stretch rebuilt as a click (its faint onset may add as much again); "
                                     "longer events are left alone")
    strength: float = param(1.0, min=0.0, max=1.0, help="share of each repair applied (0 = off)")


@register_stage
class DeclickStage(Stage):
    """Removes impulsive clicks (mouth clicks, crackle, digital glitches) per channel: each click
    is replaced by the samples an autoregressive model of its surroundings predicts. Everything
    else passes unchanged, delayed by ``latency_samples`` (33 ms with the default ``max_click_ms``,
    at any sample rate) and realigned."""

    name = "declick"
    summary = "Click removal: AR-prediction detection and least-squares AR interpolation."
    Params = DeclickParams
    contract = IOContract()

    def reset(self) -> None:
        from aural.dsp.clicks import ClickRepairer

        self._repairer = ClickRepairer(self.sample_rate or 48000, self.num_channels or 1,
                                       threshold=self.params.threshold, max_click_ms=self.params.max_click_ms,
                                       strength=self.params.strength)

    @property
    def latency_samples(self) -> int:
        return self._repairer.latency_samples

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.from_numpy(self._repairer.process(audio.double().numpy())).to(audio.dtype)

    @property
    def repaired_samples(self) -> int:
        """Samples rebuilt since the stage was configured."""
        return self._repairer.repaired_samples
