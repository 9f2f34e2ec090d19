"""Side-by-side benchmark: aural pipelines and other systems on the same paired files.

``run_bench`` runs every system (:mod:`aural.systems`) on every input file of a pairs
folder (``phone/`` + ``studio/``, or ``degraded/`` + ``reference/``, matched by relative path
without extension; or one folder per pair, see :mod:`aural.evaluate.pairs`), scores each
output against its reference with :func:`aural.evaluate.score_signals` and collects one
table: rows are systems, columns the mean of each metric over files and the real-time
factor. When the folder comes from ``aural data simulate`` (a ``manifest.jsonl`` beside
``phone/``), the same table is also made per degradation ``profile``. With ``inputs=True``
the folder is a plain folder of recordings without references (:func:`find_inputs`), scored
by the metrics that need none (DNSMOS at -25 dBFS RMS, SRMR, bandwidth, loudness, clipping).
``max_files`` samples across profiles, and evenly over the sorted names within each
(:func:`sample_pairs`), rather than taking the first files alphabetically. With a ``baseline``
(one of the systems) every other system is also compared with it file by file, overall and per
profile (:meth:`BenchResult.differences`, :mod:`aural.evaluate.paired`).

Timing: ``RTF = processing seconds / audio seconds`` (wall clock, summed over files; the CPU
time of the process gives a second column, ``cpu rtf``, that a busy machine does not inflate), with
one thread unless ``threads`` (``--threads``, ``$AURAL_THREADS``) says otherwise:
:func:`aural.threads.limit_threads` sets torch, ``OMP/MKL/OPENBLAS/... _NUM_THREADS`` and, where
``threadpoolctl`` is installed, BLAS pools. Timed: ``System.process`` only,
including the system's own resampling to and from its native rate. Not timed: reading files,
model loading (``load_s`` in the JSON), per-call state creation (``System.prepare``), a 0.5 s
warm-up run per system, scoring.

Outputs in ``out_dir``: ``bench.md``, ``bench.csv`` and ``bench.json`` (the table, per
profile too), and per system ``systems/<name>/`` with the evaluate outputs (``scores.csv``,
``summary.json``, ``summary.md``, ``report.html``) from :func:`aural.evaluate.write_outputs`.
A system that is unavailable or fails to load is reported in one line and left out; a
system that fails on a file is reported in one line and the run goes on.
"""

from __future__ import annotations

import csv
import io as text_io
import json
import math
import os
import platform
import re
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence, TypeVar

import numpy as np
import torch

from aural import __version__, io
from aural.errors import AuralError, UsageError
from aural.evaluate import Row, columns, paired, score_row, write_outputs
from aural.evaluate.paired import PairedDifference
from aural.evaluate.pairs import match_pairs, stems
from aural.evaluate.scoring import resolve_metrics
from aural.evaluate.summary import direction, format_value, output_folder, write_atomic
from aural.metrics import package_versions
from aural.signal import Signal
from aural.systems import BASELINES, System, get_system_class, get_system
from aural.systems.probe import voiced
from aural.threads import configured_threads, limit_threads

Echo = Callable[[str], None]
Checked = TypeVar("Checked")

DEFAULT_SYSTEMS = BASELINES
MANIFEST = "manifest.jsonl"
WARMUP_S = 0.5
OUTPUT_FILES = ("bench.md", "bench.csv", "bench.json")
TIMING = ("RTF = processing seconds / audio seconds (summed over files; rtf: wall clock, cpu rtf: "
          "process CPU time, which other load on the machine does not inflate), {threads} "
          "(torch.set_num_threads({count}), OMP/MKL/OpenBLAS threads {count}); timed: System.process incl. "
          "its resampling; not timed: file reading, model loading, per-call state creation, "
          f"a {WARMUP_S:g} s warm-up, scoring")


def timing_note(threads: int) -> str:
    """How the RTF columns were measured, with ``threads`` compute threads."""
    return TIMING.format(threads="one thread" if threads == 1 else f"{threads} threads", count=threads)


