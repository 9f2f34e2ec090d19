"""Separation evaluation: folders of mixtures with their reference stems, scored per stem.

Layout (what ``aural data mix`` writes)::

    DIR/<item>/mixture.wav      the input
    DIR/<item>/voice.wav        one file per reference stem: voice/background for speech,
    DIR/<item>/background.wav   vocals/accompaniment for music (any names; *.flac etc. too)
    DIR/manifest.jsonl          optional: how each item was made

A folder is a separation folder when one of its sub-folders holds a ``mixture.*`` file.

A system's output becomes stems by :func:`to_stems`: :class:`~aural.stems.Stems` are used
as they are; a single Signal (a speech enhancer such as ``deepfilternet3``, or a
separation stage that returns only the voice) is the ``voice`` stem and the ``background``
is the mixture minus it (the residual). Each stem is brought to the mixture's rate, channel
count and length; stems are compared sample for sample (systems compensate their own delay,
so no alignment search) as mono mixdowns, at the mixture's rate. ``voice``/``vocals`` and
``background``/``accompaniment`` stand for each other. Metrics: :mod:`aural.metrics.separation`.
"""

from __future__ import annotations

import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from aural import io
from aural.dsp.resample import resample
from aural.errors import AuralError, StageError, UsageError
from aural.evaluate.rows import Row
from aural.evaluate.summary import format_value, write_atomic, write_scores_csv
from aural.io import AUDIO_EXTENSIONS
from aural.metrics.separation import CAP_DB, LABELS, SEPARATION_METRICS, SUMMARIES, score_stems
from aural.signal import Signal
from aural.stems import Stems
from aural.systems.base import fit_length

Echo = Callable[[str], None]
MIXTURE = "mixture"
MANIFEST = "manifest.jsonl"
ALIASES = {"voice": "vocals", "vocals": "voice", "background": "accompaniment", "accompaniment": "background"}
LAYOUT = "DIR/<item>/mixture.wav with one file per reference stem (voice.wav, background.wav, ...)"
COMPARISON = ("each estimated stem is brought to the mixture's rate, channels and length and compared sample "
              "for sample with its reference (no delay search: systems compensate their own delay), as mono "
              f"mixdowns at the mixture's rate; values clipped to +-{CAP_DB:g} dB; a silent reference stem has "
              "no value; a system giving one signal: voice = its output, background = mixture - output")


@dataclass(frozen=True)
class SeparationItem:
    name: str
    mixture: Path
    stems: dict[str, Path]  # reference stem name -> file


def _audio_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in AUDIO_EXTENSIONS
                  and not p.name.startswith("."))


def is_separation_folder(folder: str | Path) -> bool:
    """Whether ``folder`` has sub-folders holding a ``mixture.*`` file (see the module doc)."""
    folder = Path(folder)
    if not folder.is_dir():
        return False
    return any(sub.is_dir() and any(p.stem == MIXTURE for p in _audio_files(sub))
               for sub in folder.iterdir() if not sub.name.startswith("."))


def find_items(folder: str | Path) -> tuple[list[SeparationItem], list[str]]:
    """``(items sorted by name, "item: why skipped" lines)``; no item at all is a :class:`UsageError`."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: separation folder does not exist")
    items, skipped = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = _audio_files(sub)
        mixtures = [p for p in files if p.stem == MIXTURE]
        stems: dict[str, Path] = {}
        duplicate = None
        for path in files:
            if path.stem != MIXTURE:
                duplicate = duplicate or (path.stem in stems and path.stem)
                stems[path.stem] = path
        if len(mixtures) != 1:
            skipped.append(f"{sub.name}: {'no' if not mixtures else len(mixtures)} mixture files")
        elif duplicate:
            skipped.append(f"{sub.name}: two files for stem {duplicate!r}")
        elif not stems:
            skipped.append(f"{sub.name}: no reference stem beside {mixtures[0].name}")
        else:
            items.append(SeparationItem(sub.name, mixtures[0], stems))
    if not items:
        found = f" ({'; '.join(skipped[:10])})" if skipped else ""
        raise UsageError(f"{folder}: no separation items; expected {LAYOUT}{found}")
    return items, skipped


def sample_items(items: Sequence[SeparationItem], max_files: int | None) -> list[SeparationItem]:
    """At most ``max_files`` items, evenly over the sorted names (deterministic)."""
    if max_files is None or max_files >= len(items):
        return list(items)
    return [items[int((j + 0.5) * len(items) / max_files)] for j in range(max_files)]


# -- signals --------------------------------------------------------------------------------
def _fit(signal: Signal, like: Signal) -> Signal:
    """``signal`` at ``like``'s rate, channel count and length."""
    audio = resample(signal.audio, signal.sample_rate, like.sample_rate) \
        if signal.sample_rate != like.sample_rate else signal.audio
    out = Signal(fit_length(audio, like.num_samples).contiguous(), like.sample_rate, signal.meta)
    if out.num_channels != like.num_channels:
        out = out.to_channels(like.num_channels)
    return out


