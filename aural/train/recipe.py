"""Training recipes: plain YAML (``yaml.safe_load``) validated into a :class:`Recipe`.

A recipe says what a stage trains with (losses as ``{name, weight, ...options}``, optimizer
and schedule, segment length, model options, task options such as ``match_level``, data
options such as the on-the-fly ``reference``: ``early`` or ``dry``), how long, and whether
validation and export use a weight average (``ema``). Built-in recipes are
``aural/recipes/<stage>.yaml``; ``aural train --recipe FILE`` takes any other.

A recipe file may start from another: ``base: builtin`` (its stage's built-in recipe) or
``base: other.yaml`` (a path relative to the file). Its own keys replace the base's; mapping
sections (``optimizer``, ``model``, ``task``, ...) are merged key by key, lists (``losses``)
replaced whole.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Mapping

from aural import safe_yaml
from aural.errors import ConfigError
from aural.train.task import OptimizerConfig
from aural.train.trainer import TrainerConfig

OPTIMIZER_KEYS = ("lr", "betas", "weight_decay")
SCHEDULE_KEYS = ("warmup_steps", "decay", "min_lr_ratio")
EARLY_STOPPING_KEYS = ("metric", "mode", "patience")
TASK_KEYS = ("match_level", "front", "front_weights", "trainable")
#: on-the-fly training targets (aural.degrade.reference): ``reference: early|dry``, ``early_reflections_ms``;
#: ``augment``: speed and EQ changes of separation's mixture sources (aural.stages.separation.data);
#: ``known_band``: freq_expansion scores only each source's known band (false: up to 24 kHz)
DATA_KEYS = ("reference", "early_reflections_ms", "augment", "known_band")
#: the data keys only one stage takes: that stage and the key's default
STAGE_DATA_KEYS = {"augment": ("separation", False), "known_band": ("freq_expansion", True)}


@dataclass(frozen=True)
class Recipe:
    stage: str
    steps: int = 10000
    batch_size: int = 16
    segment_samples: int = 16384
    optimizer: dict[str, Any] = field(default_factory=dict)
    schedule: dict[str, Any] = field(default_factory=dict)
    losses: tuple[dict[str, Any], ...] = ({"name": "l1", "weight": 1.0}, {"name": "mrstft", "weight": 1.0})
    grad_clip: float | None = 5.0
    val_every: int = 500
    checkpoint_every: int = 500
    log_every: int = 25
    early_stopping: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    num_workers: int = 0
    precision: str = "auto"
    tensorboard: bool = False
    model: dict[str, Any] = field(default_factory=dict)
    data: dict[str, Any] = field(default_factory=dict)
    task: dict[str, Any] = field(default_factory=dict)
    adversarial: dict[str, Any] | None = None
    ema: dict[str, Any] | None = None
    source: str = "<recipe>"

    def replace(self, **changes: Any) -> "Recipe":
        return dataclasses.replace(self, **changes)

    def adversarial_loss(self):
        """The recipe's :class:`~aural.losses.adversarial.AdversarialLoss`, or None (no GAN phase)."""
        if not self.adversarial:
            return None
        from aural.losses.adversarial import AdversarialConfig, AdversarialLoss
        return AdversarialLoss(AdversarialConfig.from_dict(self.adversarial))

    def optimizer_config(self) -> OptimizerConfig:
        return OptimizerConfig(**self.optimizer, **self.schedule, total_steps=self.steps)

    def trainer_config(self, **overrides: Any) -> TrainerConfig:
        stopping = self.early_stopping
        values = dict(steps=self.steps, batch_size=self.batch_size, grad_clip=self.grad_clip,
                      val_every=self.val_every, checkpoint_every=self.checkpoint_every, log_every=self.log_every,
                      best_metric=stopping.get("metric", "snr/val"), best_mode=stopping.get("mode", "max"),
                      patience=stopping.get("patience"), seed=self.seed, num_workers=self.num_workers,
                      precision=self.precision, tensorboard=self.tensorboard, ema=self.ema)
        values.update(overrides)
        return TrainerConfig(**values)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["losses"] = [dict(x) for x in self.losses]
        values.pop("source")
        return values


def _fail(source: str, key: str, message: str) -> ConfigError:
    return ConfigError(f"{source} {key}: {message}")


def _checked_section(source: str, key: str, section: Any, config_class: Any) -> dict[str, Any]:
    """An optional section (``adversarial``, ``ema``) validated by its config class's ``from_dict``."""
    if not isinstance(section, Mapping):
        raise _fail(source, key, f"expected a mapping, got {section!r}")
    try:
        config_class.from_dict(section)
    except (TypeError, ValueError) as exc:
        raise _fail(source, key, str(exc)) from None
    return dict(section)


