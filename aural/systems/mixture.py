"""``mixture``: every stem is the unprocessed mixture, the separation row every system should beat.

Its SI-SDR improvement is 0 dB by definition; its SI-SDR and SDR say how hard the items are.
On a folder that is not a separation folder it has nothing to separate (``aural bench``
says so before any work).
"""

from __future__ import annotations

from aural.signal import Signal
from aural.stems import Stems
from aural.systems import SYSTEMS
from aural.systems.base import System

STEM_NAMES = ("voice", "background", "vocals", "accompaniment")


@SYSTEMS.register("mixture")
class MixtureSystem(System):
    name = "mixture"
    summary = "separation baseline: the mixture itself as every stem (SI-SDRi 0 dB by definition)"
    stems = STEM_NAMES

    def process(self, signal: Signal) -> Stems:
        return Stems({name: signal.with_history(f"system:{self.name}") for name in STEM_NAMES})