# -- inputs ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class BenchPair:
    file: str                 # relative path without extension (the row name)
    degraded: Path
    reference: Path | None    # None: a recording without a reference
    profile: str | None = None


def find_inputs(folder: str | Path) -> list[BenchPair]:
    """Every recording below ``folder`` (sorted), without references."""
    files = stems(Path(folder), "inputs")
    return [BenchPair(name, path, None) for name, path in sorted(files.items())]


def sample_pairs(pairs: Sequence[BenchPair], max_files: int) -> list[BenchPair]:
    """At most ``max_files`` pairs spread over the profiles (each gets its share of the budget,
    largest remainders first, at least one while the budget lasts) and, within a profile,
    evenly over the sorted names, so every name prefix (dataset, speaker) is represented.
    Deterministic; returned in the original order."""
    if max_files >= len(pairs):
        return list(pairs)
    groups: dict[str | None, list[BenchPair]] = {}
    for pair in pairs:
        groups.setdefault(pair.profile, []).append(pair)
    shares = {key: max_files * len(members) / len(pairs) for key, members in groups.items()}
    counts = {key: min(len(groups[key]), int(share)) for key, share in shares.items()}
    by_need = sorted(groups, key=lambda key: (counts[key] > 0, -(shares[key] - int(shares[key])), str(key)))
    while sum(counts.values()) < max_files:
        for key in by_need:
            if sum(counts.values()) < max_files and counts[key] < len(groups[key]):
                counts[key] += 1
    chosen = set()
    for key, members in groups.items():
        count = counts[key]
        chosen.update(members[int((j + 0.5) * len(members) / count)].file for j in range(count))
    return [pair for pair in pairs if pair.file in chosen]


def find_pairs(pairs_dir: str | Path, *, echo: Echo = print) -> list[BenchPair]:
    """Matched pairs of ``pairs_dir``, sorted, with their manifest profile when there is one."""
    pairs_dir = Path(pairs_dir)
    matching, input_label = match_pairs(pairs_dir)
    if message := matching.unmatched_message(input_label):
        echo(f"{pairs_dir}: {message}")
    profiles = read_profiles(pairs_dir, input_label, echo=echo)
    return [BenchPair(p.file, p.degraded, p.reference, profiles.get(p.file)) for p in matching.pairs]


def read_profiles(pairs_dir: Path, input_name: str, *, echo: Echo = print) -> dict[str, str]:
    """``{pair file: profile}`` from ``pairs_dir/manifest.jsonl`` (``aural data simulate``).

    An entry names its input file as ``"phone": "phone/<rel>"`` (or under the input folder's
    name); entries without a profile, or lines that are not JSON, are skipped with one notice.
    """
    path = pairs_dir / MANIFEST
    if not path.is_file():
        return {}
    profiles: dict[str, str] = {}
    bad = 0
    with open(path, encoding="utf-8") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                rel, profile = entry.get(input_name) or entry.get("phone"), entry.get("profile")
            except (json.JSONDecodeError, AttributeError):
                bad += 1
                continue
            if not isinstance(rel, str) or not isinstance(profile, str):
                bad += 1
                continue
            rel_path = Path(rel)
            if rel_path.parts and rel_path.parts[0] == input_name:
                rel_path = Path(*rel_path.parts[1:])
            profiles[rel_path.with_suffix("").as_posix()] = profile
    if bad:
        echo(f"{path}: {bad} line{'s' if bad != 1 else ''} without a usable input path and profile, ignored")
    return profiles