def to_stems(output: Any, mixture: Signal) -> Stems:
    """A system's output as stems matching ``mixture`` (see the module doc)."""
    if isinstance(output, Stems):
        return Stems({name: _fit(signal, mixture) for name, signal in output.items()})
    if isinstance(output, Signal):
        voice = _fit(output, mixture)
        return Stems({"voice": voice, "background": mixture.replace(mixture.audio - voice.audio)})
    raise StageError(f"returned {type(output).__name__}, neither Stems nor a Signal")


def estimate_for(stems: Mapping[str, Signal], name: str) -> Signal | None:
    """The estimate of reference stem ``name``: the stem of that name, else its alias."""
    if name in stems:
        return stems[name]
    return stems.get(ALIASES.get(name, ""))


def read_item(item: SeparationItem) -> tuple[Signal, dict[str, Signal]]:
    """``(mixture, reference stems)``; references are brought to the mixture's rate, and a
    reference of another length is an error naming the file."""
    mixture = io.read(item.mixture)
    references = {}
    for name, path in item.stems.items():
        reference = io.read(path)
        expected = round(reference.num_samples * mixture.sample_rate / reference.sample_rate)
        if abs(expected - mixture.num_samples) > 1:
            raise UsageError(f"{path}: {reference.duration_s:.3f} s long but {item.mixture.name} is "
                             f"{mixture.duration_s:.3f} s; stems must be as long as their mixture")
        references[name] = _fit(reference, mixture)
    return mixture, references


def _mono(signal: Signal) -> np.ndarray:
    return signal.audio.double().mean(dim=0).numpy()


def score_item(file: str, mixture: Signal, references: Mapping[str, Signal], estimate: Stems,
               metric_names: Sequence[str] = SEPARATION_METRICS) -> Row:
    """One row: ``<stem>_<metric>`` for every reference stem (see :func:`column_names`)."""
    estimates = {name: _mono(signal) for name in references
                 if (signal := estimate_for(estimate, name)) is not None}
    values, reasons = score_stems({name: _mono(s) for name, s in references.items()}, estimates, _mono(mixture),
                                  tuple(metric_names))
    row = Row(file)
    row.values.update({k: float(f"{v:.10g}") for k, v in values.items()})
    row.reasons.update(reasons)
    if mixture.num_channels > 1:
        row.notes.append(f"{mixture.num_channels} channels scored as mono mixdowns")
    return row


def column_names(stem_names: Sequence[str], metric_names: Sequence[str] = SEPARATION_METRICS) -> list[str]:
    return [f"{stem}_{metric}" for stem in stem_names for metric in metric_names]


def stem_names(items: Sequence[SeparationItem]) -> list[str]:
    """Reference stems in order of first appearance (voice before background when both)."""
    names = list(dict.fromkeys(name for item in items for name in item.stems))
    preferred = [n for n in ("voice", "vocals", "background", "accompaniment") if n in names]
    return preferred + [n for n in names if n not in preferred]


# -- tables ---------------------------------------------------------------------------------
def column_summary(rows: Sequence[Row], column: str) -> dict[str, Any]:
    values = [row.values[column] for row in rows if column in row.values]
    reasons: dict[str, int] = {}
    for row in rows:
        if column not in row.values:
            reason = row.reasons.get(column, "missing")
            reasons[reason] = reasons.get(reason, 0) + 1
    return {"mean": statistics.fmean(values) if values else None,
            "median": statistics.median(values) if values else None,
            "count": len(values), "missing": reasons}


