"""``identity``: the input unchanged, the row every other system should beat."""

from __future__ import annotations

import numpy as np

from aural.systems import SYSTEMS
from aural.systems.base import System


@SYSTEMS.register("identity")
class IdentitySystem(System):
    name = "identity"
    summary = "the unprocessed input (scores the degradation itself)"

    def process_channel(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        return audio
