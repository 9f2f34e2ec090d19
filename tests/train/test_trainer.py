"""The trainer on a tiny generated task: steps, logs, checkpoints, resume, best, early stop, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

from aural.errors import ConfigError, UsageError
from aural.losses import build_loss
from aural.train.checkpoint import load_checkpoint, read_checkpoint
from aural.train.recipe import builtin_recipe, recipe_from_mapping
from aural.train.task import EnhancementTask, OptimizerConfig
from aural.train.trainer import EpochBatchSampler, Trainer, TrainerConfig


pytestmark = pytest.mark.usefixtures("one_thread")


class TinyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Conv1d(1, 4, 9, padding=4)
        self.decoder = nn.Conv1d(4, 1, 9, padding=4)

    def forward(self, x):
        return x + self.decoder(torch.tanh(self.encoder(x)))


def make_data(num_items: int = 12, samples: int = 256, seed: int = 0):
    generator = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 16000
    freqs = 200 + 800 * torch.rand(num_items, 1, generator=generator)
    clean = 0.3 * torch.sin(2 * torch.pi * freqs * t).unsqueeze(1)
    noisy = clean + 0.1 * torch.randn(num_items, 1, samples, generator=generator)
    return torch.utils.data.TensorDataset(noisy, clean)


def make_task(seed: int = 0, lr: float = 1e-2, total_steps: int = 6) -> EnhancementTask:
    torch.manual_seed(seed)
    return EnhancementTask(TinyNet(), build_loss([{"name": "l1", "weight": 1.0}, {"name": "mse", "weight": 2.0}]),
                           OptimizerConfig(lr=lr, warmup_steps=2, total_steps=total_steps))


def config(**changes) -> TrainerConfig:
    values = dict(steps=6, batch_size=3, val_every=2, checkpoint_every=2, log_every=1, progress=False, seed=3)
    values.update(changes)
    return TrainerConfig(**values)


def params(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_fit_logs_checkpoints_and_learns(tmp_path):
    task = make_task()
    before = params(task.model)
    result = Trainer(task, make_data(), tmp_path / "run", config(), val_data=make_data(6, seed=1)).fit()
    assert result.step == 6
    assert (tmp_path / "run" / "last.safetensors").exists()
    assert (tmp_path / "run" / "best.safetensors").exists()
    assert any(not torch.equal(before[k], v) for k, v in params(task.model).items())
    rows = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    keys = set().union(*rows)
    assert {"loss/train", "loss/val", "snr/val", "grad_norm/encoder", "grad_norm/decoder", "lr",
            "loss/l1/train", "loss/mse/train"} <= keys
    val = [r["snr/val"] for r in rows if "snr/val" in r]
    assert len(val) == 3 and val[-1] > val[0]  # denoising a tone in white noise improves SNR


def test_checkpoint_is_safetensors_with_json_state(tmp_path):
    Trainer(make_task(), make_data(), tmp_path / "run", config(steps=2)).fit()
    raw = (tmp_path / "run" / "last.safetensors").read_bytes()
    header_len = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + header_len])
    assert header["__metadata__"]["format"] == "aural.checkpoint/1"
    assert any(k.startswith("optim.") for k in header)
    assert "rng.torch" in header
    _, state = read_checkpoint(tmp_path / "run" / "last.safetensors")
    assert state["step"] == 2 and state["scheduler"]["last_epoch"] == 2


def test_same_seed_same_run(tmp_path):
    a, b = make_task(), make_task()
    Trainer(a, make_data(), tmp_path / "a", config(steps=4)).fit()
    Trainer(b, make_data(), tmp_path / "b", config(steps=4)).fit()
    for key, value in params(a.model).items():
        assert torch.equal(value, params(b.model)[key])


def test_interrupted_and_resumed_run_equals_uninterrupted(tmp_path):
    straight = make_task()
    Trainer(straight, make_data(), tmp_path / "straight", config(), val_data=make_data(6, seed=1)).fit()

    first = make_task()
    result = Trainer(first, make_data(), tmp_path / "split", config(), val_data=make_data(6, seed=1)).fit(stop_at=3)
    assert result.step == 3
    resumed = make_task(seed=99)  # fresh weights: everything must come from the checkpoint
    result = Trainer(resumed, make_data(), tmp_path / "split", config(), val_data=make_data(6, seed=1)).fit(resume=True)
    assert result.step == 6
    for key, value in params(straight.model).items():
        assert torch.equal(value, params(resumed.model)[key]), key
    logged = [json.loads(x)["step"] for x in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    assert logged == sorted(logged)


def test_resume_with_more_steps_decays_to_the_new_total(tmp_path):
    Trainer(make_task(), make_data(), tmp_path / "run", config()).fit(stop_at=3)
    longer = make_task(total_steps=12)
    Trainer(longer, make_data(), tmp_path / "run", config(steps=12)).fit(resume=True)
    logged = [json.loads(x) for x in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    lrs = {row["step"]: row["lr"] for row in logged if "lr" in row}
    assert lrs[6] > 2 * lrs[12]  # the 6-step plan would have ended at its floor by step 6
    assert lrs[12] == pytest.approx(1e-2 * OptimizerConfig().min_lr_ratio, rel=0.05)


def test_best_checkpoint_and_early_stopping(tmp_path):
    task = make_task(lr=0.0)  # nothing changes: the second validation is no better than the first
    result = Trainer(task, make_data(), tmp_path / "run", config(steps=20, patience=1),
                     val_data=make_data(6, seed=1)).fit()
    assert result.stopped_early and result.step == 4 and result.best_step == 2
    state = load_checkpoint(tmp_path / "run" / "best.safetensors", model=TinyNet(), restore_rng=False)
    assert state.step == 2 and "snr/val" in state.extra["metrics"]


def test_run_dir_guards(tmp_path):
    Trainer(make_task(), make_data(), tmp_path / "run", config(steps=1)).fit()
    with pytest.raises(UsageError, match="--resume"):
        Trainer(make_task(), make_data(), tmp_path / "run", config(steps=1)).fit()
    with pytest.raises(UsageError, match="nothing to resume"):
        Trainer(make_task(), make_data(), tmp_path / "other", config(steps=1)).fit(resume=True)


def test_epoch_sampler_resumes_mid_epoch_and_shards_ranks():
    whole = list(EpochBatchSampler(10, 3, seed=1, epoch=4))
    assert len(whole) == 3 and len({i for b in whole for i in b}) == 9
    assert list(EpochBatchSampler(10, 3, seed=1, epoch=4, start=2)) == whole[2:]
    assert whole != list(EpochBatchSampler(10, 3, seed=1, epoch=5))
    rank0 = list(EpochBatchSampler(10, 2, seed=1, epoch=0, rank=0, world_size=2))
    rank1 = list(EpochBatchSampler(10, 2, seed=1, epoch=0, rank=1, world_size=2))
    single = list(EpochBatchSampler(10, 4, seed=1, epoch=0))
    assert [a + b for a, b in zip(rank0, rank1)] == single


class EpochAware(torch.utils.data.Dataset):
    """Items that depend on the epoch, like PairedFolderDataset's random crops."""

    def __init__(self):
        self.epoch = 0
        self.base = make_data(6)

    def set_epoch(self, epoch):
        self.epoch = epoch

    def __len__(self):
        return len(self.base)

    def __getitem__(self, index):
        noisy, clean = self.base[index]
        return torch.roll(noisy, 5 * self.epoch), torch.roll(clean, 5 * self.epoch)


