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

Stems flow through the same steps: after a stage whose contract outputs stems (``separation``)
each block holds every stem, ``(stems * channels, n)``, stem after stem, so resampling and
spools work unchanged (channel conversion converts each stem). A signal stage runs on one
stem with ``apply_to: STEM`` (the other stems wait for it, so all stay aligned); without it a
signal stage cannot follow stems (the pipeline refuses it: mix them first with ``mix_master``,
which takes stems and sums them with gains). A stems stage at another rate than the stream
runs at its own rate and its last stem is recomputed as the input minus the others at the
stream's rate, so the stems add up to the input exactly (see :class:`_StemsRateStep`). A
pipeline may end with stems: :meth:`Pipeline.process` then returns
:class:`~aural.stems.Stems` and :meth:`Pipeline.run_stems_file` writes a file per stem.
"""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
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
from aural.stages.base import BLOCK_SAMPLES, MAX_ANALYSIS_PASSES, final_stems, iter_blocks
from aural.stems import Stems

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
    out_rows: int | None = None  # rows of the output blocks, where the step changes them
    analysis_stage: Stage | None = None  # a stage that must see all its input first (its own pass)

    def analyze(self, audio: torch.Tensor) -> None:
        """A block of the analysis pass of ``analysis_stage``."""
        raise NotImplementedError

    def end_analysis(self) -> None:
        """The analysis pass has seen its last block (a step that holds samples back passes them on)."""

    def for_analysis(self) -> "_Step":
        """A step converting blocks as this one does, with state of its own, to feed a later
        step's analysis pass; only conversions (resampling, channels) can."""
        raise StageError(f"{self.label}: the analysis of a later stage would need this step's output; "
                         "only resampling and channel conversion may come before it")

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def finish(self) -> torch.Tensor:
        raise NotImplementedError


class _StageStep(_Step):
    """A stage with its latency removed, so output sample n lines up with input sample n.

    ``stems``: the names of the stems the stream carries (blocks of ``stems * channels``
    rows), for a stage that takes stems; it gets them as ``(stems, channels, n)``. A stage
    that outputs stems gives ``(stems, channels, n)``, passed on as ``stems * channels`` rows."""

    def __init__(self, stage: Stage, sample_rate: int, num_channels: int, stems: tuple[str, ...] | None = None):
        self.stage = stage
        self.label = stage.name
        self.num_channels = num_channels
        self.stems = stems
        if stems:
            stage.configure(sample_rate, num_channels, stems=stems)
        else:
            stage.configure(sample_rate, num_channels)
        made = len(stage.contract.stems) if stage.contract.output == "stems" else 1
        self.out_rows = made * num_channels
        self.analysis_stage = stage if stage.needs_analysis else None
        self.history = {"step": stage.name, "sample_rate": sample_rate, **stage.describe()}
        self._skip = stage.latency_samples

    def _trim(self, audio: torch.Tensor) -> torch.Tensor:
        if audio.dim() == 3:  # stems
            audio = audio.reshape(audio.shape[0] * audio.shape[1], audio.shape[2])
        if self._skip:
            drop = min(self._skip, audio.shape[1])
            self._skip -= drop
            audio = audio[:, drop:]
        return audio

    def to_stage(self, audio: torch.Tensor) -> torch.Tensor:
        """A block of the stream as the stage takes it."""
        return audio.reshape(len(self.stems), self.num_channels, -1) if self.stems else audio

    def analyze(self, audio: torch.Tensor) -> None:
        self.stage.analyze_block(self.to_stage(audio))

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        return self._trim(self.stage.process_block(self.to_stage(audio)))

    def finish(self) -> torch.Tensor:
        return self._trim(self.stage.flush())


class _ResampleStep(_Step):
    def __init__(self, from_sample_rate: int, to_sample_rate: int, num_channels: int):
        self.label = f"resample {from_sample_rate}->{to_sample_rate} Hz"
        self.history = {"step": "resample", "from_sample_rate": from_sample_rate,
                        "to_sample_rate": to_sample_rate}
        self._resampler = StreamingResampler(from_sample_rate, to_sample_rate, num_channels)
        self._args = (from_sample_rate, to_sample_rate, num_channels)

    def for_analysis(self) -> "_ResampleStep":
        return _ResampleStep(*self._args)

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        return self._resampler.process(audio)

    def finish(self) -> torch.Tensor:
        return self._resampler.flush()


