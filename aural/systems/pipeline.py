"""``pipeline:<name or path>`` and ``stage:<name>``: aural as a system, so it sits in the same table.

``stage:<name>`` is a pipeline of that one stage with its default parameters and weights;
``stage:<name>@<weights>`` gives a learned stage other weights: a preset name or a path (an
exported ``.safetensors`` file or a training checkpoint such as ``RUN/best.safetensors``), so a
run's checkpoints can be benchmarked before one is exported.

The pipeline (:func:`aural.pipeline.load_pipeline`) gets the whole signal, all channels at
once, and compensates its stages' latency itself. Its output keeps the pipeline's own rate
(a pipeline may extend the bandwidth to 48 kHz; scoring brings every output to the
reference's rate), is trimmed or padded to the input's duration at that rate and converted
back to the input's channel count when the pipeline changed it (mono <-> any). A pipeline
ending in stems (``separation``) returns :class:`~aural.stems.Stems`, each stem fitted so.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from aural import __version__
from aural.signal import Signal
from aural.stems import Stems
from aural.systems.base import System, fit_length

PREFIX = "pipeline:"
STAGE_PREFIX = "stage:"


class PipelineSystem(System):
    """An aural pipeline, by built-in name or YAML path."""

    name = "pipeline"
    summary = "an aural pipeline (built-in name or YAML file)"
    prefix = PREFIX
    usage = "pipeline system needs a pipeline name or path: pipeline:<name or path>"

    def __init__(self, spec: str) -> None:
        if not spec:
            raise ValueError(self.usage)
        self.spec = spec
        self.name = f"{self.prefix}{spec}"
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
        left_out = self._pipeline.spec.left_out if self._pipeline is not None else ()
        if left_out:  # optional stages that cannot run here: the table scores the pipeline without them
            info["summary"] += "; left out here: " + "; ".join(left_out)
        return info

    def load(self) -> None:
        if self._pipeline is None:
            from aural.pipeline import load_pipeline

            self._pipeline = load_pipeline(self.spec)

    def process(self, signal: Signal) -> Signal | Stems:
        self.load()
        out = self._pipeline.process(signal)
        if isinstance(out, Stems):  # a separation pipeline: each stem fitted like a Signal
            return Stems({name: self._fit(stem, signal) for name, stem in out.items()})
        return self._fit(out, signal)

    def _fit(self, out: Signal, signal: Signal) -> Signal:
        if out.num_channels != signal.num_channels:
            out = out.to_channels(signal.num_channels)
        num_samples = round(signal.num_samples * out.sample_rate / signal.sample_rate)
        if out.num_samples != num_samples:
            out = out.replace(fit_length(out.audio, num_samples).contiguous())
        return out.with_history(f"system:{self.name}", versions=self.versions())


class StageSystem(PipelineSystem):
    """One aural stage, default parameters (and weights, unless ``@<weights>`` names others),
    as a one-stage pipeline."""

    name = "stage"
    summary = "one aural stage with its defaults (stage:<name>, or stage:<name>@<weights preset or path>)"
    prefix = STAGE_PREFIX
    usage = "stage system needs a stage name: stage:<name> or stage:<name>@<weights>"

    def __init__(self, spec: str) -> None:
        super().__init__(spec)
        self.stage_name, _, self.weights = spec.partition("@")
        if not self.stage_name or (not self.weights and "@" in spec):
            raise ValueError(self.usage)

    def describe(self) -> dict[str, Any]:
        info = System.describe(self)
        info["stage"] = self.stage_name
        if self.weights:
            info["weights"] = self.weights
        if self._pipeline is not None:
            info["stage_info"] = self._pipeline.stages[0].describe()
        return info

    def load(self) -> None:
        if self._pipeline is None:
            from aural.config import parse_pipeline
            from aural.pipeline import Pipeline

            from aural.stages import get_stage

            entry = {"stage": self.stage_name, **({"weights": self.weights} if self.weights else {})}
            document: dict[str, Any] = {"aural": 1, "name": self.name, "stages": [entry]}
            contract = get_stage(self.stage_name).contract
            if contract.output_at_native_rate and contract.sample_rate:
                document["sample_rate"] = contract.sample_rate  # a bandwidth extender's output
            spec = parse_pipeline(document, source=self.name)
            self._pipeline = Pipeline.from_spec(spec)
