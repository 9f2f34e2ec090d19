"""``aural run --engine ray``: the files of a run spread over Ray workers.

Each worker is a Ray actor that builds the pipeline once (weights loaded once) and then
processes file after file (a file per stem for ``--stems``) with :func:`aural.cli.run.run_job`,
the function the local engine calls, so outputs are byte for byte those of a local run. Only paths and one-line outcomes
travel through Ray, never audio: workers read their input and write their output themselves,
streamed in blocks as locally, so inputs and outputs must be on storage every node sees (a
shared file system mounted at the same path). Every worker takes the next file as soon as it
is free; a worker that dies (a crash, out of memory) fails its file and is replaced.

Ray is an optional dependency (``pip install 'aural[ray]'``) imported only here.
"""

from __future__ import annotations

import logging
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator

from aural.errors import UsageError, first_line

if TYPE_CHECKING:
    from aural.cli.run import Job, JobOutcome, RunOptions
    from aural.config import PipelineSpec

INSTALL_HINT = "pip install 'aural[ray]' (or pip install ray)"


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None       # None: a local Ray started for the run; "auto" or HOST:PORT
    num_workers: int | None = None   # None: as many as the cluster's CPUs allow
    cpus_per_worker: int = 1         # CPUs each worker reserves, also its compute threads


def require_ray() -> Any:
    """The ``ray`` module, or a usage error saying how to install it."""
    try:
        import ray
    except ImportError:
        raise UsageError(f"--engine ray needs Ray, which is not installed: {INSTALL_HINT}") from None
    return ray


class PipelineWorker:
    """A Ray actor: the pipeline built once, then one :meth:`run` per file."""

    def __init__(self, spec: PipelineSpec, options: RunOptions, threads: int):
        from aural.atomic_files import remove_stale_spools
        from aural.errors import AuralError
        from aural.threads import set_threads

        set_threads(threads)
        remove_stale_spools()  # what killed workers on this node left in $TMPDIR
        self.options = options
        self.pipeline = None
        self.error: str | None = None
        try:
            from aural.pipeline import Pipeline

            self.pipeline = Pipeline.from_spec(spec)
        except AuralError as exc:
            self.error = str(exc)
        except Exception as exc:  # e.g. aural or a stage's dependency missing on this node
            self.error = f"internal error: {type(exc).__name__}: {exc}"

    def ready(self) -> str | None:
        """None once the pipeline is built, else why it could not be."""
        return self.error

    def run(self, job: Job) -> JobOutcome:
        from aural.cli.run import JobOutcome, run_job

        if self.pipeline is None:
            return JobOutcome(job, f"{job.input}: this Ray worker could not build the pipeline: {self.error}")
        return run_job(self.pipeline, job, self.options, reraise=False)


def _start(ray: Any, options: RayOptions) -> int:
    """Join or start Ray; returns the CPUs the run may use."""
    common = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.ERROR,
              "configure_logging": True}
    if options.address is None:
        from aural.threads import available_cpus

        os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # a Ray started for one run: no telemetry prompt
        wanted = options.num_workers * options.cpus_per_worker if options.num_workers else available_cpus()
        ray.init(num_cpus=max(wanted, options.cpus_per_worker), **common)
    else:
        try:
            ray.init(address=options.address, **common)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise UsageError(f"--address {options.address}: cannot connect to a Ray cluster ({exc})") from None
    return int(ray.cluster_resources().get("CPU", 0))


def _num_workers(options: RayOptions, cluster_cpus: int, num_jobs: int) -> int:
    if options.num_workers is None:
        possible = cluster_cpus // options.cpus_per_worker
        if possible < 1:
            raise UsageError(f"--cpus-per-worker {options.cpus_per_worker}: the Ray cluster has only "
                             f"{cluster_cpus} CPUs")
        return max(1, min(possible, num_jobs))
    return max(1, min(options.num_workers, num_jobs))


@contextmanager
def run_on_ray(spec: PipelineSpec, jobs: list[Job], run_options: RunOptions,
               options: RayOptions) -> Iterator[Iterator[JobOutcome]]:
    """Start (or join) Ray and its workers; yields the outcomes of ``jobs`` as files finish.
    Ray is shut down on leaving (a cluster that was joined keeps running; our workers end)."""
    ray = require_ray()
    if not jobs:
        yield iter(())
        return
    cluster_cpus = _start(ray, options)
    try:
        num_workers = _num_workers(options, cluster_cpus, len(jobs))
        worker = ray.remote(num_cpus=options.cpus_per_worker)(PipelineWorker)
        start = lambda: worker.remote(spec, run_options, options.cpus_per_worker)  # noqa: E731
        actors = [start() for _ in range(num_workers)]
        _check_ready(ray, actors)
        yield _dispatch(ray, actors, start, jobs)
    finally:
        ray.shutdown()


def _check_ready(ray: Any, actors: list[Any]) -> None:
    """Every worker has built the pipeline, else a usage error with the first reason."""
    try:
        errors = ray.get([actor.ready.remote() for actor in actors])
    except ray.exceptions.RayActorError as exc:
        raise UsageError(f"a Ray worker could not start: {first_line(exc)}") from None
    for error in errors:
        if error:
            raise UsageError(f"a Ray worker could not build the pipeline: {error}")


def _dispatch(ray: Any, actors: list[Any], start: Any, jobs: list[Job]) -> Iterator[JobOutcome]:
    """Keep every worker busy with one file at a time; yield outcomes as they arrive."""
    from aural.cli.run import JobOutcome

    queue = iter(jobs)
    running: dict[Any, tuple[Any, Job]] = {}

    def give(actor: Any) -> None:
        job = next(queue, None)
        if job is not None:
            running[actor.run.remote(job)] = (actor, job)

    for actor in actors:
        give(actor)
    while running:
        ready, _ = ray.wait(list(running), num_returns=1)
        actor, job = running.pop(ready[0])
        try:
            outcome = ray.get(ready[0])
        except ray.exceptions.RayActorError as exc:  # the worker died with this file
            outcome = JobOutcome(job, f"{job.input}: the Ray worker processing it died ({first_line(exc)})")
            actor = start()
        except ray.exceptions.RayError as exc:
            outcome = JobOutcome(job, f"{job.input}: Ray failed to process it ({first_line(exc)})")
        yield outcome
        give(actor)

