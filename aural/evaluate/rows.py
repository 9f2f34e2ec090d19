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


#: Metrics that rank files worst-first, in order of preference (the first one scored is used).
RANKING_ORDER = ("pesq_wb", "stoi", "si_sdr", "dnsmos_ovrl_norm", "dnsmos_ovrl", "snr")


def ranking_column(columns: Sequence[str]) -> str | None:
    """The column that orders files worst-first: with a pipeline its ``delta_`` (least
    improved first), else the metric itself; a preferred metric, else the first with a
    direction."""
    from aural.metrics import get_metric

    pipeline = any(column.startswith("delta_") for column in columns)
    names = [column[len("delta_"):] for column in columns if column.startswith("delta_")] if pipeline \
        else list(columns)
    ranked = [name for name in RANKING_ORDER if name in names]
    ranked += [name for name in names if name not in ranked and get_metric(name).higher_is_better is not None]
    if not ranked:
        return None
    return f"delta_{ranked[0]}" if pipeline else ranked[0]


def worst_first(rows: Sequence[Row], columns: Sequence[str]) -> list[Row]:
    """``rows`` worst first by :func:`ranking_column`; rows without that value last, then by name."""
    from aural.metrics import get_metric

    column = ranking_column(columns)
    if column is None:
        return sorted(rows, key=lambda row: row.file)
    sign = 1.0 if get_metric(column.removeprefix("delta_")).higher_is_better else -1.0

    def key(row: Row) -> tuple:
        value = row.values.get(column)
        return (value is None, sign * value if value is not None else 0.0, row.file)

    return sorted(rows, key=key)


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
              estimate_label: str = "degraded", input: Signal | None = None) -> Row:
    """A row for scoring one existing file against its reference (plain metric columns);
    ``input``: what was processed into ``estimate``, for the metrics that need it."""
    row = Row(file)
    _add(row, score_signals(reference, estimate, metric_names, max_lag_s=max_lag_s,
                            labels=("reference", estimate_label), input=input))
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
                                     labels=("reference", role), input=input)
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
