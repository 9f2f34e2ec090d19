from __future__ import annotations

import math

import numpy as np
import pytest

from aural.evaluate.paired import format_difference, paired_difference


def scores(values):
    return {f"file{i:02d}": float(v) for i, v in enumerate(values)}


def test_a_constant_gain_on_every_file_is_a_difference_with_no_spread():
    baseline = scores(np.linspace(1.0, 3.0, 20))
    system = {f: v + 0.1 for f, v in baseline.items()}
    difference = paired_difference(system, baseline, higher_is_better=True)
    assert difference.files == 20
    assert difference.mean == pytest.approx(0.1)
    assert difference.low == pytest.approx(0.1) and difference.high == pytest.approx(0.1)
    assert (difference.better, difference.worse, difference.verdict) == (20, 0, "better")
    lower_is_better = paired_difference(system, baseline, higher_is_better=False)
    assert (lower_is_better.better, lower_is_better.worse, lower_is_better.verdict) == (0, 20, "worse")


def test_differences_that_straddle_zero_have_no_verdict():
    baseline = scores(np.zeros(20))
    system = scores(np.tile([0.05, -0.05], 10))
    difference = paired_difference(system, baseline, higher_is_better=True)
    assert difference.low < 0 < difference.high
    assert difference.verdict == "" and (difference.better, difference.worse) == (10, 10)
    assert "▲" not in format_difference(difference) and "▼" not in format_difference(difference)


def test_the_interval_matches_the_normal_one_for_many_noisy_files():
    rng = np.random.default_rng(3)
    spread, count = 0.02, 400
    baseline = scores(rng.uniform(1, 4, count))
    system = {f: v - 0.01 + rng.normal(0, spread) for f, v in baseline.items()}
    difference = paired_difference(system, baseline, higher_is_better=True)
    half_width = 1.96 * spread / math.sqrt(count)
    assert (difference.high - difference.low) / 2 == pytest.approx(half_width, rel=0.15)
    assert difference.low <= difference.mean <= difference.high
    assert difference.verdict == "worse"
    assert format_difference(difference).endswith("▼")


def test_only_files_scored_by_both_count_and_the_bounds_repeat():
    baseline = {"a": 1.0, "b": 2.0, "c": float("nan"), "d": 4.0}
    system = {"a": 1.5, "b": 2.1, "c": 3.0, "e": 9.0}
    first = paired_difference(system, baseline, higher_is_better=True)
    assert first.files == 2 and first.mean == pytest.approx(0.3)
    assert paired_difference(system, baseline, higher_is_better=True) == first
    assert paired_difference({"x": 1.0}, baseline, higher_is_better=True) is None
    assert format_difference(None) == "–"


def test_a_level_metric_has_no_direction_and_no_verdict():
    baseline = scores(np.zeros(10))
    system = scores(np.full(10, 3.0))
    difference = paired_difference(system, baseline, higher_is_better=None)
    assert difference.mean == pytest.approx(3.0)
    assert (difference.better, difference.worse, difference.verdict) == (0, 0, "")
    assert format_difference(difference) == "+3.0000 [+3.0000, +3.0000] 0/0"


def test_resampling_in_batches_gives_the_same_interval(monkeypatch):
    from aural.evaluate import paired

    rng = np.random.default_rng(5)
    baseline = scores(rng.uniform(1, 4, 20))
    system = {f: v + rng.normal(0, 0.05) for f, v in baseline.items()}
    whole = paired_difference(system, baseline, higher_is_better=True)
    monkeypatch.setattr(paired, "DRAWS_PER_BATCH", 60)  # three resamples of the 20 files at a time
    assert paired_difference(system, baseline, higher_is_better=True) == whole
