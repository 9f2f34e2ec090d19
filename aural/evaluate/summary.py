"""``scores.csv``, ``summary.json`` and ``summary.md`` from rows.

Everything written here is deterministic (sorted rows, no timestamps), so a rerun on the
same files produces identical bytes. Files are replaced atomically.
"""

from __future__ import annotations

import csv
import io
import json
import os
import statistics
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any, Mapping, Sequence

from aural.errors import AudioWriteError
from aural.evaluate.align import MAX_LAG_S, WINDOW_S
from aural.evaluate.rows import PREFIXES, Row
from aural.metrics import get_metric, package_versions

ALIGNMENT = (f"delay found by FFT cross-correlation of mono mixdowns at the reference's rate "
             f"(at most {MAX_LAG_S:g} s, on the first {WINDOW_S:g} s) and removed; both sides "
             f"trimmed to their overlap before intrusive metrics")
CHANNELS = ("multichannel audio is scored as its mono mixdown (channel mean); lufs and "
            "true_peak_db measure all channels")


def output_folder(out_dir: str | Path) -> Path:
    """``out_dir`` as a Path, created with its parents; a clear error when it cannot be."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise AudioWriteError(f"{out_dir}: cannot create the output folder ({exc.strerror or exc})") from None
    return out_dir


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to a temporary file beside ``path`` and rename it into place."""
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except OSError as exc:
        raise AudioWriteError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def metric_of(column: str) -> str:
    for prefix in PREFIXES:
        if column.startswith(prefix):
            return column[len(prefix):]
    return column


def scores_csv_text(rows: Sequence[Row], columns: Sequence[str]) -> str:
    """CSV text: ``file`` then ``columns``; an empty cell has its reason in summary.json."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["file", *columns])
    for row in sorted(rows, key=lambda r: r.file):
        writer.writerow([row.file, *(repr(row.values[c]) if c in row.values else "" for c in columns)])
    return buffer.getvalue()


def write_scores_csv(rows: Sequence[Row], path: str | Path, columns: Sequence[str]) -> Path:
    """(Re)write ``scores.csv`` atomically; call it after each finished row to keep partial results."""
    path = Path(path)
    write_atomic(path, scores_csv_text(rows, columns))
    return path


def _column_summary(rows: Sequence[Row], column: str) -> dict[str, Any]:
    values = [row.values[column] for row in rows if column in row.values]
    reasons: dict[str, list[str]] = {}
    for row in rows:
        if column not in row.values:
            reasons.setdefault(row.reasons.get(column, "missing"), []).append(row.file)
    return {
        "mean": statistics.fmean(values) if values else None,
        "median": statistics.median(values) if values else None,
        "count": len(values),
        "missing": len(rows) - len(values),
        "reasons": {reason: sorted(files) for reason, files in sorted(reasons.items())},
    }


def summarize(rows: Sequence[Row], columns: Sequence[str], *,
              failed: Mapping[str, str] | None = None, unmatched: Mapping[str, list[str]] | None = None,
              context: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``summary.json`` document (see :func:`aural.evaluate.write_outputs`)."""
    rows = sorted(rows, key=lambda r: r.file)
    metric_names = list(dict.fromkeys(metric_of(c) for c in columns))
    metrics = {}
    for name in metric_names:
        metric = get_metric(name)
        metrics[name] = {
            "summary": metric.summary, "unit": metric.unit, "intrusive": metric.intrusive,
            "higher_is_better": metric.higher_is_better, "package": metric.package,
            "sample_rate": metric.sample_rate, "rate_handling": metric.rate_policy(),
        }
    rates: dict[str, dict[str, int]] = {}
    for column in columns:
        counts = Counter(row.rates[column] for row in rows if column in row.rates)
        if counts:
            rates[column] = dict(sorted(counts.items()))
    return {
        **dict(context or {}),
        "num_files": len(rows),
        "num_failed": len(failed or {}),
        "columns": {column: _column_summary(rows, column) for column in columns},
        "metrics": metrics,
        "package_versions": package_versions(metric_names),
        "alignment": ALIGNMENT,
        "channels": CHANNELS,
        "rates": rates,
        "notes": {row.file: row.notes for row in rows if row.notes},
        "failed": dict(sorted((failed or {}).items())),
        "unmatched": dict(unmatched or {}),
    }


