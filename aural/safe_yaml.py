"""YAML as bounded plain data: the loader behind pipeline files and training recipes.

``yaml.safe_load`` builds no objects, but it still accepts input that exhausts memory or the
stack once walked: nested anchors whose aliases expand exponentially ("billion laughs"), an
alias inside its own anchor (a cycle), and nesting thousands of levels deep. This loader
refuses all three while composing, before anything walks the tree, and caps the file size;
every refusal is a :class:`~aural.errors.ConfigError` naming ``file:line``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from aural.errors import ConfigError

MAX_FILE_BYTES = 1 << 20
MAX_DEPTH = 64
MAX_EXPANDED_NODES = 10_000


class _BoundedLoader(yaml.SafeLoader):
    """A SafeLoader whose composer counts every node as aliases expand it, and checks depth."""

    def __init__(self, text: str, source: str):
        super().__init__(text)
        self._source = source
        self._depth = 0
        self._open_anchors: set[str] = set()
        self._expanded: dict[int, int] = {}  # id(node) -> nodes it stands for, aliases expanded

    def _fail(self, mark: yaml.Mark, message: str) -> ConfigError:
        return ConfigError(f"{self._source}:{mark.line + 1}: {message}")

    def compose_node(self, parent: yaml.Node | None, index: Any) -> yaml.Node:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) and event.anchor in self._open_anchors:
            raise self._fail(event.start_mark, f"alias *{event.anchor} refers to its own anchor "
                                               f"&{event.anchor} (a self-referencing structure)")
        self._depth += 1
        anchor = getattr(event, "anchor", None) if not isinstance(event, yaml.AliasEvent) else None
        if anchor is not None:
            self._open_anchors.add(anchor)
        try:
            if self._depth > MAX_DEPTH:
                raise self._fail(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
            self._open_anchors.discard(anchor)
        if id(node) not in self._expanded:  # an alias returns a node already counted
            size = 1 + sum(self._expanded[id(child)] for child in _children(node))
            if size > MAX_EXPANDED_NODES:
                raise self._fail(node.start_mark, f"aliases expand this value to more than "
                                                  f"{MAX_EXPANDED_NODES} nodes (an alias bomb?)")
            self._expanded[id(node)] = size
        return node


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def read_text(path: Path, what: str = "file") -> str:
    """The UTF-8 text of ``path``, refused beyond :data:`MAX_FILE_BYTES`."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):  # a FIFO would block, a device never end
            raise ConfigError(f"{path}: not a regular file; not a {what}")
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    if len(raw) > MAX_FILE_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_FILE_BYTES >> 20} MiB; not a {what}")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text (byte {exc.start}); not a {what}") from None


def load(text: str, source: str) -> tuple[Any, yaml.Node | None]:
    """Plain data and its composed node tree (for line numbers) from one YAML document."""
    loader = _BoundedLoader(text, source)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        context = getattr(exc, "context", None)
        problem = f"{context}, {problem}" if context else problem
        where = f"{source}:{mark.line + 1}" if mark else source
        raise ConfigError(f"{where}: YAML syntax error: {problem}") from None
    finally:
        loader.dispose()
    return data, node
