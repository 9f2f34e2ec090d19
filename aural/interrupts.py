"""SIGTERM and SIGHUP end aural like Ctrl-C: as an exception, so cleanup code runs.

Python's default for SIGTERM and SIGHUP is to die at once, skipping every ``finally`` and
``with`` block: partial outputs and spool folders stay behind. Inside
:func:`terminate_as_interrupt` they raise :class:`Terminated` (a ``KeyboardInterrupt``)
instead, once; a repeated signal is ignored so that the cleanup itself is not cut short.
"""

from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Any, Iterator

SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))


class Terminated(KeyboardInterrupt):
    """The process received ``signum``; exit status ``128 + signum`` by convention."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise :class:`Terminated` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []

    def interrupt(signum: int, frame: Any) -> None:
        if not received:
            received.append(signum)
            raise Terminated(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