class _ChannelStep(_Step):
    """Channel conversion; with ``groups`` stems in the stream, of each stem."""

    def __init__(self, from_channels: int, to_channels: int, groups: int = 1):
        self.label = f"channels {from_channels}->{to_channels}"
        self.history = {"step": "channels", "from_channels": from_channels, "to_channels": to_channels}
        self.to_channels = to_channels
        self.from_channels = from_channels
        self.groups = groups
        self.out_rows = to_channels * groups

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        if self.groups == 1:
            return convert_channels(audio, self.to_channels)
        return torch.cat([convert_channels(part, self.to_channels) for part in audio.split(self.from_channels)])

    def finish(self) -> torch.Tensor:
        return torch.zeros(self.out_rows, 0)

    def for_analysis(self) -> "_ChannelStep":
        return self  # no state


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


class _AnalysisFeed:
    """The analysis pass of ``head``, whose input the conversion steps ``before`` make from the
    stream: copies of them with state of their own (:meth:`_Step.for_analysis`) convert each
    block, and :meth:`end` passes on what they hold back. ``num_channels``: ``head``'s input rows."""

    def __init__(self, before: list[_Step], head: _Step, num_channels: int):
        self._before, self._head, self._num_channels = before, head, num_channels
        self._steps: list[_Step] | None = None

    def analyze(self, audio: torch.Tensor) -> None:
        if self._steps is None:
            self._steps = [step.for_analysis() for step in self._before]
        self._head.analyze(_through(self._steps, audio))

    def end(self) -> None:
        if self._steps is not None:
            tail = _finish_all(self._steps, self._num_channels)
            if tail.shape[1]:
                self._head.analyze(tail)
            self._steps = None
        self._head.end_analysis()


class _InnerAnalysisStep(_Step):
    """A step around an inner stage step whose analysis pass is fed through conversion steps."""

    _analysis: _AnalysisFeed

    def _feed_analysis(self, before: list[_Step], inner: _Step, num_channels: int) -> None:
        self.analysis_stage = inner.analysis_stage
        self._analysis = _AnalysisFeed(before, inner, num_channels)

    def analyze(self, audio: torch.Tensor) -> None:
        self._analysis.analyze(audio)

    def end_analysis(self) -> None:
        self._analysis.end()


class _BandSplitStep(_InnerAnalysisStep):
    """A stage at a lower native rate in a faster stream, the band above its Nyquist bypassing
    it (scaled by :class:`~aural.dsp.band_split.HighBandFollower`) instead of being dropped.
    A stage that analyses its input first sees it at its own rate in its analysis pass."""

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
        self._feed_analysis(self._wet[:1], self._wet[1], num_channels)

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


