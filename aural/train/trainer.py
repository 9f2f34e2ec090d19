"""One small training loop for every learned stage.

The :class:`Trainer` drives any :class:`~aural.train.task.TrainingTask`: batches from a
dataset, ``training_step`` -> backward -> gradient clipping -> optimizer and schedule
step, validation every ``val_every`` steps, checkpoints (``last`` and ``best`` by a
validation metric) every ``checkpoint_every`` steps, early stopping, JSON-lines logs
(TensorBoard optional) and a tqdm bar. It knows nothing of any particular stage.

Runs are reproducible: a seeded sampler decides which items make up every batch of every
epoch (datasets with ``set_epoch`` are told the epoch), so a run resumed from a checkpoint
sees exactly the batches the uninterrupted run would have seen. Under ``torchrun`` it trains with DistributedDataParallel (gloo on CPU,
nccl on GPU); each rank takes its own share of every global batch. On CUDA the forward pass
runs under bf16 autocast unless ``precision="fp32"``. With ``ema``, validation, the best
checkpoint and the exported weights use an exponential moving average of the weights
(:mod:`aural.train.ema`); the checkpoints hold it, so a resumed run continues it.
"""

from __future__ import annotations

import atexit
import math
import os
import random
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset

from aural import interrupts
from aural.atomic_files import remove_stale_temporaries
from aural.errors import StageError, UsageError
from aural.train.checkpoint import load_checkpoint, read_checkpoint, save_checkpoint
from aural.train.logging import RunLogger, read_log

LAST = "last.safetensors"
BEST = "best.safetensors"
MAX_NONFINITE_STEPS = 20
LOG_PROGRESS_S = 10.0  # progress lines in a log (not a terminal): at most one per this many seconds
EXIT_BARRIER_S = 60.0  # how long a rank leaving the process group waits for the others