def format_value(value: float | None) -> str:
    if value is None:
        return "–"
    if value == 0 or 0.001 <= abs(value) < 1e5:
        return f"{value:.3f}"
    return f"{value:.3g}"


NEGLIGIBLE_RELATIVE = 1e-4  # PESQ (float32) wobbles by ~1e-5 between equivalent inputs


def format_delta(delta: float | None, before: float | None, after: float | None) -> str:
    """Like :func:`format_value`, but a change within float noise of the values reads 0.000."""
    if delta is not None and negligible(delta, before, after):
        return "0.000"
    return format_value(delta)


def negligible(delta: float, before: float | None, after: float | None) -> bool:
    scale = max(abs(before or 0.0), abs(after or 0.0))
    return abs(delta) <= NEGLIGIBLE_RELATIVE * scale


def direction(higher_is_better: bool | None) -> str:
    return {True: "↑", False: "↓", None: ""}[higher_is_better]


def summary_table(summary: Mapping[str, Any]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the readable summary table (shared by markdown and HTML)."""
    columns = summary["columns"]
    pipeline = any(column.startswith("delta_") for column in columns)
    table = []
    for name, meta in summary["metrics"].items():
        label = f"{name} {direction(meta['higher_is_better'])}".strip()
        unit = meta["unit"]
        if pipeline:
            before, after, delta = (columns[f"{p}{name}"] for p in PREFIXES)
            table.append([label, unit, format_value(before["mean"]), format_value(after["mean"]),
                          format_delta(delta["mean"], before["mean"], after["mean"]),
                          format_delta(delta["median"], before["median"], after["median"]),
                          str(delta["count"])])
        else:
            cell = columns[name]
            table.append([label, unit, format_value(cell["mean"]), format_value(cell["median"]),
                          str(cell["count"]), str(cell["missing"])])
    header = (["metric", "unit", "input mean", "output mean", "delta mean", "delta median", "files"]
              if pipeline else ["metric", "unit", "mean", "median", "files", "missing"])
    return header, table


def summary_markdown(summary: Mapping[str, Any], title: str = "aural evaluate") -> str:
    header, table = summary_table(summary)
    lines = [f"# {title}", ""]
    if summary.get("pipeline"):
        lines.append(f"Pipeline `{summary['pipeline']}`; delta = output − input (sign as-is).")
    lines += [f"{summary['num_files']} files scored, {summary['num_failed']} failed. "
              "↑ higher is better, ↓ lower is better.", ""]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "|".join("---" if i == 0 else "---:" for i in range(len(header))) + "|")
    lines += ["| " + " | ".join(cells) + " |" for cells in table]
    missing = [(column, reason, len(files)) for column, cell in summary["columns"].items()
               for reason, files in cell["reasons"].items()]
    if missing:
        lines += ["", "## Missing values", ""]
        lines += [f"- `{column}` ({count} file{'s' if count != 1 else ''}): {reason}"
                  for column, reason, count in missing]
    if summary["failed"]:
        lines += ["", "## Failed files", ""]
        lines += [f"- `{file}`: {message}" for file, message in summary["failed"].items()]
    if any(summary["unmatched"].values()):
        lines += ["", "## Files without a partner", ""]
        lines += [f"- {side}: {', '.join(names)}" for side, names in summary["unmatched"].items() if names]
    lines += ["", "## How signals were compared", "", f"- Alignment: {summary['alignment']}.",
              f"- Channels: {summary['channels']}."]
    lines += [f"- `{name}`: {meta['rate_handling']}" for name, meta in summary["metrics"].items()]
    lines += ["", "## Package versions", ""]
    lines += [f"- {package} {version}" for package, version in summary["package_versions"].items()]
    return "\n".join(lines) + "\n"


def write_summary(summary: Mapping[str, Any], out_dir: Path, title: str) -> None:
    write_atomic(out_dir / "summary.json", json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    write_atomic(out_dir / "summary.md", summary_markdown(summary, title))
