"""``aural train STAGE``: train a learned stage on your data (see ``aural train --help``)."""

from __future__ import annotations

import importlib
import json
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Any

import click

from aural.cli.threads import threads_option
from aural.errors import UsageError

RUN_FILE = "run.json"


@click.command("train")
@click.argument("stage")
@click.option("--data", "data", type=click.Path(path_type=Path), required=False,
              help="Training data: an `aural data simulate` folder, a folder with phone/+studio/ "
                   "(or noisy/+clean/) pairs, or a folder of clean recordings degraded on the fly.")
@click.option("--val-data", type=click.Path(path_type=Path), default=None,
              help="Validation data (same kinds); default: a fixed 10 % of --data.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), required=True,
              help="Run folder: checkpoints, logs, run.json.")
@click.option("--recipe", type=click.Path(path_type=Path), default=None,
              help="Training recipe YAML (default: the stage's built-in aural/recipes/<stage>.yaml).")
@click.option("--init", "init", default=None,
              help="Start from weights: 'default', another preset name, or a .safetensors path.")
@click.option("--steps", type=click.IntRange(min=1), default=None, help="Train this many steps (overrides the recipe).")
@click.option("--resume", is_flag=True, help="Continue the run in --out from its last checkpoint.")
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Override the recipe's batch size.")
@click.option("--lr", type=click.FloatRange(min=0.0, min_open=True), default=None,
              help="Override the recipe's peak learning rate (fine-tuning usually wants a lower one).")
@click.option("--noise", "noise_dir", type=click.Path(path_type=Path), default=None,
              help="On-the-fly degradation: folder of noise recordings (default: synthetic noise).")
@click.option("--rir", "rir_dir", type=click.Path(path_type=Path), default=None,
              help="On-the-fly degradation: folder of room impulse responses (default: synthetic rooms).")
@click.option("--profile", "profiles", multiple=True, default=("all",), show_default=True,
              help="On-the-fly degradation profiles (repeat for several).")
