"""``aural bench``: aural pipelines and other systems side by side on paired data."""

from __future__ import annotations

import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import click

from aural.cli.progress import file_progress
from aural.cli.threads import threads_option
from aural.errors import UsageError

DEFAULT_SYSTEMS = "identity,noisereduce,rnnoise,deepfilternet3"
SEPARATION_SYSTEMS = "mixture,deepfilternet3,stage:separation"  # aural.bench_separation.DEFAULT_SYSTEMS

EXAMPLES = """
\b
Examples:
  aural bench --pairs pairs/ --out bench/
  aural bench --pairs pairs/ --systems identity,noisereduce,rnnoise,deepfilternet3,pipeline:phone_to_studio
  aural bench --pairs pairs/ --systems identity,stage:mel_unet,stage:noise_reduction
  aural bench --pairs pairs/ --systems stage:mel_unet,stage:mel_unet@runs/mel/best.safetensors
  aural bench --pairs pairs/ --metrics pesq_wb,stoi,si_sdr --max-files 20 --out bench/
  aural bench --pairs pairs/ --systems stage:mel_unet,pipeline:phone_to_studio --baseline stage:mel_unet
  aural bench --inputs recordings/ --systems identity,rnnoise,stage:mel_unet   # no references
  aural bench --list-systems
  aural bench --latency --systems rnnoise,deepfilternet3
  aural bench --pairs mixes/ --systems mixture,deepfilternet3,stage:separation@run/best.safetensors
                             # separation folder (mixes/<item>/mixture.wav + voice.wav, background.wav)
"""


def _names(text: str | None, option: str) -> list[str] | None:
    if text is None or text.strip().lower() in ("", "all"):
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise UsageError(f"{option}: give names separated by commas")
    return names


def _list_systems() -> None:
    from aural.systems import get_system_class, system_names

    for name in system_names():
        cls = get_system_class(name.replace("<name or path>", "x").replace("<name>", "x"))
        ok, reason = cls.available()
        click.echo(f"{name:24s} {cls.summary}; {'available' if ok else reason}")


def _latency(specs: list[str]) -> None:
    """Measured raw delay vs the compensated constant, and what is left after compensation."""
    from aural.systems import get_system, get_system_class
    from aural.systems.probe import PROBES, measure_latency_level, residual_lag

    for spec in specs:
        ok, reason = get_system_class(spec).available()
        if not ok:
            click.echo(f"{spec}: unavailable: {reason}")
            continue
        system = get_system(spec)
        system.load()
        rate = system.native_sample_rate or 48000
        raw = "n/a (whole pipeline)"
        if not spec.startswith(("pipeline:", "stage:")):
            lags = {probe: measure_latency_level(system, probe=probe) for probe in PROBES}
            raw = ", ".join(f"{probe} {lag} (output {level:+.0f} dB)" for probe, (lag, level) in lags.items())
        left = {r: residual_lag(system, r) for r in (16000, 48000)}
        click.echo(f"{spec}: measured raw delay in samples at {rate} Hz: {raw}; compensated "
                   f"{system.latency_samples}; residual lag after process(): "
                   + ", ".join(f"{lag} at {r} Hz" for r, lag in left.items()))
        system.close()


def _separation(folder: Path, specs: list[str], metric_names: list[str] | None, out_dir: Path | None,
                max_files: int | None, save_audio: bool) -> None:
    from aural import bench_separation

    with file_progress("bench") as progress:
        result = bench_separation.run_separation_bench(
            folder, specs, max_files=max_files, metric_names=metric_names,
            save_audio_dir=out_dir / "audio" if save_audio else None, echo=_echo_problem, progress=progress)
    _report(bench_separation, result, out_dir)


def _echo_problem(message: str) -> None:
    click.echo(f"aural: {message}", err=True)


def _report(module: ModuleType, result: Any, out_dir: Path | None) -> None:
    """Print ``result``'s tables, write its reports to ``out_dir`` when given (``module``:
    :mod:`aural.bench` or :mod:`aural.bench_separation`) and exit 1 when any file failed."""
    click.echo(module.tables_markdown(result))
    if out_dir is not None:
        written = module.write_reports(result, out_dir)
        click.echo(f"\nwrote {', '.join(p.name for p in written)} and systems/<name>/ -> {out_dir}/")
    if result.exit_code:
        sys.exit(result.exit_code)


