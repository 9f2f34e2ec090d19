"""Stage plugins: the registry and the built-in stages.

Built-ins are listed here explicitly and imported on first use; third-party packages add
stages through the ``aural.stages`` entry-point group::

    [project.entry-points."aural.stages"]
    my_stage = "my_package.stages:MyStage"
"""

from __future__ import annotations

from aural.registry import Registry
from aural.stages.base import BLOCK_SAMPLES, IOContract, NoParams, Stage

BUILTIN_MODULES = (
    "aural.stages.dehum",
    "aural.stages.declick",
    "aural.stages.wpe_dereverb",
    "aural.stages.deepfilter",
    "aural.stages.dynamics",
    "aural.stages.mix_master",
    "aural.stages.noise_reduction",
    "aural.stages.mel_unet",
    "aural.stages.freq_expansion",
    "aural.stages.gan_refiner",
    "aural.stages.separation",
    "aural.stages.music_separation",
)

STAGES: Registry[type[Stage]] = Registry(
    "stage", builtin_modules=BUILTIN_MODULES, entry_point_group="aural.stages")


def register_stage(cls: type[Stage]) -> type[Stage]:
    """Class decorator for built-in stages: registers ``cls`` under ``cls.name``."""
    STAGES.add(cls.name, cls)
    return cls


def get_stage(name: str) -> type[Stage]:
    return STAGES.get(name)


__all__ = ["BLOCK_SAMPLES", "IOContract", "NoParams", "STAGES", "Stage", "get_stage", "register_stage"]
