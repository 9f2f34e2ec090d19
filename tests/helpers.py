"""Test helpers: small generated signals and files, and running the CLI in-process."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from aural.signal import Signal
from aural.stages import Stage


#: A fast two-stage pipeline (dynamics, then mix_master's podcast preset); the ``quick_pipeline``
#: fixture (tests/conftest.py) writes it to a file.
QUICK_PIPELINE = """\
aural: 1
name: quick
stages:
  - stage: dynamics
    params: {threshold_db: -24.0, ratio: 2.0}
  - stage: mix_master
    params: {preset: podcast}
"""


def random_network(build, seed: int = 0, std: float = 0.2) -> torch.nn.Module:
    """``build()`` made after seeding torch with ``seed``, every parameter redrawn from a normal of
    ``std`` (an untrained network that does something), in eval mode."""
    torch.manual_seed(seed)
    model = build()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=std)
    return model.eval()


def tone(freq_hz: float = 440.0, duration_s: float = 1.0, sample_rate: int = 48000,
         num_channels: int = 1, amplitude: float = 0.5) -> Signal:
    t = torch.arange(int(round(duration_s * sample_rate)), dtype=torch.float64) / sample_rate
    wave = (amplitude * torch.sin(2 * math.pi * freq_hz * t)).float()
    return Signal(wave.repeat(num_channels, 1), sample_rate)


def speech_like(duration_s: float = 3.0, sample_rate: int = 16000, num_channels: int = 1,
                seed: int = 0, level_db: float = -20.0) -> Signal:
    """Voiced harmonic bursts with a wandering pitch and pauses, like speech at a glance."""
    rng = np.random.default_rng(seed)
    n = int(round(duration_s * sample_rate))
    t = np.arange(n) / sample_rate
    pitch = 140 + 30 * np.sin(2 * np.pi * 0.7 * t) + 10 * rng.standard_normal()
    phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
    offsets = np.random.default_rng(seed + 1).uniform(0, 2 * np.pi, 25)  # voice-like crest factor
    voiced = sum(np.sin(k * phase + offsets[k]) / k for k in range(1, 25) if k * 200 < sample_rate / 2)
    syllables = np.clip(np.sin(2 * np.pi * 3.0 * t + rng.uniform(0, 6)), 0, None) ** 2
    pauses = (np.sin(2 * np.pi * 0.4 * t + rng.uniform(0, 6)) > -0.6).astype(float)
    noise = rng.standard_normal(n) * 0.05
    audio = (voiced + noise) * syllables * pauses
    audio *= 10 ** (level_db / 20) / (np.sqrt(np.mean(audio ** 2)) + 1e-12)
    audio = np.stack([np.roll(audio, 7 * c) for c in range(num_channels)])
    return Signal(torch.from_numpy(audio.astype(np.float32)), sample_rate)


#: Real recordings (read only, never copied into the repository): ``$AURAL_DATA``, else
#: ``../shared/data`` beside the repository.
DATA_ROOT = Path(os.environ.get("AURAL_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def _missing_data_reason(path: Path) -> str:
    return (f"{path} not found: these tests read real recordings from $AURAL_DATA (default ../shared/data "
            f"beside the repository); run them with AURAL_DATA=/path/to/shared/data python -m pytest ...")


def shared_data(relative: str = "") -> Path:
    """``DATA_ROOT / relative``; skips the test, saying how to set AURAL_DATA, when it is missing."""
    path = DATA_ROOT / relative
    if not path.exists():
        pytest.skip(_missing_data_reason(path))
    return path


def phone_speech(level_db: float, seconds: float = 4.0, snr_db: float | None = None) -> Signal:
    """A real voice (VCTK p234, CC BY 4.0; first ``seconds``), with white noise ``snr_db`` under it
    (``None``: none), resampled to 16 kHz as a phone records it, at ``level_db`` dBFS RMS."""
    import soxr

    from aural import io

    sig = io.read(shared_data("speech/vctk48k_clearervoice/p234_003.flac"))
    voice = sig.audio[0, :int(seconds * sig.sample_rate)].double().numpy()
    if snr_db is not None:
        noise = np.random.default_rng(0).standard_normal(voice.shape)
        voice = voice + noise * np.sqrt(np.mean(voice ** 2)) * 10 ** (-snr_db / 20)
    phone = soxr.resample(voice, sig.sample_rate, 16000)
    phone *= 10 ** (level_db / 20) / np.sqrt(np.mean(phone ** 2))
    return Signal(torch.from_numpy(phone.astype(np.float32))[None], 16000)


def requires_shared_data(relative: str = ""):
    """A skipif mark for tests that need ``DATA_ROOT / relative`` (same message as :func:`shared_data`)."""
    path = DATA_ROOT / relative
    return pytest.mark.skipif(not path.exists(), reason=_missing_data_reason(path))


def write_audio(path: Path, signal: Signal, subtype: str = "PCM_24") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), signal.audio.numpy().T, signal.sample_rate, subtype=subtype)
    return path


def run_cli(args: list[str], capsys) -> tuple[int, str, str]:
    """Run the ``aural`` entry point in-process; returns (exit status, stdout, stderr)."""
    from aural.cli import main

    with pytest.raises(SystemExit) as exit_info:
        main(args)
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err


class DelayStage(Stage):
    """Scales its input by ``params.gain`` (1 when the params have none) and delays it by
    ``params.latency`` samples, which it reports: the pipeline must remove the delay.
    Subclasses set ``name`` and ``Params``."""

    def reset(self):
        self._line = torch.zeros(self.num_channels, self.params.latency)

    @property
    def latency_samples(self):
        return self.params.latency

    def process_block(self, audio):
        joined = torch.cat([self._line, audio], dim=1)
        self._line = joined[:, joined.shape[1] - self.params.latency:]
        return getattr(self.params, "gain", 1.0) * joined[:, : audio.shape[1]]


def stream_blocks(stage: Stage, audio: torch.Tensor, sample_rate: int, block: int) -> torch.Tensor:
    """``audio`` through ``stage.process_block`` in blocks of ``block`` samples, flushed and aligned."""
    stage.configure(sample_rate, audio.shape[0])
    parts = [stage.process_block(audio[:, i:i + block]) for i in range(0, audio.shape[1], block)]
    parts.append(stage.flush())
    return torch.cat(parts, dim=1)[:, stage.latency_samples:stage.latency_samples + audio.shape[1]]


def torchrun(args: list[str], num_processes: int = 2, timeout_s: float = 300):
    """``torchrun --standalone --nproc-per-node N ARGS...`` on CPU (one thread per process, this
    checkout's aural and the test helpers importable); returns the finished process."""
    import subprocess
    import sys

    tests, root = Path(__file__).parent, Path(__file__).parent.parent
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(root), str(tests)])}
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={num_processes}",
               *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout_s)