class _StemsRateStep(_InnerAnalysisStep):
    """A stage that outputs stems, at its native rate in a stream at another rate.

    The stage runs on the input resampled to its rate and its stems come back to the
    stream's rate. In a faster stream the band above the stage's Nyquist goes to the first
    stem, scaled by that stem's gain on the stage's top octave (as in :class:`_BandSplitStep`).
    The last stem is then the input minus the others, at the stream's rate, so the stems add
    up to the input exactly (a resampling round trip alone would not). A stage that analyses its
    input first sees it resampled to its rate in that pass too."""

    def __init__(self, stage: Stage, sample_rate: int, stage_sample_rate: int, num_channels: int):
        self.num_channels = num_channels
        self.num_stems = len(stage.contract.stems)
        self.out_rows = self.num_stems * num_channels
        inner = _StageStep(stage, stage_sample_rate, num_channels)
        self._wet = [_ResampleStep(sample_rate, stage_sample_rate, num_channels), inner,
                     _ResampleStep(stage_sample_rate, sample_rate, self.out_rows)]
        self._feed_analysis(self._wet[:1], inner, num_channels)
        self._low: list[_Step] | None = None
        self._follower: HighBandFollower | None = None
        self._queues = {"dry": torch.zeros(num_channels, 0), "wet": torch.zeros(self.out_rows, 0)}
        self.label = f"{stage.name} at {stage_sample_rate} Hz"
        self.history = {**inner.history, "stream_sample_rate": sample_rate,
                        "remainder": f"{stage.contract.stems[-1]} = input - other stems at {sample_rate} Hz"}
        if stage_sample_rate < sample_rate and stage.contract.keep_high_band:
            nyquist_hz = stage_sample_rate // 2
            self._low = [_ResampleStep(sample_rate, stage_sample_rate, num_channels),
                         _ResampleStep(stage_sample_rate, sample_rate, num_channels)]
            self._follower = HighBandFollower(sample_rate, num_channels, top_band_low_hz(stage_sample_rate))
            self._queues["low"] = torch.zeros(num_channels, 0)
            self.label += f" (above {nyquist_hz} Hz: to {stage.contract.stems[0]}, scaled)"
            self.history["high_band"] = (f"above {nyquist_hz} Hz goes to {stage.contract.stems[0]}, scaled by its "
                                         f"gain in {top_band_low_hz(stage_sample_rate):g}-{nyquist_hz} Hz")

    def _add(self, **parts: torch.Tensor) -> None:
        for name, audio in parts.items():
            if audio.shape[1]:  # (an empty block may come back with the rows it went in with)
                self._queues[name] = torch.cat([self._queues[name], audio], dim=1)

    def _emit(self, last: bool) -> torch.Tensor:
        ready = min(queue.shape[1] for queue in self._queues.values())
        if not last and self._follower is not None:
            ready -= ready % self._follower.frame
        taken = {name: queue[:, :ready] for name, queue in self._queues.items()}
        self._queues = {name: queue[:, ready:] for name, queue in self._queues.items()}
        stems = taken["wet"].reshape(self.num_stems, self.num_channels, ready).clone()
        dry = taken["dry"]
        if self._follower is not None:
            low = taken["low"]
            gains = self._follower.gains(stems[0].numpy(), low.numpy()).astype(np.float32)
            stems[0] += torch.from_numpy(gains) * (dry - low)
        stems[-1] = dry - stems[:-1].sum(dim=0)
        return stems.reshape(self.out_rows, ready)

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        parts = {"dry": audio, "wet": _through(self._wet, audio)}
        if self._low is not None:
            parts["low"] = _through(self._low, audio)
        self._add(**parts)
        return self._emit(last=False)

    def finish(self) -> torch.Tensor:
        parts = {"dry": torch.zeros(self.num_channels, 0), "wet": _finish_all(self._wet, self.out_rows)}
        if self._low is not None:
            parts["low"] = _finish_all(self._low, self.num_channels)
        self._add(**parts)
        length = self._queues["dry"].shape[1]
        for name in self._queues:  # a rate round trip may end a sample short or long
            queue = self._queues[name][:, :length]
            self._queues[name] = torch.nn.functional.pad(queue, (0, length - queue.shape[1]))
        return self._emit(last=True)


class _StemStep(_InnerAnalysisStep):
    """Steps run on one stem (``apply_to``); the other stems wait for it, so all stay aligned."""

    def __init__(self, stage: Stage, steps: list[_Step], stems: tuple[str, ...], stem: str, num_channels: int):
        self.stage = stage
        self.steps = steps
        self.num_channels = num_channels
        self.rows = slice(stems.index(stem) * num_channels, (stems.index(stem) + 1) * num_channels)
        self.label = f"{', '.join(step.label for step in steps)} on {stem}"
        main = next(step for step in steps if step.label.startswith(stage.name))
        self.history = {**main.history, "apply_to": stem}
        if stage.needs_analysis:  # its analysis pass sees the stem through the conversions before it
            before = steps[:steps.index(main)]
            for step in before:
                step.for_analysis()  # only conversions can: refuse anything else now, not mid-run
            self._feed_analysis(before, main, main.num_channels)
        self._all = torch.zeros(len(stems) * num_channels, 0)
        self._done = torch.zeros(num_channels, 0)

    def _emit(self) -> torch.Tensor:
        ready = min(self._all.shape[1], self._done.shape[1])
        out = self._all[:, :ready].clone()
        out[self.rows] = self._done[:, :ready]
        self._all, self._done = self._all[:, ready:], self._done[:, ready:]
        return out

    def analyze(self, audio: torch.Tensor) -> None:
        super().analyze(audio[self.rows])

    def push(self, audio: torch.Tensor) -> torch.Tensor:
        self._all = torch.cat([self._all, audio], dim=1)
        self._done = torch.cat([self._done, _through(self.steps, audio[self.rows])], dim=1)
        return self._emit()

    def finish(self) -> torch.Tensor:
        done = torch.cat([self._done, _finish_all(self.steps, self.num_channels)], dim=1)[:, :self._all.shape[1]]
        self._done = torch.nn.functional.pad(done, (0, self._all.shape[1] - done.shape[1]))
        return self._emit()


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


