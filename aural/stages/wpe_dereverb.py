"""The ``wpe_dereverb`` stage: late reverberation removed by weighted prediction error (see aural.dsp.wpe)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, Stage

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class WpeDereverbParams:
    filter_ms: float = param(480.0, unit="ms", min=16.0, max=1000.0,
                             help="span of the past each STFT bin's late reverberation is predicted from "
                                  "(longer reaches longer reverberation and costs more)")
    delay_ms: float = param(48.0, unit="ms", min=8.0, max=100.0,
                            help="direct sound and early reflections inside this delay are kept")
    iterations: int = param(2, min=1, max=5, help="re-estimations of the filter from the dereverberated power")
    window_ms: float = param(64.0, unit="ms", min=16.0, max=128.0,
                             help="STFT window (hop a quarter of it): longer is cheaper and blurs onsets more")
    block_s: float = param(8.0, unit="s", min=2.0, max=30.0,
                           help="each block's filter is fitted on this much audio (also the stage's latency)")
    min_range_db: float | None = param(None, unit="dB", min=0.0, max=60.0,
                                       help="blocks whose loud frames stand less than this above their quiet ones "
                                            "(95th / 10th percentile of frame power) are left alone, fully processed "
                                            "from 6 dB above it: noise, not the room, fills their pauses, and WPE "
                                            "would model the noise; null: every block")
    strength: float = param(1.0, min=0.0, max=1.0, help="share of the predicted reverberation removed (0 = off)")


@register_stage
class WpeDereverbStage(Stage):
    """Removes late reverberation with WPE (weighted prediction error) linear prediction: for
    every STFT bin, what the room adds more than ``delay_ms`` after the direct sound is
    predicted from the recording's own past and subtracted. No training and no model of the
    voice; it leaves the noise to the denoisers after it.
    Any rate and channel count (channels share one filter, so stereo stays linked); the output
    comes one block (``block_s``, plus 1 s of crossfade) late and is realigned."""

    name = "wpe_dereverb"
    summary = "Dereverberation by weighted prediction error (WPE) in blocks, any rate."
    Params = WpeDereverbParams
    contract = IOContract(follows_stream_rate=True)

    def reset(self) -> None:
        from aural.dsp.wpe import WpeDereverberator

        p = self.params
        if p.strength == 0.0:     # off: the input passes as it is, without the block's delay
            self._dereverberator = None
            return
        self._dereverberator = WpeDereverberator(
            self.sample_rate or 48000, self.num_channels or 1, filter_ms=p.filter_ms, delay_ms=p.delay_ms,
            iterations=p.iterations, window_ms=p.window_ms, block_s=p.block_s, strength=p.strength,
            min_range_db=p.min_range_db)

    @property
    def latency_samples(self) -> int:
        return self._dereverberator.latency_samples if self._dereverberator else 0

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        import torch

        if self._dereverberator is None:
            return audio.clone()
        return torch.from_numpy(self._dereverberator.process(audio.double().numpy())).to(audio.dtype)