@click.option("--workers", type=click.IntRange(min=0), default=None, help="DataLoader worker processes.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda or cuda:N.")
@click.option("--tensorboard", is_flag=True, help="Also write TensorBoard logs (needs `pip install tensorboard`).")
@click.option("--data-info", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="JSON describing the data (sources, licences, held-out lists) for the model card.")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@threads_option
def command(stage: str, data: Path | None, val_data: Path | None, out_dir: Path, recipe: Path | None,
            init: str | None, steps: int | None, resume: bool, batch_size: int | None, lr: float | None,
            noise_dir: Path | None, rir_dir: Path | None, profiles: tuple[str, ...], workers: int | None,
            device: str, tensorboard: bool, data_info: Path | None, no_progress: bool) -> None:
    """Train STAGE (a learned stage) into the run folder --out.

    Examples:

      aural train noise_reduction --data pairs/ --out runs/nr

      aural train mel_unet --data clean_speech/ --noise noise/ --rir rir/ --out runs/mel --steps 20000

      aural train mel_unet --out runs/mel --resume

      aural train mel_unet --data pairs/ --init default --lr 0.0003 --steps 5000 --out runs/mel_ft
    """
    import torch

    from aural.stages import get_stage
    from aural.train.checkpoint import load_growing
    from aural.train.recipe import DATA_KEYS, STAGE_DATA_KEYS, builtin_recipe, load_recipe, recipe_from_mapping
    from aural.train.sources import DataOptions, build_datasets
    from aural.train.trainer import LAST, Trainer

    stage_cls = get_stage(stage)
    if not stage_cls.learned:
        raise UsageError(f"{stage} is a DSP stage: it has no weights to train (set its params in the pipeline YAML)")
    task_module_name = getattr(stage_cls, "task_module", None)
    if not task_module_name:
        raise UsageError(f"{stage} declares no training task (task_module)")
    task_module = importlib.import_module(task_module_name)

    run_file = out_dir / RUN_FILE
    previous: dict[str, Any] = {}
    if resume:
        if not (out_dir / LAST).exists():
            raise UsageError(f"{out_dir}: nothing to resume (no {LAST}); start the run without --resume")
        previous = json.loads(run_file.read_text()) if run_file.exists() else {}
        if previous.get("stage", stage) != stage:
            raise UsageError(f"{out_dir} is a {previous['stage']} run, not {stage}")
    elif (out_dir / LAST).exists():
        raise UsageError(f"{out_dir}: already holds a run; add --resume to continue it or choose another --out")

    if recipe is not None:
        chosen = load_recipe(recipe)
    elif previous.get("recipe"):
        chosen = recipe_from_mapping(previous["recipe"], f"{run_file} recipe")
    else:
        chosen = builtin_recipe(stage)
    if chosen.stage != stage:
        raise UsageError(f"{chosen.source}: recipe is for stage {chosen.stage!r}, not {stage!r}")
    changes: dict[str, Any] = {}
    if steps:
        changes["steps"] = steps
    if batch_size:
        changes["batch_size"] = batch_size
    if lr is not None:
        changes["optimizer"] = {**chosen.optimizer, "lr": lr}
    if workers is not None:
        changes["num_workers"] = workers
    if tensorboard:
        changes["tensorboard"] = True
    init = init or previous.get("init")
    loaded = None
    if init:
        from aural import weights
        loaded = weights.load(stage, init)
        # The weights fix the architecture; a recipe given with --recipe may still set the
        # model options it names (streaming chunk sizes, a post-filter, ...).
        explicit = chosen.model if recipe is not None else {}
        changes["model"] = {**(loaded.config.get("model") or {}), **explicit}
    chosen = chosen.replace(**changes)

    data = data or (Path(previous["data_path"]) if previous.get("data_path") else None)
    val_data = val_data or (Path(previous["val_data_path"]) if previous.get("val_data_path") else None)
    if data is None:
        raise UsageError("--data is required (the training data folder)")
    noise_dir = noise_dir or (Path(previous["noise_dir"]) if previous.get("noise_dir") else None)
    rir_dir = rir_dir or (Path(previous["rir_dir"]) if previous.get("rir_dir") else None)
    sample_rate = stage_cls.contract.sample_rate
    if not sample_rate:
        raise UsageError(f"{stage} declares no native sample rate to train at")
    options = DataOptions(sample_rate=sample_rate, segment_samples=chosen.segment_samples, noise_dir=noise_dir,
                          rir_dir=rir_dir, profiles=profiles, seed=chosen.seed,
                          **{key: chosen.data[key] for key in DATA_KEYS if key in chosen.data})
    # a stage whose data is not degraded/clean pairs (band-limited full-band audio, mixtures)
    # says how to build it from --data in its task module
    datasets_of = getattr(task_module, "build_datasets", build_datasets)
    for key, (taker, default) in STAGE_DATA_KEYS.items():
        if getattr(options, key) != default and stage != taker:
            raise UsageError(f"{chosen.source} data.{key}: {stage}'s training data does not take it (only {taker}'s does)")
    train_set, val_set, description = datasets_of(data, val_data, options)
    if data_info is not None:
        try:
            description.update(json.loads(data_info.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            raise UsageError(f"{data_info}: not a readable JSON file ({exc})") from None
    elif previous.get("data"):
        description = {**previous["data"], **description}

    is_main = int(os.environ.get("RANK", "0")) == 0  # under torchrun, rank 0 writes and speaks
    task = task_module.build_task(chosen)
    if loaded is not None:
        grown = load_growing(task.model, loaded.tensors, loaded.ref.weights_path)
        if is_main and grown:
            click.echo(f"new at identity (not in {loaded.ref.weights_path.name}): {', '.join(grown)}", err=True)
        if is_main and not resume and getattr(task, "adversarial", None) is not None:
            carried = task.carry_discriminators(loaded.ref.weights_path)
            click.echo(f"discriminators: {'those of ' + str(loaded.ref.weights_path) if carried else 'fresh'}",
                       err=True)
    weights_config = task_module.weights_config(task)
    run_info = {
        "stage": stage, "recipe": chosen.to_dict(), "data": description, "weights_config": weights_config,
        "data_path": str(data), "val_data_path": str(val_data) if val_data else None,
        "noise_dir": str(noise_dir) if noise_dir else None, "rir_dir": str(rir_dir) if rir_dir else None,
        "init": init, "command": "aural " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv else None,
        "versions": {"aural": _version(), "torch": torch.__version__, "python": platform.python_version()},
    }
    if is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
        from aural.weights import atomic_write_bytes
        atomic_write_bytes(run_file, (json.dumps(run_info, indent=2) + "\n").encode())

    trainer = Trainer(task, train_set, out_dir, chosen.trainer_config(device=device, progress=not no_progress),
                      val_data=val_set, run_info=run_info)
    if is_main:
        click.echo(f"training {stage}: {len(train_set)} training items, {len(val_set)} validation items, "
                   f"{sum(p.numel() for p in task.model.parameters()):,} parameters -> {out_dir}", err=True)
    result = trainer.fit(resume=resume)
    best = f", best {chosen.trainer_config().best_metric} {result.best_value:.2f} at step {result.best_step}" \
        if result.best_value is not None else ""
    if is_main:
        click.echo(f"stopped at step {result.step}{' (early stop)' if result.stopped_early else ''}{best}; "
                   f"export with: aural export {out_dir}", err=True)


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("aural")
    except metadata.PackageNotFoundError:
        return "unknown"
