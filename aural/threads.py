"""Compute threads: one setting for torch, BLAS/OpenMP pools and numba.

``--threads N`` on ``run``, ``evaluate``, ``bench`` and ``train``, else ``$AURAL_THREADS``,
else one thread per process. More threads than free cores slow everything down (each
waits for the others), and audio streamed in blocks parallelises poorly: on the 2-core
development machine with other jobs running, ``aural run phone_to_studio`` on the 13.5 s
example took 6.3-8.6 s with one thread and 13.8-21.9 s with torch's default of two. Run
several files in parallel processes rather than several threads per file; process pools
give each worker one thread (``set_threads(1)`` in their initializer).
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Any, Iterator

from aural.errors import UsageError

THREADS_ENV = "AURAL_THREADS"
DEFAULT_THREADS = 1
POOL_ENV = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMEXPR_NUM_THREADS",
            "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS")

_configured: int | None = None  # what set_threads() last set in this process


def resolve_threads(threads: int | None = None) -> int:
    """``threads`` if given, else ``$AURAL_THREADS``, else :data:`DEFAULT_THREADS`."""
    if threads is not None:
        if threads < 1:
            raise UsageError(f"threads: expected a whole number >= 1, got {threads}")
        return threads
    text = os.environ.get(THREADS_ENV, "").strip()
    if not text:
        return DEFAULT_THREADS
    try:
        threads = int(text)
    except ValueError:
        threads = 0
    if threads < 1:
        raise UsageError(f"${THREADS_ENV}={text!r}: expected a whole number of threads >= 1")
    return threads


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the system has one)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return os.cpu_count() or 1


def configured_threads() -> int:
    """The count :func:`set_threads` last set in this process (the CLI's ``--threads``), else
    :func:`resolve_threads`'s."""
    return _configured if _configured is not None else resolve_threads()


def set_threads(threads: int) -> dict[str, Any]:
    """Use ``threads`` compute threads in this process from now on; returns what was set.

    torch is set directly, BLAS pools already loaded through ``threadpoolctl`` where it is
    installed, and ``OMP_NUM_THREADS`` & co. for libraries loaded later and child processes.
    """
    return _apply(threads)[0]


@contextmanager
def limit_threads(threads: int) -> Iterator[dict[str, Any]]:
    """Run the block with ``threads`` compute threads, restored afterwards; yields what was set."""
    import torch

    saved_env = {name: os.environ.get(name) for name in POOL_ENV}
    saved_torch, saved_configured = torch.get_num_threads(), _configured
    info, blas_limits = _apply(threads)
    try:
        yield info
    finally:
        if blas_limits is not None:
            blas_limits.restore_original_limits()
        _restore(saved_torch, saved_configured, saved_env)


def _apply(threads: int) -> tuple[dict[str, Any], Any]:
    global _configured
    import torch

    threads = resolve_threads(threads)
    env = {name: str(threads) for name in POOL_ENV}
    os.environ.update(env)
    try:  # before torch: the limits it restores are the ones found now (OpenMP included)
        from threadpoolctl import threadpool_limits

        blas_limits, blas = threadpool_limits(limits=threads), f"threadpoolctl limits={threads}"
    except ImportError:
        blas_limits, blas = None, "threadpoolctl not installed: BLAS pools as started"
    torch.set_num_threads(threads)
    _configured = threads
    return {"torch_threads": torch.get_num_threads(), "env": env, "blas": blas}, blas_limits


def _restore(torch_threads: int, configured: int | None, env: dict[str, str | None]) -> None:
    global _configured
    import torch

    torch.set_num_threads(torch_threads)
    _configured = configured
    for name, value in env.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value
