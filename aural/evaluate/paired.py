"""Paired differences between two systems scored on the same files, with a bootstrap interval.

A mean over 20 files moves by a few thousandths when one file changes, so "system A is under
system B" read off two means can be noise. Each file is its own control here: the difference
``system - baseline`` is taken file by file, and the interval of its mean comes from resampling
the files with replacement (``RESAMPLES`` draws, percentile interval, a fixed seed so a rerun
prints the same bounds). A difference whose interval lies wholly on one side of zero is marked
better or worse, by the metric's direction. With many cells (systems x metrics x profiles) at
95 %, about one in twenty is marked by chance alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

RESAMPLES = 10_000
CONFIDENCE = 0.95
SEED = 0
DRAWS_PER_BATCH = 1 << 21   # file indices drawn at once (16 MB)


@dataclass(frozen=True)
class PairedDifference:
    """``system - baseline`` over the files both scored: mean, interval, and file counts."""

    files: int
    mean: float
    low: float
    high: float
    better: int           # files where the system scores better than the baseline (by the metric's direction)
    worse: int
    higher_is_better: bool | None

    @property
    def verdict(self) -> str:
        """``better`` / ``worse`` where the interval excludes zero, else ``""``."""
        if self.higher_is_better is None or self.low <= 0.0 <= self.high:
            return ""
        above = self.low > 0.0
        return "better" if above == self.higher_is_better else "worse"


def paired_difference(system: Mapping[str, float], baseline: Mapping[str, float], *,
                      higher_is_better: bool | None, resamples: int = RESAMPLES,
                      confidence: float = CONFIDENCE, seed: int = SEED) -> PairedDifference | None:
    """The paired difference over the files in both mappings (file -> value; non-finite values
    are left out); None when no file has both."""
    files = sorted(f for f in system.keys() & baseline.keys()
                   if np.isfinite(system[f]) and np.isfinite(baseline[f]))
    if not files:
        return None
    differences = np.array([system[f] - baseline[f] for f in files], dtype=np.float64)
    rng = np.random.default_rng(seed)
    batch = max(1, DRAWS_PER_BATCH // differences.size)  # memory stays bounded however many files
    means = np.concatenate([differences[rng.integers(0, differences.size, size=(min(batch, resamples - start),
                                                                                 differences.size))].mean(axis=1)
                            for start in range(0, resamples, batch)])
    tail = 100.0 * (1.0 - confidence) / 2.0
    low, high = np.percentile(means, [tail, 100.0 - tail])
    sign = 0.0 if higher_is_better is None else (1.0 if higher_is_better else -1.0)
    return PairedDifference(files=len(files), mean=float(differences.mean()), low=float(low), high=float(high),
                            better=int(np.sum(sign * differences > 0)), worse=int(np.sum(sign * differences < 0)),
                            higher_is_better=higher_is_better)


def format_difference(difference: PairedDifference | None) -> str:
    """``+0.0123 [-0.0010, +0.0251] 12/8`` (mean, interval, files better/worse), with ▲ or ▼
    where the interval excludes zero; ``–`` without a value."""
    if difference is None:
        return "–"
    mark = {"better": " ▲", "worse": " ▼"}.get(difference.verdict, "")
    return (f"{difference.mean:+.4f} [{difference.low:+.4f}, {difference.high:+.4f}] "
            f"{difference.better}/{difference.worse}{mark}")


Scores = Mapping[str, Mapping[str, Mapping[str, float]]]  # system -> file -> metric -> value


def differences(scores: Scores, baseline: str, metrics: Sequence[str],
                higher_is_better: Mapping[str, bool | None],
                files: set[str] | None = None) -> dict[str, dict[str, PairedDifference | None]]:
    """Per system of ``scores`` but the baseline, per metric: :func:`paired_difference` from the
    baseline over ``files`` (default: all)."""
    def values(system: str, metric: str) -> dict[str, float]:
        return {file: row[metric] for file, row in scores[system].items()
                if (files is None or file in files) and metric in row}

    return {system: {metric: paired_difference(values(system, metric), values(baseline, metric),
                                               higher_is_better=higher_is_better[metric])
                     for metric in metrics}
            for system in scores if system != baseline}


def differences_markdown(table: Mapping[str, Mapping[str, PairedDifference | None]], baseline: str,
                         metrics: Sequence[str]) -> str:
    """:func:`differences` as a markdown table under a line that says how to read it."""
    lines = [f"against `{baseline}`, file by file (system - baseline: mean [95 % bootstrap interval] "
             "files better/worse; ▲ better, ▼ worse where the interval excludes zero):", "",
             "| system | " + " | ".join(metrics) + " |", "|---|" + "---:|" * len(metrics)]
    lines += [f"| `{system}` | " + " | ".join(format_difference(cells[m]) for m in metrics) + " |"
              for system, cells in table.items()]
    return "\n".join(lines)
