"""Training checkpoints as safetensors: no pickle anywhere.

One file holds the model (``model.<name>``), the optimizer state flattened to tensors
(``optim.<param index>.<key>``), the RNG states (``rng.torch``, ``rng.cuda.<i>``), the weight average when the run keeps one
(``ema.*``, :mod:`aural.train.ema`) and, in
the metadata, JSON for everything else: step, scheduler, optimizer param groups and scalar
state, Python and NumPy RNG states and whatever the trainer adds (best metric, early
stopping, the run's config). Files are written atomically (temporary file + rename).
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from aural.errors import UsageError
from aural.weights import CHECKPOINT_FORMAT, atomic_write_bytes


@dataclass
class TrainingState:
    """What a checkpoint restores besides tensors."""

    step: int = 0
    extra: dict[str, Any] = field(default_factory=dict)
    aux_tensors: dict[str, torch.Tensor] = field(default_factory=dict)
    ema_tensors: dict[str, torch.Tensor] = field(default_factory=dict)


def _jsonable(value: Any) -> Any:
    json.dumps(value)
    return value


def rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"rng.torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for i, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss = random.getstate()
    return tensors, {"numpy": [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)],
                     "python": [version, list(internal), gauss]}


def set_rng_state(tensors: dict[str, torch.Tensor], states: dict[str, Any]) -> None:
    torch.set_rng_state(tensors["rng.torch"])
    if torch.cuda.is_available():
        cuda = [tensors[k] for k in sorted(k for k in tensors if k.startswith("rng.cuda."))]
        if len(cuda) == torch.cuda.device_count():
            torch.cuda.set_rng_state_all(cuda)
    kind, keys, pos, has_gauss, cached = states["numpy"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    version, internal, gauss = states["python"]
    random.setstate((version, tuple(internal), gauss))


def flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    state = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{index}.{key}"] = value
            else:
                scalars.setdefault(str(index), {})[key] = _jsonable(value)
    return tensors, {"param_groups": _jsonable(state["param_groups"]), "scalars": scalars}


def unflatten_optimizer(tensors: dict[str, torch.Tensor], info: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for name, value in tensors.items():
        if name.startswith("optim."):
            _, index, key = name.split(".", 2)
            state.setdefault(int(index), {})[key] = value
    for index, values in info["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": info["param_groups"]}


def save_checkpoint(path: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer,
                    scheduler: Any, step: int, extra: dict[str, Any] | None = None,
                    aux_tensors: dict[str, torch.Tensor] | None = None,
                    ema_tensors: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a checkpoint atomically; ``extra`` must be JSON-able. ``aux_tensors`` (a task's
    own state, e.g. discriminators and their optimizer) are stored under ``aux.``;
    ``ema_tensors`` (already named ``ema.*``) as they are."""
    from safetensors.torch import save as save_bytes

    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    tensors.update({f"aux.{k}": v for k, v in (aux_tensors or {}).items()})
    tensors.update(ema_tensors or {})
    optim_tensors, optim_info = flatten_optimizer(optimizer)
    tensors.update(optim_tensors)
    rng_tensors, rng_info = rng_state()
    tensors.update(rng_tensors)
    tensors = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    state = {
        "step": int(step),
        "optimizer": optim_info,
        "scheduler": _jsonable(scheduler.state_dict()) if scheduler is not None else None,
        "rng": rng_info,
        "extra": _jsonable(extra or {}),
    }
    metadata = {"format": CHECKPOINT_FORMAT, "state": json.dumps(state)}
    config = (extra or {}).get("weights_config")
    if config is not None:
        metadata["config"] = json.dumps(config)
    atomic_write_bytes(Path(path), save_bytes(tensors, metadata=metadata))
    return Path(path)


def read_checkpoint(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Tensors and the JSON state of a checkpoint file (raises UsageError if unusable)."""
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path}: checkpoint not found")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            tensors = {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as exc:
        raise UsageError(f"{path}: not a readable checkpoint ({exc})") from None
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise UsageError(f"{path}: not an aural training checkpoint")
    return tensors, json.loads(metadata["state"])


def load_checkpoint(path: Path, *, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, restore_rng: bool = True) -> TrainingState:
    """Restore model (and optimizer, scheduler, RNG) in place; returns step and extras."""
    tensors, state = read_checkpoint(path)
    model_state = {k[len("model."):]: v for k, v in tensors.items() if k.startswith("model.")}
    model.load_state_dict(model_state, strict=True)
    if optimizer is not None:
        optimizer.load_state_dict(unflatten_optimizer(tensors, state["optimizer"]))
    if scheduler is not None and state.get("scheduler") is not None:
        # the position in the schedule is restored; its shape (warm-up, total steps) comes from
        # the current config, so a run resumed with more --steps stretches its decay
        saved = dict(state["scheduler"])
        if "lr_lambdas" in saved:
            saved["lr_lambdas"] = [None] * len(saved["lr_lambdas"])
        scheduler.load_state_dict(saved)
    if restore_rng:
        set_rng_state(tensors, state["rng"])
    aux = {k[len("aux."):]: v for k, v in tensors.items() if k.startswith("aux.")}
    ema = {k: v for k, v in tensors.items() if k.startswith("ema.")}
    return TrainingState(step=int(state["step"]), extra=state.get("extra", {}), aux_tensors=aux, ema_tensors=ema)


def load_growing(model: torch.nn.Module, tensors: dict[str, torch.Tensor], source: Path) -> list[str]:
    """Load ``tensors`` into ``model`` as ``load_state_dict(strict=True)`` would, except that
    modules the model declares in ``grown_from_identity`` (name prefixes of parts that start
    as the identity, e.g. a deep filter added to a trained mask model) may be missing from
    ``tensors``: they keep their initial values. Returns those prefixes that were missing."""
    grown = tuple(getattr(model, "grown_from_identity", ()))
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    foreign = [key for key in missing if not key.startswith(grown)] + list(unexpected)
    if foreign:
        raise UsageError(f"{source}: weights do not fit this model's architecture "
                         f"({', '.join(foreign[:4])}{', ...' if len(foreign) > 4 else ''})")
    return sorted({prefix.rstrip(".") for prefix in grown for key in missing if key.startswith(prefix)})
