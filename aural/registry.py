"""One Registry class: explicit decorator registration, lazy entry points, did-you-mean."""

from __future__ import annotations

import difflib
import importlib
from importlib import metadata
from typing import Callable, Generic, Iterable, Iterator, TypeVar

from aural.errors import UsageError

T = TypeVar("T")


def close_matches(name: str, candidates: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` or an empty string."""
    matches = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not matches:
        return ""
    return " (did you mean " + " or ".join(repr(m) for m in matches) + "?)"


class UnknownNameError(UsageError, KeyError):
    """A name that is not registered; the message lists close matches and every name."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class Registry(Generic[T]):
    """Named things of one kind.

    Built-ins register with :meth:`register` from modules listed in ``builtin_modules``
    (imported on first use, never by side effect of importing this module); third parties
    add theirs through the ``entry_point_group`` of their package metadata.
    """

    def __init__(self, kind: str, *, builtin_modules: Iterable[str] = (),
                 entry_point_group: str | None = None):
        self.kind = kind
        self._builtin_modules = tuple(builtin_modules)
        self._entry_point_group = entry_point_group
        self._items: dict[str, T] = {}
        self._loaded = False

    def register(self, name: str) -> Callable[[T], T]:
        """Decorator: ``@STAGES.register("dynamics")``. A duplicate name is an error."""
        def decorate(item: T) -> T:
            self.add(name, item)
            return item
        return decorate

    def add(self, name: str, item: T) -> None:
        if name in self._items and self._items[name] is not item:
            raise ValueError(f"{self.kind} {name!r} is already registered")
        self._items[name] = item

    def remove(self, name: str) -> None:
        self._items.pop(name, None)

    def _load(self) -> None:
        if self._loaded:
            return
        self._loaded = True
        for module in self._builtin_modules:
            importlib.import_module(module)
        if self._entry_point_group:
            for entry in metadata.entry_points(group=self._entry_point_group):
                if entry.name in self._items:
                    raise ValueError(f"{self.kind} {entry.name!r} from entry point {entry.value} "
                                     f"clashes with one already registered")
                self._items[entry.name] = _LazyEntry(entry)  # type: ignore[assignment]

    def get(self, name: str) -> T:
        self._load()
        if name not in self._items:
            names = sorted(self._items)
            raise UnknownNameError(
                f"unknown {self.kind} {name!r}{close_matches(name, names)}; "
                f"available: {', '.join(names) or 'none'}")
        item = self._items[name]
        if isinstance(item, _LazyEntry):
            item = item.load()
            self._items[name] = item
        return item

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())


class _LazyEntry:
    """An entry point not imported until its name is asked for."""

    def __init__(self, entry: metadata.EntryPoint):
        self.entry = entry

    def load(self):
        return self.entry.load()