def stem_table(labelled_rows: Mapping[str, Sequence[Row]], stem: str, metric_names: Sequence[str],
               extra: Mapping[str, Mapping[str, str]] | None = None) -> str:
    """Markdown: a line per label (system), a column per metric's mean for ``stem``; ``(n)`` after
    a mean over fewer files than the label has; ``extra`` adds columns (label -> name -> text)."""
    extra_names = list(next(iter(extra.values())).keys()) if extra else []
    header = ["system", *(f"{LABELS[m]} ↑ dB" for m in metric_names), *extra_names, "files"]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|"]
    for label, rows in labelled_rows.items():
        cells = [f"`{label}`"]
        for metric in metric_names:
            summary = column_summary(rows, f"{stem}_{metric}")
            text = format_value(summary["mean"])
            if summary["mean"] is not None and summary["count"] < len(rows):
                text += f" ({summary['count']})"
            cells.append(text)
        cells += [extra[label][name] for name in extra_names] if extra else []
        cells.append(str(len(rows)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def missing_lines(labelled_rows: Mapping[str, Sequence[Row]], columns: Sequence[str]) -> list[str]:
    lines = []
    for label, rows in labelled_rows.items():
        for column in columns:
            for reason, count in column_summary(rows, column)["missing"].items():
                lines.append(f"- `{label}` `{column}` ({count} file{'s' if count != 1 else ''}): {reason}")
    return lines


def metric_notes(metric_names: Sequence[str]) -> list[str]:
    return [f"- {LABELS[m]} (`{m}`): {SUMMARIES[m]}" for m in metric_names]


def read_manifest(folder: Path) -> dict[str, Any]:
    """``{item: manifest entry}`` from ``folder/manifest.jsonl`` (unreadable lines ignored)."""
    path = folder / MANIFEST
    entries: dict[str, Any] = {}
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                entry = json.loads(line)
                entries[str(entry["item"])] = entry
            except (json.JSONDecodeError, KeyError, TypeError):
                continue
    return entries


# -- aural evaluate PIPELINE --pairs DIR ----------------------------------------------------
@dataclass
class SeparationOutcome:
    rows: list[Row] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)
    stems: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return 1 if self.failed or self.skipped else 0


def one_line(exc: BaseException, where: str) -> str:
    text = (str(exc).strip().splitlines() or [""])[0]
    if isinstance(exc, AuralError) and text:
        return text
    return f"{where}: {type(exc).__name__}: {text}".rstrip(": ")


def evaluate_separation(pipeline: Any, folder: str | Path, out_dir: str | Path, *,
                        metric_names: Sequence[str] = SEPARATION_METRICS, save_outputs: bool = False,
                        echo: Echo = print, progress: Callable[[int, int], None] | None = None) -> SeparationOutcome:
    """Run ``pipeline`` (``process(Signal) -> Stems or Signal``) on every mixture of ``folder``
    and score each stem; writes ``scores.csv``, ``summary.json`` and ``summary.md`` to ``out_dir``."""
    folder, out_dir = Path(folder), Path(out_dir)
    items, skipped = find_items(folder)
    for line in skipped:
        echo(f"{folder}: skipped {line}")
    names = stem_names(items)
    columns = column_names(names, metric_names)
    out_dir.mkdir(parents=True, exist_ok=True)
    outcome = SeparationOutcome(skipped=skipped, stems=names)
    label = str(getattr(pipeline, "name", type(pipeline).__name__))
    process_s = audio_s = 0.0
    if callable(getattr(pipeline, "load", None)):
        pipeline.load()  # model loading stays out of the real-time factor
    for index, item in enumerate(items):
        try:
            mixture, references = read_item(item)
            started = time.perf_counter()
            output = pipeline.process(mixture)
            process_s += time.perf_counter() - started
            audio_s += mixture.duration_s
            estimate = to_stems(output, mixture)
            outcome.rows.append(score_item(item.name, mixture, references, estimate, metric_names))
            if save_outputs:
                (out_dir / "outputs" / item.name).mkdir(parents=True, exist_ok=True)
                for stem, signal in estimate.items():
                    io.write(signal, out_dir / "outputs" / item.name / f"{stem}.wav", subtype="FLOAT")
        except Exception as exc:
            outcome.failed[item.name] = one_line(exc, str(item.mixture))
            echo(outcome.failed[item.name])
        write_scores_csv(outcome.rows, out_dir / "scores.csv", columns)
        if progress:
            progress(index + 1, len(items))
    summary = {"mode": "separation", "pipeline": label, "pairs_dir": str(folder), "num_files": len(outcome.rows),
               "num_failed": len(outcome.failed), "stems": names, "metrics": list(metric_names),
               "columns": {c: column_summary(outcome.rows, c) for c in columns},
               "rtf": process_s / audio_s if audio_s else None, "comparison": COMPARISON,
               "failed": dict(sorted(outcome.failed.items())), "skipped": skipped}
    write_atomic(out_dir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    write_atomic(out_dir / "summary.md", _summary_markdown(label, folder, outcome, metric_names, summary["rtf"]))
    return outcome


def _summary_markdown(label: str, folder: Path, outcome: SeparationOutcome, metric_names: Sequence[str],
                      rtf: float | None) -> str:
    lines = [f"# aural evaluate: separation by `{label}`", "",
             f"{len(outcome.rows)} mixtures from `{folder}` scored, {len(outcome.failed)} failed; means over "
             f"mixtures (`(n)`: fewer had a value); real-time factor {format_value(rtf)}.", ""]
    for stem in outcome.stems:
        lines += [f"## Stem `{stem}`", "", stem_table({label: outcome.rows}, stem, metric_names), ""]
    missing = missing_lines({label: outcome.rows}, column_names(outcome.stems, metric_names))
    if missing:
        lines += ["## Missing values", "", *missing, ""]
    if outcome.failed or outcome.skipped:
        lines += ["## Failures", "", *(f"- {m}" for m in outcome.failed.values()),
                  *(f"- skipped {s}" for s in outcome.skipped), ""]
    lines += ["## How stems were compared", "", f"- {COMPARISON}.", *metric_notes(metric_names)]
    return "\n".join(lines) + "\n"