def test_datasets_are_told_the_epoch_and_resume_stays_exact(tmp_path):
    straight = make_task()
    Trainer(straight, EpochAware(), tmp_path / "a", config(steps=7, batch_size=2)).fit()
    split = make_task()
    Trainer(split, EpochAware(), tmp_path / "b", config(steps=7, batch_size=2)).fit(stop_at=4)
    data = EpochAware()
    Trainer(split, data, tmp_path / "b", config(steps=7, batch_size=2)).fit(resume=True)
    assert data.epoch == 2  # 3 batches per epoch: step 7 is in epoch 2
    for key, value in params(straight.model).items():
        assert torch.equal(value, params(split.model)[key])


def test_sigterm_writes_a_checkpoint_before_stopping(tmp_path):
    import signal

    class Killed(EnhancementTask):
        calls = 0

        def training_step(self, batch):
            Killed.calls += 1
            if Killed.calls == 3:
                os.kill(os.getpid(), signal.SIGTERM)
            return super().training_step(batch)

    task = Killed(TinyNet(), build_loss([{"name": "l1"}]), OptimizerConfig(warmup_steps=0, total_steps=6))
    with pytest.raises(KeyboardInterrupt):
        Trainer(task, make_data(), tmp_path / "run", config(checkpoint_every=100)).fit()
    _, state = read_checkpoint(tmp_path / "run" / "last.safetensors")
    assert state["step"] == 2  # the interrupted third step never completed
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


class FailsAtStep(torch.utils.data.Dataset):
    """Items of ``make_data``, but item reads fail from the ``fail_at``-th read on (bad data)."""

    def __init__(self, fail_at: int):
        self.data, self.fail_at, self.reads = make_data(), fail_at, 0

    def __len__(self):
        return len(self.data)

    def __getitem__(self, index):
        self.reads += 1
        if self.reads >= self.fail_at:
            from aural.errors import AudioReadError
            raise AudioReadError("bad.wav: contains NaN or infinite samples (first at sample 7)")
        return self.data[index]