# -- results --------------------------------------------------------------------------------
@dataclass
class SystemRun:
    """One system's outcome over the files."""

    spec: str
    info: dict[str, Any] = field(default_factory=dict)
    reason: str = ""                               # why it did not run ("" when it ran)
    load_s: float = 0.0
    rows: list[Row] = field(default_factory=list)  # one evaluate Row per scored file
    failed: dict[str, str] = field(default_factory=dict)
    process_s: float = 0.0
    cpu_s: float = 0.0
    audio_s: float = 0.0
    timing: dict[str, tuple[float, float, float]] = field(default_factory=dict)  # file -> (wall, cpu, audio)

    @property
    def ran(self) -> bool:
        return not self.reason

    def add_time(self, name: str, wall_s: float, cpu_s: float, audio_s: float) -> None:
        """Record the processing time of one file (or mixture) ``name``."""
        self.timing[name] = (wall_s, cpu_s, audio_s)
        self.process_s += wall_s
        self.cpu_s += cpu_s
        self.audio_s += audio_s

    def rtf(self, files: set[str] | None = None, cpu: bool = False) -> float | None:
        picked = [t for f, t in self.timing.items() if files is None or f in files]
        audio = sum(t[2] for t in picked)
        if not picked or audio <= 0:
            return None
        return sum(t[1 if cpu else 0] for t in picked) / audio


@dataclass
class BenchResult:
    pairs_dir: str
    metric_names: list[str]
    pairs: list[BenchPair]
    runs: list[SystemRun]
    skipped: dict[str, str] = field(default_factory=dict)   # file -> why no system saw it
    threads: dict[str, Any] = field(default_factory=dict)
    reference_free: bool = False                            # recordings without references
    baseline: str | None = None                             # the system the others are compared with, file by file
    _differences: dict[tuple[str | None, int], dict[str, dict[str, PairedDifference | None]]] = field(
        default_factory=dict, init=False, repr=False, compare=False)  # (profile, scored rows) -> differences: resampled once

    @property
    def profiles(self) -> list[str]:
        return sorted({p.profile for p in self.pairs if p.profile})

    @property
    def num_failed(self) -> int:
        return len(self.skipped) + sum(len(run.failed) for run in self.runs)

    @property
    def exit_code(self) -> int:
        return 1 if self.num_failed else 0

    def files(self, profile: str | None = None) -> set[str]:
        return {p.file for p in self.pairs if profile is None or p.profile == profile}

    def table(self, profile: str | None = None) -> list[dict[str, Any]]:
        """One dict per system that ran: ``system``, each metric's mean, ``rtf``, counts."""
        files = self.files(profile)
        table = []
        for run in self.runs:
            if not run.ran:
                continue
            rows = [row for row in run.rows if row.file in files]
            entry: dict[str, Any] = {"system": run.spec}
            for name in self.metric_names:
                values = [row.values[name] for row in rows if name in row.values]
                entry[name] = statistics.fmean(values) if values else None
                entry[f"{name}_count"] = len(values)
            entry["rtf"] = run.rtf(files)
            entry["rtf_cpu"] = run.rtf(files, cpu=True)
            entry["files"] = len(rows)
            entry["failed"] = sum(1 for f in run.failed if f in files)
            table.append(entry)
        return table

    def differences(self, profile: str | None = None) -> dict[str, dict[str, PairedDifference | None]]:
        """Per system that ran (the baseline aside), per metric: the paired difference from the
        baseline over the files of ``profile`` (:func:`aural.evaluate.paired.differences`); empty
        without a baseline, or when the baseline did not run. The printed tables, ``bench.md`` and
        ``bench.json`` share one computation (the bootstrap is the costly part)."""
        key = (profile, sum(len(run.rows) for run in self.runs))
        if key not in self._differences:
            scores = {run.spec: {row.file: row.values for row in run.rows} for run in self.runs if run.ran}
            meta = _metric_meta(self.metric_names)
            self._differences[key] = {} if self.baseline not in scores else paired.differences(
                scores, self.baseline, self.metric_names,
                {name: meta[name]["higher_is_better"] for name in self.metric_names}, self.files(profile))
        return self._differences[key]


# -- running --------------------------------------------------------------------------------
def check_systems(specs: Sequence[str]) -> list[str]:
    """Validate names before any work: unknown ones raise a usage error listing every name."""
    specs = [spec.strip() for spec in specs if spec.strip()]
    if not specs:
        raise UsageError("--systems: give at least one system name")
    duplicates = sorted({s for s in specs if specs.count(s) > 1})
    if duplicates:
        raise UsageError(f"--systems: {', '.join(duplicates)} given more than once")
    for spec in specs:
        if spec == "pipeline:":
            raise UsageError("--systems: pipeline: needs a pipeline name or path (pipeline:phone_to_studio)")
        if spec.startswith("stage:"):
            _check_stage_name(spec[len("stage:"):])
        get_system_class(spec)
    return specs


