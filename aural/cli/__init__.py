"""The ``aural`` command.

Each subcommand lives in its own module here and exposes a click object named ``command``;
modules are imported only when their subcommand runs, so ``aural --help`` stays fast and a
heavy optional dependency of one command cannot break another.

Errors derived from :class:`aural.errors.AuralError` print as one line (``aural: ...``) with
exit status 1 (processing) or 2 (usage and configuration); ``--debug`` shows tracebacks.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

import click

from aural.errors import AuralError
from aural.interrupts import Terminated, terminate_as_interrupt

COMMANDS = {
    "run": ("aural.cli.run", "Run a pipeline on audio files or folders."),
    "separate": ("aural.cli.separate", "Split recordings into voice and background stems."),
    "validate": ("aural.cli.validate", "Check pipeline files without running them."),
    "stages": ("aural.cli.stages", "List stages with their io contract and params."),
    "data": ("aural.cli.data", "Make training and evaluation data (phone simulations, rooms, mixtures, music)."),
    "evaluate": ("aural.cli.evaluate", "Score audio against references; write tables and a report."),
    "bench": ("aural.cli.bench", "Compare aural pipelines with other systems on paired data."),
    "train": ("aural.cli.train", "Train a learned stage on your own data."),
    "export": ("aural.cli.export", "Export a training run into the models/ layout."),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name, (module, _) in COMMANDS.items() if _module_exists(module)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS or not _module_exists(COMMANDS[name][0]):
            return None
        return importlib.import_module(COMMANDS[name][0]).command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _module_exists(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="aural")
@click.option("--debug", is_flag=True, help="Show full tracebacks.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """aural: phone-quality recordings in, studio-quality audio out."""
    ctx.obj = {"debug": debug}


def main(argv: list[str] | None = None) -> None:
    """Console entry point: one-line errors unless ``--debug``."""
    args = sys.argv[1:] if argv is None else argv
    debug = "--debug" in args
    try:
        with terminate_as_interrupt():  # SIGTERM/SIGHUP clean up like Ctrl-C
            code = cli.main(args=args, prog_name="aural", standalone_mode=False)
    except click.exceptions.Abort as exc:  # click turns Ctrl-C (and Terminated) into Abort
        if isinstance(exc.__cause__, Terminated):
            click.echo(f"aural: stopped by {exc.__cause__}", err=True)
            sys.exit(128 + exc.__cause__.signum)
        click.echo("aural: aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except AuralError as exc:
        if debug:
            raise
        for line in str(exc).splitlines() or [type(exc).__name__]:  # a config error: one line per problem
            click.echo(f"aural: {line}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("aural: interrupted", err=True)
        sys.exit(130)
    except Exception as exc:  # a bug: still one line, with a hint
        if debug:
            raise
        click.echo(f"aural: internal error: {type(exc).__name__}: {exc} (run with --debug for details)", err=True)
        sys.exit(1)
    sys.exit(code if isinstance(code, int) else 0)
