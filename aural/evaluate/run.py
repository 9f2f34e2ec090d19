"""Run evaluations over folders: metrics in a process pool, partial results kept.

- :func:`evaluate_folders`: score existing degraded files against references.
- :func:`evaluate_recordings`: score the recordings of a folder without references
  (DNSMOS at -25 dBFS, effective bandwidth, loudness, true peak, clipping).
- :func:`evaluate_pipeline`: run a pipeline on the inputs of a pairs folder (``phone/`` +
  ``studio/``, ``degraded/`` + ``reference/``, or one folder per pair: see
  :mod:`aural.evaluate.pairs`) and score input and output against the references.

The pipeline runs in this process (models load once); metrics run in a pool of ``jobs``
worker processes (spawned, one thread each; ``jobs=1`` runs in-process). ``scores.csv``
is rewritten atomically after every finished file, so an interrupted run keeps what it
scored. A file that cannot be read or processed is reported as one line and skipped;
the run completes and :attr:`Outcome.exit_code` is 1.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import FIRST_COMPLETED, Executor, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol, Sequence

import numpy as np
import torch

from aural import io
from aural.errors import AuralError, StageError, UsageError
from aural.evaluate.align import MAX_LAG_S
from aural.evaluate.outputs import write_outputs
from aural.evaluate.pairs import Matching, match_folders, match_pairs, stems
from aural.evaluate.rows import Row, columns, pipeline_row, score_row, worst_first
from aural.evaluate.scoring import resolve_metrics
from aural.evaluate.summary import output_folder, write_scores_csv
from aural.signal import Signal
from aural.threads import available_cpus, set_threads

Echo = Callable[[str], None]
Progress = Callable[[int, int], None]


class PipelineLike(Protocol):
    name: str

    def process(self, signal: Signal) -> Signal: ...


def default_jobs() -> int:
    """Metric workers: one per CPU this process may use, at most 4 (one thread each)."""
    return min(4, available_cpus())


@dataclass
class Options:
    """What to compute and how much of it to put in the report."""

    metric_names: Sequence[str] | None = None  # None: every registered metric
    jobs: int | None = None                    # None: min(4, cpu count)
    max_lag_s: float = MAX_LAG_S
    report_max_files: int = 12
    report_seconds: float = 10.0
    report_sample_rate: int | None = None      # None: players at each file's own rate
    save_outputs: bool = False                 # pipeline mode: write OUT/outputs/<file>.wav


@dataclass
class Outcome:
    summary: dict[str, Any]
    failed: dict[str, str] = field(default_factory=dict)
    num_unmatched: int = 0

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.num_unmatched else 0


# -- workers --------------------------------------------------------------------------------
def _init_worker() -> None:
    set_threads(1)  # one thread per worker: torch, BLAS pools and OMP/MKL/... variables


def _score_files(file: str, reference_path: str | None, degraded_path: str, metric_names: list[str],
                 max_lag_s: float) -> Row:
    reference = io.read(reference_path) if reference_path is not None else None
    degraded = io.read(degraded_path)
    return score_row(file, reference, degraded, metric_names, max_lag_s=max_lag_s,
                     estimate_label="degraded" if reference is not None else "recording", input=degraded)


Packed = tuple[np.ndarray, int]


def _pack(signal: Signal) -> Packed:
    return signal.audio.numpy(), signal.sample_rate


def _unpack(packed: Packed) -> Signal:
    return Signal(torch.from_numpy(packed[0]), packed[1])


def _score_pipeline(file: str, reference: Packed, input: Packed, output: Packed,
                    metric_names: list[str], max_lag_s: float) -> Row:
    return pipeline_row(file, _unpack(reference), _unpack(input), _unpack(output), metric_names,
                        max_lag_s=max_lag_s)


class _InlineExecutor(Executor):
    """``jobs=1``: run each task at submit time in this process."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except Exception as exc:
            future.set_exception(exc)
        return future


def _executor(jobs: int) -> Executor:
    if jobs <= 1:
        return _InlineExecutor()
    return ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker)


def _one_line(file: str, exc: BaseException) -> str:
    if isinstance(exc, AuralError):
        message = str(exc)
    else:
        message = f"{file}: {type(exc).__name__}: {exc}"
    return message.strip().splitlines()[0] if message.strip() else f"{file}: {type(exc).__name__}"