def test_any_abort_writes_a_checkpoint_first(tmp_path, capsys):
    from aural.errors import AudioReadError

    with pytest.raises(AudioReadError, match="bad.wav"):
        Trainer(make_task(), FailsAtStep(fail_at=3 * 3 + 1), tmp_path / "run",
                config(checkpoint_every=100, progress=True)).fit()
    _, state = read_checkpoint(tmp_path / "run" / "last.safetensors")
    assert state["step"] == 3  # three full batches of three trained before the bad read
    captured = capsys.readouterr()
    assert "stopping at step 3; checkpoint written to" in captured.out + captured.err


def test_stale_checkpoint_temporaries_are_removed_on_the_next_run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    stale = run / f".last.safetensors.aural{process.pid}-q8w7e6r5.tmp"
    stale.write_bytes(b"\0" * 1000)  # what kill -9 during a checkpoint write leaves
    Trainer(make_task(), make_data(), run, config(steps=2)).fit()
    assert not stale.exists()
    assert sorted(p.name for p in run.iterdir() if p.name.startswith(".")) == []


def test_tensorboard_is_optional(tmp_path):
    from aural.train.logging import RunLogger

    Trainer(make_task(), make_data(), tmp_path / "run", config(steps=2, tensorboard=True)).fit()
    logger = RunLogger(tmp_path / "other", tensorboard=True)
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:
        assert logger.notes and "tensorboard" in logger.notes[0]
    else:
        assert not logger.notes
    logger.close()


def test_too_small_training_set_is_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="fewer than one batch"):
        Trainer(make_task(), make_data(2), tmp_path / "run", config(batch_size=3)).fit()


def test_match_level_scales_references_to_their_level_in_the_input():
    from aural.train.task import match_level

    torch.manual_seed(0)
    clean = torch.randn(2, 1, 4000)
    noise = torch.randn(2, 1, 4000)
    noise = noise - (noise * clean).sum(-1, keepdim=True) / clean.pow(2).sum(-1, keepdim=True) * clean
    noisy = torch.tensor([0.5, 2.0]).reshape(2, 1, 1) * clean + 0.3 * noise
    matched = match_level(noisy, clean)
    torch.testing.assert_close(matched[0], 0.5 * clean[0])
    torch.testing.assert_close(matched[1], 2.0 * clean[1])
    silent = match_level(noisy, torch.zeros_like(clean))
    assert torch.equal(silent, torch.zeros_like(clean))
    task = make_task()
    task.match_level = True
    _, target = task.pair((noisy, clean))
    torch.testing.assert_close(target, matched)


def test_validation_metrics_are_capped_for_clean_items():
    task = make_task()
    clean = make_data(4)[:][1]
    metrics = task.validation_step((clean, clean))
    assert torch.all(metrics["snr_input"] == 40.0) and torch.all(metrics["si_sdr_input"] == 40.0)
    assert torch.all(metrics["snr_gain"] <= 0.0)
    assert "stoi_approx" not in metrics  # no sample rate in the model config: no STOI


def test_validation_reports_stoi_when_the_rate_is_known():
    task = make_task()
    task.model_config = {"sample_rate": 16000}
    noisy, clean = make_data(3, samples=8000)[:]
    syllables = 0.5 + 0.5 * torch.sin(2 * torch.pi * 4 * torch.arange(8000) / 16000)  # STOI needs an envelope
    noisy, clean = noisy - clean + clean * syllables, clean * syllables
    metrics = task.validation_step((noisy, clean))
    assert metrics["stoi_approx"].shape == (3,)
    torch.testing.assert_close(metrics["stoi_approx_gain"], metrics["stoi_approx"] - metrics["stoi_approx_input"])
    assert torch.all(task.validation_step((clean, clean))["stoi_approx_input"] > 0.999)


def test_recipes_validate():
    recipe = builtin_recipe("noise_reduction")
    assert recipe.trainer_config().best_metric == "snr/val"
    with pytest.raises(ConfigError, match="stepz"):
        recipe_from_mapping({"stage": "x", "stepz": 3}, "r.yaml")
    with pytest.raises(ConfigError, match="losses"):
        recipe_from_mapping({"stage": "x", "losses": [{"name": "l7"}]}, "r.yaml")
    with pytest.raises(ConfigError, match="optimizer.momentum"):
        recipe_from_mapping({"stage": "x", "optimizer": {"momentum": 0.9}}, "r.yaml")
    with pytest.raises(ConfigError, match="task.level"):
        recipe_from_mapping({"stage": "x", "task": {"level": True}}, "r.yaml")
    assert builtin_recipe("mel_unet").task == {"match_level": True}


