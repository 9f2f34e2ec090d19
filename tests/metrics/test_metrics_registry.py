"""The metric registry: records, unknown names, unavailable and failing metrics, versions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from aural.evaluate import score_signals
from aural.metrics import METRICS, Metric, default_metric_names, get_metric, names, package_versions
from aural.registry import UnknownNameError
from aural.signal import Signal

BUILTIN = {"snr", "si_sdr", "pesq_wb", "pesq_nb", "stoi", "estoi", "lsd", "lsd_hf", "dnsmos_sig",
           "dnsmos_bak", "dnsmos_ovrl", "lufs", "true_peak_db", "mse", "mae", "rmse", "pearson"}


@pytest.fixture
def temporary_metric():
    added = []

    def add(metric: Metric) -> Metric:
        METRICS.add(metric.name, metric)
        added.append(metric.name)
        return metric

    yield add
    for name in added:
        METRICS.remove(name)


def signal(seed=0, num_samples=16000):
    rng = np.random.default_rng(seed)
    return Signal(torch.from_numpy(rng.standard_normal((1, num_samples)).astype(np.float32) * 0.1), 16000)


def test_every_builtin_is_registered_with_a_record():
    assert BUILTIN <= set(names())
    assert set(default_metric_names()) == set(names())
    for name in BUILTIN:
        metric = get_metric(name)
        assert metric.name == name and metric.package and metric.summary
        assert metric.higher_is_better in (True, False, None)
    assert get_metric("pesq_wb").sample_rate == 16000 and get_metric("pesq_nb").sample_rate == 8000
    assert get_metric("stoi").sample_rate == 10000 and get_metric("dnsmos_ovrl").sample_rate == 16000
    assert not get_metric("dnsmos_ovrl").intrusive and get_metric("pesq_wb").intrusive


def test_unknown_metric_suggests_close_names():
    with pytest.raises(UnknownNameError, match="did you mean 'pesq_wb'"):
        get_metric("pesq_wbb")
    with pytest.raises(UnknownNameError):
        score_signals(None, signal(), ["nope"])


def test_unavailable_metric_is_absent_with_a_reason(temporary_metric):
    temporary_metric(Metric(name="needs_missing", compute=lambda r, e, s: 1.0, intrusive=False,
                            higher_is_better=True, package="no-such-package",
                            requires=("no_such_module_for_aural",), extra="dnsmos"))
    result = score_signals(None, signal(), ["needs_missing", "true_peak_db"])
    assert "needs_missing" not in result.values
    assert result.reasons["needs_missing"] == ("unavailable: needs no_such_module_for_aural "
                                               "(pip install 'aural[dnsmos]')")
    assert "true_peak_db" in result.values
    assert package_versions(["needs_missing"])["no-such-package"] == "not installed"


def test_failing_metric_gives_a_reason_and_others_still_run(temporary_metric):
    def broken(reference, estimate, sample_rate):
        raise RuntimeError("boom\nsecond line")

    def nan_metric(reference, estimate, sample_rate):
        return float("nan")

    temporary_metric(Metric(name="broken", compute=broken, intrusive=True, higher_is_better=True, package="numpy"))
    temporary_metric(Metric(name="gives_nan", compute=nan_metric, intrusive=True, higher_is_better=True,
                            package="numpy"))
    result = score_signals(signal(0), signal(1), ["broken", "gives_nan", "mse"])
    assert result.reasons["broken"] == "failed: RuntimeError: boom"
    assert result.reasons["gives_nan"].startswith("not finite")
    assert set(result.values) == {"mse"}


def test_intrusive_metrics_need_a_reference():
    result = score_signals(None, signal(), ["snr", "true_peak_db"])
    assert result.reasons == {"snr": "needs a reference"}
    assert result.delay_s is None


def test_package_versions_cover_metric_packages():
    versions = package_versions()
    for package in ("aural", "numpy", "soxr", "pesq", "pystoi", "pyloudnorm", "speechmos"):
        assert package in versions
    assert versions["numpy"] == np.__version__
