"""``aural evaluate``: score audio against references; write scores.csv, summary and report."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from aural.cli.progress import file_progress
from aural.cli.threads import threads_option
from aural.errors import UsageError
from aural.overrides import SET_HELP

EXAMPLES = """
\b
Examples:
  aural evaluate --reference studio/ --degraded phone/ --out eval/
  aural evaluate --degraded recordings/ --out eval/          # no references: DNSMOS, bandwidth, loudness, clipping
  aural evaluate --reference studio/ --degraded out/ --out eval/ --metrics pesq_wb,stoi,si_sdr
  aural evaluate phone_to_studio --pairs pairs/ --out eval/ --jobs 4
  aural evaluate stage:separation@run/best.safetensors --pairs mixes/ --out eval/   # separation folder
  aural evaluate --list-metrics
"""


def _metric_names(text: str | None) -> list[str] | None:
    if text is None or text.strip().lower() in ("", "all"):
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError("--metrics: give metric names separated by commas, or 'all'")
    return names


def _list_metrics() -> None:
    from aural.metrics import default_metric_names, get_metric

    for name in default_metric_names():
        metric = get_metric(name)
        kind = "intrusive" if metric.intrusive else "non-intrusive"
        better = {True: "higher is better", False: "lower is better", None: "a level"}[metric.higher_is_better]
        state = metric.unavailable_reason() or "available"
        click.echo(f"{name:14s} {kind:13s} {better:16s} {metric.rate_policy()}; {state}")


def _is_separation(folder: Path) -> bool:
    from aural.evaluate.separation import is_separation_folder

    return is_separation_folder(folder)


def _separation(pipeline: str, overrides: tuple[str, ...], folder: Path, out_dir: Path,
                metric_names: list[str] | None, save_outputs: bool) -> None:
    """PIPELINE (or stage:NAME[@WEIGHTS]) on a separation folder, scored per stem."""
    from aural.bench_separation import check_metrics
    from aural.evaluate.separation import evaluate_separation

    names = check_metrics(metric_names)
    if pipeline.startswith("stage:"):
        if overrides:
            raise UsageError("--set changes a pipeline's params; stage:NAME runs a stage with its defaults")
        from aural.bench import check_systems
        from aural.systems import get_system

        loaded = get_system(check_systems([pipeline])[0])
    else:
        from aural.pipeline import load_pipeline

        loaded = load_pipeline(pipeline, overrides)
        for note in loaded.spec.left_out_notes():
            click.echo(f"aural: note: {note}", err=True)

    def echo_problem(message: str) -> None:
        click.echo(f"aural: {message}", err=True)

    with file_progress("evaluate") as progress:
        outcome = evaluate_separation(loaded, folder, out_dir, metric_names=names, save_outputs=save_outputs,
                                      echo=echo_problem, progress=progress)
    click.echo((out_dir / "summary.md").read_text(encoding="utf-8").split("## How stems")[0].rstrip())
    click.echo(f"\nscored {len(outcome.rows)} mixtures ({len(outcome.failed)} failed) -> {out_dir}/: "
               "scores.csv summary.json summary.md")
    if outcome.exit_code:
        sys.exit(outcome.exit_code)


@click.command(epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("pipeline", required=False)
@threads_option
@click.option("--reference", "reference_dir", type=click.Path(path_type=Path),
              help="Folder of reference (clean) files.")
@click.option("--degraded", "degraded_dir", type=click.Path(path_type=Path),
              help="Folder of files to score, matched to references by relative path without extension; "
                   "without --reference, scored by metrics that need none.")
@click.option("--pairs", "pairs_dir", type=click.Path(path_type=Path),
              help="With PIPELINE: folder holding phone/ and studio/ (or degraded/ and reference/), "
                   "or one folder per pair with clean.* (or reference/studio) and noisy*/degraded* files.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path),
              help="Output folder for scores.csv, summary.json, summary.md, report.html.")
@click.option("--metrics", "metrics_text", metavar="A,B,C", default=None,
              help="Metric names separated by commas (default: all; see --list-metrics).")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes for metrics (default: min(4, CPU count); 1: in-process).")
@click.option("--max-lag-s", type=click.FloatRange(min=0.0), default=0.5, show_default=True,
              help="Largest delay searched when aligning to the reference.")
@click.option("--report-files", type=click.IntRange(min=0), default=12, show_default=True,
              help="Files with spectrograms and players in report.html.")
@click.option("--report-seconds", type=click.FloatRange(min=0.5), default=10.0, show_default=True,
              help="Seconds of each file embedded in report.html.")
@click.option("--save-outputs", is_flag=True,
              help="With PIPELINE: also write the processed files to OUT/outputs/.")
@click.option("--set", "overrides", multiple=True, metavar="STAGE.PARAM=VALUE",
              help=f"With PIPELINE: {SET_HELP}")
@click.option("--list-metrics", is_flag=True, help="List the metrics and exit.")
@click.pass_context
def command(ctx: click.Context, pipeline: str | None, reference_dir: Path | None,
            degraded_dir: Path | None, pairs_dir: Path | None, out_dir: Path | None,
            metrics_text: str | None, jobs: int | None, max_lag_s: float, report_files: int,
            report_seconds: float, save_outputs: bool, overrides: tuple[str, ...], list_metrics: bool) -> None:
    """Score audio with quality metrics and write a table, a summary and an HTML report.

    Without PIPELINE, scores existing --degraded files against --reference files, or, with
    --degraded alone, every recording in it with the metrics that need no reference (DNSMOS
    at -25 dBFS RMS, effective bandwidth, loudness, true peak, clipping). With PIPELINE (a
    built-in name or a YAML file), runs it on the inputs in --pairs and scores input, output
    and their delta (output - input). On a separation folder (--pairs DIR holding
    <item>/mixture.wav with voice.wav, background.wav, ...: `aural data mix`), PIPELINE may
    also be stage:NAME[@WEIGHTS]; each stem is scored with SI-SDR, SI-SDR improvement and SDR.
    """
    if list_metrics:
        _list_metrics()
        return
    from aural.evaluate.run import Options, evaluate_folders, evaluate_pipeline, evaluate_recordings
    from aural.evaluate.scoring import resolve_metrics

    if out_dir is None:
        raise UsageError("--out is required: the folder for scores.csv, summary and report.html")
    if pipeline is None:
        if pairs_dir is not None:
            raise UsageError("--pairs needs a PIPELINE to run; to score existing files use "
                             "--reference DIR --degraded DIR")
        if overrides:
            raise UsageError("--set changes a PIPELINE's params; give a PIPELINE and --pairs DIR")
        if degraded_dir is None:
            raise UsageError("give --degraded DIR (with --reference DIR to compare), or PIPELINE --pairs DIR")
    else:
        if reference_dir is not None or degraded_dir is not None:
            raise UsageError("PIPELINE mode takes --pairs DIR, not --reference/--degraded")
        if pairs_dir is None:
            raise UsageError(f"PIPELINE {pipeline}: give --pairs DIR (with phone/ and studio/, "
                             "or one folder per pair)")
    metric_names = _metric_names(metrics_text)
    if pipeline is None or pairs_dir is None or not _is_separation(pairs_dir):
        resolve_metrics(metric_names)  # unknown names fail here, before any work
    options = Options(metric_names=metric_names, jobs=jobs, max_lag_s=max_lag_s,
                      report_max_files=report_files, report_seconds=report_seconds,
                      save_outputs=save_outputs)

    def echo_problem(message: str) -> None:
        click.echo(f"aural: {message}", err=True)

    if pipeline is None and reference_dir is None:
        with file_progress("evaluate") as progress:
            outcome = evaluate_recordings(degraded_dir, out_dir, options, echo=echo_problem, progress=progress)
    elif pipeline is None:
        with file_progress("evaluate") as progress:
            outcome = evaluate_folders(reference_dir, degraded_dir, out_dir, options,
                                       echo=echo_problem, progress=progress)
    else:
        from aural.evaluate.separation import is_separation_folder

        if is_separation_folder(pairs_dir):
            _separation(pipeline, overrides, pairs_dir, out_dir, metric_names, save_outputs)
            return
        from aural.pipeline import load_pipeline

        loaded = load_pipeline(pipeline, overrides)
        for note in loaded.spec.left_out_notes():
            click.echo(f"aural: note: {note}", err=True)
        with file_progress("evaluate") as progress:
            outcome = evaluate_pipeline(loaded, pairs_dir, out_dir, options, echo=echo_problem, progress=progress)
    summary = outcome.summary
    click.echo(f"scored {summary['num_files']} files ({len(outcome.failed)} failed) -> {out_dir}/: "
               f"scores.csv summary.json summary.md report.html")
    if outcome.exit_code:
        sys.exit(outcome.exit_code)  # some files failed or had no partner
