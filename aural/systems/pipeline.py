"""``pipeline:<name or path>``: an aural pipeline as a system, so it sits in the same table.

The pipeline (:func:`aural.pipeline.load_pipeline`) gets the whole signal, all channels at
once, and compensates its stages' latency itself. Its output keeps the pipeline's own rate
(a pipeline may extend the bandwidth to 48 kHz; scoring brings every output to the
reference's rate), is trimmed or padded to the input's duration at that rate and converted
back to the input's channel count when the pipeline changed it (mono <-> any).
"""

from __future__ import annotations

import importlib.util
from typing import Any

from aural import __version__
from aural.signal import Signal
from aural.systems.base import System, fit_length

PREFIX = "pipeline:"


class PipelineSystem(System):
    """An aural pipeline, by built-in name or YAML path."""

    name = "pipeline"
    summary = "an aural pipeline (built-in name or YAML file)"

    def __init__(self, spec: str) -> None:
        if not spec:
            raise ValueError("pipeline system needs a pipeline name or path: pipeline:<name or path>")
        self.spec = spec
        self.name = f"{PREFIX}{spec}"
        self._pipeline = None

    @classmethod
    def available(cls) -> tuple[bool, str]:
        if importlib.util.find_spec("aural.pipeline") is None:
            return False, "aural.pipeline is not part of this install yet"
        return True, ""

    def versions(self) -> dict[str, str]:
        return {"aural": __version__}

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["pipeline"] = self.spec
        return info

    def load(self) -> None:
        if self._pipeline is None:
            from aural.pipeline import load_pipeline

            self._pipeline = load_pipeline(self.spec)

    def process(self, signal: Signal) -> Signal:
        self.load()
        out = self._pipeline.process(signal)
        if out.num_channels != signal.num_channels:
            out = out.to_channels(signal.num_channels)
        num_samples = round(signal.num_samples * out.sample_rate / signal.sample_rate)
        if out.num_samples != num_samples:
            out = out.replace(fit_length(out.audio, num_samples).contiguous())
        return out.with_history(f"system:{self.name}", versions=self.versions())
