"""A network's inference through onnxruntime, where it is installed and agrees with PyTorch.

On one CPU thread onnxruntime runs aural's small convolution networks about 1.4 times as fast as
PyTorch's eager mode (``benchmarks/results/onnxruntime_inference.md``). :func:`onnx_function`
exports a module's forward for one input shape with batch 1 (torch.onnx's TorchScript exporter,
in memory: a fixed shape lets onnxruntime plan its kernels), checks that onnxruntime gives
PyTorch's output on the example, and returns an :class:`OnnxFunction`: inputs of that shape run
through onnxruntime a batch row at a time, anything else through the module. Where ``onnx`` or
``onnxruntime`` cannot be imported, the export fails or the outputs disagree, it returns the
module itself and says why once on stderr; ``AURAL_ONNXRUNTIME=0`` asks for PyTorch silently.
Exports of named weights are kept on disk (:mod:`aural.cache`): later processes skip the export.
"""

from __future__ import annotations

import io
import json
import os
import warnings
from collections import OrderedDict
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from aural.errors import first_line, warn_once

SWITCH = "AURAL_ONNXRUNTIME"
TOLERANCE = 1e-4  # largest difference from PyTorch on the example, relative to its largest output
OPSET = 17
_CACHE_SIZE = 8
_sessions: OrderedDict[tuple[Any, ...], Any] = OrderedDict()


class BoundMethod(nn.Module):
    """A module whose forward is ``owner.<method>``: what the exporter traces."""

    def __init__(self, owner: nn.Module, method: str):
        super().__init__()
        self.owner = owner
        self.method = method

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return getattr(self.owner, self.method)(*inputs)


class OnnxFunction:
    """``module(*inputs)`` computed by an onnxruntime session for inputs whose shapes after
    the batch axis are the exported ones (one batch row per run), by ``module`` otherwise."""

    engine = "onnxruntime"

    def __init__(self, module: nn.Module, session: Any, row_shapes: tuple[tuple[int, ...], ...]):
        self.module = module
        self.session = session
        self.row_shapes = row_shapes
        self._names = [node.name for node in session.get_inputs()]

    def __call__(self, *inputs: torch.Tensor) -> torch.Tensor:
        if tuple(tuple(x.shape[1:]) for x in inputs) != self.row_shapes:
            return self.module(*inputs)
        arrays = [x.detach().contiguous().numpy() for x in inputs]
        rows = [self.session.run(None, {name: array[row:row + 1] for name, array in zip(self._names, arrays)})[0]
                for row in range(arrays[0].shape[0])]
        return torch.from_numpy(rows[0] if len(rows) == 1 else np.concatenate(rows, axis=0))


def onnx_function(module: nn.Module, example: tuple[torch.Tensor, ...], *, label: str,
                  cache_key: tuple[Any, ...] | None = None) -> Callable[..., torch.Tensor]:
    """``module`` (a network in eval mode; tensors in, one tensor out) as an
    :class:`OnnxFunction` for inputs shaped like ``example`` (batch 1), or ``module`` itself
    where onnxruntime cannot run it (one line on stderr naming ``label``, once per label).
    ``cache_key`` (say, the weights' hash) shares one session between stages of one process and
    keeps the export in :mod:`aural.cache` for the next."""
    if os.environ.get(SWITCH, "1").strip().lower() in ("0", "false", "off", "no"):
        return module
    if any(x.shape[0] != 1 for x in example):
        raise ValueError("export an example with batch 1")
    threads = torch.get_num_threads()
    key = None if cache_key is None else (*cache_key, threads, tuple(tuple(x.shape) for x in example))
    session = _sessions.get(key) if key is not None else None
    if session is None:
        try:
            session = _session(module, example, threads, cache_key)
        except _Unavailable as reason:
            warn_once(f"onnxruntime: {label}", f"aural: {label}: runs in PyTorch ({reason})")
            return module
        if key is not None:
            _sessions[key] = session
            while len(_sessions) > _CACHE_SIZE:
                _sessions.popitem(last=False)
    else:
        _sessions.move_to_end(key)
    return OnnxFunction(module, session, tuple(tuple(x.shape[1:]) for x in example))


def config_cache_key(cache_key: tuple[Any, ...] | None, config: Any) -> tuple[Any, ...] | None:
    """``cache_key`` (say, a stage name and weights hash) with the network's config added, for
    :func:`onnx_function`: the same weights under another framing export anew."""
    return None if cache_key is None else (*cache_key, json.dumps(config.to_dict(), sort_keys=True))


class _Unavailable(Exception):
    """Why a module runs in PyTorch: a missing package, a failed export, outputs that differ."""


def _session(module: nn.Module, example: tuple[torch.Tensor, ...], threads: int,
             cache_key: tuple[Any, ...] | None) -> Any:
    """A checked session; the export comes from :mod:`aural.cache` when ``cache_key`` is given
    (and is made again, once, when what was stored does not load or does not agree)."""
    try:
        import onnxruntime  # noqa: F401  (before any export: without it there is nothing to run)
    except ImportError as exc:
        raise _Unavailable(f"{exc.name} is not installed") from None
    names = [f"input{i}" for i in range(len(example))]

    def export() -> bytes:
        return _export(module, example, names)

    if cache_key is None:
        return _checked(export(), module, example, names, threads)
    from aural.cache import cache_key as digest, cached

    stored = digest("onnx_export", *cache_key, [(list(x.shape), str(x.dtype)) for x in example], OPSET,
                    torch.__version__)
    return cached("onnx", stored, export, lambda model: _checked(model, module, example, names, threads))


def _checked(model: bytes, module: nn.Module, example: tuple[torch.Tensor, ...], names: list[str],
             threads: int) -> Any:
    """An onnxruntime session of ``model``, if it gives ``module``'s output on ``example``."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    try:
        session = onnxruntime.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        got = session.run(None, {name: x.numpy() for name, x in zip(names, example)})[0]
    except Exception as exc:  # onnxruntime raises its own, unexported, exception types
        raise _Unavailable(f"onnxruntime cannot run it: {first_line(exc)}") from None
    with torch.no_grad():
        expected = module(*example)
    scale = max(1.0, float(expected.abs().max()))
    difference = float((torch.from_numpy(got) - expected).abs().max()) if got.shape == expected.shape else float("inf")
    if not difference <= TOLERANCE * scale:
        raise _Unavailable(f"onnxruntime's output differs from PyTorch's by {difference:.3g}")
    return session


def _export(module: nn.Module, example: tuple[torch.Tensor, ...], names: list[str]) -> bytes:
    try:
        import onnx  # noqa: F401  (torch.onnx's exporter needs it)
    except ImportError as exc:
        raise _Unavailable(f"{exc.name} is not installed") from None
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            torch.onnx.export(module, example, buffer, input_names=names, output_names=["output"],
                              opset_version=OPSET, dynamo=False)
    except Exception as exc:  # the exporter's failures have no common type
        raise _Unavailable(f"the ONNX export failed: {first_line(exc)}") from None
    return buffer.getvalue()
