"""A small on-disk cache for what aural derives from its models at load (exported ONNX graphs).

Exporting the MelUNet and rewriting DeepFilterNet3's graphs cost about a second of every
process's start-up, the same second each time. :func:`cached` keeps such results under
``$AURAL_CACHE_DIR`` (default ``$XDG_CACHE_HOME/aural``, else ``~/.cache/aural``), one file per
key: a SHA-256 of everything the bytes depend on (the model's bytes or hash, the code's version
constants, the library versions), so a changed input is a new file, never a stale hit. Files
are written atomically (a temporary file renamed into place), so concurrent processes can share
the folder; each namespace keeps its :data:`MAX_FILES` most recently used files. What the
caller's ``load`` refuses is built again and replaced. ``AURAL_CACHE_DIR=off``
(or an unusable folder) turns the cache off: everything is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any, Callable, TypeVar

SWITCH_OFF = ("", "0", "off", "false", "no")
T = TypeVar("T")
MAX_FILES = 32  # per namespace: the least recently used go first (each file is a few MB)


def cache_dir() -> Path | None:
    """The cache folder (created if need be), or ``None`` where caching is off or impossible."""
    configured = os.environ.get("AURAL_CACHE_DIR")
    if configured is not None and configured.strip().lower() in SWITCH_OFF:
        return None
    if configured:
        folder = Path(configured).expanduser()
    else:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
        folder = Path(base) / "aural"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK) else None


def cache_key(*parts: Any) -> str:
    """A SHA-256 hex digest of ``parts`` (bytes as they are, anything else as JSON)."""
    digest = hashlib.sha256()
    for part in parts:
        data = part if isinstance(part, bytes) else json.dumps(part, sort_keys=True, default=str).encode()
        digest.update(len(data).to_bytes(8, "little"))
        digest.update(data)
    return digest.hexdigest()


def cached_bytes(namespace: str, key: str, build: Callable[[], bytes], *, rebuild: bool = False) -> bytes:
    """The bytes stored for ``key`` in ``namespace``, else ``build()``'s, stored for next time.
    ``rebuild``: ignore (and replace) what is stored, for a caller that found it wrong."""
    folder = cache_dir()
    path = None if folder is None else folder / namespace / key
    if path is not None and not rebuild:
        try:
            data = path.read_bytes()
            os.utime(path)  # recently used: the last to be evicted
            return data
        except OSError:
            pass
    data = build()
    if path is not None:
        _write_atomically(path, data)
    return data


def cached(namespace: str, key: str, build: Callable[[], bytes], load: Callable[[bytes], T]) -> T:
    """``load`` of the bytes stored for ``key`` (:func:`cached_bytes`); stored bytes that ``load``
    refuses (a damaged file, or one a changed library reads otherwise) are built again and
    replaced, once. Bytes just built that ``load`` refuses are the caller's fault: it raises."""
    built = []

    def building() -> bytes:
        built.append(True)
        return build()

    try:
        return load(cached_bytes(namespace, key, building))
    except Exception:
        if built:
            raise
        return load(cached_bytes(namespace, key, build, rebuild=True))


def _write_atomically(path: Path, data: bytes) -> None:
    """Best effort: a full disk or a read-only folder leaves the cache as it was."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise
        stored = sorted((entry for entry in path.parent.iterdir() if not entry.name.startswith(".")),
                        key=lambda entry: entry.stat().st_mtime)
        for old in stored[:-MAX_FILES]:
            old.unlink(missing_ok=True)
    except OSError:
        pass