def _check_stage_name(spec: str) -> None:
    from aural.registry import close_matches
    from aural.stages import STAGES

    name, at, weights = spec.partition("@")
    if at and not weights:
        raise UsageError(f"--systems: stage:{spec} names no weights after '@' (stage:{name}@<preset or path>)")
    if name not in STAGES:
        raise UsageError(f"--systems: unknown stage {name!r} in stage:{name}{close_matches(name, STAGES.names())}; "
                         f"stages: {', '.join(STAGES.names())}")


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    text = text.splitlines()[0] if text else ""
    return text if isinstance(exc, AuralError) and text else f"{type(exc).__name__}: {text}".rstrip(": ")


def _start(spec: str, echo: Echo) -> tuple[System | None, SystemRun]:
    """Create, check, load and warm up one system; unavailable ones get a reason."""
    run = SystemRun(spec)
    try:
        cls = get_system_class(spec)
        ok, reason = cls.available()
        if not ok:
            run.reason = reason
        else:
            system = get_system(spec)
            started = time.perf_counter()
            system.load()
            run.load_s = time.perf_counter() - started
            probe = Signal(torch.from_numpy(voiced(48000, WARMUP_S))[None], 48000)
            system.process(probe)
            run.info = system.describe()
            return system, run
    except Exception as exc:  # a broken optional package must not stop the bench
        run.reason = f"failed to start: {_one_line(exc)}"
    echo(f"{spec}: unavailable: {run.reason}")
    return None, run


def _check_output(source: Signal, output: Any) -> Signal:
    if not isinstance(output, Signal):
        raise RuntimeError(f"returned {type(output).__name__}, not a Signal")
    expected = round(source.num_samples * output.sample_rate / source.sample_rate)
    if abs(output.num_samples - expected) > 1:
        raise RuntimeError(f"returned {output.num_samples} samples at {output.sample_rate} Hz "
                           f"for {source.num_samples} at {source.sample_rate} Hz")
    if not bool(torch.isfinite(output.audio).all()):
        raise RuntimeError("returned non-finite samples")
    return output


def safe_name(spec: str) -> str:
    """A folder name for a system spec (``pipeline:a/b.yaml`` -> ``pipeline_b``)."""
    if spec.startswith("pipeline:") and ("/" in spec or spec.endswith((".yaml", ".yml"))):
        spec = "pipeline_" + Path(spec.split(":", 1)[1]).stem
    return re.sub(r"[^A-Za-z0-9._-]+", "_", spec).strip("_") or "system"


def folder_names(specs: Sequence[str]) -> dict[str, str]:
    """``{spec: folder name}``, unique (``pipeline_a``, ``pipeline_a-2`` for two ``a.yaml``)."""
    names: dict[str, str] = {}
    for spec in specs:
        base = name = safe_name(spec)
        count = 1
        while name in names.values():
            count += 1
            name = f"{base}-{count}"
        names[spec] = name
    return names


