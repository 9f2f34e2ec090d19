"""The adversarial phase of the one training loop: steps, logs, checkpoints, resume, recipes."""

from __future__ import annotations

import json

import pytest
import torch

from aural.errors import ConfigError
from aural.losses import build_loss
from aural.losses.adversarial import AdversarialConfig, AdversarialLoss, feature_matching
from aural.nn.discriminators import CombinedDiscriminator, DiscriminatorConfig
from aural.train.checkpoint import read_checkpoint
from aural.train.recipe import builtin_recipe, recipe_from_mapping
from aural.train.task import EnhancementTask, OptimizerConfig
from aural.train.trainer import Trainer, TrainerConfig

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL_DISCRIMINATORS = {"periods": [2, 3], "period_channels": [4, 8], "fft_sizes": [64, 128], "stft_channels": 4}


class TinyNet(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Conv1d(1, 4, 9, padding=4)
        self.decoder = torch.nn.Conv1d(4, 1, 9, padding=4)

    def forward(self, x):
        return x + self.decoder(torch.tanh(self.encoder(x)))


def make_data(num_items: int = 8, samples: int = 512, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 16000
    clean = 0.3 * torch.sin(2 * torch.pi * (200 + 600 * torch.rand(num_items, 1, generator=generator)) * t)
    noisy = clean + 0.1 * torch.randn(num_items, samples, generator=generator)
    return torch.utils.data.TensorDataset(noisy.unsqueeze(1), clean.unsqueeze(1))


def adversarial(start_step: int = 1, loss: str = "hinge") -> AdversarialLoss:
    return AdversarialLoss(AdversarialConfig.from_dict(
        {"start_step": start_step, "loss": loss, "discriminators": SMALL_DISCRIMINATORS}))


def make_task(seed: int = 0, start_step: int = 1, loss: str = "hinge") -> EnhancementTask:
    torch.manual_seed(seed)
    return EnhancementTask(TinyNet(), build_loss([{"name": "l1", "weight": 1.0}]),
                           OptimizerConfig(lr=1e-2, warmup_steps=1, total_steps=6),
                           adversarial=adversarial(start_step, loss))


def config(**changes) -> TrainerConfig:
    values = dict(steps=6, batch_size=4, val_every=3, checkpoint_every=3, log_every=1, progress=False, seed=3)
    values.update(changes)
    return TrainerConfig(**values)


def state(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


@pytest.mark.parametrize("loss", ["hinge", "lsgan"])
def test_an_adversarial_step_updates_generator_and_discriminators(tmp_path, loss):
    task = make_task(loss=loss)
    generator, discriminator = state(task.model), state(task.adversarial.discriminator)
    Trainer(task, make_data(), tmp_path / "run", config(steps=3)).fit()
    assert any(not torch.equal(v, state(task.model)[k]) for k, v in generator.items())
    assert any(not torch.equal(v, state(task.adversarial.discriminator)[k]) for k, v in discriminator.items())
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    keys = set().union(*rows)
    assert {"loss/gen_adv/train", "loss/disc/train", "loss/feature_matching/train",
            "grad_norm/discriminator"} <= keys
    assert "loss/disc/train" not in rows[0], "the GAN phase starts at start_step, after regression"


def test_generator_loss_reaches_the_generator_but_not_the_discriminators():
    loss = adversarial()
    net = TinyNet()
    noisy, clean = make_data()[:4]
    parts = loss.generator_losses(net(noisy), clean)
    loss.total(parts).backward()
    assert all(p.grad is not None for p in net.parameters())
    assert all(p.grad is None for p in loss.discriminator.parameters())


def test_feature_matching_is_zero_for_identical_input():
    discriminator = CombinedDiscriminator(DiscriminatorConfig(periods=(2,), period_channels=(4,), fft_sizes=(64,),
                                                              stft_channels=4))
    audio = torch.randn(2, 1, 800)
    judgements = discriminator(audio)
    assert float(feature_matching(judgements, judgements).detach()) == 0.0
    assert len(judgements) == 2


def test_checkpoint_holds_discriminators_and_resume_continues_the_same_run(tmp_path):
    straight = make_task()
    Trainer(straight, make_data(), tmp_path / "straight", config()).fit()

    first = make_task()
    Trainer(first, make_data(), tmp_path / "split", config()).fit(stop_at=3)
    tensors, saved = read_checkpoint(tmp_path / "split" / "last.safetensors")
    assert any(k.startswith("aux.adversarial.discriminator.") for k in tensors)
    assert any(k.startswith("aux.adversarial.optim.") for k in tensors)
    assert "adversarial" in saved["extra"]["task_state"]

    resumed = make_task(seed=99)  # fresh generator and discriminators: all must come from the checkpoint
    Trainer(resumed, make_data(), tmp_path / "split", config()).fit(resume=True)
    for key, value in state(straight.model).items():
        assert torch.equal(value, state(resumed.model)[key]), key
    for key, value in state(straight.adversarial.discriminator).items():
        assert torch.equal(value, state(resumed.adversarial.discriminator)[key]), key


def test_recipes_validate_the_adversarial_section():
    recipe = builtin_recipe("gan_refiner")
    assert recipe.adversarial["start_step"] > 0
    assert isinstance(recipe.adversarial_loss(), AdversarialLoss)
    assert builtin_recipe("mel_unet").adversarial_loss() is None
    for bad, message in (({"loss": "wasserstein"}, "loss"), ({"start": 3}, "unknown"), ({"start_step": 0}, "start_step"),
                         ({"discriminators": {"periodz": [2]}}, "discriminators"), ("on", "mapping")):
        with pytest.raises(ConfigError, match=message):
            recipe_from_mapping({"stage": "gan_refiner", "adversarial": bad})


# -- DDP: two CPU processes under torchrun keep generator and discriminators identical ------------
def _ddp_worker(out_dir: str) -> None:
    import os
    from pathlib import Path

    from safetensors.torch import save_file

    rank = int(os.environ["RANK"])
    task = make_task(seed=rank, start_step=1)  # different initial weights: rank 0's must win
    Trainer(task, make_data(16), Path(out_dir) / "run", config(steps=4, batch_size=2, val_every=2)).fit()
    tensors = {f"generator.{k}": v for k, v in state(task.model).items()}
    tensors.update({f"discriminator.{k}": v for k, v in state(task.adversarial.discriminator).items()})
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(Path(out_dir) / f"rank{rank}.safetensors"))


@pytest.mark.slow
def test_ddp_ranks_agree_on_generator_and_discriminators(tmp_path):
    from safetensors.torch import load_file

    from helpers import run_torchrun

    run_torchrun(__file__, tmp_path)
    rank0 = load_file(str(tmp_path / "rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "rank1.safetensors"))
    initial = state(make_task(seed=0).adversarial.discriminator)
    assert any(not torch.equal(initial[k], rank0[f"discriminator.{k}"]) for k in initial)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key


def test_a_fine_tune_from_a_gan_checkpoint_keeps_its_discriminators(tmp_path):
    trained = make_task()
    Trainer(trained, make_data(), tmp_path / "gan", config(steps=3)).fit()
    checkpoint = tmp_path / "gan" / "last.safetensors"

    fine_tune = make_task(seed=7)
    assert fine_tune.carry_discriminators(checkpoint)
    for key, value in state(trained.adversarial.discriminator).items():
        assert torch.equal(value, state(fine_tune.adversarial.discriminator)[key]), key


def test_discriminators_of_another_architecture_or_none_leave_them_fresh(tmp_path):
    Trainer(make_task(), make_data(), tmp_path / "gan", config(steps=3)).fit()
    other = EnhancementTask(TinyNet(), build_loss([{"name": "l1", "weight": 1.0}]), OptimizerConfig(lr=1e-2),
                            adversarial=AdversarialLoss(AdversarialConfig.from_dict(
                                {"discriminators": {**SMALL_DISCRIMINATORS, "period_channels": [4, 16]}})))
    fresh = state(other.adversarial.discriminator)
    assert not other.carry_discriminators(tmp_path / "gan" / "last.safetensors")
    for key, value in fresh.items():
        assert torch.equal(value, state(other.adversarial.discriminator)[key]), key

    regression_only = EnhancementTask(TinyNet(), build_loss([{"name": "l1", "weight": 1.0}]), OptimizerConfig(lr=1e-2))
    Trainer(regression_only, make_data(), tmp_path / "plain", config(steps=3)).fit()
    assert not make_task().carry_discriminators(tmp_path / "plain" / "last.safetensors")


if __name__ == "__main__":
    import sys

    _ddp_worker(sys.argv[1])
