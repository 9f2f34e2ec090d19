"""The ``separation`` stage: split a speech recording into ``voice`` and ``background``."""

from __future__ import annotations

from aural.stages.separation.stage import SeparationParams, SeparationStage, separate

__all__ = ["SeparationParams", "SeparationStage", "separate"]
