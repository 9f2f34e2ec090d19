"""``aural validate FILE...``: check pipeline files without running them."""

from __future__ import annotations

import sys

import click

from aural.config import load_pipeline_spec
from aural.errors import UsageError


@click.command("validate")
@click.argument("pipelines", nargs=-1, required=True)
def command(pipelines: tuple[str, ...]) -> None:
    """Check PIPELINES (files or built-in names): keys, stages, params, contracts, weights
    (checksums, tensor names and shapes, read from the file headers without loading them).

    Every error is reported, one line each (file:line key.path: problem); exit status 2 when
    any file has errors."""
    failed = 0
    for name in pipelines:
        try:
            spec = load_pipeline_spec(name)
        except UsageError as exc:
            for line in str(exc).splitlines():
                click.echo(f"aural: {line}", err=True)
            failed += 1
            continue
        chain = " -> ".join(f"{s.stage}[{s.apply_to}]" if s.apply_to else s.stage for s in spec.stages)
        click.echo(f"ok: {name} ({spec.name}: {chain})")
        for note in spec.left_out:
            click.echo(f"  left out here: {note}")
    if failed:
        sys.exit(2)
