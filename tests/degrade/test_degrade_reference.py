"""The studio reference: the early part of the room kernel, aligned, chunk-consistent, recorded."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from aural import io
from aural.degrade import get_profile, make_resources, reproduce, simulate_file
from aural.degrade.base import Resources
from aural.degrade.reference import early_part, reference_kernels, render_reference
from aural.degrade.reverb import Reverb, synthetic_rir
from aural.degrade.simulate import CleanSource, Settings, render_studio
from aural.errors import UsageError
from helpers import speech_like, write_audio

ROOM = {"source": "synthetic", "rt60_s": 0.8, "drr_db": 3.0, "predelay_ms": 4.0, "seed": 5, "max_length_s": 1.5}


def test_early_part_keeps_50_ms_then_fades_out():
    kernel = synthetic_rir(ROOM, 16000)
    early = early_part(kernel, 16000, 50.0)
    assert len(early) == 800 + 80
    assert np.array_equal(early[:800], kernel[:800])
    fade = early[800:] / kernel[800:880]
    assert np.all(np.diff(fade) < 0) and fade[0] > 0.99 and fade[-1] < 0.01
    direct_only = early_part(kernel, 16000, 0.0)  # the direct path is never faded
    assert len(direct_only) == 81 and direct_only[0] == kernel[0]


def test_reference_of_an_impulse_is_the_early_kernel_at_sample_0():
    steps = [{"transform": "reverb", "params": ROOM}, {"transform": "level", "params": {}}]
    kernels = reference_kernels(steps, 16000, None, "early", 50.0)
    assert len(kernels) == 1 and reference_kernels(steps, 16000, None, "dry", 50.0) == []
    impulse = torch.zeros(1, 4000)
    impulse[0, 1000] = 1.0
    out = next(render_reference(lambda start, frames: impulse[:, start:start + frames], 4000, kernels, 4000))[0]
    kernel = Reverb.kernel(ROOM, 16000, None)
    assert int(torch.argmax(out.abs())) == 1000  # the direct path: aligned with the dry source
    assert np.allclose(out[1000:1800].numpy(), kernel[:800], atol=1e-7)
    assert float(out[:1000].abs().max()) < 1e-9  # nothing before the direct path
    assert float(out[1880:].abs().max()) < 1e-9 < float(out[1870:1880].abs().max())  # no late reverberation


def test_blocks_join_into_the_whole_convolution():
    audio = torch.from_numpy(np.random.default_rng(0).standard_normal((2, 9000)).astype(np.float32))
    kernels = [early_part(synthetic_rir(ROOM, 16000), 16000, 50.0), early_part(synthetic_rir(ROOM, 16000), 16000, 20.0)]

    def read(start, frames):
        return audio[:, start:start + frames]

    whole = torch.cat(list(render_reference(read, 9000, kernels, 9000)), dim=1)
    chunked = torch.cat(list(render_reference(read, 9000, kernels, 700)), dim=1)
    assert whole.shape == chunked.shape == (2, 9000)
    assert torch.allclose(whole, chunked, atol=1e-6)


def test_streamed_source_gives_the_in_memory_reference(tmp_path):
    path = write_audio(tmp_path / "long.wav", speech_like(3.0, 16000, seed=4, num_channels=2))
    steps = [{"transform": "reverb", "params": ROOM}]
    with CleanSource.open(path, chunk_samples=5000) as streamed:
        pieces = list(render_studio(streamed, -3.0, steps, Resources(), "early", 50.0, 5000))
    with CleanSource.open(path, chunk_samples=10**9) as whole:
        one = next(render_studio(whole, -3.0, steps, Resources(), "early", 50.0, 10**9))
    assert len(pieces) == 10
    assert torch.allclose(torch.cat(pieces, dim=1), one, atol=1e-6)


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    root = tmp_path_factory.mktemp("reference")
    write_audio(root / "clean" / "a.wav", speech_like(1.5, 16000, seed=1))
    return root


def simulate(root, out, settings):
    return json.loads(json.dumps(simulate_file(root / "clean" / "a.wav", "a.wav", get_profile("voice_memo"), seed=1,
                                               variant=0, resources=make_resources(ffmpeg=None), settings=settings,
                                               out_dir=out, pair_rel="a.wav", clean_dir=root / "clean")))


def test_manifest_records_the_reference_and_old_entries_reproduce_dry(clean, tmp_path):
    early = simulate(clean, tmp_path / "early", Settings(subtype="FLOAT"))
    dry = simulate(clean, tmp_path / "dry", Settings(subtype="FLOAT", reference="dry"))
    assert (early["reference"], early["early_reflections_ms"], dry["reference"]) == ("early", 50.0, "dry")
    assert early["manifest_version"] == 2
    early_studio = io.read(tmp_path / "early" / early["studio"]).audio
    dry_studio = io.read(tmp_path / "dry" / dry["studio"]).audio
    assert torch.equal(io.read(tmp_path / "early" / early["phone"]).audio,
                       io.read(tmp_path / "dry" / dry["phone"]).audio)
    assert not torch.allclose(early_studio, dry_studio, atol=1e-3)
    assert torch.equal(reproduce(early)[0].audio, early_studio)
    old = {k: v for k, v in early.items() if k not in ("reference", "early_reflections_ms")}
    assert torch.equal(reproduce(old)[0].audio, dry_studio)
    # the late reverberation is what the phone side has and the reference lacks
    phone = io.read(tmp_path / "early" / early["phone"]).audio
    assert float(((phone - early_studio) ** 2).sum()) < float(((phone - dry_studio) ** 2).sum())


def test_bad_reference_settings_are_usage_errors():
    with pytest.raises(UsageError, match="expected one of early, dry"):
        Settings(reference="wet")
    with pytest.raises(UsageError, match="early_reflections_ms"):
        Settings(early_reflections_ms=-1.0)


def test_an_early_reference_stays_under_the_peak_ceiling():
    """A room's first reflections can add up above the dry source's peak: the pair gain then
    lowers both files together, so the studio file stays under the ceiling too."""
    from aural.degrade.base import Step
    from aural.degrade.profiles import Profile
    from aural.degrade.reverb import Reverb
    from aural.degrade.simulate import PEAK_CEILING, simulate_pair
    from aural.degrade.transforms import LevelChange
    from aural.signal import Signal

    room = Profile("quiet_room", "a synthetic room, then the phone 12 dB quieter", (
        Step(Reverb(rt60_s=(0.3, 0.3), drr_db=(-3.0, -3.0), predelay_ms=(1.0, 1.0), source="synthetic"), 1.0),
        Step(LevelChange(gain_db=(-12.0, -12.0), changes_per_minute=0.0), 1.0)))
    t = np.arange(16000) / 16000
    loud = Signal(torch.from_numpy((0.9 * np.sin(2 * np.pi * 80 * t)).astype(np.float32))[None], 16000)
    lowered = 0
    for seed in range(8):
        studio, phone, record = simulate_pair(loud, room, np.random.default_rng(seed), reference_level_db=None)
        assert float(studio.audio.abs().max()) <= PEAK_CEILING + 1e-4, seed
        assert float(phone.audio.abs().max()) <= PEAK_CEILING * 0.3, seed  # the phone alone would need no gain
        lowered += record["pair_gain_db"] < 0
    assert lowered  # some rooms' early reflections did add up above the ceiling
