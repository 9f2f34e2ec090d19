"""The ``dehum`` stage: find mains hum (50 or 60 Hz and harmonics) and subtract it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, Stage

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DehumParams:
    mains: str = param("auto", choices=("auto", "50", "60"),
                       help="mains frequency of the hum: auto finds 50 or 60 Hz in the recording")
    max_freq_hz: float = param(1500.0, unit="Hz", min=100.0, max=1800.0,
                               help="highest hum harmonic modelled")
    min_prominence_db: float = param(10.0, unit="dB", min=3.0, max=40.0,
                                     help="how far a hum line must stand out of the spectrum around it "
                                          "(lower finds fainter hum, and risks taking a steady note for it)")
    strength: float = param(1.0, min=0.0, max=1.0, help="share of the modelled hum removed (0 = off)")


@register_stage
class DehumStage(Stage):
    """Removes mains hum by modelling its line spectrum and subtracting it (see aural.dsp.hum).

    A first pass finds the hum: 50 or 60 Hz lines, their drift and their phase, tracked over
    time with the pauses between words weighing most. The second pass subtracts the model, from
    the first sample to the last; nothing else is filtered, and a recording without hum passes
    unchanged, bit for bit.
    """

    name = "dehum"
    summary = "Mains hum removal: tracks the 50/60 Hz line spectrum and subtracts it."
    Params = DehumParams
    contract = IOContract(follows_stream_rate=True)
    needs_analysis = True

    def reset(self) -> None:
        from aural.dsp.hum import HumAnalyzer

        p = self.params
        self._analyzer = HumAnalyzer(self.sample_rate, self.num_channels or 1, mains=p.mains,
                                     max_freq_hz=p.max_freq_hz, min_prominence_db=p.min_prominence_db)
        self._canceller = None
        self.hum_windows = 0
        self._analysed_samples = 0

    def analyze_block(self, audio: torch.Tensor) -> None:
        self._analysed_samples += audio.shape[-1]
        self._analyzer.push(audio.double().numpy())

    def finish_analysis(self) -> bool:
        from aural.dsp.hum import HumCanceller

        windows = self._analyzer.finish()
        self.hum_windows = sum(window is not None for window in windows)
        self._canceller = HumCanceller(windows, self.sample_rate, self.params.strength)
        return False

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        import torch

        if self._canceller is None:
            raise RuntimeError("dehum: the analysis pass must run before process_block()")
        if not self._canceller.active or self.params.strength == 0.0:
            return audio.clone()
        return torch.from_numpy(self._canceller.process(audio.double().numpy())).to(audio.dtype)

    def describe(self) -> dict[str, Any]:
        from aural.dsp.hum import HOP_S

        duration_s = self._analysed_samples / self.sample_rate if self.sample_rate else 0.0
        return {**super().describe(), "hum_s": min(self.hum_windows * HOP_S, duration_s)}  # windows overhang the end
