"""Progress on stderr: a live bar on a terminal, plain lines in a log.

On a terminal, :class:`Progress` draws a tqdm bar. Anywhere else (a pipe, a file, CI) it
prints one plain line at the first update (with ``quiet_start``: once the task has run for
``interval_s``, so quick tasks stay silent), then at most one every ``interval_s`` seconds,
and one when the work is done: no carriage returns or escape codes, so logs stay readable::

    aural evaluate: 12 of 40 files (30%), 0:42 elapsed, about 1:38 left
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any

PLAIN_INTERVAL_S = 5.0


def is_terminal(stream: IO[str]) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # closed or not a real stream
        return False


def _clock(seconds: float) -> str:
    seconds = int(max(seconds, 0.0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _plural(unit: str) -> str:
    return unit + ("es" if unit.endswith(("s", "sh", "ch", "x")) else "s")


class Progress:
    """``done`` of ``total`` units of one task (see the module docstring).

    ``unit`` is singular (``file``, ``step``, ``%``); ``prefix`` starts each plain line
    (``aural evaluate: ``). ``interval_s`` defaults to :data:`PLAIN_INTERVAL_S`. Disabled,
    every method does nothing.
    """

    def __init__(self, desc: str = "", total: int | None = None, unit: str = "file", *, prefix: str = "aural: ",
                 enabled: bool = True, initial: int = 0, interval_s: float | None = None,
                 quiet_start: bool = False, stream: IO[str] | None = None, interactive: bool | None = None):
        self.desc, self.total, self.unit, self.prefix = desc, total, unit, prefix
        self.enabled = enabled
        self.done = self.start = initial
        self.interval_s = PLAIN_INTERVAL_S if interval_s is None else interval_s
        self.stream = stream if stream is not None else sys.stderr
        self.interactive = is_terminal(self.stream) if interactive is None else interactive
        self.postfix = ""
        self._started = time.monotonic()
        self._first_line_after_s = self.interval_s if quiet_start else 0.0
        self._last_line: float | None = None
        self._finished = False
        self._bar = None
        if enabled and self.interactive:
            from tqdm import tqdm

            self._bar = tqdm(total=total, initial=initial, desc=desc, unit=unit, file=self.stream, leave=False,
                             dynamic_ncols=True)

    # -- updates ------------------------------------------------------------------------------
    def update(self, count: int = 1) -> None:
        self.set(self.done + count)

    def set(self, done: float, total: int | None = None) -> None:
        """Absolute progress (``total`` may change, e.g. when a pass is added)."""
        if not self.enabled:
            return
        if total is not None:
            self.total = total
        self.done = done
        if self._bar is not None:
            if total is not None:
                self._bar.total = total
            self._bar.n = done
            self._bar.refresh()
        else:
            self._maybe_line()

    def __call__(self, done: int, total: int) -> None:
        """The ``(done, total)`` callback form."""
        self.set(done, total)

    def set_description(self, desc: str) -> None:
        if not self.enabled or desc == self.desc:
            return
        self.desc = desc
        if self._bar is not None:
            self._bar.set_description(desc, refresh=True)

    def set_postfix(self, **values: Any) -> None:
        if not self.enabled:
            return
        self.postfix = ", ".join(f"{key} {value}" for key, value in values.items())
        if self._bar is not None:
            self._bar.set_postfix(values, refresh=False)

    def write(self, message: str) -> None:
        """A line of its own (a warning, a note) that does not break the bar."""
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            print(message, file=self.stream, flush=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and self.total and self.done >= self.total and not self._finished and self._spoken():
            self._line()

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # -- plain lines --------------------------------------------------------------------------
    def _spoken(self) -> bool:
        """Whether this task reports at all (it has, or has run past ``first_line_after_s``)."""
        return self._last_line is not None or time.monotonic() - self._started >= self._first_line_after_s

    def _maybe_line(self) -> None:
        if not self._spoken():
            return
        now = time.monotonic()
        finished = bool(self.total) and self.done >= self.total
        if finished or self._last_line is None or now - self._last_line >= self.interval_s:
            if not (finished and self._finished):
                self._line(now)

    def _line(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        self._last_line = now
        elapsed = now - self._started
        if self.total:
            fraction = min(self.done / self.total, 1.0)
            text = f"{100 * fraction:.0f}%" if self.unit == "%" else \
                f"{self._number(self.done)} of {self._number(self.total)} {_plural(self.unit)} ({100 * fraction:.0f}%)"
            self._finished = fraction >= 1.0
        else:
            text = f"{self._number(self.done)} {_plural(self.unit)}"
        text += f", {_clock(elapsed)} elapsed"
        rate_done = self.done - self.start
        if self.total and 0 < rate_done and self.done < self.total:
            text += f", about {_clock(elapsed / rate_done * (self.total - self.done))} left"
        if self.postfix:
            text += f", {self.postfix}"
        label = f"{self.desc}: " if self.desc else ""
        print(f"{self.prefix}{label}{text}", file=self.stream, flush=True)

    @staticmethod
    def _number(value: float) -> str:
        return f"{value:g}" if isinstance(value, float) else str(value)
