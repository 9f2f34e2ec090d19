"""JSON round trip of the frozen dataclass configs stored beside a model's weights."""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Any, ClassVar, Mapping, TypeVar

C = TypeVar("C", bound="ModelConfig")


class ModelConfig:
    """Mixin for a frozen dataclass config: ``from_dict`` refuses unknown options (naming the
    ``architecture``), ``to_dict`` gives plain JSON data (tuples as lists)."""

    architecture: ClassVar[str]

    @classmethod
    def from_dict(cls: type[C], values: Mapping[str, Any]) -> C:
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown {cls.architecture} options: {', '.join(sorted(unknown))}")
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {key: list(value) if isinstance(value, tuple) else value for key, value in asdict(self).items()}
