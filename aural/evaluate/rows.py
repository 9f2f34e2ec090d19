"""One result row per file: the columns of ``scores.csv`` with reasons for empty cells.

Two layouts:

- scoring existing files: one column per metric (``pesq_wb``, ``snr``, ...);
- scoring a pipeline: ``input_<m>``, ``output_<m>`` and ``delta_<m> = output - input``
  (sign as-is: for "lower is better" metrics a negative delta is an improvement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

from aural.evaluate.align import MAX_LAG_S
from aural.evaluate.scoring import ScoreResult, resolve_metrics, score_signals
from aural.signal import Signal

PREFIXES = ("input_", "output_", "delta_")


@dataclass
class Row:
    """Scores of one file.

    ``values``: column -> number; ``reasons``: column -> why the cell is empty; ``rates``:
    column -> how its rate was handled; ``notes``: what was done to the signals;
    ``media``: optional label -> Signal (e.g. input/output/reference) for the HTML report.
    """

    file: str
    values: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    rates: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    media: Mapping[str, Signal] | None = None


def columns(metric_names: Sequence[str], pipeline: bool) -> list[str]:
    """``scores.csv`` metric columns (after ``file``) in order."""
    if not pipeline:
        return list(metric_names)
    return [prefix + name for name in metric_names for prefix in PREFIXES]


def _add(row: Row, result: ScoreResult, prefix: str = "") -> None:
    for name, value in result.values.items():
        row.values[prefix + name] = value
    for name, reason in result.reasons.items():
        row.reasons[prefix + name] = reason
    for name, rate in result.rates.items():
        row.rates[prefix + name] = rate
    for note in result.notes:
        if note not in row.notes:
            row.notes.append(note)


def score_row(file: str, reference: Signal | None, estimate: Signal,
              metric_names: Sequence[str] | None = None, *, max_lag_s: float = MAX_LAG_S,
              estimate_label: str = "degraded") -> Row:
    """A row for scoring one existing file against its reference (plain metric columns)."""
    row = Row(file)
    _add(row, score_signals(reference, estimate, metric_names, max_lag_s=max_lag_s,
                            labels=("reference", estimate_label)))
    return row


def pipeline_row(file: str, reference: Signal | None, input: Signal, output: Signal,
                 metric_names: Sequence[str] | None = None, *,
                 max_lag_s: float = MAX_LAG_S) -> Row:
    """A row with ``input_``, ``output_`` and ``delta_`` columns for one processed file."""
    names = [metric.name for metric in resolve_metrics(metric_names)]
    row = Row(file)
    scored = {}
    for role, estimate in (("input", input), ("output", output)):
        scored[role] = score_signals(reference, estimate, names, max_lag_s=max_lag_s,
                                     labels=("reference", role))
        _add(row, scored[role], f"{role}_")
    for name in names:
        before, after = scored["input"], scored["output"]
        if name in before.values and name in after.values:
            row.values[f"delta_{name}"] = after.values[name] - before.values[name]
        else:
            side = "output" if name in before.values else "input"
            row.reasons[f"delta_{name}"] = f"no {side} value: " + \
                (after if side == "output" else before).reasons.get(name, "missing")
    return row
