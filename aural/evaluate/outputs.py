"""Write the four evaluation outputs from rows (shared by ``aural evaluate`` and ``aural bench``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from aural.evaluate.report import report_html
from aural.evaluate.rows import Row
from aural.evaluate.summary import output_folder, summarize, write_atomic, write_scores_csv, write_summary

OUTPUT_FILES = ("scores.csv", "summary.json", "summary.md", "report.html")


def write_outputs(rows: Sequence[Row], out_dir: str | Path, columns: Sequence[str], *,
                  failed: Mapping[str, str] | None = None,
                  unmatched: Mapping[str, list[str]] | None = None,
                  context: Mapping[str, Any] | None = None, title: str | None = None,
                  report_max_files: int = 12, report_seconds: float = 10.0,
                  report_sample_rate: int | None = None) -> dict[str, Any]:
    """Write ``scores.csv``, ``summary.json``, ``summary.md`` and ``report.html`` into ``out_dir``.

    - ``rows``: :class:`~aural.evaluate.rows.Row` per scored file (any order; written sorted).
      Rows with ``media`` (label -> Signal, e.g. input/output/reference) get spectrograms,
      a waveform and players in the report, at most ``report_max_files`` of them, each cut
      to its first ``report_seconds`` and played (mono MP3) at its own rate, or at
      ``report_sample_rate`` when given.
    - ``columns``: metric columns after ``file`` (see :func:`~aural.evaluate.rows.columns`).
    - ``failed``: file -> one-line error, for files that could not be scored.
    - ``unmatched``: e.g. ``{"only in reference": [...], "only in degraded": [...]}``.
    - ``context``: extra top-level keys for summary.json (e.g. ``{"pipeline": "name"}``;
      a ``pipeline`` key is also shown in summary.md and the report).
    - ``title``: page and markdown title; default "aural evaluate[: <pipeline>]".

    summary.json holds, per column, mean, median, count, missing and the reasons (with the
    files) for missing values; per metric its direction, unit, package and rate handling;
    package versions; alignment and channel handling; per-file notes. Returns that document.
    """
    out_dir = output_folder(out_dir)
    if title is None:
        pipeline = (context or {}).get("pipeline")
        title = f"aural evaluate: {pipeline}" if pipeline else "aural evaluate"
    write_scores_csv(rows, out_dir / "scores.csv", columns)
    summary = summarize(rows, columns, failed=failed, unmatched=unmatched, context=context)
    write_summary(summary, out_dir, title)
    write_atomic(out_dir / "report.html",
                 report_html(summary, rows, title=title, max_files=report_max_files,
                             seconds=report_seconds, audio_sample_rate=report_sample_rate))
    return summary