def run_bench(pairs_dir: str | Path, system_specs: Sequence[str] = DEFAULT_SYSTEMS,
              metric_names: Sequence[str] | None = None, *, max_files: int | None = None,
              save_audio_dir: str | Path | None = None, echo: Echo = print,
              progress: Callable[[int, int], None] | None = None, inputs: bool = False,
              threads: int | None = None, baseline: str | None = None) -> BenchResult:
    """Run ``system_specs`` on the inputs of ``pairs_dir`` and score them (see module doc).

    ``inputs``: ``pairs_dir`` is a plain folder of recordings without references.
    ``threads``: compute threads while timing (default: the process setting, see
    :func:`aural.threads.configured_threads`: ``--threads``, ``$AURAL_THREADS``, else 1).
    ``baseline``: one of the systems, which the others are compared with file by file
    (:meth:`BenchResult.differences`).
    """
    from aural.metrics import reference_free_metric_names

    specs = check_systems(system_specs)
    baseline = baseline.strip() if baseline is not None else None
    if baseline is not None and baseline not in specs:
        raise UsageError(f"--baseline {baseline}: not one of --systems ({','.join(specs)})")
    stem_systems = [spec for spec in specs if get_system_class(spec).stems]
    if stem_systems:
        raise UsageError(f"--systems: {', '.join(stem_systems)} separate{'s' if len(stem_systems) == 1 else ''} "
                         "stems; bench on a separation folder (DIR/<item>/mixture.wav with voice.wav, "
                         "background.wav, ...: aural data mix makes one)")
    if inputs:
        metrics = resolve_metrics(metric_names or reference_free_metric_names())
        names = [metric.name for metric in metrics]
        needing = [metric.name for metric in metrics if metric.intrusive]
        if needing:
            raise UsageError(f"--metrics {','.join(needing)}: need a reference, which --inputs folders lack; "
                             f"use {','.join(reference_free_metric_names())}")
        pairs = find_inputs(pairs_dir)
    else:
        names = [metric.name for metric in resolve_metrics(metric_names)]
        pairs = find_pairs(pairs_dir, echo=echo)
    if max_files is not None:
        pairs = sample_pairs(pairs, max_files)
    result = BenchResult(str(pairs_dir), names, pairs, [], reference_free=inputs, baseline=baseline)
    with limit_threads(threads or configured_threads()) as thread_info:
        result.threads = thread_info
        systems: list[tuple[System | None, SystemRun]] = [_start(spec, echo) for spec in specs]
        result.runs = [run for _, run in systems]
        folders = folder_names(specs)
        for index, pair in enumerate(pairs):
            try:
                reference = io.read(pair.reference) if pair.reference is not None else None
                source = io.read(pair.degraded)
            except AuralError as exc:
                result.skipped[pair.file] = _one_line(exc)
                echo(result.skipped[pair.file])
                continue
            for system, run in systems:
                if system is not None:
                    audio_dir = Path(save_audio_dir) / folders[run.spec] if save_audio_dir else None
                    _run_one(system, run, pair, source, reference, names, audio_dir, echo)
            if progress:
                progress(index + 1, len(pairs))
        for system, _ in systems:
            if system is not None:
                system.close()
    return result


def timed_process(system: System, run: SystemRun, name: str, source: Signal, source_path: Path,
                  check: Callable[[Any], Checked], echo: Echo) -> Checked | None:
    """``check(system.process(source))``, with the time of ``process`` alone (after ``prepare``)
    added to ``run`` under ``name``. Any error is recorded as ``run.failed[name]`` in one line,
    echoed, and gives None."""
    try:
        system.prepare(source.num_channels)
        wall_s, cpu_s = time.perf_counter(), time.process_time()
        output = system.process(source)
        wall_s, cpu_s = time.perf_counter() - wall_s, time.process_time() - cpu_s
        checked = check(output)
    except Exception as exc:
        run.failed[name] = f"{run.spec} on {source_path}: {_one_line(exc)}"
        echo(run.failed[name])
        return None
    run.add_time(name, wall_s, cpu_s, source.duration_s)
    return checked


def _run_one(system: System, run: SystemRun, pair: BenchPair, source: Signal, reference: Signal | None,
             names: list[str], audio_dir: Path | None, echo: Echo) -> None:
    output = timed_process(system, run, pair.file, source, pair.degraded,
                           lambda output: _check_output(source, output), echo)
    if output is None:
        return
    run.rows.append(score_row(pair.file, reference, output, names, estimate_label=run.spec, input=source))
    if audio_dir is not None:
        target = audio_dir / f"{pair.file}.wav"
        target.parent.mkdir(parents=True, exist_ok=True)
        io.write(output, target, subtype="FLOAT")


