"""Weights of learned stages: presets in ``models/manifest.yaml``, safetensors + JSON config.

A pipeline's ``weights:`` value is ``default``, another preset name, or a path to a
``.safetensors`` file (its config is the ``.json`` beside it, or the file's own metadata).
Presets live at ``models/<stage>/<preset>.safetensors`` (+ ``.json``, ``.md`` model card)
and their sha256 is recorded in the manifest; a mismatch is an error. Files are read with
safetensors only: nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

import yaml

from aural.errors import WeightsError
from aural.shipped import shipped_dir

if TYPE_CHECKING:  # checking presets (``aural validate``) needs no torch
    import torch
    from torch import nn

MANIFEST_NAME = "manifest.yaml"
WEIGHTS_FORMAT = "aural.weights/1"
CHECKPOINT_FORMAT = "aural.checkpoint/1"


def models_dir() -> Path:
    """``$AURAL_MODELS``, else the shipped ``models/`` (installed with aural, or the checkout's)."""
    env = os.environ.get("AURAL_MODELS")
    return Path(env) if env else shipped_dir("models")


def is_path(value: str) -> bool:
    """Whether a ``weights:`` value names a file rather than a preset."""
    return value.endswith(".safetensors") or "/" in value or os.sep in value


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# -- manifest ---------------------------------------------------------------------------------
def read_manifest(directory: Path | None = None) -> dict[str, Any]:
    """The manifest as plain data (``{"aural_models": 1, "models": {stage: {preset: entry}}}``)."""
    path = (directory or models_dir()) / MANIFEST_NAME
    if not path.exists():
        return {"aural_models": 1, "models": {}}
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise WeightsError(f"{path}: not valid YAML ({exc.__class__.__name__})") from None
    if not isinstance(data, dict) or not isinstance(data.get("models", {}), dict):
        raise WeightsError(f"{path}: expected a mapping with a 'models' mapping")
    data.setdefault("models", {})
    return data


def write_manifest(data: Mapping[str, Any], directory: Path | None = None) -> Path:
    path = (directory or models_dir()) / MANIFEST_NAME
    header = "# Shipped weights of learned stages; written by `aural export`. sha256 is checked on load.\n"
    atomic_write_bytes(path, (header + yaml.safe_dump(dict(data), sort_keys=True)).encode())
    return path


def record_preset(stage: str, preset: str, entry: Mapping[str, Any], directory: Path | None = None) -> Path:
    """Add or replace ``models[stage][preset]`` in the manifest, keeping every other entry."""
    data = read_manifest(directory)
    data["models"].setdefault(stage, {})[preset] = dict(entry)
    return write_manifest(data, directory)


# -- resolving --------------------------------------------------------------------------------
@dataclass(frozen=True)
class WeightsRef:
    """Where a stage's weights are: files, and the checksum they must have (presets only)."""

    stage: str
    value: str
    weights_path: Path
    config_path: Path | None
    sha256: str | None
    preset: str | None = None
    config_sha256: str | None = None


def resolve(stage: str, value: str, directory: Path | None = None) -> WeightsRef:
    """``default`` | preset name | path -> :class:`WeightsRef` (files not yet checked)."""
    if not isinstance(value, str) or not value:
        raise WeightsError(f"{stage}: weights must be a preset name or a file path, got {value!r}")
    if is_path(value):
        path = Path(value).expanduser()
        config = path.with_suffix(".json")
        return WeightsRef(stage, value, path, config if config.exists() else None, None)
    directory = directory or models_dir()
    presets = read_manifest(directory)["models"].get(stage, {})
    if value not in presets:
        known = ", ".join(sorted(presets)) or "none shipped"
        raise WeightsError(f"{stage}: no weights preset {value!r} in {directory / MANIFEST_NAME} "
                           f"(presets: {known}); train with `aural train {stage}` and `aural export`")
    entry = presets[value]
    weights_path = directory / entry.get("weights", f"{stage}/{value}.safetensors")
    config_path = directory / entry.get("config", f"{stage}/{value}.json")
    return WeightsRef(stage, value, weights_path, config_path, entry.get("sha256"), preset=value,
                      config_sha256=entry.get("config_sha256"))


def check(stage: str, value: str, directory: Path | None = None) -> WeightsRef:
    """Resolve and verify that the files exist and (for presets) match the manifest's
    ``sha256`` (weights) and ``config_sha256`` (config)."""
    ref = resolve(stage, value, directory)
    if not ref.weights_path.is_file():
        raise WeightsError(f"{ref.weights_path}: weights file for {stage} is missing")
    if ref.preset is not None:
        if ref.config_path is None or not ref.config_path.is_file():
            raise WeightsError(f"{ref.config_path}: config of {stage} preset {ref.preset!r} is missing")
        _check_sha256(ref.weights_path, ref.sha256)
        _check_sha256(ref.config_path, ref.config_sha256)
    return ref


def _check_sha256(path: Path, expected: str | None) -> None:
    if not expected:
        return
    actual = sha256_file(path)
    if actual != expected:
        raise WeightsError(f"{path}: sha256 mismatch (manifest {expected[:12]}..., file {actual[:12]}...): "
                           "the file is corrupt or was changed after export")


# -- inspecting without loading ---------------------------------------------------------------
MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit
_PICKLE_HINTS = {b"\x80": "; it starts like a pickle, which aural never loads",
                 b"P": "; it starts like a zip (torch.save), which aural never loads"}


@dataclass(frozen=True)
class Header:
    """A safetensors file's header: tensor name -> shape, and its string metadata."""

    shapes: dict[str, tuple[int, ...]]
    metadata: dict[str, str]


def read_header(path: Path) -> Header:
    """Parse the JSON header of a safetensors file and check that the file holds every tensor's
    bytes; no tensor is read and nothing is unpickled. Raises :class:`WeightsError`."""
    def bad(reason: str) -> WeightsError:
        return WeightsError(f"{path}: not a usable safetensors file: {reason}")

    try:
        file_size = path.stat().st_size
        with open(path, "rb") as handle:
            prefix = handle.read(8)
            if len(prefix) < 8:
                raise bad(f"{file_size} bytes, too short for a header")
            header_size = int.from_bytes(prefix, "little")
            if header_size > min(MAX_HEADER_BYTES, file_size - 8):
                raise bad(f"header length {header_size} does not fit the file's {file_size} bytes"
                          + _PICKLE_HINTS.get(prefix[:1], ""))
            raw = handle.read(header_size)
    except OSError as exc:
        raise WeightsError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        header = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad("the header is not JSON") from None
    if not isinstance(header, dict):
        raise bad("the header is not a JSON object")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise bad("__metadata__ is not a mapping of strings")
    shapes, data_end = {}, 0
    for name, entry in header.items():
        try:
            shape = tuple(int(n) for n in entry["shape"])
            start, end = (int(n) for n in entry["data_offsets"])
            entry["dtype"].upper()
        except (TypeError, KeyError, ValueError, AttributeError):
            raise bad(f"tensor {name!r} has no dtype, shape and data_offsets") from None
        if not 0 <= start <= end:
            raise bad(f"tensor {name!r} has data_offsets {start}..{end}")
        shapes[name], data_end = shape, max(data_end, end)
    available = file_size - 8 - header_size
    if data_end > available:
        raise bad(f"truncated: the tensors need {data_end} bytes after the header, the file holds {available}")
    return Header(shapes, metadata)


def inspect(stage: str, value: str, factory: Callable[[Mapping[str, Any]], nn.Module] | None = None,
            directory: Path | None = None) -> WeightsRef:
    """:func:`check`, then the header: the config names ``stage`` and, with ``factory``, every
    tensor name and shape fits the model the config describes (built on the meta device, so
    no memory is allocated). A preset whose sha256 matched the manifest is the very file
    ``aural export`` wrote from such a model, so its model is not rebuilt (checking shipped
    pipelines needs no torch). Nothing is loaded or unpickled. Raises :class:`WeightsError`."""
    ref = check(stage, value, directory)
    header = read_header(ref.weights_path)
    shapes = header.shapes
    if header.metadata.get("format") == CHECKPOINT_FORMAT:
        shapes = {key[len("model."):]: shape for key, shape in shapes.items() if key.startswith("model.")}
    config = _read_config(ref, header.metadata)
    if config.get("stage") != stage:
        raise WeightsError(f"{ref.weights_path}: weights are for stage {config.get('stage')!r}, not {stage!r}")
    if factory is not None and not (ref.preset and ref.sha256):
        expected = _expected_shapes(ref, factory, config)
        problems = [f"missing {name}" for name in expected if name not in shapes]
        problems += [f"unexpected {name}" for name in shapes if name not in expected]
        problems += [f"{name} is {list(shapes[name])}, the model needs {list(shape)}"
                     for name, shape in expected.items() if name in shapes and shapes[name] != shape]
        if problems:
            more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
            raise WeightsError(f"{ref.weights_path}: weights do not fit the {stage} model: "
                               + "; ".join(problems[:3]) + more)
    return ref


def _expected_shapes(ref: WeightsRef, factory: Callable[[Mapping[str, Any]], nn.Module],
                     config: Mapping[str, Any]) -> dict[str, tuple[int, ...]]:
    import torch

    try:
        try:
            with torch.device("meta"):
                model = factory(config.get("model") or {})
        except (RuntimeError, NotImplementedError):  # a factory that computes values: build it for real
            model = factory(config.get("model") or {})
    except (ValueError, TypeError, KeyError, RuntimeError, NotImplementedError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{ref.config_path or ref.weights_path}: config does not describe a {ref.stage} "
                           f"model ({reason})") from None
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


# -- reading and writing ----------------------------------------------------------------------
@dataclass(frozen=True)
class LoadedWeights:
    tensors: dict[str, torch.Tensor]
    config: dict[str, Any]
    ref: WeightsRef


def load(stage: str, value: str, directory: Path | None = None) -> LoadedWeights:
    """Verified tensors and config for ``stage``; a training checkpoint's model part also works."""
    from safetensors import safe_open

    ref = check(stage, value, directory)
    try:
        with safe_open(str(ref.weights_path), framework="pt") as handle:
            metadata = handle.metadata() or {}
            keys = list(handle.keys())
            tensors = {key: handle.get_tensor(key) for key in keys}
    except Exception as exc:  # safetensors raises its own error types
        raise WeightsError(f"{ref.weights_path}: not a readable safetensors file ({exc})") from None
    if metadata.get("format") == CHECKPOINT_FORMAT:
        tensors = checkpoint_model_tensors(tensors)
    config = _read_config(ref, metadata)
    found = config.get("stage")
    if found != stage:
        raise WeightsError(f"{ref.weights_path}: weights are for stage {found!r}, not {stage!r}")
    return LoadedWeights(tensors, config, ref)


def checkpoint_model_tensors(tensors: Mapping[str, Any]) -> dict[str, Any]:
    """The model of a training checkpoint's tensors: the weight average (``ema.module.*``,
    see :mod:`aural.train.ema`) when the run kept one and it has been updated, else ``model.*``."""
    count = tensors.get("ema.n_averaged")
    if count is not None and int(count.item()) > 0:
        return {key[len("ema.module."):]: t for key, t in tensors.items() if key.startswith("ema.module.")}
    return {key[len("model."):]: t for key, t in tensors.items() if key.startswith("model.")}


def _read_config(ref: WeightsRef, metadata: Mapping[str, str]) -> dict[str, Any]:
    try:
        if ref.config_path is not None and ref.config_path.is_file():
            config = json.loads(ref.config_path.read_text())
        elif "config" in metadata:
            config = json.loads(metadata["config"])
        else:
            raise WeightsError(f"{ref.weights_path}: no config (expected {ref.weights_path.with_suffix('.json').name} "
                               "beside it or a 'config' entry in its metadata)")
    except json.JSONDecodeError as exc:
        raise WeightsError(f"{ref.config_path or ref.weights_path}: config is not valid JSON ({exc.msg})") from None
    if not isinstance(config, dict):
        raise WeightsError(f"{ref.config_path or ref.weights_path}: config must be a JSON object")
    return config


def save(weights_path: Path, tensors: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> str:
    """Write ``.safetensors`` (config also in its metadata) and ``.json`` atomically; returns sha256."""
    from safetensors.torch import save as save_bytes

    weights_path = Path(weights_path)
    contiguous = {k: v.detach().cpu().contiguous() for k, v in tensors.items()}
    config_text = json.dumps(dict(config), indent=2, sort_keys=True)
    payload = canonical_safetensors(save_bytes(contiguous, metadata={"format": WEIGHTS_FORMAT,
                                                                     "config": config_text}))
    atomic_write_bytes(weights_path, payload)
    atomic_write_bytes(weights_path.with_suffix(".json"), (config_text + "\n").encode())
    return hashlib.sha256(payload).hexdigest()


def canonical_safetensors(payload: bytes) -> bytes:
    """``payload`` with its header's metadata keys sorted, so equal contents give equal bytes.

    safetensors writes ``__metadata__`` in hash-map order, which changes from process to
    process; tensor entries are already in a fixed order (by dtype, then name) and are kept.
    """
    header_size = int.from_bytes(payload[:8], "little")
    header = json.loads(payload[8:8 + header_size])
    if "__metadata__" in header:
        header["__metadata__"] = dict(sorted(header["__metadata__"].items()))
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    text += b" " * (-len(text) % 8)  # safetensors aligns the data to 8 bytes
    return len(text).to_bytes(8, "little") + text + payload[8 + header_size:]


def load_model(stage: str, value: str, factory: Callable[[Mapping[str, Any]], nn.Module],
               directory: Path | None = None) -> tuple[nn.Module, dict[str, Any], dict[str, Any]]:
    """Build ``factory(config["model"])``, load the verified weights into it, set eval mode.

    Returns the model, the whole config and what a signal's history records about the weights.
    """
    loaded = load(stage, value, directory)
    try:
        model = factory(loaded.config.get("model") or {})
        model.load_state_dict(loaded.tensors, strict=True)
    except (ValueError, TypeError, RuntimeError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WeightsError(f"{loaded.ref.weights_path}: weights do not fit the {stage} model ({reason})") from None
    model.eval()
    info = {"weights": loaded.ref.preset or str(loaded.ref.weights_path)}
    if loaded.ref.sha256:
        info["sha256"] = loaded.ref.sha256
    return model, loaded.config, info


def atomic_write_bytes(path: Path, payload: bytes) -> None:
    """Write ``payload`` to a temporary file beside ``path``, fsync, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(payload)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


__all__ = ["atomic_write_bytes", "canonical_safetensors", "check", "Header", "inspect", "is_path", "load",
           "load_model", "LoadedWeights", "models_dir", "read_header", "read_manifest", "record_preset",
           "resolve", "save", "sha256_file", "WeightsRef", "write_manifest"]