def run_torchrun(script: str, out_dir: Path, num_processes: int = 2) -> None:
    """``script OUT_DIR`` under ``torch.distributed.run`` on CPU (one thread per process); asserts it succeeded."""
    done = torchrun([script, str(out_dir)], num_processes)
    assert done.returncode == 0, done.stderr[-3000:]


def separation_weights(folder: Path, seed: int = 0) -> Path:
    """An untrained ``separation`` network saved as a weights file in ``folder``: pipelines that
    use ``separation`` run with it while no trained preset is shipped."""
    from aural import weights
    from aural.stages.separation.model import build_model

    torch.manual_seed(seed)
    path = Path(folder) / "separation_test.safetensors"
    weights.save(path, build_model().state_dict(), {"stage": "separation", "sample_rate": 16000, "model": {}})
    return path


def with_separation_weights(pipeline: Path, folder: Path) -> Path:
    """A copy of ``pipeline`` in ``folder`` whose ``separation`` stages use :func:`separation_weights`."""
    import yaml

    data = yaml.safe_load(Path(pipeline).read_text())
    path = separation_weights(folder)
    for entry in data["stages"]:
        if entry["stage"] == "separation":
            entry["weights"] = str(path)
    out = Path(folder) / Path(pipeline).name
    out.write_text(yaml.safe_dump(data, sort_keys=False))
    return out


