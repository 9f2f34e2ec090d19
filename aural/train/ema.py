"""Exponential moving average (EMA) of a model's weights during training.

GAN generators in particular end a run noisier than the average of their last few thousand
steps; validation, the best checkpoint and the exported weights use the average instead. A
recipe turns it on with ``ema: {decay: 0.999, start_step: 1500}``: from ``start_step`` on,
after every optimizer step, ``average = decay * average + (1 - decay) * weights`` (the first
update copies the weights). Built on :class:`torch.optim.swa_utils.AveragedModel`.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

import torch
from torch import nn

EMA_KEYS = ("decay", "start_step")
PREFIX = "ema."


@dataclass(frozen=True)
class EmaConfig:
    decay: float = 0.999
    start_step: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.decay, bool) or not isinstance(self.decay, (int, float)) or not 0.0 < self.decay < 1.0:
            raise ValueError(f"ema.decay must be a number between 0 and 1 (exclusive), got {self.decay!r}")
        if isinstance(self.start_step, bool) or not isinstance(self.start_step, int) or self.start_step < 0:
            raise ValueError(f"ema.start_step must be an integer >= 0, got {self.start_step!r}")

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> "EmaConfig":
        unknown = sorted(set(values) - set(EMA_KEYS))
        if unknown:
            raise ValueError(f"unknown ema key {unknown[0]!r}; known: {', '.join(EMA_KEYS)}")
        return cls(**values)


class WeightAverage:
    """The EMA of ``model``'s parameters and buffers (see the module docstring)."""

    def __init__(self, model: nn.Module, config: EmaConfig):
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        self.config = config
        self.averaged = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(config.decay), use_buffers=True)
        self.averaged.requires_grad_(False)

    @property
    def updates(self) -> int:
        return int(self.averaged.n_averaged.item())

    @property
    def module(self) -> nn.Module:
        return self.averaged.module

    def update(self, model: nn.Module, step: int) -> None:
        """Fold ``model`` in after optimizer step ``step`` (1-based) once ``start_step`` is reached."""
        if step >= self.config.start_step:
            self.averaged.update_parameters(model)

    def state_tensors(self) -> dict[str, torch.Tensor]:
        """``ema.<name>`` tensors for a checkpoint (the update count included)."""
        return {f"{PREFIX}{key}": value for key, value in self.averaged.state_dict().items()}

    def load_state_tensors(self, tensors: Mapping[str, torch.Tensor]) -> bool:
        """Restore from a checkpoint's tensors; False when it holds no average (an older run)."""
        state = {key[len(PREFIX):]: value for key, value in tensors.items() if key.startswith(PREFIX)}
        if not state:
            return False
        self.averaged.load_state_dict(state, strict=True)
        return True

    @contextmanager
    def swapped_into(self, task: Any) -> Iterator[None]:
        """``task.model`` is the average inside the block (once it has one), then the model again."""
        if self.updates == 0:
            yield
            return
        model, task.model = task.model, self.module
        try:
            yield
        finally:
            task.model = model
