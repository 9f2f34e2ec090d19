"""``--threads N``: one option for every command that computes (see :mod:`aural.threads`)."""

from __future__ import annotations

from typing import Callable, TypeVar

import click

F = TypeVar("F", bound=Callable)


def _apply(ctx: click.Context, param: click.Parameter, value: int | None) -> None:
    if ctx.resilient_parsing:  # shell completion: parse only
        return
    from aural.threads import resolve_threads, set_threads

    set_threads(resolve_threads(value))


def threads_option(command: F) -> F:
    """Adds ``--threads N`` and applies it (or ``$AURAL_THREADS``, else 1) before the command runs."""
    return click.option(
        "--threads", type=click.IntRange(min=1), default=None, metavar="N", expose_value=False,
        callback=_apply,
        help="Compute threads of this process (default: $AURAL_THREADS, else 1; "
             "worker processes use 1 each).")(command)
