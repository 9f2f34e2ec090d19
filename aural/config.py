"""Pipeline YAML -> validated :class:`PipelineSpec`.

Schema (``aural: 1``)::

    aural: 1                      # schema version, required
    name: phone_to_studio         # optional, defaults to the file name
    description: ...              # optional
    sample_rate: 48000            # optional: working and output rate
    stages:                       # required, at least one
      - stage: dynamics           # a registered stage name
        params: {ratio: 3.0}      # optional, checked against the stage's Params
        weights: default          # learned stages only: a preset name or a file path
        apply_to: voice           # optional: run the stage on this stem only (after a stage
                                  # that outputs stems; the other stems pass unchanged)
        enabled: true             # optional

Stems: after a stage whose contract outputs stems (``separation``: ``voice``, ``background``)
the stream carries every stem. A signal stage must then say ``apply_to: STEM``; one without it
is refused (mix the stems first with ``mix_master``, which takes stems); a pipeline may end
with stems (``aural run --stems`` writes a file per stem).

Validation runs in phases before any weights are loaded: YAML syntax, keys, stage names
(and whether each can run here: a stage whose optional extra is missing says which to install),
params (unknown keys, types, ranges), chain contracts, weights (checksums, and tensor names
and shapes read from the file's header). Every error of a file is reported, one line each,
in file order. Errors read ``phone_to_studio.yaml:9 stages[1].params.ratio: expected a number >= 1,
got 'loud'``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import yaml

from aural import safe_yaml
from aural.errors import ConfigError, UsageError
from aural.params import check_params
from aural.registry import close_matches
from aural.shipped import shipped_dir

SCHEMA_VERSION = 1
TOP_LEVEL_KEYS = ("aural", "name", "description", "sample_rate", "stages")
STAGE_KEYS = ("stage", "params", "weights", "apply_to", "enabled", "optional")


@dataclass(frozen=True)
class StageSpec:
    """One validated entry of ``stages:``."""

    stage: str
    params: Any
    weights: str | None = None
    index: int = 0
    apply_to: str | None = None


@dataclass(frozen=True)
class PipelineSpec:
    name: str
    stages: tuple[StageSpec, ...]
    sample_rate: int | None = None
    description: str = ""
    source: Path | None = None
    lines: Mapping[tuple, int] = field(default_factory=dict, repr=False)
    #: ``optional: true`` stages that cannot run here, each "name (stages[i]): reason", left out
    left_out: tuple[str, ...] = ()

    def left_out_notes(self) -> list[str]:
        """One line per optional stage left out, for the user: "NAME runs without STAGE (stages[i]): reason"."""
        return [f"{self.name} runs without {item}" for item in self.left_out]

    @property
    def output_stems(self) -> tuple[str, ...] | None:
        """The stems the pipeline ends with (as :attr:`aural.pipeline.Pipeline.output_stems`),
        known from the stages' contracts without building them (no weights loaded)."""
        from aural.stages import STAGES
        from aural.stages.base import final_stems

        return final_stems((STAGES.get(entry.stage).contract, entry.apply_to) for entry in self.stages)


# -- locating pipelines --------------------------------------------------------------------
def pipelines_dir() -> Path:
    """``$AURAL_PIPELINES``, else the shipped ``pipelines/`` (installed with aural, or the checkout's)."""
    env = os.environ.get("AURAL_PIPELINES")
    return Path(env) if env else shipped_dir("pipelines")


def builtin_pipelines() -> dict[str, Path]:
    """Built-in pipeline names -> their files in :func:`pipelines_dir`."""
    folder = pipelines_dir()
    if not folder.is_dir():
        return {}
    return {p.stem: p for p in sorted(folder.glob("*.yaml"))}