@dataclass(frozen=True)
class TrainerConfig:
    """How to train (not what): steps, batches, schedule of validation and checkpoints."""

    steps: int = 10000
    batch_size: int = 16
    grad_clip: float | None = 5.0
    val_every: int = 500
    checkpoint_every: int = 500
    log_every: int = 25
    best_metric: str = "snr/val"
    best_mode: str = "max"
    patience: int | None = None
    seed: int = 0
    num_workers: int = 0
    precision: str = "auto"
    device: str = "auto"
    tensorboard: bool = False
    progress: bool = True
    ema: Mapping[str, Any] | None = None  # {decay, start_step}: validate and export a weight average

    def __post_init__(self) -> None:
        if self.best_mode not in ("max", "min"):
            raise ValueError(f"best_mode must be 'max' or 'min', got {self.best_mode!r}")
        if self.precision not in ("auto", "fp32", "bf16"):
            raise ValueError(f"precision must be auto, fp32 or bf16, got {self.precision!r}")
        for name in ("steps", "batch_size", "val_every", "checkpoint_every", "log_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.ema is not None:
            from aural.train.ema import EmaConfig
            EmaConfig.from_dict(self.ema)


@dataclass
class TrainResult:
    step: int
    best_step: int | None
    best_value: float | None
    stopped_early: bool
    run_dir: Path
    last_metrics: dict[str, float] = field(default_factory=dict)


# -- distributed ------------------------------------------------------------------------------
@dataclass(frozen=True)
class DistInfo:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_distributed(device: torch.device) -> DistInfo:
    """Join the process group torchrun describes (``WORLD_SIZE`` > 1); else a single process."""
    if dist.is_available() and dist.is_initialized():
        return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return DistInfo()
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    atexit.register(_leave_process_group)
    return DistInfo(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def _leave_process_group() -> None:
    """Destroy the process group before the interpreter tears down, all ranks together: a gloo
    group left alive, or torn down by one rank while another still listened on it, made a
    finished rank abort at exit now and then ("terminate called without an active exception",
    exit code -6), failing a run that had trained and saved everything. The ranks meet at a
    barrier first (gloo's monitored one gives up after ``EXIT_BARRIER_S`` if a rank is gone)."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    try:
        if dist.get_backend() == "gloo":
            dist.monitored_barrier(timeout=timedelta(seconds=EXIT_BARRIER_S))
        else:
            dist.barrier()
    except Exception:  # a rank that has gone: leave anyway
        pass
    dist.destroy_process_group()


def _all_reduce(tensor: torch.Tensor, info: DistInfo, op: Any = None) -> torch.Tensor:
    if info.world_size > 1:
        dist.all_reduce(tensor, op=op or dist.ReduceOp.SUM)
    return tensor


# -- data -------------------------------------------------------------------------------------
class EpochBatchSampler:
    """Index batches of one epoch, the same in every run, from batch ``start`` on.

    Epoch ``e`` is ``randperm(len, seed, e)`` cut into global batches of ``batch_size *
    world_size`` (the incomplete last one dropped); this rank takes its ``batch_size`` slice.
    """

    def __init__(self, size: int, batch_size: int, seed: int, epoch: int, *, rank: int = 0,
                 world_size: int = 1, start: int = 0):
        self.size, self.batch_size, self.seed, self.epoch = size, batch_size, seed, epoch
        self.rank, self.world_size, self.start = rank, world_size, start

    def __len__(self) -> int:
        return max(0, self.size // (self.batch_size * self.world_size) - self.start)

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed * 1_000_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        per_step = self.batch_size * self.world_size
        for first in range(self.start * per_step, self.size - per_step + 1, per_step):
            yield order[first + self.rank * self.batch_size:first + (self.rank + 1) * self.batch_size]


def _planned_total_steps(scheduler: Any) -> list[int | None]:
    return [getattr(schedule, "total_steps", None) for schedule in getattr(scheduler, "lr_lambdas", ())]


def _keep_planned_total_steps(scheduler: Any, planned: list[int | None]) -> None:
    """A resumed run planned with other ``--steps`` decays its learning rate to the new total
    (the checkpoint's schedule state would otherwise bring back the old one)."""
    if not planned or planned == _planned_total_steps(scheduler):
        return
    for schedule, total_steps in zip(scheduler.lr_lambdas, planned):
        if total_steps is not None:
            schedule.total_steps = total_steps
    for group, base_lr, schedule in zip(scheduler.optimizer.param_groups, scheduler.base_lrs, scheduler.lr_lambdas):
        group["lr"] = base_lr * schedule(scheduler.last_epoch)


def steps_per_epoch(size: int, batch_size: int, world_size: int = 1) -> int:
    steps = size // (batch_size * world_size)
    if steps < 1:
        raise UsageError(f"the training set has {size} items, fewer than one batch of "
                         f"{batch_size * world_size}; lower the batch size or add data")
    return steps


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


def _seed_worker(worker_id: int) -> None:
    _ignore_stop_signals(worker_id)
    seed = torch.initial_seed() % 2**32
    np.random.seed(seed)
    random.seed(seed)


def _ignore_stop_signals(worker_id: int) -> None:
    """DataLoader workers leave SIGTERM and SIGHUP to the main process: a scheduler or ``kill``
    that signals the whole process group would otherwise kill a worker first, and the main
    process would stop on "worker killed" before writing its checkpoint. The main process shuts
    its workers down as it stops."""
    import signal

    for signum in interrupts.SIGNALS:
        signal.signal(signum, signal.SIG_IGN)


# -- the trainer ------------------------------------------------------------------------------
class Trainer:
    """Train ``task`` on ``train_data`` into ``run_dir`` (see the module docstring)."""

    def __init__(self, task: Any, train_data: Dataset, run_dir: str | os.PathLike, config: TrainerConfig, *,
                 val_data: Dataset | None = None, collate_fn: Callable | None = None,
                 run_info: Mapping[str, Any] | None = None):
        self.task = task
        self.train_data = train_data
        self.val_data = val_data
        self.run_dir = Path(run_dir)
        self.config = config
        self.collate_fn = collate_fn
        self.run_info = dict(run_info or {})
        self._ema = None  # the weight average while fit() runs, when the config asks for one

    # -- setup --------------------------------------------------------------------------------
    def _device(self, info_local_rank: int) -> torch.device:
        """``config.device``; ``auto`` and a bare ``cuda`` take this process's GPU (``LOCAL_RANK``)."""
        if self.config.device == "auto":
            return torch.device("cuda", info_local_rank) if torch.cuda.is_available() else torch.device("cpu")
        device = torch.device(self.config.device)
        if device.type == "cuda" and device.index is None:
            return torch.device("cuda", info_local_rank)
        return device

    def _autocast(self, device: torch.device):
        use_bf16 = device.type == "cuda" and self.config.precision in ("auto", "bf16")
        return torch.autocast(device_type="cuda", dtype=torch.bfloat16) if use_bf16 else nullcontext()

    def _train_batches(self, start_step: int, info: DistInfo) -> Iterator[Any]:
        """Batches from step ``start_step`` on; datasets with ``set_epoch`` are told each epoch."""
        c = self.config
        if isinstance(self.train_data, IterableDataset):
            generator = torch.Generator().manual_seed(c.seed + 7919 * start_step + info.rank)
            loader = DataLoader(self.train_data, batch_size=c.batch_size, num_workers=c.num_workers,
                                collate_fn=self.collate_fn, worker_init_fn=_seed_worker, generator=generator)
            while True:
                yield from loader
        per_epoch = steps_per_epoch(len(self.train_data), c.batch_size, info.world_size)
        epoch, start = divmod(start_step, per_epoch)
        while True:
            if hasattr(self.train_data, "set_epoch"):
                self.train_data.set_epoch(epoch)
            sampler = EpochBatchSampler(len(self.train_data), c.batch_size, c.seed, epoch, rank=info.rank,
                                        world_size=info.world_size, start=start)
            generator = torch.Generator().manual_seed(c.seed + 7919 * epoch + info.rank)
            yield from DataLoader(self.train_data, batch_sampler=sampler, num_workers=c.num_workers,
                                  collate_fn=self.collate_fn, worker_init_fn=_seed_worker, generator=generator)
            epoch, start = epoch + 1, 0

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, *, resume: bool = False, stop_at: int | None = None) -> TrainResult:
        """Train to ``config.steps`` (or stop after ``stop_at`` steps, checkpointing there).

        ``resume`` continues from ``run_dir/last.safetensors``; a fresh run refuses a run
        directory that already holds a checkpoint.
        """
        c = self.config
        device = self._device(int(os.environ.get("LOCAL_RANK", 0)))
        info = init_distributed(device)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        torch.manual_seed(c.seed + info.rank)
        np.random.seed((c.seed + info.rank) % 2**32)
        random.seed(c.seed + info.rank)

        task = self.task
        raw_model: nn.Module = task.model
        if hasattr(task, "to"):
            task.to(device)
        else:
            raw_model.to(device)
        optimizer, scheduler = task.configure_optimizers()
        self._ema = None
        if c.ema is not None:
            from aural.train.ema import EmaConfig, WeightAverage
            self._ema = WeightAverage(raw_model, EmaConfig.from_dict(c.ema))

        last_path = self.run_dir / LAST
        state = {"best_value": None, "best_step": None, "bad_validations": 0, "nonfinite_steps": 0}
        step = 0
        resume_notes: list[str] = []
        if resume:
            if not last_path.exists():
                raise UsageError(f"{last_path}: nothing to resume (no checkpoint in {self.run_dir})")
            planned = _planned_total_steps(scheduler)
            restored = load_checkpoint(last_path, model=raw_model, optimizer=optimizer, scheduler=scheduler)
            step = restored.step
            state.update(restored.extra.get("trainer_state", {}))
            if hasattr(task, "load_state_tensors") and "task_state" in restored.extra:
                task.load_state_tensors(restored.aux_tensors, restored.extra["task_state"])
            if self._ema is not None and not self._ema.load_state_tensors(restored.ema_tensors):
                resume_notes.append(f"the checkpoint holds no weight average: the average starts at step {step}")
            elif self._ema is None and restored.ema_tensors:
                resume_notes.append("the checkpoint's weight average is dropped (this recipe has no ema)")
            _keep_planned_total_steps(scheduler, planned)
            if info.rank:  # the checkpoint holds rank 0's RNG; other ranks need their own stream
                torch.manual_seed(c.seed + info.rank + 104729 * step)
        else:
            if last_path.exists():
                raise UsageError(f"{self.run_dir}: already holds a run; pass --resume to continue it "
                                 "or choose another --out")
        if info.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(self.run_dir)  # checkpoint writes cut short by kill -9
            _truncate_log(self.run_dir, step)
        logger = RunLogger(self.run_dir, tensorboard=c.tensorboard, enabled=info.is_main)

        if info.world_size > 1:
            from torch.nn.parallel import DistributedDataParallel

            task.model = DistributedDataParallel(
                raw_model, device_ids=[device.index] if device.type == "cuda" else None)
        groups = task.grad_norm_groups() if hasattr(task, "grad_norm_groups") else {"model": list(raw_model.parameters())}
        parameters = [p for p in raw_model.parameters() if p.requires_grad]

        progress = _progress("steps", c.steps, "step", c.progress and info.is_main, initial=step)
        for note in (*logger.notes, *(resume_notes if info.is_main else ())):
            progress.write(f"aural train: {note}")
        sums: dict[str, float] = {}
        count = 0
        stopped_early = False
        last_metrics: dict[str, float] = {}
        batches = self._train_batches(step, info)
        restore_signals = interrupts.install()  # SIGTERM/SIGHUP end training like Ctrl-C
        try:
            while step < c.steps and (stop_at is None or step < stop_at):
                interrupts.raise_if_terminated()
                raw_model.train()
                batch = _to_device(next(batches), device)
                if hasattr(task, "set_step"):  # tasks with phases (an adversarial start step)
                    task.set_step(step)
                with self._autocast(device):
                    outputs = task.training_step(batch)
                loss = outputs["loss"]
                finite = _all_reduce(torch.tensor([float(torch.isfinite(loss.detach()).all())], device=device),
                                     info, dist.ReduceOp.MIN if info.world_size > 1 else None)
                optimizer.zero_grad(set_to_none=True)
                if finite.item() < 1:
                    state["nonfinite_steps"] += 1
                    if state["nonfinite_steps"] >= MAX_NONFINITE_STEPS:
                        raise StageError(f"training diverged: {MAX_NONFINITE_STEPS} non-finite losses "
                                         f"by step {step} (lower the learning rate)")
                    step += 1
                    if scheduler is not None:
                        scheduler.step()
                    continue
                loss.backward()
                norms = {f"grad_norm/{name}": _grad_norm(params) for name, params in groups.items()}
                total = torch.nn.utils.clip_grad_norm_(parameters, c.grad_clip if c.grad_clip else math.inf)
                norms["grad_norm/total"] = float(total)
                optimizer.step()
                if scheduler is not None:
                    scheduler.step()
                step += 1
                if self._ema is not None:
                    self._ema.update(raw_model, step)
                for key, value in outputs.items():
                    name = key if key.startswith("grad_norm/") else f"{key}/train"
                    sums[name] = sums.get(name, 0.0) + float(value.detach().float().mean())
                for key, value in norms.items():
                    sums[key] = sums.get(key, 0.0) + value
                count += 1
                progress.update(1)
                if step % c.log_every == 0 or step == c.steps:
                    row = {k: v / count for k, v in sums.items()}
                    row["lr"] = optimizer.param_groups[0]["lr"]
                    logger.log(step, row)
                    progress.set_postfix(loss=f"{row['loss/train']:.4f}")
                    sums, count = {}, 0
                if self.val_data is not None and (step % c.val_every == 0 or step == c.steps):
                    with self._ema.swapped_into(task) if self._ema is not None else nullcontext():
                        last_metrics = self.validate(device, info)
                    logger.log(step, last_metrics)
                    stopped_early = self._track_best(step, last_metrics, state, raw_model, optimizer,
                                                     scheduler, info)
                    progress.set_postfix(loss=f"{loss.item():.4f}",
                                         **{c.best_metric: f"{last_metrics.get(c.best_metric, float('nan')):.2f}"})
                if step % c.checkpoint_every == 0 or step == c.steps or stopped_early or step == stop_at:
                    self._save(last_path, raw_model, optimizer, scheduler, step, state, info)
                if stopped_early:
                    progress.write(f"aural train: early stop at step {step}: {c.best_metric} has not improved "
                                   f"in {c.patience} validations")
                    break
            if info.world_size > 1:
                logger.log(step, _check_ranks_agree(raw_model, info, device))
        except BaseException as exc:  # Ctrl-C, SIGTERM, unreadable data, ...: keep what was trained
            if info.world_size == 1 or isinstance(exc, KeyboardInterrupt):
                self._save_before_stopping(last_path, raw_model, optimizer, scheduler, step, state, info, progress)
            raise
        finally:
            restore_signals()
            progress.close()
            logger.close()
            task.model = raw_model
        return TrainResult(step=step, best_step=state["best_step"], best_value=state["best_value"],
                           stopped_early=stopped_early, run_dir=self.run_dir, last_metrics=last_metrics)

    # -- pieces -------------------------------------------------------------------------------
    @torch.no_grad()
    def validate(self, device: torch.device, info: DistInfo = DistInfo()) -> dict[str, float]:
        """Metrics averaged over the validation set (per item where the task gives items)."""
        if self.val_data is None:
            return {}
        model = self.task.model
        model.eval()
        indices = list(range(info.rank, len(self.val_data), info.world_size))
        loader = DataLoader(torch.utils.data.Subset(self.val_data, indices), batch_size=self.config.batch_size,
                            shuffle=False, num_workers=self.config.num_workers, collate_fn=self.collate_fn,
                            worker_init_fn=_ignore_stop_signals, generator=torch.Generator().manual_seed(0))
        sums: dict[str, torch.Tensor] = {}
        progress = _progress("validation", len(loader), "batch", self.config.progress and info.is_main,
                             quiet_start=True)
        for batch in loader:
            batch = _to_device(batch, device)
            with self._autocast(device):
                metrics = self.task.validation_step(batch)
            for key, value in metrics.items():
                value = torch.as_tensor(value, device=device).detach().double().flatten()
                pair = torch.stack([value.sum(), torch.tensor(float(value.numel()), device=device, dtype=torch.float64)])
                sums[key] = sums.get(key, torch.zeros(2, device=device, dtype=torch.float64)) + pair
            progress.update()
        progress.close()
        keys = sorted(sums)
        if info.world_size > 1:
            keys_all: list[Any] = [None] * info.world_size
            dist.all_gather_object(keys_all, keys)
            keys = sorted(set().union(*keys_all))
        out = {}
        for key in keys:
            pair = _all_reduce(sums.get(key, torch.zeros(2, device=device, dtype=torch.float64)), info)
            out[f"{key}/val"] = float(pair[0] / pair[1]) if pair[1] > 0 else float("nan")
        return out

    def _track_best(self, step: int, metrics: Mapping[str, float], state: dict[str, Any], model: nn.Module,
                    optimizer: Any, scheduler: Any, info: DistInfo) -> bool:
        c = self.config
        value = metrics.get(c.best_metric)
        if value is None or not math.isfinite(value):
            return False
        best = state["best_value"]
        better = best is None or (value > best if c.best_mode == "max" else value < best)
        if better:
            state.update(best_value=value, best_step=step, bad_validations=0)
            self._save(self.run_dir / BEST, model, optimizer, scheduler, step, state, info,
                       metrics=dict(metrics))
        else:
            state["bad_validations"] += 1
        return bool(c.patience) and state["bad_validations"] >= c.patience

    def _save_before_stopping(self, path: Path, model: nn.Module, optimizer: Any, scheduler: Any, step: int,
                              state: Mapping[str, Any], info: DistInfo, progress: Any) -> None:
        if step == 0:
            return
        try:
            self._save(path, model, optimizer, scheduler, step, state, info)
        except Exception as exc:  # the error that stops the run matters more; say why none was kept
            progress.write(f"aural train: no checkpoint written before stopping ({exc})")
            return
        progress.write(f"aural train: stopping at step {step}; checkpoint written to {path}")

    def _save(self, path: Path, model: nn.Module, optimizer: Any, scheduler: Any, step: int,
              state: Mapping[str, Any], info: DistInfo, metrics: Mapping[str, float] | None = None) -> None:
        if info.is_main:
            extra = {"trainer_state": dict(state), "trainer": asdict(self.config), "run": self.run_info}
            if metrics is not None:
                extra["metrics"] = dict(metrics)
            if "weights_config" in self.run_info:
                extra["weights_config"] = self.run_info["weights_config"]
            aux = None
            if hasattr(self.task, "state_tensors"):
                aux, extra["task_state"] = self.task.state_tensors()
            save_checkpoint(path, model=model, optimizer=optimizer, scheduler=scheduler, step=step, extra=extra,
                            aux_tensors=aux, ema_tensors=self._ema.state_tensors() if self._ema else None)
        if info.world_size > 1:
            dist.barrier()


def _check_ranks_agree(model: nn.Module, info: DistInfo, device: torch.device) -> dict[str, float]:
    """After DDP training every rank must hold rank 0's weights: compare them (one broadcast),
    raise if they differ, and return the log row (``ddp/world_size``, ``ddp/max_weight_diff``)."""
    flat = torch.cat([p.detach().float().flatten() for p in model.parameters()]).to(device)
    reference = flat.clone()
    dist.broadcast(reference, src=0)
    difference = (flat - reference).abs().max().reshape(1)
    dist.all_reduce(difference, op=dist.ReduceOp.MAX)
    if difference.item() != 0.0:
        raise StageError(f"DDP ranks ended with different weights (max difference {difference.item():.3g}): "
                         "a layer or a step outside DistributedDataParallel's gradient averaging")
    return {"ddp/world_size": float(info.world_size), "ddp/max_weight_diff": difference.item()}


def _grad_norm(parameters: list[nn.Parameter]) -> float:
    grads = [p.grad.detach().float().norm() for p in parameters if p.grad is not None]
    return float(torch.stack(grads).norm()) if grads else 0.0


def _truncate_log(run_dir: Path, step: int) -> None:
    """Drop log rows past ``step`` (written after the checkpoint a run resumes from)."""
    import json

    rows = read_log(run_dir)
    if not rows:
        return
    kept = [row for row in rows if row.get("step", 0) <= step]
    if len(kept) != len(rows) or step == 0:
        path = run_dir / "log.jsonl"
        path.write_text("".join(json.dumps(row) + "\n" for row in kept))


def _progress(desc: str, total: int, unit: str, enabled: bool, initial: int = 0, quiet_start: bool = False):
    """A bar on a terminal; in a log a plain line every ``LOG_PROGRESS_S`` (see aural.progress)."""
    from aural.progress import Progress

    return Progress(desc, total=total, unit=unit, prefix="aural train: ", enabled=enabled, initial=initial,
                    interval_s=LOG_PROGRESS_S, quiet_start=quiet_start)


def checkpoint_summary(path: Path) -> dict[str, Any]:
    """Step, metrics and run info stored in a checkpoint (for export and reports)."""
    _, state = read_checkpoint(path)
    extra = state.get("extra", {})
    return {"step": state["step"], "metrics": extra.get("metrics", {}), "run": extra.get("run", {}),
            "trainer": extra.get("trainer", {}), "trainer_state": extra.get("trainer_state", {})}
