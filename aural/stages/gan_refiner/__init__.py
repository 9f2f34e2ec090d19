"""The ``gan_refiner`` stage: adversarially trained refinement after denoising."""

from __future__ import annotations

from aural.stages.gan_refiner.stage import GanRefinerParams, GanRefinerStage

__all__ = ["GanRefinerParams", "GanRefinerStage"]
