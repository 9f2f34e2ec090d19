"""Compute threads: resolution order, setting and restoring, pool workers."""

from __future__ import annotations

import os

import pytest
import torch

from aural import threads
from aural.errors import UsageError


@pytest.fixture
def restore_threads(monkeypatch):
    """Whatever a test sets, the process gets its threads and thread variables back."""
    for name in threads.POOL_ENV:
        monkeypatch.setenv(name, os.environ.get(name, ""))  # undone by monkeypatch
    monkeypatch.setattr(threads, "_configured", None)
    saved = torch.get_num_threads()
    yield
    torch.set_num_threads(saved)


def test_resolution_order(monkeypatch):
    monkeypatch.delenv(threads.THREADS_ENV, raising=False)
    assert threads.resolve_threads() == threads.DEFAULT_THREADS == 1
    monkeypatch.setenv(threads.THREADS_ENV, "3")
    assert threads.resolve_threads() == 3
    assert threads.resolve_threads(2) == 2


@pytest.mark.parametrize("text", ["two", "0", "-1", "1.5"])
def test_a_bad_environment_value_is_a_usage_error(monkeypatch, text):
    monkeypatch.setenv(threads.THREADS_ENV, text)
    with pytest.raises(UsageError, match=rf"\$AURAL_THREADS='{text}': expected a whole number"):
        threads.resolve_threads()


def test_set_threads_sets_torch_and_later_pools(restore_threads):
    info = threads.set_threads(2)
    assert torch.get_num_threads() == 2 == info["torch_threads"] == threads.configured_threads()
    assert all(os.environ[name] == "2" for name in threads.POOL_ENV)


def test_limit_threads_restores(restore_threads, monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS")
    torch.set_num_threads(2)
    with threads.limit_threads(1) as info:
        assert torch.get_num_threads() == 1 == info["torch_threads"]
        assert os.environ["OMP_NUM_THREADS"] == "1"
    assert torch.get_num_threads() == 2
    assert "OMP_NUM_THREADS" not in os.environ
    assert threads._configured is None


def test_pool_workers_run_one_thread_each(restore_threads):
    from aural.evaluate.run import _executor

    threads.set_threads(2)
    with _executor(2) as pool:
        counts = [pool.submit(torch.get_num_threads).result(timeout=120) for _ in range(2)]
    assert counts == [1, 1]
    assert torch.get_num_threads() == 2
