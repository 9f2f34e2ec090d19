"""Stage parameters: frozen dataclasses whose fields carry their unit, range and help.

A stage declares ``Params`` with :func:`param` fields; :func:`build_params` turns the plain
mapping of a YAML ``params:`` block into an instance, or raises :class:`ParamError` naming
the key and what was expected.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Mapping


class ParamError(ValueError):
    """A parameter value that does not fit; ``key`` names it, the message says why."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key
        self.message = message


@dataclass(frozen=True)
class ParamSpec:
    """What a parameter accepts, for validation and for ``aural stages``."""

    name: str
    kind: type
    default: Any
    optional: bool
    help: str
    unit: str | None = None
    min: float | None = None
    max: float | None = None
    choices: tuple[Any, ...] | None = None

    def describe_range(self) -> str:
        if self.choices:
            return " | ".join(str(c) for c in self.choices)
        if self.min is not None and self.max is not None:
            return f"{self.min:g}..{self.max:g}"
        if self.min is not None:
            return f">= {self.min:g}"
        if self.max is not None:
            return f"<= {self.max:g}"
        return ""


def param(default: Any, *, help: str, unit: str | None = None, min: float | None = None,
          max: float | None = None, choices: tuple[Any, ...] | None = None) -> Any:
    """A dataclass field with metadata for validation and documentation."""
    meta = {"help": help, "unit": unit, "min": min, "max": max, "choices": choices}
    return dataclasses.field(default=default, metadata=meta)


def _base_type(annotation: Any) -> tuple[type, bool]:
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(args) != 1:
            raise TypeError(f"unsupported parameter annotation {annotation!r}")
        return _base_type(args[0])[0], True
    if origin is dict:  # dict[str, float]: names -> numbers (per-stem gains); the range bounds the numbers
        if typing.get_args(annotation) != (str, float):
            raise TypeError(f"unsupported parameter annotation {annotation!r}")
        return dict, False
    return annotation, False


def param_specs(params_cls: type) -> list[ParamSpec]:
    """The specs of every field of a Params dataclass, in declaration order."""
    hints = typing.get_type_hints(params_cls)
    specs = []
    for f in dataclasses.fields(params_cls):
        kind, optional = _base_type(hints[f.name])
        meta = f.metadata
        specs.append(ParamSpec(
            name=f.name, kind=kind, default=f.default, optional=optional,
            help=meta.get("help", ""), unit=meta.get("unit"), min=meta.get("min"),
            max=meta.get("max"), choices=meta.get("choices")))
    return specs


def _expected(spec: ParamSpec) -> str:
    names = {float: "a number", int: "an integer", bool: "true or false", str: "a string",
             dict: "a mapping of names to numbers"}
    text = names.get(spec.kind, spec.kind.__name__)
    if spec.choices:
        text = "one of " + ", ".join(repr(c) for c in spec.choices)
    elif spec.min is not None and spec.max is not None:
        text += f" in {spec.min:g}..{spec.max:g}"
    elif spec.min is not None:
        text += f" >= {spec.min:g}"
    elif spec.max is not None:
        text += f" <= {spec.max:g}"
    if spec.optional:
        text += " (or null)"
    return text


def coerce(spec: ParamSpec, value: Any) -> Any:
    """Check one value against its spec; returns it in the declared type."""
    def fail() -> ParamError:
        return ParamError(spec.name, f"expected {_expected(spec)}, got {value!r}")

    if value is None:
        if spec.optional:
            return None
        raise fail()
    if spec.kind is bool:
        if not isinstance(value, bool):
            raise fail()
        return value
    if spec.kind is dict:
        if not isinstance(value, dict):
            raise fail()
        number = dataclasses.replace(spec, kind=float, optional=False)
        checked = {}
        for key, item in value.items():
            if not isinstance(key, str) or not key:
                raise ParamError(spec.name, f"expected names (strings) as keys, got {key!r}")
            try:
                checked[key] = coerce(number, item)
            except ParamError:
                raise ParamError(spec.name, f"{key}: expected {_expected(number)}, got {item!r}") from None
        return checked
    if spec.kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail()
        if spec.kind is int and not float(value).is_integer():
            raise fail()
        value = spec.kind(value)
        if not math.isfinite(value):
            raise fail()
        if (spec.min is not None and value < spec.min) or (spec.max is not None and value > spec.max):
            raise fail()
    elif spec.kind is str:
        if not isinstance(value, str):
            raise fail()
    if spec.choices and value not in spec.choices:
        raise fail()
    return value


def build_params(params_cls: type, values: Mapping[str, Any] | None) -> Any:
    """A validated ``params_cls`` instance from a plain mapping (unknown keys are errors);
    raises the first :class:`ParamError`."""
    params, errors = check_params(params_cls, values)
    if errors:
        raise errors[0]
    return params


def check_params(params_cls: type, values: Mapping[str, Any] | None) -> tuple[Any, list[ParamError]]:
    """``(params, [])`` for valid ``values``, else ``(None, every error)``: each unknown key and
    each bad value; cross-field checks (``__post_init__``) run once every value fits."""
    from aural.registry import close_matches

    values = dict(values or {})
    specs = {s.name: s for s in param_specs(params_cls)}
    errors, kwargs = [], {}
    for key, value in values.items():
        if key not in specs:
            hint = close_matches(str(key), specs)
            errors.append(ParamError(str(key), f"unknown parameter{hint}; known: {', '.join(specs)}"))
            continue
        try:
            kwargs[key] = coerce(specs[key], value)
        except ParamError as exc:
            errors.append(exc)
    if errors:
        return None, errors
    try:
        return params_cls(**kwargs), []
    except ParamError as exc:
        return None, [exc]
    except (TypeError, ValueError) as exc:  # cross-field checks in __post_init__
        return None, [ParamError(next(iter(values), ""), str(exc))]


def params_to_dict(params: Any) -> dict[str, Any]:
    return dataclasses.asdict(params)
