"""The weight average (EMA): its recurrence, the trainer's use of it (validation, checkpoints,
resume), export and loading of averaged weights, recipe validation."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from aural import weights
from aural.errors import ConfigError
from aural.losses import build_loss
from aural.train.checkpoint import read_checkpoint
from aural.train.ema import EmaConfig, WeightAverage
from aural.train.export import export_run
from aural.train.recipe import recipe_from_mapping
from aural.train.task import EnhancementTask, OptimizerConfig
from aural.train.trainer import Trainer, TrainerConfig
from aural.stages.noise_reduction.model import ConvAutoencoder, ConvAutoencoderConfig

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = ConvAutoencoderConfig(channels=(4, 8), bottleneck_layers=1)
WEIGHTS_CONFIG = {"stage": "noise_reduction", "architecture": "ConvAutoencoder", "sample_rate": 16000,
                  "model": SMALL.to_dict()}


def make_data(num_items: int = 12, samples: int = 256, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 16000
    clean = 0.3 * torch.sin(2 * torch.pi * (200 + 800 * torch.rand(num_items, 1, generator=generator)) * t)
    noisy = clean + 0.1 * torch.randn(num_items, samples, generator=generator)
    return torch.utils.data.TensorDataset(noisy.unsqueeze(1), clean.unsqueeze(1))


def make_task() -> EnhancementTask:
    torch.manual_seed(0)
    return EnhancementTask(ConvAutoencoder(SMALL), build_loss([{"name": "l1", "weight": 1.0}]),
                           OptimizerConfig(lr=1e-2, warmup_steps=1, total_steps=6))


def trainer(run_dir, ema=None, **changes) -> Trainer:
    values = dict(steps=6, batch_size=3, val_every=2, checkpoint_every=2, log_every=1, progress=False, seed=3,
                  ema=ema)
    values.update(changes)
    return Trainer(make_task(), make_data(), run_dir, TrainerConfig(**values), val_data=make_data(6, seed=1),
                   run_info={"weights_config": WEIGHTS_CONFIG})


def test_the_average_follows_its_recurrence_from_the_start_step():
    model = nn.Linear(1, 1, bias=False)
    average = WeightAverage(model, EmaConfig(decay=0.75, start_step=2))
    for step, value in enumerate((1.0, 2.0, 4.0, 8.0), start=1):
        model.weight.data.fill_(value)
        average.update(model, step)
    # step 1 is before start_step; step 2 copies (2.0); then 0.75 * avg + 0.25 * new
    expected = 0.75 * (0.75 * 2.0 + 0.25 * 4.0) + 0.25 * 8.0
    assert average.updates == 3
    assert average.module.weight.item() == pytest.approx(expected)
    assert model.weight.item() == 8.0  # the trained weights are untouched


def test_training_keeps_the_average_and_validates_with_it(tmp_path):
    plain = trainer(tmp_path / "plain").fit()
    averaged = trainer(tmp_path / "ema", ema={"decay": 0.9, "start_step": 1}).fit()
    tensors, state = read_checkpoint(tmp_path / "ema" / "last.safetensors")
    plain_tensors, _ = read_checkpoint(tmp_path / "plain" / "last.safetensors")
    model = {k: v for k, v in tensors.items() if k.startswith("model.")}
    # the average does not change training itself ...
    assert all(torch.equal(v, plain_tensors[k]) for k, v in model.items())
    assert int(tensors["ema.n_averaged"]) == 6
    assert state["extra"]["trainer"]["ema"] == {"decay": 0.9, "start_step": 1}
    # ... but it is what validation saw, and it lags the trained weights
    assert any(not torch.equal(tensors[f"ema.module.{k[len('model.'):]}"], v) for k, v in model.items())
    assert averaged.last_metrics["loss/val"] != plain.last_metrics["loss/val"]


def test_a_resumed_run_continues_the_same_average(tmp_path):
    ema = {"decay": 0.8, "start_step": 1}
    trainer(tmp_path / "whole", ema=ema).fit()
    trainer(tmp_path / "split", ema=ema).fit(stop_at=4)
    trainer(tmp_path / "split", ema=ema).fit(resume=True)
    whole, _ = read_checkpoint(tmp_path / "whole" / "last.safetensors")
    split, _ = read_checkpoint(tmp_path / "split" / "last.safetensors")
    for key, value in whole.items():
        if key.startswith(("ema.", "model.")):
            assert torch.allclose(split[key].float(), value.float(), atol=1e-6), key


def test_export_and_loading_use_the_average(tmp_path):
    trainer(tmp_path / "run", ema={"decay": 0.9, "start_step": 1}).fit()
    tensors, _ = read_checkpoint(tmp_path / "run" / "last.safetensors")
    export_run(tmp_path / "run", which="last", directory=tmp_path / "models")
    exported = weights.load("noise_reduction", "default", tmp_path / "models")
    for name, value in exported.tensors.items():
        assert torch.equal(value, tensors[f"ema.module.{name}"]), name
    card = (tmp_path / "models" / "noise_reduction" / "default.md").read_text()
    assert "exponential moving average" in card and "decay 0.9" in card
    from_checkpoint = weights.load("noise_reduction", str(tmp_path / "run" / "last.safetensors"))
    assert all(torch.equal(v, exported.tensors[k]) for k, v in from_checkpoint.tensors.items())


@pytest.mark.parametrize("ema, message", [
    ({"decay": 1.5}, "between 0 and 1"),
    ({"decay": 0.99, "start": 3}, "unknown ema key 'start'"),
    ({"start_step": -1}, "integer >= 0"),
    ("0.99", "expected a mapping"),
])
def test_recipe_refuses_a_bad_ema_section(ema, message):
    with pytest.raises(ConfigError, match=message) as caught:
        recipe_from_mapping({"stage": "noise_reduction", "ema": ema}, "r.yaml")
    assert str(caught.value).startswith("r.yaml ema")


def test_recipe_passes_the_ema_section_to_the_trainer():
    recipe = recipe_from_mapping({"stage": "noise_reduction", "ema": {"decay": 0.999, "start_step": 100}})
    assert recipe.trainer_config().ema == {"decay": 0.999, "start_step": 100}


def test_resuming_without_an_average_says_so(tmp_path, capsys):
    trainer(tmp_path / "run").fit(stop_at=2)
    trainer(tmp_path / "run", ema={"decay": 0.9, "start_step": 1}, progress=True).fit(resume=True)
    assert "holds no weight average: the average starts at step 2" in capsys.readouterr().err
    trainer(tmp_path / "other", ema={"decay": 0.9, "start_step": 1}).fit(stop_at=2)
    trainer(tmp_path / "other", progress=True).fit(resume=True)
    assert "weight average is dropped" in capsys.readouterr().err