# -- reports --------------------------------------------------------------------------------
def _metric_meta(names: Sequence[str]) -> dict[str, dict[str, Any]]:
    from aural.metrics import get_metric

    return {name: {"higher_is_better": get_metric(name).higher_is_better, "unit": get_metric(name).unit}
            for name in names}


def _header(result: BenchResult) -> list[str]:
    meta = _metric_meta(result.metric_names)
    return (["system"] + [f"{n} {direction(meta[n]['higher_is_better'])}".strip() for n in result.metric_names]
            + ["rtf ↓", "cpu rtf ↓", "files"])


def _cells(result: BenchResult, entry: dict[str, Any]) -> list[str]:
    cells = [f"`{entry['system']}`"]
    for name in result.metric_names:
        text = format_value(entry[name])
        if entry[name] is not None and entry[f"{name}_count"] < entry["files"]:
            text += f" ({entry[f'{name}_count']})"
        cells.append(text)
    for key in ("rtf", "rtf_cpu"):
        cells.append("–" if entry[key] is None else f"{entry[key]:.4f}")
    cells.append(f"{entry['files']}" + (f" ({entry['failed']} failed)" if entry["failed"] else ""))
    return cells


def markdown_table(result: BenchResult, profile: str | None = None) -> str:
    """The systems x metrics table as markdown (means over files; ``(n)`` where fewer files)."""
    header = _header(result)
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    lines += ["| " + " | ".join(_cells(result, e)) + " |" for e in result.table(profile)]
    return "\n".join(lines)


def _with_differences(result: BenchResult, profile: str | None = None) -> str:
    """The table of ``profile`` and, with a baseline that ran, the differences from it."""
    table = markdown_table(result, profile)
    differences = result.differences(profile)
    if not differences:
        return table
    return f"{table}\n\n{paired.differences_markdown(differences, result.baseline, result.metric_names)}"


def tables_markdown(result: BenchResult) -> str:
    """The overall table and, for simulated pairs, one per profile (what the CLI prints); each
    followed by the differences from the baseline when there is one."""
    parts = [_with_differences(result)]
    for profile in result.profiles:
        count = len(result.files(profile))
        parts.append(f"profile `{profile}` ({count} file{'s' if count != 1 else ''}):\n\n"
                     + _with_differences(result, profile))
    return "\n\n".join(parts)


def _timed_threads(result: BenchResult) -> int:
    return int(result.threads.get("torch_threads", 1))


def bench_markdown(result: BenchResult) -> str:
    num_files = len(result.pairs) - len(result.skipped)
    lines = ["# aural bench", "",
             f"{num_files} {'recordings (no references)' if result.reference_free else 'file pairs'} from "
             f"`{result.pairs_dir}`; metric columns are means over files "
             "(`(n)`: fewer files had a value), ↑ higher is better, ↓ lower is better.",
             f"{timing_note(_timed_threads(result))}.", "", _with_differences(result)]
    for profile in result.profiles:
        lines += ["", f"## Profile `{profile}` ({len(result.files(profile))} files)", "",
                  _with_differences(result, profile)]
    not_run = [run for run in result.runs if not run.ran]
    if not_run:
        lines += ["", "## Not run", ""] + [f"- `{run.spec}`: {run.reason}" for run in not_run]
    failures = list(result.skipped.values()) + [m for run in result.runs for m in run.failed.values()]
    if failures:
        lines += ["", "## Failures", ""] + [f"- {message}" for message in failures]
    lines += ["", "## Systems", ""]
    for run in result.runs:
        if not run.ran:
            continue
        info = run.info
        versions = ", ".join(f"{k} {v}" for k, v in info.get("versions", {}).items()) or "–"
        rate = f"{info['native_sample_rate']} Hz" if info.get("native_sample_rate") else "input rate"
        lines.append(f"- `{run.spec}`: {info.get('summary', '')}; runs at {rate}; delay "
                     f"{info.get('latency_samples', 0)} samples compensated; load {run.load_s:.2f} s "
                     f"(not timed); {versions}")
    missing = {}
    for run in result.runs:
        for row in run.rows:
            for name, reason in row.reasons.items():
                missing.setdefault((run.spec, name, reason), []).append(row.file)
    if missing:
        lines += ["", "## Missing values", ""]
        lines += [f"- `{spec}` `{name}` ({len(files)} files): {reason}"
                  for (spec, name, reason), files in sorted(missing.items())]
    lines += ["", "## Package versions", ""]
    lines += [f"- {package} {version}" for package, version in package_versions(result.metric_names).items()]
    return "\n".join(lines) + "\n"