def recipe_from_mapping(data: Any, source: str = "<recipe>") -> Recipe:
    """Validate plain data into a :class:`Recipe`; errors name the file and the key."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: a recipe must be a mapping of keys")
    known = {f.name for f in dataclasses.fields(Recipe)} - {"source"}
    for key in data:
        if key not in known:
            from aural.registry import close_matches
            raise _fail(source, str(key), f"unknown key{close_matches(str(key), known)}; known: {', '.join(sorted(known))}")
    if not isinstance(data.get("stage"), str):
        raise _fail(source, "stage", "expected the stage name")
    values = dict(data)
    for key in ("steps", "batch_size", "segment_samples", "val_every", "checkpoint_every", "log_every"):
        if key in values and (isinstance(values[key], bool) or not isinstance(values[key], int) or values[key] < 1):
            raise _fail(source, key, f"expected an integer >= 1, got {values[key]!r}")
    for key in ("seed", "num_workers"):
        if key in values and (isinstance(values[key], bool) or not isinstance(values[key], int) or values[key] < 0):
            raise _fail(source, key, f"expected an integer >= 0, got {values[key]!r}")
    if values.get("grad_clip") is not None and (isinstance(values["grad_clip"], bool)
                                                or not isinstance(values["grad_clip"], (int, float))
                                                or values["grad_clip"] <= 0):
        raise _fail(source, "grad_clip", f"expected a number > 0 or null, got {values['grad_clip']!r}")
    for key, allowed in (("optimizer", OPTIMIZER_KEYS), ("schedule", SCHEDULE_KEYS),
                         ("early_stopping", EARLY_STOPPING_KEYS), ("task", TASK_KEYS), ("model", None),
                         ("data", DATA_KEYS)):
        section = values.get(key, {}) or {}
        if not isinstance(section, Mapping):
            raise _fail(source, key, f"expected a mapping, got {section!r}")
        if allowed is not None:
            for sub in section:
                if sub not in allowed:
                    raise _fail(source, f"{key}.{sub}", f"unknown key; known: {', '.join(allowed)}")
        values[key] = dict(section)
    _check_data(source, values["data"])
    losses = values.get("losses")
    if losses is not None:
        if not isinstance(losses, list) or not losses or not all(isinstance(x, Mapping) for x in losses):
            raise _fail(source, "losses", "expected a non-empty list of {name, weight, ...} mappings")
        from aural.losses import build_loss
        try:
            build_loss(losses)
        except (ValueError, KeyError) as exc:
            raise _fail(source, "losses", str(exc).strip('"')) from None
        values["losses"] = tuple(dict(x) for x in losses)
    from aural.losses.adversarial import AdversarialConfig
    from aural.train.ema import EmaConfig

    for key, config_class in (("adversarial", AdversarialConfig), ("ema", EmaConfig)):
        if values.get(key) is not None:
            values[key] = _checked_section(source, key, values[key], config_class)
    recipe = Recipe(**values, source=source)
    try:
        recipe.optimizer_config()
        recipe.trainer_config()
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{source}: {exc}") from None
    return recipe


def _check_data(source: str, data: dict[str, Any]) -> None:
    from aural.degrade.reference import (DEFAULT_EARLY_REFLECTIONS_MS, DEFAULT_REFERENCE, MAX_EARLY_REFLECTIONS_MS,
                                         REFERENCES)

    reference = data.get("reference", DEFAULT_REFERENCE)
    if reference not in REFERENCES:
        raise _fail(source, "data.reference", f"expected one of {', '.join(REFERENCES)}, got {reference!r}")
    window = data.get("early_reflections_ms", DEFAULT_EARLY_REFLECTIONS_MS)
    if isinstance(window, bool) or not isinstance(window, (int, float)) \
            or not 0.0 <= window <= MAX_EARLY_REFLECTIONS_MS:
        raise _fail(source, "data.early_reflections_ms",
                    f"expected a number from 0 to {MAX_EARLY_REFLECTIONS_MS:g}, got {window!r}")
    for key, (_, default) in STAGE_DATA_KEYS.items():
        if not isinstance(data.get(key, default), bool):
            raise _fail(source, f"data.{key}", f"expected true or false, got {data[key]!r}")


MAX_BASE_DEPTH = 4


def load_recipe(path: str | Path) -> Recipe:
    path = Path(path)
    return recipe_from_mapping(_recipe_data(path, ()), str(path))


def _recipe_data(path: Path, seen: tuple[Path, ...]) -> Any:
    """The file's mapping with its ``base`` (if any) resolved and merged under it."""
    data, _ = safe_yaml.load(safe_yaml.read_text(path, "recipe"), str(path))
    if not isinstance(data, Mapping) or "base" not in data:
        return data
    data = dict(data)
    base = data.pop("base")
    if base == "builtin":
        if not isinstance(data.get("stage"), str):
            raise _fail(str(path), "base", "`base: builtin` needs the recipe's stage")
        return merge_recipe_data(_builtin_data(data["stage"]), data)
    if not isinstance(base, str) or not base:
        raise _fail(str(path), "base", f"expected `builtin` or a recipe file path, got {base!r}")
    base_path = (path.parent / base).resolve()
    if base_path in seen or base_path == path.resolve():
        raise _fail(str(path), "base", f"{base} leads back to itself")
    if len(seen) >= MAX_BASE_DEPTH:
        raise _fail(str(path), "base", f"more than {MAX_BASE_DEPTH} bases in a chain")
    inherited = _recipe_data(base_path, (*seen, path.resolve()))
    if isinstance(inherited, Mapping) and data.get("stage", inherited.get("stage")) != inherited.get("stage"):
        raise _fail(str(path), "stage", f"{data.get('stage')!r} differs from its base's {inherited.get('stage')!r}")
    return merge_recipe_data(inherited, data)


def merge_recipe_data(base: Any, own: Mapping[str, Any]) -> dict[str, Any]:
    """``own`` over ``base``: mappings merged one level deep, everything else replaced."""
    merged = dict(base) if isinstance(base, Mapping) else {}
    for key, value in own.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = {**merged[key], **value}
        else:
            merged[key] = value
    return merged


def _builtin_data(stage: str) -> Any:
    resource = resources.files("aural") / "recipes" / f"{stage}.yaml"
    if not resource.is_file():
        raise ConfigError(f"no built-in recipe for stage {stage!r}; pass --recipe FILE.yaml")
    data, _ = safe_yaml.load(resource.read_text(), f"aural/recipes/{stage}.yaml")
    return data


def builtin_recipe(stage: str) -> Recipe:
    """``aural/recipes/<stage>.yaml``."""
    return recipe_from_mapping(_builtin_data(stage), f"aural/recipes/{stage}.yaml")
