"""Training losses as data: a recipe lists ``{name, weight, **options}`` and
:func:`build_loss` turns that list into one :class:`WeightedLoss`.

Every loss maps ``(estimate, target)`` tensors shaped ``(batch, channels, samples)`` to a
scalar to minimise. Built-ins: ``l1``, ``mse``, ``snr`` and ``si_sdr`` (negative SNR and SI-SDR in dB),
``mrstft`` (multi-resolution STFT), ``mel`` (log-mel L1), ``residual_noise`` (compressed
spectral energy above the target only), ``speech_distortion`` (compressed spectral energy
missing against the target only), ``stoi`` (one minus a differentiable STOI-style
envelope correlation).
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping

import torch
from torch import nn

from aural.registry import Registry

LOSSES: Registry[type[nn.Module]] = Registry(
    "loss", builtin_modules=("aural.losses.time", "aural.losses.spectral", "aural.losses.intelligibility"))


class WeightedLoss(nn.Module):
    """A weighted sum of named losses; also returns each term for logging."""

    def __init__(self, terms: Iterable[tuple[str, float, nn.Module]]):
        super().__init__()
        terms = list(terms)
        if not terms:
            raise ValueError("a loss needs at least one term")
        self.names = [name for name, _, _ in terms]
        self.weights = [float(weight) for _, weight, _ in terms]
        self.terms = nn.ModuleList(module for _, _, module in terms)

    def forward(self, estimate: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        total = estimate.new_zeros(())
        parts = {}
        for name, weight, term in zip(self.names, self.weights, self.terms):
            value = term(estimate, target)
            parts[f"loss/{name}"] = value.detach()
            total = total + weight * value
        return total, parts


def build_loss(specs: Iterable[Mapping[str, Any]], **context: Any) -> WeightedLoss:
    """``[{name: mrstft, weight: 1.0, ...options}]`` -> :class:`WeightedLoss`.

    ``context`` (e.g. ``sample_rate``) fills options a loss accepts but the spec leaves out.
    Raises ``ValueError`` naming the entry for unknown names or options.
    """
    import inspect

    terms = []
    for index, spec in enumerate(specs):
        spec = dict(spec)
        name = spec.pop("name", None)
        if not isinstance(name, str):
            raise ValueError(f"losses[{index}]: missing 'name'")
        weight = spec.pop("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or weight < 0:
            raise ValueError(f"losses[{index}].weight: expected a number >= 0, got {weight!r}")
        try:
            cls = LOSSES.get(name)
        except KeyError as exc:
            raise ValueError(f"losses[{index}]: {exc}") from None
        accepted = inspect.signature(cls).parameters
        for key in spec:
            if key not in accepted:
                raise ValueError(f"losses[{index}]: {name} has no option {key!r}; "
                                 f"known: {', '.join(accepted) or 'none'}")
        options = {k: v for k, v in context.items() if k in accepted and k not in spec}
        options.update(spec)
        try:
            module = cls(**options)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"losses[{index}] ({name}): {exc}") from None
        terms.append((name, float(weight), module))
    return WeightedLoss(terms)


__all__ = ["LOSSES", "WeightedLoss", "build_loss"]
