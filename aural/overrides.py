"""``--set STAGE.PARAM=VALUE``: change a pipeline's params from the command line.

``STAGE`` is a stage name; when it appears more than once in ``stages:``, name the entry by
its position as in error messages: ``dynamics[2].ratio=4`` is ``stages[2]``, which must be
a ``dynamics`` stage. A param that is a mapping takes one key at a time:
``mix_master.stems.background=-30``. ``STAGE.weights=PRESET_OR_FILE`` sets the entry's weights
(``freq_expansion.weights=music``). ``VALUE`` is read as a YAML scalar (``0.7``, ``true``, ``null``,
``podcast``). Overrides are applied to the pipeline's data before validation, so they are
checked exactly like the YAML; their errors name the ``--set`` instead of a file line.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from typing import Any, Sequence

import yaml

from aural.errors import UsageError

MAX_VALUE_CHARS = 1000
_SYNTAX = re.compile(r"^(?P<stage>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<index>\d+)\])?\.(?P<param>[A-Za-z_][A-Za-z0-9_]*)"
                     r"(?:\.(?P<key>[A-Za-z_][A-Za-z0-9_]*))?=(?P<value>.*)$", re.DOTALL)
USAGE = ("expected STAGE.PARAM=VALUE (or STAGE[INDEX].PARAM=VALUE, or STAGE.PARAM.KEY=VALUE for a mapping, "
         "or STAGE.weights=PRESET_OR_FILE), e.g. mel_unet.strength=0.7")
WEIGHTS = "weights"  # not a param: the stage entry's own key
#: the --set option's help (aural run, aural evaluate)
SET_HELP = ("change a param of the pipeline, validated like the YAML: STAGE.PARAM=VALUE "
            "(STAGE[INDEX].PARAM=VALUE when the stage appears twice; INDEX as in stages[INDEX]; "
            "STAGE.PARAM.KEY=VALUE for one key of a mapping, e.g. mix_master.stems.background=-30; "
            "STAGE.weights=PRESET_OR_FILE for a learned stage's weights). Repeatable.")


@dataclass(frozen=True)
class Override:
    text: str              # as given, for messages
    stage: str
    index: int | None      # position in ``stages:`` when given
    param: str
    key: str | None        # one key of a mapping param
    value: Any


def parse_override(text: str) -> Override:
    """One ``--set`` argument; a usage error when it does not parse."""
    match = _SYNTAX.match(text)
    if not match:
        raise UsageError(f"--set {text}: {USAGE}")
    raw = match["value"]
    if len(raw) > MAX_VALUE_CHARS:
        raise UsageError(f"--set {text[:40]}...: value longer than {MAX_VALUE_CHARS} characters")
    try:
        value = yaml.safe_load(raw) if raw.strip() else raw
    except yaml.YAMLError:
        value = raw
    if isinstance(value, (list, dict)):
        raise UsageError(f"--set {text}: expected a single value, got a {type(value).__name__}")
    index = int(match["index"]) if match["index"] is not None else None
    return Override(text, match["stage"], index, match["param"], match["key"], value)


def apply_overrides(data: Any, texts: Sequence[str]) -> tuple[Any, dict[tuple, str]]:
    """``data`` with every override set (a copy), and ``{key path: --set text}`` for messages.

    A stage that is not in the pipeline, a name that matches several entries without an
    index, or an index that holds another stage is a usage error.
    """
    overrides = [parse_override(text) for text in texts]
    if not overrides:
        return data, {}
    stages = data.get("stages") if isinstance(data, dict) else None
    if not isinstance(stages, list):
        raise UsageError(f"--set {overrides[0].text}: the pipeline has no list of stages")
    data = copy.deepcopy(data)
    stages = data["stages"]
    names = [entry.get("stage") if isinstance(entry, dict) else None for entry in stages]
    paths: dict[tuple, str] = {}
    for override in overrides:
        index = _entry_index(override, names)
        if override.param == WEIGHTS and override.key is None:
            stages[index][WEIGHTS] = override.value
            paths[("stages", index, WEIGHTS)] = override.text
            continue
        params = stages[index].get("params")
        if params is None:
            params = stages[index]["params"] = {}
        if not isinstance(params, dict):
            raise UsageError(f"--set {override.text}: stages[{index}].params is not a mapping")
        path = ("stages", index, "params", override.param)
        if override.key is None:
            params[override.param] = override.value
        else:
            mapping = params.get(override.param)
            if mapping is None:
                mapping = params[override.param] = {}
            if not isinstance(mapping, dict):
                raise UsageError(f"--set {override.text}: stages[{index}].params.{override.param} is not a mapping")
            mapping[override.key] = override.value
            paths[(*path, override.key)] = override.text
        paths[path] = override.text
    return data, paths


def _entry_index(override: Override, names: list[Any]) -> int:
    where = [i for i, name in enumerate(names) if name == override.stage]
    listed = ", ".join(f"{name}[{i}]" for i, name in enumerate(names))
    if override.index is not None:
        if override.index >= len(names) or names[override.index] != override.stage:
            raise UsageError(f"--set {override.text}: stages[{override.index}] is not a {override.stage} stage; "
                             f"the pipeline has {listed}")
        return override.index
    if not where:
        raise UsageError(f"--set {override.text}: no stage {override.stage!r} in the pipeline; it has {listed}")
    if len(where) > 1:
        choices = " or ".join(f"{override.stage}[{i}].{override.param}" for i in where)
        raise UsageError(f"--set {override.text}: {override.stage} appears {len(where)} times; "
                         f"name one by its position: {choices}")
    return where[0]