def resolve_pipeline_path(name_or_path: str | Path) -> Path:
    """A YAML path as given, or the file of a built-in pipeline name."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists() or "/" in str(name_or_path):
        if not path.exists():
            raise UsageError(f"{path}: no such pipeline file")
        if path.is_dir():
            raise UsageError(f"{path}: is a folder, not a pipeline file")
        return path
    builtins = builtin_pipelines()
    if str(name_or_path) in builtins:
        return builtins[str(name_or_path)]
    raise UsageError(f"unknown pipeline {str(name_or_path)!r}{close_matches(str(name_or_path), builtins)}; "
                     f"built-in: {', '.join(builtins) or 'none'} (or give a .yaml path)")


# -- YAML with line numbers ----------------------------------------------------------------
def _line_map(node: yaml.Node, path: tuple = (), lines: dict | None = None) -> dict[tuple, int]:
    """Key path -> 1-based line of every value in a composed YAML tree."""
    lines = {} if lines is None else lines
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[path + (key,)] = key_node.start_mark.line + 1
            _line_map(value_node, path + (key,), lines)
            lines[path + (key,)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, path + (i,), lines)
    return lines


def _format_path(path: tuple) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


class _Checker:
    """Raises ConfigError at ``file:line key.path``."""

    def __init__(self, source: str, lines: Mapping[tuple, int]):
        self.source = source
        self.lines = lines

    def fail(self, path: tuple, message: str) -> ConfigError:
        probe = path
        while probe and probe not in self.lines:
            probe = probe[:-1]
        line = self.lines.get(probe)
        where = f"{self.source}:{line}" if line else self.source
        key = _format_path(path)
        return ConfigError(f"{where} {key}: {message}" if key else f"{where}: {message}")


def load_yaml(path: Path) -> tuple[Any, dict[tuple, int]]:
    """Data and line map of a pipeline file, bounded in size, depth and alias expansion."""
    data, node = safe_yaml.load(safe_yaml.read_text(path, "pipeline file"), str(path))
    return data, (_line_map(node) if node is not None else {})


# -- validation ----------------------------------------------------------------------------
class _Problems:
    """Every error of one file, each ``file:line key.path: message``; raised together."""

    def __init__(self, check: _Checker, overrides: Mapping[tuple, str] | None = None):
        self.check = check
        self.overrides = overrides or {}  # key path -> the --set that gave its value
        self.found: list[tuple[int, int, str]] = []  # (line, order found, message)

    def add(self, path: tuple, message: str) -> None:
        if path in self.overrides:
            self.found.append((0, len(self.found), f"--set {self.overrides[path]}: {_format_path(path)}: {message}"))
            return
        text = str(self.check.fail(path, message))
        probe = path
        while probe and probe not in self.check.lines:
            probe = probe[:-1]
        self.found.append((self.check.lines.get(probe, 0), len(self.found), text))

    def __bool__(self) -> bool:
        return bool(self.found)

    def raise_all(self) -> None:
        """Raise one ConfigError holding every message, in file order."""
        if self.found:
            raise ConfigError(*(message for _, _, message in sorted(self.found)))


def parse_pipeline(data: Any, source: str = "<pipeline>", lines: Mapping[tuple, int] | None = None,
                   base_dir: Path | None = None, overrides: Mapping[tuple, str] | None = None) -> PipelineSpec:
    """Validate plain pipeline data (as loaded from YAML) into a PipelineSpec.

    Every error is collected (one line each, in file order) and raised together as one
    :class:`ConfigError`; a phase that depends on an earlier one (contracts need valid stage
    names) is skipped where that one failed. Weights are checked without loading them.
    ``overrides``: key paths set by ``--set`` (their errors name the ``--set``, not a line).
    """
    check = _Checker(source, lines or {})
    if not isinstance(data, dict):
        raise check.fail((), "expected a mapping with keys aural, stages, ...")
    problems = _Problems(check, overrides)
    header = _check_header(data, source, problems)
    stages = data.get("stages")
    if not isinstance(stages, list) or not stages:
        problems.add(("stages",), "expected a non-empty list of stages")
        problems.raise_all()
    specs, left_out = _check_stages(stages, problems)
    if not problems and not specs:
        problems.add(("stages",), "every stage is disabled or left out")
    if specs and not problems:
        _check_contracts(specs, problems)
    checked = _check_all_weights(specs, base_dir, problems)
    problems.raise_all()
    return PipelineSpec(name=header["name"], stages=tuple(checked), sample_rate=header["sample_rate"],
                        description=header["description"], source=Path(source), lines=dict(lines or {}),
                        left_out=tuple(left_out))


def _check_header(data: dict, source: str, problems: _Problems) -> dict[str, Any]:
    """Top-level keys, schema version, name, description, sample rate."""
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            problems.add((key,), f"unknown key{close_matches(str(key), TOP_LEVEL_KEYS)}; "
                                 f"allowed: {', '.join(TOP_LEVEL_KEYS)}")
    if "aural" not in data:
        problems.add((), f"missing 'aural: {SCHEMA_VERSION}' (the schema version)")
    elif data["aural"] != SCHEMA_VERSION:
        problems.add(("aural",), f"unsupported schema version {data['aural']!r}; this aural reads {SCHEMA_VERSION}")
    name = data.get("name", Path(source).stem)
    if not isinstance(name, str) or not name:
        problems.add(("name",), f"expected a non-empty string, got {name!r}")
    description = data.get("description", "")
    if not isinstance(description, str):
        problems.add(("description",), f"expected a string, got {description!r}")
    sample_rate = data.get("sample_rate")
    if sample_rate is not None and (isinstance(sample_rate, bool) or not isinstance(sample_rate, int)
                                    or not 8000 <= sample_rate <= 192000):
        problems.add(("sample_rate",), f"expected an integer rate in 8000..192000 Hz, got {sample_rate!r}")
    return {"name": name, "description": description, "sample_rate": sample_rate}


def _check_stages(stages: list, problems: _Problems) -> tuple[list[StageSpec], list[str]]:
    """The enabled entries' specs, and what was left out: an ``optional: true`` stage that
    cannot run here (its extra is missing) is dropped with its reason instead of failing."""
    from aural.stages import STAGES

    specs, left_out = [], []
    for i, entry in enumerate(stages):
        if not isinstance(entry, dict):
            problems.add(("stages", i), f"expected a mapping with 'stage:', got {entry!r}")
            continue
        for key in entry:
            if key not in STAGE_KEYS:
                problems.add(("stages", i, key), f"unknown key{close_matches(str(key), STAGE_KEYS)}; "
                                                 f"allowed: {', '.join(STAGE_KEYS)}")
        for flag in ("enabled", "optional"):
            if not isinstance(entry.get(flag, True), bool):
                problems.add(("stages", i, flag), f"expected true or false, got {entry[flag]!r}")
        if "stage" not in entry:
            problems.add(("stages", i), "missing 'stage:' (the stage name)")
            continue
        if not isinstance(entry["stage"], str) or entry["stage"] not in STAGES:
            names = STAGES.names()
            problems.add(("stages", i, "stage"),
                         f"unknown stage {entry['stage']!r}{close_matches(str(entry['stage']), names)}; "
                         f"available: {', '.join(names)}")
            continue
        cls = STAGES.get(entry["stage"])
        spec = _check_stage_entry(i, entry, cls, problems)
        if entry.get("enabled", True) is False:
            continue
        runs_here, reason = cls.available()
        if not runs_here:
            path, message = ("stages", i, "stage"), f"stage {cls.name} cannot run here: {reason}"
        elif spec is not None and spec.params is not None:
            reason = cls.unavailable_with(spec.params)
            path, message = ("stages", i, "params"), f"cannot run here: {reason}"
        if reason and entry.get("optional") is True:
            left_out.append(f"{cls.name} (stages[{i}]): {reason}")
        elif reason:
            problems.add(path, message)
        elif spec is not None:
            specs.append(spec)
    return specs, left_out


def _check_stage_entry(i: int, entry: dict, cls: Any, problems: _Problems) -> StageSpec | None:
    """Params and the weights reference of one entry whose stage name is known (params None
    where they do not validate; the weights are still checked)."""
    params = None
    values = entry.get("params") or {}
    if not isinstance(values, dict):
        problems.add(("stages", i, "params"), f"expected a mapping of parameters, got {values!r}")
    else:
        params, errors = check_params(cls.Params, values)
        for error in errors:
            problems.add(("stages", i, "params", error.key), error.message)
    weights = entry.get("weights")
    if weights is not None and not cls.learned:
        problems.add(("stages", i, "weights"), f"stage {cls.name} is a {cls.kind()} stage and takes no weights")
        weights = None
    elif weights is not None and not isinstance(weights, str):
        problems.add(("stages", i, "weights"), f"expected a preset name or a file path, got {weights!r}")
        weights = None
    elif cls.learned and weights is None:
        weights = "default"
    apply_to = entry.get("apply_to")
    if apply_to is not None and (not isinstance(apply_to, str) or not apply_to):
        problems.add(("stages", i, "apply_to"), f"expected a stem name, got {apply_to!r}")
        apply_to = None
    return StageSpec(cls.name, params, weights, i, apply_to)


def _check_contracts(specs: list[StageSpec], problems: _Problems) -> None:
    """Each stage takes what the previous one gives: a signal stage after stems runs on one
    stem (``apply_to``, a stem that exists); a stage that takes stems gets them; its params fit
    the stems it gets (``Stage.check_stems``). A pipeline may end with stems."""
    from aural.stages import STAGES

    stems: tuple[str, ...] | None = None  # the stem names while the stream carries stems
    source = None  # the entry that made them
    for spec in specs:
        cls = STAGES.get(spec.stage)
        contract = cls.contract
        at = ("stages", spec.index)
        if spec.apply_to is not None:
            if stems is None:
                problems.add(at + ("apply_to",), f"no stems to apply {spec.stage} to: the stage before gives a "
                                                  "signal (apply_to follows a stage that outputs stems)")
            elif spec.apply_to not in stems:
                problems.add(at + ("apply_to",), f"no stem {spec.apply_to!r}"
                                                  f"{close_matches(spec.apply_to, stems)}; stages[{source.index}] "
                                                  f"({source.stage}) gives {', '.join(stems)}")
            elif contract.output == "stems" or not contract.takes("signal"):
                problems.add(at + ("apply_to",), f"{spec.stage} takes {contract.input} and gives {contract.output}; "
                                                  "apply_to runs a stage that takes and gives a signal on one stem")
            elif spec.params is not None:
                for key, message in cls.check_stems(spec.params, None):
                    problems.add(at + ("params", key), message)
            continue
        kind = "stems" if stems is not None else "signal"
        if not contract.takes(kind):
            if stems is not None:
                problems.add(at + ("stage",), f"{spec.stage} takes a signal but receives stems "
                                              f"({', '.join(stems)}) from stages[{source.index}] ({source.stage}): "
                                              f"add apply_to: STEM to run it on one stem, or mix the stems first "
                                              f"with mix_master")
            else:
                problems.add(at + ("stage",), f"{spec.stage} takes {contract.input} but receives a signal")
        elif spec.params is not None:
            for key, message in cls.check_stems(spec.params, stems):
                problems.add(at + ("params", key), message)
        if contract.output == "stems":
            stems, source = contract.stems, spec
        else:
            stems, source = None, None


def _check_all_weights(specs: list[StageSpec], base_dir: Path | None, problems: _Problems) -> list[StageSpec]:
    """Weights of every stage that has them (files, checksums, header), before anything loads."""
    checked = []
    for spec in specs:
        if spec.weights is not None:
            try:
                spec = replace(spec, weights=_check_weights(spec, base_dir))
            except UsageError as exc:
                problems.add(("stages", spec.index, "weights"), str(exc))
        checked.append(spec)
    return checked


def _check_weights(spec: StageSpec, base_dir: Path | None) -> str:
    """The weights reference made absolute if it is a path; checked to exist, match its
    checksums and fit the stage's model (tensor names and shapes from the file's header)."""
    from aural import weights as weights_module
    from aural.stages import STAGES

    value = spec.weights
    if weights_module.is_path(value):
        path = Path(value).expanduser()
        if not path.is_absolute() and base_dir is not None and (base_dir / path).exists():
            path = base_dir / path
        if not path.is_file():
            raise UsageError(f"weights file {value} does not exist")
        value = str(path.resolve())
    weights_module.inspect(spec.stage, value, getattr(STAGES.get(spec.stage), "model_factory", None))
    return value


def load_pipeline_spec(name_or_path: str | Path, overrides: Sequence[str] = ()) -> PipelineSpec:
    """Read and validate a pipeline file or a built-in pipeline name, with ``--set``
    overrides (``STAGE.PARAM=VALUE``, see :mod:`aural.overrides`) applied before validation."""
    from aural.overrides import apply_overrides

    path = resolve_pipeline_path(name_or_path)
    data, lines = load_yaml(path)
    data, override_paths = apply_overrides(data, overrides)
    return parse_pipeline(data, source=str(path), lines=lines, base_dir=path.parent, overrides=override_paths)
