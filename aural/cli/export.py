"""``aural export RUN_DIR``: a training run's best checkpoint into ``models/``."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("export")
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--preset", default="default", show_default=True, help="Preset name the weights ship under.")
@click.option("--checkpoint", "which", type=click.Choice(["best", "last"]), default="best", show_default=True,
              help="Which checkpoint of the run to export.")
@click.option("--models-dir", type=click.Path(path_type=Path), default=None,
              help="Models folder (default: $AURAL_MODELS or the repository's models/).")
@click.option("--note", "notes", multiple=True, help="A limitation or remark for the model card (repeatable).")
@click.option("--evaluation", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="Markdown file of measured results for the card's Evaluation section.")
@click.option("--force", is_flag=True, help="Replace the preset if it already exists.")
def command(run_dir: Path, preset: str, which: str, models_dir: Path | None, notes: tuple[str, ...],
            evaluation: Path | None, force: bool) -> None:
    """Write weights (safetensors), config JSON and a model card to models/<stage>/<preset>.*
    and record their sha256 in models/manifest.yaml. An existing preset is kept unless --force."""
    from aural.train.export import export_run, negative_gains

    text = evaluation.read_text(encoding="utf-8") if evaluation else None
    entry = export_run(run_dir, preset=preset, which=which, directory=models_dir, notes=notes, evaluation=text,
                       force=force)
    worse = negative_gains(entry["metrics"])
    if worse:
        click.echo("aural: warning: at the exported step the model makes its validation data worse than the "
                   "input (" + ", ".join(f"{k} {v:+.3f}" for k, v in worse.items()) + ")", err=True)
    metrics = ", ".join(f"{k} {v:.2f}" for k, v in entry["metrics"].items())
    click.echo(f"exported {entry['weights']} (step {entry['steps']}, {entry['num_parameters']:,} parameters"
               f"{', ' + metrics if metrics else ''}); sha256 {entry['sha256'][:12]}...")
