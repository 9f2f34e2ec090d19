"""Audio quality metrics: one registry of :class:`Metric` records.

Built-in metrics (``aural.metrics.names()`` lists them):

=============  =========  ==========================  ================================
name           intrusive  computed at                 package
=============  =========  ==========================  ================================
snr            yes        reference rate              numpy
si_sdr         yes        reference rate              numpy
mse, mae,      yes        reference rate              numpy
rmse, pearson
lsd, lsd_hf,   yes        reference rate              numpy (see :mod:`.spectral`)
lsd_above_
cutoff
pesq_wb        yes        16 kHz                      pesq (ITU-T P.862.2)
pesq_nb        yes        8 kHz                       pesq (ITU-T P.862)
stoi, estoi    yes        10 kHz                      pystoi
lufs           no         own rate, all channels      pyloudnorm (ITU-R BS.1770-4)
true_peak_db   no         own rate x8, all channels   aural (aural.dsp.true_peak)
dnsmos_sig,    no         16 kHz                      speechmos (DNSMOS P.835, ONNX)
dnsmos_bak,
dnsmos_ovrl
dnsmos_*_norm  no         16 kHz, at -25 dBFS RMS     speechmos (the same, level-matched)
bandwidth_hz   no         own rate                    aural (see :mod:`.recording`)
clipping_      no         own rate, all channels      aural (see :mod:`.recording`)
percent
srmr,          no         16 kHz                      aural + scipy (see :mod:`.reverberation`)
srmrnorm
=============  =========  ==========================  ================================

Metric functions take float64 numpy arrays that the caller has already mixed down,
aligned, trimmed and resampled (see :func:`aural.evaluate.score_signals`). A value that is
undefined or a package that is missing gives a reason (:class:`MetricError`), never 0.

Third-party metrics register through the ``aural.metrics`` entry-point group; the entry
point names a :class:`Metric` instance.
"""

from __future__ import annotations

from importlib import metadata

from aural.metrics.base import METRICS, Metric, MetricError, register_metric


def get_metric(name: str) -> Metric:
    """The metric record for ``name`` (unknown names answer with close matches)."""
    return METRICS.get(name)


def names() -> list[str]:
    """Every registered metric name, sorted."""
    return METRICS.names()


DEFAULT_ORDER = ("pesq_wb", "pesq_nb", "stoi", "estoi", "si_sdr", "snr", "lsd", "lsd_hf", "lsd_above_cutoff",
                 "dnsmos_sig", "dnsmos_bak", "dnsmos_ovrl", "dnsmos_sig_norm", "dnsmos_bak_norm",
                 "dnsmos_ovrl_norm", "srmrnorm", "srmr", "bandwidth_hz", "lufs", "true_peak_db", "clipping_percent",
                 "mse", "mae", "rmse", "pearson")


def reference_free_metric_names() -> list[str]:
    """The metrics that need no reference, in reading order; where a level-matched variant
    exists (``dnsmos_ovrl_norm``) it stands in for the raw one, so loudness alone does not
    move the scores."""
    names = [name for name in default_metric_names() if not get_metric(name).intrusive]
    return [name for name in names if f"{name}_norm" not in names]


def default_metric_names() -> list[str]:
    """All registered metrics, the built-ins in a reading order first."""
    registered = names()
    ordered = [name for name in DEFAULT_ORDER if name in registered]
    return ordered + [name for name in registered if name not in ordered]


def package_versions(metric_names: list[str] | None = None) -> dict[str, str]:
    """``{package: version}`` for aural, the resampler and every metric's package.

    A package that is not installed maps to ``"not installed"``.
    """
    packages = ["aural", "numpy", "soxr"]
    for name in metric_names if metric_names is not None else names():
        metric = get_metric(name)
        packages.append(metric.package)
        if metric.package == "speechmos":
            packages.append("onnxruntime")
    versions: dict[str, str] = {}
    for package in packages:
        if package in versions:
            continue
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


__all__ = ["METRICS", "Metric", "MetricError", "default_metric_names", "get_metric", "names",
           "package_versions", "reference_free_metric_names", "register_metric"]
