"""Export a training run into ``models/<stage>/<preset>.*`` and the manifest.

Writes the model weights (safetensors, model tensors only), the JSON config, a markdown
model card (training data and licences, steps, validation metrics, recipe, how to
reproduce) and records sha256 and facts in ``models/manifest.yaml``.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any, Mapping

from aural import weights
from aural.errors import UsageError
from aural.train.checkpoint import read_checkpoint
from aural.train.logging import read_log
from aural.train.trainer import BEST, LAST

PRESET_HINT = "use letters, digits, '-' and '_' only"
CARD_METRICS = ("lsd/val", "lsd_input/val", "lsd_gain/val", "snr/val", "snr_input/val", "snr_gain/val",
                "si_sdr/val", "si_sdr_input/val", "si_sdr_gain/val",
                "stoi_approx/val", "stoi_approx_input/val", "stoi_approx_gain/val", "loss/val")


def pick_checkpoint(run_dir: Path, which: str = "best") -> Path:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: run folder does not exist")
    names = {"best": [BEST, LAST], "last": [LAST]}[which]
    for name in names:
        if (run_dir / name).is_file():
            return run_dir / name
    raise UsageError(f"{run_dir}: no checkpoint ({' or '.join(names)}); train first with `aural train`")


def _is_plain_name(name: str) -> bool:
    return bool(name) and name.isascii() and name.replace("_", "").replace("-", "").isalnum()


def learned_stage_of(checkpoint: Path, config: Mapping[str, Any] | None) -> str:
    """The registered learned stage a checkpoint's config names (never a path)."""
    from aural.stages import STAGES

    if not config or "stage" not in config:
        raise UsageError(f"{checkpoint}: the checkpoint records no stage config; it was not written by `aural train`")
    stage = config["stage"]
    if not isinstance(stage, str) or stage not in STAGES or not _is_plain_name(stage):
        raise UsageError(f"{checkpoint}: the checkpoint names stage {stage!r}, which is not a registered stage "
                         f"({', '.join(STAGES.names())}); refusing to export it")
    if not STAGES.get(stage).learned:
        raise UsageError(f"{checkpoint}: stage {stage!r} is a DSP stage and has no weights to export")
    return stage


def negative_gains(metrics: Mapping[str, float]) -> dict[str, float]:
    """The validation gains (output minus input, ``*_gain/val``) below zero."""
    return {key: float(value) for key, value in metrics.items()
            if key.endswith("_gain/val") and isinstance(value, (int, float)) and value < 0}


def existing_preset_files(stage: str, preset: str, directory: Path) -> list[Path]:
    """Files of ``stage``/``preset`` already in ``directory`` (the manifest entry counts as one)."""
    stem = directory / stage / preset
    found = [path for path in (stem.with_suffix(s) for s in (".safetensors", ".json", ".md")) if path.exists()]
    if not found and preset in weights.read_manifest(directory)["models"].get(stage, {}):
        found.append(directory / weights.MANIFEST_NAME)
    return found


def export_run(run_dir: Path, *, preset: str = "default", which: str = "best",
               directory: Path | None = None, notes: tuple[str, ...] = (),
               evaluation: str | None = None, force: bool = False) -> dict[str, Any]:
    """Export ``run_dir``'s best (or last) checkpoint; returns the manifest entry.

    ``evaluation``: Markdown (measured results, with the commands that measured them) for the
    card's Evaluation section. An existing preset is replaced only with ``force``. The same
    checkpoint exported twice gives byte-identical weights and config (the card's date is
    ``$SOURCE_DATE_EPOCH`` when set, else today)."""
    directory = Path(directory) if directory else weights.models_dir()
    if not _is_plain_name(preset):
        raise UsageError(f"preset name {preset!r}: {PRESET_HINT}")
    checkpoint = pick_checkpoint(run_dir, which)
    tensors, state = read_checkpoint(checkpoint)
    extra = state.get("extra", {})
    run = dict(extra.get("run", {}))
    record = _run_record(run_dir)
    if record.get("data"):  # run.json may describe the data more fully than the checkpoint (e.g. licences)
        run["data"] = {**run.get("data", {}), **record["data"]}
    config = extra.get("weights_config") or run.get("weights_config")
    stage = learned_stage_of(checkpoint, config)
    existing = existing_preset_files(stage, preset, directory)
    if existing and not force:
        raise UsageError(f"{existing[0]}: {stage} preset {preset!r} exists; choose another --preset, "
                         "or --force to replace it")
    model = weights.checkpoint_model_tensors(tensors)
    averaged = "ema.n_averaged" in tensors and int(tensors["ema.n_averaged"].item()) > 0
    if averaged:
        ema = (extra.get("trainer") or {}).get("ema") or {}
        notes = (f"The weights are the exponential moving average of the trained weights "
                 f"(decay {ema.get('decay', '?')}, {int(tensors['ema.n_averaged'].item())} updates "
                 f"from step {ema.get('start_step', '?')}), as validation saw them.", *notes)
    num_parameters = int(sum(t.numel() for t in model.values()))
    step = int(state["step"])
    metrics = dict(extra.get("metrics") or _metrics_at(run_dir, step))

    stem = directory / stage / preset
    config = {**config, "exported": {"step": step, "metrics": metrics, "checkpoint": checkpoint.name}}
    sha256 = weights.save(stem.with_suffix(".safetensors"), model, config)
    card = model_card(stage, preset, config, run, step, metrics, num_parameters, sha256,
                      latest=_latest_metrics(run_dir), trainer_state=extra.get("trainer_state", {}), notes=notes,
                      evaluation=evaluation)
    weights.atomic_write_bytes(stem.with_suffix(".md"), card.encode())
    entry = {
        "weights": f"{stage}/{preset}.safetensors", "config": f"{stage}/{preset}.json",
        "card": f"{stage}/{preset}.md", "sha256": sha256,
        "config_sha256": weights.sha256_file(stem.with_suffix(".json")),
        "architecture": config.get("architecture"), "sample_rate": config.get("sample_rate"),
        "num_parameters": num_parameters, "size_bytes": stem.with_suffix(".safetensors").stat().st_size,
        "steps": step, "metrics": {k: round(float(v), 4) for k, v in metrics.items() if k in CARD_METRICS},
    }
    weights.record_preset(stage, preset, entry, directory)
    return entry