class _Collector:
    """Finished rows and failures; rewrites scores.csv after each row."""

    def __init__(self, out_dir: Path, metric_columns: list[str], total: int, echo: Echo,
                 progress: Progress | None):
        self.rows: list[Row] = []
        self.failed: dict[str, str] = {}
        self.out_dir = out_dir
        self.columns = metric_columns
        self.total = total
        self.echo = echo
        self.progress = progress
        write_scores_csv([], out_dir / "scores.csv", metric_columns)

    def fail(self, file: str, exc: BaseException) -> None:
        self.failed[file] = _one_line(file, exc)
        self.echo(self.failed[file])
        self._tick()

    def collect(self, file: str, future: Future) -> None:
        try:
            row = future.result()
        except Exception as exc:
            self.fail(file, exc)
            return
        self.rows.append(row)
        write_scores_csv(self.rows, self.out_dir / "scores.csv", self.columns)
        self._tick()

    def _tick(self) -> None:
        if self.progress:
            self.progress(len(self.rows) + len(self.failed), self.total)


def _excerpt(path: Path, seconds: float) -> Signal:
    facts = io.info(path)
    return io.read(path, frames=min(facts.num_frames, int(round(seconds * facts.sample_rate))))


def _unmatched(matching: Matching, degraded_label: str) -> dict[str, list[str]]:
    unmatched = {"only in reference": matching.reference_only,
                 f"only in {degraded_label}": matching.degraded_only}
    if matching.skipped:
        unmatched["skipped folders"] = matching.skipped
    return unmatched


# -- entry points ---------------------------------------------------------------------------
def evaluate_folders(reference_dir: str | Path, degraded_dir: str | Path, out_dir: str | Path,
                     options: Options | None = None, *, echo: Echo = print,
                     progress: Progress | None = None) -> Outcome:
    """Score every degraded file against the reference file of the same name."""
    options = options or Options()
    names = [metric.name for metric in resolve_metrics(options.metric_names)]
    matching = match_folders(reference_dir, degraded_dir)
    if message := matching.unmatched_message():
        echo(f"{reference_dir} vs {degraded_dir}: {message}")
    out_dir = output_folder(out_dir)
    metric_columns = columns(names, pipeline=False)
    collector = _Collector(out_dir, metric_columns, len(matching.pairs), echo, progress)
    by_file = {pair.file: pair for pair in matching.pairs}
    _score_in_pool([(pair.file, str(pair.reference), str(pair.degraded)) for pair in matching.pairs],
                   names, options, collector)
    for row in worst_first(collector.rows, metric_columns)[:options.report_max_files]:
        pair = by_file[row.file]
        try:
            row.media = {"degraded": _excerpt(pair.degraded, options.report_seconds),
                         "reference": _excerpt(pair.reference, options.report_seconds)}
        except AuralError:
            row.media = None
    context = {"mode": "files", "reference_dir": str(reference_dir), "degraded_dir": str(degraded_dir)}
    summary = write_outputs(collector.rows, out_dir, metric_columns, failed=collector.failed,
                            unmatched=_unmatched(matching, "degraded"), context=context,
                            report_max_files=options.report_max_files,
                            report_seconds=options.report_seconds,
                            report_sample_rate=options.report_sample_rate)
    return Outcome(summary, collector.failed, matching.num_unmatched)


def evaluate_recordings(folder: str | Path, out_dir: str | Path, options: Options | None = None, *,
                        echo: Echo = print, progress: Progress | None = None) -> Outcome:
    """Score every recording below ``folder`` with metrics that need no reference (by
    default all of them: :func:`aural.metrics.reference_free_metric_names`)."""
    from aural.metrics import get_metric, reference_free_metric_names

    options = options or Options()
    names = [metric.name for metric in resolve_metrics(options.metric_names or reference_free_metric_names())]
    intrusive = [name for name in names if get_metric(name).intrusive]
    if intrusive:
        raise UsageError(f"{', '.join(intrusive)}: need{'s' if len(intrusive) == 1 else ''} a reference; "
                         f"without --reference use {', '.join(reference_free_metric_names())}")
    folder = Path(folder)
    files = stems(folder, "recordings")
    out_dir = output_folder(out_dir)
    collector = _Collector(out_dir, names, len(files), echo, progress)
    _score_in_pool([(file, None, str(path)) for file, path in files.items()], names, options, collector)
    for row in worst_first(collector.rows, names)[:options.report_max_files]:
        try:
            row.media = {"recording": _excerpt(files[row.file], options.report_seconds)}
        except AuralError:
            row.media = None
    context = {"mode": "recordings", "degraded_dir": str(folder)}
    summary = write_outputs(collector.rows, out_dir, names, failed=collector.failed, context=context,
                            title="aural evaluate: recordings without references",
                            report_max_files=options.report_max_files, report_seconds=options.report_seconds,
                            report_sample_rate=options.report_sample_rate)
    return Outcome(summary, collector.failed)