def bench_csv(result: BenchResult) -> str:
    """``profile,system,<metrics>,rtf,rtf_cpu,files,failed``; profile ``all`` is the main table."""
    buffer = text_io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    fields = [*result.metric_names, "rtf", "rtf_cpu", "files", "failed"]
    writer.writerow(["profile", "system", *fields])
    for profile in [None, *result.profiles]:
        for entry in result.table(profile):
            writer.writerow([profile or "all", entry["system"],
                             *("" if entry[f] is None else repr(entry[f]) for f in fields)])
    return buffer.getvalue()


def bench_json(result: BenchResult) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    return {
        "aural_version": __version__,
        "pairs_dir": result.pairs_dir,
        "reference_free": result.reference_free,
        "num_files": len(result.pairs),
        "metrics": result.metric_names,
        "metric_info": _metric_meta(result.metric_names),
        "timing": timing_note(_timed_threads(result)),
        "threads": result.threads,
        "machine": {"platform": platform.platform(), "processor": platform.processor(),
                    "python": platform.python_version(), "torch": torch.__version__,
                    "numpy": np.__version__, "cpu_count": os.cpu_count()},
        "table": [{k: clean(v) for k, v in e.items()} for e in result.table()],
        "profiles": {p: [{k: clean(v) for k, v in e.items()} for e in result.table(p)]
                     for p in result.profiles},
        "files": {p.file: p.profile for p in result.pairs},
        "baseline": result.baseline,
        "differences": _differences_json(result),
        "systems": {run.spec: {
            "ran": run.ran, "reason": run.reason or None, "info": run.info, "load_s": run.load_s,
            "process_s": run.process_s, "cpu_s": run.cpu_s, "audio_s": run.audio_s,
            "rtf": run.rtf(), "rtf_cpu": run.rtf(cpu=True),
            "failed": run.failed,
            "scores": {row.file: row.values for row in sorted(run.rows, key=lambda r: r.file)},
        } for run in result.runs},
        "skipped": result.skipped,
        "package_versions": package_versions(result.metric_names),
    }


def _differences_json(result: BenchResult) -> dict[str, Any]:
    """``{profile or "all": {system: {metric: difference fields and verdict, or None}}}``."""
    def fields(difference: PairedDifference | None) -> dict[str, Any] | None:
        return None if difference is None else {**asdict(difference), "verdict": difference.verdict}

    if not result.differences():
        return {}
    return {profile or "all": {spec: {name: fields(d) for name, d in cells.items()}
                               for spec, cells in result.differences(profile).items()}
            for profile in [None, *result.profiles]}


def write_reports(result: BenchResult, out_dir: str | Path) -> list[Path]:
    """Write bench.md/.csv/.json and per-system evaluate outputs; returns the bench files."""
    out_dir = output_folder(out_dir)
    write_atomic(out_dir / "bench.md", bench_markdown(result))
    write_atomic(out_dir / "bench.csv", bench_csv(result))
    write_atomic(out_dir / "bench.json", json.dumps(bench_json(result), indent=2, ensure_ascii=False) + "\n")
    metric_columns = columns(result.metric_names, pipeline=False)
    folders = folder_names([run.spec for run in result.runs])
    for run in result.runs:
        if run.ran:
            write_outputs(run.rows, out_dir / "systems" / folders[run.spec], metric_columns,
                          failed={**result.skipped, **run.failed},
                          context={"mode": "bench", "system": run.spec, "pairs_dir": result.pairs_dir},
                          title=f"aural bench: {run.spec}", report_max_files=0)
    return [out_dir / name for name in OUTPUT_FILES]
