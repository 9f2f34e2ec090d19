"""The ``freq_expansion`` stage: learned bandwidth extension to 48 kHz."""

from __future__ import annotations

from aural.stages.freq_expansion.stage import FreqExpansionParams, FreqExpansionStage

__all__ = ["FreqExpansionParams", "FreqExpansionStage"]
