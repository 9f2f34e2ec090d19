"""SIGTERM and SIGHUP end aural like Ctrl-C: as an exception, so cleanup code runs.

Python's default for SIGTERM and SIGHUP is to die at once, skipping every ``finally`` and
``with`` block: partial outputs and spool folders stay behind. Inside
:func:`terminate_as_interrupt` they raise :class:`Terminated` (a ``KeyboardInterrupt``)
instead, once; a repeated signal is ignored so that the cleanup itself is not cut short.

An exception raised while Python runs a callback from C (a numba or cffi callback) is printed
and dropped by the interpreter, so loops also call :func:`raise_if_terminated` at safe points
(every block, every training step): a signal whose exception was lost still ends the run. Once a
signal has come, exceptions the interpreter cannot raise (finalisers of objects the signal's
exception cut short, such as numba's half-made llvmlite values) are not printed: the run ends
with its one line, ``aural: stopped by SIGTERM``.
"""

from __future__ import annotations

import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """The process received ``signum``; exit status ``128 + signum`` by convention."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def install() -> Callable[[], None]:
    """Make SIGTERM and SIGHUP raise :class:`Terminated` in the main thread; returns the
    function that restores the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum: int, frame: Any) -> None:
        if not _received:
            _received.append(signum)
            raise Terminated(signum)

    def unraisable(info: Any) -> None:  # a Terminated dropped in a C callback: no traceback
        if not isinstance(info.exc_value, Terminated) and not _received:
            previous_hook(info)

    _received.clear()
    _raised_again.clear()
    previous = {signum: signal.signal(signum, interrupt) for signum in SIGNALS}
    previous_hook, sys.unraisablehook = sys.unraisablehook, unraisable

    def restore() -> None:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        # after a signal the process is ending, and objects the exception cut short in their making
        # (numba's llvmlite values, mid-compile) fail in their finalisers: those reports stay quiet
        sys.unraisablehook = _quiet if _received else previous_hook
        _received.clear()

    return restore


def _quiet(info: Any) -> None:
    """An unraisable-exception hook that reports nothing."""


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` (see :func:`install`)."""
    restore = install()
    try:
        yield
    finally:
        restore()


_received: list[int] = []
_raised_again: list[int] = []


def raise_if_terminated() -> None:
    """Raise :class:`Terminated` (once more) if a signal came whose exception was dropped."""
    if _received and not _raised_again:
        _raised_again.append(_received[0])
        raise Terminated(_received[0])
