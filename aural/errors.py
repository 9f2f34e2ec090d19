"""Exceptions that reach the user as one clear line.

Everything the CLI reports without a traceback derives from :class:`AuralError`.
"""

from __future__ import annotations

import sys
from typing import Callable


_warned: set[str] = set()


def warn_once(key: str, message: str, emit: Callable[[str], None] | None = None) -> None:
    """``emit(message)`` (default: a line on stderr) the first time ``key`` comes up in this process."""
    if key not in _warned:
        _warned.add(key)
        (emit or _to_stderr)(message)


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr)


def first_line(exc: BaseException) -> str:
    """The first non-empty line of ``exc``'s message (its type's name if there is none)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


class AuralError(Exception):
    """An error with a message fit for the user: it names the file and the problem."""

    exit_code = 1


class UsageError(AuralError):
    """Bad configuration or arguments (exit status 2)."""

    exit_code = 2


class ConfigError(UsageError):
    """A pipeline file that does not validate; each message carries ``file:line key.path``.

    ``messages`` holds every problem found (one line each); ``str()`` joins them by newlines.
    """

    def __init__(self, *messages: str):
        super().__init__("\n".join(messages))
        self.messages = list(messages)


class AudioReadError(AuralError):
    """An audio file that cannot be read or holds unusable samples."""


class AudioWriteError(AuralError):
    """An output that cannot be written."""


class StageError(AuralError):
    """A stage that fails while processing."""


class WeightsError(UsageError):
    """Missing, corrupt or mismatching weights."""
