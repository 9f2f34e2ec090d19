"""``aural run PIPELINE INPUT... -o OUTPUT``: process files and folders.

Output layout: a single input file with an output path ending in .wav/.flac is written
there; otherwise OUTPUT is a folder. One folder input keeps its relative layout in OUTPUT;
several inputs go to ``OUTPUT/<file name>`` and ``OUTPUT/<folder name>/<relative path>``;
an OUTPUT inside an input folder is not searched for input.
With ``--stems`` (a pipeline that ends with stems) every input gets a folder in place of its
output file, holding a file per stem: ``OUTPUT/<name>/voice.wav``, ``.../background.wav``.
Nothing is written outside OUTPUT or over an input file; an existing output is kept unless
``--overwrite``. A file that fails is reported in one line and the batch goes on.

Every file, whichever the engine (this process, or Ray workers with ``--engine ray``) and
whichever the command (``aural run``, ``aural separate``), goes through :func:`run_job`;
:func:`run_batch` plans, refuses, runs and reports a batch.
"""

from __future__ import annotations

import sys
import warnings
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

import click

from aural import io
from aural.atomic_files import remove_stale_spools, remove_stale_temporaries
from aural.cli.threads import threads_option
from aural.config import load_pipeline_spec, load_yaml, resolve_pipeline_path
from aural.errors import AuralError, UsageError
from aural.interrupts import raise_if_terminated
from aural.overrides import SET_HELP
from aural.progress import Progress

if TYPE_CHECKING:
    from aural.pipeline import PassInfo, Pipeline


@dataclass(frozen=True)
class Job:
    """One input and its output: a file, or with ``stems`` a folder (``output`` without its
    extension) of a file per stem."""

    input: Path
    output: Path
    stems: tuple[str, ...] | None = None

    @property
    def outputs(self) -> dict[str, Path]:
        """Stem name (``""`` without stems) -> the file written."""
        if not self.stems:
            return {"": self.output}
        folder = self.output.with_suffix("")
        return {name: folder / (name + self.output.suffix) for name in self.stems}


def _output_suffix(path: Path, fmt: str | None) -> str:
    if fmt:
        return "." + fmt
    return path.suffix.lower() if path.suffix.lower() in io.WRITE_FORMATS else ".wav"