@click.command(epilog=EXAMPLES, context_settings={"help_option_names": ["-h", "--help"]})
@threads_option
@click.option("--pairs", "pairs_dir", type=click.Path(path_type=Path),
              help="Folder with phone/ and studio/ (or degraded/ and reference/), matched by relative "
                   "path; or one folder per pair holding clean.* (or reference/studio) and "
                   "noisy*/degraded* files; or a separation folder: <item>/mixture.wav with one file per "
                   "reference stem (voice.wav, background.wav), scored per stem (SI-SDR, SI-SDRi, SDR).")
@click.option("--inputs", "inputs_dir", type=click.Path(path_type=Path),
              help="Instead of --pairs: a plain folder of recordings without references, scored by the "
                   "metrics that need none (DNSMOS at -25 dBFS RMS, bandwidth, loudness, clipping).")
@click.option("--systems", "systems_text", default=None, metavar="A,B,C",
              help=f"Systems separated by commas (default: {DEFAULT_SYSTEMS}; on a separation folder "
                   f"{SEPARATION_SYSTEMS}); pipeline:<name or path> runs an aural pipeline, "
                   "stage:<name> one stage with its defaults, stage:<name>@<weights> with other "
                   "weights (a preset, an exported file or a training checkpoint).")
@click.option("--baseline", default=None, metavar="SYSTEM",
              help="One of --systems: every other system is compared with it file by file (mean difference, "
                   "95 % bootstrap interval, files better/worse), overall and per profile.")
@click.option("--metrics", "metrics_text", default=None, metavar="A,B,C",
              help="Metric names separated by commas (default: all; see aural evaluate --list-metrics).")
@click.option("--out", "out_dir", type=click.Path(path_type=Path), default=None,
              help="Folder for bench.md, bench.csv, bench.json and systems/<name>/ details.")
@click.option("--max-files", type=click.IntRange(min=1), default=None,
              help="Use N files, sampled across the simulator's profiles and evenly over the sorted names.")
@click.option("--save-audio", is_flag=True, help="Also write every output to OUT/audio/<system>/.")
@click.option("--list-systems", is_flag=True, help="List the systems and whether they can run, and exit.")
@click.option("--latency", is_flag=True,
              help="Measure each system's delay on a generated probe (no --pairs needed), and exit.")
def command(pairs_dir: Path | None, inputs_dir: Path | None, systems_text: str, baseline: str | None,
            metrics_text: str | None, out_dir: Path | None, max_files: int | None, save_audio: bool,
            list_systems: bool, latency: bool) -> None:
    """Run systems on paired files and print one table: a row per system, a column per
    metric (mean over files) and the real-time factor measured on one thread.

    When the pairs come from `aural data simulate` (manifest.jsonl present), a table per
    degradation profile follows. A system that is unavailable or fails on a file is reported
    in one line and the run goes on; the exit status is 1 when any file failed.
    """
    from aural.bench import check_systems

    if list_systems:
        _list_systems()
        return
    named = _names(systems_text, "--systems")
    specs = check_systems(named or DEFAULT_SYSTEMS.split(","))
    if latency:
        _latency(specs)
        return
    if pairs_dir is not None and inputs_dir is not None:
        raise UsageError("give --pairs DIR (with references) or --inputs DIR (recordings without), not both")
    if pairs_dir is None and inputs_dir is None:
        raise UsageError("--pairs DIR is required: a folder with phone/ and studio/ (or degraded/ and "
                         "reference/), or one folder per pair with clean.* and noisy*/degraded* files; "
                         "or --inputs DIR: recordings without references")
    if save_audio and out_dir is None:
        raise UsageError("--save-audio needs --out DIR")
    from aural.evaluate.separation import is_separation_folder

    if pairs_dir is not None and is_separation_folder(pairs_dir):
        if baseline is not None:
            raise UsageError("--baseline: not for a separation folder (its tables are per stem)")
        _separation(pairs_dir, named or SEPARATION_SYSTEMS.split(","), _names(metrics_text, "--metrics"),
                    out_dir, max_files, save_audio)
        return
    from aural import bench
    from aural.evaluate.scoring import resolve_metrics

    metric_names = _names(metrics_text, "--metrics")
    resolve_metrics(metric_names)  # unknown names fail before any work
    with file_progress("bench") as progress:
        result = bench.run_bench(pairs_dir or inputs_dir, specs, metric_names, max_files=max_files,
                                 save_audio_dir=out_dir / "audio" if save_audio else None,
                                 echo=_echo_problem, progress=progress, inputs=inputs_dir is not None,
                                 baseline=baseline)
    _report(bench, result, out_dir)
