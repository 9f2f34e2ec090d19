"""``aural bench`` on a separation folder: systems side by side, scored per stem.

The folder holds ``<item>/mixture.wav`` and the reference stems (see
:mod:`aural.evaluate.separation`). Every system runs on each mixture; its output becomes
stems (:func:`aural.evaluate.separation.to_stems`: a system returning one signal, such as
``deepfilternet3``, gives voice = output, background = mixture - output) and each
reference stem is scored with SI-SDR, SI-SDR improvement and BSS Eval SDR
(:mod:`aural.metrics.separation`). One table per stem: a row per system, the mean of each
metric over mixtures and the real-time factor (timed as in :mod:`aural.bench`: ``process``
only, one thread unless ``threads`` says otherwise).

Outputs in ``out_dir``: ``bench.md``, ``bench.csv`` (``stem,system,si_sdr,si_sdri,sdr,rtf,files,failed``),
``bench.json`` and ``systems/<name>/scores.csv`` (one row per mixture).
"""

from __future__ import annotations

import csv
import io as text_io
import json
import math
import platform
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

from aural import __version__, io
from aural.bench import (
    Echo, SystemRun, _one_line, _start, check_systems, folder_names, timed_process, timing_note)
from aural.errors import AuralError, UsageError
from aural.evaluate.separation import (
    COMPARISON, SeparationItem, column_names, column_summary, find_items, metric_notes, missing_lines,
    read_item, read_manifest, sample_items, score_item, stem_names, stem_table, to_stems)
from aural.evaluate.summary import format_value, output_folder, write_atomic, write_scores_csv
from aural.metrics.separation import SEPARATION_METRICS
from aural.systems import System
from aural.threads import configured_threads, limit_threads

DEFAULT_SYSTEMS = ("mixture", "deepfilternet3", "stage:separation")
OUTPUT_FILES = ("bench.md", "bench.csv", "bench.json")


@dataclass
class SeparationBenchResult:
    folder: str
    items: list[SeparationItem]
    stems: list[str]
    runs: list[SystemRun]
    metric_names: list[str] = field(default_factory=lambda: list(SEPARATION_METRICS))
    skipped: dict[str, str] = field(default_factory=dict)   # item -> why no system saw it
    threads: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 1 if self.skipped or any(run.failed for run in self.runs) else 0

    @property
    def ran(self) -> dict[str, list]:
        return {run.spec: run.rows for run in self.runs if run.ran}

    def rtf_cells(self) -> dict[str, dict[str, str]]:
        cells = {}
        for run in self.runs:
            if run.ran:
                rtf, cpu = run.rtf(), run.rtf(cpu=True)
                cells[run.spec] = {"rtf ↓": "–" if rtf is None else f"{rtf:.4f}",
                                   "cpu rtf ↓": "–" if cpu is None else f"{cpu:.4f}"}
        return cells


def run_separation_bench(folder: str | Path, system_specs: Sequence[str] = DEFAULT_SYSTEMS, *,
                         max_files: int | None = None, save_audio_dir: str | Path | None = None,
                         echo: Echo = print, progress: Callable[[int, int], None] | None = None,
                         threads: int | None = None,
                         metric_names: Sequence[str] | None = None) -> SeparationBenchResult:
    """Run ``system_specs`` on every mixture of ``folder`` and score each stem (see module doc)."""
    specs = check_systems(system_specs)
    metric_names = check_metrics(metric_names)
    items, skipped = find_items(folder)
    for line in skipped:
        echo(f"{folder}: skipped {line}")
    items = sample_items(items, max_files)
    result = SeparationBenchResult(str(folder), items, stem_names(items), [], metric_names)
    result.skipped = {line.split(":", 1)[0]: f"{folder}: skipped {line}" for line in skipped}
    with limit_threads(threads or configured_threads()) as thread_info:
        result.threads = thread_info
        systems: list[tuple[System | None, SystemRun]] = [_start(spec, echo) for spec in specs]
        result.runs = [run for _, run in systems]
        folders = folder_names(specs)
        for index, item in enumerate(items):
            try:
                mixture, references = read_item(item)
            except AuralError as exc:
                result.skipped[item.name] = _one_line(exc)
                echo(result.skipped[item.name])
                continue
            for system, run in systems:
                if system is not None:
                    audio_dir = Path(save_audio_dir) / folders[run.spec] / item.name if save_audio_dir else None
                    _run_one(system, run, item, mixture, references, result.metric_names, audio_dir, echo)
            if progress:
                progress(index + 1, len(items))
        for system, _ in systems:
            if system is not None:
                system.close()
    return result


def check_metrics(metric_names: Sequence[str] | None) -> list[str]:
    """The separation metrics asked for (all by default); others are a usage error."""
    if metric_names is None:
        return list(SEPARATION_METRICS)
    unknown = [name for name in metric_names if name not in SEPARATION_METRICS]
    if unknown or not metric_names:
        raise UsageError(f"--metrics {','.join(unknown)}: a separation folder is scored per stem with "
                         f"{', '.join(SEPARATION_METRICS)}")
    return list(dict.fromkeys(metric_names))


def _run_one(system: System, run: SystemRun, item: SeparationItem, mixture, references, metric_names,
             audio_dir: Path | None, echo: Echo) -> None:
    estimate = timed_process(system, run, item.name, mixture, item.mixture,
                             lambda output: _finite_stems(output, mixture), echo)
    if estimate is None:
        return
    run.rows.append(score_item(item.name, mixture, references, estimate, metric_names))
    if audio_dir is not None:
        audio_dir.mkdir(parents=True, exist_ok=True)
        for name, stem in estimate.items():
            io.write(stem, audio_dir / f"{name}.wav", subtype="FLOAT")