def _score_in_pool(tasks: list[tuple[str, str | None, str]], names: list[str], options: Options,
                   collector: _Collector) -> None:
    """Score ``(file, reference path or None, degraded path)`` tasks in the worker pool."""
    with _executor(options.jobs or default_jobs()) as executor:
        futures = {executor.submit(_score_files, file, reference, degraded, names, options.max_lag_s): file
                   for file, reference, degraded in tasks}
        pending = set(futures)
        while pending:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in sorted(done, key=lambda f: futures[f]):
                collector.collect(futures[future], future)


def evaluate_pipeline(pipeline: PipelineLike, pairs_dir: str | Path, out_dir: str | Path,
                      options: Options | None = None, *, echo: Echo = print,
                      progress: Progress | None = None) -> Outcome:
    """Run ``pipeline`` on each input of ``pairs_dir`` and score input, output and delta."""
    options = options or Options()
    names = [metric.name for metric in resolve_metrics(options.metric_names)]
    matching, input_label = match_pairs(pairs_dir)
    if message := matching.unmatched_message(input_label):
        echo(f"{pairs_dir}: {message}")
    out_dir = output_folder(out_dir)
    metric_columns = columns(names, pipeline=True)
    collector = _Collector(out_dir, metric_columns, len(matching.pairs), echo, progress)
    jobs = options.jobs or default_jobs()
    media: dict[str, dict[str, Signal]] = {}
    pipeline_name = str(getattr(pipeline, "name", type(pipeline).__name__))
    with _executor(jobs) as executor:
        pending: dict[Future, str] = {}
        for pair in matching.pairs:
            try:
                reference = io.read(pair.reference)
                source = io.read(pair.degraded)
                try:
                    output = pipeline.process(source)
                except AuralError:
                    raise
                except Exception as exc:
                    raise StageError(f"{pair.degraded}: pipeline {pipeline_name} failed: "
                                     f"{type(exc).__name__}: {exc}") from None
                if not isinstance(output, Signal) or output.num_samples == 0:
                    raise StageError(f"{pair.degraded}: pipeline {pipeline_name} returned no audio")
                if options.save_outputs:
                    target = out_dir / "outputs" / f"{pair.file}.wav"
                    target.parent.mkdir(parents=True, exist_ok=True)
                    io.write(output, target)
            except Exception as exc:
                collector.fail(pair.file, exc)
                continue
            if options.report_max_files:
                samples = lambda s: int(round(options.report_seconds * s.sample_rate))  # noqa: E731
                media[pair.file] = {"input": source.slice(0, samples(source)),
                                    "output": output.slice(0, samples(output)),
                                    "reference": reference.slice(0, samples(reference))}
                _keep_worst_media(media, collector.rows, metric_columns, options.report_max_files)
            future = executor.submit(_score_pipeline, pair.file, _pack(reference), _pack(source),
                                     _pack(output), names, options.max_lag_s)
            pending[future] = pair.file
            for done in sorted((f for f in pending if f.done()), key=lambda f: pending[f]):
                collector.collect(pending.pop(done), done)
            while len(pending) >= 2 * jobs:  # bound the audio waiting in memory
                _drain(pending, collector, FIRST_COMPLETED)
        while pending:
            _drain(pending, collector, FIRST_COMPLETED)
    for row in collector.rows:
        row.media = media.get(row.file)
    context = {"mode": "pipeline", "pipeline": pipeline_name, "pairs_dir": str(pairs_dir)}
    summary = write_outputs(collector.rows, out_dir, metric_columns, failed=collector.failed,
                            unmatched=_unmatched(matching, input_label), context=context,
                            report_max_files=options.report_max_files,
                            report_seconds=options.report_seconds,
                            report_sample_rate=options.report_sample_rate)
    return Outcome(summary, collector.failed, matching.num_unmatched)


def _keep_worst_media(media: dict[str, Any], rows: list[Row], metric_columns: list[str], keep: int) -> None:
    """Drop the excerpts of scored files that will not be among the ``keep`` worst in the
    report; files not yet scored keep theirs (memory stays bounded by ``keep`` plus the
    files waiting for their scores)."""
    scored = [row for row in worst_first(rows, metric_columns) if row.file in media]
    for row in scored[keep:]:
        del media[row.file]


def _drain(pending: dict[Future, str], collector: _Collector, when: str) -> None:
    done, _ = wait(list(pending), return_when=when)
    for future in sorted(done, key=lambda f: pending[f]):
        collector.collect(pending.pop(future), future)