# -- DDP: two CPU processes under torchrun must hold identical parameters -------------------------
def _ddp_worker(out_dir: str) -> None:
    rank = int(os.environ["RANK"])
    task = make_task()
    Trainer(task, make_data(16), Path(out_dir) / "run", config(steps=4, batch_size=2, val_every=2),
            val_data=make_data(6, seed=1)).fit()
    from safetensors.torch import save_file
    save_file({k: v.contiguous() for k, v in params(task.model).items()}, str(Path(out_dir) / f"rank{rank}.safetensors"))


@pytest.mark.slow
def test_ddp_two_processes_agree(tmp_path):
    from helpers import run_torchrun

    run_torchrun(__file__, tmp_path)
    from safetensors.torch import load_file
    rank0 = load_file(str(tmp_path / "rank0.safetensors"))
    rank1 = load_file(str(tmp_path / "rank1.safetensors"))
    initial = params(make_task().model)
    assert any(not torch.equal(initial[k], rank0[k]) for k in rank0)
    for key in rank0:
        assert torch.equal(rank0[key], rank1[key]), key
    # and the shared result is not what one process alone on its own share would reach
    alone = make_task()
    Trainer(alone, make_data(16), tmp_path / "alone", config(steps=4, batch_size=2, val_every=2)).fit()
    assert any(not torch.equal(params(alone.model)[k], rank0[k]) for k in rank0)


if __name__ == "__main__":
    _ddp_worker(sys.argv[1])


def test_progress_in_a_log_covers_steps_and_validation(tmp_path, capsys, monkeypatch):
    import aural.train.trainer as trainer_module

    monkeypatch.setattr(trainer_module, "LOG_PROGRESS_S", 0.0)
    Trainer(make_task(), make_data(), tmp_path / "run", config(steps=2, progress=True),
            val_data=make_data(6, seed=1)).fit()
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert any(line.startswith("aural train: steps: 2 of 2 steps (100%)") for line in lines)
    assert any(line.startswith("aural train: validation: 2 of 2 batches (100%)") for line in lines)
    assert "\r" not in err and "\x1b" not in err


@pytest.mark.slow
@pytest.mark.parametrize("nudge", [False, True])
def test_ddp_end_of_run_check_catches_ranks_that_differ(tmp_path, nudge):
    from helpers import torchrun

    done = torchrun([str(Path(__file__).with_name("ddp_diverged_worker.py")), str(tmp_path),
                     "nudge" if nudge else "keep"])
    assert done.returncode == 0, done.stderr[-3000:]
    said = [(tmp_path / f"rank{rank}.txt").read_text() for rank in (0, 1)]
    if nudge:
        assert all(text.startswith("StageError: DDP ranks ended with different weights (max difference 0.25)")
                   for text in said), said
    else:
        assert said == ["{'ddp/world_size': 2.0, 'ddp/max_weight_diff': 0.0}"] * 2


def test_trainable_prefixes_train_only_those_parameters_and_the_run_resumes(tmp_path):
    task = make_task()
    task.trainable = ("decoder",)
    before = params(task.model)
    Trainer(task, make_data(), tmp_path / "run", config(steps=4)).fit()
    after = params(task.model)
    assert torch.equal(after["encoder.weight"], before["encoder.weight"])
    assert not torch.equal(after["decoder.weight"], before["decoder.weight"])
    resumed = make_task()
    resumed.trainable = ("decoder",)
    assert Trainer(resumed, make_data(), tmp_path / "run", config(steps=6)).fit(resume=True).step == 6
    assert torch.equal(resumed.model.encoder.weight, before["encoder.weight"])


def test_trainable_prefix_that_names_no_parameter_is_a_clear_error():
    task = make_task()
    task.trainable = ("deep_filter",)
    with pytest.raises(UsageError, match="task.trainable: no parameters named deep_filter"):
        task.configure_optimizers()
    recipe = recipe_from_mapping({"stage": "mel_unet", "task": {"trainable": ["deep_filter"]}}, "test.yaml")
    assert recipe.task["trainable"] == ["deep_filter"]


@pytest.mark.parametrize("device, expected", [("cuda", "cuda:2"), ("cuda:0", "cuda:0"), ("cpu", "cpu")])
def test_a_bare_cuda_device_takes_the_local_rank(tmp_path, device, expected):
    """torch.cuda.set_device refuses an index-less device: `--device cuda` must name one."""
    trainer = Trainer(make_task(), make_data(), tmp_path / "run", config(device=device))
    assert str(trainer._device(2)) == expected
