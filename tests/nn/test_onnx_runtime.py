"""onnx_runtime: a network's inference in onnxruntime equals PyTorch's, and falls back to it."""

from __future__ import annotations

import sys

import pytest
import torch
from torch import nn

from helpers import random_network
from aural import errors
from aural.nn import onnx_runtime
from aural.nn.onnx_runtime import BoundMethod, OnnxFunction, onnx_function
from aural.stages.mel_unet.model import MelUNet, MelUNetConfig

pytestmark = pytest.mark.usefixtures("one_thread")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

SMALL = MelUNetConfig(channels=(4, 8), bottleneck_channels=8, chunk_frames=16, context_frames=8)
FRAMES = 32


@pytest.fixture(autouse=True)
def fresh_state(monkeypatch):
    monkeypatch.delenv(onnx_runtime.SWITCH, raising=False)
    monkeypatch.setattr(errors, "_warned", set())
    monkeypatch.setattr(onnx_runtime, "_sessions", onnx_runtime.OrderedDict())


def random_model(seed: int = 0) -> MelUNet:
    return random_network(lambda: MelUNet(SMALL), seed)


def noisy_power(batch: int, frames: int = FRAMES) -> torch.Tensor:
    return torch.rand(batch, frames, 257, generator=torch.Generator().manual_seed(batch)).pow(4)


def test_the_mel_unet_gains_run_in_onnxruntime_as_in_pytorch():
    model = random_model()
    gains = model.inference_power_gains(FRAMES)
    assert isinstance(gains, OnnxFunction)
    power = noisy_power(3)
    expected = model.power_gains(power)
    got = gains(power)
    assert got.shape == expected.shape
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    assert not torch.equal(got[0], got[1])  # each batch row its own


def test_other_shapes_run_in_pytorch():
    model = random_model()
    gains = model.inference_power_gains(FRAMES)
    power = noisy_power(2, frames=FRAMES + 5)
    assert torch.equal(gains(power), model.power_gains(power))


def test_the_switch_asks_for_pytorch_silently(monkeypatch, capsys):
    monkeypatch.setenv(onnx_runtime.SWITCH, "0")
    gains = random_model().inference_power_gains(FRAMES)
    assert isinstance(gains, BoundMethod)
    assert capsys.readouterr().err == ""


def test_without_onnxruntime_it_runs_in_pytorch_and_says_so_once(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    model = random_model()
    for _ in range(2):
        gains = model.inference_power_gains(FRAMES)
        assert isinstance(gains, BoundMethod)
    assert capsys.readouterr().err.splitlines() == [
        "aural: MelUNet: runs in PyTorch (onnxruntime is not installed)"]


def test_a_failed_export_runs_in_pytorch(monkeypatch, capsys):
    def failing_export(*args, **kwargs):
        raise RuntimeError("unsupported operator\nmore detail")

    monkeypatch.setattr(torch.onnx, "export", failing_export)
    assert isinstance(random_model().inference_power_gains(FRAMES), BoundMethod)
    assert capsys.readouterr().err == "aural: MelUNet: runs in PyTorch (the ONNX export failed: unsupported operator)\n"


class Drifting(nn.Module):
    """Adds a number drawn in Python at every call: the export freezes one, so they disagree."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + 10.0 * torch.rand(()).item() + 1.0


def test_an_export_that_disagrees_with_pytorch_is_not_used(capsys):
    module = Drifting()
    assert onnx_function(module, (torch.zeros(1, 4),), label="Drifting") is module
    assert "Drifting: runs in PyTorch (onnxruntime's output differs from PyTorch's by" in capsys.readouterr().err


def test_one_session_serves_every_stage_with_the_same_weights():
    model = random_model()
    first = model.inference_power_gains(FRAMES, cache_key=("mel_unet", "abc"))
    again = model.inference_power_gains(FRAMES, cache_key=("mel_unet", "abc"))
    other = model.inference_power_gains(FRAMES, cache_key=("mel_unet", "def"))
    assert first.session is again.session
    assert other.session is not first.session


def test_an_example_with_a_batch_is_refused():
    with pytest.raises(ValueError, match="batch 1"):
        onnx_function(nn.Identity(), (torch.zeros(2, 4),), label="Identity")


def test_a_later_process_takes_the_export_from_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("AURAL_CACHE_DIR", str(tmp_path))
    model = random_model()
    model.inference_power_gains(FRAMES, cache_key=("mel_unet", "abc"))
    stored = list((tmp_path / "onnx").iterdir())
    assert len(stored) == 1
    monkeypatch.setattr(onnx_runtime, "_sessions", onnx_runtime.OrderedDict())  # as in a new process

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    gains = model.inference_power_gains(FRAMES, cache_key=("mel_unet", "abc"))
    power = noisy_power(2)
    torch.testing.assert_close(gains(power), model.power_gains(power), rtol=0, atol=1e-5)


@pytest.mark.parametrize("damage", [b"not an onnx graph", None])
def test_a_damaged_or_stale_export_in_the_cache_is_made_again(tmp_path, monkeypatch, damage):
    monkeypatch.setenv("AURAL_CACHE_DIR", str(tmp_path))
    random_model(seed=1).inference_power_gains(FRAMES, cache_key=("mel_unet", "abc"))
    stored = next((tmp_path / "onnx").iterdir())
    if damage is not None:
        stored.write_bytes(damage)
    before = stored.read_bytes()
    monkeypatch.setattr(onnx_runtime, "_sessions", onnx_runtime.OrderedDict())
    model = random_model(seed=2)  # None: other weights under the same key (a stale file)
    gains = model.inference_power_gains(FRAMES, cache_key=("mel_unet", "abc"))
    assert isinstance(gains, OnnxFunction)
    power = noisy_power(1)
    torch.testing.assert_close(gains(power), model.power_gains(power), rtol=0, atol=1e-5)
    assert stored.read_bytes() != before  # replaced by the new export
