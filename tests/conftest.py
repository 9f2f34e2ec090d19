"""Shared fixtures."""

from __future__ import annotations

import pytest


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