def _finite_stems(output, mixture):
    """The system's output as stems (:func:`aural.evaluate.separation.to_stems`), all finite."""
    estimate = to_stems(output, mixture)
    for name, stem in estimate.items():
        if not bool(stem.audio.isfinite().all()):
            raise RuntimeError(f"stem {name!r} holds non-finite samples")
    return estimate


# -- reports --------------------------------------------------------------------------------
def tables_markdown(result: SeparationBenchResult) -> str:
    """One table per stem (what the CLI prints)."""
    return "\n\n".join(f"stem `{stem}`:\n\n" + stem_table(result.ran, stem, result.metric_names, result.rtf_cells())
                       for stem in result.stems)


def bench_markdown(result: SeparationBenchResult, title: str = "aural bench: separation") -> str:
    scored = len(result.items) - len(result.skipped)
    lines = [f"# {title}", "",
             f"{scored} mixtures from `{result.folder}`; metric columns are means over mixtures "
             "(`(n)`: fewer had a value), ↑ higher is better. "
             f"{timing_note(int(result.threads.get('torch_threads', 1)))}.", ""]
    for stem in result.stems:
        lines += [f"## Stem `{stem}`", "", stem_table(result.ran, stem, result.metric_names, result.rtf_cells()), ""]
    not_run = [run for run in result.runs if not run.ran]
    if not_run:
        lines += ["## Not run", "", *(f"- `{run.spec}`: {run.reason}" for run in not_run), ""]
    failures = list(result.skipped.values()) + [m for run in result.runs for m in run.failed.values()]
    if failures:
        lines += ["## Failures", "", *(f"- {m}" for m in failures), ""]
    missing = missing_lines(result.ran, column_names(result.stems, result.metric_names))
    if missing:
        lines += ["## Missing values", "", *missing, ""]
    lines += ["## Systems", ""]
    for run in result.runs:
        if run.ran:
            versions = ", ".join(f"{k} {v}" for k, v in run.info.get("versions", {}).items()) or "–"
            lines.append(f"- `{run.spec}`: {run.info.get('summary', '')}; load {run.load_s:.2f} s (not timed); "
                         f"{versions}")
    lines += ["", "## How stems were compared", "", f"- {COMPARISON}.", *metric_notes(result.metric_names)]
    return "\n".join(lines) + "\n"


def bench_csv(result: SeparationBenchResult) -> str:
    buffer = text_io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["stem", "system", *result.metric_names, "rtf", "rtf_cpu", "files", "failed"])
    for stem in result.stems:
        for run in result.runs:
            if not run.ran:
                continue
            means = [column_summary(run.rows, f"{stem}_{m}")["mean"] for m in result.metric_names]
            writer.writerow([stem, run.spec, *("" if v is None else repr(v) for v in means),
                             *("" if v is None else repr(v) for v in (run.rtf(), run.rtf(cpu=True))),
                             len(run.rows), len(run.failed)])
    return buffer.getvalue()


def bench_json(result: SeparationBenchResult) -> dict[str, Any]:
    def clean(value: Any) -> Any:
        return None if isinstance(value, float) and not math.isfinite(value) else value

    columns = column_names(result.stems, result.metric_names)
    manifest = read_manifest(Path(result.folder))
    return {
        "aural_version": __version__, "mode": "separation", "pairs_dir": result.folder,
        "num_items": len(result.items), "stems": result.stems, "metrics": result.metric_names,
        "comparison": COMPARISON, "timing": timing_note(int(result.threads.get("torch_threads", 1))),
        "threads": result.threads, "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "systems": {run.spec: {
            "ran": run.ran, "reason": run.reason or None, "info": run.info, "load_s": run.load_s,
            "rtf": clean(run.rtf()), "rtf_cpu": clean(run.rtf(cpu=True)), "failed": run.failed,
            "columns": {c: column_summary(run.rows, c) for c in columns},
            "scores": {row.file: row.values for row in sorted(run.rows, key=lambda r: r.file)},
        } for run in result.runs},
        "skipped": result.skipped,
        "items": {item.name: manifest.get(item.name) for item in result.items} if manifest else None,
    }


def write_reports(result: SeparationBenchResult, out_dir: str | Path, title: str = "aural bench: separation") -> list[Path]:
    out_dir = output_folder(out_dir)
    write_atomic(out_dir / "bench.md", bench_markdown(result, title))
    write_atomic(out_dir / "bench.csv", bench_csv(result))
    write_atomic(out_dir / "bench.json", json.dumps(bench_json(result), indent=2, ensure_ascii=False) + "\n")
    columns = column_names(result.stems, result.metric_names)
    folders = folder_names([run.spec for run in result.runs])
    for run in result.runs:
        if run.ran:
            (out_dir / "systems" / folders[run.spec]).mkdir(parents=True, exist_ok=True)
            write_scores_csv(run.rows, out_dir / "systems" / folders[run.spec] / "scores.csv", columns)
    return [out_dir / name for name in OUTPUT_FILES]


__all__ = ["DEFAULT_SYSTEMS", "SeparationBenchResult", "bench_markdown", "format_value", "run_separation_bench",
           "tables_markdown", "write_reports"]
