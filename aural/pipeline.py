"""Ordered stages, streamed in bounded memory.

A :class:`Pipeline` is built from a validated :class:`~aural.config.PipelineSpec`. For each
input it plans the chain of steps: its stages, with resampling and channel conversion
inserted where a stage's contract asks for another rate or channel count, and a last
conversion to the output rate. Every conversion is recorded in the history.

Audio flows through the steps block by block. A stage that needs to see all of its input
first (``needs_analysis``, e.g. loudness normalisation) splits the chain: what comes before
it is written to a spool (memory for short input, a temporary file otherwise), the stage
analyses the spool in a first pass and processes it in a second. Memory therefore depends
on the block size, not on the length of the input.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import numpy as np
import soundfile as sf
import torch

from aural import io
from aural.config import PipelineSpec, load_pipeline_spec
from aural.dsp.band_split import HighBandFollower, top_band_low_hz
from aural.dsp.channels import convert_channels
from aural.dsp.resample import StreamingResampler
from aural.atomic_files import spool_prefix
from aural.errors import AudioWriteError, StageError
from aural.signal import Signal
from aural.stages import STAGES, Stage
from aural.stages.base import BLOCK_SAMPLES, MAX_ANALYSIS_PASSES, iter_blocks

MEMORY_SPOOL_BYTES = 64 << 20
Progress = Callable[[int, int], None]  # (units done, units total)


@dataclass(frozen=True)
class PassInfo:
    """One pass over the input, announced as it starts: stages that need the whole input
    first (loudness normalisation) make a run read its input several times, and the pass
    that runs the learned stages usually takes most of the time."""

    index: int                # 1-based
    num_passes: int           # as planned when this pass starts (an analysis may add one)
    kind: str                 # "analysis" or "processing"
    stages: tuple[str, ...]   # stages at work in this pass
    num_samples: int          # input samples this pass reads

    def describe(self) -> str:
        what = "analysis for " if self.kind == "analysis" else ""
        return f"pass {self.index} of {self.num_passes} ({what}{', '.join(self.stages) or 'resampling'})"


PassCallback = Callable[[PassInfo], None]


# -- steps: aligned stream processors ------------------------------------------------------
class _Step:
    """Push blocks in, get blocks out; ``finish`` completes the output, aligned with the input."""

    label: str
    history: dict[str, Any]

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def finish(self) -> torch.Tensor:
        raise NotImplementedError


class _StageStep(_Step):
    """A stage with its latency removed, so output sample n lines up with input sample n."""

    def __init__(self, stage: Stage, sample_rate: int, num_channels: int):
        self.stage = stage
        self.label = stage.name
        self.num_channels = num_channels
        stage.configure(sample_rate, num_channels)
        self.history = {"step": stage.name, "sample_rate": sample_rate, **stage.describe()}
        self._skip = stage.latency_samples

    def _trim(self, audio: torch.Tensor) -> torch.Tensor:
        if self._skip:
            drop = min(self._skip, audio.shape[1])
            self._skip -= drop
            audio = audio[:, drop:]
        return audio

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        return self._trim(self.stage.process_block(audio))

    def finish(self) -> torch.Tensor:
        return self._trim(self.stage.flush())


class _ResampleStep(_Step):
    def __init__(self, from_sample_rate: int, to_sample_rate: int, num_channels: int):
        self.label = f"resample {from_sample_rate}->{to_sample_rate} Hz"
        self.history = {"step": "resample", "from_sample_rate": from_sample_rate,
                        "to_sample_rate": to_sample_rate}
        self._resampler = StreamingResampler(from_sample_rate, to_sample_rate, num_channels)

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        return self._resampler.process(audio)

    def finish(self) -> torch.Tensor:
        return self._resampler.flush()


class _ChannelStep(_Step):
    def __init__(self, from_channels: int, to_channels: int):
        self.label = f"channels {from_channels}->{to_channels}"
        self.history = {"step": "channels", "from_channels": from_channels, "to_channels": to_channels}
        self.to_channels = to_channels
        self.from_channels = from_channels

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        return convert_channels(audio, self.to_channels)

    def finish(self) -> torch.Tensor:
        return torch.zeros(self.to_channels, 0)


def _through(steps: list[_Step], audio: torch.Tensor) -> torch.Tensor:
    for step in steps:
        if audio.shape[1] == 0:
            break
        audio = step.push(audio)
    return audio


def _finish_all(steps: list[_Step], num_channels: int) -> torch.Tensor:
    parts = [torch.zeros(num_channels, 0)]
    for i, step in enumerate(steps):
        parts.append(_through(steps[i + 1:], step.finish()))
    return torch.cat(parts, dim=1)


class _BandSplitStep(_Step):
    """A stage at a lower native rate in a faster stream, the band above its Nyquist bypassing
    it (scaled by :class:`~aural.dsp.band_split.HighBandFollower`) instead of being dropped."""

    def __init__(self, stage: Stage, sample_rate: int, stage_sample_rate: int, num_channels: int):
        self.num_channels = num_channels
        self._wet = [_ResampleStep(sample_rate, stage_sample_rate, num_channels),
                     _StageStep(stage, stage_sample_rate, num_channels),
                     _ResampleStep(stage_sample_rate, sample_rate, num_channels)]
        self._low = [_ResampleStep(sample_rate, stage_sample_rate, num_channels),
                     _ResampleStep(stage_sample_rate, sample_rate, num_channels)]
        self._follower = HighBandFollower(sample_rate, num_channels, top_band_low_hz(stage_sample_rate))
        self._queues = {name: torch.zeros(num_channels, 0) for name in ("dry", "wet", "low")}
        nyquist_hz = stage_sample_rate // 2
        self.label = f"{stage.name} at {stage_sample_rate} Hz (above {nyquist_hz} Hz: bypassed)"
        self.history = {**self._wet[1].history, "stream_sample_rate": sample_rate,
                        "high_band": f"above {nyquist_hz} Hz bypasses the stage, scaled by its gain "
                                     f"in {top_band_low_hz(stage_sample_rate):g}-{nyquist_hz} Hz"}

    def _add(self, dry: torch.Tensor, wet: torch.Tensor, low: torch.Tensor) -> None:
        for name, audio in (("dry", dry), ("wet", wet), ("low", low)):
            self._queues[name] = torch.cat([self._queues[name], audio], dim=1)

    def _emit(self, last: bool) -> torch.Tensor:
        ready = min(queue.shape[1] for queue in self._queues.values())
        if not last:
            ready -= ready % self._follower.frame
        dry, wet, low = (self._queues[name][:, :ready] for name in ("dry", "wet", "low"))
        self._queues = {name: queue[:, ready:] for name, queue in self._queues.items()}
        gains = torch.from_numpy(self._follower.gains(wet.numpy(), low.numpy()).astype(np.float32))
        return wet + gains * (dry - low)

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        self._add(audio, _through(self._wet, audio), _through(self._low, audio))
        return self._emit(last=False)

    def finish(self) -> torch.Tensor:
        self._add(torch.zeros(self.num_channels, 0), _finish_all(self._wet, self.num_channels),
                  _finish_all(self._low, self.num_channels))
        length = self._queues["dry"].shape[1]
        for name in ("wet", "low"):  # a rate round trip may end a sample short or long
            queue = self._queues[name][:, :length]
            self._queues[name] = torch.nn.functional.pad(queue, (0, length - queue.shape[1]))
        return self._emit(last=True)


def _run_steps(steps: list[_Step], blocks: Iterable[torch.Tensor], sink: Callable[[torch.Tensor], None]) -> None:
    """Stream ``blocks`` through ``steps`` into ``sink``, then flush every step in order."""
    for block in blocks:
        out = _through(steps, block)
        if out.shape[1]:
            sink(out)
    for i, step in enumerate(steps):
        out = _through(steps[i + 1:], step.finish())
        if out.shape[1]:
            sink(out)


# -- spools: where the input of a two-pass stage waits ---------------------------------------
class _Spool:
    """Blocks written once and read back any number of times; memory or a temporary file."""

    def __init__(self, sample_rate: int, num_channels: int, expected_samples: int, temp_dir: str | None):
        self.sample_rate = sample_rate
        self.num_channels = num_channels
        self.num_samples = 0
        self._blocks: list[torch.Tensor] | None = None
        self._file: sf.SoundFile | None = None
        self._tmp: tempfile.TemporaryDirectory | None = None
        if expected_samples * num_channels * 4 <= MEMORY_SPOOL_BYTES:
            self._blocks = []
            return
        folder = temp_dir or tempfile.gettempdir()
        try:
            self._tmp = tempfile.TemporaryDirectory(prefix=spool_prefix(), dir=folder)
            self._path = Path(self._tmp.name) / "spool.w64"
            self._file = sf.SoundFile(str(self._path), "w", samplerate=sample_rate,
                                      channels=num_channels, format="W64", subtype="FLOAT")
        except (OSError, sf.LibsndfileError, RuntimeError) as exc:
            self.cleanup()
            raise self._error(exc, folder) from None

    def _error(self, exc: Exception, folder: str) -> AudioWriteError:
        reason = io.write_error_reason(exc, Path(folder), self._file)
        return AudioWriteError(f"temporary spool in {folder} failed ({reason}); "
                               "free space there or point TMPDIR elsewhere")

    def write(self, audio: torch.Tensor) -> None:
        self.num_samples += audio.shape[1]
        if self._blocks is not None:
            self._blocks.append(audio.clone())
            return
        try:
            self._file.write(np.ascontiguousarray(audio.numpy().T))
        except (OSError, sf.LibsndfileError, RuntimeError) as exc:
            raise self._error(exc, str(self._path.parent.parent)) from None

    def close_writing(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            except (OSError, sf.LibsndfileError, RuntimeError) as exc:
                raise self._error(exc, str(self._path.parent.parent)) from None

    def blocks(self) -> Iterator[torch.Tensor]:
        if self._blocks is not None:
            yield from self._blocks
            return
        with sf.SoundFile(str(self._path)) as handle:
            while True:
                data = handle.read(BLOCK_SAMPLES, dtype="float32", always_2d=True)
                if not len(data):
                    return
                yield torch.from_numpy(np.ascontiguousarray(data.T))

    def cleanup(self) -> None:
        self._blocks = None
        if self._file is not None and not self._file.closed:
            try:
                self._file.close()
            except (OSError, sf.LibsndfileError, RuntimeError):
                pass  # the spool is deleted below either way
        if self._tmp is not None:
            self._tmp.cleanup()


# -- the pipeline --------------------------------------------------------------------------
@dataclass(frozen=True)
class _Source:
    """Re-readable input: a block iterator factory and its facts."""

    blocks: Callable[[], Iterator[torch.Tensor]]
    sample_rate: int
    num_channels: int
    num_samples: int


class Pipeline:
    """Stages in order, with automatic rate and channel conversion between them."""

    def __init__(self, spec: PipelineSpec, stages: list[Stage]):
        self.spec = spec
        self.stages = stages

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def sample_rate(self) -> int | None:
        return self.spec.sample_rate

    @classmethod
    def from_spec(cls, spec: PipelineSpec) -> "Pipeline":
        stages = []
        for entry in spec.stages:
            stage_cls = STAGES.get(entry.stage)
            if stage_cls.learned:
                stages.append(stage_cls(entry.params, weights=entry.weights))
            else:
                stages.append(stage_cls(entry.params))
        return cls(spec, stages)

    def __repr__(self) -> str:
        return f"Pipeline({self.name!r}, stages={[s.name for s in self.stages]})"

    # -- planning ------------------------------------------------------------------------
    def plan(self, sample_rate: int, num_channels: int,
             output_sample_rate: int | None = None) -> list[_Step]:
        """Fresh, configured steps for input at ``sample_rate`` with ``num_channels``."""
        steps: list[_Step] = []
        rate, channels = sample_rate, num_channels
        working_rate = self.sample_rate
        for stage in self.stages:
            want_rate = stage.contract.sample_rate or working_rate or rate
            want_channels = stage.contract.channels or channels
            if want_channels != channels and channels != 1 and want_channels != 1:
                raise StageError(f"{stage.name} needs {want_channels} channels; the input has {channels}")
            if want_channels < channels:  # mix down before resampling: less work
                steps.append(_ChannelStep(channels, want_channels))
                channels = want_channels
            if (want_rate < rate and stage.contract.keep_high_band and want_channels == channels
                    and not stage.needs_analysis):
                steps.append(_BandSplitStep(stage, rate, want_rate, channels))
                continue
            if want_rate != rate:
                steps.append(_ResampleStep(rate, want_rate, channels))
                rate = want_rate
            if want_channels != channels:
                steps.append(_ChannelStep(channels, want_channels))
                channels = want_channels
            steps.append(_StageStep(stage, rate, channels))
        final_rate = self.output_sample_rate(sample_rate, output_sample_rate)
        if final_rate != rate:
            steps.append(_ResampleStep(rate, final_rate, channels))
        if channels != num_channels and (channels == 1 or num_channels == 1):
            steps.append(_ChannelStep(channels, num_channels))
        return steps

    # -- running -------------------------------------------------------------------------
    def output_sample_rate(self, input_sample_rate: int, requested: int | None = None) -> int:
        """The rate of the output: as requested, else the pipeline's, else the input's."""
        return requested or self.sample_rate or input_sample_rate

    def _execute(self, steps: list[_Step], source: _Source, sink: Callable[[torch.Tensor], None],
                 progress: Progress | None, temp_dir: str | None,
                 on_pass: PassCallback | None = None) -> list[dict[str, Any]]:
        segments: list[list[_Step]] = [[]]
        for step in steps:
            if isinstance(step, _StageStep) and step.stage.needs_analysis and segments[-1]:
                segments.append([])
            segments[-1].append(step)
        num_passes = len(segments) + sum(
            1 for seg in segments if isinstance(seg[0], _StageStep) and seg[0].stage.needs_analysis)
        done_passes = 0
        spools: list[_Spool] = []

        def announce(kind: str, segment: list[_Step], num_samples: int) -> None:
            if on_pass is not None:
                names = (segment[0].stage.name,) if kind == "analysis" else \
                    tuple(step.stage.name for step in segment if isinstance(step, _StageStep))
                on_pass(PassInfo(done_passes + 1, num_passes, kind, names, num_samples))

        def counted(blocks: Iterator[torch.Tensor], total: int) -> Iterator[torch.Tensor]:
            done = 0
            for block in blocks:
                yield block
                done += block.shape[1]
                if progress and total:
                    progress(done_passes * total + min(done, total), num_passes * total)

        try:
            current = source
            for index, segment in enumerate(segments):
                head = segment[0]
                if isinstance(head, _StageStep) and head.stage.needs_analysis:
                    for _ in range(MAX_ANALYSIS_PASSES):
                        announce("analysis", segment, current.num_samples)
                        for block in counted(current.blocks(), current.num_samples):
                            head.stage.analyze_block(block)
                        done_passes += 1
                        if not head.stage.finish_analysis():
                            break
                        num_passes += 1
                    head.history.update(head.stage.describe())  # what the analysis settled
                announce("processing", segment, current.num_samples)
                if index == len(segments) - 1:
                    _run_steps(segment, counted(current.blocks(), current.num_samples), sink)
                else:
                    out_rate, out_channels = _segment_output(segment, current)
                    expected = int(current.num_samples * out_rate / current.sample_rate) + 1
                    spool = _Spool(out_rate, out_channels, expected, temp_dir)
                    spools.append(spool)
                    _run_steps(segment, counted(current.blocks(), current.num_samples), spool.write)
                    spool.close_writing()
                    current = _Source(spool.blocks, out_rate, out_channels, spool.num_samples)
                done_passes += 1
        finally:
            for spool in spools:
                spool.cleanup()
        return [step.history for step in steps]

    def process(self, signal: Signal, *, output_sample_rate: int | None = None,
                progress: Progress | None = None, on_pass: PassCallback | None = None) -> Signal:
        """Run a whole in-memory signal; returns the output with its history.

        ``progress(done, total)`` counts samples over all passes; ``on_pass`` hears of each
        pass as it starts (:class:`PassInfo`)."""
        if signal.num_samples == 0:
            raise StageError("cannot process an empty signal (0 samples)")
        parts: list[torch.Tensor] = []
        source = _Source(lambda: iter_blocks(signal.audio), signal.sample_rate,
                         signal.num_channels, signal.num_samples)
        steps = self.plan(signal.sample_rate, signal.num_channels, output_sample_rate)
        history = self._execute(steps, source, parts.append, progress, None, on_pass)
        rate = self.output_sample_rate(signal.sample_rate, output_sample_rate)
        audio = torch.cat(parts, dim=1) if parts else torch.zeros(signal.num_channels, 0)
        out = signal.replace(audio, rate)
        for entry in history:
            out = out.with_history(**entry)
        return out.with_history("pipeline", name=self.name)

    def run_file(self, input_path: str | Path, output_path: str | Path, *,
                 output_sample_rate: int | None = None, subtype: str | None = None,
                 progress: Progress | None = None, temp_dir: str | None = None,
                 on_pass: PassCallback | None = None, overwrite: bool = True) -> list[dict[str, Any]]:
        """Stream a file through the pipeline into an atomically written output file
        (``progress`` and ``on_pass`` as in :meth:`process`; ``overwrite=False``: fail rather
        than replace a file that appeared meanwhile)."""
        facts = io.info(input_path)
        source = _Source(lambda: io.iter_blocks(input_path), facts.sample_rate,
                         facts.num_channels, facts.num_frames)
        steps = self.plan(facts.sample_rate, facts.num_channels, output_sample_rate)
        out_rate = self.output_sample_rate(facts.sample_rate, output_sample_rate)
        out_channels = _steps_output_channels(steps, facts.num_channels)
        with io.AudioWriter(output_path, out_rate, out_channels, subtype=subtype, overwrite=overwrite) as writer:
            history = self._execute(steps, source, writer.write, progress, temp_dir, on_pass)
        return history


def _steps_output_channels(steps: list[_Step], num_channels: int) -> int:
    channels = num_channels
    for step in steps:
        if isinstance(step, _ChannelStep):
            channels = step.to_channels
    return channels


def _segment_output(segment: list[_Step], source: _Source) -> tuple[int, int]:
    rate, channels = source.sample_rate, source.num_channels
    for step in segment:
        if isinstance(step, _ResampleStep):
            rate = step._resampler.to_sample_rate
        elif isinstance(step, _ChannelStep):
            channels = step.to_channels
    return rate, channels


def load_pipeline(name_or_path: str | Path, overrides: Sequence[str] = ()) -> Pipeline:
    """Validate a pipeline file (or built-in name), with ``--set`` ``overrides``
    (``STAGE.PARAM=VALUE``), and build its stages (loading weights)."""
    return Pipeline.from_spec(load_pipeline_spec(name_or_path, overrides))