def _metrics_at(run_dir: Path, step: int) -> dict[str, float]:
    rows = [r for r in read_log(run_dir) if r.get("step") == step and "loss/val" in r]
    return {k: v for k, v in rows[-1].items() if k.endswith("/val")} if rows else {}


def _latest_metrics(run_dir: Path) -> dict[str, Any]:
    rows = [r for r in read_log(run_dir) if "loss/val" in r]
    return rows[-1] if rows else {}


def _export_date() -> str:
    """``$SOURCE_DATE_EPOCH`` as a date when set (reproducible builds), else today."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    if epoch.isdigit():
        return _dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc).date().isoformat()
    return _dt.date.today().isoformat()


def _fmt(value: Any) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _run_record(run_dir: Path) -> dict[str, Any]:
    """The run folder's ``run.json`` (``{}`` when missing or unreadable)."""
    try:
        record = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def model_card(stage: str, preset: str, config: Mapping[str, Any], run: Mapping[str, Any], step: int,
               metrics: Mapping[str, float], num_parameters: int, sha256: str, *,
               latest: Mapping[str, Any], trainer_state: Mapping[str, Any], notes: tuple[str, ...] = (),
               evaluation: str | None = None) -> str:
    recipe = run.get("recipe", {})
    data = run.get("data", {})
    today = _export_date()
    lines = [
        f"# {stage} / {preset}",
        "",
        f"Weights of the `{stage}` stage ({config.get('architecture', '?')}), exported {today} "
        f"from step {step} of a training run" + (f" planned for {recipe['steps']} steps." if recipe.get("steps") else "."),
        "",
        "| fact | value |",
        "|---|---|",
        f"| architecture | {config.get('architecture', '?')} |",
        f"| parameters | {num_parameters:,} ({num_parameters * 4 / 1e6:.1f} MB as float32) |",
        f"| sample rate | {config.get('sample_rate', '?')} Hz |",
        f"| training steps | {step} (batch size {recipe.get('batch_size', '?')}, "
        f"segments of {recipe.get('segment_samples', '?')} samples) |",
        f"| sha256 | `{sha256}` |",
        "",
    ]
    if run.get("init"):
        lines += [f"Fine-tuned: the run started from the weights `{run['init']}`; steps count from there.", ""]
    lines += [
        "## Validation metrics (held-out data, at the exported step)",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {key} | {_fmt(metrics[key])} |" for key in CARD_METRICS if key in metrics]
    if not metrics:
        lines.append("| (none recorded) | |")
    if latest and latest.get("step") != step:
        lines += ["", f"Latest validation (step {latest.get('step')}): "
                  + ", ".join(f"{k} {_fmt(latest[k])}" for k in CARD_METRICS if k in latest) + "."]
    if trainer_state.get("best_step") is not None:
        lines += ["", f"Best validation when this checkpoint was written: step {trainer_state['best_step']}."]
    if "lsd/val" in metrics:
        lines += ["", "Metrics are means over the validation items: `lsd` (log-spectral distance, lower is better) "
                  "of the output against the full-band reference, `lsd_input` the same for the band-limited "
                  "input, `lsd_gain` input minus output."]
    else:
        lines += ["", "Metrics are means over the validation items (dB): `snr` and `si_sdr` (scale-invariant SDR) "
                  "of the output against the clean reference, `*_input` the same for the degraded input, "
                  "`*_gain` their difference; each item's value is capped at 40 dB."]
    lines += ["", "## Training data", ""]
    if data:
        for key, value in data.items():
            if isinstance(value, list):
                lines.append(f"- **{key}** ({len(value)}):")
                lines += [f"  - {item}" for item in value]
            else:
                lines.append(f"- **{key}**: {value}")
    else:
        lines.append("Not recorded by the run.")
    if evaluation:
        lines += ["", "## Evaluation", "", evaluation.strip()]
    lines += ["", "## Recipe", "", "```json", json.dumps(recipe, indent=2, sort_keys=True), "```", ""]
    if run.get("command"):
        lines += ["## Reproduce", "", "```", str(run["command"]), "```", ""]
    lines += ["## Versions", ""]
    lines += [f"- {k}: {v}" for k, v in sorted((run.get("versions") or {}).items())]
    rate = int(config.get("sample_rate", 16000))
    lines += ["", "## Limitations", "",
              "- Trained on a small corpus (see above) on CPU for a limited number of steps; expect it to "
              "underperform models trained on large corpora."]
    if rate < 48000:
        lines.append(f"- Works at {rate} Hz: in a faster pipeline the band above {rate // 2} Hz bypasses the "
                     "network (scaled by the gain it applied to its own top octave); it is neither restored nor "
                     "denoised in detail.")
    lines += [*(f"- {note}" for note in notes), ""]
    return "\n".join(lines)

