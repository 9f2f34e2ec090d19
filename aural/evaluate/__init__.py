"""Evaluation: score audio with registered metrics; write tables and a report.

Python API (used by ``aural evaluate`` and ``aural bench``)::

    from aural.evaluate import score_signals, score_row, pipeline_row, columns, write_outputs

    result = score_signals(reference, estimate, ["pesq_wb", "si_sdr", "dnsmos_ovrl"])
    result.values   # {"pesq_wb": 3.1, "si_sdr": 12.4, ...}   finite numbers only
    result.reasons  # {"dnsmos_ovrl": "unavailable: needs speechmos ..."}  never a fake 0

    rows = [pipeline_row(name, reference, input, output, metric_names)]  # input_/output_/delta_
    write_outputs(rows, out_dir, columns(metric_names, pipeline=True), context={"pipeline": "x"})

See :mod:`aural.evaluate.scoring` for how channels, rates and delays are handled, and
:mod:`aural.metrics` for the metrics.
"""

from __future__ import annotations

from aural.evaluate.outputs import OUTPUT_FILES, write_outputs
from aural.evaluate.rows import Row, columns, pipeline_row, score_row
from aural.evaluate.scoring import ScoreResult, resolve_metrics, score_signals

__all__ = ["OUTPUT_FILES", "Row", "ScoreResult", "columns", "pipeline_row", "resolve_metrics",
           "score_row", "score_signals", "write_outputs"]
