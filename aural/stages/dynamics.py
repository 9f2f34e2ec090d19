"""The ``dynamics`` stage: feed-forward compressor with an optional downward expander."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, Stage

if TYPE_CHECKING:  # loaded in configure(): importing a stage module stays cheap
    import torch

    from aural.dsp.dynamics import DynamicsConfig


@dataclass(frozen=True)
class DynamicsParams:
    threshold_db: float = param(-20.0, unit="dBFS", min=-80.0, max=0.0,
                                help="compressor threshold: levels above it are reduced")
    ratio: float = param(3.0, min=1.0, max=1000.0,
                         help="compression ratio above the threshold (1 = off, 20+ acts as a limiter)")
    knee_db: float = param(6.0, unit="dB", min=0.0, max=48.0,
                           help="soft-knee width centred on the threshold (and on the "
                                "expander threshold); 0 = hard knee")
    attack_ms: float = param(5.0, unit="ms", min=0.0, max=1000.0,
                             help="time constant of gain reduction (63 % of a step); 0 = instant")
    release_ms: float = param(100.0, unit="ms", min=0.0, max=10000.0,
                              help="time constant of gain recovery after the level drops")
    makeup_db: float = param(0.0, unit="dB", min=-24.0, max=48.0,
                             help="fixed gain added after compression")
    lookahead_ms: float = param(0.0, unit="ms", min=0.0, max=50.0,
                                help="delay of the audio so the gain reacts before transients "
                                     "(adds this much latency)")
    link_channels: bool = param(True, help="one gain for all channels, driven by the loudest, "
                                           "so the stereo image stays put")
    detector: str = param("peak", choices=("peak", "rms"),
                          help="level detector: instantaneous peak, or RMS over rms_window_ms")
    rms_window_ms: float = param(10.0, unit="ms", min=0.1, max=1000.0,
                                 help="averaging time constant of the rms detector")
    expander_threshold_db: float | None = param(None, unit="dBFS", min=-120.0, max=0.0,
                                                help="downward expander / gate threshold: levels "
                                                     "below it are reduced further (null = off)")
    expander_ratio: float = param(2.0, min=1.0, max=100.0,
                                  help="expansion ratio below expander_threshold_db "
                                       "(each dB below it lowers the output by this many dB)")
    expander_range_db: float = param(40.0, unit="dB", min=0.0, max=120.0,
                                     help="most attenuation the expander applies")

    def config(self) -> DynamicsConfig:
        from aural.dsp.dynamics import DynamicsConfig

        return DynamicsConfig(**asdict(self))


@register_stage
class DynamicsStage(Stage):
    """Feed-forward compressor / expander / limiter (Giannoulis, Massberg & Reiss 2012).

    The detector level (peak, or RMS) in dBFS goes through a soft-knee static curve: above
    threshold_db every `ratio` dB in gives 1 dB out; below expander_threshold_db (when set)
    every dB in gives expander_ratio dB out. The gain is smoothed in dB with attack_ms while
    it falls and release_ms while it recovers (the expander opens with attack_ms and closes
    with release_ms), then makeup_db is added. With link_channels one gain, from the loudest
    channel, drives all channels. lookahead_ms delays the audio so the gain acts before a
    transient; the stage reports that delay as latency and the output stays aligned with
    the input.
    """

    name = "dynamics"
    summary = "Compressor / expander / limiter with soft knee, attack/release and lookahead."
    Params = DynamicsParams
    contract = IOContract()

    def configure(self, sample_rate: int, num_channels: int) -> None:
        from aural.dsp.dynamics import DynamicsProcessor

        self._processor = DynamicsProcessor(self.params.config(), sample_rate, num_channels)
        super().configure(sample_rate, num_channels)

    def reset(self) -> None:
        processor = getattr(self, "_processor", None)
        if processor is not None:
            processor.reset()

    @property
    def latency_samples(self) -> int:
        processor = getattr(self, "_processor", None)
        return processor.latency_samples if processor is not None else 0

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        import torch

        if getattr(self, "_processor", None) is None:
            raise RuntimeError("dynamics: call configure(sample_rate, num_channels) first")
        block = audio.detach().cpu().numpy().astype("float64")
        out = self._processor.process(block)
        return torch.from_numpy(out.astype("float32"))