def skip_unless_stages_run_here(pipeline: Path) -> None:
    """Skip the calling test, with the reason, when a stage of ``pipeline`` cannot run on this
    machine (its optional extra is not installed: ``deepfilter`` without ``aural[deepfilter]``,
    or a param that needs it)."""
    import yaml

    from aural.params import check_params
    from aural.stages import STAGES

    for entry in yaml.safe_load(Path(pipeline).read_text())["stages"]:
        cls = STAGES.get(entry["stage"])
        runs_here, reason = cls.available()
        if runs_here:
            params, _ = check_params(cls.Params, entry.get("params") or {})
            reason = cls.unavailable_with(params) if params is not None else None
            runs_here = reason is None
        if not runs_here:
            pytest.skip(f"{Path(pipeline).name}: stage {entry['stage']}: {reason}")


def separation_preset_shipped() -> bool:
    """Whether ``models/`` has the ``separation`` ``default`` preset (exported by training)."""
    from aural import weights

    return "default" in weights.read_manifest()["models"].get("separation", {})


def smooth_voice(duration_s: float, seed: int = 0, sample_rate: int = 48000) -> np.ndarray:
    """A voice-like signal with speech's spectral tilt (harmonics falling 12 dB per octave), gated at 3 Hz."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(duration_s * sample_rate)) / sample_rate
    phase = 2 * np.pi * np.cumsum(150 + 40 * np.sin(2 * np.pi * 2.3 * t + rng.uniform(0, 6))) / sample_rate
    voice = sum(np.sin(k * phase + rng.uniform(0, 6)) / k ** 2 for k in range(1, 60) if k * 190 < 0.45 * sample_rate)
    voice = voice * np.clip(np.sin(2 * np.pi * 3 * t), 0, None) ** 0.5
    return voice / np.sqrt(np.mean(voice ** 2)) * 0.1 + 1e-3 * rng.standard_normal(len(voice))


def generated_room(sample_rate: int = 16000, rt60_s: float = 0.8, length_s: float = 1.5, seed: int = 0,
                   tail: float = 0.01) -> np.ndarray:
    """An impulse response: the direct path at sample 0, nothing for 2 ms, then exponentially
    decaying noise (``tail`` times a unit Gaussian at the start, reverberation time ``rt60_s``)."""
    t = np.arange(int(length_s * sample_rate)) / sample_rate
    response = np.random.default_rng(seed).standard_normal(len(t)) * 10 ** (-3 * t / rt60_s) * tail
    response[:int(0.002 * sample_rate)] = 0.0
    response[0] = 1.0
    return response


def clicks(num_samples: int, seed: int = 0, count: int = 40, level: float = 0.3) -> np.ndarray:
    """Impulsive clicks of 1-8 samples, of random sign and amplitude, anywhere in the signal
    (the ``clicks`` degradation's click shape, :func:`aural.degrade.impulsive.click_burst`)."""
    from aural.degrade.impulsive import click_burst

    rng = np.random.default_rng(seed)
    out = np.zeros(num_samples)
    for _ in range(count):
        start, length = int(rng.integers(1000, num_samples - 1000)), int(rng.integers(1, 9))
        out[start:start + length] += click_burst(rng, length, level)
    return out


def noisy_voice(seconds: float = 2.0, channels: int = 1) -> Signal:
    """:func:`speech_like` at 16 kHz in white noise (about 10 dB below it)."""
    voice = speech_like(seconds, 16000, num_channels=channels)
    noise = 0.03 * torch.randn(voice.audio.shape, generator=torch.Generator().manual_seed(5))
    return Signal(voice.audio + noise, 16000)


def streamed_in_blocks(stage, signal: Signal, block_samples: int = 1531) -> torch.Tensor:
    """``stage`` run by hand in odd blocks plus its flush, latency dropped: what ``process``
    should give (for stems, ``(stems, channels, samples)``)."""
    stage.configure(signal.sample_rate, signal.num_channels)
    parts = [stage.process_block(signal.audio[:, i:i + block_samples])
             for i in range(0, signal.num_samples, block_samples)]
    parts.append(stage.flush())
    return torch.cat(parts, dim=-1)[..., stage.latency_samples:stage.latency_samples + signal.num_samples]
