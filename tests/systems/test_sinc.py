"""soxr: sinc upsampling to 48 kHz keeps the input's band and adds nothing above it."""

import numpy as np
import torch

from aural.signal import Signal
from aural.systems import get_system
from helpers import tone


def test_upsamples_to_48_khz_aligned_and_band_limited():
    system = get_system("soxr")
    signal = tone(1000.0, 1.0, 16000)
    out = system.process(signal)
    assert (out.sample_rate, out.num_samples) == (48000, 48000)
    spectrum = np.abs(np.fft.rfft(out.audio[0].numpy()))
    freqs = np.fft.rfftfreq(48000, 1 / 48000)
    assert spectrum[freqs > 8100].max() < 1e-3 * spectrum.max()
    reference = tone(1000.0, 1.0, 48000).audio
    assert float((out.audio - reference)[:, 1000:-1000].abs().max()) < 1e-3


def test_stage_system_of_a_bandwidth_extender_keeps_its_output_rate(tmp_path):
    from aural import weights
    from aural.stages.freq_expansion.model import BandwidthExtender, FreqExpansionConfig

    model = BandwidthExtender(FreqExpansionConfig(channels=8, dilations=(1,), context_frames=8))
    path = tmp_path / "fe.safetensors"
    weights.save(path, model.state_dict(), {"stage": "freq_expansion", "sample_rate": 48000,
                                            "model": model.config.to_dict()})
    out = get_system(f"stage:freq_expansion@{path}").process(Signal(torch.zeros(1, 8000), 8000))
    assert (out.sample_rate, out.num_samples) == (48000, 48000)
    assert get_system("stage:mel_unet").process(Signal(torch.zeros(1, 8000), 8000)).sample_rate == 8000
