"""``aural stages`` and ``aural stages show NAME``: what each stage does and takes."""

from __future__ import annotations

import inspect

import click

from aural.params import param_specs
from aural.stages import STAGES, Stage


def _summary(cls: type[Stage]) -> str:
    return cls.summary or (inspect.getdoc(cls) or "").split("\n")[0]


def _param_lines(cls: type[Stage]) -> list[str]:
    lines = []
    for spec in param_specs(cls.Params):
        unit = f" {spec.unit}" if spec.unit else ""
        rng = spec.describe_range()
        rng = f" [{rng}]" if rng else ""
        default = "null" if spec.default is None else spec.default
        lines.append(f"    {spec.name} = {default}{unit}{rng}  {spec.help}")
    return lines


def _preset_lines(cls: type[Stage]) -> list[str]:
    """The weight presets of a learned stage, from the models manifest."""
    from aural import weights
    from aural.errors import WeightsError

    try:
        presets = weights.read_manifest()["models"].get(cls.name, {})
    except WeightsError as exc:
        return [f"  weights: cannot read the manifest ({exc})"]
    folder = weights.models_dir()
    if not presets:
        return [f"  weights: no presets in {folder / weights.MANIFEST_NAME}; train with `aural train {cls.name}` "
                "and `aural export`"]
    lines = [f"  weights presets (weights: NAME, or a path to a .safetensors file; in {folder}):"]
    for name, entry in sorted(presets.items(), key=lambda item: (item[0] != "default", item[0])):
        facts = [entry.get("architecture"), f"{entry['num_parameters']:,} parameters" if entry.get("num_parameters")
                 else None, f"{entry['sample_rate']} Hz" if entry.get("sample_rate") else None,
                 f"{entry['steps']} steps" if entry.get("steps") else None]
        gains = ", ".join(f"{key} {value:+.2f}" for key, value in (entry.get("metrics") or {}).items()
                          if key.endswith("_gain/val"))
        card = f"; card {entry['card']}" if entry.get("card") else ""
        lines.append(f"    {name}: {', '.join(f for f in facts if f)}"
                     + (f"; validation {gains}" if gains else "") + card)
    return lines


def describe(cls: type[Stage], *, full: bool) -> str:
    lines = [f"{cls.name} ({cls.kind()}): {_summary(cls)}", f"  io: {cls.contract.describe()}"]
    runs_here, reason = cls.available()
    if not runs_here:
        lines.append(f"  unavailable here: {reason}")
    if full:
        doc = inspect.getdoc(cls) or ""
        body = doc.split("\n", 1)[1].strip() if "\n" in doc else ""
        if body:
            lines += ["", *("  " + line for line in body.splitlines()), ""]
    params = _param_lines(cls)
    lines.append("  params:" if params else "  params: none")
    lines += params
    if full and cls.learned:
        lines += _preset_lines(cls)
    return "\n".join(lines)


@click.group("stages", invoke_without_command=True)
@click.pass_context
def command(ctx: click.Context) -> None:
    """List every stage with its io contract and params (defaults, units, ranges)."""
    if ctx.invoked_subcommand is None:
        for name in STAGES.names():
            click.echo(describe(STAGES.get(name), full=False))
            click.echo()


@command.command("show")
@click.argument("name")
def show(name: str) -> None:
    """Everything about one stage."""
    click.echo(describe(STAGES.get(name), full=True))