class BlockStream:
    """A pipeline's steps, block by block: calling it with a ``(channels, n)`` block returns the
    output so far, aligned with the input (stage latencies dropped) but short of what resamplers
    and stages still hold back; no flush (a caller that needs the tail pushes silence past the
    hold-back). A stage that analyses its input first (``needs_analysis``) sees the whole input
    through :meth:`analyze` and :meth:`finish_analysis`, in one pass before the first block is
    pushed; without them it runs unanalysed. Only the first such stage can, and only after
    nothing but conversions (its input comes from the stream, not from another stage)."""

    def __init__(self, steps: list[_Step]):
        self._steps = steps
        self._analysed = [i for i, step in enumerate(steps) if step.analysis_stage is not None]
        self._feed: _AnalysisFeed | None = None

    def analyze(self, audio: torch.Tensor) -> None:
        if not self._analysed:
            return
        if self._feed is None:
            if len(self._analysed) > 1:
                names = ", ".join(str(self._steps[i].analysis_stage.name) for i in self._analysed)
                raise StageError(f"a block stream analyses one stage's input, not several ({names})")
            head = self._steps[self._analysed[0]]
            self._feed = _AnalysisFeed(self._steps[:self._analysed[0]], head, head.num_channels)
        self._feed.analyze(audio)

    def finish_analysis(self) -> None:
        if self._feed is not None:
            self._feed.end()
            self._steps[self._analysed[0]].analysis_stage.finish_analysis()

    def __call__(self, audio: torch.Tensor) -> torch.Tensor:
        return _through(self._steps, audio)