@dataclass
class Plan:
    """Jobs to run, inputs refused before running (path, reason; failures of their own), and
    notes to print (entries of input folders that were skipped)."""

    jobs: list[Job] = field(default_factory=list)
    refused: list[tuple[Path, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def plan_jobs(inputs: list[Path], output: Path, fmt: str | None, stems: tuple[str, ...] | None = None) -> Plan:
    """Map every input file to its output path (usage errors for impossible requests); with
    ``stems``, OUTPUT is always a folder and each job writes a folder of stems."""
    plan = _plan_files(inputs, output, fmt, stems)
    if stems:
        plan.jobs = [Job(job.input, job.output, stems) for job in plan.jobs]
    return plan


def _plan_files(inputs: list[Path], output: Path, fmt: str | None, stems: tuple[str, ...] | None) -> Plan:
    kinds = {path: io.file_kind(path) for path in inputs}
    for path, kind in kinds.items():
        if kind == "missing":
            raise UsageError(f"{path}: no such file or folder")
    suffix = output.suffix.lower()
    if suffix in io.NON_WRITABLE_EXTENSIONS and not output.is_dir():
        raise UsageError(f"{output}: aural cannot write {suffix} files; use "
                         f"{' or '.join(io.WRITE_FORMATS)}, or name an output folder")
    if len(inputs) == 1 and kinds[inputs[0]] not in ("file", "folder"):
        raise UsageError(f"{inputs[0]}: is a {kinds[inputs[0]]}, not an audio file or folder")
    if stems and suffix in io.WRITE_FORMATS and not output.is_dir():
        raise UsageError(f"{output}: stems are written to a folder per input ({output.with_suffix('')}/"
                         f"{stems[0]}.wav, ...); -o must name a folder, not a {suffix} file")
    if len(inputs) == 1 and kinds[inputs[0]] == "file" and suffix in io.WRITE_FORMATS:
        if fmt and suffix != "." + fmt:
            raise UsageError(f"{output}: --format {fmt} does not match the output's extension")
        return Plan([Job(inputs[0], output)])
    if suffix in io.WRITE_FORMATS and not output.is_dir():
        what = f"{inputs[0]} is a folder" if len(inputs) == 1 else "several inputs"
        raise UsageError(f"{output}: {what}, so the output must be a folder, not a {suffix} file")
    plan = Plan()
    single_folder = len(inputs) == 1 and kinds[inputs[0]] == "folder"
    for path in inputs:
        if kinds[path] == "file":
            plan.jobs.append(Job(path, output / (path.stem + _output_suffix(path, fmt))))
            continue
        if kinds[path] != "folder":
            plan.refused.append((path, f"{path}: is a {kinds[path]}, not an audio file or folder"))
            continue
        scan = io.scan_audio(path, exclude=(output,))  # an output inside the input is not input
        if scan.skipped:
            listed = ", ".join(f"{p.relative_to(path)} ({kind})" for p, kind in scan.skipped[:5])
            more = f" and {len(scan.skipped) - 5} more" if len(scan.skipped) > 5 else ""
            plan.notes.append(f"{path}: skipped {len(scan.skipped)} entries that are not regular files: "
                              f"{listed}{more}")
        if not scan.files:
            raise UsageError(f"{path}: folder contains no audio files "
                             f"({', '.join(sorted(io.AUDIO_EXTENSIONS))})")
        base = output if single_folder else output / path.resolve().name
        for file in scan.files:
            rel = file.relative_to(path)
            plan.jobs.append(Job(file, base / rel.with_suffix(_output_suffix(file, fmt))))
    return plan


def check_jobs(jobs: list[Job], overwrite: bool) -> list[tuple[Job, str]]:
    """Jobs that must not run, with the reason (never over an input, never twice)."""
    inputs = {job.input.resolve() for job in jobs}
    input_ids = {_file_id(job.input) for job in jobs}  # the same file under another name (hard link)
    seen: dict[Path, Job] = {}
    refused = []
    for job in jobs:
        reason = None
        for output in job.outputs.values():
            target = output.resolve()
            if target in inputs or (output.exists() and _file_id(output) in input_ids):
                reason = f"{output}: output path equals an input file; choose another output"
            elif target in seen:
                reason = f"{output}: would be written twice (also from {seen[target].input})"
            elif output.exists() and not overwrite:
                reason = f"{output}: exists; use --overwrite to replace it"
            if reason:
                break
        if reason:
            refused.append((job, reason))
        for output in job.outputs.values():
            seen.setdefault(output.resolve(), job)
    return refused


def _file_id(path: Path) -> tuple[int, int] | None:
    try:
        facts = path.stat()
    except OSError:
        return None
    return facts.st_dev, facts.st_ino


def _remove_leftovers(jobs: list[Job]) -> None:
    """Remove what killed runs left: partial outputs in the output folders, spools in $TMPDIR."""
    removed = list(remove_stale_spools())
    for folder in sorted({output.parent for job in jobs for output in job.outputs.values()}):
        removed += remove_stale_temporaries(folder)
    if removed:
        click.echo(f"aural: removed {len(removed)} temporary files left by an interrupted run "
                   f"(first: {removed[0]})", err=True)


def _make_folder(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"{path}: cannot create the output folder ({exc.strerror or exc})") from None


@dataclass(frozen=True)
class RunOptions:
    """How every file of a batch is written (the same for the local and the Ray engine)."""

    sample_rate: int | None = None
    subtype: str | None = None
    overwrite: bool = False
    show_progress: bool = False
    debug: bool = False  # a bug in a stage raises (local) or reports its traceback (Ray)
    command_name: str = "run"  # progress bars read ``aural <command_name>: ...``

    @property
    def prefix(self) -> str:
        return f"aural {self.command_name}: "


@dataclass(frozen=True)
class JobOutcome:
    """What became of one job: ``failure`` is the one-line report of a file that failed."""

    job: Job
    failure: str | None = None
    warnings: tuple[str, ...] = ()


def run_job(pipeline: Pipeline, job: Job, options: RunOptions, *, reraise: bool | None = None) -> JobOutcome:
    """One file through ``pipeline`` into its output (a file per stem for a stems job),
    failures caught and worded for the user.

    Both engines call this for every file (the Ray workers with the pipeline they built once),
    so a file comes out byte for byte the same whichever ran it. A bug in a stage raises when
    ``reraise`` (default: ``options.debug``); otherwise it is reported like any failure, with
    its traceback appended under ``--debug``."""
    reraise = options.debug if reraise is None else reraise
    try:
        warned = _run_one(pipeline, job, options)
    except AuralError as exc:
        names_its_file = str(exc).startswith((str(job.input), *map(str, job.outputs.values())))
        return JobOutcome(job, str(exc) if names_its_file else f"{job.input}: {exc}")  # e.g. a full $TMPDIR
    except Exception as exc:  # a bug in a stage: report, go on with the batch
        if reraise:
            raise
        message = f"{job.input}: internal error: {type(exc).__name__}: {exc}"
        if options.debug:
            import traceback

            return JobOutcome(job, message + "\n" + traceback.format_exc().rstrip())
        return JobOutcome(job, message + " (rerun with --debug)")
    return JobOutcome(job, warnings=tuple(warned))


def _run_one(pipeline: Pipeline, job: Job, options: RunOptions) -> list[str]:
    """One file, with a bar per pass: a stage that needs the whole input first (loudness
    normalisation) adds passes, and they take very different times, so each pass is shown
    on its own (``memo.wav: pass 1 of 3 (mel_unet, dynamics)``) rather than as a share of one bar.
    In a log, only files that take longer than a few seconds report. Returns the warnings
    about the input (a truncated file)."""
    bar = Progress(job.input.name, total=100, unit="%", prefix=options.prefix, enabled=options.show_progress,
                   quiet_start=True)
    current: list[PassInfo] = []

    def on_pass(info: PassInfo) -> None:
        current[:] = [info]
        if info.num_passes > 1:
            bar.set_description(f"{job.input.name}: {info.describe()}")
        bar.set(0, 100)

    def progress(done: int, total: int) -> None:
        raise_if_terminated()  # called every block
        info = current[0] if current else None
        if info is not None and info.num_samples:
            within = (done - (info.index - 1) * info.num_samples) / info.num_samples
            bar.set(round(100 * min(max(within, 0.0), 1.0), 1), 100)

    outputs = job.outputs
    made = [folder for folder in sorted({path.parent for path in outputs.values()}) if not folder.exists()]
    try:
        for folder in made:
            _make_folder(folder)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", io.AudioWarning)
            write = {"output_sample_rate": options.sample_rate, "subtype": options.subtype, "progress": progress,
                     "on_pass": on_pass, "overwrite": options.overwrite}
            if job.stems:
                pipeline.run_stems_file(job.input, outputs, **write)
            else:
                pipeline.run_file(job.input, job.output, **write)
    except BaseException:
        for folder in reversed(made):  # a stem folder made for a file that failed
            if folder.is_dir() and not any(folder.iterdir()):
                folder.rmdir()
        raise
    finally:
        bar.close()
    return [str(warning.message) for warning in caught]


# An engine runs a batch's jobs: given them, a context that yields their outcomes as files finish.
Engine = Callable[[list[Job]], AbstractContextManager[Iterable[JobOutcome]]]


def local_engine(pipeline: Pipeline, options: RunOptions) -> Engine:
    """File after file in this process, with ``pipeline``."""

    @contextmanager
    def outcomes(jobs: list[Job]) -> Iterator[Iterable[JobOutcome]]:
        yield (run_job(pipeline, job, options) for job in jobs)

    return outcomes


def _check_pipeline_yaml(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """Read the pipeline file as YAML while the command line is parsed: click applies PIPELINE
    (given first) before the options it was not given, so a hostile file (an alias bomb) fails
    before ``--threads`` loads torch. The command validates it in full."""
    if not ctx.resilient_parsing:
        load_yaml(resolve_pipeline_path(value))
    return value


@click.command("run")
@click.argument("pipeline", callback=_check_pipeline_yaml)
@click.argument("inputs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(path_type=Path),
              help="Output file (one input) or folder.")
@click.option("--sample-rate", type=click.IntRange(8000, 192000), default=None,
              help="Output sample rate in Hz (default: the pipeline's, else the input's).")
@click.option("--format", "fmt", type=click.Choice(["wav", "flac"]), default=None,
              help="Output format (default: the input's if wav/flac, else wav).")
@click.option("--subtype", type=click.Choice(list(io.SUBTYPES)), default=None,
              help=f"Sample format (default {io.DEFAULT_SUBTYPE}; PCM_16 is TPDF-dithered).")
@click.option("--overwrite", is_flag=True, help="Replace existing output files.")
@click.option("--set", "overrides", multiple=True, metavar="STAGE.PARAM=VALUE",
              help=SET_HELP[0].upper() + SET_HELP[1:])
@click.option("--stems", is_flag=True,
              help="The pipeline ends with stems: write a folder per input, a file per stem "
                   "(OUTPUT/<name>/voice.wav, ...).")
@click.option("-q", "--quiet", is_flag=True, help="No progress bars.")
@click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="local: this process, file after file. ray: files spread over Ray workers, each loading "
                   "the pipeline once (needs `pip install 'aural[ray]'`; inputs and outputs on storage "
                   "every node sees).")
@click.option("--address", default=None, metavar="auto|HOST:PORT",
              help="--engine ray: the Ray cluster to join (auto: the one running on this machine; "
                   "default: a local Ray started for this run).")
@click.option("--num-workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="--engine ray: worker processes (default: as many as the CPUs allow).")
@click.option("--cpus-per-worker", type=click.IntRange(min=1), default=None, metavar="N",
              help="--engine ray: CPUs reserved by each worker, also its compute threads (default 1).")
@threads_option
@click.pass_context
def command(ctx: click.Context, pipeline: str, inputs: tuple[Path, ...], output: Path,
            sample_rate: int | None, fmt: str | None, subtype: str | None, overwrite: bool,
            overrides: tuple[str, ...], stems: bool, quiet: bool, engine: str, address: str | None,
            num_workers: int | None, cpus_per_worker: int | None) -> None:
    """Run PIPELINE (a .yaml path or a built-in name) on INPUT files or folders.

    Example: aural run phone_to_studio memo.wav -o memo_studio.wav --set mel_unet.strength=0.7

    On a Ray cluster: aural run phone_to_studio /shared/in -o /shared/out --engine ray --address auto
    """
    debug = bool(ctx.obj and ctx.obj.get("debug"))
    ray_options = {"--address": address, "--num-workers": num_workers, "--cpus-per-worker": cpus_per_worker}
    if engine != "ray":
        given = [name for name, value in ray_options.items() if value is not None]
        if given:
            raise UsageError(f"{', '.join(given)}: only with --engine ray")
    spec = load_pipeline_spec(pipeline, overrides)
    for note in spec.left_out_notes():
        click.echo(f"aural: note: {note}", err=True)
    ends_with = spec.output_stems  # from the stages' contracts, before any weights load
    if ends_with and not stems:
        raise UsageError(f"pipeline {spec.name} ends with stems ({', '.join(ends_with)}): add --stems to write "
                         "a file per stem, or end it with mix_master to mix them")
    if stems and not ends_with:
        raise UsageError(f"--stems: pipeline {spec.name} ends with a signal, not stems")
    options = RunOptions(sample_rate, subtype, overwrite, show_progress=not quiet and engine == "local",
                         debug=debug, command_name="run")
    if engine == "local":
        from aural.pipeline import Pipeline

        run_with: Engine = local_engine(Pipeline.from_spec(spec), options)
    else:
        from aural.ray_engine import RayOptions, require_ray, run_on_ray

        require_ray()  # before planning: a missing extra is the first thing to say
        cluster = RayOptions(address, num_workers, cpus_per_worker or 1)
        run_with = lambda jobs: run_on_ray(spec, jobs, options, cluster)  # noqa: E731
    run_batch(list(inputs), output, ends_with, run_with, fmt=fmt, quiet=quiet, options=options)


def run_batch(inputs: list[Path], output: Path, stems: tuple[str, ...] | None, engine: Engine, *,
              fmt: str | None, quiet: bool, options: RunOptions) -> None:
    """Run every input with ``engine`` (a file per stem when ``stems``, the stems the pipeline
    ends with): plan the outputs, refuse what must not run, go on past a file that fails,
    report, and exit 1 when any failed (2 when none could run)."""
    plan = plan_jobs(inputs, output, fmt, stems)
    for note in plan.notes:
        click.echo(f"aural: {note}", err=True)
    jobs = plan.jobs
    if options.subtype:
        for job in jobs[:1]:
            io.check_subtype(job.output, options.subtype)
    refused = check_jobs(jobs, options.overwrite)
    if len(refused) == len(jobs):
        for reason in [reason for _, reason in plan.refused] + [reason for _, reason in refused]:
            click.echo(f"aural: {reason}", err=True)
        sys.exit(2)
    refused_jobs = {id(job) for job, _ in refused}
    failures = [reason for _, reason in plan.refused] + [reason for _, reason in refused]
    for reason in failures:
        click.echo(f"aural: {reason}", err=True)

    todo = [job for job in jobs if id(job) not in refused_jobs]
    _remove_leftovers(todo)
    with engine(todo) as outcomes:
        done = _report(outcomes, len(todo), failures, quiet, options.prefix)
    if len(jobs) > 1 or failures:
        click.echo(f"aural: {done} of {len(jobs) + len(plan.refused)} files written to {output}"
                   + (f", {len(failures)} failed" if failures else ""), err=True)
    if failures:
        sys.exit(1)


def _report(outcomes: Iterable[JobOutcome], num_jobs: int, failures: list[str], quiet: bool, prefix: str) -> int:
    """Print warnings and failures as files finish, under a files bar; returns the files written
    (``failures`` gets the failed files' messages)."""
    files_bar = Progress("files", total=num_jobs, unit="file", prefix=prefix,
                         enabled=not quiet and num_jobs >= 2, quiet_start=True)
    done = 0
    try:
        for outcome in outcomes:
            for warning in outcome.warnings:
                files_bar.write(f"aural: warning: {warning}")
            if outcome.failure is None:
                done += 1
            else:
                failures.append(outcome.failure)
                files_bar.write(f"aural: {outcome.failure}")
            files_bar.update()
    finally:
        files_bar.close()
    return done