class Pipeline:
    """Stages in order, with automatic rate and channel conversion between them."""

    def __init__(self, spec: PipelineSpec, stages: list[Stage]):
        self.spec = spec
        self.stages = stages
        entries = spec.stages if len(spec.stages) == len(stages) else ()
        self.apply_to: list[str | None] = [entry.apply_to for entry in entries] or [None] * len(stages)

    @property
    def output_stems(self) -> tuple[str, ...] | None:
        """The stems the pipeline ends with (its last stage that is not ``apply_to`` one stem
        outputs stems), else ``None``: it ends with a signal."""
        return final_stems((stage.contract, apply_to) for stage, apply_to in zip(self.stages, self.apply_to))

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
        rate, channels, stems = sample_rate, num_channels, None
        final_rate = self.output_sample_rate(sample_rate, output_sample_rate)
        band_rate = sample_rate  # the stream holds nothing above band_rate / 2
        for stage, apply_to in zip(self.stages, self.apply_to):
            if apply_to is not None:
                if stems is None or apply_to not in stems:
                    have = f"the stems here are {', '.join(stems)}" if stems else "the stream is a signal, not stems"
                    raise StageError(f"{stage.name}: apply_to {apply_to!r}, but {have}")
                inner, inner_rate, inner_channels, _ = self._plan_stage(stage, rate, channels, None, rate)
                if inner_channels != channels:
                    inner.append(_ChannelStep(inner_channels, channels))
                if inner_rate != rate:
                    inner.append(_ResampleStep(inner_rate, rate, channels))
                steps.append(_StemStep(stage, inner, stems, apply_to, channels))
                continue
            if stems is not None and not stage.contract.takes("stems"):
                raise StageError(f"{stage.name} takes a signal but receives stems ({', '.join(stems)}): run it on "
                                 "one stem with apply_to, or mix the stems first with mix_master")
            native = stage.contract.sample_rate
            if native and band_rate <= native < rate and stems is None and stage.contract.output != "stems":
                # e.g. mel_unet (16 kHz) after deepfilter (48 kHz) on 16 kHz input: no band above the
                # stage's to carry around it, so the stream goes down to its rate
                steps.append(_ResampleStep(rate, native, channels))
                rate = native
            before = rate
            added, rate, channels, stems = self._plan_stage(stage, rate, channels, stems, self.sample_rate)
            steps += added
            if stage.contract.output_at_native_rate:
                band_rate = rate
            elif native and not stage.contract.keep_high_band:
                band_rate = min(band_rate, native)
            back = max(before, final_rate)
            if rate > back:  # e.g. deepfilter (48 kHz) in a 16 kHz pipeline on 16 kHz input: the output
                # keeps nothing above the rate the stream came in at, so it goes back to that rate
                steps.append(_ResampleStep(rate, back, channels * (len(stems) if stems else 1)))
                rate = back
                band_rate = min(band_rate, back)
        groups = len(stems) if stems else 1
        if final_rate != rate:
            steps.append(_ResampleStep(rate, final_rate, channels * groups))
        if channels != num_channels and (channels == 1 or num_channels == 1):
            steps.append(_ChannelStep(channels, num_channels, groups))
        return steps

    def block_stream(self, sample_rate: int, num_channels: int) -> "BlockStream":
        """Fresh steps for ``(num_channels, n)`` blocks at ``sample_rate``, pushed one by one
        (:class:`BlockStream`)."""
        return BlockStream(self.plan(sample_rate, num_channels))

    @staticmethod
    def _plan_stage(stage: Stage, rate: int, channels: int, stems: tuple[str, ...] | None,
                    working_rate: int | None) -> tuple[list[_Step], int, int, tuple[str, ...] | None]:
        """Steps that run ``stage`` on a stream at ``rate`` with ``channels`` (and ``stems``);
        the stream's rate, channels and stems after them."""
        steps: list[_Step] = []
        groups = len(stems) if stems else 1
        want_rate = stage.contract.sample_rate or working_rate or rate
        if stage.contract.follows_stream_rate and not stage.contract.sample_rate:
            want_rate = min(rate, want_rate)
        want_channels = stage.contract.channels or channels
        if want_channels != channels and channels != 1 and want_channels != 1:
            raise StageError(f"{stage.name} needs {want_channels} channels; the input has {channels}")
        if want_channels < channels:  # mix down before resampling: less work
            steps.append(_ChannelStep(channels, want_channels, groups))
            channels = want_channels
        makes_stems = stage.contract.output == "stems"
        out_stems = stage.contract.stems if makes_stems else None
        if want_rate != rate and makes_stems and want_channels == channels and stems is None:
            steps.append(_StemsRateStep(stage, rate, want_rate, channels))
            return steps, rate, channels, out_stems
        if want_rate < rate and stage.contract.keep_high_band and want_channels == channels and stems is None:
            steps.append(_BandSplitStep(stage, rate, want_rate, channels))
            return steps, rate, channels, out_stems
        if want_rate != rate:
            steps.append(_ResampleStep(rate, want_rate, channels * groups))
            rate = want_rate
        if want_channels != channels:
            steps.append(_ChannelStep(channels, want_channels, groups))
            channels = want_channels
        steps.append(_StageStep(stage, rate, channels, stems))
        return steps, rate, channels, out_stems

    # -- running -------------------------------------------------------------------------
    def output_sample_rate(self, input_sample_rate: int, requested: int | None = None) -> int:
        """The rate of the output: as requested, else the pipeline's, else the input's."""
        return requested or self.sample_rate or input_sample_rate

    def _execute(self, steps: list[_Step], source: _Source, sink: Callable[[torch.Tensor], None],
                 progress: Progress | None, temp_dir: str | None,
                 on_pass: PassCallback | None = None) -> list[dict[str, Any]]:
        segments: list[list[_Step]] = [[]]
        for step in steps:
            if step.analysis_stage is not None and segments[-1]:
                segments.append([])
            segments[-1].append(step)
        num_passes = len(segments) + sum(1 for seg in segments if seg[0].analysis_stage is not None)
        done_passes = 0
        spools: list[_Spool] = []

        def announce(kind: str, segment: list[_Step], num_samples: int) -> None:
            if on_pass is not None:
                names = (segment[0].analysis_stage.name,) if kind == "analysis" else \
                    tuple(step.stage.name for step in segment if isinstance(step, (_StageStep, _StemStep)))
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
                if head.analysis_stage is not None:
                    for _ in range(MAX_ANALYSIS_PASSES):
                        announce("analysis", segment, current.num_samples)
                        for block in counted(current.blocks(), current.num_samples):
                            head.analyze(block)
                        head.end_analysis()
                        done_passes += 1
                        if not head.analysis_stage.finish_analysis():
                            break
                        num_passes += 1
                    head.history.update(head.analysis_stage.describe())  # what the analysis settled
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
                    if len(spools) > 1:  # the spool this segment read is spent: its memory or file goes now
                        spools[-2].cleanup()
                done_passes += 1
        finally:
            for spool in spools:
                spool.cleanup()
        return [step.history for step in steps]

    def process(self, signal: Signal, *, output_sample_rate: int | None = None,
                progress: Progress | None = None, on_pass: PassCallback | None = None) -> Signal | Stems:
        """Run a whole in-memory signal; returns the output with its history (Stems, each
        with the history, when the pipeline ends with stems: :attr:`output_stems`).

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
        stems = self.output_stems
        outputs = audio.chunk(len(stems)) if stems else (audio,)
        results = []
        for part in outputs:
            out = signal.replace(part.contiguous(), rate)
            for entry in history:
                out = out.with_history(**entry)
            results.append(out.with_history("pipeline", name=self.name))
        return Stems(dict(zip(stems, results))) if stems else results[0]

    def run_file(self, input_path: str | Path, output_path: str | Path, *,
                 output_sample_rate: int | None = None, subtype: str | None = None,
                 progress: Progress | None = None, temp_dir: str | None = None,
                 on_pass: PassCallback | None = None, overwrite: bool = True) -> list[dict[str, Any]]:
        """Stream a file through the pipeline into an atomically written output file
        (``progress`` and ``on_pass`` as in :meth:`process`; ``overwrite=False``: fail rather
        than replace a file that appeared meanwhile)."""
        if self.output_stems:
            raise StageError(f"pipeline {self.name} ends with stems ({', '.join(self.output_stems)}); "
                             "write them with run_stems_file (aural run --stems)")
        return self._run_file_into(input_path, {"": Path(output_path)}, output_sample_rate, subtype, progress,
                                   temp_dir, on_pass, overwrite)

    def run_stems_file(self, input_path: str | Path, outputs: dict[str, str | Path], *,
                       output_sample_rate: int | None = None, subtype: str | None = None,
                       progress: Progress | None = None, temp_dir: str | None = None,
                       on_pass: PassCallback | None = None, overwrite: bool = True) -> list[dict[str, Any]]:
        """Like :meth:`run_file` for a pipeline that ends with stems: ``outputs`` maps each
        stem name (:attr:`output_stems`) to its file, each written atomically."""
        stems = self.output_stems
        if not stems:
            raise StageError(f"pipeline {self.name} ends with a signal, not stems")
        if set(outputs) != set(stems):
            raise ValueError(f"outputs must name the stems {', '.join(stems)}, got {', '.join(outputs)}")
        return self._run_file_into(input_path, {name: Path(outputs[name]) for name in stems}, output_sample_rate,
                                   subtype, progress, temp_dir, on_pass, overwrite)

    def _run_file_into(self, input_path: str | Path, outputs: dict[str, Path], output_sample_rate: int | None,
                       subtype: str | None, progress: Progress | None, temp_dir: str | None,
                       on_pass: PassCallback | None, overwrite: bool) -> list[dict[str, Any]]:
        facts = io.info(input_path)
        source = _Source(lambda: io.iter_blocks(input_path), facts.sample_rate,
                         facts.num_channels, facts.num_frames)
        steps = self.plan(facts.sample_rate, facts.num_channels, output_sample_rate)
        out_rate = self.output_sample_rate(facts.sample_rate, output_sample_rate)
        out_channels = _steps_output_rows(steps, facts.num_channels) // len(outputs)
        with ExitStack() as stack:
            writers = [stack.enter_context(io.AudioWriter(path, out_rate, out_channels, subtype=subtype, seed=seed,
                                                          overwrite=overwrite))
                       for seed, path in enumerate(outputs.values())]  # stems get independent dither

            def sink(audio: torch.Tensor) -> None:
                for writer, part in zip(writers, audio.split(out_channels)):
                    writer.write(part)

            history = self._execute(steps, source, sink, progress, temp_dir, on_pass)
        return history


def _steps_output_rows(steps: list[_Step], num_channels: int) -> int:
    rows = num_channels
    for step in steps:
        rows = step.out_rows or rows
    return rows


def _segment_output(segment: list[_Step], source: _Source) -> tuple[int, int]:
    rate, rows = source.sample_rate, source.num_channels
    for step in segment:
        if isinstance(step, _ResampleStep):
            rate = step._resampler.to_sample_rate
        rows = step.out_rows or rows
    return rate, rows


def load_pipeline(name_or_path: str | Path, overrides: Sequence[str] = ()) -> Pipeline:
    """Validate a pipeline file (or built-in name), with ``--set`` ``overrides``
    (``STAGE.PARAM=VALUE``), and build its stages (loading weights)."""
    return Pipeline.from_spec(load_pipeline_spec(name_or_path, overrides))

